/* portkit info: what is this port, or where does this service live. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "portkit/buf.h"
#include "portkit/frequency.h"
#include "portkit/hostinfo.h"
#include "portkit/portinfo.h"
#include "portkit/query.h"
#include "portkit/registry.h"

void usage_info(FILE *out)
{
    fprintf(out,
            "Usage: portkit info [OPTIONS] QUERY...\n"
            "       portkit info --search WORD\n"
            "       portkit info -            read one query per line from stdin\n\n"
            "What a port is, or where a service lives: IANA's registry (every port and\n"
            "transport it lists), the range class, portkit's curated notes (alternate ports,\n"
            "de-facto uses, trojan/backdoor risk) and what this host's kernel says about it.\n\n"
            "QUERY is a port (80), port/proto (53/udp), a range (6000-6010, 6000-6010/tcp)\n"
            "or a service name or alias (ssh, https, postgresql, mongodb).\n\n"
            "Options:\n"
            "  -s, --search WORD   ports whose name, description or notes contain WORD\n"
            "  -t, --tcp           only TCP        -u, --udp   only UDP\n"
            "  -j, --json          JSON Lines: one object per (port, proto)\n"
            "      --registry FILE use this IANA CSV instead of the compiled-in table\n"
            "  -h, --help          this help\n\n"
            "Ranges: well-known 0-1023, registered 1024-49151, dynamic/private 49152-65535.\n"
            "Exit status: 0 answered, 1 no such service or no match, 2 bad query.\n");
}

struct info_ctx {
    const struct pk_registry *reg;
    struct pk_hostinfo host;
    bool json;
    unsigned proto_filter; /* from -t/-u; 0 = none */
    struct pk_buf out;
    FILE *stream;
    /* nmap-services frequencies: looked up one by one for the first few
     * answers, then loaded whole once a batch or range makes that cheaper. */
    struct pk_frequency *freq;
    unsigned freq_lookups;
    bool freq_missing;
};

#define FREQ_SINGLE_LOOKUPS 16

/* How often the port is seen open, or a negative number when unknown. */
static double frequency(struct info_ctx *c, unsigned port, enum pk_proto proto)
{
    if (c->freq_missing || (proto != PK_TCP && proto != PK_UDP))
        return -1.0;
    if (c->freq)
        return pk_frequency_get(c->freq, port, proto);
    double f = 0.0;
    int rc;
    if (++c->freq_lookups <= FREQ_SINGLE_LOOKUPS) {
        rc = pk_frequency_lookup(NULL, port, proto, &f, NULL);
    } else {
        rc = pk_frequency_load(NULL, &c->freq, NULL);
        if (rc == 0)
            f = pk_frequency_get(c->freq, port, proto);
    }
    if (rc < 0) {
        c->freq_missing = true; /* nmap not installed: say nothing about it */
        return -1.0;
    }
    return f;
}

static void flush_out(struct info_ctx *c, bool force)
{
    if (c->out.len && (force || c->out.len > 1 << 16)) {
        cli_write(c->stream, c->out.data, c->out.len);
        pk_buf_reset(&c->out);
    }
}

/* Writes one '\n'-separated text as indented continuation lines. */
static void put_lines(struct pk_buf *b, const char *label, const char *text, const char *on,
                      const char *off)
{
    bool first = true;
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        pk_buf_printf(b, "  %-9s %s%.*s%s\n", first ? label : "", on, (int)n, text, off);
        first = false;
        text += n + (nl ? 1 : 0);
    }
}

static void render_text(struct info_ctx *c, const struct pk_portinfo *pi, double freq)
{
    struct pk_buf *b = &c->out;
    FILE *s = c->stream;
    const char *bold = cli_sgr(s, CLI_BOLD), *reset = cli_sgr(s, CLI_RESET);
    const char *red = cli_sgr(s, CLI_RED), *dim = cli_sgr(s, CLI_DIM), *cyan = cli_sgr(s, CLI_CYAN);
    char head[32];
    snprintf(head, sizeof head, "%u/%s", pi->port, pk_proto_name(pi->proto));
    const char *name = pi->name ? pi->name : pi->reserved ? "(reserved)" : "(unassigned)";
    const char *desc = pi->description[0] ? pi->description : "";
    pk_buf_printf(b, "%s%-11s %s%s%s", bold, head, cyan, name, reset);
    if (desc[0] && strcasecmp(desc, name) != 0)
        pk_buf_printf(b, "  %s", desc);
    if (!pi->official && pi->has_note)
        pk_buf_printf(b, "  %s[de-facto use; %s by IANA]%s", dim, pi->reserved ? "reserved" : "unassigned", reset);
    pk_buf_putc(b, '\n');
    static const char *const span[] = {"0-1023", "1024-49151", "49152-65535"};
    pk_buf_printf(b, "  %-9s %s (%s)\n", "range", pk_range_name(pi->range), span[pi->range]);

    /* aliases: other IANA names for the same (port, proto), listed once each */
    struct pk_buf aliases = PK_BUF_INIT;
    const char *unauth = "", *anotes = "";
    for (size_t i = pi->first; i < pi->first + pi->count; i++) {
        struct pk_service sv;
        pk_registry_get(c->reg, i, &sv);
        if (!unauth[0])
            unauth = sv.unauthorized_use;
        if (!anotes[0])
            anotes = sv.assignment_notes;
        if (!sv.name[0] || (pi->name && strcasecmp(sv.name, pi->name) == 0))
            continue;
        bool dup = false;
        for (size_t k = pi->first; k < i && !dup; k++) {
            struct pk_service t;
            pk_registry_get(c->reg, k, &t);
            dup = strcasecmp(t.name, sv.name) == 0;
        }
        if (!dup)
            pk_buf_printf(&aliases, "%s%s", aliases.len ? ", " : "", sv.name);
    }
    if (pi->has_note && pi->note.official && pi->name && strcasecmp(pi->note.name, pi->name) != 0)
        pk_buf_printf(&aliases, "%s%s", aliases.len ? ", " : "", pi->note.name);
    if (aliases.len)
        pk_buf_printf(b, "  %-9s %s\n", "aliases", aliases.data);
    if (pi->has_note && !pi->note.official && pi->official && strcasecmp(pi->note.name, pi->name) != 0)
        pk_buf_printf(b, "  %-9s %s (de-facto, not what IANA assigned)\n", "known as", pi->note.name);
    pk_buf_free(&aliases);

    if (pi->has_note) {
        put_lines(b, "notes", pi->note.text, "", "");
        if (pi->note.nalt) {
            pk_buf_printf(b, "  %-9s ", "alt ports");
            for (size_t i = 0; i < pi->note.nalt; i++)
                pk_buf_printf(b, "%s%u", i ? ", " : "", pi->note.alt[i]);
            pk_buf_putc(b, '\n');
        }
        if (pi->note.risk[0])
            put_lines(b, "RISK", pi->note.risk, red, reset);
    }
    if (unauth[0])
        put_lines(b, "iana-use", unauth, "", "");
    if (anotes[0])
        put_lines(b, "iana-note", anotes, dim, reset);
    if (freq > 0.0)
        pk_buf_printf(b, "  %-9s open on %.3g%% of hosts nmap scanned (nmap-services)\n", "seen", freq * 100);
    pk_buf_printf(b, "  %-9s %s; %s\n", "this host",
                  pi->privileged ? "binding needs privilege" : "any user may bind it",
                  pi->ephemeral ? "INSIDE the ephemeral range (the kernel may hand it to clients)"
                                : "outside the ephemeral range");
    pk_buf_putc(b, '\n');
}

static void render(struct info_ctx *c, unsigned port, enum pk_proto proto)
{
    struct pk_portinfo pi;
    pk_portinfo_get(c->reg, &c->host, port, proto, &pi);
    double freq = frequency(c, port, proto);
    if (c->json) {
        pk_portinfo_json(c->reg, &pi, &c->out);
        /* splice one more member into the object portinfo wrote */
        c->out.len--;
        if (freq >= 0.0)
            pk_buf_printf(&c->out, ",\"frequency\":%.6f}\n", freq);
        else
            pk_buf_puts(&c->out, ",\"frequency\":null}\n");
    } else {
        render_text(c, &pi, freq);
    }
    flush_out(c, false);
}

/* Transports to show for a port: the asked ones, else tcp and udp plus any
 * other transport IANA lists for that very port. */
static unsigned protos_for(struct info_ctx *c, unsigned port, unsigned asked, bool single)
{
    if (asked)
        return asked;
    unsigned mask = PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP);
    if (single) {
        size_t first, n = pk_registry_port(c->reg, port, &first);
        for (size_t i = first; i < first + n; i++) {
            struct pk_service s;
            pk_registry_get(c->reg, i, &s);
            mask |= PK_PROTO_MASK(s.proto);
        }
    }
    return mask;
}

/* Answers one parsed query. Returns CLI_OK or CLI_NOTFOUND. */
static int answer(struct info_ctx *c, const struct pk_query *q, bool quiet_notfound)
{
    unsigned asked = q->proto_mask ? q->proto_mask : c->proto_filter;
    if (q->kind == PK_QUERY_PORTS) {
        for (unsigned p = q->lo; p <= q->hi; p++) {
            unsigned mask = protos_for(c, p, asked, q->lo == q->hi);
            for (unsigned t = 0; t < PK_PROTO_COUNT; t++)
                if (mask & PK_PROTO_MASK(t))
                    render(c, p, (enum pk_proto)t);
        }
        return CLI_OK;
    }
    struct pk_port_proto found[256];
    size_t n = pk_registry_find_name(c->reg, q->name, found, 256);
    size_t shown = 0;
    for (size_t i = 0; i < n && i < 256; i++) {
        if (asked && !(asked & PK_PROTO_MASK(found[i].proto)))
            continue;
        render(c, found[i].port, found[i].proto);
        shown++;
    }
    if (!shown) {
        flush_out(c, true);
        if (!quiet_notfound)
            cli_message("info", "no service named '%s'%s (try: portkit info --search %s)", q->name,
                        asked ? " on that transport" : "", q->name);
        return CLI_NOTFOUND;
    }
    return CLI_OK;
}

static int run_search(struct info_ctx *c, const char *word)
{
    if (!word[0])
        return cli_usage_error("info", "--search needs a non-empty word");
    size_t cap = 1 << 16;
    struct pk_port_proto *found = malloc(cap * sizeof *found);
    if (!found)
        return CLI_FAIL;
    size_t n = pk_registry_search(c->reg, word, found, cap);
    if (n > cap)
        n = cap;
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->proto_filter && !(c->proto_filter & PK_PROTO_MASK(found[i].proto)))
            continue;
        shown++;
        if (c->json) {
            render(c, found[i].port, found[i].proto);
            continue;
        }
        struct pk_portinfo pi;
        pk_portinfo_get(c->reg, &c->host, found[i].port, found[i].proto, &pi);
        char head[32];
        snprintf(head, sizeof head, "%u/%s", pi.port, pk_proto_name(pi.proto));
        pk_buf_printf(&c->out, "%-11s %-20s %s%s\n", head, pi.name ? pi.name : "-", pi.description,
                      pi.has_note && pi.note.risk[0] ? "  [RISK]" : "");
        flush_out(c, false);
    }
    free(found);
    flush_out(c, true);
    if (!shown) {
        cli_message("info", "nothing matches '%s'", word);
        return CLI_NOTFOUND;
    }
    return CLI_OK;
}

#define BATCH_LINE_MAX 4096

/* One line of stdin into buf (at most BATCH_LINE_MAX bytes, the rest of a
 * longer line skipped), so memory stays bounded whatever comes in. Returns
 * the length without the newline, or -1 at the end. */
static long read_line(char *buf, bool *too_long, bool *nul)
{
    size_t n = 0;
    int ch;
    *too_long = *nul = false;
    while ((ch = getc_unlocked(stdin)) != EOF && ch != '\n') {
        if (ch == '\0') {
            *nul = true;
            return (long)n;
        }
        if (n < BATCH_LINE_MAX)
            buf[n++] = (char)ch;
        else
            *too_long = true;
    }
    if (ch == EOF && n == 0 && !*too_long)
        return -1;
    return (long)n;
}

static int run_batch(struct info_ctx *c)
{
    static char line[BATCH_LINE_MAX + 1];
    long len;
    size_t lineno = 0;
    bool too_long, nul;
    int rc = CLI_OK;
    while ((len = read_line(line, &too_long, &nul)) >= 0) {
        lineno++;
        if (ferror(c->stream))
            break; /* nobody reads the answers any more: main reports it */
        struct pk_query q;
        struct pk_err err = {0};
        size_t n = (size_t)len;
        if (nul || too_long) {
            flush_out(c, true);
            if (nul)
                return cli_usage_error("info", "stdin line %zu holds a NUL byte: binary input, stopped",
                                       lineno);
            cli_usage_error("info", "stdin line %zu is longer than %d bytes", lineno, BATCH_LINE_MAX);
            rc = CLI_USAGE;
            continue;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        if (pk_query_parse(line, n, &q, &err) < 0) {
            flush_out(c, true);
            fflush(c->stream);
            cli_usage_error("info", "stdin line %zu: %s", lineno, err.msg);
            rc = CLI_USAGE;
            continue;
        }
        int r = answer(c, &q, false);
        if (r != CLI_OK && rc == CLI_OK)
            rc = r;
    }
    return rc;
}

int cmd_info(int argc, char **argv)
{
    static const struct option opts[] = {
        {"search", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"tcp", no_argument, NULL, 't'},
        {"udp", no_argument, NULL, 'u'},
        {"registry", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct info_ctx c = {.stream = stdout};
    const char *search = NULL;
    int opt;
    /* '-' alone is the stdin query, not an option; "+" keeps negative-looking
     * queries like -1 from being read as options only after the first query. */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":s:jtuh", opts, NULL)) != -1) {
        switch (opt) {
        case 's': search = optarg; break;
        case 'j': c.json = true; break;
        case 't': c.proto_filter |= PK_PROTO_MASK(PK_TCP); break;
        case 'u': c.proto_filter |= PK_PROTO_MASK(PK_UDP); break;
        case 'R': cli_registry_path = optarg; break;
        case 'h': usage_info(stdout); return CLI_OK;
        default: return cli_option_error("info", argv, opt);
        }
    }
    if (!search && optind >= argc)
        return cli_usage_error("info", "what port or service? e.g. portkit info 80 (see --help)");
    if (search && optind < argc)
        return cli_usage_error("info", "give either --search WORD or queries, not both");

    /* Check every query before printing anything: bad input never yields a
     * half answer. */
    int nq = argc - optind;
    bool batch = nq == 1 && strcmp(argv[optind], "-") == 0;
    struct pk_query *queries = calloc((size_t)(nq > 0 ? nq : 1), sizeof *queries);
    if (!queries)
        return CLI_FAIL;
    for (int i = 0; !batch && i < nq; i++) {
        struct pk_err err = {0};
        if (pk_query_parse(argv[optind + i], strlen(argv[optind + i]), &queries[i], &err) < 0) {
            free(queries);
            return cli_usage_error("info", "%s", err.msg);
        }
    }
    c.reg = cli_registry("info");
    if (!c.reg) {
        free(queries);
        return CLI_USAGE;
    }
    pk_hostinfo_read(&c.host, NULL);

    int rc = CLI_OK;
    if (search)
        rc = run_search(&c, search);
    else if (batch)
        rc = run_batch(&c);
    else
        for (int i = 0; i < nq; i++) {
            int r = answer(&c, &queries[i], false);
            if (r != CLI_OK)
                rc = r;
        }
    flush_out(&c, true);
    free(queries);
    pk_buf_free(&c.out);
    pk_frequency_free(c.freq);
    return rc;
}
