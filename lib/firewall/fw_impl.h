/* The firewall module's compiled ruleset. The readers (fw_nl.c from the
 * kernel, fw_read.c from libnftables' JSON) build these records once; the
 * evaluator (fw_eval.c)
 * walks them for each packet without allocating. Every packet field and
 * every constant is a big-endian byte string, so equality, ranges and
 * prefixes are all memcmp. */
#ifndef PORTKIT_FW_IMPL_H
#define PORTKIT_FW_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/firewall.h"

#define FW_VAL_MAX 16     /* IPv6 address, interface name */
#define FW_CONCAT_MAX 4

/* What a match looks at. Types decide how constants are parsed. */
enum fw_key {
    FK_NONE,
    FK_L4PROTO,     /* meta l4proto, ip protocol, ip6 nexthdr */
    FK_NFPROTO,
    FK_IIFNAME,     /* iif and iifname: both compared by name */
    FK_IIFTYPE,
    FK_OIFNAME,     /* no output interface at input: never equal */
    FK_MARK,        /* meta mark */
    FK_PKTTYPE,
    FK_CT_STATE,
    FK_CT_STATUS,
    FK_CT_DIRECTION,
    FK_CT_MARK,
    FK_SADDR,
    FK_DADDR,
    FK_SPORT,
    FK_DPORT,
    FK_TCP_FLAGS,
    FK_FIB_DADDR_TYPE,
    FK_FIB_SADDR_TYPE,
    FK_FIB_RPF,     /* fib saddr . iif oif: the route back exists */
    FK_COUNT
};

/* Which packets a key exists in: a tcp payload match never matches UDP,
 * even negated, because nft adds that dependency to the rule. */
enum fw_need { FN_ANY, FN_IP4, FN_IP6, FN_TCP, FN_UDP, FN_TCPUDP };

struct fw_val {
    uint8_t len;
    uint8_t b[FW_VAL_MAX];
};

struct fw_field {
    enum fw_key key;
    enum fw_need need;
    int type;              /* enum fw_type (fw_value.h) */
    uint8_t len;
    bool masked;
    uint8_t mask[FW_VAL_MAX]; /* left & mask (tcp flags & (syn|ack)) */
};

/* One set element: a range per concatenated field, plus the verdict of a
 * verdict map. */
enum fw_vkind { FV_NONE, FV_ACCEPT, FV_DROP, FV_REJECT, FV_JUMP, FV_GOTO, FV_RETURN, FV_CONTINUE,
                FV_QUEUE };
struct fw_verdict {
    enum fw_vkind kind;
    int chain; /* FV_JUMP/FV_GOTO: index in fw->chains; -1 unresolved */
};

struct fw_elem {
    struct fw_val lo[FW_CONCAT_MAX], hi[FW_CONCAT_MAX];
    struct fw_verdict verdict;
};

struct fw_set {
    char *name;
    int family;
    char *table;
    uint8_t nfields;
    uint8_t flen[FW_CONCAT_MAX];
    int ftype[FW_CONCAT_MAX]; /* fw_type of each field, for parsing elements */
    bool is_vmap;
    struct fw_elem *elems;
    size_t n, cap;
    bool sorted;              /* single field, disjoint: binary search */
    bool broken;              /* an element could not be read: matches on it are undecided */
    uint8_t nl_conv[FW_CONCAT_MAX]; /* read from the kernel: how each field's bytes become a fw_val */
};

enum fw_op { FO_EQ, FO_NE, FO_LT, FO_GT, FO_LE, FO_GE, FO_IN };

enum fw_skind {
    FS_MATCH,      /* fields op set */
    FS_UNDECIDED,  /* a match no packet description decides (limit, quota, socket ...) */
    FS_VERDICT,
    FS_VMAP,       /* fields → verdict map */
    FS_NAT,        /* dnat/redirect: destination rewritten (prerouting) */
    FS_MARK_SET,   /* meta mark set N */
    FS_CTMARK_SET,
    FS_UNSUPPORTED_VERDICT, /* a target we cannot follow (xt target, queue ...) */
};

struct fw_stmt {
    enum fw_skind kind;
    enum fw_op op;
    uint8_t nfields;
    bool flags_any;        /* bitmask key compared as "any of these bits" */
    struct fw_field f[FW_CONCAT_MAX];
    struct fw_set *set;    /* FS_MATCH, FS_VMAP: named (shared) or anonymous (owned) */
    bool set_owned;
    struct fw_verdict verdict;
    /* FS_NAT */
    bool redirect;
    bool has_addr;
    int nat_family;
    uint8_t nat_addr[16];
    uint16_t nat_port;
    uint32_t mark;
    const char *why;       /* FS_UNDECIDED / FS_UNSUPPORTED_VERDICT: what it is */
};

struct fw_gate {
    uint16_t lo, hi;
    uint8_t need; /* enum fw_need */
};

struct fw_rule {
    uint64_t handle;
    int chain;
    struct fw_stmt *stmts;
    uint16_t nstmts;
    bool has_effect;       /* a verdict, NAT or mark: matters when an undecided match is in front */
    /* A cheap pre-check: when the rule can only match destination ports
     * in [gate.lo, gate.hi] of transport gate.need, other packets skip it
     * without evaluating anything (most rules of a big ruleset); an
     * ungated rule's gate is every port of any transport. */
    struct fw_gate gate;
    char *text;            /* nft's own text of the rule (when read live), else NULL */
};

enum fw_hook { FH_NONE, FH_INGRESS, FH_PREROUTING, FH_INPUT, FH_FORWARD, FH_OUTPUT, FH_POSTROUTING };

struct fw_chain {
    char *name;
    char *table;
    int family;            /* FW_FAM_* */
    enum fw_hook hook;
    bool is_nat;
    int prio;
    enum fw_vkind policy;
    char **devs;           /* netdev ingress: the devices */
    size_t ndevs;
    size_t first_rule, nrules; /* into fw->rules */
};

enum { FW_FAM_IP, FW_FAM_IP6, FW_FAM_INET, FW_FAM_NETDEV, FW_FAM_BRIDGE, FW_FAM_ARP, FW_FAM_OTHER };

struct fw_iface {
    char name[16];
    bool loopback;
    bool route_localnet;
    uint8_t addr4[8][4];
    size_t n4;
    uint8_t addr6[8][16];
    size_t n6;
};

struct pk_firewall {
    struct fw_chain *chains;
    size_t nchains, cap_chains;
    struct fw_rule *rules;
    size_t nrules, cap_rules;
    struct fw_set **sets;  /* named sets and maps */
    size_t nsets, cap_sets;
    /* base chains of each hook we walk, sorted by priority */
    int *hook_chains[FH_POSTROUTING + 1];
    struct fw_gate *gates; /* per rule: see fw_index */
    size_t nhook[FH_POSTROUTING + 1];
    struct fw_iface *ifaces;
    size_t nifaces;
    bool route_localnet_all;
    char warning[256];
    bool has_warning;
    bool legacy[2];        /* legacy iptables can change IPv4 [0] / IPv6 [1] verdicts */
};

/* fw_read.c */
int fw_parse(struct pk_firewall *fw, const char *json, size_t len, const char *text, size_t text_len,
             struct pk_err *err);
void fw_free_rules(struct pk_firewall *fw);
/* After the rules are read: hook order and port gates. 0 or PK_ENOMEM. */
int fw_index(struct pk_firewall *fw);
void fw_clear_rules(struct pk_firewall *fw); /* after fw_free_rules: empty again */
const char *fw_family_name(int fam);

/* fw_expr.c: one rule's JSON statements into fw_stmt records */
int fw_compile_rule(struct pk_firewall *fw, struct fw_rule *r, const void *json_expr_array, const char *text,
                    struct pk_err *err);
void fw_stmt_release(struct fw_stmt *s);
/* has_effect and the dport gate, from the compiled statements */
void fw_rule_finish(struct fw_rule *r);
void fw_set_free(struct fw_set *s);
struct fw_set *fw_find_set(const struct pk_firewall *fw, int family, const char *table, const char *name);
int fw_set_add_json(struct fw_set *s, const void *json_elem, struct pk_firewall *fw);
void fw_set_finish(struct fw_set *s);
int fw_type_from_name(const char *name, uint8_t *len);
int fw_find_chain(const struct pk_firewall *fw, int family, const char *table, const char *name);

/* fw_legacy.c: which families legacy iptables tables can affect */
void fw_check_legacy(struct pk_firewall *fw);

/* fw_host.c */
int fw_read_host(struct pk_firewall *fw, struct pk_err *err);
const struct fw_iface *fw_iface_find(const struct pk_firewall *fw, const char *name);
bool fw_addr_is_local(const struct pk_firewall *fw, int family, const uint8_t *addr);

/* fw_text.c */
void fw_rule_describe(const struct pk_firewall *fw, const struct fw_rule *r, char *out, size_t size);
/* nft-like text of a rule from its JSON statements (malloc'd, NULL on OOM) */
char *fw_render_rule(const void *json_expr_array);
struct pk_buf;
void fw_put_value(struct pk_buf *b, const struct fw_field *f, const struct fw_val *lo, const struct fw_val *hi);
void fw_policy_describe(const struct pk_firewall *fw, const struct fw_chain *c, char *out, size_t size);

#endif
