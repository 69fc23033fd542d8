/*
 * Group commit (docs/relay.md, "One box"): the sync steps of many sessions
 * run on many threads, but what they import goes to one writer thread,
 * which takes every bundle waiting when it is free and stores them all in
 * one transaction — one fsync for many sessions' writes.  Each step waits
 * for the commit of its own group before it builds its reply, so nothing
 * is acknowledged to a device before it is durable.
 *
 * No timer forms the groups: while one transaction commits (an fsync is a
 * millisecond or more), the bundles of the steps that arrive meanwhile
 * queue, and the next transaction takes them all.  One device alone pays
 * one fsync, as before; a hundred pay about one between them.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "relay/commit.h"

typedef struct node {
    struct node *next;
    dc__import_req *req;
    bool done;
} node;

struct dc__committer {
    dc__commit_fn fn;
    void *user;
    size_t max_batch, max_bytes;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    node *head, **tail;
    bool stop;
    pthread_t th;
    bool started;
    dc__commit_stats stats;
    dc__err last; /* the last group's error (code 0: it committed) */
};

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const double commit_bounds[DC__COMMIT_NLAT] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,  0.1,    0.25,  1.0};

static void *writer(void *arg) {
    dc__committer *c = arg;
    node **batch = dc__calloc(c->max_batch, sizeof *batch);
    dc__import_req *reqs = dc__calloc(c->max_batch, sizeof *reqs);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->head && !c->stop)
            pthread_cond_wait(&c->work, &c->mu);
        if (!c->head && c->stop)
            break;
        /* Everything waiting, within the group's limits (one bundle at
         * least, however big). */
        size_t n = 0, bytes = 0;
        while (c->head && n < c->max_batch &&
               (n == 0 || bytes + c->head->req->size <= c->max_bytes)) {
            node *x = c->head;
            c->head = x->next;
            if (!c->head)
                c->tail = &c->head;
            bytes += x->req->size;
            batch[n++] = x;
        }
        pthread_mutex_unlock(&c->mu);
        int rc;
        dc__err err = {0};
        double t0 = mono_s();
        if (!batch || !reqs) {
            rc = dc__err_set(&err, DC_ENOMEM, "relay: out of memory");
            for (size_t i = 0; i < n; i++) {
                batch[i]->req->rc = rc;
                batch[i]->req->err = err;
            }
        } else {
            /* The writer works on copies, so a request's memory is its
             * thread's until it is handed back. */
            for (size_t i = 0; i < n; i++)
                reqs[i] = *batch[i]->req;
            rc = c->fn(c->user, reqs, n, &err);
            for (size_t i = 0; i < n; i++)
                *batch[i]->req = reqs[i];
        }
        double dt = mono_s() - t0;
        pthread_mutex_lock(&c->mu);
        c->stats.groups++;
        c->stats.bundles += n;
        c->stats.bytes += bytes;
        c->stats.failed += rc != 0;
        c->last = err;
        if (!rc)
            c->last.code = 0;
        if (n > c->stats.largest)
            c->stats.largest = n;
        int k = 0;
        while (k < DC__COMMIT_NLAT && dt > commit_bounds[k])
            k++;
        c->stats.lat[k]++;
        c->stats.lat_sum += dt;
        for (size_t i = 0; i < n; i++)
            batch[i]->done = true;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    dc__free(batch);
    dc__free(reqs);
    return NULL;
}

int dc__committer_new(dc__committer **out, dc__commit_fn fn, void *user, size_t max_batch,
                      size_t max_bytes) {
    *out = NULL;
    dc__committer *c = dc__calloc(1, sizeof *c);
    if (!c)
        return DC_ENOMEM;
    c->fn = fn;
    c->user = user;
    c->max_batch = max_batch ? max_batch : 256;
    c->max_bytes = max_bytes ? max_bytes : (size_t)32 << 20;
    c->tail = &c->head;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->done, NULL);
    if (pthread_create(&c->th, NULL, writer, c) != 0) {
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->work);
        pthread_cond_destroy(&c->done);
        dc__free(c);
        return DC_ENOMEM;
    }
    c->started = true;
    *out = c;
    return 0;
}

int dc__committer_submit(dc__committer *c, dc__import_req *req) {
    node x = {NULL, req, false};
    pthread_mutex_lock(&c->mu);
    if (c->stop) {
        pthread_mutex_unlock(&c->mu);
        req->rc = dc__err_set(&req->err, DC_EBUSY, "relay: the store is closing");
        return req->rc;
    }
    *c->tail = &x;
    c->tail = &x.next;
    pthread_cond_signal(&c->work);
    while (!x.done)
        pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
    return req->rc;
}

int dc__committer_submit_many(dc__committer *c, dc__import_req *reqs, size_t n) {
    if (n == 0)
        return 0;
    node *xs = dc__calloc(n, sizeof *xs);
    if (!xs) {
        for (size_t i = 0; i < n; i++)
            reqs[i].rc = dc__err_set(&reqs[i].err, DC_ENOMEM, "relay: out of memory");
        return DC_ENOMEM;
    }
    pthread_mutex_lock(&c->mu);
    if (c->stop) {
        pthread_mutex_unlock(&c->mu);
        dc__free(xs);
        for (size_t i = 0; i < n; i++)
            reqs[i].rc = dc__err_set(&reqs[i].err, DC_EBUSY, "relay: the store is closing");
        return DC_EBUSY;
    }
    for (size_t i = 0; i < n; i++) {
        xs[i].req = &reqs[i];
        *c->tail = &xs[i];
        c->tail = &xs[i].next;
    }
    pthread_cond_signal(&c->work);
    for (size_t i = 0; i < n; i++)
        while (!xs[i].done)
            pthread_cond_wait(&c->done, &c->mu);
    pthread_mutex_unlock(&c->mu);
    dc__free(xs);
    for (size_t i = 0; i < n; i++)
        if (reqs[i].rc)
            return reqs[i].rc;
    return 0;
}

void dc__committer_stats(dc__committer *c, dc__commit_stats *out) {
    pthread_mutex_lock(&c->mu);
    *out = c->stats;
    pthread_mutex_unlock(&c->mu);
}

int dc__committer_health(dc__committer *c, dc__err *err) {
    pthread_mutex_lock(&c->mu);
    int rc = c->last.code;
    if (rc)
        *err = c->last;
    pthread_mutex_unlock(&c->mu);
    return rc ? dc__err_prefix(err, "the store's last commit failed") : 0;
}

void dc__committer_free(dc__committer *c) {
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    if (c->started)
        pthread_join(c->th, NULL);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->work);
    pthread_cond_destroy(&c->done);
    dc__free(c);
}

int dc__committer_metrics(dc__committer *c, dc_buf *out, const char *store) {
    dc__commit_stats s;
    dc__committer_stats(c, &s);
    int w = dc__buf_printf(
        out,
        "# HELP drivercore_relay_commit_groups_total Store transactions that committed pushed "
        "bundles (one fsync each).\n# TYPE drivercore_relay_commit_groups_total counter\n"
        "drivercore_relay_commit_groups_total{store=\"%s\"} %llu\n"
        "# HELP drivercore_relay_commit_bundles_total Pushed bundles committed in those "
        "transactions.\n# TYPE drivercore_relay_commit_bundles_total counter\n"
        "drivercore_relay_commit_bundles_total{store=\"%s\"} %llu\n"
        "# HELP drivercore_relay_commit_bytes_total Bytes of the bundles committed.\n"
        "# TYPE drivercore_relay_commit_bytes_total counter\n"
        "drivercore_relay_commit_bytes_total{store=\"%s\"} %llu\n"
        "# HELP drivercore_relay_commit_failures_total Store transactions that failed (every "
        "bundle in them refused, none acknowledged).\n"
        "# TYPE drivercore_relay_commit_failures_total counter\n"
        "drivercore_relay_commit_failures_total{store=\"%s\"} %llu\n"
        "# HELP drivercore_relay_commit_group_max Most bundles one transaction took.\n"
        "# TYPE drivercore_relay_commit_group_max gauge\n"
        "drivercore_relay_commit_group_max{store=\"%s\"} %llu\n"
        "# HELP drivercore_relay_commit_seconds Time of one group's transaction, fsync "
        "included.\n# TYPE drivercore_relay_commit_seconds histogram\n",
        store, (unsigned long long)s.groups, store, (unsigned long long)s.bundles, store,
        (unsigned long long)s.bytes, store, (unsigned long long)s.failed, store,
        (unsigned long long)s.largest);
    uint64_t cum = 0;
    for (int i = 0; i < DC__COMMIT_NLAT; i++) {
        cum += s.lat[i];
        w |= dc__buf_printf(out,
                            "drivercore_relay_commit_seconds_bucket{store=\"%s\",le=\"%g\"} %llu\n",
                            store, commit_bounds[i], (unsigned long long)cum);
    }
    cum += s.lat[DC__COMMIT_NLAT];
    w |= dc__buf_printf(out,
                        "drivercore_relay_commit_seconds_bucket{store=\"%s\",le=\"+Inf\"} %llu\n"
                        "drivercore_relay_commit_seconds_sum{store=\"%s\"} %.6f\n"
                        "drivercore_relay_commit_seconds_count{store=\"%s\"} %llu\n",
                        store, (unsigned long long)cum, store, s.lat_sum, store,
                        (unsigned long long)cum);
    return w ? DC_ENOMEM : 0;
}
