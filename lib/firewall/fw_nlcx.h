/* The netlink reader's per-rule state, shared by its two halves:
 * fw_nlload.c (loads into registers) and fw_nlexpr.c (tests, statements). */
#ifndef PORTKIT_FW_NLCX_H
#define PORTKIT_FW_NLCX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portkit/buf.h"

#include "firewall/fw_impl.h"

struct nftnl_expr;

#define NREG 16 /* 4-byte registers */

enum reg_kind { R_NONE, R_FIELD, R_CONST, R_UNKNOWN };

struct reg {
    enum reg_kind kind;
    struct fw_field f;
    uint8_t width;       /* bytes the register holds (an ifindex: 4, its name: 16) */
    bool host_order;
    bool ifindex;        /* meta iif/oif: an index, compared by name */
    bool ethertype;      /* meta protocol: compared as nfproto */
    bool rpf;            /* fib saddr . iif oif: only zero / non-zero matters */
    bool prefixed;       /* an address under a prefix mask (or loaded in part) */
    uint8_t pmask[FW_VAL_MAX];
    const char *name;
    uint8_t data[FW_VAL_MAX];
    uint8_t data_len;
};

struct cx {
    struct pk_firewall *fw;
    struct fw_rule *r;
    const struct fw_chain *c;
    struct reg regs[NREG];
    int l3;                    /* AF_INET / AF_INET6 once known */
    unsigned l4;               /* 6 / 17 once a dependency said so */
    size_t dep_start, dep_end; /* text of the last protocol dependency */
    bool dep;
    int ge_stmt;               /* a ">= lo" match a "<= hi" may close into a range */
    size_t ge_start;
    struct pk_buf text;
    size_t cap;
    int rc;
};

static inline int reg_index(uint32_t reg)
{
    if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
        return (int)(reg - NFT_REG_1) * 4;
    if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15)
        return (int)(reg - NFT_REG32_00);
    return -1;
}

static inline struct reg *reg_at(struct cx *x, uint32_t reg)
{
    int i = reg_index(reg);
    return i < 0 ? NULL : &x->regs[i];
}

void fw_nl_say(struct cx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fw_nlload.c */
void fw_nl_load_payload(struct cx *x, const struct nftnl_expr *e);
void fw_nl_load_meta(struct cx *x, uint32_t key, uint32_t dreg);
void fw_nl_load_ct(struct cx *x, const struct nftnl_expr *e);
void fw_nl_load_fib(struct cx *x, const struct nftnl_expr *e);
void fw_nl_load_unknown(struct cx *x, uint32_t dreg);
void fw_nl_bitwise(struct cx *x, const struct nftnl_expr *e);
/* a protocol match just said, whose text a following load may take back */
void fw_nl_note_dependency(struct cx *x, size_t start);

#endif
