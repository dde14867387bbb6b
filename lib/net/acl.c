#include "portkit/acl.h"
#include "portkit/buf.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/quote.h"

/* rinetd patterns are short: an IPv6 address in full with wildcards. */
#define GLOB_MAX 48

struct acl_entry {
    bool is_glob;
    struct pk_cidr cidr;
    char glob[GLOB_MAX]; /* lower case */
};

struct entry_list {
    struct acl_entry *v;
    size_t n, cap;
};

struct pk_acl {
    struct entry_list allow, deny;
};

struct pk_acl *pk_acl_new(void)
{
    return calloc(1, sizeof(struct pk_acl));
}

void pk_acl_free(struct pk_acl *acl)
{
    if (!acl)
        return;
    free(acl->allow.v);
    free(acl->deny.v);
    free(acl);
}

static int list_copy(struct entry_list *dst, const struct entry_list *src)
{
    dst->n = dst->cap = 0;
    dst->v = NULL;
    if (!src->n)
        return 0;
    dst->v = malloc(src->n * sizeof *dst->v);
    if (!dst->v)
        return PK_ENOMEM;
    memcpy(dst->v, src->v, src->n * sizeof *dst->v);
    dst->n = dst->cap = src->n;
    return 0;
}

struct pk_acl *pk_acl_clone(const struct pk_acl *acl)
{
    struct pk_acl *c = pk_acl_new();
    if (!c || !acl)
        return c;
    if (list_copy(&c->allow, &acl->allow) < 0 || list_copy(&c->deny, &acl->deny) < 0) {
        pk_acl_free(c);
        return NULL;
    }
    return c;
}

/* rinetd's pattern alphabet, widened to IPv6 text: hex digits, '.', ':',
 * and the wildcards. At least one wildcard, or it is an address. */
static bool is_glob(const char *s, size_t len)
{
    bool wild = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '*' || c == '?')
            wild = true;
        else if (!isxdigit((unsigned char)c) && c != '.' && c != ':')
            return false;
    }
    return wild;
}

int pk_acl_add(struct pk_acl *acl, bool allow, const char *pattern, size_t len,
               struct pk_err *err)
{
    struct acl_entry e = {0};
    if (len && memchr(pattern, '*', len) == NULL && memchr(pattern, '?', len) == NULL) {
        int rc = pk_cidr_parse(pattern, len, &e.cidr, err);
        if (rc < 0)
            return rc;
    } else if (is_glob(pattern, len)) {
        if (len >= sizeof e.glob)
            return pk_err_set(err, PK_EINVAL, "pattern '%s' is too long", QUOTE(pattern, len));
        e.is_glob = true;
        for (size_t i = 0; i < len; i++)
            e.glob[i] = (char)tolower((unsigned char)pattern[i]);
    } else {
        return pk_err_set(err, PK_EINVAL,
                          "'%s' is not an address, CIDR or pattern (digits, '.', ':', '*', '?')",
                          QUOTE(pattern, len));
    }
    struct entry_list *l = allow ? &acl->allow : &acl->deny;
    if (PK_ARRAY_RESERVE(l->v, l->cap, l->n + 1, 8) < 0)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    l->v[l->n++] = e;
    return 0;
}

int pk_acl_add_list(struct pk_acl *acl, bool allow, const char *list, size_t len,
                    struct pk_err *err)
{
    size_t i = 0, added = 0;
    while (i < len) {
        while (i < len && (list[i] == ',' || list[i] == ' ' || list[i] == '\t'))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',' && list[i] != ' ' && list[i] != '\t')
            i++;
        if (i > start) {
            int rc = pk_acl_add(acl, allow, list + start, i - start, err);
            if (rc < 0)
                return rc;
            added++;
        }
    }
    if (!added)
        return pk_err_set(err, PK_EINVAL, "%s: expected an address or CIDR",
                          allow ? "allow" : "deny");
    return 0;
}

size_t pk_acl_count(const struct pk_acl *acl, bool allow)
{
    return acl ? (allow ? acl->allow.n : acl->deny.n) : 0;
}

const struct pk_cidr *pk_acl_get(const struct pk_acl *acl, bool allow, size_t index)
{
    const struct entry_list *l = allow ? &acl->allow : &acl->deny;
    return index < l->n && !l->v[index].is_glob ? &l->v[index].cidr : NULL;
}

void pk_acl_format(const struct pk_acl *acl, bool allow, size_t index, char *buf, size_t size)
{
    const struct entry_list *l = allow ? &acl->allow : &acl->deny;
    if (index >= l->n)
        snprintf(buf, size, "?");
    else if (l->v[index].is_glob)
        snprintf(buf, size, "%s", l->v[index].glob);
    else
        pk_cidr_format(&l->v[index].cidr, buf, size);
}

struct client {
    struct pk_addr addr;
    char text[PK_ADDR_STRLEN]; /* filled on the first glob */
};

static bool entry_match(const struct acl_entry *e, struct client *c)
{
    if (!e->is_glob)
        return pk_cidr_contains(&e->cidr, &c->addr);
    if (!c->text[0]) {
        struct pk_addr bare = c->addr;
        bare.scope_id = 0; /* rinetd's patterns never carry an interface */
        pk_addr_format(&bare, c->text, sizeof c->text);
    }
    return fnmatch(e->glob, c->text, 0) == 0;
}

static bool list_match(const struct entry_list *l, struct client *c)
{
    for (size_t i = 0; i < l->n; i++)
        if (entry_match(&l->v[i], c))
            return true;
    return false;
}

bool pk_acl_permits(const struct pk_acl *acl, const struct sockaddr *client)
{
    if (!acl)
        return true;
    struct client c = {0};
    if (pk_addr_from_sockaddr(client, &c.addr) < 0)
        return acl->allow.n == 0 && acl->deny.n == 0;
    if (list_match(&acl->deny, &c))
        return false;
    return acl->allow.n == 0 || list_match(&acl->allow, &c);
}
