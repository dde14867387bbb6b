/* The nmap XML importer (history import, diff and report of XML files) on
 * arbitrary bytes, into a database in memory. Whatever the input, an
 * import either stores one whole run or nothing, and what it stored reads
 * back and diffs against itself with no change. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "portkit/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_run(void *arg, const struct pk_run *r)
{
    (void)r;
    ++*(int *)arg;
    return 0;
}

static int no_change(void *arg, const struct pk_change *c)
{
    (void)arg;
    (void)c;
    __builtin_trap();
}

static int walk_row(void *arg, const struct pk_history_host *h, const struct pk_history_port *p)
{
    (void)arg;
    if (!h->addr || (p && (p->port == 0 || p->state == PK_STATE_CLOSED)))
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pk_history *h;
    if (size > (1u << 20))
        return 0;
    if (!h && pk_history_open(":memory:", 0, &h, NULL) < 0)
        abort();
    struct pk_err err = {0};
    int64_t id = 0;
    int rc = pk_history_import_xml_mem(h, (const char *)data, size, "fuzz", NULL, &id, &err);
    int runs = 0;
    pk_history_runs(h, count_run, &runs, NULL);
    if (rc < 0) {
        if (runs != 0 || !err.msg[0])
            __builtin_trap(); /* a failed import leaves nothing, and says why */
        return 0;
    }
    if (runs != 1 || pk_history_walk(h, id, walk_row, NULL, NULL) < 0 ||
        pk_history_diff(h, id, h, id, no_change, NULL, NULL, NULL) < 0)
        __builtin_trap();
    pk_history_remove(h, id, NULL);
    return 0;
}
