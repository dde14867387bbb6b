/* Walking the ruleset as the kernel walks it for the first packet of a new
 * inbound connection: ingress, prerouting (where DNAT and redirect rewrite
 * the destination), the routing decision, then the input hook. Base chains
 * of one hook run in priority order across tables and families; an accept
 * ends only its base chain, a drop anywhere is final.
 *
 * A match that no packet description decides (a rate limit, a quota) is
 * not guessed: the walk is repeated with it taken both ways, and only when
 * the outcomes agree is there an answer. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "firewall/fw_impl.h"
#include "firewall/fw_value.h"

#define FW_MAX_DEPTH 32
#define FW_MAX_STEPS 4000000
#define FW_MAX_FORKS 4

enum outcome { O_CONTINUE, O_ACCEPT, O_DROP, O_RETURN, O_UNKNOWN, O_PENDING, O_NAT };

struct pkt {
    int family;
    uint8_t l4;
    struct fw_val iifname;
    const struct fw_iface *iif;
    bool any_source;
    struct fw_val saddr_lo, saddr_hi;
    struct fw_val daddr;
    uint16_t dport;
    uint32_t mark, ctmark, ctstatus;
};

struct walk {
    const struct pk_firewall *fw;
    struct pkt p;
    const struct fw_stmt *forced[FW_MAX_FORKS];
    bool forced_val[FW_MAX_FORKS];
    size_t nforced;
    const struct fw_stmt *pending;
    const struct fw_rule *pending_rule;
    const struct fw_rule *decider;       /* rule that decided the last base chain */
    const struct fw_chain *policy_chain; /* or the chain whose policy did */
    const char *kernel;                  /* or the kernel's reason */
    const char *unknown_why;
    bool nat;
    const struct fw_rule *nat_rule;
    const struct fw_chain *base; /* the base chain being walked (jumps keep its hook) */
    long steps;
};

/* ---- packet fields ---------------------------------------------------------- */

enum fieldv { FV_ABSENT, FV_KNOWN, FV_ANYSRC, FV_RANGE };

static bool need_met(const struct pkt *p, enum fw_need n)
{
    switch (n) {
    case FN_ANY: return true;
    case FN_IP4: return p->family == AF_INET;
    case FN_IP6: return p->family == AF_INET6;
    case FN_TCP: return p->l4 == 6;
    case FN_UDP: return p->l4 == 17;
    case FN_TCPUDP: return p->l4 == 6 || p->l4 == 17;
    }
    return false;
}

static enum fieldv get_field(const struct walk *w, const struct fw_field *f, struct fw_val *v)
{
    const struct pkt *p = &w->p;
    if (!need_met(p, f->need))
        return FV_ABSENT;
    switch (f->key) {
    case FK_L4PROTO: fw_val_uint(v, 1, p->l4); break;
    case FK_NFPROTO: fw_val_uint(v, 1, p->family == AF_INET ? 2 : 10); break;
    case FK_IIFNAME: *v = p->iifname; break;
    case FK_IIFTYPE: fw_val_uint(v, 2, p->iif && p->iif->loopback ? 772 : 1); break;
    case FK_OIFNAME: memset(v, 0, sizeof *v); v->len = 16; break;
    case FK_MARK: fw_val_uint(v, 4, p->mark); break;
    case FK_PKTTYPE: fw_val_uint(v, 1, 0); break;
    case FK_CT_STATE: fw_val_uint(v, 4, 8); break; /* new */
    case FK_CT_STATUS: fw_val_uint(v, 4, p->ctstatus); break;
    case FK_CT_DIRECTION: fw_val_uint(v, 1, 0); break;
    case FK_CT_MARK: fw_val_uint(v, 4, p->ctmark); break;
    case FK_SADDR:
        if (p->any_source)
            return FV_ANYSRC;
        if (memcmp(p->saddr_lo.b, p->saddr_hi.b, p->saddr_lo.len) != 0)
            return FV_RANGE;
        *v = p->saddr_lo;
        break;
    case FK_DADDR: *v = p->daddr; break;
    case FK_SPORT: return FV_ANYSRC; /* a client's port is its own choice */
    case FK_DPORT: fw_val_uint(v, 2, p->dport); break;
    case FK_TCP_FLAGS: fw_val_uint(v, 1, 2); break; /* syn */
    case FK_FIB_DADDR_TYPE:
        fw_val_uint(v, 4, fw_addr_is_local(w->fw, p->family, p->daddr.b) ? 2 : 1);
        break;
    case FK_FIB_SADDR_TYPE: fw_val_uint(v, 4, 1); break; /* outside sources are unicast */
    case FK_FIB_RPF: fw_val_uint(v, 1, 1); break;        /* the route back exists */
    default: return FV_ABSENT;
    }
    if (f->masked)
        for (uint8_t i = 0; i < v->len; i++)
            v->b[i] &= f->mask[i];
    return FV_KNOWN;
}

/* 1 match, 0 no match, -1 undecided. */
static int eval_match(const struct walk *w, const struct fw_stmt *s)
{
    struct fw_val key[FW_CONCAT_MAX];
    enum fieldv kind = FV_KNOWN;
    for (uint8_t i = 0; i < s->nfields; i++) {
        enum fieldv k = get_field(w, &s->f[i], &key[i]);
        if (k == FV_ABSENT)
            return 0;
        if (k != FV_KNOWN) {
            if (s->nfields > 1)
                return k == FV_ANYSRC ? s->op == FO_NE : -1;
            kind = k;
        }
    }
    const struct fw_set *set = s->set;
    bool hit;
    if (kind == FV_ANYSRC || kind == FV_RANGE) {
        struct fw_val lo = w->p.saddr_lo, hi = w->p.saddr_hi;
        uint8_t len = s->f[0].len;
        if (kind == FV_ANYSRC) {
            memset(&lo, 0, sizeof lo);
            memset(&hi, 0xff, sizeof hi);
            lo.len = hi.len = len;
        }
        if (s->op != FO_EQ && s->op != FO_NE)
            return -1;
        int cover = fw_set_cover(set, &lo, &hi);
        /* an arbitrary source is none of the addresses the rules name */
        if (kind == FV_ANYSRC)
            hit = cover == FW_COVER_ALL;
        else if (cover == FW_COVER_SOME)
            return -1;
        else
            hit = cover == FW_COVER_ALL;
        return s->op == FO_NE ? !hit : hit;
    }
    if (s->flags_any) {
        uint64_t have = fw_val_to_uint(&key[0]), want = 0;
        for (size_t i = 0; i < set->n; i++)
            want |= fw_val_to_uint(&set->elems[i].lo[0]);
        hit = (have & want) != 0;
        return s->op == FO_NE ? !hit : hit;
    }
    if (s->op >= FO_LT && s->op <= FO_GE) {
        int c = memcmp(key[0].b, set->elems[0].lo[0].b, key[0].len);
        return s->op == FO_LT ? c < 0 : s->op == FO_GT ? c > 0 : s->op == FO_LE ? c <= 0 : c >= 0;
    }
    hit = fw_set_lookup(set, key, s->nfields) != NULL;
    return s->op == FO_NE ? !hit : hit;
}

/* ---- chains ------------------------------------------------------------------ */

static enum outcome eval_chain(struct walk *w, int ci, int depth);

static bool forced(const struct walk *w, const struct fw_stmt *s, bool *val)
{
    for (size_t i = 0; i < w->nforced; i++)
        if (w->forced[i] == s) {
            *val = w->forced_val[i];
            return true;
        }
    return false;
}

static enum outcome apply_verdict(struct walk *w, const struct fw_rule *r, const struct fw_verdict *v, int depth)
{
    enum outcome o;
    switch (v->kind) {
    case FV_ACCEPT: w->decider = r; return O_ACCEPT;
    case FV_DROP:
    case FV_REJECT: w->decider = r; return O_DROP;
    case FV_CONTINUE: return O_CONTINUE;
    case FV_RETURN: return O_RETURN;
    case FV_JUMP:
        if (v->chain < 0)
            break;
        o = eval_chain(w, v->chain, depth + 1);
        return o == O_RETURN ? O_CONTINUE : o;
    case FV_GOTO:
        if (v->chain < 0)
            break;
        return eval_chain(w, v->chain, depth + 1);
    default: break;
    }
    w->decider = r;
    w->unknown_why = v->kind == FV_QUEUE ? "queue to a user-space program" : "a verdict portkit cannot follow";
    return O_UNKNOWN;
}

static void apply_nat(struct walk *w, const struct fw_stmt *s)
{
    struct pkt *p = &w->p;
    if (s->has_addr && s->nat_family == p->family) {
        memcpy(p->daddr.b, s->nat_addr, p->family == AF_INET ? 4 : 16);
    } else if (s->redirect) {
        /* redirect: the primary address of the arriving interface */
        const struct fw_iface *f = p->iif;
        static const uint8_t lo4[4] = {127, 0, 0, 1}, lo6[16] = {[15] = 1};
        if (p->family == AF_INET)
            memcpy(p->daddr.b, f && f->n4 && !f->loopback ? f->addr4[0] : lo4, 4);
        else
            memcpy(p->daddr.b, f && f->n6 && !f->loopback ? f->addr6[0] : lo6, 16);
    }
    if (s->nat_port)
        p->dport = s->nat_port;
    p->ctstatus |= 32; /* dnat */
}

static enum outcome eval_rule(struct walk *w, const struct fw_rule *r, int depth)
{
    for (uint16_t i = 0; i < r->nstmts; i++) {
        const struct fw_stmt *s = &r->stmts[i];
        switch (s->kind) {
        case FS_MATCH: {
            int m = eval_match(w, s);
            if (m == 0)
                return O_CONTINUE;
            if (m == 1)
                break;
        }
            /* undecided */
            __attribute__((fallthrough));
        case FS_UNDECIDED: {
            if (!r->has_effect)
                return O_CONTINUE; /* whichever way it goes, nothing changes */
            bool val;
            if (!forced(w, s, &val)) {
                w->pending = s;
                w->pending_rule = r;
                return O_PENDING;
            }
            if (!val)
                return O_CONTINUE;
            break;
        }
        case FS_VERDICT: return apply_verdict(w, r, &s->verdict, depth);
        case FS_VMAP: {
            struct fw_val key[FW_CONCAT_MAX];
            bool known = true;
            for (uint8_t k = 0; k < s->nfields && known; k++) {
                enum fieldv fv = get_field(w, &s->f[k], &key[k]);
                if (fv == FV_ABSENT)
                    return O_CONTINUE;
                known = fv == FV_KNOWN;
            }
            if (!known) {
                w->decider = r;
                w->unknown_why = "a verdict map keyed on the source";
                return O_UNKNOWN;
            }
            const struct fw_elem *e = fw_set_lookup(s->set, key, s->nfields);
            if (!e)
                return O_CONTINUE;
            return apply_verdict(w, r, &e->verdict, depth);
        }
        case FS_NAT:
            if (w->base && w->base->hook == FH_PREROUTING && w->base->is_nat && !w->nat) {
                apply_nat(w, s);
                w->nat = true;
                w->nat_rule = r;
                return O_NAT;
            }
            break;
        case FS_MARK_SET: w->p.mark = s->mark; break;
        case FS_CTMARK_SET: w->p.ctmark = s->mark; break;
        case FS_UNSUPPORTED_VERDICT:
            w->decider = r;
            w->unknown_why = s->why;
            return O_UNKNOWN;
        }
    }
    return O_CONTINUE;
}

static enum outcome eval_chain(struct walk *w, int ci, int depth)
{
    if (depth > FW_MAX_DEPTH) {
        w->unknown_why = "jumps nested deeper than the kernel allows";
        return O_UNKNOWN;
    }
    const struct fw_chain *c = &w->fw->chains[ci];
    const struct fw_gate *gate = w->fw->gates + c->first_rule;
    for (size_t i = 0; i < c->nrules; i++) {
        if (++w->steps > FW_MAX_STEPS) {
            w->unknown_why = "too many rules visited";
            return O_UNKNOWN;
        }
        if (w->p.dport < gate[i].lo || w->p.dport > gate[i].hi || !need_met(&w->p, (enum fw_need)gate[i].need))
            continue;
        enum outcome o = eval_rule(w, &w->fw->rules[c->first_rule + i], depth);
        if (o != O_CONTINUE)
            return o;
    }
    return O_RETURN;
}

static bool chain_applies(const struct walk *w, const struct fw_chain *c)
{
    /* ingress chains (netdev, and inet since Linux 5.10) belong to their devices */
    if (c->hook == FH_INGRESS) {
        if (c->family != FW_FAM_NETDEV && c->family != FW_FAM_INET)
            return false;
        for (size_t i = 0; i < c->ndevs; i++)
            if (strncmp(c->devs[i], (const char *)w->p.iifname.b, 16) == 0)
                return true;
        return false;
    }
    if (c->family == FW_FAM_INET)
        return true;
    if (c->family == FW_FAM_IP)
        return w->p.family == AF_INET;
    if (c->family == FW_FAM_IP6)
        return w->p.family == AF_INET6;
    return false;
}

/* O_ACCEPT when every base chain of the hook let the packet pass. */
static enum outcome eval_hook(struct walk *w, enum fw_hook h)
{
    const struct pk_firewall *fw = w->fw;
    for (size_t i = 0; i < fw->nhook[h]; i++) {
        int ci = fw->hook_chains[h][i];
        const struct fw_chain *c = &fw->chains[ci];
        if (!chain_applies(w, c) || (h == FH_PREROUTING && c->is_nat && w->nat))
            continue;
        w->base = c;
        enum outcome o = eval_chain(w, ci, 0);
        if (o == O_RETURN) {
            if (c->policy == FV_DROP) {
                w->decider = NULL;
                w->policy_chain = c;
                return O_DROP;
            }
            /* a policy accept says less than an accept rule met before it */
            if (!w->decider)
                w->policy_chain = c;
            continue;
        }
        if (o == O_NAT) {
            w->decider = w->nat_rule;
            w->policy_chain = NULL;
            continue;
        }
        if (o == O_ACCEPT) {
            w->policy_chain = NULL;
            continue;
        }
        return o;
    }
    return O_ACCEPT;
}

static enum outcome walk_all(struct walk *w)
{
    enum outcome o = eval_hook(w, FH_INGRESS);
    if (o != O_ACCEPT)
        return o;
    o = eval_hook(w, FH_PREROUTING);
    if (o != O_ACCEPT)
        return o;
    /* routing decision */
    const struct pkt *p = &w->p;
    if (!fw_addr_is_local(w->fw, p->family, p->daddr.b))
        return O_RETURN; /* forwarded: not for a local socket */
    bool from_lo = p->iif && p->iif->loopback;
    if (!from_lo && p->family == AF_INET && p->daddr.b[0] == 127 &&
        !(w->fw->route_localnet_all || (p->iif && p->iif->route_localnet))) {
        w->decider = NULL;
        w->policy_chain = NULL;
        w->kernel = "kernel: 127.0.0.0/8 from outside is a martian, dropped (route_localnet=0)";
        return O_DROP;
    }
    static const uint8_t lo6[16] = {[15] = 1};
    if (!from_lo && p->family == AF_INET6 && memcmp(p->daddr.b, lo6, 16) == 0) {
        w->decider = NULL;
        w->policy_chain = NULL;
        w->kernel = "kernel: ::1 from outside is dropped";
        return O_DROP;
    }
    w->decider = NULL;
    w->policy_chain = NULL;
    return eval_hook(w, FH_INPUT);
}

/* ---- forks over undecided matches ---------------------------------------------- */

struct run {
    enum outcome o;
    struct walk w;
};

static bool same(const struct run *a, const struct run *b)
{
    return a->o == b->o && a->w.nat == b->w.nat &&
           memcmp(a->w.p.daddr.b, b->w.p.daddr.b, FW_VAL_MAX) == 0 && a->w.p.dport == b->w.p.dport;
}

static void explore(const struct walk *start, struct run *out)
{
    out->w = *start;
    out->o = walk_all(&out->w);
    if (out->o != O_PENDING)
        return;
    const struct fw_stmt *s = out->w.pending;
    const struct fw_rule *r = out->w.pending_rule;
    if (start->nforced == FW_MAX_FORKS) {
        out->o = O_UNKNOWN;
        out->w.decider = r;
        out->w.unknown_why = s->why ? s->why : "a match portkit cannot decide";
        return;
    }
    struct walk next = *start;
    next.forced[next.nforced] = s;
    next.forced_val[next.nforced++] = false;
    struct run a, b;
    explore(&next, &a);
    next.forced_val[next.nforced - 1] = true;
    explore(&next, &b);
    if (same(&a, &b) && a.o != O_UNKNOWN) {
        *out = a;
        return;
    }
    out->o = O_UNKNOWN;
    out->w = *start;
    out->w.decider = r;
    out->w.unknown_why = s->why ? s->why : "a match portkit cannot decide";
}

PK_EXPORT const char *pk_firewall_verdict_name(enum pk_firewall_verdict v)
{
    switch (v) {
    case PK_FIREWALL_REACHABLE: return "reachable";
    case PK_FIREWALL_BLOCKED: return "blocked";
    case PK_FIREWALL_UNKNOWN: return "unknown";
    case PK_FIREWALL_ELSEWHERE: return "elsewhere";
    }
    return "?";
}

PK_EXPORT void pk_firewall_eval(const struct pk_firewall *fw, const struct pk_firewall_packet *pkt, struct pk_firewall_result *res)
{
    memset(res, 0, sizeof *res);
    struct walk w;
    memset(&w, 0, sizeof w);
    w.fw = fw;
    struct pkt *p = &w.p;
    p->family = pkt->family;
    p->l4 = pkt->proto == PK_UDP ? 17 : 6;
    p->iifname.len = 16;
    if (pkt->iifname)
        strncpy((char *)p->iifname.b, pkt->iifname, 15);
    p->iif = fw_iface_find(fw, pkt->iifname);
    uint8_t alen = pkt->family == AF_INET ? 4 : 16;
    p->any_source = pkt->any_source;
    p->saddr_lo.len = p->saddr_hi.len = p->daddr.len = alen;
    if (!pkt->any_source) {
        unsigned bits = pkt->saddr_prefix > alen * 8u ? alen * 8u : pkt->saddr_prefix;
        for (unsigned i = 0; i < alen; i++) {
            int keep = (int)bits - (int)i * 8;
            uint8_t m = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
            p->saddr_lo.b[i] = pkt->saddr[i] & m;
            p->saddr_hi.b[i] = (uint8_t)(pkt->saddr[i] | ~m);
        }
    }
    memcpy(p->daddr.b, pkt->daddr, alen);
    p->dport = pkt->dport;

    if (fw->legacy[pkt->family == AF_INET6]) {
        res->verdict = PK_FIREWALL_UNKNOWN;
        snprintf(res->rule, sizeof res->rule, "%s", fw->warning);
        return;
    }
    struct run r;
    explore(&w, &r);
    const struct walk *e = &r.w;
    switch (r.o) {
    case O_ACCEPT: res->verdict = PK_FIREWALL_REACHABLE; break;
    case O_DROP: res->verdict = PK_FIREWALL_BLOCKED; break;
    case O_RETURN: res->verdict = PK_FIREWALL_ELSEWHERE; break;
    default: res->verdict = PK_FIREWALL_UNKNOWN; break;
    }
    if (e->kernel)
        snprintf(res->rule, sizeof res->rule, "%s", e->kernel);
    else if (e->decider)
        fw_rule_describe(fw, e->decider, res->rule, sizeof res->rule);
    else if (e->policy_chain)
        fw_policy_describe(fw, e->policy_chain, res->rule, sizeof res->rule);
    else if (r.o == O_RETURN)
        snprintf(res->rule, sizeof res->rule, "routing: the destination is not an address of this host");
    else
        snprintf(res->rule, sizeof res->rule, "no base chain on the input hook");
    if (r.o == O_UNKNOWN && e->unknown_why) {
        size_t n = strlen(res->rule);
        snprintf(res->rule + n, sizeof res->rule - n, " (%s)", e->unknown_why);
    }
    if (e->nat) {
        res->nat = true;
        memcpy(res->nat_daddr, e->p.daddr.b, alen);
        res->nat_dport = e->p.dport;
        fw_rule_describe(fw, e->nat_rule, res->nat_rule, sizeof res->nat_rule);
    }
}
