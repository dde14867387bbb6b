/* What this host's firewall lets through. The live nftables ruleset
 * (plain nftables, iptables-nft, ufw, firewalld, Docker: all end up there)
 * is read once through libnftables; then each question "does a new
 * connection from outside reach this socket?" is a pure evaluation of
 * the chains the kernel walks: ingress and prerouting (with DNAT and
 * redirect), the routing decision, then every input base chain in
 * priority order across tables and families. */
#ifndef PORTKIT_FIREWALL_H
#define PORTKIT_FIREWALL_H

#include "portkit/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/error.h"
#include "portkit/registry.h"
#include "portkit/sockets.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A ruleset plus the view of the host it is judged against (interfaces,
 * their addresses, route_localnet). */
struct pk_firewall;

struct pk_firewall_options {
    /* NULL: the live ruleset through libnftables (needs CAP_NET_ADMIN).
     * Otherwise the JSON of `nft -j list ruleset` (libnftables-json(5));
     * rules built by iptables-nft then lack the details JSON leaves out
     * of their xt matches, unless ruleset_text holds `nft -a list ruleset`. */
    const char *ruleset_json;
    size_t ruleset_json_len;
    const char *ruleset_text;
    size_t ruleset_text_len;
    /* true: no interfaces or addresses read from this host; add them with
     * pk_firewall_add_iface (tests, fuzzing, a ruleset from another machine). */
    bool no_host;
};

/* Returns 0, PK_EINVAL (the JSON is not a ruleset), PK_ESYS/PK_EIO (cannot
 * read the ruleset: not root, no nf_tables), PK_ENOMEM. */
PK_EXPORT int pk_firewall_open(const struct pk_firewall_options *opt, struct pk_firewall **out, struct pk_err *err);
PK_EXPORT void pk_firewall_free(struct pk_firewall *fw);
PK_EXPORT size_t pk_firewall_rule_count(const struct pk_firewall *fw);
/* Something that makes verdicts less certain, in one line (legacy
 * iptables rules loaded beside nftables), or NULL. */
PK_EXPORT const char *pk_firewall_warning(const struct pk_firewall *fw);
/* Declares an interface of the host (after no_host): name, whether it is
 * loopback, and one address (family AF_INET/AF_INET6, network order); call
 * again for more addresses. Returns 0 or PK_ENOMEM/PK_EINVAL. */
PK_EXPORT int pk_firewall_add_iface(struct pk_firewall *fw, const char *name, bool loopback, int family,
                              const unsigned char *addr);

enum pk_firewall_verdict {
    PK_FIREWALL_REACHABLE,  /* a new connection from outside gets to the socket */
    PK_FIREWALL_BLOCKED,    /* dropped or rejected, or the kernel never delivers it */
    PK_FIREWALL_UNKNOWN,    /* a rule decides that no packet description can (rate limits, ...) */
    PK_FIREWALL_ELSEWHERE,  /* the packet is delivered, but NAT sends it to another socket or host */
};
PK_EXPORT const char *pk_firewall_verdict_name(enum pk_firewall_verdict v); /* "reachable", ... */

/* A new inbound connection's first packet. */
struct pk_firewall_packet {
    int family;                  /* AF_INET or AF_INET6 */
    enum pk_proto proto;         /* PK_TCP or PK_UDP */
    const char *iifname;         /* arriving interface */
    bool any_source;             /* an arbitrary outside address: matches no rule naming sources */
    unsigned char saddr[16];     /* otherwise this source ... */
    unsigned saddr_prefix;       /* ... or this whole prefix (32/128 = one address) */
    unsigned char daddr[16];
    uint16_t dport;
};

#define PK_FIREWALL_RULE_MAX 512
struct pk_firewall_result {
    enum pk_firewall_verdict verdict;
    /* The rule that decided, "ip filter/INPUT handle 7: tcp dport 22 drop",
     * or the chain policy ("inet filter/input policy drop") or the kernel's
     * reason ("kernel: ..."); for reachable, the last accepting rule or
     * policy. */
    char rule[PK_FIREWALL_RULE_MAX];
    /* DNAT/redirect applied in prerouting: where the packet really goes. */
    bool nat;
    unsigned char nat_daddr[16];
    uint16_t nat_dport;
    char nat_rule[PK_FIREWALL_RULE_MAX];
};

/* Evaluates one packet; the result says where it ends up. Pure: no system
 * call, safe to call from several threads on one pk_firewall. */
PK_EXPORT void pk_firewall_eval(const struct pk_firewall *fw, const struct pk_firewall_packet *pkt, struct pk_firewall_result *res);

/* --- audit: every listener of this host -------------------------------- */

struct pk_firewall_source {
    const char *iface;           /* NULL: every non-loopback interface */
    bool has_addr;               /* false: any outside source */
    int family;
    unsigned char addr[16];
    unsigned prefix;
};

/* One (listener, family, way in). A socket reached through DNAT/redirect
 * gets a finding of its own with via set: the outside address and port
 * that lead to it (a "virtual listener"). */
struct pk_firewall_finding {
    size_t sock_index;           /* into the socket list */
    int family;                  /* of the traffic judged (a dual-stack socket gets two) */
    enum pk_firewall_verdict verdict;
    char rule[PK_FIREWALL_RULE_MAX];
    char from[64];               /* interface (and source) judged: "eth0", "eth0 from 10.0.0.0/8" */
    bool via;
    unsigned char via_addr[16];  /* all zero: any local address */
    uint16_t via_port;
};

/* Judges every listening socket in l (TCP LISTEN, UDP bound) for traffic
 * from src (NULL: anything from outside, every non-loopback interface).
 * Fills *out with a malloc'd array (free()), sorted as l is. */
PK_EXPORT int pk_firewall_audit(const struct pk_firewall *fw, const struct pk_socklist *l, const struct pk_firewall_source *src,
                          struct pk_firewall_finding **out, size_t *n, struct pk_err *err);

/* Appends the finding as one JSON object (no newline): proto, family,
 * address, port, pid, process, service, verdict, rule, from, via. */
PK_EXPORT void pk_firewall_finding_json(const struct pk_firewall_finding *f, const struct pk_sock *s, const char *service,
                                  struct pk_buf *out);

#ifdef __cplusplus
}
#endif
#endif
