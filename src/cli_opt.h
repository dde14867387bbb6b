/* getopt errors in the project's one-line form, "portkit: VERB: ...", for
 * verbs that run getopt_long with opterr = 0 and an optstring starting
 * with ':'. (Candidate for cli.h.) */
#ifndef PORTKIT_CLI_OPT_H
#define PORTKIT_CLI_OPT_H

/* opt is what getopt_long returned ('?' or ':'); returns CLI_USAGE. */
int cli_option_error(const char *verb, char **argv, int opt);

#endif
