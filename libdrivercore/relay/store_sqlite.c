/*
 * The relay's own store (relay_store.h): one SQLite file holding a replica
 * with no space key.  dc_bundle_import already verifies each envelope's
 * signature and its author's write right from the clear, admin-signed
 * membership, and keeps changes it cannot decrypt opaque, so the relay is
 * "a replica that holds no keys" (docs/relay.md).
 *
 * What makes one box fast (issue 8):
 *
 *  - No lock around a sync step.  Each step runs on the request's thread
 *    over a read connection of its own (a pool of them, WAL lets readers
 *    run beside the writer), inside one read transaction, so a step sees
 *    one snapshot.  Signatures of a pushed bundle are checked on that
 *    thread too (dc__bundle_precheck), before anything waits.
 *  - Group commit.  The import goes to the one writer thread (commit.c),
 *    which stores every bundle waiting in one transaction with
 *    synchronous=FULL: one fsync for many sessions.  The step waits for
 *    its group's commit before it builds its reply: nothing is
 *    acknowledged before it is durable.
 *  - Fingerprints in the store.  The file keeps per-bucket counts and hash
 *    sums of each space's items (schema 4, store/fingerprint.c); a session
 *    answers range fingerprints from them (sync/bucketset.c) and never
 *    loads a space's whole item set.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "drivercore/relay.h"
#include "relay/commit.h"
#include "relay/relay_store.h"
#include "replica/import_port.h"
#include "store/store.h"

#define READ_CACHE_KIB 2048 /* page cache of one read connection */

typedef struct sq {
    dc__relay_store base;
    dc_replica *w;   /* the writer's handle: only the committer thread writes */
    dc_replica *aux; /* the attachment endpoints' handle (opened at first use) */
    char *path;
    dc_clock_fn clock;
    void *clock_user;
    dc__committer *gc;
    dc__relay_shared sh;     /* a shared log behind the store (publish NULL: none) */
    dc__relay_store_ops ops; /* sqlite_ops, named after the shared log if any */
    dc__relay_note_fn note;
    void *note_user;
    int64_t solo_quota; /* < 0: none */
    pthread_mutex_t mu; /* the pool */
    dc__store **pool;
    size_t npool, cpool, open_readers;
} sq;

typedef struct space_h space_h;

struct dc__relay_sess {
    sq *st;
    dc_sync *s;
    uint8_t device[32];
    bool over_quota;     /* the last step's bundle was refused by the quota */
    int64_t held_before; /* its solo bytes before the bundle (plan_quota) */
    dc__store *cur;      /* the read connection of the step running */
    space_h **spaces;
    size_t nspaces, cspaces;
};

struct space_h {
    dc__relay_sess *x;
    int64_t sid;
    dc__bucketset *bs;
};

/* The read connection of the step running on this thread (the filter and
 * the membership questions it asks use the step's snapshot). */
static _Thread_local dc__store *tl_cur;

/* ---- read connections ---- */

static int acquire(sq *q, dc__store **out, dc__err *err) {
    pthread_mutex_lock(&q->mu);
    dc__store *s = q->npool ? q->pool[--q->npool] : NULL;
    pthread_mutex_unlock(&q->mu);
    if (s) {
        *out = s;
        return 0;
    }
    int rc = dc__store_open(&s, q->path, true, true, NULL, NULL, err);
    if (!rc && (rc = dc__store_cache_kib(s, READ_CACHE_KIB, err)) != 0)
        dc__store_close(s);
    if (rc)
        return dc__err_prefix(err, "relay: opening a read connection to the store");
    pthread_mutex_lock(&q->mu);
    q->open_readers++;
    pthread_mutex_unlock(&q->mu);
    *out = s;
    return 0;
}

static void release(sq *q, dc__store *s) {
    dc__store_read_end(s);
    pthread_mutex_lock(&q->mu);
    if (DC__VEC_ROOM(q->pool, q->npool, q->cpool)) {
        q->open_readers--;
        pthread_mutex_unlock(&q->mu);
        dc__store_close(s);
        return;
    }
    q->pool[q->npool++] = s;
    pthread_mutex_unlock(&q->mu);
}

/* ---- the writer ---- */

/* Inside the group's transaction, before it commits: the shared log takes
 * the group first, or nothing of it is kept (a bundle kept here but not
 * there would be one no other relay ever gets, since its device, finding
 * it here, would not send it again). */
static int publish_hook(void *user, const dc__import_req *reqs, size_t n, dc__err *err) {
    sq *q = user;
    int rc = q->sh.publish(q->sh.user, reqs, n, err);
    return rc ? dc__err_prefix(err, "relay: the shared %s store", q->sh.name) : 0;
}

static int commit_group(void *user, dc__import_req *reqs, size_t n, dc__err *err) {
    sq *q = user;
    return dc__import_group_with(q->w, reqs, n, q->sh.publish ? publish_hook : NULL, q, err);
}

/* ---- the session's view of the store (dc__sync_backend) ---- */

static int64_t b_wall_ms(void *user) {
    dc__relay_sess *x = user;
    if (x->st->clock)
        return x->st->clock(x->st->clock_user);
    return dc__os_wall_ms();
}

static int fp_buckets(void *user, dc__recon_bucket **out, size_t *n) {
    space_h *h = user;
    dc__err e = {0};
    return dc__store_fp_buckets(h->x->cur, h->sid, out, n, &e);
}

static int fp_items(void *user, const dc__recon_item *lo, const dc__recon_item *hi,
                    dc__recon_item **out, size_t *n) {
    space_h *h = user;
    dc__err e = {0};
    return dc__store_fp_items(h->x->cur, h->sid, lo, hi, out, n, &e);
}

static int b_space_open(void *user, const uint8_t id[16], void **sp, dc__recon_set *set,
                        dc__err *err) {
    dc__relay_sess *x = user;
    *sp = NULL;
    dc__space row;
    dc__err e = {0};
    int rc = dc__store_space_get(x->cur, id, &row, &e);
    if (rc == DC_ENOTFOUND)
        return 0;
    if (rc) {
        *err = e;
        return rc;
    }
    if (DC__VEC_ROOM(x->spaces, x->nspaces, x->cspaces))
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    space_h *h = dc__calloc(1, sizeof *h);
    if (!h)
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    h->x = x;
    h->sid = row.sid;
    dc__bucketset_src src = {h, fp_buckets, fp_items};
    if ((rc = dc__bucketset_new(&h->bs, &src))) {
        dc__free(h);
        return dc__err_set(err, rc, "relay: out of memory");
    }
    x->spaces[x->nspaces++] = h;
    *set = dc__bucketset_view(h->bs);
    *sp = h;
    return 0;
}

static void b_space_close(void *user, void *sp) {
    dc__relay_sess *x = user;
    space_h *h = sp;
    for (size_t i = 0; i < x->nspaces; i++)
        if (x->spaces[i] == h) {
            x->spaces[i] = x->spaces[--x->nspaces];
            break;
        }
    dc__bucketset_free(h->bs);
    dc__free(h);
}

static int b_space_items(void *user, void *sp, int (*fn)(void *, uint64_t, const uint8_t[32]),
                         void *fu, dc__err *err) {
    dc__relay_sess *x = user;
    space_h *h = sp;
    return dc__store_space_items(x->cur, h->sid, fn, fu, err);
}

static int b_bundle_add(void *user, void *sp, dc_buf *bundle, uint64_t hlc, const uint8_t id[32],
                        dc__err *err) {
    dc__relay_sess *x = user;
    space_h *h = sp;
    return dc__store_bundle_add_item(x->cur, bundle, h->sid, hlc, id, err);
}

static int b_spaces_of(void *user, const uint8_t device[32], int (*fn)(void *, const uint8_t[16]),
                       void *fu, dc__err *err) {
    dc__relay_sess *x = user;
    return dc__store_spaces_of(x->cur, device, fn, fu, err);
}

/* ---- the storage quota of devices that share no space ---- */

/* The distinct spaces of a bundle's envelopes, with their bytes (also the
 * spaces to note for a bundle another relay published, note_bundle). */
typedef struct space_bytes {
    struct {
        uint8_t space[16];
        size_t bytes;
    } * v;
    size_t n, cap;
} space_bytes;

static int count_space(void *user, uint64_t i, const uint8_t *p, size_t n) {
    (void)i;
    space_bytes *sb = user;
    dc__envelope e;
    dc__err err = {0};
    if (dc__envelope_parse(&e, p, n, &err) != 0)
        return 0; /* the import refuses it */
    for (size_t k = 0; k < sb->n; k++)
        if (memcmp(sb->v[k].space, e.space, 16) == 0) {
            sb->v[k].bytes += n;
            return 0;
        }
    if (DC__VEC_ROOM(sb->v, sb->n, sb->cap))
        return DC_ENOMEM;
    memcpy(sb->v[sb->n].space, e.space, 16);
    sb->v[sb->n++].bytes = n;
    return 0;
}

/* The bundle's bytes for spaces where no device but the session's is a
 * member, as the step's snapshot has it (a space unknown counts): a device
 * pushing into shared spaces pays one index probe a space, nothing more. */
static int solo_incoming(dc__relay_sess *x, const uint8_t *bundle, size_t n, int64_t *incoming,
                         dc__err *err) {
    space_bytes sb = {NULL, 0, 0};
    uint64_t count;
    dc__err pe = {0};
    *incoming = 0;
    if (dc__bundle_parse(bundle, n, &count, count_space, &sb, &pe) == DC_ENOMEM) {
        dc__free(sb.v);
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < sb.n && !rc; i++) {
        bool solo = false;
        if (!(rc = dc__store_space_solo(x->cur, sb.v[i].space, x->device, &solo, err)) && solo)
            *incoming += (int64_t)sb.v[i].bytes;
    }
    dc__free(sb.v);
    return rc;
}

/* In the writer, inside the bundle's savepoint once it is in: the device's
 * solo bytes as they now stand (a membership grant in the bundle itself
 * counts: a space it shares is no longer solo).  Past the quota and grown,
 * the bundle is rolled back alone. */
static int quota_check(void *user, dc__store *st, dc__err *err) {
    dc__relay_sess *x = user;
    int64_t held = 0;
    int rc = dc__store_solo_bytes(st, x->device, &held, err);
    if (rc)
        return dc__err_prefix(err, "relay: reading the storage quota");
    if (held <= x->st->solo_quota || held <= x->held_before)
        return 0;
    x->over_quota = true;
    return dc__err_set(err, DC_EDENIED,
                       "relay: storage quota: this push would take what this device stores in "
                       "spaces no other device is a member of from %lld to %lld bytes, past the "
                       "quota of %lld; nothing of it was stored (another member in the space "
                       "lifts it)",
                       (long long)x->held_before, (long long)held, (long long)x->st->solo_quota);
}

/* Would the pushed bundle take the session's device past its quota of
 * solo bytes (docs/relay.md, "Limits")?  Decided on the step's thread
 * when it clearly cannot (nothing for solo spaces, or room for all of
 * it); otherwise the writer checks after the bundle is in (quota_check). */
static int plan_quota(dc__relay_sess *x, dc__import_req *q, dc__err *err) {
    x->over_quota = false;
    if (x->st->solo_quota < 0)
        return 0;
    int64_t incoming = 0;
    int rc = solo_incoming(x, q->data, q->size, &incoming, err);
    if (!rc && incoming > 0)
        rc = dc__store_solo_bytes(x->cur, x->device, &x->held_before, err);
    if (rc)
        return dc__err_prefix(err, "relay: reading the storage quota");
    if (incoming > 0 && x->held_before + incoming > x->st->solo_quota) {
        q->check = quota_check;
        q->check_user = x;
    }
    return 0;
}

static int b_import(void *user, const uint8_t *bundle, size_t n, int64_t lead_ms, uint64_t *fresh,
                    uint64_t *set_aside, dc__err *err) {
    dc__relay_sess *x = user;
    dc__import_req q;
    memset(&q, 0, sizeof q);
    q.data = bundle;
    q.size = n;
    q.lead_ms = lead_ms;
    int qrc = plan_quota(x, &q, err);
    if (qrc)
        return qrc;
    uint8_t *checked = NULL;
    if (dc__bundle_precheck(bundle, n, &checked, &q.nchecked))
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    q.checked = checked;
    /* The snapshot of this step is not needed while the writer works: a
     * reader held open across commits would keep the WAL from being
     * checkpointed. */
    dc__store_read_end(x->cur);
    int rc = dc__committer_submit(x->st->gc, &q);
    dc__free(checked);
    /* The rest of the step reads one snapshot again, one that holds what
     * was just committed; the bucket sums read before it are stale. */
    dc__err re = {0};
    int rb = dc__store_read_begin(x->cur, &re);
    for (size_t i = 0; i < x->nspaces; i++)
        dc__bucketset_refresh(x->spaces[i]->bs);
    if (!rc && rb) {
        *err = re;
        return rb;
    }
    if (rc) {
        *err = q.err;
        return rc;
    }
    *fresh = q.counts.fresh;
    *set_aside = q.counts.set_aside;
    return 0;
}

/* ---- the store's operations ---- */

static void q_close(dc__relay_store *st) {
    sq *q = (sq *)st;
    dc__committer_free(q->gc);
    for (size_t i = 0; i < q->npool; i++)
        dc__store_close(q->pool[i]);
    dc__free(q->pool);
    dc_replica_close(q->w);
    dc_replica_close(q->aux);
    pthread_mutex_destroy(&q->mu);
    dc__free(q->path);
    dc__free(q);
}

/* A handle of its own for the attachment endpoints (relay/attach.c, under
 * the relay's store lock): chunks are written beside the committer's
 * groups, SQLite's WAL keeping the two apart. */
static dc_replica *q_replica(dc__relay_store *st) {
    sq *q = (sq *)st;
    if (!q->aux) {
        dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
        o.device_name = "drivercore-relay";
        o.clock = q->clock;
        o.clock_user = q->clock_user;
        o.durable = 1;
        o.must_exist = 1;
        if (dc_replica_open(&q->aux, q->path, &o) != 0)
            q->aux = NULL;
    }
    return q->aux;
}

static int q_session_new(dc__relay_sess **out, dc__relay_store *st, const uint8_t device[32],
                         dc__sync_filter_fn allow, void *user, dc__err *err) {
    sq *q = (sq *)st;
    *out = NULL;
    dc__relay_sess *x = dc__calloc(1, sizeof *x);
    if (!x)
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    x->st = q;
    memcpy(x->device, device, 32);
    dc__sync_backend be = {
        x,           b_wall_ms, b_space_open, b_space_close, b_space_items, b_bundle_add,
        b_spaces_of, b_import};
    int rc = dc__sync_new_backend(&x->s, &be);
    if (!rc && (rc = dc__sync_set_peer(x->s, device, allow, user)) != 0)
        dc__err_set(err, rc, "relay: cannot bind the session to its device");
    else if (rc)
        dc__err_set(err, rc, "relay: out of memory");
    if (rc) {
        dc_sync_free(x->s);
        dc__free(x);
        return rc;
    }
    *out = x;
    return 0;
}

static int q_session_step(dc__relay_store *st, dc__relay_sess *x, dc_buf *out, int *done,
                          const uint8_t *in, size_t n, dc__err *err) {
    sq *q = (sq *)st;
    int rc = acquire(q, &x->cur, err);
    if (rc)
        return rc;
    /* One snapshot for the step's reads; the bucket sums read at the last
     * step are stale now. */
    if ((rc = dc__store_read_begin(x->cur, err)) == 0) {
        for (size_t i = 0; i < x->nspaces; i++)
            dc__bucketset_refresh(x->spaces[i]->bs);
        tl_cur = x->cur;
        rc = dc_sync_step(x->s, out, done, in, n);
        tl_cur = NULL;
        if (rc)
            *err = *dc__sync_err(x->s);
    }
    /* Between steps the session keeps nothing of the connection. */
    for (size_t i = 0; i < x->nspaces; i++)
        dc__bucketset_refresh(x->spaces[i]->bs);
    release(q, x->cur);
    x->cur = NULL;
    return rc;
}

static void q_session_figures(dc__relay_sess *x, dc__sync_figures *f) {
    dc__sync_get_figures(x->s, f);
}

static void q_session_free(dc__relay_store *st, dc__relay_sess *x) {
    (void)st;
    if (!x)
        return;
    dc_sync_free(x->s); /* closes its spaces */
    dc__free(x->spaces);
    dc__free(x);
}

static bool q_is_member(dc__relay_store *st, const uint8_t space[16], const uint8_t device[32]) {
    (void)st;
    dc__space sp;
    dc__member m;
    dc__err e = {0};
    if (!tl_cur || dc__store_space_get(tl_cur, space, &sp, &e) != 0)
        return false;
    return dc__store_member_get(tl_cur, sp.sid, device, &m, &e) == 0 && m.role > 0;
}

static bool q_knows(dc__relay_store *st, const uint8_t space[16]) {
    (void)st;
    dc__space sp;
    dc__err e = {0};
    /* Outside a step nothing is known: the filter then refuses. */
    return !tl_cur || dc__store_space_get(tl_cur, space, &sp, &e) == 0;
}

static int q_members(dc__relay_store *st, const uint8_t space[16], uint8_t (**devs)[32], size_t *n,
                     dc__err *err) {
    sq *q = (sq *)st;
    *devs = NULL;
    *n = 0;
    dc__store *s = NULL;
    int rc = acquire(q, &s, err);
    if (rc)
        return rc;
    dc__relay_devlist l = {NULL, 0, 0};
    rc = dc__store_space_devices(s, space, dc__relay_devlist_add, &l, err);
    release(q, s);
    if (rc) {
        dc__free(l.v);
        return rc == DC_ENOMEM ? dc__err_set(err, rc, "relay: out of memory") : rc;
    }
    *devs = l.v;
    *n = l.n;
    return 0;
}

static int q_ready(dc__relay_store *st, dc__err *err) {
    sq *q = (sq *)st;
    int rc = dc__committer_health(q->gc, err);
    if (!rc && q->sh.ready)
        rc = q->sh.ready(q->sh.user, err);
    return rc;
}

static void q_on_note(dc__relay_store *st, dc__relay_note_fn fn, void *user) {
    sq *q = (sq *)st;
    q->note = fn;
    q->note_user = user;
}

/* The devices waiting on the spaces of a bundle another relay published
 * wake (no pusher here: a key of zeros, which no device has). */
static void note_bundle(sq *q, const uint8_t *bundle, size_t n) {
    if (!q->note)
        return;
    space_bytes s = {NULL, 0, 0};
    uint64_t count;
    dc__err pe = {0};
    static const uint8_t nobody[32] = {0};
    if (dc__bundle_parse(bundle, n, &count, count_space, &s, &pe) != 0 && s.n == 0)
        q->note(q->note_user, NULL, NULL);
    for (size_t i = 0; i < s.n; i++)
        q->note(q->note_user, s.v[i].space, nobody);
    dc__free(s.v);
}

int dc__relay_store_import_shared_many(dc__relay_store *st, const uint8_t *const *bundles,
                                       const size_t *sizes, size_t n, size_t *ok, dc__err *err) {
    sq *q = (sq *)st;
    *ok = 0;
    if (n == 0)
        return 0;
    dc__import_req *r = dc__calloc(n, sizeof *r);
    uint8_t **checked = dc__calloc(n, sizeof *checked);
    int rc = r && checked ? 0 : dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        r[i].data = bundles[i];
        r[i].size = sizes[i];
        r[i].shared = true;
        /* Signatures checked here, on the tail's thread, before the writer. */
        if (dc__bundle_precheck(bundles[i], sizes[i], &checked[i], &r[i].nchecked))
            rc = dc__err_set(err, DC_ENOMEM, "relay: out of memory");
        r[i].checked = checked[i];
    }
    if (!rc)
        dc__committer_submit_many(q->gc, r, n);
    for (size_t i = 0; i < n && !rc; i++) {
        if (r[i].rc) {
            *err = r[i].err;
            rc = r[i].rc;
            break;
        }
        (*ok)++;
        if (r[i].counts.fresh)
            note_bundle(q, bundles[i], sizes[i]);
    }
    for (size_t i = 0; checked && i < n; i++)
        dc__free(checked[i]);
    dc__free(checked);
    dc__free(r);
    return rc;
}

int dc__relay_store_import_shared(dc__relay_store *st, const uint8_t *bundle, size_t n,
                                  dc__err *err) {
    size_t ok;
    return dc__relay_store_import_shared_many(st, &bundle, &n, 1, &ok, err);
}

/* ---- the shared log's compaction ---- */

typedef struct trim {
    dc__store *s;
    dc_buf *kept;
    size_t nkept;
    dc__relay_covered *v;
    size_t n, cap;
    dc__err *err;
} trim;

static int trim_one(void *user, uint64_t i, const uint8_t *p, size_t n) {
    (void)i;
    trim *t = user;
    dc__envelope e;
    dc__err pe = {0};
    bool covered = false;
    int rc = 0;
    if (dc__envelope_parse(&e, p, n, &pe) == 0 && e.kind == DC_ENV_KIND_CHANGE &&
        (rc = dc__store_covered_by_point(t->s, e.space, e.author, e.seq, &covered, t->err)))
        return rc;
    if (!covered) {
        t->nkept++;
        return dc__bundle_add(t->kept, p, n) ? dc__err_set(t->err, DC_ENOMEM, "out of memory") : 0;
    }
    if (DC__VEC_ROOM(t->v, t->n, t->cap))
        return dc__err_set(t->err, DC_ENOMEM, "out of memory");
    dc__relay_covered *c = &t->v[t->n++];
    memcpy(c->space, e.space, 16);
    memcpy(c->author, e.author, 32);
    c->seq = e.seq;
    c->hlc = e.hlc_min;
    dc__envelope_id(c->cid, p, n);
    /* Listed only if this cache counted it held: an envelope it set aside
     * (a bad signature) never joined its fingerprints. */
    dc__space sp;
    c->held = false;
    if ((rc = dc__store_space_get(t->s, e.space, &sp, t->err)) == 0)
        rc = dc__store_covered_has(t->s, sp.sid, c->hlc, c->cid, &c->held, t->err);
    return rc;
}

int dc__relay_store_shared_trim(dc__relay_store *st, const uint8_t *bundle, size_t n, dc_buf *kept,
                                size_t *nkept, dc__relay_covered **items, size_t *nitems,
                                dc__err *err) {
    sq *q = (sq *)st;
    *items = NULL;
    *nitems = *nkept = 0;
    trim t = {.kept = kept, .err = err};
    int rc = acquire(q, &t.s, err);
    if (rc)
        return rc;
    uint64_t count;
    dc__err pe = {0};
    if ((rc = dc__bundle_begin(kept)) != 0) {
        rc = dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    } else if (dc__bundle_parse(bundle, n, &count, trim_one, &t, &pe) != 0) {
        /* An error of ours (memory, the store) is the caller's; a bundle
         * that does not parse is left as it is. */
        rc = err->code;
        t.n = 0;
    } else if (t.n && (rc = dc__bundle_finish(kept)) != 0) {
        rc = dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    }
    release(q, t.s);
    if (rc || !t.n) {
        dc__free(t.v);
        return rc ? dc__err_prefix(err, "relay: trimming the shared log") : 0;
    }
    *items = t.v;
    *nitems = t.n;
    *nkept = t.nkept;
    return 0;
}

typedef struct cov_apply {
    const dc__relay_covered *v;
    size_t n, done;
} cov_apply;

/* On the writer, inside the (empty) bundle's savepoint. */
static int cov_check(void *user, dc__store *s, dc__err *err) {
    cov_apply *a = user;
    a->done = 0;
    for (size_t i = 0; i < a->n; i++) {
        const dc__relay_covered *c = &a->v[i];
        dc__space sp;
        int64_t did;
        bool covered = false, held = false;
        int rc = dc__store_space_get(s, c->space, &sp, err);
        if (rc == DC_ENOTFOUND) {
            dc__err_clear(err);
            break;
        }
        if (rc || (rc = dc__store_device(s, c->author, &did, err)) ||
            (rc = dc__store_compact_covered(s, sp.sid, did, c->seq, &covered, err)))
            return rc;
        if (!covered)
            break;
        if ((rc = dc__store_covered_has(s, sp.sid, c->hlc, c->cid, &held, err)) ||
            (!held && (rc = dc__store_covered_note(s, sp.sid, c->hlc, c->cid, err))))
            return rc;
        a->done++;
    }
    return 0;
}

int dc__relay_store_shared_covered(dc__relay_store *st, const dc__relay_covered *items, size_t n,
                                   size_t *done, dc__err *err) {
    sq *q = (sq *)st;
    *done = 0;
    if (!n)
        return 0;
    dc_buf b;
    dc_buf_init(&b);
    if (dc__bundle_begin(&b) || dc__bundle_finish(&b)) {
        dc_buf_dispose(&b);
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    }
    cov_apply a = {items, n, 0};
    dc__import_req r = {
        .data = b.ptr, .size = b.size, .shared = true, .check = cov_check, .check_user = &a};
    int rc = dc__committer_submit(q->gc, &r);
    dc_buf_dispose(&b);
    if (rc) {
        *err = r.err;
        return dc__err_prefix(err, "relay: the covered items of the shared log");
    }
    *done = a.done;
    return 0;
}

int dc__relay_store_compact_mark(dc__relay_store *st, int64_t *mark, dc__err *err) {
    sq *q = (sq *)st;
    dc__store *s = NULL;
    int rc = acquire(q, &s, err);
    if (!rc) {
        rc = dc__store_compact_mark(s, mark, err);
        release(q, s);
    }
    return rc;
}

static int q_metrics(dc__relay_store *st, dc_buf *out) {
    sq *q = (sq *)st;
    pthread_mutex_lock(&q->mu);
    size_t readers = q->open_readers;
    pthread_mutex_unlock(&q->mu);
    int w = dc__buf_printf(out,
                           "# HELP drivercore_relay_store_readers Read connections the store "
                           "holds open.\n# TYPE drivercore_relay_store_readers gauge\n"
                           "drivercore_relay_store_readers{store=\"sqlite\"} %zu\n",
                           readers);
    /* Envelopes compaction dropped from the store's log (kept in the file:
     * it counts across restarts). */
    int64_t dropped = 0;
    dc__store *s = NULL;
    dc__err e = {0};
    if (!w && acquire(q, &s, &e) == 0) {
        if (dc__store_compact_dropped_all(s, &dropped, &e) != 0)
            dropped = 0;
        release(q, s);
    }
    if (!w)
        w = dc__buf_printf(out,
                           "# HELP drivercore_relay_compacted_total Envelopes compaction dropped "
                           "from the store's log.\n# TYPE drivercore_relay_compacted_total "
                           "counter\ndrivercore_relay_compacted_total{store=\"sqlite\"} %lld\n",
                           (long long)dropped);
    if (!w && q->sh.metrics)
        w = q->sh.metrics(q->sh.user, out);
    return w ? DC_ENOMEM : dc__committer_metrics(q->gc, out, "sqlite");
}

static void q_set_solo_quota(dc__relay_store *st, int64_t bytes) {
    ((sq *)st)->solo_quota = bytes;
}

static bool q_session_over_quota(dc__relay_sess *x) {
    return x->over_quota;
}

static int q_space_log(dc__relay_store *st, const uint8_t space[16], int64_t *envelopes,
                       int64_t *covered, dc__err *err) {
    sq *q = (sq *)st;
    dc__store *s = NULL;
    int rc = acquire(q, &s, err);
    if (rc)
        return rc;
    dc__space sp;
    if (!(rc = dc__store_space_get(s, space, &sp, err)))
        rc = dc__store_space_log(s, sp.sid, envelopes, covered, err);
    release(q, s);
    return rc;
}

static const dc__relay_store_ops sqlite_ops = {
    "sqlite",          q_close,        q_session_new,    q_session_step,
    q_session_figures, q_session_free, q_is_member,      q_knows,
    q_members,         q_ready,        q_metrics,        q_on_note,
    q_replica,         NULL,           q_set_solo_quota, q_session_over_quota,
    q_space_log,
};

int dc__relay_store_open_sqlite(dc__relay_store **out, const char *path, dc_clock_fn clock,
                                void *clock_user, dc__err *err) {
    return dc__relay_store_open_shared(out, path, clock, clock_user, NULL, err);
}

int dc__relay_store_open_shared(dc__relay_store **out, const char *path, dc_clock_fn clock,
                                void *clock_user, const dc__relay_shared *sh, dc__err *err) {
    *out = NULL;
    sq *q = dc__calloc(1, sizeof *q);
    if (!q || !(q->path = dc__strndup(path, strlen(path)))) {
        dc__free(q);
        return dc__err_set(err, DC_ENOMEM, "relay: out of memory");
    }
    q->ops = sqlite_ops;
    if (sh) {
        q->sh = *sh;
        q->ops.name = sh->name;
    }
    q->base.ops = &q->ops;
    q->clock = clock;
    q->clock_user = clock_user;
    q->solo_quota = -1; /* until the relay sets its own */
    pthread_mutex_init(&q->mu, NULL);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = "drivercore-relay";
    o.clock = clock;
    o.clock_user = clock_user;
    o.durable = 1;
    int rc = dc_replica_open(&q->w, path, &o);
    if (rc) {
        dc__err_set(err, rc, "relay: cannot open the store %s: %s", path, dc_error_last());
    } else if ((rc = dc__replica_fp_enable(q->w, err)) != 0) {
        dc__err_prefix(err, "relay: the store %s", path);
    } else if ((rc = dc__committer_new(&q->gc, commit_group, q, 0, 0)) != 0) {
        dc__err_set(err, rc, "relay: cannot start the store's writer");
    }
    if (rc) {
        dc_replica_close(q->w);
        pthread_mutex_destroy(&q->mu);
        dc__free(q->path);
        dc__free(q);
        return rc;
    }
    *out = &q->base;
    return 0;
}

int dc_relay_backup(const char *store, const char *dest) {
    if (!store || !dest)
        return dc__last_set(DC_EMISUSE, "dc_relay_backup: NULL argument");
    int rc = dc__ensure_init();
    if (rc)
        return rc;
    dc__err e = {0};
    rc = dc__store_backup(store, dest, &e);
    return rc ? dc__last_from(&e) : 0;
}
