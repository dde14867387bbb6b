/* portkit info: what is this port, or where does this service live. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "info.h"
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
            "or a service name or alias (ssh, https, postgresql, mongodb, 远程桌面).\n\n"
            "Options:\n"
            "  -s, --search WORD   ports whose names, aliases, description or notes contain\n"
            "                      WORD (case, accents and full-width forms folded: vo lam\n"
            "                      finds Võ Lâm; Chinese and Vietnamese notes are searched)\n"
            "  -t, --tcp           only TCP        -u, --udp   only UDP\n"
            "  -j, --json          JSON Lines: one object per (port, proto)\n"
            "  -a, --all           every port of a wide range (a terminal shows the ports\n"
            "                      with a name or note and counts the rest)\n"
            "      --lang LANG     notes and labels in en, vi or zh (default: from\n"
            "                      LC_ALL/LC_MESSAGES/LANG; English where untranslated)\n"
            "      --registry FILE use this IANA CSV instead of the compiled-in table\n"
            "  -h, --help          this help\n\n"
            "Ranges: well-known 0-1023, registered 1024-49151, dynamic/private 49152-65535.\n"
            "Exit status: 0 answered, 1 no such service or no match, 2 bad query.\n");
}

#define FREQ_SINGLE_LOOKUPS 16

/* How often the port is seen open, or a negative number when unknown. */
static double frequency(struct info_ctx *c, unsigned port, enum pk_proto proto)
{
    if (c->freq_missing || (proto != PK_TCP && proto != PK_UDP))
        return -1.0;
    if (c->freq)
        return pk_frequency_get(c->freq, port, proto);
    double f = -1.0;
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
        info_render_text(c, &pi, freq);
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

/* Whether a port of a wide range is worth a block of its own: IANA names
 * it or a note of its own covers it (a range note alone is said once). */
static bool port_stands_out(struct info_ctx *c, unsigned port, unsigned mask)
{
    for (unsigned t = 0; t < PK_PROTO_COUNT; t++) {
        if (!(mask & PK_PROTO_MASK(t)))
            continue;
        struct pk_note n;
        if (pk_registry_name(c->reg, port, (enum pk_proto)t) || pk_registry_note(c->reg, port, (enum pk_proto)t, &n))
            return true;
        if (pk_registry_range_note(c->reg, port, (enum pk_proto)t, &n) && n.range_lo == port)
            return true;
    }
    return false;
}

static int answer_ports(struct info_ctx *c, const struct pk_query *q, unsigned asked)
{
    /* On a terminal, a range longer than the screen shows the ports that
     * have something to say and counts the rest (--all shows them). */
    unsigned nports = q->hi - q->lo + 1;
    bool trim = !c->json && !c->all && c->rows && q->lo != q->hi && nports * 8 > c->rows;
    unsigned skipped = 0;
    if (trim)
        pk_buf_printf(&c->out, "%u ports, one line each (--all for every port's full entry):\n", nports);
    for (unsigned p = q->lo; p <= q->hi; p++) {
        unsigned mask = protos_for(c, p, asked, q->lo == q->hi);
        if (trim && !port_stands_out(c, p, mask)) {
            skipped++;
            continue;
        }
        for (unsigned t = 0; t < PK_PROTO_COUNT; t++) {
            if (!(mask & PK_PROTO_MASK(t)))
                continue;
            if (!trim) {
                render(c, p, (enum pk_proto)t);
                continue;
            }
            struct pk_portinfo pi;
            pk_portinfo_get(c->reg, &c->host, p, (enum pk_proto)t, &pi);
            if (pi.has_range && pi.range_note.range_lo == p) {
                char text[600];
                pk_note_render(pk_note_text(&pi.range_note, c->lang), p, p, text, sizeof text);
                pk_buf_printf(&c->out, "%u-%u/%s %s: %.*s\n", pi.range_note.range_lo, pi.range_note.range_hi,
                              pk_proto_name(pi.proto), pi.range_note.name, (int)strcspn(text, "\n"), text);
            }
            info_render_brief(c, &pi);
            flush_out(c, false);
        }
    }
    if (skipped)
        pk_buf_printf(&c->out, "%u other port%s in %u-%u %s no IANA name and no note of %s own\n",
                      skipped, skipped == 1 ? "" : "s", q->lo, q->hi, skipped == 1 ? "has" : "have",
                      skipped == 1 ? "its" : "their");
    if (trim)
        pk_buf_putc(&c->out, '\n');
    return CLI_OK;
}

struct ranked_port {
    struct pk_port_proto pp;
    double freq;
    size_t order;
};

static int by_frequency(const void *a, const void *b)
{
    const struct ranked_port *x = a, *y = b;
    if (x->freq != y->freq)
        return x->freq > y->freq ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Answers one parsed query. Returns CLI_OK or CLI_NOTFOUND. */
static int answer(struct info_ctx *c, const struct pk_query *q, bool quiet_notfound)
{
    unsigned asked = q->proto_mask ? q->proto_mask : c->proto_filter;
    if (q->kind == PK_QUERY_PORTS)
        return answer_ports(c, q, asked);
    struct pk_port_proto found[256];
    size_t n = pk_registry_find_name(c->reg, q->name, found, 256);
    struct ranked_port ranked[256];
    size_t shown = 0;
    for (size_t i = 0; i < n && i < 256; i++) {
        if (asked && !(asked & PK_PROTO_MASK(found[i].proto)))
            continue;
        ranked[shown] = (struct ranked_port){found[i], frequency(c, found[i].port, found[i].proto), i};
        shown++;
    }
    /* the port people meet most comes first: http-alt is 8080 before 8000 */
    qsort(ranked, shown, sizeof *ranked, by_frequency);
    for (size_t i = 0; i < shown; i++)
        render(c, ranked[i].pp.port, ranked[i].pp.proto);
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
        info_render_match(c, &pi, word);
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
        {"lang", required_argument, NULL, 'L'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct info_ctx c = {.stream = stdout, .lang = pk_lang_from_env()};
    const char *search = NULL;
    int opt;
    /* '-' alone is the stdin query, not an option; "+" keeps negative-looking
     * queries like -1 from being read as options only after the first query. */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":s:jtuah", opts, NULL)) != -1) {
        switch (opt) {
        case 'a': c.all = true; break;
        case 'L':
            if (pk_lang_parse(optarg, &c.lang) < 0)
                return cli_usage_error("info", "--lang expects en, vi or zh");
            break;
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
    info_term_size(c.stream, &c.width, &c.rows);
    info_init_colors(&c);

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
