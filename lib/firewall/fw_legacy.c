/* Legacy iptables (x_tables): rules nftables cannot show. A table only
 * matters when it holds rules or a builtin chain on the way in drops by
 * policy; the kernel says both through the same getsockopt calls
 * iptables-legacy uses, per address family, so IPv6 verdicts stay known
 * when only IPv4 has legacy rules (and the reverse). */
/* the C library's in.h first: the kernel's headers then skip their copy */
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firewall/fw_impl.h"
#include "util/quote.h"

/* The IPv4 and IPv6 structures share their layout up to the entries; only
 * the entry's header size differs. */
struct legacy_family {
    const char *names_file;
    int domain, level, opt_info, opt_entries;
    size_t entry_target_off_field; /* offsetof(entry, target_offset) */
};

static bool drops_by_policy(int fd, const struct legacy_family *lf, const struct ipt_getinfo *info)
{
    struct ipt_get_entries *ge = calloc(1, sizeof *ge + info->size);
    if (!ge)
        return true; /* cannot tell: treat as affecting */
    memcpy(ge->name, info->name, sizeof ge->name);
    ge->size = info->size;
    socklen_t len = (socklen_t)(sizeof *ge + info->size);
    bool drop = true;
    if (getsockopt(fd, lf->level, lf->opt_entries, ge, &len) == 0) {
        drop = false;
        const unsigned hooks[] = {NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN};
        for (size_t i = 0; i < 2 && !drop; i++) {
            if (!(info->valid_hooks & (1u << hooks[i])))
                continue;
            unsigned off = info->underflow[hooks[i]];
            const unsigned char *e = (const unsigned char *)ge->entrytable + off;
            uint16_t toff;
            if (off + lf->entry_target_off_field + sizeof toff > info->size) {
                drop = true;
                break;
            }
            memcpy(&toff, e + lf->entry_target_off_field, sizeof toff);
            struct xt_standard_target st;
            if (off + toff + sizeof st > info->size) {
                drop = true;
                break;
            }
            memcpy(&st, e + toff, sizeof st);
            /* a policy is a standard target: -verdict - 1 */
            drop = st.verdict != -NF_ACCEPT - 1;
        }
    }
    free(ge);
    return drop;
}

/* 1 when a legacy table of this family can change a verdict, with its name. */
static int family_affected(const struct legacy_family *lf, char *table, size_t size)
{
    FILE *f = fopen(lf->names_file, "re");
    if (!f)
        return 0;
    int fd = socket(lf->domain, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
    char name[XT_TABLE_MAXNAMELEN + 2];
    int affected = 0;
    while (!affected && fgets(name, sizeof name, f)) {
        name[strcspn(name, "\n")] = '\0';
        struct ipt_getinfo info;
        memset(&info, 0, sizeof info);
        if (strlen(name) >= sizeof info.name)
            continue;
        memcpy(info.name, name, strlen(name) + 1);
        socklen_t len = sizeof info;
        if (fd < 0 || getsockopt(fd, lf->level, lf->opt_info, &info, &len) != 0) {
            affected = 1; /* a table we cannot inspect may hold anything */
        } else {
            unsigned builtin = (unsigned)__builtin_popcount(info.valid_hooks);
            /* every builtin chain's policy plus the closing entry: more is a rule */
            affected = info.num_entries > builtin + 1 || drops_by_policy(fd, lf, &info);
        }
        if (affected)
            snprintf(table, size, "%s", name);
    }
    if (fd >= 0)
        close(fd);
    fclose(f);
    return affected;
}

void fw_check_legacy(struct pk_firewall *fw)
{
    static const struct legacy_family fams[2] = {
        {"/proc/net/ip_tables_names", AF_INET, IPPROTO_IP, IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES,
         offsetof(struct ipt_entry, target_offset)},
        {"/proc/net/ip6_tables_names", AF_INET6, IPPROTO_IPV6, IP6T_SO_GET_INFO, IP6T_SO_GET_ENTRIES,
         offsetof(struct ip6t_entry, target_offset)},
    };
    char table[XT_TABLE_MAXNAMELEN + 2] = "";
    size_t n = 0;
    for (size_t i = 0; i < 2; i++) {
        char t[sizeof table] = "";
        if (family_affected(&fams[i], t, sizeof t)) {
            fw->legacy[i] = true;
            if (!n++)
                memcpy(table, t, sizeof table);
        }
    }
    if (!n)
        return;
    const char *fam = fw->legacy[0] && fw->legacy[1] ? "IPv4 and IPv6" : fw->legacy[0] ? "IPv4" : "IPv6";
    snprintf(fw->warning, sizeof fw->warning,
             "legacy iptables rules are loaded (%s table '%s'): portkit cannot read them, so %s verdicts "
             "are unknown",
             fw->legacy[0] ? "iptables" : "ip6tables", QUOTE_STR(table), fam);
    fw->has_warning = true;
}
