/* What both firewall fuzz targets ask of a ruleset that was accepted:
 * every packet of a few ports, both families and transports, evaluates to a
 * known verdict with a terminated explanation. */
#ifndef PORTKIT_FUZZ_FW_PACKETS_H
#define PORTKIT_FUZZ_FW_PACKETS_H

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "portkit/firewall.h"

static inline void fuzz_fw_eval_packets(struct pk_firewall *fw)
{
    unsigned char a4[4] = {192, 0, 2, 2}, a6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2}, lo4[4] = {127, 0, 0, 1};
    pk_firewall_add_iface(fw, "eth0", false, AF_INET, a4);
    pk_firewall_add_iface(fw, "eth0", false, AF_INET6, a6);
    pk_firewall_add_iface(fw, "lo", true, AF_INET, lo4);
    static const unsigned ports[] = {22, 80, 443, 8080, 53};
    for (size_t i = 0; i < sizeof ports / sizeof *ports; i++) {
        for (int fam = 0; fam < 2; fam++) {
            struct pk_firewall_packet p = {.family = fam ? AF_INET6 : AF_INET, .proto = i % 2 ? PK_UDP : PK_TCP,
                                           .iifname = "eth0", .any_source = i % 3 == 0, .saddr_prefix = 24,
                                           .dport = (uint16_t)ports[i]};
            memcpy(p.daddr, fam ? a6 : a4, fam ? 16 : 4);
            p.saddr[0] = 10;
            struct pk_firewall_result r;
            pk_firewall_eval(fw, &p, &r);
            if (r.verdict > PK_FIREWALL_ELSEWHERE || memchr(r.rule, '\0', sizeof r.rule) == NULL)
                __builtin_trap();
        }
    }
}

#endif
