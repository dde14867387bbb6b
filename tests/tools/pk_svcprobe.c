/* pk_svcprobe: runs the service-identification contract of
 * include/portkit/banner.h (TCP) or include/portkit/udp_probes.h (UDP)
 * against one address and port with plain blocking sockets, and prints
 * the result as one JSON line. The network tests drive it against real
 * daemons; it is also the smallest example of how an engine uses the API.
 *
 *   pk_svcprobe [-u [-m module]] [-H host] [-n nonce] [-p probe] [-s scale] ADDR PORT
 *     -u        UDP (payload from pk_udp_payload)
 *     -H host   name for the HTTP Host header / TLS SNI
 *     -n nonce  the probes' nonce (default 1)
 *     -p probe  TCP: run only this probe (null, http, tls, redis, ...)
 *     -m name   UDP: send this payload module's datagram (dns, tftp, ...)
 *               whatever the port
 *     -s scale  multiply every wait by scale (e.g. 0.2 for quick negatives)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "portkit/banner.h"
#include "portkit/buf.h"
#include "portkit/json.h"
#include "portkit/registry.h"
#include "portkit/udp_probes.h"

static struct sockaddr_storage target;
static socklen_t target_len;
static double scale = 1.0;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_addr(const char *s, unsigned port)
{
    memset(&target, 0, sizeof target);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&target;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&target;
    if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        target_len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        target_len = sizeof *a6;
        return 0;
    }
    return -1;
}

static int tcp_connect(unsigned timeout_ms)
{
    int fd = socket(target.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&target, target_len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

struct step {
    enum pk_probe_id probe;
    enum pk_id_status st;
    struct pk_service_id id;
    uint8_t data[PK_BANNER_READ_MAX];
    size_t len;
};

/* The identify loop of the contract: read until MATCH/UNKNOWN, EOF or time. */
static void read_step(int fd, unsigned port, unsigned wait_ms, const char *fallback, struct step *s)
{
    long long deadline = now_ms() + (long long)(wait_ms * scale);
    s->len = 0;
    s->st = pk_banner_identify(port, s->probe, NULL, 0, fallback, &s->id);
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0 || s->len == sizeof s->data)
            return;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0)
            return;
        ssize_t r = read(fd, s->data + s->len, sizeof s->data - s->len);
        if (r <= 0)
            return;
        s->len += (size_t)r;
        s->st = pk_banner_identify(port, s->probe, s->data, s->len, fallback, &s->id);
        if (s->st == PK_ID_MATCH || s->st == PK_ID_UNKNOWN)
            return;
    }
}

static const char *status_name(enum pk_id_status st)
{
    static const char *const n[] = {"none", "unknown", "more", "match"};
    return n[st];
}

static void print_result(const struct step *s, const char *mode)
{
    struct pk_buf b = PK_BUF_INIT;
    struct pk_json j;
    char line[256], hex[2 * PK_BANNER_READ_MAX + 1];
    pk_service_id_format(&s->id, line, sizeof line);
    for (size_t i = 0; i < s->len; i++)
        snprintf(hex + 2 * i, 3, "%02x", s->data[i]);
    hex[2 * s->len] = '\0';
    pk_json_init(&j, &b);
    pk_json_obj_begin(&j, NULL);
    pk_json_str(&j, "status", status_name(s->st));
    pk_json_str(&j, "mode", mode);
    pk_json_str(&j, "step", pk_probe_name(s->probe));
    pk_json_str(&j, "service", s->id.service);
    pk_json_str(&j, "product", s->id.product);
    pk_json_str(&j, "version", s->id.version);
    pk_json_str(&j, "extra", s->id.extra);
    pk_json_str(&j, "banner", s->id.banner);
    pk_json_str(&j, "line", line);
    pk_json_str(&j, "raw", hex);
    pk_json_obj_end(&j);
    printf("%s\n", b.data);
    pk_buf_free(&b);
}

static int run_tcp(unsigned port, const struct pk_probe_params *pp, int only_probe,
                   const char *fallback)
{
    static struct step cur, kept;
    struct pk_banner_plan plan;
    pk_banner_plan_for(port, &plan);
    if (only_probe >= 0) {
        plan.greeting_ms = only_probe == PK_PROBE_NULL ? (plan.greeting_ms ? plan.greeting_ms : 3000) : 0;
        plan.nprobes = 0;
        if (only_probe != PK_PROBE_NULL)
            plan.probes[plan.nprobes++] = (enum pk_probe_id)only_probe;
    }
    bool have_kept = false;
    int fd = tcp_connect(3000);
    if (fd < 0) {
        fprintf(stderr, "pk_svcprobe: connect: %s\n", strerror(errno));
        return 3;
    }
    if (plan.greeting_ms) {
        cur.probe = PK_PROBE_NULL;
        read_step(fd, port, plan.greeting_ms, fallback, &cur);
        if (cur.len) {
            close(fd);
            print_result(&cur, "tcp");
            return 0;
        }
    }
    for (size_t i = 0; i < plan.nprobes; i++) {
        if (i > 0) {
            close(fd);
            fd = tcp_connect(3000);
            if (fd < 0)
                break;
        }
        uint8_t buf[PK_PROBE_MAX];
        int n = pk_banner_probe_build(plan.probes[i], pp, buf, sizeof buf);
        if (n < 0)
            continue;
        cur.probe = plan.probes[i];
        if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
            continue;
        read_step(fd, port, plan.reply_ms, fallback, &cur);
        if (cur.st == PK_ID_MATCH || cur.st == PK_ID_MORE) {
            close(fd);
            print_result(&cur, "tcp");
            return 0;
        }
        if (cur.st == PK_ID_UNKNOWN && !have_kept) {
            kept = cur;
            have_kept = true;
        }
    }
    if (fd >= 0)
        close(fd);
    if (have_kept) {
        print_result(&kept, "tcp");
        return 0;
    }
    cur.probe = PK_PROBE_NULL;
    cur.len = 0;
    cur.st = pk_banner_identify(port, PK_PROBE_NULL, NULL, 0, fallback, &cur.id);
    print_result(&cur, "tcp");
    return 1;
}

static const struct pk_udp_probe *module_named(const char *name)
{
    for (size_t i = 0; i < pk_udp_probe_count(); i++)
        if (strcmp(pk_udp_probe_get(i)->name, name) == 0)
            return pk_udp_probe_get(i);
    return NULL;
}

static int run_udp(unsigned port, const struct pk_probe_params *pp, const char *module,
                   const char *fallback)
{
    static struct step s;
    uint8_t payload[PK_UDP_PAYLOAD_MAX];
    const struct pk_udp_probe *m = module ? module_named(module) : pk_udp_probe_for_port(port);
    if (module && !m) {
        fprintf(stderr, "pk_svcprobe: unknown UDP module %s\n", module);
        return 2;
    }
    int n = m ? m->build(pp, payload, sizeof payload) : 0;
    if (n < 0)
        return 3;
    bool any_port = m && (m->flags & PK_UDP_REPLY_OTHER_PORT);
    int fd = socket(target.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || (!any_port && connect(fd, (struct sockaddr *)&target, target_len) < 0))
        return 3;
    s.probe = PK_PROBE_NULL;
    s.len = 0;
    for (int attempt = 0; attempt < 3 && s.len == 0; attempt++) {
        if (sendto(fd, payload, (size_t)n, 0, any_port ? (struct sockaddr *)&target : NULL,
                   any_port ? target_len : 0) < 0 && errno != ECONNREFUSED)
            break;
        long long deadline = now_ms() + (long long)(1000 * scale);
        while (now_ms() < deadline) {
            struct pollfd pfd = {fd, POLLIN, 0};
            if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
                break;
            struct sockaddr_storage from;
            socklen_t fl = sizeof from;
            ssize_t r = recvfrom(fd, s.data, sizeof s.data, 0, (struct sockaddr *)&from, &fl);
            if (r < 0)
                break; /* ICMP port unreachable: closed */
            /* only replies from the target's address count */
            bool same = from.ss_family == target.ss_family &&
                        (from.ss_family == AF_INET
                             ? ((struct sockaddr_in *)&from)->sin_addr.s_addr ==
                                   ((struct sockaddr_in *)&target)->sin_addr.s_addr
                             : memcmp(&((struct sockaddr_in6 *)&from)->sin6_addr,
                                      &((struct sockaddr_in6 *)&target)->sin6_addr, 16) == 0);
            if (same) {
                s.len = (size_t)r;
                break;
            }
        }
    }
    close(fd);
    s.st = pk_udp_reply_identify(port, payload, (size_t)n, s.data, s.len, fallback, &s.id);
    if (module && s.len && s.st != PK_ID_MATCH &&
        m->identify(payload, (size_t)n, s.data, s.len, &s.id) == PK_ID_MATCH)
        s.st = PK_ID_MATCH;
    print_result(&s, "udp");
    return s.len ? 0 : 1;
}

int main(int argc, char **argv)
{
    bool udp = false;
    struct pk_probe_params pp = {NULL, 1};
    int only = -1, opt;
    const char *module = NULL;
    while ((opt = getopt(argc, argv, "uH:n:p:s:m:")) != -1) {
        switch (opt) {
        case 'u': udp = true; break;
        case 'm': module = optarg; break;
        case 'H': pp.host = optarg; break;
        case 'n': pp.nonce = strtoull(optarg, NULL, 0); break;
        case 's': scale = atof(optarg); break;
        case 'p':
            for (int i = 0; i < PK_PROBE_COUNT; i++)
                if (strcmp(optarg, pk_probe_name((enum pk_probe_id)i)) == 0)
                    only = i;
            if (only < 0) {
                fprintf(stderr, "pk_svcprobe: unknown probe %s\n", optarg);
                return 2;
            }
            break;
        default:
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: pk_svcprobe [-u [-m module]] [-H host] [-n nonce] [-p probe] [-s scale] ADDR PORT\n");
        return 2;
    }
    unsigned port = (unsigned)atoi(argv[optind + 1]);
    if (port == 0 || port > 65535 || parse_addr(argv[optind], port) < 0) {
        fprintf(stderr, "pk_svcprobe: bad address or port\n");
        return 2;
    }
    const char *fallback = pk_registry_name(pk_registry_builtin(), port, udp ? PK_UDP : PK_TCP);
    return udp ? run_udp(port, &pp, module, fallback) : run_tcp(port, &pp, only, fallback);
}
