/*
 * tools/domain_tool.h — what the domain subcommands (registry, case,
 * demo-data) share beyond tool.h: naming a space by its hex id or its name,
 * and the progress line of long work (docs/domain.md, "Progress").
 */
#ifndef DRIVERCORE_DOMAIN_TOOL_H
#define DRIVERCORE_DOMAIN_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "drivercore.h"

/* A space given as its hex id, or as its name when exactly one space this
 * replica knows has that name.  EXIT_OK, or the exit status after a message
 * on stderr. */
int domain_space(dc_replica *r, const char *given, char hex[33]);

/* ---- the progress line ----
 * One line on stderr, rewritten in place ("\r... \033[K"), at most ten
 * times a second: stage, count, rate and time left.  Shown only when
 * stderr is a terminal and not asked to be quiet; otherwise every call is
 * a no-op, so scripts see nothing and stdout never changes. */
typedef struct progress {
    bool on;
    double t0, last; /* start of the stage, last line drawn */
    char stage[96], unit[24];
    uint64_t total; /* 0: unknown */
    bool drawn;
} progress;

void progress_init(progress *p, bool quiet);
/* A new stage of `total` units (0: unknown). */
void progress_stage(progress *p, const char *stage, const char *unit, uint64_t total);
/* `done` units so far; `fraction` of the stage done (0..1), or a negative
 * value to derive it from done/total. */
void progress_update(progress *p, uint64_t done, double fraction);
/* Clears the line (the work printed nothing else on stderr meanwhile). */
void progress_end(progress *p);

/* A dc_progress_fn drawing into the progress given as `user`. */
int progress_callback(void *user, uint64_t done, uint64_t bytes_done, uint64_t bytes_total);

#endif
