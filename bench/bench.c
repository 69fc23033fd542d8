/*
 * bench — the benchmarks of DESIGN.md, each printed as one JSON object per
 * line on stdout (progress goes to stderr), with the baseline measured in
 * the same run on the same machine so that the ratio holds on a noisy one.
 *
 * Rows: local_write (field changes through the whole public commit path
 * against plain SQLite upserts of the same (id, field, value) triples in
 * transactions of the same size, with the replica's pragmas, in the same
 * directory), merge (importing those changes as a bundle into a fresh
 * member replica, against the same baseline; then re-importing the same
 * bundle, all duplicates), wire_bytes_per_change (the size of one signed
 * envelope of 100 one-field changes, measured through the internal codec)
 * and size (the stripped shared library).  Timed figures are the median of
 * several runs ("runs" says how many), each on fresh files, because one
 * run is at the mercy of whatever else the machine does.
 *
 * `bench --quick` runs a tiny version of every row in a second or two; the
 * bench-smoke test uses it to check that the rows stay valid JSON.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "drivercore.h"
#include "codec/codec.h"

#ifndef DC_BENCH_LIBPATH
#define DC_BENCH_LIBPATH ""
#endif

#define OPS_PER_TXN 100
#define NRECORDS 10000
#define MAX_RUNS 9
#define PATH_MAX_LEN 512 /* every path the bench builds fits in this */

/* ---- configuration ---- */

static long g_ops = 200000; /* field changes per local_write run */
static int g_runs = 5;
static char g_dir[256]; /* the temporary directory all files go to */

static void die(const char *what, int rc, const char *msg) {
    fprintf(stderr, "bench: %s failed: %s (%d) %s\n", what, dc_error_name(rc), rc, msg ? msg : "");
    exit(1);
}

#define CHECK_R(r, call)                                                                           \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            die(#call, rc_, dc_replica_errmsg(r));                                                 \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n figures (sorts them in place). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Removes a database file and the WAL/SHM files SQLite may leave beside it,
 * so that every run starts on fresh files. */
static void remove_db(const char *path) {
    char p[PATH_MAX_LEN + 16];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-journal", path);
    unlink(p);
}

static void path_in_dir(char *out, size_t n, const char *name, int i) {
    snprintf(out, n, "%s/%s-%d.db", g_dir, name, i);
}

static void cleanup_dir(void) {
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[600];
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(g_dir);
}

/* ---- the workload ----
 * A deterministic stream of register writes over NRECORDS drivers, each to
 * one field of a small set with a short value, as a secretary's tablet or a
 * registry import would produce them.  The very same triples go to the
 * replica and to the baseline table. */

typedef struct op {
    char id[12];
    const char *field;
    int kind;
    int64_t num;
    const char *str;
} op;

static const char *const k_fields[] = {"status", "phone", "plate", "route", "scope", "stage"};
static const char *const k_status[] = {"active", "resting", "on-route", "verified", "pending"};
static const char *const k_route[] = {"Guiyang-Zunyi", "Guiyang-Anshun", "Zunyi-Chongqing",
                                      "Kaili-Duyun", "Bijie-Liupanshui"};
static const char *const k_scope[] = {"cold chain", "construction waste", "general cargo",
                                      "hazardous goods"};
static char k_phone[64][16];
static char k_plate[64][16];

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) {
    /* xorshift64*: cheap and reproducible; quality is beside the point. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static op *make_workload(long n) {
    op *ops = calloc((size_t)n, sizeof *ops);
    if (!ops) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < 64; i++) {
        snprintf(k_phone[i], sizeof k_phone[i], "139%08d", (int)(rng() % 100000000));
        snprintf(k_plate[i], sizeof k_plate[i], "GZ-A%05d", (int)(rng() % 100000));
    }
    for (long i = 0; i < n; i++) {
        op *o = &ops[i];
        unsigned f = (unsigned)(rng() % 6);
        snprintf(o->id, sizeof o->id, "d%06d", (int)(rng() % NRECORDS));
        o->field = k_fields[f];
        o->kind = DC_STR;
        switch (f) {
        case 0: o->str = k_status[rng() % 5]; break;
        case 1: o->str = k_phone[rng() % 64]; break;
        case 2: o->str = k_plate[rng() % 64]; break;
        case 3: o->str = k_route[rng() % 5]; break;
        case 4: o->str = k_scope[rng() % 4]; break;
        default:
            o->kind = DC_INT;
            o->num = (int64_t)(rng() % 6);
            o->str = NULL;
            break;
        }
    }
    return ops;
}

/* ---- baseline: plain SQLite upserts ---- */

static void sql_exec(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "bench: sqlite: %s: %s\n", sql, msg ? msg : "?");
        exit(1);
    }
}

/* Upserts the workload into a fresh file with the replica's pragmas, in
 * transactions of txn_size upserts; returns seconds. */
static double baseline_run(const op *ops, long n, int run, long txn_size) {
    char path[PATH_MAX_LEN];
    sqlite3 *db;
    sqlite3_stmt *st;
    path_in_dir(path, sizeof path, "baseline", run);
    remove_db(path);
    if (sqlite3_open(path, &db) != SQLITE_OK) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        exit(1);
    }
    sql_exec(db, "PRAGMA journal_mode=WAL");
    sql_exec(db, "PRAGMA synchronous=NORMAL");
    /* The rest of what the replica sets at open (store/schema.c), so the
     * two differ only in what they do per operation. */
    sql_exec(db, "PRAGMA foreign_keys=OFF");
    sql_exec(db, "PRAGMA cache_size=-16384");
    sql_exec(db, "CREATE TABLE t(id TEXT NOT NULL, field TEXT NOT NULL, value, "
                 "PRIMARY KEY(id, field))");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO t(id, field, value) VALUES(?,?,?) ON CONFLICT(id, field) "
                           "DO UPDATE SET value=excluded.value",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench: prepare: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    double t0 = now_s();
    for (long i = 0; i < n; i += txn_size) {
        long end = i + txn_size < n ? i + txn_size : n;
        sql_exec(db, "BEGIN");
        for (long j = i; j < end; j++) {
            const op *o = &ops[j];
            sqlite3_bind_text(st, 1, o->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, o->field, -1, SQLITE_STATIC);
            if (o->kind == DC_INT)
                sqlite3_bind_int64(st, 3, o->num);
            else
                sqlite3_bind_text(st, 3, o->str, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE) {
                fprintf(stderr, "bench: upsert: %s\n", sqlite3_errmsg(db));
                exit(1);
            }
            sqlite3_reset(st);
        }
        sql_exec(db, "COMMIT");
    }
    double t = now_s() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    remove_db(path);
    return t;
}

/* ---- replicas ---- */

/* The at-rest key of the at_rest row's encrypted replicas. */
static int bench_key(void *user, dc_key *k, int purpose) {
    (void)user;
    (void)purpose;
    uint8_t key[32];
    memset(key, 0x5c, sizeof key);
    return dc_key_set(k, key, sizeof key);
}

/* A fresh replica; encrypted at rest when `keyed`. */
static dc_replica *open_replica_at_rest(const char *name, int i, dc_clock_fn clock, void *user,
                                        int keyed) {
    char path[PATH_MAX_LEN];
    dc_replica *r = NULL;
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = name;
    o.clock = clock;
    o.clock_user = user;
    if (keyed)
        o.key_provider = bench_key;
    path_in_dir(path, sizeof path, name, i);
    remove_db(path);
    int rc = dc_replica_open(&r, path, &o);
    if (rc != 0)
        die("dc_replica_open", rc, dc_error_last());
    return r;
}

static dc_replica *open_replica(const char *name, int i, dc_clock_fn clock, void *user) {
    return open_replica_at_rest(name, i, clock, user, 0);
}

static void add_member(dc_replica *admin, const char *space, dc_replica *dev) {
    dc_buf card = DC_BUF_INIT;
    CHECK_R(dev, dc_replica_card(&card, dev));
    CHECK_R(admin, dc_space_add(admin, space, (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_buf_dispose(&card);
}

/* Writes the workload through the public transaction API; returns seconds. */
static double write_workload(dc_replica *w, const char *space, const op *ops, long n) {
    double t0 = now_s();
    for (long i = 0; i < n; i += OPS_PER_TXN) {
        long end = i + OPS_PER_TXN < n ? i + OPS_PER_TXN : n;
        dc_txn *t = NULL;
        CHECK_R(w, dc_txn_begin(&t, w, space));
        for (long j = i; j < end; j++) {
            const op *o = &ops[j];
            int rc = dc_txn_set(t, "driver", o->id, o->field, o->kind, o->num, o->str);
            if (rc != 0)
                die("dc_txn_set", rc, dc_replica_errmsg(w));
        }
        CHECK_R(w, dc_txn_commit(t, NULL));
    }
    /* Timed until the writes are readable, not only durable: the state
     * takes the log's changes at the next read (docs/storage.md,
     * "Folding"), so one read ends the timed part. */
    if (n > 0) {
        dc_buf rec = DC_BUF_INIT;
        CHECK_R(w, dc_record_get(&rec, w, space, "driver", ops[n - 1].id));
        dc_buf_dispose(&rec);
    }
    return now_s() - t0;
}

/* Reads an integer member of the flat JSON object an import reports. */
static long report_field(const dc_buf *report, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = report->ptr ? strstr((const char *)report->ptr, pat) : NULL;
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return strtol(p, NULL, 10);
}

static double ratio(double x, double y) {
    return y > 0 ? x / y : 0;
}

/* ---- local_write and merge ---- */

/* One receiver's merge: membership first (untimed; it brings the key),
 * then the full bundle (timed), then the full bundle again, which is all
 * duplicates (timed).  Returns the number of duplicate changes seen. */
static long merge_run(dc_replica *rc, const char *space, const dc_buf *members,
                      const dc_buf *bundle, double *t_merge, double *t_dup) {
    dc_buf rep = DC_BUF_INIT;
    CHECK_R(rc, dc_bundle_import(rc, members->ptr, members->size, &rep));
    CHECK_R(rc, dc_space_accept(rc, space, 0));
    double t0 = now_s();
    CHECK_R(rc, dc_bundle_import(rc, bundle->ptr, bundle->size, &rep));
    *t_merge = now_s() - t0;
    if (report_field(&rep, "held") != 0 || report_field(&rep, "opaque") != 0 ||
        report_field(&rep, "new") <= 0) {
        fprintf(stderr, "bench: the receiver did not apply the bundle: %s\n",
                (const char *)rep.ptr);
        exit(1);
    }
    t0 = now_s();
    CHECK_R(rc, dc_bundle_import(rc, bundle->ptr, bundle->size, &rep));
    *t_dup = now_s() - t0;
    long dup = report_field(&rep, "duplicate");
    if (dup <= 0 || report_field(&rep, "new") != 0) {
        fprintf(stderr, "bench: the second import was not all duplicates: %s\n",
                (const char *)rep.ptr);
        exit(1);
    }
    dc_buf_dispose(&rep);
    return dup;
}

static void bench_write_and_merge(void) {
    op *ops = make_workload(g_ops);
    double base[MAX_RUNS], base1[MAX_RUNS], wr[MAX_RUNS], mg[MAX_RUNS], dup[MAX_RUNS];
    dc_replica *recv[MAX_RUNS];
    dc_buf space = DC_BUF_INIT, members = DC_BUF_INIT, bundle = DC_BUF_INIT;
    dc_buf dump_w = DC_BUF_INIT;
    long dup_changes = 0;

    /* The receivers exist before anything is written: the writer adds them
     * to its space, so the changes are under a key they will hold. */
    for (int r = 0; r < g_runs; r++)
        recv[r] = open_replica("receiver", r, NULL, NULL);

    for (int r = 0; r < g_runs; r++) {
        char path[PATH_MAX_LEN];
        fprintf(stderr, "bench: local_write run %d/%d (%ld ops)...\n", r + 1, g_runs, g_ops);
        base[r] = baseline_run(ops, g_ops, r, OPS_PER_TXN);

        dc_replica *w = open_replica("writer", r, NULL, NULL);
        CHECK_R(w, dc_space_create(&space, w, "bench branch"));
        for (int k = 0; k < g_runs; k++)
            add_member(w, (const char *)space.ptr, recv[k]);
        /* Every writer does the same work; the last one's changes are what
         * the receivers merge, so only its bundles are kept. */
        if (r == g_runs - 1)
            CHECK_R(w, dc_bundle_export(&members, w, (const char *)space.ptr));
        wr[r] = write_workload(w, (const char *)space.ptr, ops, g_ops);
        fprintf(stderr, "bench:   replica %.0f ops/s, sqlite %.0f ops/s\n", g_ops / wr[r],
                g_ops / base[r]);
        if (r == g_runs - 1) {
            CHECK_R(w, dc_bundle_export(&bundle, w, (const char *)space.ptr));
            CHECK_R(w, dc_replica_dump(&dump_w, w, (const char *)space.ptr));
        }
        dc_replica_close(w);
        path_in_dir(path, sizeof path, "writer", r);
        remove_db(path);
    }
    fprintf(stderr, "bench: bundle of %ld ops: %zu bytes\n", g_ops, bundle.size);

    for (int k = 0; k < g_runs; k++) {
        fprintf(stderr, "bench: merge run %d/%d...\n", k + 1, g_runs);
        base1[k] = baseline_run(ops, g_ops, k, g_ops);
        dup_changes =
            merge_run(recv[k], (const char *)space.ptr, &members, &bundle, &mg[k], &dup[k]);
        fprintf(stderr, "bench:   merge %.0f ops/s, re-import %.0f duplicate changes/s\n",
                g_ops / mg[k], dup_changes / dup[k]);
        /* A merge that is fast but wrong is worth nothing: the receiver
         * must show exactly the writer's state. */
        if (k == 0) {
            dc_buf dump_r = DC_BUF_INIT;
            CHECK_R(recv[k], dc_replica_dump(&dump_r, recv[k], (const char *)space.ptr));
            if (dump_r.size != dump_w.size || memcmp(dump_r.ptr, dump_w.ptr, dump_w.size) != 0) {
                fprintf(stderr, "bench: the receiver's dump differs from the writer's\n");
                exit(1);
            }
            dc_buf_dispose(&dump_r);
        }
        dc_replica_close(recv[k]);
    }

    /* Rates come from the median time, which is the time of the median
     * rate and keeps one stalled run from moving the figure. */
    double b = g_ops / median(base, g_runs);
    double x = g_ops / median(wr, g_runs);
    printf("{\"bench\":\"local_write\",\"ops\":%ld,\"ops_per_txn\":%d,\"ops_per_s\":%.0f,"
           "\"baseline_ops_per_s\":%.0f,\"ratio\":%.3f,\"runs\":%d}\n",
           g_ops, OPS_PER_TXN, x, b, ratio(x, b), g_runs);
    /* Merge is compared with the same baseline: the same triples upserted. */
    /* An import is one SQLite transaction (all or nothing), so beside the
     * contract's baseline the row also gives the same upserts in a single
     * transaction, the fairer yardstick for a bulk merge. */
    double m = g_ops / median(mg, g_runs);
    double d = dup_changes / median(dup, g_runs);
    double b1 = g_ops / median(base1, g_runs);
    printf("{\"bench\":\"merge\",\"ops\":%ld,\"ops_per_s\":%.0f,\"baseline_ops_per_s\":%.0f,"
           "\"ratio\":%.3f,\"runs\":%d,\"duplicate_changes_per_s\":%.0f,"
           "\"duplicate_changes\":%ld,\"baseline_one_txn_ops_per_s\":%.0f,"
           "\"ratio_one_txn\":%.3f}\n",
           g_ops, m, b, ratio(m, b), g_runs, d, dup_changes, b1, ratio(m, b1));
    fflush(stdout);
    dc_buf_dispose(&space);
    dc_buf_dispose(&members);
    dc_buf_dispose(&bundle);
    dc_buf_dispose(&dump_w);
    free(ops);
}

/* ---- at_rest ----
 * local_write and merge with the replica encrypted at rest
 * (docs/format/at-rest.md), as ratios of the very same work on replicas in
 * clear, run by run in the same process: the two alternate in each run (in
 * the other order every other run), so drift on a shared machine hits both. */

/* Seconds of CPU this process has used: unlike the wall clock, not
 * stretched by whatever else the machine runs. */
static double cpu_s(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

typedef struct at_rest_times {
    double write, merge, write_cpu, merge_cpu;
} at_rest_times;

/* One run of one mode: the local writes, then their merge into a member. */
static void at_rest_run(const op *ops, int run, int keyed, at_rest_times *t) {
    char wname[32], rname[32], path[PATH_MAX_LEN];
    dc_buf space = DC_BUF_INIT, members = DC_BUF_INIT, bundle = DC_BUF_INIT;
    dc_buf dump_w = DC_BUF_INIT, dump_r = DC_BUF_INIT, rep = DC_BUF_INIT;
    snprintf(wname, sizeof wname, "at-rest-writer-%d", keyed);
    snprintf(rname, sizeof rname, "at-rest-receiver-%d", keyed);
    dc_replica *recv = open_replica_at_rest(rname, run, NULL, NULL, keyed);
    dc_replica *w = open_replica_at_rest(wname, run, NULL, NULL, keyed);
    if (dc_replica_encrypted(w) != keyed || dc_replica_encrypted(recv) != keyed) {
        fprintf(stderr, "bench: at_rest: a replica is not in the mode asked\n");
        exit(1);
    }
    CHECK_R(w, dc_space_create(&space, w, "bench branch"));
    add_member(w, (const char *)space.ptr, recv);
    CHECK_R(w, dc_bundle_export(&members, w, (const char *)space.ptr));
    double c0 = cpu_s();
    t->write = write_workload(w, (const char *)space.ptr, ops, g_ops);
    t->write_cpu = cpu_s() - c0;
    CHECK_R(w, dc_bundle_export(&bundle, w, (const char *)space.ptr));
    CHECK_R(w, dc_replica_dump(&dump_w, w, (const char *)space.ptr));
    dc_replica_close(w);
    path_in_dir(path, sizeof path, wname, run);
    remove_db(path);
    CHECK_R(recv, dc_bundle_import(recv, members.ptr, members.size, &rep));
    CHECK_R(recv, dc_space_accept(recv, (const char *)space.ptr, 0));
    c0 = cpu_s();
    double t0 = now_s();
    CHECK_R(recv, dc_bundle_import(recv, bundle.ptr, bundle.size, &rep));
    t->merge = now_s() - t0;
    t->merge_cpu = cpu_s() - c0;
    CHECK_R(recv, dc_replica_dump(&dump_r, recv, (const char *)space.ptr));
    if (dump_r.size != dump_w.size || memcmp(dump_r.ptr, dump_w.ptr, dump_w.size) != 0) {
        fprintf(stderr, "bench: at_rest: the receiver's dump differs from the writer's\n");
        exit(1);
    }
    dc_replica_close(recv);
    path_in_dir(path, sizeof path, rname, run);
    remove_db(path);
    dc_buf_dispose(&space);
    dc_buf_dispose(&members);
    dc_buf_dispose(&bundle);
    dc_buf_dispose(&dump_w);
    dc_buf_dispose(&dump_r);
    dc_buf_dispose(&rep);
}

static void bench_at_rest(void) {
    op *ops = make_workload(g_ops);
    double wr[2][MAX_RUNS], mg[2][MAX_RUNS], wc[2][MAX_RUNS], mc[2][MAX_RUNS];
    for (int r = 0; r < g_runs; r++) {
        fprintf(stderr, "bench: at_rest run %d/%d (%ld ops, in clear and encrypted)...\n", r + 1,
                g_runs, g_ops);
        for (int k = 0; k < 2; k++) {
            int keyed = (r + k) % 2;
            at_rest_times t;
            at_rest_run(ops, r, keyed, &t);
            wr[keyed][r] = t.write;
            mg[keyed][r] = t.merge;
            wc[keyed][r] = t.write_cpu;
            mc[keyed][r] = t.merge_cpu;
        }
        fprintf(stderr,
                "bench:   encrypted / in clear: write %.0f / %.0f ops/s (ratio %.3f, CPU %.3f), "
                "merge %.0f / %.0f ops/s (ratio %.3f, CPU %.3f)\n",
                g_ops / wr[1][r], g_ops / wr[0][r], wr[0][r] / wr[1][r], wc[0][r] / wc[1][r],
                g_ops / mg[1][r], g_ops / mg[0][r], mg[0][r] / mg[1][r], mc[0][r] / mc[1][r]);
    }
    double w1 = g_ops / median(wr[1], g_runs), w0 = g_ops / median(wr[0], g_runs);
    double m1 = g_ops / median(mg[1], g_runs), m0 = g_ops / median(mg[0], g_runs);
    double rw = ratio(w1, w0), rm = ratio(m1, m0);
    /* The same ratios over CPU time: what encryption costs the process,
     * apart from the machine's other load. */
    double rwc = ratio(median(wc[0], g_runs), median(wc[1], g_runs));
    double rmc = ratio(median(mc[0], g_runs), median(mc[1], g_runs));
    printf("{\"bench\":\"at_rest\",\"ops\":%ld,\"local_write_ops_per_s\":%.0f,"
           "\"baseline_local_write_ops_per_s\":%.0f,\"local_write_ratio\":%.3f,"
           "\"merge_ops_per_s\":%.0f,\"baseline_merge_ops_per_s\":%.0f,\"merge_ratio\":%.3f,"
           "\"local_write_cpu_ratio\":%.3f,\"merge_cpu_ratio\":%.3f,"
           "\"ratio\":%.3f,\"target\":0.77,\"runs\":%d}\n",
           g_ops, w1, w0, rw, m1, m0, rm, rwc, rmc, rw < rm ? rw : rm, g_runs);
    fflush(stdout);
    free(ops);
}

/* ---- wire_bytes_per_change ---- */

static int64_t pinned_clock(void *user) {
    (void)user;
    return INT64_C(1735689600000); /* 2025-01-01T00:00:00Z */
}

typedef struct find_change {
    size_t size; /* of the change with the highest sequence number */
    uint64_t seq;
    int nchanges;
} find_change;

static int each_envelope(void *user, uint64_t index, const uint8_t *env, size_t n) {
    find_change *f = user;
    dc__envelope e;
    dc__err err;
    (void)index;
    if (dc__envelope_parse(&e, env, n, &err) != 0) {
        fprintf(stderr, "bench: exported envelope does not parse: %s\n", err.msg);
        exit(1);
    }
    if (e.kind == DC_ENV_KIND_CHANGE) {
        if (e.seq > f->seq) {
            f->seq = e.seq;
            f->size = n;
        }
        f->nchanges++;
    }
    return 0;
}

static void bench_wire_bytes(void) {
    static const char *const values[] = {"active", "resting", "on-route", "verified", "pending"};
    dc_replica *w = open_replica("wire", 0, pinned_clock, NULL);
    dc_buf space = DC_BUF_INIT, bundle = DC_BUF_INIT;
    dc_txn *t = NULL;
    char id[16];
    CHECK_R(w, dc_space_create(&space, w, "wire branch"));
    /* Creating a space may write changes of its own (its encrypted name);
     * count them, so the one the transaction adds can be told apart. */
    find_change before = {0, 0, 0};
    uint64_t count = 0;
    dc__err err;
    CHECK_R(w, dc_bundle_export(&bundle, w, (const char *)space.ptr));
    if (dc__bundle_parse(bundle.ptr, bundle.size, &count, each_envelope, &before, &err) != 0) {
        fprintf(stderr, "bench: exported bundle does not parse: %s\n", err.msg);
        exit(1);
    }
    CHECK_R(w, dc_txn_begin(&t, w, (const char *)space.ptr));
    /* 100 distinct drivers drawn at random from the registry, each with a
     * random status: no run of neighbouring ids or repeating values for
     * the compressor to feed on that a real batch would not have. */
    static int picked[NRECORDS];
    uint64_t x = 0x2545F4914F6CDD1Dull;
    memset(picked, 0, sizeof picked);
    for (int i = 0; i < OPS_PER_TXN; i++) {
        int k;
        do {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            k = (int)((x >> 33) % NRECORDS);
        } while (picked[k]);
        picked[k] = 1;
        snprintf(id, sizeof id, "d%06d", k);
        int rc = dc_txn_set(t, "driver", id, "status", DC_STR, 0, values[(x >> 20) % 5]);
        if (rc != 0)
            die("dc_txn_set", rc, dc_replica_errmsg(w));
    }
    CHECK_R(w, dc_txn_commit(t, NULL));
    CHECK_R(w, dc_bundle_export(&bundle, w, (const char *)space.ptr));

    /* Parse the bundle with the codec and pick out the transaction's
     * change (the newest one; the others are the space's membership and
     * set-up), so that the figure is the envelope itself, without the
     * bundle's framing. */
    find_change f = {0, 0, 0};
    if (dc__bundle_parse(bundle.ptr, bundle.size, &count, each_envelope, &f, &err) != 0) {
        fprintf(stderr, "bench: exported bundle does not parse: %s\n", err.msg);
        exit(1);
    }
    if (f.nchanges != before.nchanges + 1 || f.seq <= before.seq) {
        fprintf(stderr, "bench: expected one new change envelope, found %d (%d before)\n",
                f.nchanges, before.nchanges);
        exit(1);
    }
    printf("{\"bench\":\"wire_bytes_per_change\",\"ops_per_txn\":%d,\"envelope_bytes\":%zu,"
           "\"bytes_per_change\":%.2f,\"target\":40}\n",
           OPS_PER_TXN, f.size, (double)f.size / OPS_PER_TXN);
    fflush(stdout);
    dc_replica_close(w);
    dc_buf_dispose(&space);
    dc_buf_dispose(&bundle);
}

/* ---- query_index ---- */

/* Lookups of one value among a type's records (dc_record_query filtered on
 * a field), by walking the type (the baseline) and through a value index
 * declared on the field (dc_index_declare), on the same replica, in the
 * same run. */
static double lookups(dc_replica *r, const char *space, long nrec, int n) {
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        char plate[32];
        snprintf(plate, sizeof plate, "P-%ld", (long)(rng() % (uint64_t)(nrec / 10)));
        dc_value v = {DC_STR, 0, 0, plate, strlen(plate)};
        dc_query_options o = {DC_QUERY_OPTIONS_VERSION, "plate", &v, NULL, 0, 0, 0, 0, NULL, 0};
        dc_records *rs;
        int rc = dc_record_query(&rs, r, space, "truck", &o);
        if (rc)
            die("dc_record_query", rc, dc_replica_errmsg(r));
        if (dc_records_count(rs) == 0)
            die("query_index: a plate not found", DC_ENOTFOUND, plate);
        dc_records_free(rs);
    }
    return (now_s() - t0) / n;
}

static void bench_query_index(void) {
    long nrec = g_ops / 4 > 1000 ? g_ops / 4 : 1000;
    int n = 50;
    double walk[MAX_RUNS], ix[MAX_RUNS], decl[MAX_RUNS];
    for (int run = 0; run < g_runs; run++) {
        dc_replica *r = open_replica("query", run, NULL, NULL);
        dc_buf sp = DC_BUF_INIT;
        int rc = dc_space_create(&sp, r, "bench");
        if (rc)
            die("dc_space_create", rc, dc_replica_errmsg(r));
        const char *space = (const char *)sp.ptr;
        for (long i = 0; i < nrec;) {
            dc_txn *t;
            if ((rc = dc_txn_begin(&t, r, space)))
                die("dc_txn_begin", rc, dc_replica_errmsg(r));
            for (long k = 0; k < 1000 && i < nrec; k++, i++) {
                char id[32], plate[32];
                snprintf(id, sizeof id, "t%07ld", i);
                snprintf(plate, sizeof plate, "P-%ld", i % (nrec / 10));
                if ((rc = dc_txn_set(t, "truck", id, "plate", DC_STR, 0, plate)) ||
                    (rc = dc_txn_set(t, "truck", id, "status", DC_STR, 0, k_status[i % 5])))
                    die("dc_txn_set", rc, dc_replica_errmsg(r));
            }
            if ((rc = dc_txn_commit(t, NULL)))
                die("dc_txn_commit", rc, dc_replica_errmsg(r));
        }
        walk[run] = lookups(r, space, nrec, n / 5);
        double t0 = now_s();
        if ((rc = dc_index_declare(r, space, "truck", "plate")))
            die("dc_index_declare", rc, dc_replica_errmsg(r));
        decl[run] = now_s() - t0;
        ix[run] = lookups(r, space, nrec, n);
        dc_buf_dispose(&sp);
        dc_replica_close(r);
    }
    double w = median(walk, g_runs), x = median(ix, g_runs), d = median(decl, g_runs);
    printf("{\"bench\":\"query_index\",\"records\":%ld,\"lookup_ms\":%.3f,"
           "\"baseline_walk_lookup_ms\":%.3f,\"speedup\":%.1f,\"declare_ms\":%.1f,"
           "\"runs\":%d}\n",
           nrec, x * 1e3, w * 1e3, ratio(w, x), d * 1e3, g_runs);
    fflush(stdout);
}

/* ---- size ---- */

static void bench_size(void) {
    char tmp[512], cmd[1400];
    struct stat st;
    if (DC_BENCH_LIBPATH[0] == '\0' || stat(DC_BENCH_LIBPATH, &st) != 0) {
        fprintf(stderr, "bench: size: shared library not found at '%s'; row skipped\n",
                DC_BENCH_LIBPATH);
        return;
    }
    /* strip works on a copy so the build tree keeps its symbols. */
    snprintf(tmp, sizeof tmp, "%s/libdrivercore-stripped.so", g_dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && strip '%s'", DC_BENCH_LIBPATH, tmp, tmp);
    if (system(cmd) != 0 || stat(tmp, &st) != 0) {
        fprintf(stderr, "bench: size: '%s' failed; row skipped\n", cmd);
        return;
    }
    printf("{\"bench\":\"size\",\"stripped_bytes\":%lld,\"target\":524288}\n",
           (long long)st.st_size);
    fflush(stdout);
    unlink(tmp);
}

/* ---- history: a year of a branch, with and without compaction ----
 * A branch space: the secretary's tablet (admin) and two drivers' phones
 * (members).  Each simulated day the secretary opens cases (a record of
 * four fields) and updates older ones (status, tags added and removed),
 * each driver checks in (an event) and updates its own record, and every
 * other day an old case is deleted; the phones sync with the tablet every
 * day (a reconciliation session).  Twice a run: once as today (every change
 * kept) and once compacting every week (all ack, the tablet compacts, the
 * phones follow).  The figures are the tablet's: its log (envelopes held and
 * passed on) and its file (bytes, and bytes in use: pages not free). */

#define HIST_DEVICES 3

typedef struct hist_clock {
    int64_t now;
} hist_clock;

static int64_t hist_now(void *user) {
    return ((const hist_clock *)user)->now;
}

static void hist_sync(dc_replica *a, dc_replica *b) {
    dc_sync *sa = NULL, *sb = NULL;
    dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
    int da = 0, db = 0;
    CHECK_R(a, dc_sync_new(&sa, a, DC_SYNC_INITIATOR));
    CHECK_R(b, dc_sync_new(&sb, b, DC_SYNC_RESPONDER));
    CHECK_R(a, dc_sync_step(sa, &m, &da, NULL, 0));
    for (int i = 0; m.size > 0 && i < 100000; i++) {
        CHECK_R(b, dc_sync_step(sb, &reply, &db, m.ptr, m.size));
        if (reply.size == 0)
            break;
        CHECK_R(a, dc_sync_step(sa, &m, &da, reply.ptr, reply.size));
    }
    dc_sync_free(sa);
    dc_sync_free(sb);
    dc_buf_dispose(&m);
    dc_buf_dispose(&reply);
}

static int hist_count(void *user, uint64_t index, const uint8_t *env, size_t n) {
    (void)index, (void)env, (void)n;
    ++*(uint64_t *)user;
    return 0;
}

static uint64_t hist_log_len(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    CHECK_R(r, dc_bundle_export(&b, r, NULL));
    uint64_t n = 0, count = 0;
    dc__err err;
    if (dc__bundle_parse(b.ptr, b.size, &count, hist_count, &n, &err) != 0)
        die("dc__bundle_parse", err.code, err.msg);
    dc_buf_dispose(&b);
    return n;
}

/* The file's bytes and the bytes of its pages in use (after a checkpoint). */
static void hist_file(const char *path, double *bytes, double *used) {
    struct stat st;
    *bytes = stat(path, &st) == 0 ? (double)st.st_size : 0;
    sqlite3 *db = NULL;
    int64_t pages = 0, freel = 0, psize = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *q;
        const char *sql[] = {"PRAGMA page_count", "PRAGMA freelist_count", "PRAGMA page_size"};
        int64_t *out[] = {&pages, &freel, &psize};
        for (int i = 0; i < 3; i++)
            if (sqlite3_prepare_v2(db, sql[i], -1, &q, NULL) == SQLITE_OK) {
                if (sqlite3_step(q) == SQLITE_ROW)
                    *out[i] = sqlite3_column_int64(q, 0);
                sqlite3_finalize(q);
            }
    }
    sqlite3_close(db);
    *used = (double)((pages - freel) * psize);
}

typedef struct hist_out {
    double log, bytes, used, txns;
    double vacuumed; /* compacted run: the tablet's file after dc_replica_vacuum */
} hist_out;

static void hist_case(dc_txn *t, const char *id, uint64_t *rng) {
    static const char *const STATUS[] = {"open", "pending", "hearing", "closed"};
    static const char *const TAGS[] = {"wages", "waybill", "injury", "fine", "detention"};
    char buf[96];
    *rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
    snprintf(buf, sizeof buf, "Driver %llu, unpaid waybill %llu",
             (unsigned long long)(*rng >> 40) % 997, (unsigned long long)(*rng >> 20) % 99991);
    dc_txn_set(t, "case", id, "summary", DC_STR, 0, buf);
    dc_txn_set(t, "case", id, "status", DC_STR, 0, STATUS[(*rng >> 33) % 4]);
    dc_txn_set(t, "case", id, "amount", DC_INT, (int64_t)((*rng >> 17) % 50000), NULL);
    dc_txn_add(t, "case", id, "tags", DC_STR, 0, TAGS[(*rng >> 29) % 5]);
}

static void hist_run(int days, bool compact, int run, hist_out *o) {
    static const char *const NAMES[HIST_DEVICES] = {"tablet", "phone1", "phone2"};
    static const char *const STATUS[] = {"open", "pending", "hearing", "closed"};
    static const char *const TAGS[] = {"wages", "waybill", "injury", "fine", "detention"};
    hist_clock clk = {INT64_C(1767225600000)};
    dc_replica *r[HIST_DEVICES];
    char name[64];
    for (int i = 0; i < HIST_DEVICES; i++) {
        snprintf(name, sizeof name, "hist-%s-%s", compact ? "c" : "k", NAMES[i]);
        r[i] = open_replica_at_rest(name, run, hist_now, &clk, 0);
    }
    dc_buf b = DC_BUF_INIT;
    CHECK_R(r[0], dc_space_create(&b, r[0], "branch"));
    char space[40];
    snprintf(space, sizeof space, "%s", (const char *)b.ptr);
    for (int i = 1; i < HIST_DEVICES; i++) {
        CHECK_R(r[i], dc_replica_card(&b, r[i]));
        CHECK_R(r[0], dc_space_add(r[0], space, (const char *)b.ptr, DC_ROLE_MEMBER));
        hist_sync(r[0], r[i]);
        CHECK_R(r[i], dc_space_accept(r[i], space, 0));
    }
    uint64_t rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)run;
    long ncase = 0, txns = 0;
    char id[32];
    for (int day = 0; day < days; day++) {
        clk.now += 86400000;
        /* The secretary: three new cases, eight updates, a delete every
         * other day. */
        for (int k = 0; k < 11; k++) {
            dc_txn *t;
            CHECK_R(r[0], dc_txn_begin(&t, r[0], space));
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            if (k < 3 || ncase < 10) {
                snprintf(id, sizeof id, "c%ld", ncase++);
                hist_case(t, id, &rng);
            } else {
                snprintf(id, sizeof id, "c%ld", (long)((rng >> 24) % (uint64_t)ncase));
                dc_txn_set(t, "case", id, "status", DC_STR, 0, STATUS[(rng >> 33) % 4]);
                if ((rng >> 40) % 3 == 0)
                    dc_txn_add(t, "case", id, "tags", DC_STR, 0, TAGS[(rng >> 29) % 5]);
                else if ((rng >> 40) % 3 == 1)
                    dc_txn_remove(t, "case", id, "tags", DC_STR, 0, TAGS[(rng >> 29) % 5]);
            }
            if (k == 10 && day % 2 == 0) {
                snprintf(id, sizeof id, "c%ld", (long)((rng >> 12) % (uint64_t)ncase));
                dc_txn_delete(t, "case", id);
            }
            CHECK_R(r[0], dc_txn_commit(t, NULL));
            txns++;
        }
        /* The drivers: a check-in and an update each, twice a day. */
        for (int i = 1; i < HIST_DEVICES; i++)
            for (int k = 0; k < 2; k++) {
                dc_txn *t;
                CHECK_R(r[i], dc_txn_begin(&t, r[i], space));
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                dc_txn_event(t, "driver", NAMES[i]);
                dc_txn_event_field(t, "km", DC_INT, (int64_t)((rng >> 20) % 900), NULL);
                dc_txn_set(t, "driver", NAMES[i], "at", DC_STR, 0,
                           (rng >> 50) % 2 ? "Guiyang" : "Zunyi");
                CHECK_R(r[i], dc_txn_commit(t, NULL));
                txns++;
            }
        for (int i = 1; i < HIST_DEVICES; i++)
            hist_sync(r[i], r[0]);
        for (int i = 1; i < HIST_DEVICES; i++)
            hist_sync(r[i], r[0]);
        if (compact && day % 7 == 6) {
            for (int i = 1; i < HIST_DEVICES; i++) {
                CHECK_R(r[i], dc_space_ack(r[i], space));
                hist_sync(r[i], r[0]);
            }
            CHECK_R(r[0], dc_space_compact(&b, r[0], space, NULL));
            for (int i = 1; i < HIST_DEVICES; i++) {
                hist_sync(r[i], r[0]);
                CHECK_R(r[i], dc_space_compact(&b, r[i], space, NULL));
                hist_sync(r[i], r[0]);
            }
        }
    }
    o->log = (double)hist_log_len(r[0]);
    o->txns = (double)txns;
    for (int i = 0; i < HIST_DEVICES; i++)
        dc_replica_close(r[i]);
    char path[PATH_MAX_LEN];
    snprintf(name, sizeof name, "hist-%s-%s", compact ? "c" : "k", NAMES[0]);
    path_in_dir(path, sizeof path, name, run);
    hist_file(path, &o->bytes, &o->used);
    o->vacuumed = 0;
    if (compact) {
        /* The tablet's file as it was left (open_replica would start anew). */
        dc_replica_options ro = DC_REPLICA_OPTIONS_INIT;
        ro.clock = hist_now;
        ro.clock_user = &clk;
        dc_replica *t = NULL;
        if (dc_replica_open(&t, path, &ro) != 0)
            die("dc_replica_open", DC_ERROR, dc_error_last());
        CHECK_R(t, dc_replica_vacuum(NULL, t));
        dc_replica_close(t);
        double used;
        hist_file(path, &o->vacuumed, &used);
    }
    for (int i = 0; i < HIST_DEVICES; i++) {
        snprintf(name, sizeof name, "hist-%s-%s", compact ? "c" : "k", NAMES[i]);
        path_in_dir(path, sizeof path, name, run);
        remove_db(path);
    }
    dc_buf_dispose(&b);
}

static void bench_history(bool quick) {
    int days = quick ? 30 : 365, runs = g_runs < 3 ? g_runs : 3;
    double log[MAX_RUNS], blog[MAX_RUNS], by[MAX_RUNS], bby[MAX_RUNS], us[MAX_RUNS], bus[MAX_RUNS],
        rl[MAX_RUNS], rb[MAX_RUNS], vb[MAX_RUNS], txns = 0;
    for (int i = 0; i < runs; i++) {
        hist_out k, c;
        fprintf(stderr, "bench: history run %d/%d (%d days, twice)\n", i + 1, runs, days);
        hist_run(days, false, i, &k);
        hist_run(days, true, i, &c);
        log[i] = c.log;
        blog[i] = k.log;
        by[i] = c.bytes;
        bby[i] = k.bytes;
        us[i] = c.used;
        bus[i] = k.used;
        rl[i] = k.log / c.log;
        rb[i] = k.bytes / c.bytes;
        vb[i] = c.vacuumed;
        txns = k.txns;
    }
    printf("{\"bench\":\"history\",\"days\":%d,\"txns\":%.0f,\"compact_every_days\":7,"
           "\"log_envelopes\":%.0f,\"baseline_log_envelopes\":%.0f,\"file_bytes\":%.0f,"
           "\"baseline_file_bytes\":%.0f,\"used_bytes\":%.0f,\"baseline_used_bytes\":%.0f,"
           "\"ratio_log\":%.2f,\"ratio_bytes\":%.2f,\"runs\":%d,\"vacuumed_file_bytes\":%.0f}\n",
           days, txns, median(log, runs), median(blog, runs), median(by, runs), median(bby, runs),
           median(us, runs), median(bus, runs), median(rl, runs), median(rb, runs), runs,
           median(vb, runs));
    fflush(stdout);
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench [--quick] [--ops N] [--runs N] [--only NAME]\n"
            "  one JSON object per line on stdout; progress on stderr.\n"
            "  NAME: local_write (with merge), at_rest, wire_bytes_per_change, query_index,\n"
            "        size, history\n");
}

int main(int argc, char **argv) {
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            g_ops = 2000;
            g_runs = 1;
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            g_ops = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            g_runs = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else {
            usage();
            return 2;
        }
    }
    if (g_ops < OPS_PER_TXN || g_runs < 1 || g_runs > MAX_RUNS) {
        usage();
        return 2;
    }
    int rc = dc_global_init(NULL);
    if (rc != 0)
        die("dc_global_init", rc, dc_error_last());

    const char *tmpdir = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/dc-bench-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "bench: mkdtemp %s: %s\n", g_dir, strerror(errno));
        return 1;
    }
    fprintf(stderr, "bench: files in %s\n", g_dir);
    /* Also on the exit(1) paths, so a failed run leaves no files behind. */
    atexit(cleanup_dir);

    if (!only || strcmp(only, "local_write") == 0 || strcmp(only, "merge") == 0)
        bench_write_and_merge();
    if (!only || strcmp(only, "at_rest") == 0)
        bench_at_rest();
    if (!only || strcmp(only, "wire_bytes_per_change") == 0)
        bench_wire_bytes();
    if (!only || strcmp(only, "query_index") == 0)
        bench_query_index();
    if (!only || strcmp(only, "size") == 0)
        bench_size();
    if (!only || strcmp(only, "history") == 0)
        bench_history(g_ops <= 2000);
    return 0;
}
