/*
 * Out of memory, the SQLite way: fail allocation N, for N = 1, 2, ...,
 * until a scenario runs through without meeting the failure.
 *
 *   test_oom [MAXRUNS] [--key]   (default: every N; a number caps the runs
 *                                 by testing every k-th N beyond the first 300)
 *
 * A counting allocator is installed with dc_global_init before any other
 * call.  The scenario opens two replicas, creates a space, adds the second
 * device, commits a transaction with every kind of op, exports a bundle,
 * imports it into the second replica and dumps both.  Every run in which
 * an allocation failed must end in an error code (not a crash, not an
 * abort) with everything closed, and after each run the allocator must
 * have no block outstanding: nothing leaked on any error path.  A run that
 * succeeds although an allocation failed (the library recovered) must
 * still produce two identical dumps.  Under ASan, LeakSanitizer checks too.
 * SQLite, msgpack-c and libsodium allocate on their own and are not
 * covered by the hook; the library's own allocations and zstd's are.
 *
 * With --key, A is encrypted at rest from the start, and the scenario ends
 * by migrating B (in clear until then) to encryption and rekeying A: the
 * VFS's buffers, the key handling and the copy behind both are covered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "systest.h"

/* ---- the counting allocator ---- */

typedef struct counter {
    long calls;       /* malloc + realloc calls so far in this run */
    long fail_at;     /* fail this call (1-based); 0: never */
    long failed;      /* calls that were failed */
    long outstanding; /* blocks allocated and not yet freed */
    long peak;
} counter;

static counter g;

static bool should_fail(void) {
    g.calls++;
    if (g.fail_at && g.calls == g.fail_at) {
        g.failed++;
        return true;
    }
    return false;
}

static void *c_malloc(size_t n, void *user) {
    (void)user;
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p && ++g.outstanding > g.peak)
        g.peak = g.outstanding;
    return p;
}

static void *c_realloc(void *p, size_t n, void *user) {
    (void)user;
    if (should_fail())
        return NULL; /* the old block stays valid and owned by the caller */
    void *q = realloc(p, n);
    if (q && !p && ++g.outstanding > g.peak)
        g.peak = g.outstanding;
    return q;
}

static void c_free(void *p, void *user) {
    (void)user;
    if (p)
        g.outstanding--;
    free(p);
}

/* ---- the scenario ---- */

static st_clock g_clock = {INT64_C(1700000000000)};
static bool g_key;

static int key_provider(void *user, dc_key *k, int purpose) {
    (void)purpose;
    uint8_t key[32];
    memset(key, *(const uint8_t *)user, sizeof key);
    return dc_key_set(k, key, sizeof key);
}

typedef struct result {
    int rc;
    const char *step;
    char msg[600];
} result;

#define STEP(name, r, call)                                                                        \
    do {                                                                                           \
        res->step = name;                                                                          \
        int rc_ = (call);                                                                          \
        if (rc_ != 0) {                                                                            \
            res->rc = rc_;                                                                         \
            snprintf(res->msg, sizeof res->msg, "%s",                                              \
                     (r) ? dc_replica_errmsg(r) : dc_error_last());                                \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static void scenario(const char *dir, result *res) {
    memset(res, 0, sizeof *res);
    dc_replica *a = NULL, *b = NULL;
    dc_txn *t = NULL;
    dc_buf space = DC_BUF_INIT, card = DC_BUF_INIT, bundle = DC_BUF_INIT, report = DC_BUF_INIT;
    dc_buf da = DC_BUF_INIT, db = DC_BUF_INIT, cid = DC_BUF_INIT;
    char *pa = st_path(dir, "a.dcr"), *pb = st_path(dir, "b.dcr");
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.clock = st_clock_fn;
    o.clock_user = &g_clock;
    static const uint8_t key_a = 0xa0, key_a2 = 0xa2, key_b = 0xb0;
    o.device_name = "oom A";
    if (g_key) {
        o.key_provider = key_provider;
        o.key_user = (void *)&key_a;
    }
    STEP("open A", NULL, dc_replica_open(&a, pa, &o));
    o.device_name = "oom B";
    o.key_provider = NULL;
    STEP("open B", NULL, dc_replica_open(&b, pb, &o));
    STEP("card", b, dc_replica_card(&card, b));
    STEP("space create", a, dc_space_create(&space, a, "out of memory \xf0\x9f\x9a\x9a"));
    const char *sp = (const char *)space.ptr;
    STEP("space add", a, dc_space_add(a, sp, (const char *)card.ptr, DC_ROLE_MEMBER));
    STEP("txn begin", a, dc_txn_begin(&t, a, sp));
    STEP("set", a, dc_txn_set(t, "truck", "34 ABC 123", "plate", DC_STR, 0, "34 ABC 123"));
    STEP("set", a, dc_txn_set(t, "truck", "34 ABC 123", "axles", DC_INT, 5, NULL));
    STEP("set", a, dc_txn_set(t, "truck", "34 ABC 123", "cold", DC_BOOL, 1, NULL));
    STEP("set", a, dc_txn_set(t, "truck", "34 ABC 123", "note", DC_NULL, 0, NULL));
    STEP("add", a, dc_txn_add(t, "branch", "b1", "trucks", DC_STR, 0, "34 ABC 123"));
    STEP("add", a, dc_txn_add(t, "branch", "b1", "trucks", DC_STR, 0, "06 XY 42"));
    STEP("remove", a, dc_txn_remove(t, "branch", "b1", "trucks", DC_STR, 0, "06 XY 42"));
    STEP("event", a, dc_txn_event(t, "truck", "34 ABC 123"));
    STEP("event field", a, dc_txn_event_field(t, "step", DC_STR, 0, "loaded"));
    STEP("event field", a, dc_txn_event_field(t, "kg", DC_INT, 12000, NULL));
    STEP("delete", a, dc_txn_delete(t, "truck", "old"));
    {
        dc_txn *tt = t;
        t = NULL; /* commit frees it, whether or not it succeeds */
        STEP("commit", a, dc_txn_commit(tt, &cid));
    }
    /* A second, larger change, so that zstd compresses it. */
    STEP("txn begin 2", a, dc_txn_begin(&t, a, sp));
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "r%d", i);
        STEP("set 2", a,
             dc_txn_set(t, "row", id, "text", DC_STR, 0,
                        "the same words again and again, the same words again"));
    }
    {
        dc_txn *tt = t;
        t = NULL;
        STEP("commit 2", a, dc_txn_commit(tt, NULL));
    }
    STEP("export", a, dc_bundle_export(&bundle, a, NULL));
    STEP("import", b, dc_bundle_import(b, bundle.ptr, bundle.size, &report));
    STEP("accept", b, dc_space_accept(b, sp, 0));
    /* Removal rotates the key: a lockbox, keys sealed to each member, the
     * state judged again. */
    STEP("rotate", a, dc_space_rotate(a, sp));
    STEP("export 2", a, dc_bundle_export(&bundle, a, NULL));
    STEP("import 2", b,
         dc_bundle_import_with(b, bundle.ptr, bundle.size, DC_IMPORT_SET_ASIDE, &report));
    STEP("dump A", a, dc_replica_dump(&da, a, NULL));
    STEP("dump B", b, dc_replica_dump(&db, b, NULL));
    STEP("status", b, dc_replica_status(&report, b));
    if (g_key) {
        dc_replica_close(b);
        b = NULL;
        o.key_provider = key_provider;
        o.key_user = (void *)&key_b;
        STEP("migrate B", NULL, dc_replica_open(&b, pb, &o));
        STEP("dump B migrated", b, dc_replica_dump(&db, b, NULL));
        STEP("rekey A", a, dc_replica_rekey(a, key_provider, (void *)&key_a2));
        STEP("dump A rekeyed", a, dc_replica_dump(&da, a, NULL));
        if (dc_replica_encrypted(a) != 1 || dc_replica_encrypted(b) != 1)
            ST_FAIL("the scenario completed but a replica is not encrypted");
    }
    res->step = "compare";
    if (da.size != db.size || memcmp(da.ptr, db.ptr, da.size) != 0 ||
        !strstr((char *)db.ptr, "34 ABC 123") || !strstr((char *)db.ptr, "loaded"))
        ST_FAIL("the scenario completed (allocation %ld failed: %s) but the dumps are wrong:\n"
                "A: %s\nB: %s",
                g.fail_at, g.failed ? "yes" : "no", (char *)da.ptr, (char *)db.ptr);
out:
    dc_txn_rollback(t);
    dc_replica_close(a);
    dc_replica_close(b);
    dc_buf_dispose(&space);
    dc_buf_dispose(&card);
    dc_buf_dispose(&bundle);
    dc_buf_dispose(&report);
    dc_buf_dispose(&da);
    dc_buf_dispose(&db);
    dc_buf_dispose(&cid);
    free(pa);
    free(pb);
}

int main(int argc, char **argv) {
    long maxruns = argc > 1 ? atol(argv[1]) : 0;
    g_key = argc > 2 && strcmp(argv[2], "--key") == 0;
    static const dc_allocator alloc = {c_malloc, c_realloc, c_free, NULL};
    dc_global_options go = DC_GLOBAL_OPTIONS_INIT;
    go.allocator = &alloc;
    ST_OK(NULL, dc_global_init(&go));

    const char *base = st_tmpdir("oom");
    char *root = strdup(base);
    result res;

    /* A run with no failure, to count the allocations. */
    char *dir = st_path(root, "ref");
    ST_CHECK(mkdir(dir, 0700) == 0);
    scenario(dir, &res);
    if (res.rc)
        ST_FAIL("the scenario fails with no failure injected, at %s: %s: %s", res.step,
                dc_error_name(res.rc), res.msg);
    st_rmtree(dir);
    free(dir);
    long total = g.calls;
    if (g.outstanding != 0)
        ST_FAIL("%ld blocks outstanding after a clean run: a leak", g.outstanding);
    printf("test_oom: the scenario%s makes %ld allocation calls (peak %ld live blocks)\n",
           g_key ? " (encrypted at rest)" : "", total, g.peak);
    ST_CHECK(total > 10);

    /* Beyond the first 300, test every k-th N if the runs are capped. */
    long stride = 1;
    if (maxruns > 300 && total > maxruns)
        stride = (total - 300) / (maxruns - 300) + 1;
    long runs = 0, errors = 0, recovered = 0, codes[32] = {0}, soft = 0;
    for (long n = 1;; n = n < 300 ? n + 1 : n + stride) {
        memset(&g, 0, sizeof g);
        g.fail_at = n;
        char name[32];
        snprintf(name, sizeof name, "run%ld", n);
        dir = st_path(root, name);
        ST_CHECK(mkdir(dir, 0700) == 0);
        scenario(dir, &res);
        st_rmtree(dir);
        free(dir);
        runs++;
        if (g.outstanding != 0)
            ST_FAIL("failing allocation %ld (in step '%s', result %s: %s) leaked %ld blocks", n,
                    res.step, dc_error_name(res.rc), res.msg, g.outstanding);
        if (!g.failed) {
            if (res.rc)
                ST_FAIL("run %ld failed with no allocation failed: %s at %s: %s", n,
                        dc_error_name(res.rc), res.step, res.msg);
            break; /* past the last allocation: done */
        }
        if (res.rc) {
            if (res.rc >= 0 || !strcmp(dc_error_name(res.rc), "DC_UNKNOWN"))
                ST_FAIL("allocation %ld failed: step '%s' returned %d, not an error code", n,
                        res.step, res.rc);
            /* Reported, and the run goes on so that one run lists them all. */
            if (!res.msg[0]) {
                fprintf(stderr,
                        "FAILED: allocation %ld failed: step '%s' returned %s without a "
                        "message\n",
                        n, res.step, dc_error_name(res.rc));
                soft++;
            } else if (res.rc != DC_ENOMEM) {
                fprintf(stderr,
                        "note: allocation %ld failed: step '%s' returned %s, not "
                        "DC_ENOMEM: %s\n",
                        n, res.step, dc_error_name(res.rc), res.msg);
            }
            errors++;
            codes[-res.rc < 32 ? -res.rc : 0]++;
        } else {
            recovered++;
        }
        if (n > 4 * total + 1000)
            ST_FAIL("the allocation count does not converge (at %ld, reference %ld)", n, total);
    }
    printf("test_oom: %ld runs (every allocation%s): %ld ended in an error, %ld recovered and "
           "completed; no leak, no crash\n",
           runs, stride > 1 ? " up to 300, then a sample" : "", errors, recovered);
    printf("  errors by code:");
    for (int i = 1; i < 32; i++)
        if (codes[i])
            printf(" %s=%ld", dc_error_name(-i), codes[i]);
    printf("\n");
    st_rmtree(root);
    free(root);
    if (soft) {
        fprintf(stderr, "test_oom: %ld failing runs gave no error message (listed above)\n", soft);
        return 1;
    }
    return 0;
}
