/*
 * Group commit for the relay's stores (commit.c): one writer thread takes
 * the bundles that sessions on many threads submit and stores each group
 * in one transaction; a submitter returns once its group has committed.
 */
#ifndef DC_RELAY_COMMIT_H
#define DC_RELAY_COMMIT_H

#include "replica/import_port.h"

/* Stores a group of bundles in one transaction: each request gets its rc
 * and counts (as dc__import_group).  Returns the transaction's error, or 0. */
typedef int (*dc__commit_fn)(void *user, dc__import_req *reqs, size_t n, dc__err *err);

typedef struct dc__committer dc__committer;

/* A writer thread calling fn; groups of at most max_batch bundles and
 * max_bytes (0: 256 and 32 MiB; a bigger bundle goes alone). */
int dc__committer_new(dc__committer **out, dc__commit_fn fn, void *user, size_t max_batch,
                      size_t max_bytes);
/* Queues `req` and waits until the transaction holding it has committed
 * or failed; returns req->rc. */
int dc__committer_submit(dc__committer *c, dc__import_req *req);
/* Queues n requests at once (they may share one transaction) and waits
 * for them all; each gets its own rc.  Returns the first non-zero rc, or 0. */
int dc__committer_submit_many(dc__committer *c, dc__import_req *reqs, size_t n);
/* Commits what is queued, then stops the thread.  NULL is a no-op. */
void dc__committer_free(dc__committer *c);

#define DC__COMMIT_NLAT 10
typedef struct dc__commit_stats {
    uint64_t groups, bundles, bytes, failed, largest;
    uint64_t lat[DC__COMMIT_NLAT + 1];
    double lat_sum;
} dc__commit_stats;
void dc__committer_stats(dc__committer *c, dc__commit_stats *out);
/* 0 when the last group committed (or none ran yet); else its error. */
int dc__committer_health(dc__committer *c, dc__err *err);
/* The figures as Prometheus text, labelled store="..." (appended). */
int dc__committer_metrics(dc__committer *c, dc_buf *out, const char *store);

#endif
