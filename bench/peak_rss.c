/*
 * bench_peak_rss — DESIGN.md's peak_rss row: the resident memory of a
 * replica that receives N changes (default 1,000,000) into an empty state
 * through a sync session, the sender running in another process so that
 * only the receiver is measured (getrusage of the child: ru_maxrss).
 *
 * The sender's history is generated through the internal commit path —
 * the same envelopes, sealed and signed one per change, stored and applied
 * exactly as dc_txn_commit does — but a thousand changes per SQLite
 * transaction, because a million separate commits would take minutes of
 * fsync-bound time that is not what this row measures.
 *
 * Prints {"bench":"peak_rss","changes":N,"bytes":B,"target":67108864,...}.
 *
 * Then issue 11's row, full_sync: the same sync's time against the time its
 * signature checks alone take on both cores — every envelope the sync
 * brought, exported from the sender and checked with libsodium's Ed25519
 * verify on two threads (the median of three such passes, in the sender's
 * process, after the sync) — with the receiver's peak resident memory:
 * {"bench":"full_sync","changes":N,"sync_s":S,"verify_s":V,"ratio":S/V,
 * "target_ratio_max":1.5,"peak_rss_bytes":B,"target_bytes":67108864,...}.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "drivercore.h"
#include "replica/replica_int.h"
#include "vec.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, dc_replica *r) {
    fprintf(stderr, "bench_peak_rss: %s: %s\n", what, r ? dc_replica_errmsg(r) : dc_error_last());
    exit(1);
}

/* ---- generating the sender's history ---- */

static void generate(dc_replica *r, const char *space, long n) {
    uint8_t sid[16];
    dc__space sp;
    dc__err e = {0};
    if (dc__unhex(sid, 16, space) || dc__store_space_get(r->st, sid, &sp, &e))
        die("space", r);
    char id[32], val[32];
    for (long i = 0; i < n;) {
        if (dc__store_begin(r->st, &e))
            die("begin", r);
        for (int k = 0; k < 1000 && i < n; k++, i++) {
            snprintf(id, sizeof id, "d%07ld", i % 100000);
            snprintf(val, sizeof val, "v%ld", i);
            dc__op op;
            memset(&op, 0, sizeof op);
            op.kind = DC_OP_SET;
            op.type = (dc__str){"driver", 6};
            op.id = (dc__str){id, (uint32_t)strlen(id)};
            op.field = (dc__str){"status", 6};
            op.val = (dc__value){DC_STR, 0, val, (uint32_t)strlen(val)};
            dc__buf_clear(&r->body);
            uint8_t cid[32];
            dc_hlc h = dc__clock_tick(&r->clock);
            if (dc__body_encode(&r->body, &op, 1, &e) ||
                dc__envelope_new(r, &sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, h, h, NULL,
                                 cid, &e))
                die(e.msg, r);
        }
        if (dc__store_hlc_save(r->st, r->clock.last, &e) || dc__store_commit(r->st, &e))
            die("commit", r);
        if (i % 100000 == 0)
            fprintf(stderr, "bench_peak_rss: generated %ld changes\n", i);
    }
}

/* ---- messages over a socket: 4-byte length, then the bytes ---- */

static int send_msg(int fd, const dc_buf *b) {
    uint8_t len[4];
    dc__store_be32(len, (uint32_t)b->size);
    if (write(fd, len, 4) != 4)
        return -1;
    size_t off = 0;
    while (off < b->size) {
        ssize_t w = write(fd, b->ptr + off, b->size - off);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

static int recv_msg(int fd, dc_buf *b) {
    uint8_t len[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t r = read(fd, len + got, 4 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    uint32_t n = dc__load_be32(len);
    dc__buf_clear(b);
    if (dc__buf_reserve(b, n))
        return -1;
    for (got = 0; got < n;) {
        ssize_t r = read(fd, b->ptr + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    b->size = n;
    return 0;
}

/* One side of the session: the initiator speaks first; an empty message
 * ends the conversation. */
static int converse(dc_replica *r, int role, int fd) {
    dc_sync *s;
    dc_buf in = DC_BUF_INIT, out = DC_BUF_INIT;
    int done = 0;
    if (dc_sync_new(&s, r, role))
        return -1;
    if (role == DC_SYNC_INITIATOR) {
        if (dc_sync_step(s, &out, &done, NULL, 0) || send_msg(fd, &out))
            return -1;
    }
    for (;;) {
        if (recv_msg(fd, &in))
            return -1;
        if (in.size == 0)
            break;
        if (dc_sync_step(s, &out, &done, in.ptr, in.size)) {
            fprintf(stderr, "bench_peak_rss: sync: %s\n", dc_replica_errmsg(r));
            return -1;
        }
        if (send_msg(fd, &out))
            return -1;
        if (out.size == 0)
            break;
    }
    dc_sync_free(s);
    dc_buf_dispose(&in);
    dc_buf_dispose(&out);
    return 0;
}

/* ---- the signature checks alone ---- */

typedef struct signed_env {
    const uint8_t *msg; /* the signed bytes: header and payload */
    size_t len;
    const uint8_t *sig;
    uint8_t pk[32];
} signed_env;

typedef struct envs {
    signed_env *v;
    size_t n, cap;
} envs;

static int collect(void *user, uint64_t index, const uint8_t *p, size_t n) {
    envs *a = user;
    dc__envelope e;
    dc__err err;
    (void)index;
    if (dc__envelope_parse(&e, p, n, &err) != 0)
        return -1;
    if (VEC_ROOM(a->v, a->n, a->cap))
        return -1;
    signed_env *s = &a->v[a->n++];
    s->msg = e.raw;
    s->len = (size_t)(e.sig - e.raw);
    s->sig = e.sig;
    memcpy(s->pk, e.author, 32);
    return 0;
}

typedef struct verify_job {
    const signed_env *v;
    size_t from, to, bad;
} verify_job;

static void *verify_range(void *arg) {
    verify_job *j = arg;
    for (size_t i = j->from; i < j->to; i++)
        if (crypto_sign_verify_detached(j->v[i].sig, j->v[i].msg, j->v[i].len, j->v[i].pk) != 0)
            j->bad++;
    return NULL;
}

/* Seconds to verify every envelope of `a` on `threads` threads. */
static double verify_all(const envs *a, int threads) {
    pthread_t th[8];
    verify_job jobs[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (verify_job){a->v, a->n * (size_t)i / (size_t)threads,
                               a->n * (size_t)(i + 1) / (size_t)threads, 0};
        if (pthread_create(&th[i], NULL, verify_range, &jobs[i]) != 0) {
            fprintf(stderr, "bench_peak_rss: pthread_create failed\n");
            exit(1);
        }
    }
    size_t bad = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    double t = now_s() - t0;
    if (bad) {
        fprintf(stderr, "bench_peak_rss: %zu signatures did not verify\n", bad);
        exit(1);
    }
    return t;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* The full_sync row: every envelope of the space (what the sync brought),
 * verified on VERIFY_THREADS threads, VERIFY_RUNS times. */
#define VERIFY_THREADS 2
#define VERIFY_RUNS 3
static void full_sync_row(dc_replica *a, const char *space, long n, double sync, long long rss) {
    dc_buf bundle = DC_BUF_INIT;
    envs all = {NULL, 0, 0};
    uint64_t count = 0;
    dc__err err;
    if (dc_bundle_export(&bundle, a, space))
        die("export", a);
    if (dc__bundle_parse(bundle.ptr, bundle.size, &count, collect, &all, &err) != 0) {
        fprintf(stderr, "bench_peak_rss: the sender's bundle does not parse: %s\n", err.msg);
        exit(1);
    }
    double t[VERIFY_RUNS];
    for (int i = 0; i < VERIFY_RUNS; i++) {
        t[i] = verify_all(&all, VERIFY_THREADS);
        fprintf(stderr, "bench_peak_rss: %zu signatures verified on %d threads in %.2f s\n", all.n,
                VERIFY_THREADS, t[i]);
    }
    qsort(t, VERIFY_RUNS, sizeof *t, cmp_double);
    double v = t[VERIFY_RUNS / 2];
    printf("{\"bench\":\"full_sync\",\"changes\":%ld,\"envelopes\":%zu,\"sync_s\":%.1f,"
           "\"changes_per_s\":%.0f,\"verify_s\":%.2f,\"verify_threads\":%d,\"verify_runs\":%d,"
           "\"ratio\":%.2f,\"target_ratio_max\":1.5,\"peak_rss_bytes\":%lld,"
           "\"target_bytes\":%d,\"cpus\":%ld}\n",
           n, all.n, sync, n / sync, v, VERIFY_THREADS, VERIFY_RUNS, sync / v, rss, 64 << 20,
           sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    free(all.v);
    dc_buf_dispose(&bundle);
}

int main(int argc, char **argv) {
    /* The receiver: a fresh process (exec'd, so it starts with none of the
     * sender's memory), talking over the inherited socket. */
    if (argc == 4 && strcmp(argv[1], "--receive") == 0) {
        dc_replica *rb;
        if (dc_replica_open(&rb, argv[2], NULL))
            return 2;
        int rc = converse(rb, DC_SYNC_RESPONDER, atoi(argv[3]));
        dc_replica_close(rb);
        return rc ? 3 : 0;
    }
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    char dir[] = "/tmp/dc-peak-XXXXXX", pa[64], pb[64];
    if (!mkdtemp(dir) || n <= 0)
        return 1;
    snprintf(pa, sizeof pa, "%s/sender.db", dir);
    snprintf(pb, sizeof pb, "%s/receiver.db", dir);
    dc_replica *a, *b;
    if (dc_replica_open(&a, pa, NULL) || dc_replica_open(&b, pb, NULL))
        die("open", NULL);
    dc_buf sp = DC_BUF_INIT, card = DC_BUF_INIT, mem = DC_BUF_INIT;
    if (dc_space_create(&sp, a, "peak") || dc_replica_card(&card, b) ||
        dc_space_add(a, (const char *)sp.ptr, (const char *)card.ptr, DC_ROLE_MEMBER))
        die("space", a);
    /* The receiver is enrolled first (it accepts the space), so that the
     * changes the sync brings are applied, not merely carried. */
    if (dc_bundle_export(&mem, a, NULL) || dc_bundle_import(b, mem.ptr, mem.size, NULL) ||
        dc_space_accept(b, (const char *)sp.ptr, 0))
        die("enrol", b);
    dc_buf_dispose(&mem);
    dc_replica_close(b);
    double t0 = now_s();
    generate(a, (const char *)sp.ptr, n);
    double gen = now_s() - t0;
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
        return 1;
    fflush(NULL);
    t0 = now_s();
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        char fd[16];
        snprintf(fd, sizeof fd, "%d", fds[1]);
        execl("/proc/self/exe", argv[0], "--receive", pb, fd, (char *)NULL);
        _exit(4);
    }
    close(fds[1]);
    int rc = converse(a, DC_SYNC_INITIATOR, fds[0]);
    close(fds[0]);
    int status;
    struct rusage ru;
    if (wait4(child, &status, 0, &ru) != child || rc || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_peak_rss: the sync failed (child status %d)\n", status);
        return 1;
    }
    double sync = now_s() - t0;
    /* The receiver must hold everything. */
    if (dc_replica_open(&b, pb, NULL))
        die("reopen", NULL);
    dc_buf st = DC_BUF_INIT;
    if (dc_replica_status(&st, b))
        die("status", b);
    const char *c = strstr((const char *)st.ptr, "\"changes\":");
    long held = c ? atol(c + 10) : -1;
    if (held != n + 3) { /* genesis, grant, space name */
        fprintf(stderr, "bench_peak_rss: the receiver holds %ld changes, expected %ld\n", held,
                n + 3);
        return 1;
    }
    long long bytes = (long long)ru.ru_maxrss * 1024;
    printf("{\"bench\":\"peak_rss\",\"changes\":%ld,\"bytes\":%lld,\"target\":%d,"
           "\"generate_s\":%.1f,\"sync_s\":%.1f,\"note\":\"receiver process only (ru_maxrss), "
           "sender in another process over a socketpair\"}\n",
           n, bytes, 64 << 20, gen, sync);
    fflush(stdout);
    full_sync_row(a, (const char *)sp.ptr, n, sync, bytes);
    dc_replica_close(a);
    dc_replica_close(b);
    dc_buf_dispose(&sp);
    dc_buf_dispose(&card);
    dc_buf_dispose(&st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
