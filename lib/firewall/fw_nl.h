/* Reading the live ruleset straight from the kernel over netlink
 * (libnftnl), without libnftables' listing: for a big ruleset that listing
 * (every rule turned back into nft's high-level syntax, printed as JSON,
 * parsed again) costs several times the whole audit's budget. The
 * kernel's form is a small register machine (load a field, compare it, look
 * it up in a set, give a verdict), which compiles into the same fw_stmt
 * records the JSON reader makes. */
#ifndef PORTKIT_FW_NL_H
#define PORTKIT_FW_NL_H

#include <stddef.h>
#include <stdint.h>

#include "firewall/fw_impl.h"

struct nftnl_rule;
struct nftnl_set;

/* Returned by fw_nl_read when the ruleset holds iptables-nft's xt
 * matches or targets: their arguments are binary structs of x_tables, which
 * the libnftables path reads from nft's text instead. */
#define FW_NL_FALLBACK 1

/* fw_set.nl_conv: a field as the kernel stores it, a host-order number,
 * or an interface index standing for its name. */
enum { FW_NL_AS_IS, FW_NL_HOST_ORDER, FW_NL_IFINDEX };

/* Fills fw's chains, sets and rules from the kernel: 0, FW_NL_FALLBACK, or a
 * negative PK_E* code with err filled. On anything but 0 the caller frees
 * what was filled (fw_free_rules) before trying another reader. */
int fw_nl_read(struct pk_firewall *fw, struct pk_err *err);

/* One rule's expressions into r->stmts and r->text (fw_nlexpr.c). The
 * chain index and handle are set. 0, FW_NL_FALLBACK or PK_ENOMEM. */
int fw_nl_compile_rule(struct pk_firewall *fw, struct fw_rule *r, struct nftnl_rule *nr);

/* nfields, flen, ftype and broken of s from the kernel's key datatype(s)
 * and key length. */
void fw_nl_set_shape(struct fw_set *s, uint32_t key_type, uint32_t key_len);

/* The elements of a set as the kernel gave them (in ns) into s, whose
 * nl_conv, nfields and flen are set (fw_nl_set_shape): 0 or PK_ENOMEM. */
int fw_nl_fill_set(struct pk_firewall *fw, struct fw_set *s, struct nftnl_set *ns);

/* Byte order of values of nft datatype `type` (host order for marks,
 * conntrack states, fib types, interface indexes ...), and their length,
 * for set elements; 0 when unknown. */
uint8_t fw_nl_type_len(uint32_t type, int *fw_type, bool *host_order, bool *ifindex);

/* Values in a host-order register to the big-endian strings of fw_val. */
void fw_nl_host_to_be(uint8_t *b, size_t len);

/* An interface index as the name fw_val compares (16 bytes, NUL padded). */
void fw_nl_ifindex_name(uint32_t index, uint8_t out[16]);

#endif
