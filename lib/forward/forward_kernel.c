/* The owner of a forwarder's nft table: installs and replaces it through
 * libnftables (each change one transaction), switches the sysctls it needs
 * and puts them back, and clears tables whose forwarder was killed. The
 * table's comment records what to put back, so whoever removes a stale
 * table can restore the sysctls too. */
#include "forward/forward_kernel_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S_FWD4, S_FWD6, S_ACCT, S_TSTAMP, S_COUNT };

static const struct {
    const char *key, *path, *name;
} SYSCTLS[S_COUNT] = {
    [S_FWD4] = {"ip4", "/proc/sys/net/ipv4/ip_forward", "net.ipv4.ip_forward"},
    [S_FWD6] = {"ip6", "/proc/sys/net/ipv6/conf/all/forwarding", "net.ipv6.conf.all.forwarding"},
    [S_ACCT] = {"acct", "/proc/sys/net/netfilter/nf_conntrack_acct", "net.netfilter.nf_conntrack_acct"},
    [S_TSTAMP] = {"ts", "/proc/sys/net/netfilter/nf_conntrack_timestamp",
                  "net.netfilter.nf_conntrack_timestamp"},
};

static struct pk_fw_config *config_like(const struct pk_fw_config *cfg);

struct pk_fw_kernel {
    struct pk_loop *loop;
    struct pk_fw_kernel_options opts;
    struct nft_ctx *nft;
    char table[64];
    uint16_t tag;
    bool installed;
    int saved[S_COUNT]; /* the value to restore, -1 when we changed nothing */
    struct kfw_ct *ct;
    struct pk_fw_config *running; /* what the ct marks point into */
};

static void klog(const struct pk_fw_kernel_options *o, enum pk_fw_event_kind kind,
                 const char *msg)
{
    if (!o->log)
        return;
    struct pk_fw_event ev = {.kind = kind, .reason = msg};
    o->log(o->log_arg, &ev);
}

/* ---- sysctls ---- */

static int sysctl_read(int which)
{
    int fd = open(SYSCTLS[which].path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[16] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? atoi(buf) : -1;
}

static int sysctl_write(int which, int value)
{
    int fd = open(SYSCTLS[which].path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[16];
    int len = snprintf(buf, sizeof buf, "%d\n", value);
    ssize_t n = write(fd, buf, (size_t)len);
    close(fd);
    return n == len ? 0 : -1;
}

/* "restore=ip4:0,acct:0" from the table comment: put those values back. */
static void restore_from_comment(const char *comment)
{
    const char *p = strstr(comment, "restore=");
    if (!p)
        return;
    p += strlen("restore=");
    while (*p && *p != '"' && *p != ' ') {
        for (int i = 0; i < S_COUNT; i++) {
            size_t kl = strlen(SYSCTLS[i].key);
            if (strncmp(p, SYSCTLS[i].key, kl) == 0 && p[kl] == ':') {
                sysctl_write(i, atoi(p + kl + 1));
                break;
            }
        }
        const char *comma = strchr(p, ',');
        const char *stop = strpbrk(p, "\" ");
        if (!comma || (stop && comma > stop))
            break;
        p = comma + 1;
    }
}

/* ---- libnftables ---- */

static struct nft_ctx *nft_open(void)
{
    struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!nft)
        return NULL;
    nft_ctx_buffer_output(nft);
    nft_ctx_buffer_error(nft);
    return nft;
}

/* Runs one nft script (one transaction). On failure err gets nft's first
 * error line; *output (when given) gets what nft printed. */
static int nft_run(struct nft_ctx *nft, const char *script, struct pk_buf *output,
                   struct pk_err *err)
{
    int rc = nft_run_cmd_from_buffer(nft, script);
    const char *out = nft_ctx_get_output_buffer(nft);
    const char *msg = nft_ctx_get_error_buffer(nft);
    if (rc == 0) {
        if (output && out)
            pk_buf_puts(output, out);
        return 0;
    }
    if (msg && (strstr(msg, "Operation not permitted") || strstr(msg, "Permission denied")))
        return pk_err_set(err, PK_EINVAL, "--kernel needs root (CAP_NET_ADMIN in this network "
                                          "namespace)");
    const char *line = msg && strstr(msg, "Error:") ? strstr(msg, "Error:") : msg ? msg : "";
    size_t len = strcspn(line, "\n");
    return pk_err_set(err, PK_EIO, "nft: %.*s", (int)(len > 300 ? 300 : len), line);
}

/* libnftables prints a refusal to stderr itself, so ask first: CAP_NET_ADMIN
 * (bit 12) in the effective set. */
static bool have_net_admin(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return true; /* let nft answer */
    char line[256];
    unsigned long long eff = ~0ull;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &eff) == 1)
            break;
    fclose(f);
    return eff & (1ull << 12);
}

static int need_net_admin(struct pk_err *err)
{
    if (have_net_admin())
        return 0;
    return pk_err_set(err, PK_EINVAL, "--kernel needs root (CAP_NET_ADMIN); the relay (without "
                                      "--kernel) needs none");
}

static bool owner_running(long pid)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
        return false;
    /* A recycled PID belongs to someone else: only a portkit owns a table. */
    char path[64], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno != ENOENT;
    ssize_t n = read(fd, comm, sizeof comm - 1);
    close(fd);
    return n > 0 && strncmp(comm, "portkit", 7) == 0;
}

static int remove_stale(struct nft_ctx *nft, long self, unsigned *removed, pk_fw_log_fn *log,
                        void *log_arg, struct pk_err *err)
{
    struct pk_buf list = PK_BUF_INIT;
    int rc = nft_run(nft, "list tables inet", &list, err);
    const char *p = list.data;
    while (rc == 0 && p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        static const char head[] = "table inet " KFW_TABLE_PREFIX;
        if (len > sizeof head - 1 && strncmp(p, head, sizeof head - 1) == 0) {
            char *end;
            long pid = strtol(p + sizeof head - 1, &end, 10);
            if (end == p + len && pid != self && !owner_running(pid)) {
                char cmd[128], msg[200];
                struct pk_buf table = PK_BUF_INIT;
                snprintf(cmd, sizeof cmd, "list table inet " KFW_TABLE_PREFIX "%ld", pid);
                if (nft_run(nft, cmd, &table, NULL) == 0 && table.data) {
                    const char *c = strstr(table.data, "comment \"");
                    if (c)
                        restore_from_comment(c);
                }
                pk_buf_free(&table);
                snprintf(cmd, sizeof cmd, "delete table inet " KFW_TABLE_PREFIX "%ld", pid);
                if (nft_run(nft, cmd, NULL, err) == 0) {
                    if (removed)
                        ++*removed;
                    snprintf(msg, sizeof msg,
                             "removed table inet " KFW_TABLE_PREFIX "%ld: its forwarder (pid %ld) "
                             "no longer runs",
                             pid, pid);
                    if (log) {
                        struct pk_fw_event ev = {.kind = PK_FW_EV_WARN, .reason = msg};
                        log(log_arg, &ev);
                    }
                }
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    pk_buf_free(&list);
    return rc;
}

int pk_fw_kernel_cleanup(unsigned *removed, pk_fw_log_fn *log, void *log_arg, struct pk_err *err)
{
    if (need_net_admin(err) < 0)
        return PK_EINVAL;
    struct nft_ctx *nft = nft_open();
    if (!nft)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    if (removed)
        *removed = 0;
    int rc = remove_stale(nft, 0, removed, log, log_arg, err);
    nft_ctx_free(nft);
    return rc;
}

/* ---- the instance ---- */

struct pk_fw_kernel *pk_fw_kernel_new(struct pk_loop *loop, const struct pk_fw_kernel_options *opts,
                                      struct pk_err *err)
{
    if (need_net_admin(err) < 0)
        return NULL;
    struct pk_fw_kernel *k = calloc(1, sizeof *k);
    if (!k) {
        pk_err_set(err, PK_ENOMEM, "out of memory");
        return NULL;
    }
    k->loop = loop;
    if (opts)
        k->opts = *opts;
    for (int i = 0; i < S_COUNT; i++)
        k->saved[i] = -1;
    long pid = (long)getpid();
    pk_fw_kernel_table_name(pid, k->table, sizeof k->table);
    /* Never 0: a ct mark of 0 is every unmarked connection. */
    k->tag = (uint16_t)(pid % 0xfffe + 1);
    k->nft = nft_open();
    if (!k->nft) {
        pk_err_set(err, PK_ENOMEM, "out of memory");
        free(k);
        return NULL;
    }
    if (remove_stale(k->nft, pid, NULL, k->opts.log, k->opts.log_arg, err) < 0) {
        nft_ctx_free(k->nft);
        free(k);
        return NULL;
    }
    if (!k->opts.no_conntrack_log) {
        k->ct = kfw_ct_new(loop, k->tag, k->opts.log, k->opts.log_arg, err);
        if (!k->ct) {
            if (errno == EPERM)
                pk_err_set(err, PK_EINVAL, "--kernel needs root (CAP_NET_ADMIN)");
            nft_ctx_free(k->nft);
            free(k);
            return NULL;
        }
    }
    return k;
}

int pk_fw_kernel_counters(struct pk_fw_kernel *k, uint64_t *denied, uint64_t *limited,
                          struct pk_err *err)
{
    *denied = *limited = 0;
    if (!k->installed)
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "list counters table inet %s", k->table);
    struct pk_buf out = PK_BUF_INIT;
    int rc = nft_run(k->nft, cmd, &out, err);
    /* "counter denied {\n packets 3 bytes 180\n }": the packets after each name. */
    static const char *const names[2] = {"counter denied {", "counter limited {"};
    uint64_t *vals[2] = {denied, limited};
    for (int i = 0; rc == 0 && out.data && i < 2; i++) {
        const char *p = strstr(out.data, names[i]);
        const char *pk = p ? strstr(p, "packets ") : NULL;
        if (pk)
            *vals[i] = strtoull(pk + strlen("packets "), NULL, 10);
    }
    pk_buf_free(&out);
    return rc;
}

const char *pk_fw_kernel_table(const struct pk_fw_kernel *k)
{
    return k->table;
}

/* Decides which sysctls this configuration needs changed; fails when
 * forwarding is needed, off, and not ours to switch on. */
static int plan_sysctls(struct pk_fw_kernel *k, const struct pk_fw_config *cfg, int want[S_COUNT],
                        struct pk_err *err)
{
    for (int i = 0; i < S_COUNT; i++)
        want[i] = -1;
    static const int fam[2] = {AF_INET, AF_INET6};
    for (int f = 0; f < 2; f++) {
        int which = f ? S_FWD6 : S_FWD4;
        if (!kfw_needs_forwarding(cfg, fam[f]) || k->saved[which] >= 0)
            continue;
        int now = sysctl_read(which);
        if (now == 1)
            continue;
        if (!k->opts.enable_forwarding)
            return pk_err_set(err, PK_EINVAL,
                              "a target is on another host and IPv%d forwarding is off (%s = %d): "
                              "add --enable-forwarding (switched back on exit)",
                              f ? 6 : 4, SYSCTLS[which].name, now);
        want[which] = 1;
    }
    if (k->ct) {
        for (int which = S_ACCT; which <= S_TSTAMP; which++) {
            int now = sysctl_read(which);
            if (k->saved[which] < 0 && now == 0)
                want[which] = 1;
        }
    }
    return 0;
}

int pk_fw_kernel_apply(struct pk_fw_kernel *k, const struct pk_fw_config *cfg, struct pk_err *err)
{
    int want[S_COUNT];
    int rc = plan_sysctls(k, cfg, want, err);
    /* The ct marks count the kernel's rules only: the table is written from
     * a copy holding just those, which the conntrack log then reads. */
    if (rc < 0)
        return rc;
    struct pk_fw_config *copy = config_like(cfg);
    for (size_t i = 0; copy && i < pk_fw_config_count(cfg); i++) {
        const struct pk_fw_rule *r = pk_fw_config_rule(cfg, i);
        if (r->kernel && pk_fw_config_add_rule(copy, r, NULL) < 0) {
            pk_fw_config_free(copy);
            copy = NULL;
        }
    }
    if (!copy)
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    char comment[200];
    int n = snprintf(comment, sizeof comment, "portkit forward --kernel, pid %ld; restore=",
                     (long)getpid());
    const char *sep = "";
    for (int i = 0; i < S_COUNT; i++) {
        int old = k->saved[i] >= 0 ? k->saved[i] : want[i] >= 0 ? sysctl_read(i) : -1;
        if (old >= 0) {
            n += snprintf(comment + n, sizeof comment - (size_t)n, "%s%s:%d", sep, SYSCTLS[i].key,
                          old);
            sep = ",";
        }
    }
    struct pk_buf script = PK_BUF_INIT;
    rc = pk_fw_kernel_ruleset(copy, k->table, k->tag, comment, &script, err);
    if (rc == 0)
        rc = nft_run(k->nft, script.data, NULL, err);
    pk_buf_free(&script);
    if (rc < 0) {
        pk_fw_config_free(copy);
        return rc;
    }
    k->installed = true;
    for (int i = 0; i < S_COUNT; i++) {
        if (want[i] < 0)
            continue;
        int old = sysctl_read(i);
        if (sysctl_write(i, want[i]) < 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "cannot set %s = %d: %s", SYSCTLS[i].name, want[i],
                     strerror(errno));
            klog(&k->opts, PK_FW_EV_WARN, msg);
            continue;
        }
        k->saved[i] = old;
    }
    if (k->ct)
        kfw_ct_set_config(k->ct, copy);
    pk_fw_config_free(k->running);
    k->running = copy;
    return 0;
}

void pk_fw_kernel_free(struct pk_fw_kernel *k)
{
    if (!k)
        return;
    kfw_ct_free(k->ct);
    if (k->installed) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "delete table inet %s", k->table);
        struct pk_err err = {0};
        if (nft_run(k->nft, cmd, NULL, &err) < 0) {
            char msg[PK_ERR_MSG_MAX + 128];
            snprintf(msg, sizeof msg, "cannot remove table inet %s: %s", k->table, err.msg);
            klog(&k->opts, PK_FW_EV_WARN, msg);
        }
    }
    for (int i = 0; i < S_COUNT; i++)
        if (k->saved[i] >= 0)
            sysctl_write(i, k->saved[i]);
    nft_ctx_free(k->nft);
    pk_fw_config_free(k->running);
    free(k);
}

/* ---- splitting a configuration between the kernel and the relay ---- */

static int copy_acl(struct pk_acl *to, const struct pk_acl *from)
{
    for (int allow = 1; allow >= 0; allow--) {
        for (size_t i = 0; i < pk_acl_count(from, allow); i++) {
            char text[64];
            pk_acl_format(from, allow, i, text, sizeof text);
            if (pk_acl_add(to, allow, text, strlen(text), NULL) < 0)
                return -1;
        }
    }
    return 0;
}

static struct pk_fw_config *config_like(const struct pk_fw_config *cfg)
{
    struct pk_fw_config *out = pk_fw_config_new();
    if (out && (copy_acl(pk_fw_config_acl(out), pk_fw_config_acl_const(cfg)) < 0 ||
                pk_fw_config_copy_settings(out, cfg) < 0)) {
        pk_fw_config_free(out);
        return NULL;
    }
    return out;
}

struct note_ctx {
    pk_fw_log_fn *log;
    void *log_arg;
};

static void note_fn(void *arg, const char *msg)
{
    struct note_ctx *n = arg;
    if (n->log) {
        struct pk_fw_event ev = {.kind = PK_FW_EV_WARN, .reason = msg};
        n->log(n->log_arg, &ev);
    }
}

int pk_fw_kernel_partition(const struct pk_fw_config *cfg, const struct pk_fw_defaults *defaults,
                           struct pk_fw_config **kernel, struct pk_fw_config **relay,
                           pk_fw_log_fn *log, void *log_arg, struct pk_err *err)
{
    struct pk_fw_config *k = config_like(cfg), *r = config_like(cfg);
    struct note_ctx nc = {log, log_arg};
    int rc = k && r ? 0 : PK_ENOMEM;
    bool global_glob = kfw_acl_has_glob(pk_fw_config_acl_const(cfg));
    for (size_t i = 0; i < pk_fw_config_count(cfg) && rc == 0; i++) {
        struct pk_fw_rule rule = *pk_fw_config_rule(cfg, i);
        const char *why = rule.kernel ? pk_fw_kernel_unfit(&rule, defaults) : NULL;
        if (rule.kernel && !why && global_glob)
            why = "the global allow/deny lists hold a glob pattern, which nft sets cannot";
        if (why) {
            char l[PK_FW_ADDRSTRLEN], msg[400];
            pk_fw_addr_format(&rule.listen, l, sizeof l);
            snprintf(msg, sizeof msg, "%s %s: forwarded by the relay, not the kernel: %s",
                     pk_proto_name(rule.proto), l, why);
            note_fn(&nc, msg);
            rule.kernel = false;
        }
        rc = pk_fw_config_add_rule(rule.kernel ? k : r, &rule, NULL);
    }
    if (rc < 0) {
        pk_fw_config_free(k);
        pk_fw_config_free(r);
        return pk_err_set(err, PK_ENOMEM, "out of memory");
    }
    kfw_notes(k, note_fn, &nc);
    *kernel = k;
    *relay = r;
    return 0;
}
