/* Constants and sets of the compiled ruleset (fw_value.c). */
#ifndef PORTKIT_FW_VALUE_H
#define PORTKIT_FW_VALUE_H

#include <jansson.h>

#include "firewall/fw_impl.h"

enum fw_type {
    FT_UNKNOWN, FT_INT, FT_ADDR4, FT_ADDR6, FT_PORT, FT_PROTO, FT_IFNAME, FT_CTSTATE, FT_CTSTATUS,
    FT_CTDIR, FT_FIBTYPE, FT_PKTTYPE, FT_NFPROTO, FT_TCPFLAGS, FT_IFTYPE, FT_BOOL,
};

enum { FW_COVER_NONE, FW_COVER_SOME, FW_COVER_ALL };

bool fw_type_is_flags(enum fw_type t);
void fw_val_uint(struct fw_val *v, uint8_t len, uint64_t x);
uint64_t fw_val_to_uint(const struct fw_val *v);
int fw_sym_lookup(enum fw_type t, const char *s, uint64_t *out);
int fw_sym_format(enum fw_type t, uint64_t v, char *out, size_t size);
int fw_parse_value(json_t *j, enum fw_type t, uint8_t len, struct fw_val *lo, struct fw_val *hi);
/* Appends one element (a range per field; v: a verdict map's, or NULL). */
int fw_set_add(struct fw_set *s, const struct fw_val *lo, const struct fw_val *hi, const struct fw_verdict *v);
const struct fw_elem *fw_set_lookup(const struct fw_set *s, const struct fw_val *key, uint8_t nfields);
int fw_set_cover(const struct fw_set *s, const struct fw_val *lo, const struct fw_val *hi);

#endif
