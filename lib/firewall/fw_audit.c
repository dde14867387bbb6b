/* Every listener of the host against the ruleset: a packet is built for
 * each (listener, family, interface) the way an outside client would send
 * it, and DNAT/redirect rules add "virtual listeners": outside ports that
 * prerouting rewrites onto a local socket. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/buf.h"

#include "firewall/fw_impl.h"
#include "firewall/fw_value.h"
#include "portkit/json.h"

struct findings {
    struct pk_firewall_finding *v;
    size_t n, cap;
};

static struct pk_firewall_finding *push(struct findings *f)
{
    if (PK_ARRAY_RESERVE(f->v, f->cap, f->n + 1, 64))
        return NULL;
    struct pk_firewall_finding *x = &f->v[f->n++];
    memset(x, 0, sizeof *x);
    return x;
}

static bool dual_stack(const struct pk_sock *s)
{
    static const unsigned char any6[16] = {0};
    if (s->family != AF_INET6 || memcmp(s->local, any6, 16) != 0)
        return false;
    if (s->v6only_known)
        return !s->v6only;
    FILE *f = fopen("/proc/sys/net/ipv6/bindv6only", "re");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v == 0;
}

static bool is_wildcard(int family, const unsigned char *a)
{
    static const unsigned char zero[16] = {0};
    return memcmp(a, zero, family == AF_INET ? 4 : 16) == 0;
}

/* Does a packet to (family, addr, port) after NAT land on socket s? */
static bool lands_on(const struct pk_sock *s, enum pk_proto proto, int family, const unsigned char *addr,
                     unsigned port)
{
    if (s->proto != proto || s->local_port != port)
        return false;
    if (s->family == family)
        return is_wildcard(family, s->local) || memcmp(s->local, addr, family == AF_INET ? 4 : 16) == 0;
    return family == AF_INET && dual_stack(s);
}

static void describe_from(const struct fw_iface *ifc, const struct pk_firewall_source *src, char *out, size_t size)
{
    if (src && src->has_addr) {
        char a[INET6_ADDRSTRLEN];
        inet_ntop(src->family, src->addr, a, sizeof a);
        int n = snprintf(out, size, "%s from ", ifc ? ifc->name : "any");
        if (n > 0 && (size_t)n < size)
            snprintf(out + n, size - (size_t)n, "%.46s/%u", a, src->prefix);
    } else {
        snprintf(out, size, "%s", ifc ? ifc->name : "any");
    }
}

static void make_packet(const struct pk_firewall_source *src, const struct fw_iface *ifc, int family,
                        enum pk_proto proto, const unsigned char *daddr, unsigned dport, struct pk_firewall_packet *p)
{
    memset(p, 0, sizeof *p);
    p->family = family;
    p->proto = proto;
    p->iifname = ifc ? ifc->name : "";
    p->any_source = !(src && src->has_addr && src->family == family);
    if (!p->any_source) {
        memcpy(p->saddr, src->addr, 16);
        p->saddr_prefix = src->prefix;
    }
    memcpy(p->daddr, daddr, family == AF_INET ? 4 : 16);
    p->dport = (uint16_t)dport;
}

static const unsigned char *iface_addr(const struct fw_iface *ifc, int family)
{
    if (family == AF_INET)
        return ifc->n4 ? ifc->addr4[0] : NULL;
    /* a global address before a link-local one */
    for (size_t i = 0; i < ifc->n6; i++)
        if (!(ifc->addr6[i][0] == 0xfe && (ifc->addr6[i][1] & 0xc0) == 0x80))
            return ifc->addr6[i];
    return ifc->n6 ? ifc->addr6[0] : NULL;
}

static bool iface_wanted(const struct fw_iface *ifc, const struct pk_firewall_source *src, const char *bound)
{
    if (src && src->iface)
        return strcmp(ifc->name, src->iface) == 0;
    if (bound) /* SO_BINDTODEVICE: only what arrives there (never loopback from outside) */
        return !ifc->loopback && strcmp(ifc->name, bound) == 0;
    return !ifc->loopback;
}

static int rank(enum pk_firewall_verdict v)
{
    return v == PK_FIREWALL_REACHABLE ? 3 : v == PK_FIREWALL_UNKNOWN ? 2 : v == PK_FIREWALL_BLOCKED ? 1 : 0;
}

/* The direct way in: to the socket's own address and port. */
static int judge_direct(const struct pk_firewall *fw, const struct pk_socklist *l, size_t idx, int family,
                        const struct pk_firewall_source *src, struct findings *out)
{
    const struct pk_sock *s = pk_socklist_get(l, idx);
    char bound[IF_NAMESIZE] = "";
    if (s->ifindex && !if_indextoname(s->ifindex, bound))
        bound[0] = '\0';
    struct pk_firewall_finding best = {.sock_index = idx, .family = family, .verdict = PK_FIREWALL_ELSEWHERE};
    bool any = false;
    unsigned char addr[16] = {0};
    bool wildcard = is_wildcard(s->family, s->local);
    if (!wildcard) {
        if (s->family == family)
            memcpy(addr, s->local, 16);
        else if (s->family == AF_INET6 && family == AF_INET) /* ::ffff:a.b.c.d */
            memcpy(addr, s->local + 12, 4);
    }
    for (size_t i = 0; i < fw->nifaces; i++) {
        const struct fw_iface *ifc = &fw->ifaces[i];
        if (!iface_wanted(ifc, src, bound[0] ? bound : NULL))
            continue;
        const unsigned char *daddr = wildcard ? iface_addr(ifc, family) : addr;
        if (!daddr)
            continue;
        struct pk_firewall_packet p;
        make_packet(src, ifc, family, s->proto, daddr, s->local_port, &p);
        struct pk_firewall_result r;
        pk_firewall_eval(fw, &p, &r);
        enum pk_firewall_verdict v = r.verdict;
        if (r.nat && v != PK_FIREWALL_UNKNOWN && !lands_on(s, s->proto, family, r.nat_daddr, r.nat_dport)) {
            v = PK_FIREWALL_ELSEWHERE; /* prerouting sends this port somewhere else */
            snprintf(r.rule, sizeof r.rule, "%s", r.nat_rule);
        }
        if (!any || rank(v) > rank(best.verdict)) {
            best.verdict = v;
            snprintf(best.rule, sizeof best.rule, "%s", r.rule);
            describe_from(ifc, src, best.from, sizeof best.from);
            any = true;
        }
        if (v == PK_FIREWALL_REACHABLE)
            break;
    }
    if (!any) {
        best.verdict = PK_FIREWALL_BLOCKED;
        snprintf(best.rule, sizeof best.rule, "no interface%s with an %s address to arrive on",
                 src && src->iface ? " of that name" : "", family == AF_INET ? "IPv4" : "IPv6");
        describe_from(NULL, src, best.from, sizeof best.from);
    }
    if (best.verdict == PK_FIREWALL_ELSEWHERE)
        best.verdict = PK_FIREWALL_BLOCKED; /* no packet of this kind reaches the socket */
    struct pk_firewall_finding *f = push(out);
    if (!f)
        return PK_ENOMEM;
    *f = best;
    return 0;
}

/* Outside ports a NAT rule takes: the values of its dport match. */
static size_t nat_ports(const struct fw_rule *r, enum pk_proto proto, uint16_t *ports, size_t max)
{
    size_t n = 0;
    for (uint16_t i = 0; i < r->nstmts; i++) {
        const struct fw_stmt *s = &r->stmts[i];
        if (s->kind != FS_MATCH || s->nfields != 1 || s->f[0].key != FK_DPORT || s->op != FO_EQ)
            continue;
        if ((s->f[0].need == FN_TCP && proto != PK_TCP) || (s->f[0].need == FN_UDP && proto != PK_UDP))
            return 0;
        for (size_t k = 0; k < s->set->n && n < max; k++) {
            uint64_t lo = fw_val_to_uint(&s->set->elems[k].lo[0]), hi = fw_val_to_uint(&s->set->elems[k].hi[0]);
            for (uint64_t p = lo; p <= hi && n < max; p++)
                ports[n++] = (uint16_t)p;
        }
        return n;
    }
    return 0;
}

static int judge_virtual(const struct pk_firewall *fw, const struct pk_socklist *l, const struct pk_firewall_source *src,
                         struct findings *out)
{
    size_t nsock = pk_socklist_count(l);
    for (size_t ri = 0; ri < fw->nrules; ri++) {
        const struct fw_rule *r = &fw->rules[ri];
        const struct fw_chain *c = &fw->chains[r->chain];
        bool nat = false;
        for (uint16_t i = 0; i < r->nstmts; i++)
            nat |= r->stmts[i].kind == FS_NAT;
        /* NAT rules in chains jumped to from prerouting are found too:
         * the walk decides whether a packet gets there. */
        if (!nat)
            continue;
        (void)c;
        for (int pr = PK_TCP; pr <= PK_UDP; pr++) {
            uint16_t ports[64];
            size_t np = nat_ports(r, (enum pk_proto)pr, ports, 64);
            for (size_t pi = 0; pi < np; pi++) {
                for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
                    if (src && src->has_addr && src->family != fam)
                        continue;
                    for (size_t i = 0; i < fw->nifaces; i++) {
                        const struct fw_iface *ifc = &fw->ifaces[i];
                        if (!iface_wanted(ifc, src, NULL))
                            continue;
                        const unsigned char *daddr = iface_addr(ifc, fam);
                        if (!daddr)
                            continue;
                        struct pk_firewall_packet p;
                        make_packet(src, ifc, fam, (enum pk_proto)pr, daddr, ports[pi], &p);
                        struct pk_firewall_result res;
                        pk_firewall_eval(fw, &p, &res);
                        if (!res.nat || res.verdict == PK_FIREWALL_ELSEWHERE)
                            continue;
                        for (size_t si = 0; si < nsock; si++) {
                            const struct pk_sock *s = pk_socklist_get(l, si);
                            /* the same port: the direct finding already says it */
                            if (!pk_sock_is_listening(s) || s->local_port == ports[pi] ||
                                !lands_on(s, (enum pk_proto)pr, fam, res.nat_daddr, res.nat_dport))
                                continue;
                            bool dup = false;
                            for (size_t k = 0; k < out->n && !dup; k++) {
                                const struct pk_firewall_finding *o = &out->v[k];
                                dup = o->via && o->sock_index == si && o->family == fam &&
                                      o->via_port == ports[pi];
                            }
                            if (dup)
                                continue;
                            struct pk_firewall_finding *f = push(out);
                            if (!f)
                                return PK_ENOMEM;
                            f->sock_index = si;
                            f->family = fam;
                            f->verdict = res.verdict;
                            /* the NAT rule is half of the answer for a way in it makes */
                            snprintf(f->rule, sizeof f->rule, "%.240s; after %.240s", res.rule, res.nat_rule);
                            describe_from(ifc, src, f->from, sizeof f->from);
                            f->via = true;
                            memcpy(f->via_addr, daddr, fam == AF_INET ? 4 : 16);
                            f->via_port = ports[pi];
                        }
                    }
                }
            }
        }
    }
    return 0;
}

static int cmp_finding(const void *a, const void *b)
{
    const struct pk_firewall_finding *x = a, *y = b;
    if (x->sock_index != y->sock_index)
        return x->sock_index < y->sock_index ? -1 : 1;
    if (x->via != y->via)
        return x->via ? 1 : -1;
    if (x->family != y->family)
        return x->family == AF_INET6 ? -1 : 1;
    return (int)x->via_port - (int)y->via_port;
}

PK_EXPORT int pk_firewall_audit(const struct pk_firewall *fw, const struct pk_socklist *l, const struct pk_firewall_source *src,
                          struct pk_firewall_finding **out, size_t *n, struct pk_err *err)
{
    struct findings f = {0};
    int rc = 0;
    size_t count = pk_socklist_count(l);
    for (size_t i = 0; i < count && rc == 0; i++) {
        const struct pk_sock *s = pk_socklist_get(l, i);
        if (!pk_sock_is_listening(s) || (s->proto != PK_TCP && s->proto != PK_UDP))
            continue;
        bool any_src = !(src && src->has_addr);
        if (any_src || src->family == s->family)
            rc = judge_direct(fw, l, i, s->family, src, &f);
        if (rc == 0 && dual_stack(s) && (any_src || src->family == AF_INET))
            rc = judge_direct(fw, l, i, AF_INET, src, &f);
    }
    if (rc == 0)
        rc = judge_virtual(fw, l, src, &f);
    if (rc < 0) {
        free(f.v);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    if (f.n)
        qsort(f.v, f.n, sizeof *f.v, cmp_finding);
    *out = f.v;
    *n = f.n;
    return 0;
}

PK_EXPORT void pk_firewall_finding_json(const struct pk_firewall_finding *f, const struct pk_sock *s, const char *service,
                                  struct pk_buf *out)
{
    struct pk_json j;
    pk_json_init(&j, out);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "proto", pk_proto_name(s->proto));
    pk_json_str(&j, "family", f->family == AF_INET ? "ipv4" : "ipv6");
    char a[PK_ADDR_MAX];
    pk_json_str(&j, "address", pk_sock_addr_str(s->family, s->local, a, sizeof a));
    pk_json_int(&j, "port", s->local_port);
    if (s->pid > 0)
        pk_json_int(&j, "pid", s->pid);
    else
        pk_json_null(&j, "pid");
    pk_json_str(&j, "process", s->process);
    pk_json_str(&j, "service", service);
    pk_json_str(&j, "verdict", pk_firewall_verdict_name(f->verdict));
    pk_json_str(&j, "rule", f->rule);
    pk_json_str(&j, "from", f->from);
    if (f->via) {
        char ep[PK_ENDPOINT_MAX];
        pk_json_str(&j, "via", pk_sock_endpoint_str(f->family, f->via_addr, f->via_port, NULL, ep, sizeof ep));
    } else {
        pk_json_null(&j, "via");
    }
    pk_json_obj_end(&j);
}
