/* portkit free: ports that are free to bind right now, proven by binding. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "portkit/freeport.h"
#include "portkit/hostinfo.h"

void usage_free(FILE *out)
{
    fprintf(out,
            "Usage: portkit free [OPTIONS]\n"
            "Print a port that is free right now, checked by binding it on the wildcard\n"
            "address (IPv4 and IPv6), not guessed from a socket list.\n\n"
            "Options:\n"
            "  -t, --tcp            free for TCP (the default)\n"
            "  -u, --udp            free for UDP instead\n"
            "  -b, --both           free for TCP and UDP alike\n"
            "  -r, --range LO-HI    search there (default: the registered range 1024-49151\n"
            "                       minus this host's ephemeral range, so no client takes it)\n"
            "  -U, --unassigned     skip ports IANA has assigned or reserved, and ports\n"
            "                       portkit knows a de-facto use for\n"
            "  -n, --count COUNT    print COUNT distinct ports, one a line\n"
            "  -h, --help           this help\n\n"
            "The search starts at a random place in the range, so scripts running at once\n"
            "rarely pick the same port. Nothing reserves the port: bind it soon.\n"
            "Exit status: 0 found, 1 not enough free ports, 2 bad input.\n");
}

int cmd_free(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tcp", no_argument, NULL, 't'},
        {"udp", no_argument, NULL, 'u'},
        {"both", no_argument, NULL, 'b'},
        {"range", required_argument, NULL, 'r'},
        {"unassigned", no_argument, NULL, 'U'},
        {"count", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct pk_freeport_opts o = {0};
    unsigned protos = 0;
    unsigned long count = 1;
    int opt;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":tubr:Un:h", opts, NULL)) != -1) {
        switch (opt) {
        case 't': protos |= PK_PROTO_MASK(PK_TCP); break;
        case 'u': protos |= PK_PROTO_MASK(PK_UDP); break;
        case 'b': protos |= PK_PROTO_MASK(PK_TCP) | PK_PROTO_MASK(PK_UDP); break;
        case 'r': {
            struct pk_err err = {0};
            if (pk_portrange_parse(optarg, &o.lo, &o.hi, &err) < 0)
                return cli_usage_error("free", "--range: %s", err.msg);
            break;
        }
        case 'U': o.unassigned = true; break;
        case 'n': {
            unsigned long long v;
            if (cli_parse_uint("free", "--count", optarg, 1, 65535, &v))
                return CLI_USAGE;
            count = (unsigned long)v;
            break;
        }
        case 'h': usage_free(stdout); return CLI_OK;
        default: return cli_option_error("free", argv, opt);
        }
    }
    if (optind < argc)
        return cli_usage_error("free", "unexpected argument '%s' (a range is given with --range)",
                               argv[optind]);
    o.protos = protos ? protos : PK_PROTO_MASK(PK_TCP);
    if (o.unassigned && !(o.reg = cli_registry("free")))
        return CLI_USAGE;
    struct pk_hostinfo host;
    pk_hostinfo_read(&host, NULL);
    o.host = &host;
    if (o.lo && o.lo < host.unprivileged_start && !pk_have_capability(PK_CAP_NET_BIND_SERVICE)) {
        if (o.hi < host.unprivileged_start)
            return cli_usage_error("free", "ports below %u (net.ipv4.ip_unprivileged_port_start) need "
                                           "privilege: run as root or search from %u up",
                                   host.unprivileged_start, host.unprivileged_start);
        cli_message("free", "searching from %u: lower ports need privilege "
                            "(net.ipv4.ip_unprivileged_port_start)", host.unprivileged_start);
        o.lo = host.unprivileged_start;
    }

    unsigned *ports = calloc(count, sizeof *ports);
    if (!ports)
        return CLI_FAIL;
    struct pk_err err = {0};
    int rc = pk_freeport_find(&o, ports, count, &err);
    if (rc < 0) {
        free(ports);
        return cli_lib_error("free", &err);
    }
    for (unsigned long i = 0; i < count; i++)
        printf("%u\n", ports[i]);
    free(ports);
    return CLI_OK;
}
