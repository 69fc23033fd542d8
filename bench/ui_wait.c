/*
 * bench_ui_wait — issue 9's row: how long a write from the app's UI thread
 * waits while a sync in the background applies 10,000 changes to the same
 * replica file.  The UI thread has its own handle on the file (the app's
 * way: one handle per thread, docs/threading.md) and commits a one-op
 * transaction every 10 ms; the sync thread runs a whole session with the
 * sender on its own handle.  Each UI write is timed from dc_txn_begin to the
 * end of dc_txn_commit.  The baseline is the same UI writes with no sync
 * running, measured in the same run.
 *
 * Prints {"bench":"ui_wait","changes":N,"writes":W,"p50_ms":..,"p99_ms":..,
 * "max_ms":..,"baseline_p99_ms":..,"sync_s":..,"target_p99_ms":50}.
 *   bench_ui_wait [N]      (default 10000)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drivercore.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void die(const char *what, dc_replica *r) {
    fprintf(stderr, "bench_ui_wait: %s: %s\n", what, r ? dc_replica_errmsg(r) : dc_error_last());
    exit(1);
}

static dc_replica *open_path(const char *path, const char *name) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = name;
    dc_replica *r;
    if (dc_replica_open(&r, path, &o))
        die("open", NULL);
    return r;
}

/* One whole session: `init` (initiator) with `resp`, in this thread. */
static void sync_pair(dc_replica *init, dc_replica *resp) {
    dc_sync *si, *sr;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    int di = 0, dr = 0;
    if (dc_sync_new(&si, init, DC_SYNC_INITIATOR) || dc_sync_new(&sr, resp, DC_SYNC_RESPONDER))
        die("sync", init);
    if (dc_sync_step(si, &m, &di, NULL, 0))
        die("sync step", init);
    while (m.size) {
        if (dc_sync_step(sr, &reply, &dr, m.ptr, m.size))
            die("sync step (sender)", resp);
        if (!reply.size)
            break;
        if (dc_sync_step(si, &m, &di, reply.ptr, reply.size))
            die("sync step (receiver)", init);
    }
    dc_sync_free(si);
    dc_sync_free(sr);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
}

typedef struct ui {
    dc_replica *r;
    const char *space;
    volatile int *stop;
    double *lat;
    size_t n, cap;
} ui;

static void *ui_main(void *arg) {
    ui *u = arg;
    char id[32];
    while (!*u->stop) {
        double t0 = now_ms();
        dc_txn *t;
        snprintf(id, sizeof id, "ui-%zu", u->n);
        if (dc_txn_begin(&t, u->r, u->space) ||
            dc_txn_set(t, "note", id, "text", DC_STR, 0, "typed by the driver") ||
            dc_txn_commit(t, NULL))
            die("UI write", u->r);
        if (u->n < u->cap)
            u->lat[u->n++] = now_ms() - t0;
        usleep(10000);
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p) {
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 10000;
    char dir[] = "/tmp/dc-uiwait-XXXXXX", pa[64], pb[64];
    if (!mkdtemp(dir) || n <= 0)
        return 1;
    snprintf(pa, sizeof pa, "%s/office.db", dir);
    snprintf(pb, sizeof pb, "%s/phone.db", dir);
    dc_replica *a = open_path(pa, "office"), *b = open_path(pb, "phone");
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT, bun = DC_BUF_INIT;
    if (dc_space_create(&sp, a, "branch") || dc_replica_card(&card, b) ||
        dc_space_add(a, (const char *)sp.ptr, (const char *)card.ptr, DC_ROLE_MEMBER))
        die("space", a);
    const char *space = (const char *)sp.ptr;
    /* The phone is enrolled before the history is written. */
    if (dc_bundle_export(&bun, a, NULL) || dc_bundle_import(b, bun.ptr, bun.size, NULL) ||
        dc_space_accept(b, space, 0))
        die("enrol", b);
    char id[32];
    for (long i = 0; i < n; i++) {
        dc_txn *t;
        snprintf(id, sizeof id, "d%05ld", i % 5000);
        if (dc_txn_begin(&t, a, space) || dc_txn_set(t, "driver", id, "n", DC_INT, i, NULL) ||
            dc_txn_commit(t, NULL))
            die("write", a);
    }
    /* The UI thread's own handle on the phone's file. */
    dc_replica *bu = open_path(pb, "phone");
    volatile int stop = 0;
    ui u = {bu, space, &stop, calloc(100000, sizeof(double)), 0, 100000};
    /* Baseline: the UI's writes with nothing else running, ~1 s. */
    pthread_t th;
    pthread_create(&th, NULL, ui_main, &u);
    usleep(1000000);
    stop = 1;
    pthread_join(th, NULL);
    size_t nb = u.n;
    qsort(u.lat, nb, sizeof *u.lat, cmp);
    double base99 = pct(u.lat, nb, 0.99);
    /* Now with the sync applying N changes on the other handle. */
    u.n = 0;
    stop = 0;
    pthread_create(&th, NULL, ui_main, &u);
    double t0 = now_ms();
    sync_pair(b, a);
    double sync_ms = now_ms() - t0;
    stop = 1;
    pthread_join(th, NULL);
    dc_buf st = DC_BUF_INIT;
    if (dc_replica_status(&st, b))
        die("status", b);
    const char *c = strstr((const char *)st.ptr, "\"changes\":");
    long held = c ? atol(c + 10) : 0;
    if (held < n) {
        fprintf(stderr, "bench_ui_wait: the phone holds %ld changes, expected at least %ld\n", held,
                n);
        return 1;
    }
    qsort(u.lat, u.n, sizeof *u.lat, cmp);
    printf("{\"bench\":\"ui_wait\",\"changes\":%ld,\"writes\":%zu,\"p50_ms\":%.1f,"
           "\"p99_ms\":%.1f,\"max_ms\":%.1f,\"baseline_p99_ms\":%.1f,\"sync_s\":%.2f,"
           "\"target_p99_ms\":50,\"note\":\"a UI thread's one-op commit every 10 ms on its own "
           "handle while a sync applies the changes on another\"}\n",
           n, u.n, pct(u.lat, u.n, 0.5), pct(u.lat, u.n, 0.99), u.n ? u.lat[u.n - 1] : 0, base99,
           sync_ms / 1e3);
    free(u.lat);
    dc_buf_dispose(&st);
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
    dc_buf_dispose(&bun);
    dc_replica_close(bu);
    dc_replica_close(a);
    dc_replica_close(b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
