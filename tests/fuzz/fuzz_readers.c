/*
 * fuzz_readers.c - the libFuzzer target over every reader of gt.
 *
 * An input is a memory image (tools/observe/memory_image.h): a registry,
 * its chunks, records and stacks at the addresses the image states.  Each
 * input is read the way the readers read a target, with their own code:
 *
 *   gt-stacks   text, --json, --all --json, --folded --no-fastpath
 *   gt-waste    text and --json (snapshot with unwinding and measures)
 *   gt-top -b   one snapshot unwound and measured, every view printed as
 *               text and JSON, Prometheus and DOT
 *
 * gt-stacks' and gt-waste's main() are compiled in under other names
 * (fuzz.mk), with their target_open (tools/target_open.c) replaced by the one
 * below, which opens the current image; gt-top's sampler is given the
 * image's target as sampler_open would give it a core's.  Output goes to
 * /dev/null (run with -close_fd_mask=3: libFuzzer's and the sanitizers'
 * reports keep the real stderr).
 *
 * The image names its program by number (its `program` field): 1..N are
 * the fixture programs fuzz.mk passes in GT_FUZZ_PROGRAMS, whose files
 * give the symbols and the text; 0 leaves the target without either.
 *
 * A crash, a sanitizer report, a leak, a timeout or more than the RSS
 * limit is a bug in a reader: every one of these inputs is hostile, and
 * the readers promise one line and exit status 1 for it.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "common.h"
#include "internal.h"
#include "memory_image.h"
#include "sampler.h"
#include "tables.h"

int fuzz_main_gt_stacks(int argc, char **argv);
int fuzz_main_gt_waste(int argc, char **argv);

#ifndef GT_FUZZ_PROGRAMS
#define GT_FUZZ_PROGRAMS ""
#endif

#define MAX_PROGRAMS 8
static char *programs[MAX_PROGRAMS];
static size_t nprograms;
static FILE *devnull;

static const uint8_t *image;
static size_t image_len;

/* The program file the image names, NULL for none. */
static const char *program_of(const uint8_t *data, size_t len)
{
    struct gto_image_head h;
    if (len < sizeof(h))
        return NULL;
    memcpy(&h, data, sizeof(h));
    return h.program >= 1 && h.program <= nprograms ? programs[h.program - 1] : NULL;
}

static gto_target *open_image(char *err)
{
    gto_target *t;
    if (gto__open_memory(image, image_len, program_of(image, image_len), &t, err) < 0)
        return NULL;
    return t;
}

/* tools/target_open.c's, for the tools compiled in: every target is the
 * current image. */
gto_target *target_open(const char *prog, const struct target_args *a)
{
    (void)a;
    char err[GTO_ERR_MAX];
    gto_target *t = open_image(err);
    if (!t)
        fprintf(stderr, "%s: %s\n", prog, err);
    return t;
}

int target_args_check(const struct target_args *a, char *err, size_t len)
{
    if (!a->core)
        snprintf(err, len, "the fuzz target reads --core only");
    return a->core ? 0 : -1;
}

static void run_tool(int (*tool)(int, char **), const char *name, ...)
{
    char *argv[8];
    int argc = 0;
    va_list ap;
    va_start(ap, name);
    argv[argc++] = (char *)name;
    argv[argc++] = (char *)"--core";
    argv[argc++] = (char *)"image";
    for (const char *a; argc < 7 && (a = va_arg(ap, const char *));)
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    tool(argc, argv);
    fflush(stdout);
}

/* gt-top -b over the image: one snapshot with everything, every view. */
static void run_gt_top(void)
{
    char err[GTO_ERR_MAX];
    struct sampler s;
    memset(&s, 0, sizeof(s));
    s.target = open_image(err);
    if (!s.target)
        return;
    s.flags = GTO_SNAP_UNWIND | GTO_SNAP_MEASURE | GTO_SNAP_BLOCKERS;
    if (sampler_step(&s, err) == 0) {
        struct tables tb;
        if (tables_build(&tb, &s, 1) == 0) {
            struct row_order order = {-1, 0};
            for (int v = 0; v < VIEW_COUNT; v++)
                for (int f = FORMAT_TEXT; f <= FORMAT_JSON; f++)
                    batch_print(devnull, &s, &tb, (enum view)v, (enum format)f,
                                order, (enum gto_class_by)(v % 3));
            batch_print(devnull, &s, &tb, VIEW_LOCATIONS, FORMAT_PROMETHEUS, order,
                        GTO_CLASS_BY_ENTRY);
            batch_print(devnull, &s, &tb, VIEW_GRAPH, FORMAT_DOT, order,
                        GTO_CLASS_BY_ENTRY);
        }
        tables_free(&tb);
    }
    sampler_close(&s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *list = getenv("GT_FUZZ_PROGRAMS");
    char *copy = strdup(list ? list : GT_FUZZ_PROGRAMS);
    for (char *save = NULL, *p = strtok_r(copy, ":", &save);
         p && nprograms < MAX_PROGRAMS; p = strtok_r(NULL, ":", &save))
        programs[nprograms++] = p;
    devnull = fopen("/dev/null", "we");
    if (!devnull)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    image = data;
    image_len = size;
    char err[GTO_ERR_MAX];
    gto_target *t = open_image(err);
    if (!t)
        return -1;  /* not an image: not worth keeping in the corpus */
    gto_close(t);
    run_tool(fuzz_main_gt_stacks, "gt-stacks", NULL);
    run_tool(fuzz_main_gt_stacks, "gt-stacks", "--json", NULL);
    run_tool(fuzz_main_gt_stacks, "gt-stacks", "--all", "--json", NULL);
    run_tool(fuzz_main_gt_stacks, "gt-stacks", "--folded", "--no-fastpath", NULL);
    run_tool(fuzz_main_gt_waste, "gt-waste", NULL);
    run_tool(fuzz_main_gt_waste, "gt-waste", "--json", "--class-by", "prefix", NULL);
    run_gt_top();
    return 0;
}
