/* portkit who: not built yet (see the issue tracker). */
#include "cli.h"

void usage_who(FILE *out)
{
    fprintf(out, "Usage: portkit who ...\n(not implemented yet)\n");
}

int cmd_who(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_usage_error("who", "not implemented yet");
}
