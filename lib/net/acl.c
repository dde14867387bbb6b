#include "portkit/acl.h"
#include "portkit/buf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/registry.h"

struct cidr_list {
    struct pk_cidr *v;
    size_t n, cap;
};

struct pk_acl {
    struct cidr_list allow, deny;
};

int pk_cidr_parse(const char *s, size_t len, struct pk_cidr *out, struct pk_err *err)
{
    char text[INET6_ADDRSTRLEN + 8];
    if (len == 0)
        return pk_err_set(err, PK_EINVAL, "empty address");
    if (len >= sizeof text)
        return pk_err_set(err, PK_EINVAL, "'%.*s...' is too long for an address or CIDR", 20, s);
    memcpy(text, s, len);
    text[len] = '\0';
    if (memchr(text, '\0', len))
        return pk_err_set(err, PK_EINVAL, "address contains a NUL byte");
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
    } else {
        return pk_err_set(err, PK_EINVAL, "'%s' is not an IPv4 or IPv6 address", text);
    }
    if (slash) {
        unsigned prefix;
        const char *p = slash + 1;
        if (pk_port_parse(p, strlen(p), &prefix) < 0 || prefix > out->prefix)
            return pk_err_set(err, PK_EINVAL, "bad prefix length '/%s' (0-%u)", p, out->prefix);
        out->prefix = prefix;
    }
    unsigned nbytes = out->family == AF_INET ? 4 : 16;
    for (unsigned bit = out->prefix; bit < nbytes * 8; bit++) {
        if (out->addr[bit / 8] & (0x80u >> (bit % 8))) {
            if (slash)
                *slash = '/';
            return pk_err_set(err, PK_EINVAL,
                              "'%s' has host bits set beyond the /%u prefix", text, out->prefix);
        }
    }
    return 0;
}

/* The client's address bytes and family, with IPv4-mapped IPv6 unwrapped. */
static const uint8_t *client_bytes(const struct sockaddr *sa, int *family)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa->sa_family == AF_INET) {
        *family = AF_INET;
        return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, sizeof mapped) == 0) {
            *family = AF_INET;
            return a + 12;
        }
        *family = AF_INET6;
        return a;
    }
    *family = AF_UNSPEC;
    return NULL;
}

static bool bytes_match(const struct pk_cidr *c, int family, const uint8_t *a)
{
    if (!a || c->family != family)
        return false;
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == c->addr[full];
}

bool pk_cidr_match(const struct pk_cidr *c, const struct sockaddr *sa)
{
    int family;
    const uint8_t *a = client_bytes(sa, &family);
    return bytes_match(c, family, a);
}

void pk_cidr_format(const struct pk_cidr *c, char *buf, size_t size)
{
    char addr[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->family, c->addr, addr, sizeof addr))
        snprintf(addr, sizeof addr, "?");
    snprintf(buf, size, "%s/%u", addr, c->prefix);
}

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

static int list_copy(struct cidr_list *dst, const struct cidr_list *src)
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

int pk_acl_add(struct pk_acl *acl, bool allow, const char *pattern, size_t len,
               struct pk_err *err)
{
    struct pk_cidr c;
    int rc = pk_cidr_parse(pattern, len, &c, err);
    if (rc < 0)
        return rc;
    struct cidr_list *l = allow ? &acl->allow : &acl->deny;
    if (PK_ARRAY_RESERVE(l->v, l->cap, l->n + 1, 8) < 0)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    l->v[l->n++] = c;
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
    const struct cidr_list *l = allow ? &acl->allow : &acl->deny;
    return index < l->n ? &l->v[index] : NULL;
}

bool pk_acl_permits(const struct pk_acl *acl, const struct sockaddr *client)
{
    if (!acl)
        return true;
    int family;
    const uint8_t *a = client_bytes(client, &family);
    for (size_t i = 0; i < acl->deny.n; i++)
        if (bytes_match(&acl->deny.v[i], family, a))
            return false;
    if (!acl->allow.n)
        return true;
    for (size_t i = 0; i < acl->allow.n; i++)
        if (bytes_match(&acl->allow.v[i], family, a))
            return true;
    return false;
}
