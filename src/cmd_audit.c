/* portkit audit: which listeners the firewall lets outside traffic reach,
 * and which rule decides; with --expect/--policy, only what breaks the
 * policy. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fwcli.h"
#include "portkit/addr.h"
#include "portkit/buf.h"
#include "portkit/firewall.h"
#include "portkit/registry.h"
#include "portkit/sockets.h"
#include "sockrow.h"

void usage_audit(FILE *out)
{
    fprintf(out,
            "Usage: portkit audit [OPTIONS]\n"
            "For every listening TCP socket and bound UDP socket of this host: does a new\n"
            "connection from outside reach it, and which firewall rule decides? The live\n"
            "nftables ruleset (nftables, iptables-nft, ufw, firewalld, Docker) is walked as\n"
            "the kernel walks it: prerouting with DNAT/redirect (a redirected port is shown\n"
            "as a virtual listener VIA the outside port), routing, then every input chain.\n\n"
            "Options:\n"
            "      --from ADDR[/PREFIX]\n"
            "                       traffic from this source (default: any outside source)\n"
            "      --iface NAME     traffic arriving on this interface (default: every\n"
            "                       non-loopback interface)\n"
            "  -t, --tcp            TCP only           -u, --udp   UDP only\n"
            "  -4, --ipv4           IPv4 traffic only  -6, --ipv6  IPv6 traffic only\n"
            "      --expect LIST    policy: ports allowed to be reachable (22/tcp,443/tcp)\n"
            "      --policy FILE    policy: one allowed PORT[-PORT][/PROTO] a line, maybe\n"
            "                       followed by 'iface NAME' and/or 'from ADDR[/PREFIX]'\n"
            "      --ruleset FILE   judge this ruleset (JSON of nft -j list ruleset) instead\n"
            "                       of the live one\n"
            "  -n, --numeric        no service names\n"
            "  -j, --json           JSON Lines, one object per listener and address family\n"
            "  -H, --no-header      no column titles\n"
            "  -h, --help           this help\n\n"
            "Verdicts: reachable, blocked (by the named rule, chain policy or the kernel),\n"
            "unknown (a rule no packet description decides: rate limits, quotas ...).\n"
            "Reading the ruleset needs root; without it, verdicts come from bind addresses\n"
            "only (loopback: blocked, anything else: unknown).\n"
            "Exit status: 0 listed (policy: no violation), 1 policy violated, 2 bad input,\n"
            "3 cannot read the ruleset (policy mode) or system failure.\n");
}

/* ---- policy --------------------------------------------------------------- */

struct allow {
    unsigned lo, hi;
    int proto;           /* -1 both */
    char iface[16];      /* "" any */
    bool has_from;
    struct pk_firewall_source from;
};

struct policy {
    struct allow *v;
    size_t n, cap;
    bool on;
};

static int parse_allow(const char *verb, const char *tok, struct allow *a)
{
    memset(a, 0, sizeof *a);
    a->proto = -1;
    char *end;
    unsigned long lo = strtoul(tok, &end, 10), hi = lo;
    if (end == tok)
        return cli_usage_error(verb, "policy: '%.64s' is not PORT[-PORT][/PROTO]", tok);
    if (*end == '-') {
        const char *h = end + 1;
        hi = strtoul(h, &end, 10);
        if (end == h)
            return cli_usage_error(verb, "policy: '%.64s' is not PORT[-PORT][/PROTO]", tok);
    }
    if (lo == 0 || hi > 65535 || lo > hi)
        return cli_usage_error(verb, "policy: ports in '%.64s' must be 1-65535, low to high", tok);
    if (*end == '/') {
        enum pk_proto p;
        if (pk_proto_parse(end + 1, strlen(end + 1), &p) < 0 || (p != PK_TCP && p != PK_UDP))
            return cli_usage_error(verb, "policy: '%.64s': protocol must be tcp or udp", tok);
        a->proto = p;
    } else if (*end) {
        return cli_usage_error(verb, "policy: '%.64s' is not PORT[-PORT][/PROTO]", tok);
    }
    a->lo = (unsigned)lo;
    a->hi = (unsigned)hi;
    return 0;
}

static int policy_add(struct policy *p, const struct allow *a)
{
    if (PK_ARRAY_RESERVE(p->v, p->cap, p->n + 1, 16))
        return CLI_FAIL;
    p->v[p->n++] = *a;
    p->on = true;
    return 0;
}

static int parse_expect(const char *arg, struct policy *p)
{
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return CLI_FAIL;
    int rc = 0;
    p->on = true;
    for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
        struct allow a;
        rc = parse_allow("audit", t, &a);
        if (rc == 0)
            rc = policy_add(p, &a);
    }
    free(copy);
    return rc;
}

static int parse_policy_file(const char *path, struct policy *p)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "portkit: audit: cannot read policy '%s': %s\n", path, strerror(errno));
        return CLI_USAGE;
    }
    p->on = true;
    char line[512];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *save = NULL, *t = strtok_r(line, " \t\r\n", &save);
        if (!t)
            continue;
        struct allow a;
        if ((rc = parse_allow("audit", t, &a)) != 0)
            break;
        while (rc == 0 && (t = strtok_r(NULL, " \t\r\n", &save))) {
            char *v = strtok_r(NULL, " \t\r\n", &save);
            if (!v) {
                rc = cli_usage_error("audit", "policy line %u: '%.32s' needs a value", lineno, t);
            } else if (strcmp(t, "iface") == 0) {
                if (strlen(v) >= sizeof a.iface)
                    rc = cli_usage_error("audit", "policy line %u: interface name too long", lineno);
                else
                    snprintf(a.iface, sizeof a.iface, "%s", v);
            } else if (strcmp(t, "from") == 0) {
                rc = fwcli_parse_from("audit", v, &a.from);
                a.has_from = rc == 0;
            } else {
                rc = cli_usage_error("audit", "policy line %u: expected 'iface' or 'from', got '%.32s'", lineno, t);
            }
        }
        if (rc == 0)
            rc = policy_add(p, &a);
    }
    fclose(f);
    return rc;
}

static bool prefix_within(const struct pk_firewall_source *inner, const struct pk_firewall_source *outer)
{
    if (inner->family != outer->family || inner->prefix < outer->prefix)
        return false;
    struct pk_cidr block = {.family = outer->family, .prefix = outer->prefix};
    struct pk_addr a = {.family = inner->family};
    memcpy(block.addr, outer->addr, 16);
    memcpy(a.bytes, inner->addr, 16);
    return pk_cidr_contains(&block, &a);
}

static bool allowed(const struct policy *p, const struct pk_firewall_finding *f, const struct pk_sock *s,
                    const struct pk_firewall_source *src)
{
    unsigned port = f->via ? f->via_port : s->local_port;
    size_t iflen = strcspn(f->from, " ");
    for (size_t i = 0; i < p->n; i++) {
        const struct allow *a = &p->v[i];
        if (port < a->lo || port > a->hi || (a->proto >= 0 && a->proto != (int)s->proto))
            continue;
        if (a->iface[0] && (strlen(a->iface) != iflen || strncmp(a->iface, f->from, iflen) != 0))
            continue;
        if (a->has_from && !(src && src->has_addr && prefix_within(src, &a->from)))
            continue;
        return true;
    }
    return false;
}

/* ---- output ----------------------------------------------------------------- */

static void render_table(struct sockrow_ctx *c, const struct pk_socklist *l, const struct pk_firewall_finding *f,
                         const bool *show, size_t n, bool header)
{
    /* column widths first: the rule column is last and free-width */
    enum { PROTO, FAM, LOCAL, VIA, PID, PROC, SERVICE, VERDICT, FROM, NC };
    static const char *const titles[NC] = {"PROTO", "FAMILY", "LOCAL", "VIA", "PID", "PROCESS", "SERVICE",
                                           "VERDICT", "FROM"};
    size_t w[NC];
    for (int k = 0; k < NC; k++)
        w[k] = strlen(titles[k]);
    char cell[NC][PK_ENDPOINT_MAX + 8];
    bool any_via = false;
    for (int pass = 0; pass < 2; pass++) {
        struct pk_buf o = PK_BUF_INIT;
        if (pass == 1 && header) {
            for (int k = 0; k < NC; k++)
                if (k != VIA || any_via)
                    pk_buf_printf(&o, "%-*s ", (int)w[k], titles[k]);
            pk_buf_puts(&o, "RULE\n");
        }
        for (size_t i = 0; i < n; i++) {
            if (!show[i])
                continue;
            const struct pk_sock *s = pk_socklist_get(l, f[i].sock_index);
            struct pk_sock_notes notes;
            pk_sock_annotate(c->reg, &c->host, s, &notes);
            snprintf(cell[PROTO], sizeof cell[PROTO], "%s", pk_proto_name(s->proto));
            snprintf(cell[FAM], sizeof cell[FAM], "%s", f[i].family == AF_INET ? "ipv4" : "ipv6");
            sockrow_local(c, s, cell[LOCAL], sizeof cell[LOCAL]);
            if (f[i].via) {
                pk_sock_endpoint_str(f[i].family, f[i].via_addr, f[i].via_port, NULL, cell[VIA], sizeof cell[VIA]);
                any_via = true;
            } else {
                snprintf(cell[VIA], sizeof cell[VIA], "-");
            }
            if (s->pid > 0)
                snprintf(cell[PID], sizeof cell[PID], "%d", s->pid);
            else
                snprintf(cell[PID], sizeof cell[PID], "-");
            snprintf(cell[PROC], sizeof cell[PROC], "%.40s", s->process ? s->process : "-");
            for (char *p = cell[PROC]; *p; p++)
                if (*p == ' ' || *p == '\t')
                    *p = '_';
            snprintf(cell[SERVICE], sizeof cell[SERVICE], "%.40s",
                     !c->numeric && notes.service ? notes.service : "-");
            snprintf(cell[VERDICT], sizeof cell[VERDICT], "%s", pk_firewall_verdict_name(f[i].verdict));
            snprintf(cell[FROM], sizeof cell[FROM], "%.60s", f[i].from);
            for (char *p = cell[FROM]; *p; p++)
                if (*p == ' ')
                    *p = '_';
            for (int k = 0; k < NC; k++) {
                size_t len = strlen(cell[k]);
                if (pass == 0 && len > w[k])
                    w[k] = len;
                if (pass == 1 && (k != VIA || any_via)) {
                    const char *sgr = NULL;
                    if (k == VERDICT)
                        sgr = f[i].verdict == PK_FIREWALL_REACHABLE ? CLI_YELLOW
                            : f[i].verdict == PK_FIREWALL_BLOCKED ? CLI_GREEN : CLI_RED;
                    if (sgr && c->color)
                        pk_buf_printf(&o, "\033[%sm%s\033[0m%*s ", sgr, cell[k], (int)(w[k] - len), "");
                    else
                        pk_buf_printf(&o, "%-*s ", (int)w[k], cell[k]);
                }
            }
            if (pass == 1)
                pk_buf_printf(&o, "%s\n", f[i].rule);
        }
        if (pass == 1)
            fwrite(o.data ? o.data : "", 1, o.len, c->stream);
        pk_buf_free(&o);
    }
}

static void render_json(struct sockrow_ctx *c, const struct pk_socklist *l, const struct pk_firewall_finding *f,
                        const bool *show, size_t n)
{
    struct pk_buf o = PK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (!show[i])
            continue;
        const struct pk_sock *s = pk_socklist_get(l, f[i].sock_index);
        struct pk_sock_notes notes;
        pk_sock_annotate(c->reg, &c->host, s, &notes);
        pk_firewall_finding_json(&f[i], s, c->numeric ? NULL : notes.service, &o);
        pk_buf_putc(&o, '\n');
    }
    fwrite(o.data ? o.data : "", 1, o.len, c->stream);
    pk_buf_free(&o);
}

int cmd_audit(int argc, char **argv)
{
    enum { OPT_FROM = 256, OPT_IFACE, OPT_EXPECT, OPT_POLICY, OPT_RULESET };
    static const struct option opts[] = {
        {"from", required_argument, NULL, OPT_FROM},   {"iface", required_argument, NULL, OPT_IFACE},
        {"tcp", no_argument, NULL, 't'},               {"udp", no_argument, NULL, 'u'},
        {"ipv4", no_argument, NULL, '4'},              {"ipv6", no_argument, NULL, '6'},
        {"expect", required_argument, NULL, OPT_EXPECT}, {"policy", required_argument, NULL, OPT_POLICY},
        {"ruleset", required_argument, NULL, OPT_RULESET}, {"numeric", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},              {"no-header", no_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},              {0, 0, 0, 0},
    };
    struct pk_firewall_source src = {0};
    struct policy pol = {0};
    const char *ruleset = NULL;
    bool json = false, numeric = false, header = true;
    unsigned protos = 0, families = 0;
    int opt, rc = 0;
    opterr = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, ":tu46njHh", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_FROM: rc = fwcli_parse_from("audit", optarg, &src); break;
        case OPT_IFACE:
            if (!*optarg || strlen(optarg) >= 16)
                rc = cli_usage_error("audit", "--iface: '%.32s' is not an interface name", optarg);
            src.iface = optarg;
            break;
        case 't': protos |= PK_PROTO_MASK(PK_TCP); break;
        case 'u': protos |= PK_PROTO_MASK(PK_UDP); break;
        case '4': families |= PK_FAMILY_V4; break;
        case '6': families |= PK_FAMILY_V6; break;
        case OPT_EXPECT: rc = parse_expect(optarg, &pol); break;
        case OPT_POLICY: rc = parse_policy_file(optarg, &pol); break;
        case OPT_RULESET: ruleset = optarg; break;
        case 'n': numeric = true; break;
        case 'j': json = true; break;
        case 'H': header = false; break;
        case 'h': usage_audit(stdout); free(pol.v); return CLI_OK;
        default: rc = cli_option_error("audit", argv, opt); break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = cli_usage_error("audit", "unexpected argument '%.64s'", argv[optind]);
    const struct pk_registry *reg = rc == 0 ? cli_registry("audit") : NULL;
    if (rc == 0 && !reg)
        rc = CLI_USAGE;
    if (rc) {
        free(pol.v);
        return rc;
    }
    if (!families)
        families = PK_FAMILY_V4 | PK_FAMILY_V6;

    struct pk_firewall *fw = NULL;
    bool readable;
    char why[PK_ERR_MSG_MAX];
    if ((rc = fwcli_open("audit", ruleset, &fw, &readable, why, sizeof why)) != 0) {
        free(pol.v);
        return rc;
    }
    if (!readable) {
        fflush(stdout);
        fprintf(stderr, "portkit: audit: %s; %s\n", why,
                pol.on ? "cannot check the policy" : "verdicts come from bind addresses only");
        if (pol.on) {
            pk_firewall_free(fw);
            free(pol.v);
            return CLI_FAIL;
        }
    } else if (pk_firewall_warning(fw)) {
        fprintf(stderr, "portkit: audit: %s\n", pk_firewall_warning(fw));
    }

    struct pk_err err = {0};
    struct pk_sock_query q = {.processes = true, .states = PK_SS_LISTENING, .protos = protos};
    struct pk_socklist *l = NULL;
    struct pk_firewall_finding *f = NULL;
    size_t n = 0;
    if (pk_sockets_list(&q, &l, &err) < 0 || (pk_socklist_sort(l), 0) ||
        pk_firewall_audit(fw, l, src.has_addr || src.iface ? &src : NULL, &f, &n, &err) < 0) {
        rc = cli_lib_error("audit", &err);
        goto out;
    }
    if (!readable)
        fwcli_downgrade(f, n, why);
    bool *show = calloc(n ? n : 1, sizeof *show);
    if (!show) {
        rc = CLI_FAIL;
        goto out;
    }
    size_t violations = 0, unknown = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pk_sock *s = pk_socklist_get(l, f[i].sock_index);
        bool fam = families & (f[i].family == AF_INET ? PK_FAMILY_V4 : PK_FAMILY_V6);
        show[i] = fam;
        if (fam && pol.on) {
            bool ok = allowed(&pol, &f[i], s, &src);
            show[i] = !ok && f[i].verdict != PK_FIREWALL_BLOCKED;
            violations += !ok && f[i].verdict == PK_FIREWALL_REACHABLE;
            unknown += !ok && f[i].verdict == PK_FIREWALL_UNKNOWN;
        }
    }
    struct sockrow_ctx c;
    sockrow_init(&c, stdout, reg);
    c.numeric = numeric;
    if (json)
        render_json(&c, l, f, show, n);
    else
        render_table(&c, l, f, show, n, header && !(pol.on && violations + unknown == 0));
    if (c.tty && !json && !pol.on) {
        size_t count[4] = {0};
        for (size_t i = 0; i < n; i++)
            if (show[i])
                count[f[i].verdict]++;
        printf("\n%s%zu reachable%s, %zu blocked, %zu unknown (listener, family and way in)\n",
               cli_sgr(stdout, CLI_BOLD), count[PK_FIREWALL_REACHABLE], cli_sgr(stdout, CLI_RESET),
               count[PK_FIREWALL_BLOCKED] + count[PK_FIREWALL_ELSEWHERE], count[PK_FIREWALL_UNKNOWN]);
    }
    if (pol.on) {
        if (unknown)
            fprintf(stderr, "portkit: audit: %zu listener%s outside the policy with an unknown verdict\n",
                    unknown, unknown == 1 ? "" : "s");
        rc = violations ? CLI_NOTFOUND : CLI_OK;
    }
    free(show);
out:
    free(f);
    pk_socklist_free(l);
    pk_firewall_free(fw);
    free(pol.v);
    return rc;
}
