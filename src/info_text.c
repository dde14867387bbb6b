/* portkit info's text view of one port: what IANA says, the curated notes
 * in the chosen language, and this host's view, wrapped to the terminal. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "info.h"

#define LABEL_COLS 9

static const char *const labels[PK_LANG_COUNT][IL_COUNT] = {
    [PK_LANG_EN] = {"range", "part of", "aliases", "known as", "notes", "alt ports", "RISK", "iana-use",
                    "iana-note", "dns-sd", "seen", "source", "this host"},
    [PK_LANG_VI] = {"dải", "thuộc dải", "tên khác", "tên gọi", "ghi chú", "cổng khác", "RỦI RO",
                    "iana-use", "iana-note", "dns-sd", "tần suất", "nguồn", "máy này"},
    [PK_LANG_ZH] = {"范围", "所属区段", "别名", "俗称", "说明", "备用端口", "风险", "iana-use",
                    "iana-note", "dns-sd", "常见度", "来源", "本机"},
};

const char *info_label(enum info_label l, enum pk_lang lang)
{
    return labels[(unsigned)lang < PK_LANG_COUNT ? lang : PK_LANG_EN][l];
}

/* Sentences the text view builds around the facts, per language. */
enum phrase {
    PH_CLASS_WELL_KNOWN, PH_CLASS_REGISTERED, PH_CLASS_DYNAMIC, PH_PRIVILEGED, PH_ANY_USER,
    PH_IN_EPHEMERAL, PH_OUT_EPHEMERAL, PH_SEEN, PH_NO_DATA, PH_DEFACTO_RESERVED,
    PH_DEFACTO_UNASSIGNED, PH_RESERVED, PH_NOT_IANA, PH_DNS_SD, PH_SEEN_ZERO, PH_COUNT
};

static const char *const phrases[PK_LANG_COUNT][PH_COUNT] = {
    [PK_LANG_EN] = {
        "well-known (0-1023)", "registered (1024-49151)", "dynamic/private (49152-65535)",
        "binding needs privilege", "any user may bind it",
        "INSIDE this host's ephemeral range %u-%u (the kernel may hand it to clients)",
        "outside this host's ephemeral range %u-%u",
        "nmap saw it open on %.3g%% of the hosts it scanned (nmap-services)",
        "no data (nmap-services has no figure for it)",
        "[de-facto use; reserved by IANA]", "[de-facto use; unassigned by IANA]", "[reserved by IANA]",
        "(de-facto, not what IANA assigned)",
        "TXT record keys for DNS service discovery (field names, not credentials): ",
        "nmap lists it but found it open on almost none of the hosts it scanned (nmap-services)"},
    [PK_LANG_VI] = {
        "cổng hệ thống, well-known (0-1023)", "cổng đăng ký, registered (1024-49151)",
        "cổng động/riêng, dynamic/private (49152-65535)",
        "cần quyền đặc biệt (root) để bind", "mọi người dùng đều bind được",
        "NẰM TRONG dải cổng tạm %u-%u của máy này (kernel có thể cấp nó cho kết nối đi)",
        "ngoài dải cổng tạm %u-%u của máy này",
        "nmap thấy cổng này mở trên %.3g%% số máy nó đã quét (nmap-services)",
        "không có dữ liệu (nmap-services không có số liệu)",
        "[dùng trên thực tế; IANA để dành]", "[dùng trên thực tế; IANA chưa gán]", "[IANA để dành]",
        "(cách dùng thực tế, không phải thứ IANA gán)",
        "khóa bản ghi TXT cho DNS service discovery (tên trường, không phải mật khẩu): ",
        "nmap có ghi cổng này nhưng gần như không thấy nó mở trên máy nào đã quét (nmap-services)"},
    [PK_LANG_ZH] = {
        "公认端口 well-known (0-1023)", "注册端口 registered (1024-49151)",
        "动态/私有端口 dynamic/private (49152-65535)",
        "绑定需要特权（root）", "任何用户都可以绑定",
        "位于本机临时端口范围 %u-%u 内（内核可能把它分配给出站连接）",
        "不在本机临时端口范围 %u-%u 内",
        "nmap 扫描过的主机中有 %.3g%% 开放此端口（nmap-services）",
        "无数据（nmap-services 没有该端口的统计）",
        "[实际用法；IANA 保留]", "[实际用法；IANA 未分配]", "[IANA 保留]",
        "（实际用法，并非 IANA 的分配）",
        "DNS 服务发现的 TXT 记录键（字段名，不是凭据）：",
        "nmap 有此端口的条目，但在扫描过的主机上几乎没见它开放（nmap-services）"},
};

static const char *phrase(const struct info_ctx *c, enum phrase p)
{
    return phrases[c->lang][p];
}

void info_init_colors(struct info_ctx *c)
{
    c->bold = cli_sgr(c->stream, CLI_BOLD);
    c->reset = cli_sgr(c->stream, CLI_RESET);
    c->red = cli_sgr(c->stream, CLI_RED);
    c->dim = cli_sgr(c->stream, CLI_DIM);
    c->cyan = cli_sgr(c->stream, CLI_CYAN);
}

void info_term_size(FILE *stream, unsigned *cols, unsigned *rows)
{
    *cols = *rows = 0;
    int fd = fileno(stream);
    if (fd < 0 || !isatty(fd))
        return;
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
    /* COLUMNS/LINES win, as in most terminal programs (and they make tests possible) */
    const char *v = getenv("COLUMNS");
    if (v && atoi(v) > 0)
        *cols = (unsigned)atoi(v);
    v = getenv("LINES");
    if (v && atoi(v) > 0)
        *rows = (unsigned)atoi(v);
    if (!*rows)
        *rows = 24;
}

static unsigned cp_width(uint32_t c)
{
    if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) ||
        (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
        (c >= 0xFFE0 && c <= 0xFFE6) || c >= 0x20000)
        return 2;
    if (c >= 0x300 && c <= 0x36F)
        return 0;
    return 1;
}

/* Length in bytes of the UTF-8 sequence at s (1 for a stray byte), and its code point. */
static size_t cp_at(const char *s, size_t avail, uint32_t *cp)
{
    unsigned char c = (unsigned char)s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (n > avail)
        n = 1;
    uint32_t v = n == 1 ? c : c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = v << 6 | ((unsigned char)s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

size_t info_display_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += cp_at(s + i, n - i, &cp);
        w += cp_width(cp);
    }
    return w;
}

/* "  LABEL    " padded by display width, so CJK labels line up too. */
static void put_label(struct pk_buf *b, const char *label)
{
    size_t w = info_display_width(label, strlen(label));
    pk_buf_printf(b, "  %s%*s ", label, (int)(w < LABEL_COLS ? LABEL_COLS - w : 0), "");
}

/* Writes text (one paragraph, no '\n') wrapped to the terminal: breaks at
 * spaces, or between any two wide characters for scripts without spaces. */
static void put_wrapped(struct info_ctx *c, const char *text, size_t len, const char *on, const char *off)
{
    struct pk_buf *b = &c->out;
    size_t avail = c->width > LABEL_COLS + 3 + 20 ? c->width - LABEL_COLS - 3 : 0;
    pk_buf_puts(b, on);
    while (len) {
        size_t cut = len, w = 0, last_break = 0;
        if (avail) {
            for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n = cp_at(text + i, len - i, &cp);
                unsigned cw = cp_width(cp);
                if (w + cw > avail) {
                    cut = last_break ? last_break : i ? i : n;
                    break;
                }
                if (cp == ' ')
                    last_break = i;
                else if (cw == 2)
                    last_break = i + n; /* a wide character ends a possible break */
                w += cw;
                i += n;
            }
        }
        pk_buf_append(b, text, cut);
        text += cut;
        len -= cut;
        while (len && *text == ' ') {
            text++;
            len--;
        }
        if (len)
            pk_buf_printf(b, "%s\n%*s%s", off, LABEL_COLS + 3, "", on);
    }
    pk_buf_printf(b, "%s\n", off);
}

/* Each '\n'-separated line of text under one label. */
static void put_lines(struct info_ctx *c, const char *label, const char *text, const char *on,
                      const char *off)
{
    bool first = true;
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        if (first)
            put_label(&c->out, label);
        else
            pk_buf_printf(&c->out, "%*s", LABEL_COLS + 3, "");
        put_wrapped(c, text, n, on, off);
        first = false;
        text += n + (nl ? 1 : 0);
    }
}

static void put_line(struct info_ctx *c, enum info_label l, const char *text)
{
    put_label(&c->out, info_label(l, c->lang));
    put_wrapped(c, text, strlen(text), "", "");
}

/* The other names of a port: IANA's further names (each once) and the
 * curated name and aliases. */
static void collect_aliases(struct info_ctx *c, const struct pk_portinfo *pi, struct pk_buf *out)
{
    for (size_t i = pi->first; i < pi->first + pi->count; i++) {
        struct pk_service sv;
        pk_registry_get(c->reg, i, &sv);
        if (!sv.name[0] || (pi->name && strcasecmp(sv.name, pi->name) == 0))
            continue;
        bool dup = false;
        for (size_t k = pi->first; k < i && !dup; k++) {
            struct pk_service t;
            pk_registry_get(c->reg, k, &t);
            dup = strcasecmp(t.name, sv.name) == 0;
        }
        if (!dup)
            pk_buf_printf(out, "%s%s", out->len ? ", " : "", sv.name);
    }
    if (pi->has_note && pi->note.official && pi->name && strcasecmp(pi->note.name, pi->name) != 0)
        pk_buf_printf(out, "%s%s", out->len ? ", " : "", pi->note.name);
    for (const char *a = pi->has_note ? pi->note.aliases : ""; *a;) {
        const char *nl = strchr(a, '\n');
        size_t n = nl ? (size_t)(nl - a) : strlen(a);
        pk_buf_printf(out, "%s%.*s", out->len ? ", " : "", (int)n, a);
        a += n + (nl ? 1 : 0);
    }
}

static void render_range_note(struct info_ctx *c, const struct pk_portinfo *pi)
{
    const struct pk_note *r = &pi->range_note;
    char text[2048];
    pk_note_render(pk_note_text(r, c->lang), pi->port, r->range_lo, text, sizeof text);
    /* the range's first paragraph carries its span and name; the rest follow */
    size_t first = strcspn(text, "\n");
    struct pk_buf line = PK_BUF_INIT;
    pk_buf_printf(&line, "%u-%u/%s %s: %.*s", r->range_lo, r->range_hi, pk_proto_name(pi->proto), r->name,
                  (int)first, text);
    put_label(&c->out, info_label(IL_PART_OF, c->lang));
    put_wrapped(c, line.data ? line.data : "", line.len, "", "");
    pk_buf_free(&line);
    if (text[first])
        put_lines(c, "", text + first + 1, "", "");
    if (r->risk[0])
        put_lines(c, info_label(IL_RISK, c->lang), r->risk, c->red, c->reset);
}

static void render_iana_remarks(struct info_ctx *c, const struct pk_portinfo *pi)
{
    const char *unauth = "", *anotes = "";
    for (size_t i = pi->first; i < pi->first + pi->count; i++) {
        struct pk_service sv;
        pk_registry_get(c->reg, i, &sv);
        if (!unauth[0])
            unauth = sv.unauthorized_use;
        if (!anotes[0])
            anotes = sv.assignment_notes;
    }
    const char *dim = c->dim, *reset = c->reset;
    if (unauth[0])
        put_lines(c, info_label(IL_IANA_USE, c->lang), unauth, "", "");
    if (!anotes[0])
        return;
    /* DNS-SD service registrations list the TXT record's keys ("u=<username>
     * p=<password>"): field names, which read like a credential hint unless
     * labelled as what they are. */
    if (strncmp(anotes, "Defined TXT keys", 16) == 0) {
        const char *keys = anotes + 16;
        while (*keys == ':' || *keys == ' ')
            keys++;
        struct pk_buf t = PK_BUF_INIT;
        pk_buf_printf(&t, "%s%s", phrase(c, PH_DNS_SD), keys);
        put_lines(c, info_label(IL_DNS_SD, c->lang), t.data, dim, reset);
        pk_buf_free(&t);
        return;
    }
    put_lines(c, info_label(IL_IANA_NOTE, c->lang), anotes, dim, reset);
}

void info_render_text(struct info_ctx *c, const struct pk_portinfo *pi, double freq)
{
    struct pk_buf *b = &c->out;
    const char *bold = c->bold, *reset = c->reset, *red = c->red, *dim = c->dim, *cyan = c->cyan;
    char head[32];
    snprintf(head, sizeof head, "%u/%s", pi->port, pk_proto_name(pi->proto));
    const char *name = pi->name ? pi->name : pi->reserved ? "(reserved)" : "(unassigned)";
    const char *desc = pi->description[0] ? pi->description : "";
    pk_buf_printf(b, "%s%-11s %s%s%s", bold, head, cyan, name, reset);
    if (desc[0] && strcasecmp(desc, name) != 0)
        pk_buf_printf(b, "  %s", desc);
    /* one truth with --json: note_kind says whose use the block describes,
     * official says whether IANA assigns or reserves the port */
    if (pi->has_note && !pi->note.official && !pi->named)
        pk_buf_printf(b, "  %s%s%s", dim, phrase(c, pi->reserved ? PH_DEFACTO_RESERVED : PH_DEFACTO_UNASSIGNED), reset);
    else if (pi->reserved && !pi->named)
        pk_buf_printf(b, "  %s%s%s", dim, phrase(c, PH_RESERVED), reset);
    pk_buf_putc(b, '\n');
    static const enum phrase class_phrase[] = {PH_CLASS_WELL_KNOWN, PH_CLASS_REGISTERED, PH_CLASS_DYNAMIC};
    put_line(c, IL_RANGE, phrase(c, class_phrase[pi->range]));

    struct pk_buf aliases = PK_BUF_INIT;
    collect_aliases(c, pi, &aliases);
    if (aliases.len)
        put_line(c, IL_ALIASES, aliases.data);
    pk_buf_free(&aliases);
    if (pi->has_note && !pi->note.official && pi->named && strcasecmp(pi->note.name, pi->name) != 0) {
        char line[160];
        snprintf(line, sizeof line, "%s %s", pi->note.name, phrase(c, PH_NOT_IANA));
        put_line(c, IL_KNOWN_AS, line);
    }
    if (pi->has_note) {
        put_lines(c, info_label(IL_NOTES, c->lang), pk_note_text(&pi->note, c->lang), "", "");
        if (pi->note.nalt) {
            struct pk_buf alt = PK_BUF_INIT;
            for (size_t i = 0; i < pi->note.nalt; i++)
                pk_buf_printf(&alt, "%s%u", i ? ", " : "", pi->note.alt[i]);
            put_line(c, IL_ALT, alt.data);
            pk_buf_free(&alt);
        }
        if (pi->note.risk[0])
            put_lines(c, info_label(IL_RISK, c->lang), pi->note.risk, red, reset);
    }
    if (pi->has_range)
        render_range_note(c, pi);
    if (pi->has_note && pi->note.source[0])
        put_lines(c, info_label(IL_SOURCE, c->lang), pi->note.source, dim, reset);
    render_iana_remarks(c, pi);
    if (pi->proto == PK_TCP || pi->proto == PK_UDP) {
        char seen[200];
        if (freq > 0.0)
            snprintf(seen, sizeof seen, phrase(c, PH_SEEN), freq * 100);
        else if (freq == 0.0)
            snprintf(seen, sizeof seen, "%s", phrase(c, PH_SEEN_ZERO));
        else
            snprintf(seen, sizeof seen, "%s", c->freq_missing ? "" : phrase(c, PH_NO_DATA));
        if (seen[0])
            put_line(c, IL_SEEN, seen);
    }
    char host[300], eph[200];
    snprintf(eph, sizeof eph, phrase(c, pi->ephemeral ? PH_IN_EPHEMERAL : PH_OUT_EPHEMERAL),
             c->host.ephemeral_lo, c->host.ephemeral_hi);
    snprintf(host, sizeof host, "%s; %s", phrase(c, pi->privileged ? PH_PRIVILEGED : PH_ANY_USER), eph);
    put_line(c, IL_HOST, host);
    pk_buf_putc(b, '\n');
}

/* Up to ~70 columns of text around [m, m+mlen), cut at character boundaries. */
static void put_snippet(struct pk_buf *b, const char *text, const char *m, size_t mlen)
{
    const char *start = m, *end = m + mlen;
    size_t before = 0;
    while (start > text && before < 24 && start[-1] != '\n') {
        start--;
        if (((unsigned char)*start & 0xC0) != 0x80)
            before++;
    }
    size_t after = 0;
    while (*end && *end != '\n' && after < 44) {
        end++;
        if (((unsigned char)*end & 0xC0) != 0x80)
            after++;
    }
    pk_buf_printf(b, "%s%.*s%s", start > text && start[-1] != '\n' ? "..." : "", (int)(end - start), start,
                  *end && *end != '\n' ? "..." : "");
}

void info_render_match(struct info_ctx *c, const struct pk_portinfo *pi, const char *word)
{
    struct pk_buf *b = &c->out;
    char head[32];
    snprintf(head, sizeof head, "%u/%s", pi->port, pk_proto_name(pi->proto));
    pk_buf_printf(b, "%-11s %-20s ", head, pi->name ? pi->name : "-");
    /* where it matched, most telling first */
    const char *fields[12];
    size_t nf = 0;
    if (pi->has_note) {
        fields[nf++] = pi->note.aliases;
        fields[nf++] = pk_note_text(&pi->note, c->lang);
        for (int l = 0; l < PK_LANG_COUNT; l++)
            fields[nf++] = pi->note.translation[l];
        fields[nf++] = pi->note.risk;
        fields[nf++] = pi->note.name;
    }
    if (pi->has_range && pi->range_note.range_lo == pi->port) {
        fields[nf++] = pk_note_text(&pi->range_note, c->lang);
        fields[nf++] = pi->range_note.aliases;
    }
    fields[nf++] = pi->description;
    for (size_t i = pi->first; i < pi->first + pi->count && nf < 12; i++) {
        struct pk_service sv;
        pk_registry_get(c->reg, i, &sv);
        if (sv.assignment_notes[0] && pk_text_find(sv.assignment_notes, word, NULL))
            fields[nf++] = sv.assignment_notes;
        else if (sv.unauthorized_use[0] && pk_text_find(sv.unauthorized_use, word, NULL))
            fields[nf++] = sv.unauthorized_use;
    }
    bool shown = false;
    for (size_t i = 0; i < nf && !shown; i++) {
        size_t mlen;
        const char *m = fields[i] ? pk_text_find(fields[i], word, &mlen) : NULL;
        if (m) {
            put_snippet(b, fields[i], m, mlen);
            shown = true;
        }
    }
    if (!shown)
        pk_buf_puts(b, pi->description);
    if (pk_registry_is_risky(c->reg, pi->port, pi->proto))
        pk_buf_puts(b, "  [RISK]");
    pk_buf_putc(b, '\n');
}

void info_render_brief(struct info_ctx *c, const struct pk_portinfo *pi)
{
    struct pk_buf *b = &c->out;
    char head[32];
    snprintf(head, sizeof head, "%u/%s", pi->port, pk_proto_name(pi->proto));
    const char *what = pi->has_note ? pk_note_text(&pi->note, c->lang) : pi->description;
    size_t n = strcspn(what, "\n");
    /* one line each: cut the text at the terminal's edge, on a character boundary */
    size_t avail = c->width > 36 ? c->width - 34 : 60, w = 0, cut = 0;
    while (cut < n) {
        uint32_t cp;
        size_t k = cp_at(what + cut, n - cut, &cp);
        if (w + cp_width(cp) > avail)
            break;
        w += cp_width(cp);
        cut += k;
    }
    pk_buf_printf(b, "%-11s %-20s %.*s%s%s\n", head, pi->name ? pi->name : "-", (int)cut, what,
                  cut < n ? "..." : "", pk_registry_is_risky(c->reg, pi->port, pi->proto) ? "  [RISK]" : "");
}
