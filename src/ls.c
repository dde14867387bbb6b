/* portkit ls: not built yet (see the issue tracker). */
#include "cli.h"

void usage_ls(FILE *out)
{
    fprintf(out, "Usage: portkit ls ...\n(not implemented yet)\n");
}

int cmd_ls(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("ls", "not implemented yet");
}
