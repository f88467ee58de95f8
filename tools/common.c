/*
 * common.c - see common.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int target_args_check(const struct target_args *a, char *err, size_t len)
{
    if (a->pid && a->core)
        snprintf(err, len, "give a PID or --core CORE, not both");
    else if (!a->pid && !a->core)
        snprintf(err, len, "no target: give a PID, or a core file with --core CORE");
    else if (a->exe && !a->core)
        snprintf(err, len, "--exe EXE goes with a core given by --core CORE "
                 "(a live process names its own program)");
    else if (a->pid) {
        char *end;
        errno = 0;
        long v = strtol(a->pid, &end, 10);
        if (errno || *end || end == a->pid || v <= 0 || v > 0x3fffffff) {
            char pid[64];
            gto_text_safe(a->pid, strlen(a->pid), pid, sizeof(pid));
            snprintf(err, len, "'%s' is not a process id", pid);
        }
        else
            return 0;
    } else
        return 0;
    return -1;
}

gto_target *target_open(const char *prog, const struct target_args *a)
{
    char err[GTO_ERR_MAX];
    gto_target *t = NULL;
    int rc = a->core ? gto_open_core(a->core, a->exe, &t, err)
                     : gto_open_pid((pid_t)strtol(a->pid, NULL, 10), &t, err);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return NULL;
    }
    return t;
}

void print_sampled(const gto_snapshot *s, const struct gto_thread *th)
{
    const struct gto_counters *c = gto_snapshot_counters(s);
    char age[40];
    if (th->sampled)
        printf("  (stack sampled %s ago)",
               gto_fmt_age(c->now > th->sample_ns ? c->now - th->sample_ns : 0,
                           c->now_exact, age, sizeof(age)));
}

void print_running_text(const gto_snapshot *s)
{
    struct gto_hog h;
    char buf[256];
    if (!gto_hog(s, &h))
        return;
    printf("  %s: %s", h.hog ? "hog" : "running", gto_hog_describe(s, &h, buf, sizeof(buf)));
    print_sampled(s, h.th);
    putchar('\n');
}

void print_json_running(const gto_snapshot *s)
{
    const struct gto_counters *c = gto_snapshot_counters(s);
    struct gto_hog h;
    printf("\"running\": ");
    if (gto_hog(s, &h)) {
        printf("{\"id\": %llu, \"name\": ", (unsigned long long)h.th->id);
        gto_json_string(stdout, h.th->name);
        if (h.run_known)
            printf(", \"run_ns\": %llu", (unsigned long long)h.run_ns);
        else
            printf(", \"run_ns\": null");
        printf(", \"run_exact\": %s, \"hog\": %s, \"threshold_ns\": %llu, "
               "\"sampled\": %s, \"sample_age_ns\": ",
               h.run_known && h.run_exact ? "true" : "false", h.hog ? "true" : "false",
               (unsigned long long)h.threshold_ns, h.th->sampled ? "true" : "false");
        if (h.th->sampled)
            printf("%llu}", (unsigned long long)(c->now > h.th->sample_ns
                                                     ? c->now - h.th->sample_ns : 0));
        else
            printf("null}");
    } else {
        printf("null");
    }
    printf(", \"watchdog\": {\"threshold_ns\": %llu, \"events\": %llu}",
           (unsigned long long)c->watchdog_ns, (unsigned long long)c->watchdog_events);
}
