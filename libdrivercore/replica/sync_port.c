/*
 * A replica as the store of a sync session: the port of sync/port.h
 * filled from this replica (its spaces and items, its bundles read and
 * imported, its membership, its clock and device key), and the public
 * calls of include/drivercore/sync.h that need a replica — a session
 * created on one, and a relay's sync recorded in it.  The sessions
 * themselves are sync/session.c's.
 */
#include <sodium.h>
#include <string.h>

#include "replica/port.h"
#include "replica/replica_int.h"
#include "sync/session.h"

/* The port's user: the replica, and what its imports left pending. */
typedef struct rport {
    dc_replica *r;
    bool unfolded; /* a bundle was imported and left pending (folded late) */
} rport;

/* A space the replica holds, as a session holds it: its items loaded in
 * memory when the session began. */
typedef struct rspace {
    int64_t sid;
    uint64_t my_seq; /* our sequence number when the items were loaded */
    dc__recon_memset *set;
} rspace;

static int64_t rp_wall_ms(void *user) {
    rport *p = user;
    return dc__clock_wall_ms(&p->r->clock);
}

static int add_item(void *user, uint64_t hlc, const uint8_t id[32]) {
    dc__recon_item it;
    it.ts = hlc;
    memcpy(it.id, id, 32);
    return dc__recon_memset_add(user, &it, 1);
}

static void rp_space_close(void *user, void *sp) {
    (void)user;
    rspace *h = sp;
    dc__recon_memset_free(h->set);
    dc__free(h);
}

static int rp_space_open(void *user, const uint8_t id[16], void **sp, dc__recon_set *set,
                         dc__err *err) {
    rport *p = user;
    *sp = NULL;
    dc__space s;
    dc__err e = {0};
    int rc = dc__store_space_get(p->r->st, id, &s, &e);
    if (rc == DC_ENOTFOUND)
        return 0;
    if (rc) {
        *err = e;
        return rc;
    }
    rspace *h = dc__calloc(1, sizeof *h);
    if (!h || dc__recon_memset_new(&h->set)) {
        dc__free(h);
        return dc__err_set(err, DC_ENOMEM, "sync: out of memory");
    }
    h->sid = s.sid;
    h->my_seq = s.my_seq;
    if ((rc = dc__store_space_items(p->r->st, s.sid, add_item, h->set, err))) {
        rp_space_close(p, h);
        return err->code ? err->code : dc__err_set(err, rc, "sync: out of memory");
    }
    *set = dc__recon_memset_view(h->set);
    *sp = h;
    return 0;
}

static int rp_space_items(void *user, void *sp, int (*fn)(void *, uint64_t, const uint8_t[32]),
                          void *fu, dc__err *err) {
    rport *p = user;
    rspace *h = sp;
    return dc__store_space_items(p->r->st, h->sid, fn, fu, err);
}

static int rp_bundle_add(void *user, void *sp, dc_buf *bundle, uint64_t hlc, const uint8_t id[32],
                         dc__err *err) {
    rport *p = user;
    rspace *h = sp;
    return dc__store_bundle_add_item(p->r->st, bundle, h->sid, hlc, id, err);
}

static int rp_spaces_of(void *user, const uint8_t device[32], int (*fn)(void *, const uint8_t[16]),
                        void *fu, dc__err *err) {
    rport *p = user;
    return dc__store_spaces_of(p->r->st, device, fn, fu, err);
}

/* The peer's lead is already on the replica's clock (the session sets
 * it); what this import brings is folded late: at the next bundle's
 * import, beside its signature checks, or when the step settles. */
static int rp_import(void *user, const uint8_t *bundle, size_t n, int64_t lead_ms, uint64_t *fresh,
                     uint64_t *set_aside, dc__err *err) {
    rport *p = user;
    (void)lead_ms;
    dc__import_counts c;
    memset(&c, 0, sizeof c);
    int rc = dc__import(p->r, bundle, n, DC__IMPORT_SET_ASIDE | DC__IMPORT_FOLD_LATE, &c);
    p->unfolded = true;
    if (rc && rc != DC_EUSER) { /* an observer that stopped stops no import */
        *err = p->r->err;
        return rc;
    }
    *fresh = c.fresh;
    *set_aside = c.set_aside;
    return 0;
}

static int rp_step_begin(void *user, dc__err *err) {
    rport *p = user;
    dc__err_clear(&p->r->err);
    if (p->r->txn)
        return dc__err_set(err, DC_EMISUSE, "sync: a transaction is open on this replica");
    return dc__clock_check(&p->r->clock, err);
}

static int rp_spaces(void *user, int (*fn)(void *, const uint8_t[16]), void *fu, dc__err *err) {
    rport *p = user;
    return dc__store_spaces_known(p->r->st, fn, fu, err);
}

static int rp_read_begin(void *user, dc__err *err) {
    rport *p = user;
    return dc__store_read_begin(p->r->st, err);
}

static void rp_read_end(void *user) {
    rport *p = user;
    dc__store_read_end(p->r->st);
}

/* The state takes what the session's imports left pending, and the
 * observers hear of it (docs/protocol.md, "Sessions"); a failure leaves it
 * pending for the next read, as after any import.  Once the session is
 * over, a published point it brought is compacted to now (not while it
 * runs: its item sets stand for the whole session). */
static void rp_settle(void *user, bool imported, bool done, uint64_t *compacted,
                      uint64_t *snapshot_needed) {
    rport *p = user;
    dc_replica *r = p->r;
    if ((!imported || done) && p->unfolded && !r->txn) {
        p->unfolded = false;
        dc__touched t = {NULL, 0, 0};
        dc__err e = {0};
        dc__fold_notify(r, &t, &e);
        dc__free(t.rids);
    }
    if (done && !r->txn)
        dc__compact_auto(r, compacted, snapshot_needed);
}

static int rp_fail(void *user, const dc__err *e) {
    rport *p = user;
    return dc__fail_err(p->r, e);
}

static void rp_close(void *user) {
    dc__free(user);
}

int dc_sync_new(dc_sync **out, dc_replica *r, int role) {
    if (!out)
        return dc__last_set(DC_EMISUSE, "dc_sync_new: out is NULL");
    *out = NULL;
    DC__CHECK(r);
    if (role != DC_SYNC_INITIATOR && role != DC_SYNC_RESPONDER)
        return dc__fail(r, DC_EINVAL, "sync: unknown role %d", role);
    rport *p = dc__calloc(1, sizeof *p);
    if (!p)
        return dc__fail(r, DC_ENOMEM, "sync: out of memory");
    p->r = r;
    dc__sync_port port = {
        .store =
            {
                .user = p,
                .wall_ms = rp_wall_ms,
                .space_open = rp_space_open,
                .space_close = rp_space_close,
                .space_items = rp_space_items,
                .bundle_add = rp_bundle_add,
                .spaces_of = rp_spaces_of,
                .import = rp_import,
            },
        .clock = &r->clock,
        .device = r->id->sign_pk,
        .step_begin = rp_step_begin,
        .spaces = rp_spaces,
        .read_begin = rp_read_begin,
        .read_end = rp_read_end,
        .settle = rp_settle,
        .fail = rp_fail,
        .close = rp_close,
    };
    if (dc__sync_new_port(out, &port, role))
        return dc__fail(r, DC_ENOMEM, "sync: out of memory"); /* p freed by close */
    return 0;
}

typedef struct acks {
    dc_replica *r;
    dc__err *e;
} acks;

static int mark_acked(void *fu, void *sp, bool peer_refused) {
    acks *a = fu;
    rspace *h = sp;
    if (!h || peer_refused)
        return 0;
    return dc__store_mark_acked(a->r->st, h->sid, h->my_seq, a->e);
}

int dc_sync_note_relay(dc_sync *s) {
    if (!s)
        return dc__last_set(DC_EMISUSE, "dc_sync_note_relay: the session is NULL");
    dc__sync_outcome o;
    int rc = dc__sync_outcome_get(s, &o);
    if (!o.port || o.port->close != rp_close) /* a relay's own responder */
        return dc__last_set(DC_EMISUSE, "note relay: only after the initiator's session finished");
    rport *p = o.port->store.user;
    dc_replica *r = p->r;
    dc__err_clear(&r->err);
    if (rc)
        return dc__fail(r, DC_EMISUSE, "note relay: only after the initiator's session finished");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "note relay: a transaction is open on this replica");
    /* The correction before this session, and the relay's clock as last
     * seen; what the session adopted already is part of both. */
    int64_t off = r->clock.offset_ms - o.adopted + o.clock_offset;
    if (o.clock_doubt || off < -DC_HLC_MAX_MS || off > DC_HLC_MAX_MS)
        return dc__fail(r, DC_EINVAL,
                        "note relay: the relay's clock reads no plausible time (%lld ms from "
                        "ours); check the relay's clock",
                        (long long)o.clock_offset);
    dc__err e = {0};
    int64_t saved = r->clock.offset_ms;
    r->clock.offset_ms = off;
    rc = dc__replica_begin(r, &e);
    if (!rc && !(rc = dc__store_meta_put(r->st, "clock_offset", off, &e)))
        rc = dc__store_meta_put(r->st, "relay_sync_ms", dc__clock_wall_ms(&r->clock), &e);
    acks a = {r, &e};
    if (!rc)
        rc = dc__sync_each_space(s, mark_acked, &a);
    if (!rc)
        rc = dc__store_commit(r->st, &e);
    if (rc) {
        dc__store_rollback(r->st);
        r->clock.offset_ms = saved;
        return dc__fail_err(r, &e);
    }
    return 0;
}

/* ---- the replica's narrow face (replica/port.h) ---- */

bool dc__replica_is_member(dc_replica *r, const uint8_t space[16], const uint8_t device[32]) {
    dc__space sp;
    dc__member m;
    dc__err e = {0};
    if (dc__store_space_get(r->st, space, &sp, &e) != 0)
        return false;
    return dc__store_member_get(r->st, sp.sid, device, &m, &e) == 0 && m.role > 0;
}

bool dc__replica_knows(dc_replica *r, const uint8_t space[16]) {
    dc__space sp;
    dc__err e = {0};
    return dc__store_space_get(r->st, space, &sp, &e) == 0;
}

int dc__replica_space_devices(dc_replica *r, const uint8_t space[16],
                              int (*fn)(void *user, const uint8_t device[32]), void *user) {
    dc__err e = {0};
    int rc = dc__store_space_devices(r->st, space, fn, user, &e);
    if (rc && e.code)
        dc__fail_err(r, &e);
    return rc;
}

void dc__replica_err_clear(dc_replica *r) {
    dc__err_clear(&r->err);
}

int64_t dc__replica_now_ms(dc_replica *r) {
    return dc__clock_wall_ms(&r->clock);
}

bool dc__replica_in_txn(const dc_replica *r) {
    return r->txn != NULL;
}

int dc__replica_sign(dc_replica *r, uint8_t sig[64], const uint8_t *m, size_t n) {
    DC__CHECK(r);
    crypto_sign_detached(sig, NULL, m, n, r->id->sign_sk);
    return 0;
}
