/* Just enough of the DNS wire format (RFC 1035) for probes: build one
 * query, read one reply. Shared by the TCP (-sV) and UDP (-sU) probes. */
#ifndef PORTKIT_DNSMSG_H
#define PORTKIT_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PK_DNS_TXT = 16, PK_DNS_PTR = 12, PK_DNS_CLASS_IN = 1, PK_DNS_CLASS_CH = 3 };

/* Writes a query for (name, qtype, qclass) with the given id; rd sets the
 * recursion-desired bit. Returns its length, or 0 when cap is too small or
 * the name is not a valid DNS name. */
size_t dns_query(uint8_t *out, size_t cap, uint16_t id, const char *name, uint16_t qtype,
                    uint16_t qclass, bool rd);

struct dns_reply {
    uint16_t id;
    unsigned rcode;
    unsigned ancount;
    bool question_matches; /* the reply's first question equals the query's */
    char txt[96];          /* first TXT string of the first TXT answer, raw bytes, NUL-terminated */
    size_t txt_len;
    char ptr[128];         /* first PTR answer's target name, dotted */
};

/* Parses a reply m[0..n) to `query` (the bytes we sent, without any TCP
 * length prefix). Returns true when m is a response (QR set) with the
 * query's id; fills r. Every read is bounds-checked; compression pointers
 * are followed a bounded number of times. */
bool dns_parse_reply(const uint8_t *m, size_t n, const uint8_t *query, size_t qlen,
                        struct dns_reply *r);

struct pk_service_id;
/* Fills product/version (or extra) of out from a version.bind TXT string. */
void dns_product(const char *txt, size_t len, struct pk_service_id *out);

#endif
