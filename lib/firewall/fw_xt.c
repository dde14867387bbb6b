/* xt matches and targets from nft's text of the rule (see fw_xt.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "firewall/fw_value.h"
#include "firewall/fw_xt.h"

/* The next occurrence of word in the text, at a word start; the cursor
 * moves past it. */
static const char *find(struct fw_xt_cursor *xt, const char *word)
{
    if (!xt->text)
        return NULL;
    const char *p = xt->text + xt->pos;
    size_t n = strlen(word);
    while ((p = strstr(p, word))) {
        if (p == xt->text || p[-1] == ' ') {
            xt->pos = (size_t)(p - xt->text) + n;
            return p + n;
        }
        p += n;
    }
    return NULL;
}

static bool skip_neg(const char **p)
{
    if (strncmp(*p, "!= ", 3) == 0) {
        *p += 3;
        return true;
    }
    return false;
}

/* "a" or "a,b" or "{ a, b }" into words; returns how many. */
static size_t words(const char *p, char out[][24], size_t max)
{
    size_t n = 0;
    bool brace = *p == '{';
    if (brace)
        p++;
    for (;;) {
        while (*p == ' ' || (brace && *p == ','))
            p++;
        size_t len = strcspn(p, brace ? " ,}" : " ,");
        if (len == 0 || len >= 24 || n == max)
            break;
        memcpy(out[n], p, len);
        out[n++][len] = '\0';
        p += len;
        if (!brace && *p == ',')
            p++;
        else if (!brace)
            break;
        if (brace && *p == '}')
            break;
    }
    return n;
}

static struct fw_set *one_field_set(enum fw_type t, uint8_t len)
{
    struct fw_set *s = calloc(1, sizeof *s);
    if (s) {
        s->nfields = 1;
        s->ftype[0] = t;
        s->flen[0] = len;
    }
    return s;
}

static void undecided(struct fw_stmt *s, const char *why)
{
    memset(s, 0, sizeof *s);
    s->kind = FS_UNDECIDED;
    s->why = why;
}

/* A match of key k against the symbolic or numeric words at p. */
static int word_match(struct fw_stmt *s, const char *p, enum fw_key k, enum fw_need need, enum fw_type t,
                      uint8_t len)
{
    bool neg = skip_neg(&p);
    char w[32][24];
    size_t n = words(p, w, 32);
    if (n == 0)
        return -1;
    s->kind = FS_MATCH;
    s->op = neg ? FO_NE : FO_EQ;
    s->nfields = 1;
    s->f[0].key = k;
    s->f[0].need = need;
    s->f[0].type = t;
    s->f[0].len = len;
    s->set = one_field_set(t, len);
    if (!s->set)
        return PK_ENOMEM;
    s->set_owned = true;
    if (fw_type_is_flags(t)) {
        uint64_t bits = 0, b;
        for (size_t i = 0; i < n; i++) {
            if (fw_sym_lookup(t, w[i], &b))
                return -1;
            bits |= b;
        }
        struct fw_val v;
        fw_val_uint(&v, len, bits);
        s->flags_any = true;
        return fw_set_add(s->set, &v, &v, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t lo, hi;
        char *dash = strchr(w[i], '-');
        if (t == FT_PORT && dash && dash != w[i]) {
            *dash = '\0';
            if (fw_sym_lookup(t, w[i], &lo) || fw_sym_lookup(t, dash + 1, &hi))
                return -1;
        } else if (fw_sym_lookup(t, w[i], &lo)) {
            return -1;
        } else {
            hi = lo;
        }
        struct fw_val a, b;
        fw_val_uint(&a, len, lo);
        fw_val_uint(&b, len, hi);
        if (fw_set_add(s->set, &a, &b, NULL))
            return PK_ENOMEM;
    }
    fw_set_finish(s->set);
    return 0;
}

static int xt_match(struct fw_xt_cursor *xt, const char *name, struct fw_stmt *s)
{
    const char *p;
    int rc = -1;
    if (strcmp(name, "comment") == 0)
        return 1;
    if (strcmp(name, "conntrack") == 0 || strcmp(name, "state") == 0) {
        if ((p = find(xt, "ct state ")))
            rc = word_match(s, p, FK_CT_STATE, FN_ANY, FT_CTSTATE, 4);
        else if ((p = find(xt, "ct status ")))
            rc = word_match(s, p, FK_CT_STATUS, FN_ANY, FT_CTSTATUS, 4);
    } else if (strcmp(name, "addrtype") == 0) {
        if ((p = find(xt, "fib daddr type ")) || (p = find(xt, "fib daddr . iif type ")))
            rc = word_match(s, p, FK_FIB_DADDR_TYPE, FN_ANY, FT_FIBTYPE, 4);
        else if ((p = find(xt, "fib saddr type ")) || (p = find(xt, "fib saddr . iif type ")))
            rc = word_match(s, p, FK_FIB_SADDR_TYPE, FN_ANY, FT_FIBTYPE, 4);
    } else if (strcmp(name, "multiport") == 0 || strcmp(name, "tcp") == 0 || strcmp(name, "udp") == 0) {
        size_t save = xt->pos;
        const char *proto[] = {"tcp dport ", "udp dport ", "tcp sport ", "udp sport "};
        for (int i = 0; i < 4 && rc == -1; i++) {
            xt->pos = save;
            if ((p = find(xt, proto[i])))
                rc = word_match(s, p, i < 2 ? FK_DPORT : FK_SPORT, i % 2 ? FN_UDP : FN_TCP, FT_PORT, 2);
        }
    } else if (strcmp(name, "icmp") == 0 || strcmp(name, "icmp6") == 0 || strcmp(name, "rt") == 0) {
        /* only ICMP packets (or IPv6 with a routing header) match: never a
         * new TCP or UDP connection */
        rc = word_match(s, strcmp(name, "icmp") == 0 ? "icmp" : strcmp(name, "icmp6") == 0 ? "ipv6-icmp" : "43",
                        FK_L4PROTO, FN_ANY, FT_PROTO, 1);
    }
    if (rc == PK_ENOMEM)
        return rc;
    if (rc < 0) {
        fw_stmt_release(s);
        undecided(s, "an iptables match portkit cannot decide");
    }
    return 0;
}

static int xt_nat(struct fw_xt_cursor *xt, bool redirect, const struct fw_chain *c, struct fw_stmt *s)
{
    const char *p = find(xt, redirect ? "redirect to " : "dnat ");
    if (!p)
        return -1;
    s->kind = FS_NAT;
    s->redirect = redirect;
    if (redirect) {
        if (*p == ':')
            s->nat_port = (uint16_t)strtoul(p + 1, NULL, 10);
        return 0;
    }
    if (strncmp(p, "ip to ", 6) == 0)
        p += 6;
    else if (strncmp(p, "ip6 to ", 7) == 0)
        p += 7;
    else if (strncmp(p, "to ", 3) == 0)
        p += 3;
    else
        return -1;
    char addr[64];
    const char *end;
    int family = c->family == FW_FAM_IP6 ? AF_INET6 : AF_INET;
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end || (size_t)(end - p - 1) >= sizeof addr)
            return -1;
        memcpy(addr, p + 1, (size_t)(end - p - 1));
        addr[end - p - 1] = '\0';
        end++;
        family = AF_INET6;
    } else {
        size_t len = strcspn(p, family == AF_INET6 ? " " : ": ");
        if (len >= sizeof addr)
            return -1;
        memcpy(addr, p, len);
        addr[len] = '\0';
        end = p + len;
    }
    if (inet_pton(family, addr, s->nat_addr) != 1)
        return -1;
    s->has_addr = true;
    s->nat_family = family;
    if (*end == ':')
        s->nat_port = (uint16_t)strtoul(end + 1, NULL, 10);
    return 0;
}

static int xt_target(struct fw_xt_cursor *xt, const char *name, const struct fw_chain *c, struct fw_stmt *s)
{
    static const char *const harmless[] = {"LOG", "NFLOG", "ULOG", "TRACE", "CHECKSUM", "TCPMSS", "MASQUERADE",
                                           "SNAT", "CT", "NOTRACK", "AUDIT", "CLASSIFY", "DSCP", "TOS"};
    for (size_t i = 0; i < sizeof harmless / sizeof *harmless; i++)
        if (strcmp(name, harmless[i]) == 0)
            return 1;
    if (strcmp(name, "REJECT") == 0) {
        s->kind = FS_VERDICT;
        s->verdict.kind = FV_REJECT;
        s->verdict.chain = -1;
        return 0;
    }
    if ((strcmp(name, "DNAT") == 0 || strcmp(name, "REDIRECT") == 0) &&
        xt_nat(xt, name[0] == 'R', c, s) == 0)
        return 0;
    const char *p;
    if (strcmp(name, "MARK") == 0 && (p = find(xt, "meta mark set "))) {
        s->kind = FS_MARK_SET;
        s->mark = (uint32_t)strtoul(p, NULL, 0);
        return 0;
    }
    memset(s, 0, sizeof *s);
    s->kind = FS_UNSUPPORTED_VERDICT;
    s->why = "an iptables target portkit cannot follow";
    return 0;
}

int fw_xt_compile(struct fw_xt_cursor *xt, const struct fw_chain *c, json_t *arg, struct fw_stmt *s)
{
    const char *type = json_string_value(json_object_get(arg, "type"));
    const char *name = json_string_value(json_object_get(arg, "name"));
    if (!type || !name) {
        undecided(s, "an iptables extension portkit cannot decide");
        return 0;
    }
    if (strcmp(type, "target") == 0)
        return xt_target(xt, name, c, s);
    return xt_match(xt, name, s);
}
