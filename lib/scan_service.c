/* The service-identification stage (placeholder until banner.h lands). */
#include <unistd.h>

#include "scan_impl.h"

static int stage_start(struct pk_scan *s, struct scan_job *j, int fd)
{
    (void)s;
    (void)j;
    (void)fd;
    return -1;
}

static void stage_abort(struct pk_scan *s, struct scan_job *j)
{
    (void)s;
    (void)j;
}

const struct scan_service_stage pks_banner_stage = {
    .start = stage_start,
    .abort = stage_abort,
};
