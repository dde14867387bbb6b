/* portkit scan: not built yet (see the issue tracker). */
#include "cli.h"

void usage_scan(FILE *out)
{
    fprintf(out, "Usage: portkit scan ...\n(not implemented yet)\n");
}

int cmd_scan(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("scan", "not implemented yet");
}
