/*
 * tools/domain_tool.c — the pieces the domain subcommands share (see
 * domain_tool.h): a space named by hex id or by name, and a progress line
 * for work that runs seconds to minutes (a county's list, the province
 * generator), drawn only for a person watching a terminal.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "domain_tool.h"
#include "hex.h"
#include "tool.h"

int domain_space(dc_replica *r, const char *given, char hex[33]) {
    if (hex_is(given, 32, true)) {
        for (int i = 0; i < 32; i++)
            hex[i] = (char)(given[i] >= 'A' && given[i] <= 'F' ? given[i] - 'A' + 'a' : given[i]);
        hex[32] = '\0';
        return EXIT_OK;
    }
    dc_buf b = DC_BUF_INIT;
    int rc = dc_space_list(&b, r);
    if (rc != 0) {
        dc_buf_dispose(&b);
        return fail_r(r, rc, "listing spaces");
    }
    json_t *list = json_loadb((const char *)b.ptr, b.size, 0, NULL);
    dc_buf_dispose(&b);
    int found = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *sp = json_array_get(list, i);
        const char *name = json_string_value(json_object_get(sp, "name"));
        const char *id = json_string_value(json_object_get(sp, "space"));
        if (name && id && strcmp(name, given) == 0) {
            if (found++ == 0)
                snprintf(hex, 33, "%s", id);
        }
    }
    json_decref(list);
    if (found == 1)
        return EXIT_OK;
    if (found == 0)
        return fail("no space '%s' on this replica (give its 32-hex id or its exact name; "
                    "`drivercore space list` shows them)",
                    given);
    return fail("%d spaces are named '%s': give the 32-hex id instead", found, given);
}

/* ---- progress ---- */

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 257000 -> "257,000" */
static const char *grouped(char *out, size_t n, uint64_t v) {
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v), k = 0;
    for (int i = 0; i < len && (size_t)k + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = tmp[i];
    }
    out[k] = 0;
    return out;
}

void progress_init(progress *p, bool quiet) {
    memset(p, 0, sizeof *p);
    p->on = !quiet && isatty(STDERR_FILENO);
}

void progress_stage(progress *p, const char *stage, const char *unit, uint64_t total) {
    if (!p->on)
        return;
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->total = total;
    p->t0 = mono_s();
    p->last = 0;
    progress_update(p, 0, 0.0);
}

void progress_update(progress *p, uint64_t done, double fraction) {
    if (!p->on)
        return;
    double now = mono_s();
    if (p->drawn && now - p->last < 0.1)
        return;
    p->last = now;
    if (fraction < 0)
        fraction = p->total ? (double)done / (double)p->total : -1;
    char a[32], t[32], left[48] = "";
    double secs = now - p->t0;
    double rate = secs > 0.05 ? (double)done / secs : 0;
    if (fraction > 0.01 && fraction < 1 && secs > 0.5)
        snprintf(left, sizeof left, ", %.0f s left", secs * (1 - fraction) / fraction);
    if (p->total)
        fprintf(stderr, "\r%s: %s / %s %s (%.0f%%), %.0f/s%s\033[K", p->stage,
                grouped(a, sizeof a, done), grouped(t, sizeof t, p->total), p->unit,
                fraction >= 0 ? 100 * fraction : 0.0, rate, left);
    else if (fraction >= 0)
        fprintf(stderr, "\r%s: %s %s (%.0f%%), %.0f/s%s\033[K", p->stage,
                grouped(a, sizeof a, done), p->unit, 100 * fraction, rate, left);
    else
        fprintf(stderr, "\r%s: %s %s, %.0f/s\033[K", p->stage, grouped(a, sizeof a, done), p->unit,
                rate);
    fflush(stderr);
    p->drawn = true;
}

void progress_end(progress *p) {
    if (!p->on || !p->drawn)
        return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    p->drawn = false;
}

int progress_callback(void *user, uint64_t done, uint64_t bytes_done, uint64_t bytes_total) {
    progress_update(user, done, bytes_total ? (double)bytes_done / (double)bytes_total : -1.0);
    return 0;
}
