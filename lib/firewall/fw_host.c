/* The host a ruleset is judged on: its interfaces, their addresses, and
 * whether 127.0.0.0/8 may arrive from outside (route_localnet). */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firewall/fw_impl.h"

static bool read_flag(const char *ifname)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/route_localnet", ifname);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    int v = 0;
    bool ok = fscanf(f, "%d", &v) == 1;
    fclose(f);
    return ok && v == 1;
}

static struct fw_iface *iface_get(struct pk_firewall *fw, const char *name, bool loopback)
{
    for (size_t i = 0; i < fw->nifaces; i++)
        if (strcmp(fw->ifaces[i].name, name) == 0)
            return &fw->ifaces[i];
    struct fw_iface *p = realloc(fw->ifaces, (fw->nifaces + 1) * sizeof *p);
    if (!p)
        return NULL;
    fw->ifaces = p;
    struct fw_iface *ifc = &fw->ifaces[fw->nifaces++];
    memset(ifc, 0, sizeof *ifc);
    snprintf(ifc->name, sizeof ifc->name, "%s", name);
    ifc->loopback = loopback;
    return ifc;
}

PK_EXPORT int pk_firewall_add_iface(struct pk_firewall *fw, const char *name, bool loopback, int family,
                              const unsigned char *addr)
{
    if (!fw || !name || !*name || strlen(name) >= 16)
        return PK_EINVAL;
    struct fw_iface *ifc = iface_get(fw, name, loopback);
    if (!ifc)
        return PK_ENOMEM;
    if (family == AF_INET && addr && ifc->n4 < 8)
        memcpy(ifc->addr4[ifc->n4++], addr, 4);
    else if (family == AF_INET6 && addr && ifc->n6 < 8)
        memcpy(ifc->addr6[ifc->n6++], addr, 16);
    return 0;
}

int fw_read_host(struct pk_firewall *fw, struct pk_err *err)
{
    struct ifaddrs *ifa;
    if (getifaddrs(&ifa) < 0)
        return pk_err_sys(err, "cannot list network interfaces");
    int rc = 0;
    for (struct ifaddrs *i = ifa; i && rc == 0; i = i->ifa_next) {
        if (!i->ifa_name || !(i->ifa_flags & IFF_UP) || strlen(i->ifa_name) >= 16)
            continue;
        int fam = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;
        const unsigned char *a = NULL;
        if (fam == AF_INET)
            a = (const unsigned char *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr;
        else if (fam == AF_INET6)
            a = (const unsigned char *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
        rc = pk_firewall_add_iface(fw, i->ifa_name, (i->ifa_flags & IFF_LOOPBACK) != 0, a ? fam : AF_UNSPEC, a);
    }
    freeifaddrs(ifa);
    if (rc < 0)
        return pk_err_set(err, rc, "out of memory");
    fw->route_localnet_all = read_flag("all");
    for (size_t i = 0; i < fw->nifaces; i++)
        fw->ifaces[i].route_localnet = read_flag(fw->ifaces[i].name);
    return 0;
}

const struct fw_iface *fw_iface_find(const struct pk_firewall *fw, const char *name)
{
    for (size_t i = 0; name && i < fw->nifaces; i++)
        if (strcmp(fw->ifaces[i].name, name) == 0)
            return &fw->ifaces[i];
    return NULL;
}

bool fw_addr_is_local(const struct pk_firewall *fw, int family, const uint8_t *addr)
{
    if (family == AF_INET && addr[0] == 127)
        return true;
    static const uint8_t lo6[16] = {[15] = 1};
    if (family == AF_INET6 && memcmp(addr, lo6, 16) == 0)
        return true;
    for (size_t i = 0; i < fw->nifaces; i++) {
        const struct fw_iface *f = &fw->ifaces[i];
        if (family == AF_INET) {
            for (size_t k = 0; k < f->n4; k++)
                if (memcmp(f->addr4[k], addr, 4) == 0)
                    return true;
        } else {
            for (size_t k = 0; k < f->n6; k++)
                if (memcmp(f->addr6[k], addr, 16) == 0)
                    return true;
        }
    }
    return false;
}
