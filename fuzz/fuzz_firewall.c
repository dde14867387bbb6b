/* The ruleset reader on arbitrary input: libnftables JSON, optionally
 * followed by "\n#TEXT\n" and nft's text listing (the part iptables-nft's
 * xt matches are read from). Whatever is accepted must evaluate: packets
 * of both families and transports, and an audit of a few listeners. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "portkit/firewall.h"

#include "fuzz_fw_packets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add_sock(struct pk_socklist *l, enum pk_proto proto, int family, const char *addr, unsigned port)
{
    struct pk_sock s;
    memset(&s, 0, sizeof s);
    s.proto = proto;
    s.family = family;
    s.state = proto == PK_TCP ? PK_SS_LISTEN : PK_SS_CLOSE;
    s.local_port = (uint16_t)port;
    s.pid = -1;
    inet_pton(family, addr, s.local);
    pk_socklist_add(l, &s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n#TEXT\n";
    const char *text = NULL;
    size_t json_len = size, text_len = 0;
    const uint8_t *cut = size >= sizeof sep - 1 ? memmem(data, size, sep, sizeof sep - 1) : NULL;
    if (cut) {
        json_len = (size_t)(cut - data);
        text = (const char *)cut + sizeof sep - 1;
        text_len = size - json_len - (sizeof sep - 1);
    }
    struct pk_firewall_options opt = {.ruleset_json = (const char *)data, .ruleset_json_len = json_len,
                                      .ruleset_text = text, .ruleset_text_len = text_len, .no_host = true};
    struct pk_firewall *fw;
    struct pk_err err;
    if (pk_firewall_open(&opt, &fw, &err) < 0) {
        if (err.msg[0] == '\0')
            __builtin_trap(); /* every error names what was wrong */
        return 0;
    }
    fuzz_fw_eval_packets(fw);
    struct pk_socklist *l = pk_socklist_new();
    if (l) {
        add_sock(l, PK_TCP, AF_INET, "0.0.0.0", 22);
        add_sock(l, PK_TCP, AF_INET, "127.0.0.1", 8080);
        add_sock(l, PK_UDP, AF_INET6, "::", 53);
        struct pk_firewall_finding *f = NULL;
        size_t n = 0;
        if (pk_firewall_audit(fw, l, NULL, &f, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++)
                if (f[i].sock_index >= 3)
                    __builtin_trap();
            free(f);
        }
        pk_socklist_free(l);
    }
    pk_firewall_free(fw);
    return 0;
}
