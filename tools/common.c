/*
 * common.c - see common.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gt.h>

#include "common.h"

/* --version and -V, in every tool that links this file (argp calls the
 * hook in place of printing argp_program_version, so gt-core's own string
 * gives way to it): the first line as GNU tools write it, the version
 * last; then the registry ABI the tool reads, which is what decides
 * whether it can read a given program. */
static void print_version(FILE *f, struct argp_state *st)
{
    fprintf(f, "%s (gt) %d.%d\nregistry ABI %u\n", st ? st->name : "gt",
            GT_VERSION_MAJOR, GT_VERSION_MINOR, GT_REGISTRY_ABI);
}
void (*argp_program_version_hook)(FILE *, struct argp_state *) = print_version;

error_t target_parse_opt(int key, char *arg, struct argp_state *st,
                         struct target_args *a)
{
    switch (key) {
    case 'p':
    case ARGP_KEY_ARG:
        if (a->pid) {
            char extra[64];
            gto_text_safe(arg, strlen(arg), extra, sizeof(extra));
            argp_error(st, "one PID only ('%s' is extra)", extra);
        }
        a->pid = arg;
        return 0;
    case 'c': a->core = arg; return 0;
    case 'e': a->exe = arg; return 0;
    case 'h':
        argp_state_help(st, stdout, ARGP_HELP_STD_HELP);
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

void print_capture_text(const gto_target *t)
{
    const struct gt_core_capture *c = gto_target_capture(t);
    char line[160];
    if (c)
        printf("  %s\n", gto_fmt_capture(c, line, sizeof(line)));
}
