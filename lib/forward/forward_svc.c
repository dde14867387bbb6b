/* What the relays call back into: admission of a new client, logging,
 * listener references and the end of a drain. Nothing here calls the relays
 * by name (the live counts come through pk_fw.live_count), so forward.c ->
 * relays -> services is a chain, not a cycle. */
#include "forward/forward_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DENY_LOG_QUIET_US 10000000   /* one log line per denied UDP client per 10 s */
#define LIMIT_LOG_QUIET_US 10000000  /* and one about the descriptor budget */
#define DEFAULT_UDP_BUFFER (4u << 20)

uint64_t fw_unix_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

socklen_t fw_sa_len(const union fw_sa *a)
{
    return a->sa.sa_family == AF_INET ? sizeof a->in : sizeof a->in6;
}

void fw_log(struct pk_fw *fw, const struct pk_fw_event *ev)
{
    if (fw->opts.log)
        fw->opts.log(fw->opts.log_arg, ev);
}

void fw_warn(struct pk_fw *fw, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct pk_fw_event ev = {.kind = PK_FW_EV_WARN, .reason = msg};
    fw_log(fw, &ev);
}

static bool same_client(const union fw_sa *a, const struct sockaddr *b)
{
    if (a->sa.sa_family != b->sa_family)
        return false;
    if (b->sa_family == AF_INET)
        return a->in.sin_addr.s_addr == ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    return memcmp(&a->in6.sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
                  sizeof a->in6.sin6_addr) == 0;
}

/* A UDP client turned away keeps sending: one log line per client per
 * DENY_LOG_QUIET_US, not one per datagram. */
static bool quiet_repeat(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client)
{
    if (l->rule.proto != PK_UDP)
        return false;
    uint64_t now = pk_loop_now(fw->loop);
    if (same_client(&l->last_denied, client) && now - l->last_denied_us < DENY_LOG_QUIET_US)
        return true;
    memcpy(&l->last_denied, client,
           client->sa_family == AF_INET ? sizeof l->last_denied.in : sizeof l->last_denied.in6);
    l->last_denied_us = now;
    return false;
}

static size_t units_used(const struct pk_fw *fw)
{
    return 2 * fw->live_count[0](fw) + fw->live_count[1](fw);
}

void fw_log_open(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client)
{
    struct pk_fw_event ev = {
        .kind = PK_FW_EV_OPEN, .proto = l->rule.proto, .line = l->rule.line, .client = client,
        .listen = &l->bound.sa, .target = (const struct sockaddr *)&l->rule.target.ss,
        .start_unix_us = fw_unix_us(),
    };
    fw_log(fw, &ev);
}

void fw_udp_buffers(struct pk_fw *fw, int fd)
{
    int want = (int)(fw->opts.udp_buffer ? fw->opts.udp_buffer : DEFAULT_UDP_BUFFER);
    /* The FORCE variants pass rmem_max/wmem_max with CAP_NET_ADMIN; without
     * it the plain ones give what the kernel allows. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
}

int fw_bind_source(const struct fw_listener *l, int fd)
{
    if (!l->rule.has_source)
        return 0;
    return bind(fd, (const struct sockaddr *)&l->rule.source.ss, l->rule.source.len);
}

bool fw_admit(struct pk_fw *fw, struct fw_listener *l, const struct sockaddr *client)
{
    struct pk_fw_event ev = {
        .proto = l->rule.proto, .line = l->rule.line, .client = client, .listen = &l->bound.sa,
        .target = (const struct sockaddr *)&l->rule.target.ss,
    };
    char why[160];
    bool global_ok = pk_acl_permits(fw->acl, client);
    if (!global_ok || !pk_acl_permits(l->rule.acl, client)) {
        fw->denied++;
        if (quiet_repeat(fw, l, client))
            return false;
        ev.kind = PK_FW_EV_DENY;
        ev.reason = global_ok ? "rule allow/deny" : "global allow/deny";
        fw_log(fw, &ev);
        return false;
    }
    if (l->rule.max_conns && l->active >= l->rule.max_conns) {
        fw->limited++;
        if (quiet_repeat(fw, l, client))
            return false;
        snprintf(why, sizeof why, "max-conns %u reached", l->rule.max_conns);
        ev.kind = PK_FW_EV_LIMIT;
        ev.reason = why;
        fw_log(fw, &ev);
        return false;
    }
    size_t need = l->rule.proto == PK_UDP ? 1 : 2;
    if (units_used(fw) + need > fw->budget) {
        fw->limited++;
        /* A crowd is over the limit at once: one line per quiet period. */
        uint64_t now = pk_loop_now(fw->loop);
        if (fw->limit_warned_us && now - fw->limit_warned_us < LIMIT_LOG_QUIET_US)
            return false;
        fw->limit_warned_us = now;
        if (fw->opts.max_conns)
            snprintf(why, sizeof why, "forwarder max-conns %zu reached", fw->opts.max_conns);
        else
            snprintf(why, sizeof why,
                     "%zu connections at once reached (from the open-file limit, ulimit -n); "
                     "new clients are reset", fw->budget / 2);
        ev.kind = PK_FW_EV_LIMIT;
        ev.reason = why;
        fw_log(fw, &ev);
        return false;
    }
    return true;
}

/* ---- listeners ---- */

static void listener_free(struct fw_listener *l)
{
    pk_acl_free(l->rule.acl);
    free(l);
}

void fw_listener_put(struct fw_listener *l)
{
    if (--l->refs == 0)
        listener_free(l);
}

/* ---- draining ---- */

void fw_finish_drain(struct pk_fw *fw)
{
    if (fw->drained)
        return;
    fw->drained = true;
    pk_loop_timer_stop(fw->loop, &fw->drain_timer);
    pk_loop_timer_stop(fw->loop, &fw->accept_timer);
    if (fw->opts.drained)
        fw->opts.drained(fw->opts.drained_arg);
}

void fw_active_changed(struct pk_fw *fw)
{
    if (fw->draining && fw->live_count[0](fw) == 0 && fw->live_count[1](fw) == 0)
        fw_finish_drain(fw);
}
