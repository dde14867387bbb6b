/* Firewall helpers shared by audit, why and ls. */
#include "fwcli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        if (cap >= (size_t)1 << 30) { /* a ruleset is never this big */
            free(buf);
            buf = NULL;
            errno = EFBIG;
            break;
        }
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return buf;
}

int fwcli_open(const char *verb, const char *path, struct pk_firewall **fw, bool *readable, char *why,
               size_t why_size)
{
    struct pk_err err = {0};
    struct pk_firewall_options opt = {0};
    *readable = false;
    why[0] = '\0';
    if (path) {
        size_t len = 0;
        char *json = slurp(path, &len);
        if (!json) {
            fflush(stdout);
            fprintf(stderr, "portkit: %s: cannot read '%s': %s\n", verb, path, strerror(errno));
            return CLI_FAIL;
        }
        opt.ruleset_json = json;
        opt.ruleset_json_len = len;
        int rc = pk_firewall_open(&opt, fw, &err);
        free(json);
        if (rc < 0) {
            fflush(stdout);
            fprintf(stderr, "portkit: %s: %s: %s\n", verb, path, err.msg);
            return cli_exit_for(rc);
        }
        *readable = true;
        return 0;
    }
    if (pk_firewall_open(NULL, fw, &err) == 0) {
        *readable = true;
        return 0;
    }
    snprintf(why, why_size, "%s", err.msg);
    static const char empty[] = "{\"nftables\": []}";
    opt.ruleset_json = empty;
    opt.ruleset_json_len = sizeof empty - 1;
    if (pk_firewall_open(&opt, fw, &err) < 0)
        return cli_lib_error(verb, &err);
    return 0;
}

int fwcli_parse_from(const char *verb, const char *arg, struct pk_firewall_source *src)
{
    char addr[64];
    const char *slash = strchr(arg, '/');
    size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
    if (n == 0 || n >= sizeof addr)
        return cli_usage_error(verb, "--from: '%.64s' is not an address or prefix", arg);
    memcpy(addr, arg, n);
    addr[n] = '\0';
    memset(src->addr, 0, sizeof src->addr);
    if (inet_pton(AF_INET, addr, src->addr) == 1)
        src->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, src->addr) == 1)
        src->family = AF_INET6;
    else
        return cli_usage_error(verb, "--from: '%.64s' is not an IPv4 or IPv6 address", addr);
    unsigned max = src->family == AF_INET ? 32 : 128;
    src->prefix = max;
    if (slash) {
        char *end;
        unsigned long p = strtoul(slash + 1, &end, 10);
        if (!slash[1] || *end || p > max)
            return cli_usage_error(verb, "--from: prefix '%.16s' must be 0-%u", slash + 1, max);
        src->prefix = (unsigned)p;
    }
    src->has_addr = true;
    return 0;
}

void fwcli_downgrade(struct pk_firewall_finding *f, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].verdict != PK_FIREWALL_REACHABLE)
            continue;
        f[i].verdict = PK_FIREWALL_UNKNOWN;
        snprintf(f[i].rule, sizeof f[i].rule, "ruleset not read (%.200s); bound to a non-loopback address", why);
    }
}

unsigned char *fwcli_exposed(const struct pk_firewall_finding *f, size_t n, size_t nsock)
{
    unsigned char *e = calloc(nsock ? nsock : 1, 1);
    if (!e)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (f[i].verdict == PK_FIREWALL_REACHABLE && f[i].sock_index < nsock)
            e[f[i].sock_index] = 1;
    return e;
}
