/*
 * running.c - what gt-stacks and gt-waste say of the thread on the CPU
 * (common.h): one line of text, two JSON members, the same in both.
 * Apart from common.c, whose target opening the fuzzer replaces.
 */
#include "common.h"

void print_sampled(const gto_snapshot *s, const struct gto_thread *th, const char *sep)
{
    const struct gto_counters *c = gto_snapshot_counters(s);
    char age[40];
    if (th->sampled)
        printf("%s(stack sampled %s ago)", sep,
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
    if (h.th->sampled)
        print_sampled(s, h.th, " ");
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
