#include "portkit/hostinfo.h"

#include <stdio.h>
#include <unistd.h>

static int read_uints(const char *path, unsigned *a, unsigned *b)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int n = b ? fscanf(f, "%u %u", a, b) : fscanf(f, "%u", a);
    fclose(f);
    return n == (b ? 2 : 1) ? 0 : -1;
}

int pk_hostinfo_read_from(struct pk_hostinfo *hi, const char *range_path, const char *unpriv_path,
                          struct pk_err *err)
{
    (void)err;
    hi->ephemeral_lo = 32768;
    hi->ephemeral_hi = 60999;
    hi->unprivileged_start = 1024;
    hi->known = true;
    unsigned lo, hi_port, start;
    if (read_uints(range_path ? range_path : "/proc/sys/net/ipv4/ip_local_port_range", &lo,
                   &hi_port) == 0 && lo <= hi_port && hi_port <= 65535) {
        hi->ephemeral_lo = lo;
        hi->ephemeral_hi = hi_port;
    } else {
        hi->known = false;
    }
    if (read_uints(unpriv_path ? unpriv_path : "/proc/sys/net/ipv4/ip_unprivileged_port_start",
                   &start, NULL) == 0 && start <= 65536) {
        hi->unprivileged_start = start;
    } else {
        hi->known = false;
    }
    return 0;
}

int pk_hostinfo_read(struct pk_hostinfo *hi, struct pk_err *err)
{
    return pk_hostinfo_read_from(hi, NULL, NULL, err);
}

bool pk_hostinfo_is_ephemeral(const struct pk_hostinfo *hi, unsigned port)
{
    return port >= hi->ephemeral_lo && port <= hi->ephemeral_hi;
}

bool pk_hostinfo_is_privileged(const struct pk_hostinfo *hi, unsigned port)
{
    return port < hi->unprivileged_start;
}

bool pk_have_capability(unsigned cap)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return geteuid() == 0;
    char line[256];
    unsigned long long eff = 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "CapEff: %llx", &eff) == 1;
    fclose(f);
    if (!found)
        return geteuid() == 0;
    return cap < 64 && ((eff >> cap) & 1);
}
