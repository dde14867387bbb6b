/* The nft script for `forward --kernel`: one table per forwarder holding
 * the allow/deny sets, per-rule admission chains, conntrack timeout
 * policies and the NAT chains. Every value in the script is formatted here
 * from parsed addresses and numbers, never copied from user text. */
#include "forward/forward_kernel_impl.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Linux's SYN retries take about two minutes; a connect-timeout other than
 * the default cannot be expressed by NAT. */
static const char *const PROTO_NAMES[] = {[PK_TCP] = "tcp", [PK_UDP] = "udp"};

static const void *sa_addr(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
    return &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
}

static unsigned sa_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

static bool sa_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)sa_addr(sa));
}

static bool sa_is_unspecified(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)sa_addr(sa));
}

enum kfw_place kfw_place_of(const struct sockaddr *addr)
{
    if (sa_is_loopback(addr))
        return KFW_LOOPBACK;
    struct ifaddrs *ifs = NULL;
    enum kfw_place place = KFW_REMOTE;
    if (getifaddrs(&ifs) < 0)
        return place;
    size_t alen = addr->sa_family == AF_INET ? 4 : 16;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == addr->sa_family &&
            memcmp(sa_addr(i->ifa_addr), sa_addr(addr), alen) == 0) {
            place = KFW_LOCAL;
            break;
        }
    }
    freeifaddrs(ifs);
    return place;
}

bool kfw_acl_has_glob(const struct pk_acl *acl)
{
    for (int allow = 0; acl && allow < 2; allow++)
        for (size_t i = 0; i < pk_acl_count(acl, allow); i++)
            if (!pk_acl_get(acl, allow, i))
                return true;
    return false;
}

const char *pk_fw_kernel_unfit(const struct pk_fw_rule *r, const struct pk_fw_defaults *d)
{
    const struct sockaddr *l = (const struct sockaddr *)&r->listen.ss;
    const struct sockaddr *t = (const struct sockaddr *)&r->target.ss;
    if (kfw_acl_has_glob(r->acl))
        return "the rule's allow/deny lists hold a glob pattern, which nft sets cannot";
    if (r->target.host[0])
        return "the target is a host name, which the relay looks up again when its DNS TTL runs "
               "out (a NAT rule holds one address)";
    if (sa_port(l) == 0)
        return "a listening port of 0 (any free port) is a socket's choice, not a NAT rule's";
    if (!r->listen.any && l->sa_family != t->sa_family)
        return "NAT cannot translate between IPv4 and IPv6";
    if (d && r->connect_timeout_ms != d->connect_timeout_ms)
        return "connect-timeout needs the relay (the kernel retries SYNs on its own schedule)";
    if (r->has_source && (r->source.ss.ss_family != t->sa_family || kfw_place_of(t) != KFW_REMOTE))
        return "src= with a target on this host (or of the other address family) needs the relay";
    if (!r->listen.any && sa_is_loopback(l) && kfw_place_of(t) == KFW_REMOTE)
        return "a loopback listener with a target on another host needs the relay (packets from "
               "127.0.0.1 cannot leave the host)";
    return NULL;
}

/* ---- sets ---- */

/* The relay's ACL semantics in nft terms. A dual-stack relay sees IPv4
 * clients as mapped addresses (::ffff:a.b.c.d), NAT sees IPv4 packets, and
 * both must admit the same clients: an IPv4-mapped block is the IPv4 block
 * it carries, and an IPv6 block wide enough to cover all of ::ffff:0:0/96
 * (::/0, ::/80) covers every IPv4 client too. Writes the entry's blocks for
 * family into out (at most one); returns how many. */
static int as_family(const struct pk_cidr *c, int family, struct pk_cidr *out)
{
    static const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!c)
        return 0;
    if (c->family == family && !(family == AF_INET6 && c->prefix >= 96 &&
                                 memcmp(c->addr, mapped, 12) == 0)) {
        *out = *c;
        return 1;
    }
    if (family != AF_INET || c->family != AF_INET6)
        return 0;
    memset(out, 0, sizeof *out);
    out->family = AF_INET;
    if (c->prefix >= 96 && memcmp(c->addr, mapped, 12) == 0) {
        memcpy(out->addr, c->addr + 12, 4);
        out->prefix = c->prefix - 96;
        return 1;
    }
    /* Does the block's prefix match ::ffff:0:0 on all its bits? */
    for (unsigned bit = 0; bit < c->prefix; bit++) {
        unsigned byte = bit / 8, mask = 0x80u >> (bit % 8);
        if ((c->addr[byte] & mask) != (mapped[byte] & mask))
            return 0;
    }
    out->prefix = 0; /* 0.0.0.0/0 */
    return 1;
}

static size_t count_family(const struct pk_acl *acl, bool allow, int family)
{
    size_t n = 0;
    struct pk_cidr c;
    for (size_t i = 0; i < pk_acl_count(acl, allow); i++)
        n += (size_t)as_family(pk_acl_get(acl, allow, i), family, &c);
    return n;
}

static void put_set(struct pk_buf *b, const char *name, const struct pk_acl *acl, bool allow,
                    int family)
{
    pk_buf_printf(b, "\tset %s {\n\t\ttype %s\n\t\tflags interval\n\t\tauto-merge\n", name,
                  family == AF_INET ? "ipv4_addr" : "ipv6_addr");
    const char *sep = "\t\telements = { ";
    for (size_t i = 0; i < pk_acl_count(acl, allow); i++) {
        struct pk_cidr c;
        if (!as_family(pk_acl_get(acl, allow, i), family, &c))
            continue;
        char text[64];
        pk_cidr_format(&c, text, sizeof text);
        pk_buf_printf(b, "%s%s", sep, text);
        sep = ", ";
    }
    if (strcmp(sep, ", ") == 0)
        pk_buf_puts(b, " }\n");
    pk_buf_puts(b, "\t}\n");
}

/* Declares the sets of one allow/deny list as PREFIX_allow4 ... and writes
 * into chain the rules that drop what the list turns away. */
static void put_acl(struct pk_buf *sets, struct pk_buf *chain, const char *prefix,
                    const struct pk_acl *acl)
{
    if (!acl)
        return;
    char name[64];
    static const int fams[] = {AF_INET, AF_INET6};
    /* With any allow entry, a client matching none is turned away, so both
     * families get a set (an empty one drops the whole family). */
    if (pk_acl_count(acl, true)) {
        for (int f = 0; f < 2; f++) {
            snprintf(name, sizeof name, "%s_allow%d", prefix, fams[f] == AF_INET ? 4 : 6);
            put_set(sets, name, acl, true, fams[f]);
            pk_buf_printf(chain, "\t\t%s saddr != @%s counter name \"denied\" drop\n",
                          fams[f] == AF_INET ? "ip" : "ip6",
                          name);
        }
    }
    for (int f = 0; f < 2; f++) {
        if (!count_family(acl, false, fams[f]))
            continue;
        snprintf(name, sizeof name, "%s_deny%d", prefix, fams[f] == AF_INET ? 4 : 6);
        put_set(sets, name, acl, false, fams[f]);
        pk_buf_printf(chain, "\t\t%s saddr @%s counter name \"denied\" drop\n",
                      fams[f] == AF_INET ? "ip" : "ip6", name);
    }
}

/* ---- matches and NAT ---- */

/* The packets of rule r: protocol, the listening address, the port. */
static void put_match(struct pk_buf *b, const struct pk_fw_rule *r, bool output)
{
    const struct sockaddr *l = (const struct sockaddr *)&r->listen.ss;
    const struct sockaddr *t = (const struct sockaddr *)&r->target.ss;
    bool v4 = t->sa_family == AF_INET;
    pk_buf_printf(b, "meta l4proto %s ", PROTO_NAMES[r->proto]);
    if (r->listen.any || sa_is_unspecified(l)) {
        pk_buf_printf(b, "meta nfproto %s fib daddr type local ", v4 ? "ipv4" : "ipv6");
        /* From this host to 127.0.0.1 the source is loopback too, and such
         * packets cannot be sent to another host. */
        if (output && kfw_place_of(t) == KFW_REMOTE)
            pk_buf_puts(b, v4 ? "ip daddr != 127.0.0.0/8 " : "ip6 daddr != ::1 ");
    } else {
        char a[INET6_ADDRSTRLEN];
        inet_ntop(l->sa_family, sa_addr(l), a, sizeof a);
        pk_buf_printf(b, "%s daddr %s ", l->sa_family == AF_INET ? "ip" : "ip6", a);
    }
    pk_buf_printf(b, "th dport %u ", sa_port(l));
}

static void put_nat(struct pk_buf *b, const struct pk_fw_rule *r, uint32_t mark, size_t index)
{
    const struct sockaddr *t = (const struct sockaddr *)&r->target.ss;
    pk_buf_printf(b, "ct mark set 0x%08x ct timeout set \"r%zu\" ", mark, index);
    if (kfw_place_of(t) == KFW_LOOPBACK) {
        pk_buf_printf(b, "redirect to :%u\n", sa_port(t));
        return;
    }
    char a[INET6_ADDRSTRLEN];
    inet_ntop(t->sa_family, sa_addr(t), a, sizeof a);
    if (t->sa_family == AF_INET)
        pk_buf_printf(b, "dnat ip to %s:%u\n", a, sa_port(t));
    else
        pk_buf_printf(b, "dnat ip6 to [%s]:%u\n", a, sa_port(t));
}

/* Conntrack forgets a closed TCP connection within a second (its END is
 * logged when it happens, not two minutes later), and an idle connection or
 * UDP session after the rule's idle timeout. An idle TCP connection is not
 * closed as the relay would: conntrack forgets it, and the next packet
 * either side sends meets a reset. */
static void put_timeout(struct pk_buf *b, const struct pk_fw_rule *r, size_t index)
{
    pk_buf_printf(b, "\tct timeout r%zu {\n\t\tprotocol %s\n\t\tl3proto %s\n", index,
                  PROTO_NAMES[r->proto], r->target.ss.ss_family == AF_INET ? "ip" : "ip6");
    /* 0, never: conntrack's own default (five days for TCP). */
    unsigned long long s = r->idle_timeout_ms ? (r->idle_timeout_ms + 999) / 1000 : 0;
    if (r->proto == PK_TCP && s)
        pk_buf_printf(b, "\t\tpolicy = { established : %llu, time_wait : 1, close : 1 }\n", s);
    else if (r->proto == PK_TCP)
        pk_buf_puts(b, "\t\tpolicy = { time_wait : 1, close : 1 }\n");
    else
        pk_buf_printf(b, "\t\tpolicy = { unreplied : %llu, replied : %llu }\n",
                      s ? s : 86400ull * 365, s ? s : 86400ull * 365);
    pk_buf_puts(b, "\t}\n");
}

bool kfw_needs_forwarding(const struct pk_fw_config *cfg, int family)
{
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        if (r->kernel && r->target.ss.ss_family == family &&
            kfw_place_of((const struct sockaddr *)&r->target.ss) == KFW_REMOTE)
            return true;
    }
    return false;
}

void kfw_notes(const struct pk_fw_config *cfg, void (*fn)(void *arg, const char *msg), void *arg)
{
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        if (!r->kernel)
            continue;
        char l[PK_FW_ADDRSTRLEN], msg[256];
        pk_fw_addr_format(&r->listen, l, sizeof l);
        const struct sockaddr *t = (const struct sockaddr *)&r->target.ss;
        bool v4 = t->sa_family == AF_INET;
        if (r->listen.any) {
            snprintf(msg, sizeof msg,
                     "%s %s: only IPv%d clients are redirected (NAT cannot translate between "
                     "IPv4 and IPv6)",
                     PROTO_NAMES[r->proto], l, v4 ? 4 : 6);
            fn(arg, msg);
        }
        if ((r->listen.any || sa_is_unspecified((const struct sockaddr *)&r->listen.ss)) &&
            kfw_place_of(t) == KFW_REMOTE) {
            snprintf(msg, sizeof msg,
                     "%s %s: connections from this host to %s are not redirected (a loopback "
                     "source cannot leave the host); use another address of this host",
                     PROTO_NAMES[r->proto], l, v4 ? "127.0.0.1" : "::1");
            fn(arg, msg);
        }
    }
}

void pk_fw_kernel_table_name(long pid, char *buf, size_t size)
{
    snprintf(buf, size, KFW_TABLE_PREFIX "%ld", pid);
}

int pk_fw_kernel_ruleset(const struct pk_fw_config *cfg, const char *table, uint16_t tag,
                         const char *comment, struct pk_buf *out, struct pk_err *err)
{
    for (const char *p = table; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return pk_err_set(err, PK_EINVAL, "table name '%s': only a-z, 0-9 and _", table);
    bool global_glob = kfw_acl_has_glob(pk_fw_config_acl_const(cfg));
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        const char *why = r->kernel ? pk_fw_kernel_unfit(r, NULL) : NULL;
        if (r->kernel && !why && global_glob)
            why = "the global allow/deny lists hold a glob pattern, which nft sets cannot";
        if (why) {
            char l[PK_FW_ADDRSTRLEN];
            pk_fw_addr_format(&r->listen, l, sizeof l);
            return pk_err_set(err, PK_EINVAL, "%s %s: %s", PROTO_NAMES[r->proto], l, why);
        }
        if (i >= 0xffff)
            return pk_err_set(err, PK_EINVAL, "more than 65534 rules for the kernel");
    }
    struct pk_buf sets = PK_BUF_INIT, filter[2] = {PK_BUF_INIT, PK_BUF_INIT}, admit = PK_BUF_INIT, pre = PK_BUF_INIT,
                  outp = PK_BUF_INIT, post = PK_BUF_INIT, gchain = PK_BUF_INIT;
    const struct pk_acl *global = pk_fw_config_acl_const(cfg);
    put_acl(&sets, &gchain, "global", global);
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        if (!r->kernel)
            continue;
        uint32_t mark = (uint32_t)tag << 16 | (uint32_t)(i + 1);
        put_timeout(&sets, r, i + 1);
        /* Admission runs on a connection's first packet only, before NAT:
         * established connections outlive a reload that would refuse them. */
        char prefix[32];
        snprintf(prefix, sizeof prefix, "r%zu", i + 1);
        struct pk_buf body = PK_BUF_INIT;
        put_acl(&sets, &body, prefix, r->acl);
        if (r->max_conns)
            pk_buf_printf(&body, "\t\tct count over %u counter name \"limited\" drop\n",
                          r->max_conns);
        if (gchain.len || body.len) {
            pk_buf_printf(&admit, "\tchain admit_r%zu {\n", i + 1);
            if (gchain.len)
                pk_buf_printf(&admit, "\t\tjump admit_global\n");
            pk_buf_printf(&admit, "%.*s\t}\n", (int)body.len, body.data ? body.data : "");
            for (int o = 0; o < 2; o++) {
                pk_buf_puts(&filter[o], "\t\t");
                put_match(&filter[o], r, o);
                pk_buf_printf(&filter[o], "ct state new jump admit_r%zu\n", i + 1);
            }
        }
        pk_buf_free(&body);
        pk_buf_puts(&pre, "\t\t");
        put_match(&pre, r, false);
        put_nat(&pre, r, mark, i + 1);
        pk_buf_puts(&outp, "\t\t");
        put_match(&outp, r, true);
        put_nat(&outp, r, mark, i + 1);
        if (kfw_place_of((const struct sockaddr *)&r->target.ss) == KFW_REMOTE && r->has_source) {
            /* rinetd's src=: the target sees this address, not the outgoing
             * interface's. */
            const struct sockaddr *src = (const struct sockaddr *)&r->source.ss;
            char a[INET6_ADDRSTRLEN];
            inet_ntop(src->sa_family, sa_addr(src), a, sizeof a);
            pk_buf_printf(&post, "\t\tct mark 0x%08x snat %s to %s\n", mark,
                          src->sa_family == AF_INET ? "ip" : "ip6", a);
        } else if (kfw_place_of((const struct sockaddr *)&r->target.ss) == KFW_REMOTE) {
            pk_buf_printf(&post, "\t\tct mark 0x%08x masquerade\n", mark);
        }
    }
    /* Declaring the table first makes the delete valid when it does not
     * exist yet; the three commands are one transaction. */
    pk_buf_printf(out, "table inet %s\ndelete table inet %s\ntable inet %s {\n", table, table,
                  table);
    if (comment && *comment)
        pk_buf_printf(out, "\tcomment \"%s\"\n", comment);
    /* Refused clients are dropped, not logged one by one: these count the
     * packets turned away (pk_fw_kernel_counters). */
    pk_buf_puts(out, "\tcounter denied {\n\t}\n\tcounter limited {\n\t}\n");
    if (sets.len)
        pk_buf_printf(out, "%.*s", (int)sets.len, sets.data);
    if (gchain.len)
        pk_buf_printf(out, "\tchain admit_global {\n%.*s\t}\n", (int)gchain.len, gchain.data);
    if (admit.len)
        pk_buf_printf(out, "%.*s", (int)admit.len, admit.data);
    /* Filter chains sort before NAT (dstnat - 10): refused clients never
     * get a NAT binding. */
    static const char *const hooks[] = {"prerouting", "output"};
    for (int o = 0; o < 2; o++) {
        if (!filter[o].len)
            continue;
        pk_buf_printf(out,
                      "\tchain admit_%s {\n\t\ttype filter hook %s priority -110; policy accept;\n"
                      "%.*s\t}\n",
                      hooks[o], hooks[o], (int)filter[o].len, filter[o].data ? filter[o].data : "");
        pk_buf_free(&filter[o]);
    }
    pk_buf_printf(out, "\tchain nat_prerouting {\n\t\ttype nat hook prerouting priority dstnat; "
                       "policy accept;\n%.*s\t}\n",
                  (int)pre.len, pre.data ? pre.data : "");
    pk_buf_printf(out, "\tchain nat_output {\n\t\ttype nat hook output priority -100; "
                       "policy accept;\n%.*s\t}\n",
                  (int)outp.len, outp.data ? outp.data : "");
    pk_buf_printf(out, "\tchain nat_postrouting {\n\t\ttype nat hook postrouting priority srcnat; "
                       "policy accept;\n%.*s\t}\n}\n",
                  (int)post.len, post.data ? post.data : "");
    pk_buf_free(&sets);
    pk_buf_free(&admit);
    pk_buf_free(&pre);
    pk_buf_free(&outp);
    pk_buf_free(&post);
    pk_buf_free(&gchain);
    return 0;
}
