/* portkit free: not built yet (see the issue tracker). */
#include "cli.h"

void usage_free(FILE *out)
{
    fprintf(out, "Usage: portkit free ...\n(not implemented yet)\n");
}

int cmd_free(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("free", "not implemented yet");
}
