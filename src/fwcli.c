/* Firewall helpers shared by audit, why and ls. */
#include "fwcli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "portkit/addr.h"

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
    struct pk_cidr c;
    struct pk_err err = {0};
    if (pk_cidr_parse(arg, strlen(arg), &c, &err) < 0)
        return cli_usage_error(verb, "--from: %s", err.msg);
    memset(src->addr, 0, sizeof src->addr);
    src->family = c.family;
    memcpy(src->addr, c.addr, c.family == AF_INET ? 4 : 16);
    src->prefix = c.prefix;
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
