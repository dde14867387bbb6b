/* portkit forward: not built yet (see the issue tracker). */
#include "cli.h"

void usage_forward(FILE *out)
{
    fprintf(out, "Usage: portkit forward ...\n(not implemented yet)\n");
}

int cmd_forward(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("forward", "not implemented yet");
}
