/*
 * Randomised convergence: the property the whole library exists for.
 *
 *   test_converge [NTXN] [SEED]      (defaults: 3000 transactions, seed 1)
 *
 * Six replicas in one process (two admins, three members, one reader) share
 * a space.  Each has its own pinned clock: some minutes off, one two days
 * AHEAD (its changes must be held aside by everyone else until their clocks
 * pass) and the reader a day behind (it must hold everyone's changes).
 * Writers commit random transactions of every op kind on a small pool of
 * types, ids, fields and values so that they collide; bundles of random
 * subsets of what a replica holds are sent in random order, duplicated,
 * dropped and re-sent later, across random partitions.  Whoever is admin
 * at the time also changes the membership at random: it removes members
 * (rotating the key), demotes and promotes them, re-adds removed ones and
 * rotates on demand — so removals race the removed device's own writes,
 * two admins remove or demote each other from two sides of a partition,
 * and members offline during a rotation keep writing on the old key.
 * Imports take the sync path (setting bad items aside) half of the time.
 * After healing (an admin re-adds every removed replica, so that all of
 * them can read the whole history again)
 * (clocks advanced past every hold, everyone imports everyone's full
 * bundle) every replica's dump must be byte-identical, and so must the dumps
 * of two late replicas that receive the whole history at the end, one in
 * reverse order in one bundle and one in shuffled chunks.
 *
 * With a third argument `compact` (test_converge NTXN SEED compact), members
 * also ack what they hold and replicas compact the history at random points
 * (docs/data-model.md, "Compaction"): an admin publishes a point, any
 * replica compacts to the points it has.  Before a replica compacts, its
 * whole log is archived; the late replicas, which never compact, receive
 * the archive and the final history, so they are the same run without
 * compaction, and every replica that compacted must print their dump byte
 * for byte (no deleted record back, nothing lost).  A replica that misses
 * history compacted away must say so ("snapshot_needed") and is then left
 * out of the comparison: it is never silently different.
 *
 * Bundles are split and re-framed with the internal codec (dc__bundle_*),
 * which is how a subset or a reordering of envelopes is made; everything
 * else goes through the public API.  The seed is printed first, so a
 * failure replays exactly; the exit status is non-zero on any mismatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "codec/codec.h"
#include "systest.h"

#define NREP 6  /* r0..r5 */
#define NLATE 2 /* late replicas, synced only at the end */
#define QMAX 48 /* messages in flight at most */
#define DAY_MS (86400LL * 1000)
#define MIN_MS (60LL * 1000)

static const int64_t T0 = INT64_C(1700000000000);
static const int64_t OFFSET[NREP] = {0, 3 * MIN_MS, -7 * MIN_MS, 2 * DAY_MS, -40 * MIN_MS, -DAY_MS};
static const int ROLE[NREP] = {DC_ROLE_ADMIN,  DC_ROLE_ADMIN,  DC_ROLE_MEMBER,
                               DC_ROLE_MEMBER, DC_ROLE_MEMBER, DC_ROLE_READER};

/* The pools random transactions draw from: small, so changes collide, with
 * multibyte UTF-8 in every kind of name. */
static const char *TYPES[] = {"truck", "branch", "t\xc3\xbcr"};
static const char *IDS[] = {"a", "b", "c", "d\xe2\x82\xac", "e", "f"};
static const char *FIELDS[] = {"f", "g", "h\xc3\x9f"};
static const char *SETS[] = {"s", "u"};
static const char *EVKEYS[] = {"k1", "k2", "note", "\xc3\xa7"};
static const char *STRS[] = {"", "x", "y", "\xf0\x9f\x9a\x9a",
                             "a longer value that takes some room in the body ......"};
static const int64_t INTS[] = {0, 1, -1, 42, INT64_MIN, INT64_MAX};
#define N_(a) (sizeof(a) / sizeof((a)[0]))

typedef struct msg {
    int src, dst;
    dc_buf bundle;
} msg;

typedef struct world {
    st_rng rng;
    const char *dir;
    st_clock clock[NREP + NLATE];
    dc_replica *r[NREP + NLATE];
    char space[64];
    int64_t now;     /* shared "true" time; each clock is now + its offset */
    int group[NREP]; /* partition: replicas talk only within a group */
    msg q[QMAX];
    int nq;
    msg resend[QMAX];
    int nresend;
    char card[NREP + NLATE][512];
    /* statistics */
    long commits, ops, rollbacks, sends, deliveries, duplicates, drops, resends, blocked;
    long removals, role_changes, readds, rotations, refused_writes, refused_admin, refused_key;
    /* compaction (the `compact` mode) */
    bool compact;
    dc_buf *arch; /* every replica's whole log just before it compacted */
    size_t narch;
    long acks, compactions, published;
    unsigned long long dropped, auto_dropped; /* by dc_space_compact; as imports ended */
} world;

static void set_clocks(world *w) {
    for (int i = 0; i < NREP; i++)
        w->clock[i].now_ms = w->now + OFFSET[i];
    for (int i = NREP; i < NREP + NLATE; i++)
        w->clock[i].now_ms = w->now;
}

/* ---- random values and transactions ---- */

typedef struct val {
    int kind;
    int64_t num;
    const char *str;
} val;

static val random_value(st_rng *g) {
    val v = {DC_NULL, 0, NULL};
    switch (st_below(g, 4)) {
    case 0: break;
    case 1:
        v.kind = DC_BOOL;
        v.num = (int64_t)st_below(g, 2);
        break;
    case 2:
        v.kind = DC_INT;
        v.num = INTS[st_below(g, N_(INTS))];
        break;
    default: v.kind = DC_STR; v.str = STRS[st_below(g, N_(STRS))];
    }
    return v;
}

/* Set members: a few values of mixed kinds, so adds and removes meet. */
static val random_member(st_rng *g) {
    static const val pool[] = {{DC_STR, 0, "p"},
                               {DC_STR, 0, "q\xc3\xa9"},
                               {DC_INT, 1, NULL},
                               {DC_INT, -7, NULL},
                               {DC_BOOL, 1, NULL}};
    return pool[st_below(g, N_(pool))];
}

static void random_txn(world *w, int ri) {
    st_rng *g = &w->rng;
    dc_replica *r = w->r[ri];
    dc_txn *t = NULL;
    int brc = dc_txn_begin(&t, r, w->space);
    if (brc == DC_EDENIED || brc == DC_ENOKEY) {
        /* Removed or demoted (as this replica knows), or it has not
         * received the key of the current epoch yet. */
        w->refused_writes++;
        return;
    }
    ST_OK(r, brc);
    int nops = 1 + (int)st_below(g, 6);
    for (int k = 0; k < nops; k++) {
        const char *type = TYPES[st_below(g, N_(TYPES))];
        const char *id = IDS[st_below(g, N_(IDS))];
        unsigned pick = (unsigned)st_below(g, 100);
        if (pick < 40) {
            val v = random_value(g);
            ST_OK(r,
                  dc_txn_set(t, type, id, FIELDS[st_below(g, N_(FIELDS))], v.kind, v.num, v.str));
        } else if (pick < 60) {
            val v = random_member(g);
            ST_OK(r, dc_txn_add(t, type, id, SETS[st_below(g, N_(SETS))], v.kind, v.num, v.str));
        } else if (pick < 75) {
            val v = random_member(g);
            ST_OK(r, dc_txn_remove(t, type, id, SETS[st_below(g, N_(SETS))], v.kind, v.num, v.str));
        } else if (pick < 98) {
            ST_OK(r, dc_txn_event(t, type, id));
            /* Distinct keys: a random subset of the pool, in pool order. */
            for (size_t f = 0; f < N_(EVKEYS); f++) {
                if (st_chance(g, 40)) {
                    val v = random_value(g);
                    ST_OK(r, dc_txn_event_field(t, EVKEYS[f], v.kind, v.num, v.str));
                }
            }
        } else {
            ST_OK(r, dc_txn_delete(t, type, id));
        }
    }
    ST_CHECK(dc_txn_op_count(t) == (size_t)nops);
    if (st_chance(g, 3)) {
        dc_txn_rollback(t);
        w->rollbacks++;
        return;
    }
    dc_buf cid = DC_BUF_INIT;
    ST_OK(r, dc_txn_commit(t, &cid));
    ST_CHECK(cid.size == 64);
    dc_buf_dispose(&cid);
    w->commits++;
    w->ops += nops;
}

/* ---- bundles: subsets and reorderings ---- */

typedef struct envs {
    size_t n, cap;
    const uint8_t **p;
    size_t *len;
} envs;

static int collect(void *user, uint64_t index, const uint8_t *env, size_t n) {
    (void)index;
    envs *e = user;
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 256;
        e->p = realloc(e->p, e->cap * sizeof *e->p);
        e->len = realloc(e->len, e->cap * sizeof *e->len);
        if (!e->p || !e->len)
            ST_FAIL("out of memory");
    }
    e->p[e->n] = env; /* borrowed from the bundle, which outlives e */
    e->len[e->n] = n;
    e->n++;
    return 0;
}

static void split(envs *e, const dc_buf *bundle) {
    memset(e, 0, sizeof *e);
    uint64_t count = 0;
    dc__err err;
    if (dc__bundle_parse(bundle->ptr, bundle->size, &count, collect, e, &err) != 0)
        ST_FAIL("an exported bundle does not parse: %s", err.msg);
    ST_CHECK(count == e->n);
}

static void envs_free(envs *e) {
    free(e->p);
    free(e->len);
}

static void shuffle(st_rng *g, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)st_below(g, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* A bundle of the envelopes idx[0..n) of e, in that order. */
static void frame(dc_buf *out, const envs *e, const size_t *idx, size_t n) {
    ST_CHECK(dc__bundle_begin(out) == 0);
    for (size_t i = 0; i < n; i++)
        ST_CHECK(dc__bundle_add(out, e->p[idx[i]], e->len[idx[i]]) == 0);
    ST_CHECK(dc__bundle_finish(out) == 0);
}

static void import(world *w, int dst, const dc_buf *b, const char *what) {
    dc_replica *r = w->r[dst];
    dc_buf report = DC_BUF_INIT;
    /* Half the time as a sync session imports (setting bad items aside):
     * with nothing bad in flight, both paths must reach the same state. */
    unsigned flags = st_chance(&w->rng, 50) ? DC_IMPORT_SET_ASIDE : 0;
    int rc = dc_bundle_import_with(r, b->ptr, b->size, flags, &report);
    if (rc != 0)
        ST_FAIL("replica %d importing %s: %s: %s", dst, what, dc_error_name(rc),
                dc_replica_errmsg(r));
    ST_CHECK(st_json_int((char *)report.ptr, "envelopes") >= 0);
    ST_CHECK(st_json_int((char *)report.ptr, "set_aside") == 0);
    /* A point the bundle brought was compacted to as the import ended
     * (docs/data-model.md, "Compaction"): no archive is taken first, since
     * what it covers is in the archive of the admin that published it. */
    long long auto_dropped = st_json_int((char *)report.ptr, "compacted");
    ST_CHECK(auto_dropped >= 0);
    w->auto_dropped += (unsigned long long)auto_dropped;
    dc_buf_dispose(&report);
}

/* ---- membership ---- */

static const char *dev_id(world *w, int i) {
    return dc_replica_device_id(w->r[i]);
}

/* The role of replica `who` as replica `by` knows it (0: none). */
static int role_of(world *w, int by, int who) {
    dc_buf b = DC_BUF_INIT;
    ST_OK(w->r[by], dc_space_members(&b, w->r[by], w->space));
    const char *p = strstr((const char *)b.ptr, dev_id(w, who));
    int role = 0;
    if (p) {
        const char *q = strstr(p, "\"role\":\"");
        if (q) {
            q += 8;
            role = strncmp(q, "admin", 5) == 0    ? DC_ROLE_ADMIN
                   : strncmp(q, "member", 6) == 0 ? DC_ROLE_MEMBER
                                                  : DC_ROLE_READER;
        }
    }
    dc_buf_dispose(&b);
    return role;
}

/* An admin (as it knows itself) changes the membership at random.  Refusals
 * the library must give are checked: the last admin stays. */
static void random_membership(world *w) {
    st_rng *g = &w->rng;
    int a = (int)st_below(g, NREP);
    if (role_of(w, a, a) != DC_ROLE_ADMIN)
        return;
    int who = (int)st_below(g, NREP);
    unsigned pick = (unsigned)st_below(g, 100);
    int cur = role_of(w, a, who);
    int rc;
    if (pick < 15) {
        rc = dc_space_rotate(w->r[a], w->space);
        ST_OK(w->r[a], rc);
        w->rotations++;
        return;
    }
    if (cur == 0) {
        /* Removed (as a knows it): add it back with a random role. */
        int role = 1 + (int)st_below(g, 3);
        rc = dc_space_add(w->r[a], w->space, w->card[who], role);
        if (rc == DC_ENOKEY) {
            /* Another admin rotated and a has not received the key yet. */
            w->refused_key++;
            return;
        }
        ST_OK(w->r[a], rc);
        w->readds++;
        return;
    }
    if (pick < 55) {
        rc = dc_space_remove(w->r[a], w->space, dev_id(w, who));
        if (rc == DC_EDENIED) {
            /* The last admin (who may be a itself) cannot be removed. */
            ST_CHECK(strstr(dc_replica_errmsg(w->r[a]), "no admin") != NULL);
            w->refused_admin++;
            return;
        }
        ST_OK(w->r[a], rc);
        w->removals++;
        return;
    }
    int role = 1 + (int)st_below(g, 3);
    rc = dc_space_set_role(w->r[a], w->space, dev_id(w, who), role);
    if (rc == DC_ENOKEY) {
        w->refused_key++;
        return;
    }
    if (rc == DC_EDENIED) {
        ST_CHECK(strstr(dc_replica_errmsg(w->r[a]), "no admin") != NULL);
        w->refused_admin++;
        return;
    }
    ST_OK(w->r[a], rc);
    w->role_changes++;
}

/* ---- compaction ---- */

static void random_ack(world *w) {
    int i = (int)st_below(&w->rng, NREP);
    int rc = dc_space_ack(w->r[i], w->space);
    /* A reader or a removed device writes nothing; a member may not hold
     * the current key yet. */
    if (rc == DC_EDENIED || rc == DC_ENOKEY)
        return;
    ST_OK(w->r[i], rc);
    w->acks++;
}

/* Replica i compacts, its whole log archived first.  Returns whether it
 * says it misses compacted history (-1: it could not compact at all). */
static int compact_one(world *w, int i) {
    dc_buf *a = realloc(w->arch, (w->narch + 1) * sizeof *a);
    ST_CHECK(a != NULL);
    w->arch = a;
    dc_buf_init(&w->arch[w->narch]);
    ST_OK(w->r[i], dc_bundle_export(&w->arch[w->narch], w->r[i], NULL));
    w->narch++;
    dc_buf out = DC_BUF_INIT;
    /* A member silent for 45 minutes of the run's time is left out. */
    dc_compact_options o = {1, 45 * MIN_MS};
    int rc = dc_space_compact(&out, w->r[i], w->space, &o);
    if (rc == DC_EDENIED || rc == DC_ENOKEY) {
        dc_buf_dispose(&out);
        return -1;
    }
    ST_OK(w->r[i], rc);
    const char *j = (const char *)out.ptr;
    ST_CHECK(strstr(j, w->space) != NULL);
    w->compactions++;
    w->published += strstr(j, "\"published\":true") != NULL;
    long long d = st_json_int(j, "dropped");
    ST_CHECK(d >= 0);
    w->dropped += (unsigned long long)d;
    int late = strstr(j, "\"snapshot_needed\":true") != NULL;
    dc_buf_dispose(&out);
    return late;
}

/* ---- the network ---- */

static void net_send(world *w) {
    st_rng *g = &w->rng;
    if (w->nq == QMAX)
        return;
    int src = (int)st_below(g, NREP), dst = (int)st_below(g, NREP - 1);
    if (dst >= src)
        dst++;
    dc_buf full = DC_BUF_INIT;
    ST_OK(w->r[src], dc_bundle_export(&full, w->r[src], st_chance(g, 50) ? w->space : NULL));
    msg *m = &w->q[w->nq++];
    m->src = src;
    m->dst = dst;
    dc_buf_init(&m->bundle);
    if (st_chance(g, 15)) {
        dc__buf_move(&m->bundle, &full); /* everything, in the exporter's order */
    } else {
        /* A random subset in random order: changes arrive before what they
         * depend on, removes before the adds they observed, and so on.
         * Mostly recent envelopes (as a peer would send), so that the cost
         * of a run grows about linearly with its length. */
        envs e;
        split(&e, &full);
        size_t *idx = malloc((e.n + 1) * sizeof *idx), k = 0;
        for (size_t i = 0; i < e.n; i++)
            if (st_chance(g, i + 200 >= e.n ? 60 : 3))
                idx[k++] = i;
        shuffle(g, idx, k);
        frame(&m->bundle, &e, idx, k);
        free(idx);
        envs_free(&e);
    }
    dc_buf_dispose(&full);
    w->sends++;
}

static void net_deliver(world *w) {
    st_rng *g = &w->rng;
    if (w->nq == 0)
        return;
    int i = (int)st_below(g, (uint64_t)w->nq);
    msg *m = &w->q[i];
    if (w->group[m->src] != w->group[m->dst]) {
        w->blocked++; /* partitioned: it waits in the queue */
        return;
    }
    import(w, m->dst, &m->bundle, "a bundle in flight");
    w->deliveries++;
    if (st_chance(g, 15)) {
        w->duplicates++; /* stays in the queue: delivered again later */
        return;
    }
    dc_buf_dispose(&m->bundle);
    w->q[i] = w->q[--w->nq];
}

static void net_drop(world *w) {
    st_rng *g = &w->rng;
    if (w->nq == 0)
        return;
    int i = (int)st_below(g, (uint64_t)w->nq);
    w->drops++;
    if (w->nresend < QMAX && st_chance(g, 50)) {
        w->resend[w->nresend++] = w->q[i]; /* lost now, sent again much later */
    } else {
        dc_buf_dispose(&w->q[i].bundle);
    }
    w->q[i] = w->q[--w->nq];
}

static void net_resend(world *w) {
    if (w->nresend == 0 || w->nq == QMAX)
        return;
    int i = (int)st_below(&w->rng, (uint64_t)w->nresend);
    w->q[w->nq++] = w->resend[i];
    w->resend[i] = w->resend[--w->nresend];
    w->resends++;
}

static void repartition(world *w) {
    st_rng *g = &w->rng;
    bool split_ = st_chance(g, 60);
    for (int i = 0; i < NREP; i++)
        w->group[i] = split_ ? (int)st_below(g, 2) : 0;
}

/* ---- setup ---- */

static void setup(world *w) {
    set_clocks(w);
    char name[32];
    for (int i = 0; i < NREP + NLATE; i++) {
        snprintf(name, sizeof name, "r%d.dcr", i);
        char *path = st_path(w->dir, name);
        snprintf(name, sizeof name, i < NREP ? "replica %d" : "late replica %d", i);
        w->r[i] = st_open(path, name, &w->clock[i]);
        free(path);
    }
    /* Setup happens with every clock agreeing; the skews start after. */
    for (int i = 0; i < NREP + NLATE; i++)
        w->clock[i].now_ms = w->now;
    dc_buf b = DC_BUF_INIT;
    ST_OK(w->r[0], dc_space_create(&b, w->r[0], "convergence \xf0\x9f\x9a\x9a"));
    ST_CHECK(b.size == 32);
    memcpy(w->space, b.ptr, b.size);
    w->space[b.size] = 0;
    for (int i = 0; i < NREP + NLATE; i++) {
        ST_OK(w->r[i], dc_replica_card(&b, w->r[i]));
        ST_CHECK(b.size < sizeof w->card[i]);
        memcpy(w->card[i], b.ptr, b.size + 1);
        if (i)
            ST_OK(w->r[0],
                  dc_space_add(w->r[0], w->space, w->card[i], i < NREP ? ROLE[i] : DC_ROLE_READER));
    }
    ST_OK(w->r[0], dc_bundle_export(&b, w->r[0], NULL));
    for (int i = 1; i < NREP; i++) {
        import(w, i, &b, "the bootstrap bundle");
        /* Invited by a device it does not know yet: it joins by accepting. */
        ST_OK(w->r[i], dc_space_list(&b, w->r[i]));
        ST_CHECK(strstr((const char *)b.ptr, "\"state\":\"invited\"") != NULL);
        ST_OK(w->r[i], dc_space_accept(w->r[i], w->space, 0));
        ST_OK(w->r[0], dc_bundle_export(&b, w->r[0], NULL));
    }
    dc_buf_dispose(&b);
    /* Every replica now holds the key and may act by its role. */
    for (int i = 0; i < NREP; i++) {
        ST_OK(w->r[i], dc_space_list(&b, w->r[i]));
        const char *list = (const char *)b.ptr;
        if (!strstr(list, "\"has_key\":true") && !strstr(list, "\"has_key\": true"))
            ST_FAIL("replica %d has no key after bootstrap: %s", i, (char *)b.ptr);
    }
    dc_txn *t = NULL;
    ST_EXPECT(DC_EDENIED, dc_txn_begin(&t, w->r[NREP - 1], w->space));
    ST_CHECK(t == NULL);
    dc_buf_dispose(&b);
    set_clocks(w);
}

/* ---- healing and comparison ---- */

/* Everyone imports everyone's full bundle, in rounds until a round moves
 * nothing new: a change kept unauthorised is not passed on, and may become
 * valid during a round (the grant that covers it arrives), so it travels
 * in the next one — as the next sync would carry it. */
static void exchange_all(world *w, const char *what) {
    dc_buf bundles[NREP];
    for (int round = 0;; round++) {
        ST_CHECK(round < 8);
        long long fresh = 0;
        for (int i = 0; i < NREP; i++) {
            dc_buf_init(&bundles[i]);
            ST_OK(w->r[i], dc_bundle_export(&bundles[i], w->r[i], NULL));
        }
        for (int i = 0; i < NREP; i++)
            for (int j = 0; j < NREP; j++) {
                if (i == j)
                    continue;
                dc_buf report = DC_BUF_INIT;
                int rc = dc_bundle_import(w->r[i], bundles[j].ptr, bundles[j].size, &report);
                if (rc != 0)
                    ST_FAIL("replica %d importing %s: %s: %s", i, what, dc_error_name(rc),
                            dc_replica_errmsg(w->r[i]));
                fresh += st_json_int((char *)report.ptr, "new");
                long long d = st_json_int((char *)report.ptr, "compacted");
                ST_CHECK(d >= 0);
                w->auto_dropped += (unsigned long long)d;
                dc_buf_dispose(&report);
            }
        for (int i = 0; i < NREP; i++)
            dc_buf_dispose(&bundles[i]);
        if (fresh == 0)
            break;
    }
}

static long long total_held(world *w, int n) {
    long long held = 0;
    for (int i = 0; i < n; i++) {
        char *s = st_status(w->r[i]);
        held += st_json_sum(s, "held");
        free(s);
    }
    return held;
}

static void late_sync(world *w, const dc_buf *all) {
    envs e;
    split(&e, all);
    size_t *idx = malloc((e.n + 1) * sizeof *idx);
    /* Late replica A: the whole history in reverse order, one bundle. */
    for (size_t i = 0; i < e.n; i++)
        idx[i] = e.n - 1 - i;
    dc_buf b = DC_BUF_INIT;
    frame(&b, &e, idx, e.n);
    import(w, NREP, &b, "the whole history, reversed");
    /* Late replica B: the whole history shuffled, membership and changes
     * alike, in chunks of 1..64, each chunk its own bundle, some chunks
     * twice.  A change whose author's grant has not arrived yet is kept
     * unauthorised and applied when it does; a grant whose signer's own
     * grant has not arrived waits the same way. */
    for (size_t i = 0; i < e.n; i++)
        idx[i] = i;
    shuffle(&w->rng, idx, e.n);
    for (size_t at = 0; at < e.n;) {
        size_t k = 1 + (size_t)st_below(&w->rng, 64);
        if (k > e.n - at)
            k = e.n - at;
        frame(&b, &e, idx + at, k);
        import(w, NREP + 1, &b, "a shuffled chunk of the history");
        if (st_chance(&w->rng, 10))
            import(w, NREP + 1, &b, "a shuffled chunk of the history, again");
        at += k;
    }
    for (int i = NREP; i < NREP + NLATE; i++)
        ST_OK(w->r[i], dc_space_accept(w->r[i], w->space, 0));
    dc_buf_dispose(&b);
    free(idx);
    envs_free(&e);
}

/* ---- deterministic randomness ----
 * Keys, nonces and space ids come from libsodium's generator.  Seeded from
 * the run's seed, they make a run replay exactly (device keys decide
 * tie-breaks, so a failure found once must be found again). */
static uint8_t g_rng_key[32];
static uint64_t g_rng_ctr;

static const char *det_name(void) {
    return "drivercore-test-deterministic";
}

static void det_buf(void *const buf, const size_t size) {
    uint8_t nonce[8];
    memcpy(nonce, &g_rng_ctr, sizeof nonce);
    g_rng_ctr++;
    crypto_stream_chacha20(buf, size, nonce, g_rng_key);
}

static uint32_t det_random(void) {
    uint32_t x;
    det_buf(&x, sizeof x);
    return x;
}

static randombytes_implementation g_det = {det_name, det_random, NULL, NULL, det_buf, NULL};

int main(int argc, char **argv) {
    long ntxn = argc > 1 ? atol(argv[1]) : 3000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    bool compact = argc > 3 && strcmp(argv[3], "compact") == 0;
    if (ntxn <= 0 || (argc > 3 && !compact)) {
        fprintf(stderr, "usage: test_converge [NTXN] [SEED] [compact]\n");
        return 2;
    }
    printf("test_converge: %ld transactions, seed %llu (replay: test_converge %ld %llu)\n", ntxn,
           (unsigned long long)seed, ntxn, (unsigned long long)seed);
    fflush(stdout);
    clock_t c0 = clock();
    memcpy(g_rng_key, &seed, sizeof seed);
    randombytes_set_implementation(&g_det);
    ST_OK(NULL, dc_global_init(NULL));
    world *w = calloc(1, sizeof *w);
    ST_CHECK(w != NULL);
    st_seed(&w->rng, seed);
    w->dir = st_tmpdir("converge");
    w->compact = compact;
    w->now = T0;
    setup(w);

    int writers[NREP], nw = 0;
    for (int i = 0; i < NREP; i++)
        if (ROLE[i] != DC_ROLE_READER)
            writers[nw++] = i;
    long repart_every = ntxn / 8 > 20 ? ntxn / 8 : 20;
    long step = 0;
    while (w->commits + w->rollbacks < ntxn) {
        step++;
        w->now += (int64_t)st_below(&w->rng, 2500); /* time passes unevenly */
        set_clocks(w);
        if (step % repart_every == 0)
            repartition(w);
        unsigned pick = (unsigned)st_below(&w->rng, 100);
        if (pick < 53)
            random_txn(w, writers[st_below(&w->rng, (uint64_t)nw)]);
        else if (pick < 55)
            random_membership(w);
        else if (w->compact && pick < 58 && st_chance(&w->rng, 80))
            random_ack(w);
        else if (w->compact && pick < 58 && st_chance(&w->rng, 40))
            compact_one(w, (int)st_below(&w->rng, NREP));
        else if (pick < 70)
            net_send(w);
        else if (pick < 90)
            net_deliver(w);
        else if (pick < 95)
            net_drop(w);
        else
            net_resend(w);
    }
    /* The two-days-ahead replica's changes are still held by the others. */
    long long held_before = total_held(w, NREP);
    printf("before healing: %lld changes held aside across replicas\n", held_before);

    /* Heal: every clock passes every hold, the network reunites, whatever
     * is in flight or waiting to be re-sent arrives, then everyone imports
     * everyone's full bundle. */
    w->now += 3 * DAY_MS;
    set_clocks(w);
    /* The clocks are set right too: an admin may write while healing (it
     * seals keys a removal left unreachable under the current key), and a
     * reader a day behind would hold that for a day. */
    for (int i = 0; i < NREP; i++)
        w->clock[i].now_ms = w->now;
    for (int i = 0; i < NREP; i++)
        w->group[i] = 0;
    while (w->nresend || w->nq) {
        if (w->nresend && w->nq < QMAX)
            net_resend(w);
        else
            net_deliver(w);
    }
    exchange_all(w, "a full bundle while healing");
    /* Every replica now holds the same membership: the same members with
     * the same roles.  (The changes judged unauthorised need not be the
     * same on all: they are kept where they arrived but never passed on.) */
    dc_buf m0 = DC_BUF_INIT, mi = DC_BUF_INIT;
    ST_OK(w->r[0], dc_space_members(&m0, w->r[0], w->space));
    for (int i = 1; i < NREP; i++) {
        ST_OK(w->r[i], dc_space_members(&mi, w->r[i], w->space));
        if (strcmp((const char *)m0.ptr, (const char *)mi.ptr) != 0) {
            st_show_diff("replica 0's members", (const char *)m0.ptr, "replica i's members",
                         (const char *)mi.ptr);
            ST_FAIL("replica %d's members differ from replica 0's (files in %s)", i, w->dir);
        }
    }
    dc_buf_dispose(&mi);
    dc_buf_dispose(&m0);
    char *s0 = st_status(w->r[0]);
    long long unauth0 = st_json_sum(s0, "unauthorised");
    free(s0);
    printf("membership: %ld removals, %ld role changes, %ld re-adds, %ld rotations, %ld refused "
           "(last admin), %ld refused (key not yet received), %ld writes refused; %lld changes "
           "unauthorised on replica 0\n",
           w->removals, w->role_changes, w->readds, w->rotations, w->refused_admin, w->refused_key,
           w->refused_writes, unauth0);
    long long held_after = total_held(w, NREP);
    if (held_after != 0)
        ST_FAIL("%lld changes still held after every clock passed them (import must release "
                "held changes); replica files kept in %s",
                held_after, w->dir);
    for (int i = 0; i < NREP; i++) {
        uint64_t applied = 99;
        ST_OK(w->r[i], dc_replica_release_held(&applied, w->r[i]));
        ST_CHECK(applied == 0);
    }
    if (w->commits > 50 && held_before == 0)
        ST_FAIL("nothing was ever held: the clock-skew path was not exercised");
    /* An admin adds back every replica removed, so all of them read the
     * whole history again (the new grant seals the current key; the
     * rotations' lockboxes hold every older one). */
    int admin = -1;
    for (int i = 0; i < NREP && admin < 0; i++) {
        dc_buf l = DC_BUF_INIT;
        ST_OK(w->r[i], dc_space_list(&l, w->r[i]));
        /* An admin holding the current key (every admin does once an
         * admin that holds it has sealed it to the others). */
        if (role_of(w, 0, i) == DC_ROLE_ADMIN && strstr((const char *)l.ptr, "\"has_key\":true"))
            admin = i;
        dc_buf_dispose(&l);
    }
    ST_CHECK(admin >= 0);
    for (int i = 0; i < NREP; i++)
        if (role_of(w, admin, i) == 0)
            ST_OK(w->r[admin], dc_space_add(w->r[admin], w->space, w->card[i], DC_ROLE_READER));
    exchange_all(w, "a full bundle after re-adding");

    /* Compaction: every member acks what it now holds, an admin publishes
     * the point, every replica compacts to it (its log archived first). */
    bool left[NREP + NLATE] = {false};
    int nleft = 0;
    if (w->compact) {
        for (int i = 0; i < NREP; i++)
            if (dc_space_ack(w->r[i], w->space) == 0)
                w->acks++;
        exchange_all(w, "the acks");
        /* The admins publish (one that misses history compacted away
         * still publishes from what every member acked), then everyone
         * compacts to what it received. */
        for (int i = 0; i < NREP; i++)
            if (role_of(w, admin, i) == DC_ROLE_ADMIN)
                ST_CHECK(compact_one(w, i) >= 0);
        exchange_all(w, "the point");
        for (int i = 0; i < NREP; i++) {
            int late = compact_one(w, i);
            ST_CHECK(late >= 0);
            left[i] = late == 1;
            nleft += late == 1;
        }
        exchange_all(w, "after compacting");
        printf("compaction: %ld acks, %ld compactions (%ld points published), %llu envelopes "
               "dropped (%llu more as imports brought a point); %d replicas miss compacted "
               "history and say so\n",
               w->acks, w->compactions, w->published, w->dropped, w->auto_dropped, nleft);
        if (w->dropped == 0 && w->commits > 50)
            ST_FAIL("compaction never dropped anything: the path was not exercised");
        if (w->auto_dropped == 0 && w->published && w->commits > 50)
            ST_FAIL("no import compacted to the point it brought: the path was not exercised");
    }

    dc_buf all = DC_BUF_INIT;
    ST_OK(w->r[admin], dc_bundle_export(&all, w->r[admin], NULL));
    if (w->narch) {
        /* The late replicas take the whole history, compacted away or not:
         * the run without compaction. */
        envs e;
        split(&e, &all);
        dc_buf merged = DC_BUF_INIT;
        ST_CHECK(dc__bundle_begin(&merged) == 0);
        for (size_t i = 0; i < e.n; i++)
            ST_CHECK(dc__bundle_add(&merged, e.p[i], e.len[i]) == 0);
        for (size_t k = 0; k < w->narch; k++) {
            envs ea;
            split(&ea, &w->arch[k]);
            for (size_t i = 0; i < ea.n; i++)
                ST_CHECK(dc__bundle_add(&merged, ea.p[i], ea.len[i]) == 0);
            envs_free(&ea);
        }
        ST_CHECK(dc__bundle_finish(&merged) == 0);
        envs_free(&e);
        dc_buf_dispose(&all);
        all = merged;
    }
    late_sync(w, &all);
    dc_buf_dispose(&all);

    /* Compare, against the first late replica in the compaction mode (the
     * whole history, never compacted). */
    int failed = 0;
    int ref_i = w->compact ? NREP : 0;
    char *ref = st_dump(w->r[ref_i]);
    for (int i = 0; i < NREP + NLATE; i++) {
        if (i == ref_i || left[i])
            continue;
        char *d = st_dump(w->r[i]);
        if (strcmp(ref, d) != 0) {
            fprintf(stderr, "MISMATCH: replica %d's dump differs from replica %d's\n", i, ref_i);
            char a[32], b[32];
            snprintf(a, sizeof a, "replica %d", ref_i);
            snprintf(b, sizeof b, "replica %d", i);
            st_show_diff(a, ref, b, d);
            failed = 1;
        }
        free(d);
    }
    /* The state is not trivially empty: records were written and survive. */
    if (w->commits > 50 && strlen(ref) < 200)
        ST_FAIL("the converged dump is suspiciously small (%zu bytes): %s", strlen(ref), ref);
    char *status = st_status(w->r[0]);
    long long changes = st_json_sum(status, "changes");
    free(status);
    printf("commits %ld (ops %ld), rollbacks %ld, sends %ld, deliveries %ld (duplicates %ld, "
           "blocked by partition %ld), drops %ld, re-sends %ld; %lld changes in the log; dump "
           "%zu bytes; %.1f s CPU\n",
           w->commits, w->ops, w->rollbacks, w->sends, w->deliveries, w->duplicates, w->blocked,
           w->drops, w->resends, changes, strlen(ref), (double)(clock() - c0) / CLOCKS_PER_SEC);
    free(ref);

    for (int i = 0; i < NREP + NLATE; i++)
        dc_replica_close(w->r[i]);
    for (size_t k = 0; k < w->narch; k++)
        dc_buf_dispose(&w->arch[k]);
    free(w->arch);
    if (!failed)
        st_rmtree(w->dir);
    else
        fprintf(stderr, "replica files kept in %s\n", w->dir);
    free(w);
    if (failed) {
        fprintf(stderr, "test_converge: FAILED (seed %llu)\n", (unsigned long long)seed);
        return 1;
    }
    printf("test_converge: all %d replicas byte-identical (%d left out: they say they need a "
           "snapshot)\n",
           NREP + NLATE - nleft, nleft);
    return 0;
}
