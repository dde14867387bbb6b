/* The forward configuration written back as a config file (`forward -n`):
 * what pk_fw_config_parse reads to the same rules, so a user can check what
 * will run and a fuzzer can check that parse → print → parse is stable. */
#include "portkit/forward.h"

#include <stdio.h>
#include <string.h>

static int put_duration(struct pk_buf *b, uint64_t ms)
{
    if (ms % 1000 == 0)
        return pk_buf_printf(b, "%llus", (unsigned long long)(ms / 1000));
    return pk_buf_printf(b, "%llums", (unsigned long long)ms);
}

/* rinetd's quoting: blanks or '#' in a path need "..." around it. A path
 * holding '"' was read unquoted (a quoted one cannot hold it) and prints
 * the same way. */
static int put_path(struct pk_buf *b, const char *word, const char *path)
{
    bool quote = strpbrk(path, " \t\r#") != NULL && !strchr(path, '"');
    return pk_buf_printf(b, quote ? "%s \"%s\"\n" : "%s %s\n", word, path);
}

static int put_acl(struct pk_buf *b, const struct pk_acl *acl, const char *allow_fmt,
                    const char *deny_fmt)
{
    int rc = 0;
    for (int allow = 1; allow >= 0; allow--) {
        for (size_t i = 0; i < pk_acl_count(acl, allow); i++) {
            char entry[64];
            pk_acl_format(acl, allow, i, entry, sizeof entry);
            rc |= pk_buf_printf(b, allow ? allow_fmt : deny_fmt, entry);
        }
    }
    return rc;
}

static int put_source(struct pk_buf *b, const struct pk_fw_addr *src)
{
    struct pk_addr a;
    char text[PK_ADDR_STRLEN];
    if (pk_addr_from_sockaddr((const struct sockaddr *)&src->ss, &a) < 0)
        return 0;
    pk_addr_format(&a, text, sizeof text);
    return pk_buf_printf(b, " src=%s", text);
}

int pk_fw_config_format(const struct pk_fw_config *cfg, struct pk_buf *out)
{
    int rc = 0;
    const char *logfile = pk_fw_config_logfile(cfg), *pidfile = pk_fw_config_pidfile(cfg);
    if (logfile)
        rc |= put_path(out, "logfile", logfile);
    if (pk_fw_config_logcommon(cfg))
        rc |= pk_buf_printf(out, "logcommon\n");
    if (pidfile)
        rc |= put_path(out, "pidlogfile", pidfile);
    rc |= put_acl(out, pk_fw_config_acl_const(cfg), "allow %s\n", "deny %s\n");
    for (size_t i = 0; i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        char l[PK_FW_ADDRSTRLEN], t[PK_FW_ADDRSTRLEN];
        pk_fw_addr_format(&r->listen, l, sizeof l);
        pk_fw_addr_format(&r->target, t, sizeof t);
        rc |= pk_buf_printf(out, "%-22s %-22s %s connect-timeout=", l, t, pk_proto_name(r->proto));
        rc |= put_duration(out, r->connect_timeout_ms);
        rc |= pk_buf_printf(out, " idle-timeout=");
        rc |= put_duration(out, r->idle_timeout_ms);
        rc |= pk_buf_printf(out, " max-conns=%u copy=%s", r->max_conns, pk_fw_copy_name(r->copy));
        if (r->has_source)
            rc |= put_source(out, &r->source);
        if (r->kernel)
            rc |= pk_buf_puts(out, " kernel");
        rc |= pk_buf_putc(out, '\n');
        /* The rule's own lists as rinetd writes them, one line each after
         * the rule: a line of options stays short however long they are. */
        if (r->acl)
            rc |= put_acl(out, r->acl, "allow %s\n", "deny %s\n");
    }
    return rc < 0 ? PK_ENOMEM : 0;
}
