/*
 * bench_reconcile — the `reconcile` figures of DESIGN.md: two item sets of
 * 1,000,000 changes each that differ by d, reconciled in process by the
 * sans-IO session of libdrivercore/sync/recon over in-memory sets.  It
 * prints one JSON object per case with the bytes of the reconciliation
 * messages both ways (overhead_bytes), the round trips (request/response
 * pairs: ceil(messages / 2)) and, for scale, the bytes of the missing
 * changes themselves — modelled here as 120 B per change, since no real
 * envelopes are made (real ones are larger, so the true ratio is lower).
 * Bytes are deterministic: the same build prints the same figures.  The
 * session's findings are checked against the true differences each run
 * ("exact"), so a fast wrong answer cannot pass for a good figure.
 *
 *   bench_reconcile [--n N] [--case NAME] [--id-bytes B] [--fp-bytes B]
 *                   [--buckets B] [--first B] [--idlist T]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/recon.h"

#define CHANGE_BYTES 120

static uint64_t g_rng;
static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* An HLC-like timestamp (ms << 16 | counter) and a random 32-byte id. */
static void make_item(dc__recon_item *it, uint64_t ms) {
    it->ts = (ms << 16) | (rnd() & 0xff);
    for (int i = 0; i < 32; i += 8) {
        uint64_t v = rnd();
        memcpy(it->id + i, &v, 8);
    }
}

typedef struct bcase {
    const char *name;
    size_t d;
    int newest;
    double target_bytes; /* < 0: reported only; fraction of change bytes if < 1 */
    int target_rt;       /* 0: none */
} bcase;

static const bcase CASES[] = {
    {"d0", 0, 0, 256, 1},        {"d1", 1, 0, 2048, 4},
    {"d100", 100, 0, 65536, 0},  {"d10000_newest", 10000, 1, 0.10, 4},
    {"d10000", 10000, 0, -1, 0},
};

static void die(const char *what) {
    fprintf(stderr, "bench_reconcile: %s\n", what);
    exit(1);
}

static int cmp_item(const void *a, const void *b) {
    return dc__recon_item_cmp(a, b);
}

/* The sends of s, sorted, must equal want (sorted in place). */
static int same(const dc__recon *s, dc__recon_item *want, size_t n) {
    size_t m;
    const dc__recon_item *got = dc__recon_sends(s, &m);
    if (m != n)
        return 0;
    dc__recon_item *g = malloc((m ? m : 1) * sizeof *g);
    if (!g)
        die("out of memory");
    memcpy(g, got, m * sizeof *g);
    qsort(g, m, sizeof *g, cmp_item);
    qsort(want, n, sizeof *want, cmp_item);
    int ok = m == 0 || memcmp(g, want, m * sizeof *g) == 0;
    free(g);
    return ok;
}

int main(int argc, char **argv) {
    size_t n = 1000000;
    const char *only = NULL;
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("every option takes a value");
        if (!strcmp(a, "--n"))
            n = (size_t)strtoull(v, NULL, 10);
        else if (!strcmp(a, "--case"))
            only = v;
        else if (!strcmp(a, "--id-bytes"))
            o.id_bytes = (unsigned)atoi(v);
        else if (!strcmp(a, "--fp-bytes"))
            o.fp_bytes = (unsigned)atoi(v);
        else if (!strcmp(a, "--buckets"))
            o.buckets = (unsigned)atoi(v);
        else if (!strcmp(a, "--first"))
            o.first_buckets = (unsigned)atoi(v);
        else if (!strcmp(a, "--idlist"))
            o.idlist_max = (unsigned)atoi(v);
        else
            die("unknown option (see the comment at the top of bench/reconcile.c)");
        i++;
    }
    static const uint8_t salt[16] = "bench-salt-0001";
    o.salt = salt; /* sizes do not depend on it; fixed anyway for repeatability */

    /* The shared history: n items about 30 s apart (a year is ~1M changes). */
    g_rng = 20240601;
    dc__recon_item *common = malloc(n * sizeof *common);
    if (!common)
        die("out of memory");
    uint64_t ms = 1700000000000ull;
    for (size_t i = 0; i < n; i++) {
        ms += 1 + rnd() % 60000;
        make_item(&common[i], ms);
    }
    uint64_t first_ms = common[0].ts >> 16, last_ms = ms;

    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const bcase *k = &CASES[c];
        if (only && strcmp(only, k->name) != 0)
            continue;
        /* A shared history of n - da items, and d items split between the
         * sides: each holds n (for odd d, B holds n - 1: d=1 is one item
         * that A has and B lacks). */
        size_t da = (k->d + 1) / 2, db = k->d / 2;
        dc__recon_item *xa = malloc((da + 1) * sizeof *xa), *xb = malloc((db + 1) * sizeof *xb);
        if (!xa || !xb)
            die("out of memory");
        g_rng = 1000 + c;
        uint64_t tail = last_ms;
        for (size_t i = 0; i < da + db; i++) {
            dc__recon_item *it = i < da ? &xa[i] : &xb[i - da];
            uint64_t t;
            if (k->newest) {
                /* A week offline on both sides: the newest changes, the two
                 * devices' writes interleaved in time. */
                tail += 1 + rnd() % 60000;
                t = tail;
            } else {
                t = first_ms + rnd() % (last_ms - first_ms + 1);
            }
            make_item(it, t);
        }
        if (k->newest) /* interleave A's and B's */
            for (size_t i = 0; i < da + db; i++) {
                size_t j = (size_t)(rnd() % (da + db));
                dc__recon_item *x = i < da ? &xa[i] : &xb[i - da];
                dc__recon_item *y = j < da ? &xa[j] : &xb[j - da];
                uint64_t t = x->ts;
                x->ts = y->ts;
                y->ts = t;
            }
        dc__recon_memset *ma, *mb;
        if (dc__recon_memset_new(&ma) || dc__recon_memset_new(&mb) ||
            dc__recon_memset_add(ma, common, n - da) || dc__recon_memset_add(mb, common, n - da) ||
            dc__recon_memset_add(ma, xa, da) || dc__recon_memset_add(mb, xb, db))
            die("out of memory building the sets");

        dc__recon_set va = dc__recon_memset_view(ma), vb = dc__recon_memset_view(mb);
        dc__recon *a, *b;
        dc__err err;
        if (dc__recon_new(&a, DC_RECON_INITIATOR, &va, &o, &err) ||
            dc__recon_new(&b, DC_RECON_RESPONDER, &vb, &o, &err))
            die(err.msg);
        dc_buf m = DC_BUF_INIT, reply = DC_BUF_INIT;
        size_t messages = 0, bytes = 0, largest = 0;
        if (dc__recon_start(a, &m) != 0)
            die(dc__recon_err(a)->msg);
        dc__recon *turn = b;
        for (;;) {
            messages++;
            bytes += m.size;
            if (m.size > largest)
                largest = m.size;
            bool done;
            if (dc__recon_step(turn, &reply, &done, m.ptr, m.size) != 0)
                die(dc__recon_err(turn)->msg);
            if (reply.size == 0)
                break;
            dc__buf_move(&m, &reply);
            turn = turn == a ? b : a;
            if (messages > 100000)
                die("the session does not end");
        }
        int exact = same(a, xa, da) && same(b, xb, db) && dc__recon_need_count(a) == db &&
                    dc__recon_need_count(b) == da;
        size_t rts = (messages + 1) / 2;
        size_t change_bytes = k->d * CHANGE_BYTES;
        double tb = k->target_bytes < 1 && k->target_bytes > 0 ? k->target_bytes * change_bytes
                                                               : k->target_bytes;
        printf("{\"bench\": \"reconcile\", \"case\": \"%s\", \"n\": %zu, \"d\": %zu, "
               "\"layout\": \"%s\", \"change_bytes\": %zu, \"change_bytes_model\": "
               "\"120 B per change (in-memory bench)\", \"overhead_bytes\": %zu, "
               "\"round_trips\": %zu, \"messages\": %zu, \"largest_message\": %zu, "
               "\"id_bytes\": %u, \"fp_bytes\": %u, \"exact\": %s",
               k->name, n, k->d, k->newest ? "newest" : "scattered", change_bytes, bytes, rts,
               messages, largest, o.id_bytes, o.fp_bytes, exact ? "true" : "false");
        if (tb >= 0)
            printf(", \"target_overhead_bytes\": %.0f", tb);
        if (k->target_rt)
            printf(", \"target_round_trips\": %d", k->target_rt);
        if (tb >= 0 || k->target_rt)
            printf(", \"target_met\": %s", exact && (tb < 0 || bytes <= tb) &&
                                                   (!k->target_rt || rts <= (size_t)k->target_rt)
                                               ? "true"
                                               : "false");
        printf("}\n");
        fflush(stdout);
        dc_buf_dispose(&m);
        dc_buf_dispose(&reply);
        dc__recon_free(a);
        dc__recon_free(b);
        dc__recon_memset_free(ma);
        dc__recon_memset_free(mb);
        free(xa);
        free(xb);
    }
    free(common);
    return 0;
}
