/* --top-ports: nmap-services frequencies when installed, else the
 * built-in list compiled from data/top-ports.txt. */
#include <stdlib.h>

#include "portkit/frequency.h"
#include "portkit/portspec.h"
#include "top_ports_data.h"

int pk_ports_add_top(struct pk_ports *p, enum pk_proto proto, unsigned n,
                     const char *services_path, const char **source, struct pk_err *err)
{
    if (proto != PK_TCP && proto != PK_UDP)
        return pk_err_set(err, PK_EINVAL, "--top-ports: only tcp and udp have a list");
    if (services_path && *services_path) {
        struct pk_frequency *f = NULL;
        struct pk_err ferr = {0};
        if (pk_frequency_load(services_path, &f, &ferr) == 0) {
            uint16_t *top = malloc((n ? n : 1) * sizeof *top);
            if (!top) {
                pk_frequency_free(f);
                return pk_err_set(err, PK_ENOMEM, "out of memory");
            }
            size_t got = pk_frequency_top(f, proto, n, top);
            pk_frequency_free(f);
            for (size_t i = 0; i < got; i++)
                pk_ports_add_range(p, proto, top[i], top[i]);
            free(top);
            if (got > 0) {
                if (source)
                    *source = services_path;
                return 0;
            }
        }
        /* A missing or unreadable file is not an error: the built-in list
         * is what a host without nmap uses anyway. */
    }
    const uint16_t *list = proto == PK_TCP ? pk_top_tcp : pk_top_udp;
    size_t count = proto == PK_TCP ? sizeof pk_top_tcp / sizeof pk_top_tcp[0]
                                   : sizeof pk_top_udp / sizeof pk_top_udp[0];
    for (size_t i = 0; i < count && i < n; i++)
        pk_ports_add_range(p, proto, list[i], list[i]);
    if (source)
        *source = "built-in";
    return 0;
}
