/*
 * Sync sessions (docs/protocol.md, "Sessions"): for every space either side
 * holds, a range-based reconciliation (sync/recon.c) finds which changes
 * the other side lacks; once a side's reconciliation of a space is done it
 * pushes those changes, oldest first, as bundles that the peer imports all
 * or nothing.  Pushing a space only after its reconciliation is complete,
 * in (hlc, id) order, means a grant always travels before the changes of
 * the device it admits (that device saw the grant before it wrote), so
 * every bundle is acceptable on its own.
 *
 * Sans-IO: the caller moves the bytes.  The session reaches the store it
 * syncs only through a port (sync/port.h): a replica's (replica/
 * sync_port.c) or a relay's store's (relay/).  It never holds a space key
 * nor touches SQL, so the same code serves a device and a relay.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "sync/recon.h"
#include "sync/session.h"

#define MSG_VERSION 1
#define MSG_HELLO 1
#define MSG_STEP 2
#define MSG_HEADER 16
#define MSG_MAX (64u << 20)     /* a whole message */
#define BUNDLE_CHUNK (4u << 20) /* changes pushed per message, at most */
#define CHUNK_MIN_LOG 12        /* the smallest bundle a peer may ask for: 4 KiB */
#define CHUNK_MAX_LOG 22        /* the largest: BUNDLE_CHUNK */
#define MSG_MAX_SPACES 1000000u

enum { ENTRY_RECON = 0, ENTRY_REFUSED = 1 };

typedef struct space_state {
    uint8_t id[16];
    dc__recon_memset *set; /* an empty set, for a space the store does not know */
    void *bsp;             /* the port's handle of the space (NULL: unknown to the store) */
    dc__recon *recon;
    bool recon_done;
    bool refused;      /* the responder will not serve this space to this peer */
    bool peer_refused; /* (initiator) the peer refused it */
    bool sorted;
    dc__recon_item *queue; /* our items the peer lacks */
    size_t nq, cq, sent;
    dc_buf pending; /* reconciliation message for the peer */
} space_state;

struct dc_sync {
    dc__sync_port port; /* the store synced (sync/port.h) */
    int64_t lead_ms;    /* (backend) the peer's clock lead accepted for its bundle */
    int role;
    dc__sync_filter_fn allow; /* responder: may this peer have this space? */
    void *allow_user;
    uint8_t peer[32];
    bool peer_known;
    int calls;
    space_state **sp; /* each allocated alone: its reconciliation keeps a pointer to it */
    size_t nsp, csp;
    bool peer_final;
    bool finished;
    bool sent_final;                     /* our last message said we had nothing left */
    uint64_t compacted, snapshot_needed; /* compaction at its end (the port's settle) */
    bool imported;                       /* ... by this step */
    size_t chunk;                        /* the largest bundle we push in one message */
    uint8_t ask_log; /* (initiator) byte 6 of our next message: log2 of the bundle we want */
    uint64_t bytes_sent, bytes_received, round_trips, changes_sent, changes_received, set_aside;
    int64_t clock_offset; /* the peer's clock minus ours before this session */
    int64_t adopted;      /* the part of it adopted during this session (relay) */
    /* What the session's exchange tells of the peer's clock (docs/protocol.md,
     * "The peer's clock"): its offset from ours before this session lies in
     * [off_lo, off_hi] (off_hi unknown until a message answers one of ours). */
    int64_t off_lo, off_hi;
    bool off_known, off_bounded;
    int64_t sent_ms; /* our clock before this session's correction, at our last message */
    bool sent_known;
    bool trust_clock; /* the peer is a relay whose clock we adopt */
    bool clock_doubt; /* ... but its clock read no plausible time */
    dc__err err;
};

/* An error where the port records it (a replica's handle), or the
 * thread's. */
static int sfail_err(const dc_sync *s, const dc__err *e) {
    return s->port.fail ? s->port.fail(s->port.store.user, e) : dc__last_from(e);
}

static int sfail(const dc_sync *s, int code, const char *msg) {
    dc__err e = {0};
    dc__err_set(&e, code, "%s", msg);
    return sfail_err(s, &e);
}

static int64_t wall_ms(dc_sync *s) {
    return s->port.store.wall_ms(s->port.store.user);
}

/* Our clock as it read before this session adopted anything: the one the
 * offsets of the session are measured from. */
static int64_t session_ms(dc_sync *s) {
    return wall_ms(s) - s->adopted;
}

/* How far the offset in use (`at`) may be from the peer's true offset:
 * the farther end of the interval that holds it; -1 while unbounded. */
static int64_t clock_error(const dc_sync *s, int64_t at) {
    if (!s->off_known || !s->off_bounded)
        return -1;
    int64_t a = at - s->off_lo, b = s->off_hi - at;
    return a > b ? a : b;
}

/* Narrows the interval of the peer's offset with a message stamped
 * `peer_ms` and whole at `now` (both bounded: no overflow): the stamp was
 * taken after our last message left (sent_ms) and before this one was
 * whole, so the offset lies in [peer - now, peer - sent_ms].  Intervals
 * that do not meet (a clock stepped mid-session) restart from the new one. */
static void clock_narrow(dc_sync *s, int64_t peer_ms, int64_t now) {
    int64_t lo = peer_ms - now, hi = s->sent_known ? peer_ms - s->sent_ms : INT64_MAX;
    if (hi < lo)
        hi = lo; /* our own clock went backwards between the two readings */
    bool bounded = s->sent_known;
    if (s->off_known && lo <= s->off_hi && (!s->off_bounded || s->off_lo <= hi)) {
        lo = lo > s->off_lo ? lo : s->off_lo;
        if (s->off_bounded) {
            hi = hi < s->off_hi ? hi : s->off_hi;
            bounded = true;
        }
    }
    s->off_lo = lo;
    s->off_hi = hi;
    s->off_known = true;
    s->off_bounded = bounded;
}

/* The best single value of the offset: the interval's midpoint, or its
 * lower end while it has none above. */
static int64_t clock_estimate(const dc_sync *s) {
    return s->off_bounded ? s->off_lo + (s->off_hi - s->off_lo) / 2 : s->off_lo;
}

/* ---- space states ---- */

static space_state *find_space(dc_sync *s, const uint8_t id[16]) {
    for (size_t i = 0; i < s->nsp; i++)
        if (memcmp(s->sp[i]->id, id, 16) == 0)
            return s->sp[i];
    return NULL;
}

static int on_found(void *user, int kind, const dc__recon_item *it) {
    space_state *st = user;
    if (kind != DC_RECON_SEND)
        return 0; /* what we lack arrives in the peer's bundles */
    if (DC__VEC_ROOM(st->queue, st->nq, st->cq))
        return DC_ENOMEM;
    st->queue[st->nq++] = *it;
    st->sorted = false;
    return 0;
}

/* A new state for a space, with its item set opened by the port (or an
 * empty one: a space the store does not know) and its reconciliation
 * session created in our role. */
static int add_space(dc_sync *s, const uint8_t id[16], space_state **out) {
    space_state *st = NULL;
    if (DC__VEC_ROOM(s->sp, s->nsp, s->csp) || !(st = dc__calloc(1, sizeof *st)))
        return dc__err_set(&s->err, DC_ENOMEM, "sync: out of memory");
    memcpy(st->id, id, 16);
    dc__recon_set view;
    int rc;
    if ((rc = s->port.store.space_open(s->port.store.user, id, &st->bsp, &view, &s->err))) {
        dc__free(st);
        return rc;
    }
    s->sp[s->nsp++] = st;
    if (!st->bsp) {
        /* Unknown to the store: reconciled against an empty set. */
        if ((rc = dc__recon_memset_new(&st->set)))
            return dc__err_set(&s->err, rc, "sync: out of memory");
        view = dc__recon_memset_view(st->set);
    }
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    o.on_found = on_found;
    o.on_found_user = st;
    if ((rc = dc__recon_new(&st->recon,
                            s->role == DC_SYNC_INITIATOR ? DC_RECON_INITIATOR : DC_RECON_RESPONDER,
                            &view, &o, &s->err)))
        return rc;
    *out = st;
    return 0;
}

static void free_space(dc_sync *s, space_state *st) {
    dc__recon_free(st->recon);
    dc__recon_memset_free(st->set);
    if (st->bsp)
        s->port.store.space_close(s->port.store.user, st->bsp);
    dc__free(st->queue);
    dc_buf_dispose(&st->pending);
}

/* The port settles what the session's imports left (docs/protocol.md,
 * "Sessions"): folded, observers told, compaction at the end. */
static void settle(dc_sync *s, bool imported, bool done) {
    if (s->port.settle)
        s->port.settle(s->port.store.user, imported, done, &s->compacted, &s->snapshot_needed);
}

/* ---- lifecycle ---- */

int dc__sync_new_port(dc_sync **out, const dc__sync_port *port, int role) {
    *out = NULL;
    dc_sync *s = dc__calloc(1, sizeof *s);
    if (!s) {
        if (port->close)
            port->close(port->store.user);
        return DC_ENOMEM;
    }
    s->port = *port;
    s->role = role;
    s->chunk = BUNDLE_CHUNK;
    *out = s;
    return 0;
}

int dc__sync_new_backend(dc_sync **out, const dc__sync_backend *be) {
    dc__sync_port port = {.store = *be};
    int rc = dc__sync_new_port(out, &port, DC_SYNC_RESPONDER);
    if (rc)
        return dc__last_set(rc, "sync: out of memory");
    return 0;
}

const dc__err *dc__sync_err(const dc_sync *s) {
    return &s->err;
}

static uint8_t chunk_log(size_t bytes) {
    uint8_t k = CHUNK_MIN_LOG;
    while (k < CHUNK_MAX_LOG && ((size_t)1 << (k + 1)) <= bytes)
        k++;
    return k;
}

int dc_sync_set_chunk(dc_sync *s, size_t bytes) {
    if (!s)
        return dc__last_set(DC_EMISUSE, "dc_sync_set_chunk: the session is NULL");
    if (s->role != DC_SYNC_INITIATOR)
        return sfail(s, DC_EMISUSE, "sync: only the initiator chooses the bundle size");
    uint8_t k = chunk_log(bytes);
    s->chunk = (size_t)1 << k;
    s->ask_log = k;
    return 0;
}

void dc_sync_free(dc_sync *s) {
    if (!s)
        return;
    settle(s, false, true); /* a session cut short, or done */
    for (size_t i = 0; i < s->nsp; i++) {
        free_space(s, s->sp[i]);
        dc__free(s->sp[i]);
    }
    dc__free(s->sp);
    if (s->port.close)
        s->port.close(s->port.store.user);
    dc__free(s);
}

/* ---- the wire ---- */

static int put_u32(dc_buf *b, uint32_t v) {
    uint8_t x[4];
    dc__store_be32(x, v);
    return dc__buf_put(b, x, 4);
}

static int item_cmp(const void *a, const void *b) {
    return dc__recon_item_cmp(a, b);
}

/* Writes the next message: reconciliation data, then the changes of the
 * spaces whose reconciliation is done; *final when nothing is left. */
static int build(dc_sync *s, dc_buf *out, int type, bool *final) {
    dc__buf_clear(out);
    uint8_t h[MSG_HEADER] = {'D', 'C', 'S', MSG_VERSION, 0, (uint8_t)type, s->ask_log, 0};
    dc__store_be64(h + 8, (uint64_t)wall_ms(s));
    /* The start of the window in which the peer stamps its answer: the
     * message leaves after this, so the window only widens by the time it
     * takes to build and send (docs/protocol.md, "The peer's clock"). */
    s->sent_ms = session_ms(s);
    s->sent_known = true;
    int w = dc__buf_put(out, h, sizeof h);
    if (type == MSG_HELLO)
        w |= s->port.device ? dc__buf_put(out, s->port.device, 32) : DC_EMISUSE;
    uint32_t n = 0;
    for (size_t i = 0; i < s->nsp; i++)
        n += s->sp[i]->pending.size > 0 || (s->sp[i]->refused && !s->sp[i]->recon_done);
    w |= put_u32(out, n);
    bool busy = false;
    for (size_t i = 0; i < s->nsp; i++) {
        space_state *st = s->sp[i];
        if (st->refused && !st->recon_done) {
            /* Said once: the initiator stops reconciling this space. */
            w |= dc__buf_put(out, st->id, 16);
            w |= dc__buf_putc(out, ENTRY_REFUSED);
            w |= put_u32(out, 0);
            st->recon_done = true;
            continue;
        }
        if (!st->recon_done)
            busy = true;
        if (st->pending.size == 0)
            continue;
        w |= dc__buf_put(out, st->id, 16);
        w |= dc__buf_putc(out, ENTRY_RECON);
        w |= put_u32(out, (uint32_t)st->pending.size);
        w |= dc__buf_put(out, st->pending.ptr, st->pending.size);
        dc__buf_clear(&st->pending);
    }
    /* The changes, in a bundle of at most BUNDLE_CHUNK bytes. */
    dc_buf bundle = DC_BUF_INIT;
    uint64_t shipped = 0;
    bool reading = false; /* one read transaction for the envelopes */
    int rc = w ? DC_ENOMEM : dc__bundle_begin(&bundle);
    for (size_t i = 0; i < s->nsp && !rc; i++) {
        space_state *st = s->sp[i];
        if (!st->recon_done || st->sent == st->nq)
            continue;
        if (s->port.read_begin && !reading) {
            if ((rc = s->port.read_begin(s->port.store.user, &s->err)))
                break;
            reading = true;
        }
        if (!st->sorted) {
            qsort(st->queue + st->sent, st->nq - st->sent, sizeof *st->queue, item_cmp);
            st->sorted = true;
        }
        while (st->sent < st->nq && bundle.size < s->chunk && !rc) {
            const dc__recon_item *it = &st->queue[st->sent];
            rc = s->port.store.bundle_add(s->port.store.user, st->bsp, &bundle, it->ts, it->id,
                                          &s->err);
            if (!rc) {
                st->sent++;
                shipped++;
            }
        }
        if (st->sent < st->nq)
            busy = true;
    }
    if (reading)
        s->port.read_end(s->port.store.user);
    if (!rc && shipped && dc__bundle_finish(&bundle))
        rc = DC_ENOMEM;
    if (!rc) {
        w |= put_u32(out, shipped ? (uint32_t)bundle.size : 0);
        if (shipped)
            w |= dc__buf_put(out, bundle.ptr, bundle.size);
        w |= dc__buf_putc(out, busy ? 0 : 1);
        if (w)
            rc = DC_ENOMEM;
    }
    dc_buf_dispose(&bundle);
    if (rc == DC_ENOMEM)
        return dc__err_set(&s->err, DC_ENOMEM, "sync: out of memory");
    if (rc)
        return rc;
    s->changes_sent += shipped;
    *final = !busy;
    return 0;
}

typedef struct reader {
    const uint8_t *p;
    size_t n, pos;
} reader;

static bool take(reader *rd, size_t k, const uint8_t **out) {
    if (rd->n - rd->pos < k)
        return false;
    *out = rd->p + rd->pos;
    rd->pos += k;
    return true;
}

static int bad(dc_sync *s, const char *what) {
    return dc__err_set(&s->err, DC_ECORRUPT, "sync: malformed message (%s); start a new session",
                       what);
}

typedef struct idlist {
    uint8_t (*ids)[16];
    size_t n, cap;
} idlist;

static int collect_id(void *user, const uint8_t id[16]) {
    idlist *l = user;
    if (DC__VEC_ROOM(l->ids, l->n, l->cap))
        return DC_ENOMEM;
    memcpy(l->ids[l->n++], id, 16);
    return 0;
}

static int queue_item(void *user, uint64_t hlc, const uint8_t id[32]) {
    dc__recon_item it;
    it.ts = hlc;
    memcpy(it.id, id, 32);
    return on_found(user, DC_RECON_SEND, &it);
}

/* Spaces the initiator is a member of that it did not offer (it has not
 * heard of them yet): pushed whole, so a device learns of the spaces it
 * has been added to at its next sync, with no other step. */
static int push_unoffered(dc_sync *s, const uint8_t peer[32]) {
    idlist l = {NULL, 0, 0};
    int rc = s->port.store.spaces_of(s->port.store.user, peer, collect_id, &l, &s->err);
    if (rc == DC_ENOMEM)
        rc = dc__err_set(&s->err, DC_ENOMEM, "sync: out of memory");
    for (size_t i = 0; i < l.n && !rc; i++) {
        space_state *st = NULL;
        if (find_space(s, l.ids[i]))
            continue;
        if ((rc = add_space(s, l.ids[i], &st)))
            break;
        st->recon_done = true; /* nothing to reconcile: the peer has none of it */
        rc = st->bsp
                 ? s->port.store.space_items(s->port.store.user, st->bsp, queue_item, st, &s->err)
                 : 0;
        if (rc == DC_ENOMEM)
            rc = dc__err_set(&s->err, DC_ENOMEM, "sync: out of memory");
    }
    dc__free(l.ids);
    return rc;
}

/* Consumes a peer message: reconciliation data into each space's session,
 * then the bundle of changes, imported whole. */
static int consume(dc_sync *s, const uint8_t *p, size_t n, int want_type) {
    reader rd = {p, n, 0};
    const uint8_t *h, *x;
    if (n > MSG_MAX)
        return dc__err_set(&s->err, DC_ETOOBIG, "sync: a message of %zu bytes exceeds the limit",
                           n);
    if (!take(&rd, MSG_HEADER, &h) || memcmp(h, "DCS", 3) != 0)
        return bad(s, "not a sync message");
    if (h[3] > MSG_VERSION)
        return dc__err_set(&s->err, DC_EVERSION,
                           "sync: protocol version %u is newer than this "
                           "library speaks (%d); upgrade drivercore",
                           h[3], MSG_VERSION);
    if (h[3] == 0 || h[4] != 0 || h[7] != 0)
        return bad(s, "version 0 or reserved bits set");
    /* Byte 6, from an initiator only: the largest bundle it wants next. */
    if (h[6] && (s->role != DC_SYNC_RESPONDER || h[6] < CHUNK_MIN_LOG || h[6] > CHUNK_MAX_LOG))
        return bad(s, "bad bundle size request");
    if (h[6])
        s->chunk = (size_t)1 << h[6];
    if (h[5] != want_type)
        return bad(s, "unexpected message type");
    /* The peer's clock, bounded before any arithmetic: a hostile peer
     * cannot make the offset overflow. */
    uint64_t peer_ms = dc__load_be64(h + 8);
    if (!dc__clock_ms_valid(peer_ms > (uint64_t)INT64_MAX ? -1 : (int64_t)peer_ms))
        return bad(s, "the peer's clock is not a time");
    /* A port with no clock of its own has but the store's wall clock,
     * never corrected (a relay's is authoritative). */
    dc__clock none;
    memset(&none, 0, sizeof none);
    dc__clock *ck = s->port.clock ? s->port.clock : &none;
    int64_t now = wall_ms(s);
    int64_t off = (int64_t)peer_ms - now; /* from our clock as it reads now */
    /* A peer whose clock reads no plausible time corrects nobody. */
    bool plausible = (int64_t)peer_ms >= DC_PLAUSIBLE_MIN_MS &&
                     (int64_t)peer_ms <= DC_PLAUSIBLE_MAX_MS &&
                     ck->offset_ms + off >= -DC_HLC_MAX_MS && ck->offset_ms + off <= DC_HLC_MAX_MS;
    s->clock_doubt |= !plausible;
    clock_narrow(s, (int64_t)peer_ms, now - s->adopted);
    int64_t est = clock_estimate(s);
    int64_t moved = ck->offset_ms + (est - s->adopted); /* both bounded: no overflow */
    if (s->trust_clock && plausible && s->port.clock && s->off_bounded &&
        (s->adopted < s->off_lo || s->adopted > s->off_hi) && moved >= -DC_HLC_MAX_MS &&
        moved <= DC_HLC_MAX_MS) {
        /* The relay's clock is this device's time from now on — from this
         * message, so that what it brings is judged by it: a phone whose
         * clock is hours or months off joins at its first sync.  The
         * correction moves only when what the exchange tells excludes the
         * one in place (never by noise), and then to the midpoint, which
         * is off by at most half the window the relay stamped in. */
        off -= moved - ck->offset_ms;
        ck->offset_ms = moved;
        s->adopted = est;
    }
    /* With a relay, the correction in place if the exchange allows it
     * (what dc_sync_note_relay stores); else the best estimate. */
    bool kept = s->off_bounded && s->adopted >= s->off_lo && s->adopted <= s->off_hi;
    s->clock_offset = s->trust_clock && plausible && s->port.clock && kept ? s->adopted : est;
    /* A direct peer's clock is not adopted, but a lead of up to a week
     * is accepted for what it sends in this session (two phones hours
     * apart sync at once); beyond, its changes wait for our clock. */
    ck->lead_ms = s->trust_clock || off <= 0  ? 0
                  : off > DC_PEER_LEAD_MAX_MS ? DC_PEER_LEAD_MAX_MS
                                              : off;
    s->lead_ms = ck->lead_ms;
    s->bytes_received += n;
    if (want_type == MSG_HELLO && !take(&rd, 32, &x))
        return bad(s, "truncated hello");
    const uint8_t *peer = want_type == MSG_HELLO ? x : NULL;
    if (peer) {
        if (s->peer_known && memcmp(s->peer, peer, 32) != 0)
            return dc__err_set(&s->err, DC_EDENIED,
                               "sync: the hello names another device than "
                               "the one authenticated");
        memcpy(s->peer, peer, 32);
        s->peer_known = true;
    }
    if (!take(&rd, 4, &x))
        return bad(s, "truncated");
    uint32_t entries = dc__load_be32(x);
    if (entries > MSG_MAX_SPACES)
        return bad(s, "too many spaces");
    int rc;
    for (uint32_t i = 0; i < entries; i++) {
        const uint8_t *id, *kind, *len, *body;
        if (!take(&rd, 16, &id) || !take(&rd, 1, &kind) || !take(&rd, 4, &len) ||
            *kind > ENTRY_REFUSED || !take(&rd, dc__load_be32(len), &body))
            return bad(s, "truncated space entry");
        space_state *st = find_space(s, id);
        if (*kind == ENTRY_REFUSED) {
            if (!st || s->role != DC_SYNC_INITIATOR)
                return bad(s, "a refusal of a space never offered");
            st->recon_done = true; /* nothing to send there, nothing to get */
            st->peer_refused = true;
            st->nq = st->sent = 0;
            continue;
        }
        if (!st) {
            /* Only the responder meets a space for the first time here. */
            if (s->role != DC_SYNC_RESPONDER)
                return bad(s, "reconciliation of a space never offered");
            if ((rc = add_space(s, id, &st)))
                return rc;
            if (s->allow && !s->allow(s->allow_user, id, s->peer)) {
                st->refused = true;
                continue;
            }
        }
        if (st->recon_done || st->refused)
            continue;
        bool done = false;
        rc = dc__recon_step(st->recon, &st->pending, &done, body, dc__load_be32(len));
        if (rc) {
            s->err = *dc__recon_err(st->recon);
            return rc;
        }
        st->recon_done = done;
    }
    if (peer && (rc = push_unoffered(s, peer)))
        return rc;
    if (!take(&rd, 4, &x))
        return bad(s, "truncated before the changes");
    uint32_t blen = dc__load_be32(x);
    const uint8_t *bundle = NULL, *fin;
    if (blen && !take(&rd, blen, &bundle))
        return bad(s, "truncated changes");
    if (!take(&rd, 1, &fin) || *fin > 1 || rd.pos != rd.n)
        return bad(s, "bad ending");
    s->peer_final = *fin == 1;
    if (blen) {
        /* One bad envelope never stops a sync: it is set aside (recorded
         * for status) and the rest of the bundle goes in. */
        /* A replica's port folds what it imported late: at the next
         * bundle's import, beside its signature checks, or when the step
         * settles if no bundle follows now. */
        uint64_t fresh = 0, aside = 0;
        rc = s->port.store.import(s->port.store.user, bundle, blen, s->lead_ms, &fresh, &aside,
                                  &s->err);
        ck->lead_ms = 0; /* a peer's lead lasts one import */
        s->imported = true;
        if (rc) {
            dc__err_prefix(&s->err, "sync: the changes received were refused");
            return rc;
        }
        s->changes_received += fresh;
        s->set_aside += aside;
    }
    return 0;
}

/* ---- stepping ---- */

static int offer_all(void *user, const uint8_t id[16]) {
    dc_sync *s = user;
    space_state *st = NULL;
    int rc = add_space(s, id, &st);
    if (!rc)
        rc = dc__recon_start(st->recon, &st->pending);
    if (rc && !s->err.code)
        dc__err_set(&s->err, rc, "sync: starting reconciliation failed");
    return rc;
}

int dc_sync_step(dc_sync *s, dc_buf *out, int *done, const uint8_t *in, size_t n) {
    if (!s || !out || !done)
        return dc__last_set(DC_EMISUSE, "dc_sync_step: NULL argument");
    dc__err_clear(&s->err);
    *done = 0;
    dc__buf_clear(out);
    int rc;
    if (s->port.step_begin && (rc = s->port.step_begin(s->port.store.user, &s->err)))
        return sfail_err(s, &s->err);
    bool first = s->calls++ == 0;
    s->imported = false;
    if (s->role == DC_SYNC_INITIATOR && first) {
        if (in || n)
            return sfail(s, DC_EMISUSE, "sync: the initiator's first step takes no input");
        if (!s->port.spaces)
            return sfail(s, DC_EMISUSE, "sync: an initiator needs a store that lists its spaces");
        rc = s->port.spaces(s->port.store.user, offer_all, s, &s->err);
    } else {
        if (!in)
            return sfail(s, DC_EMISUSE, "sync: this step needs the peer's message");
        rc = consume(s, in, n, s->role == DC_SYNC_RESPONDER && first ? MSG_HELLO : MSG_STEP);
        if (s->port.clock)
            s->port.clock->lead_ms = 0; /* a peer's lead lasts one import */
    }
    bool final = false;
    if (!rc)
        rc = build(s, out, s->role == DC_SYNC_INITIATOR && first ? MSG_HELLO : MSG_STEP, &final);
    if (rc) {
        dc__buf_clear(out);
        if (!s->err.code)
            dc__err_set(&s->err, rc, "sync: the step failed");
        return sfail_err(s, &s->err);
    }
    /* Finished when neither side has anything left: the last message is
     * sent only if it carries something the peer needs. */
    if (final && s->peer_final && !(s->role == DC_SYNC_INITIATOR && first)) {
        *done = 1;
        s->finished = true;
        /* An out with no entries and no changes is just the header, the
         * count and the final flag.  It is sent unless the peer has already
         * seen a final message from us: otherwise the peer would never
         * learn the session ended (a relay would keep the session until it
         * expires; a device would not record the sync). */
        bool bare = out->size == MSG_HEADER + 4 + 4 + 1;
        if (bare && s->sent_final)
            dc__buf_clear(out);
    }
    /* What this step imported waits for the next bundle's import, unless
     * the session ends here; what an earlier step left is folded now. */
    settle(s, s->imported, *done);
    if (out->size)
        s->sent_final = final;
    if (out->size) {
        s->bytes_sent += out->size;
        if (s->role == DC_SYNC_INITIATOR)
            s->round_trips++;
    }
    return 0;
}

int dc_sync_report(dc_buf *out, const dc_sync *s) {
    if (!s || !out)
        return dc__last_set(DC_EMISUSE, "dc_sync_report: NULL argument");
    dc__buf_clear(out);
    /* The bound of clock_offset_ms's error; null while none is known. */
    char err[24] = "null";
    int64_t e = clock_error(s, s->clock_offset);
    if (e >= 0)
        snprintf(err, sizeof err, "%lld", (long long)e);
    if (dc__buf_printf(out,
                       "{\"bytes_sent\":%llu,\"bytes_received\":%llu,\"round_trips\":%llu,"
                       "\"changes_sent\":%llu,\"changes_received\":%llu,\"spaces\":%zu,"
                       "\"clock_offset_ms\":%lld,\"set_aside\":%llu,\"compacted\":%llu,"
                       "\"snapshot_needed\":%llu,\"clock_error_ms\":%s}",
                       (unsigned long long)s->bytes_sent, (unsigned long long)s->bytes_received,
                       (unsigned long long)s->round_trips, (unsigned long long)s->changes_sent,
                       (unsigned long long)s->changes_received, s->nsp, (long long)s->clock_offset,
                       (unsigned long long)s->set_aside, (unsigned long long)s->compacted,
                       (unsigned long long)s->snapshot_needed, err))
        return sfail(s, DC_ENOMEM, "sync: out of memory");
    return 0;
}

void dc__sync_get_figures(const dc_sync *s, dc__sync_figures *f) {
    f->bytes_sent = s->bytes_sent;
    f->bytes_received = s->bytes_received;
    f->round_trips = s->round_trips;
    f->changes_sent = s->changes_sent;
    f->changes_received = s->changes_received;
    f->spaces = s->nsp;
    f->clock_offset_ms = s->clock_offset;
    f->clock_error_ms = clock_error(s, s->clock_offset);
    f->set_aside = s->set_aside;
}

int dc__sync_set_peer(dc_sync *s, const uint8_t device[32], dc__sync_filter_fn allow, void *user) {
    if (s->calls)
        return DC_EMISUSE;
    memcpy(s->peer, device, 32);
    s->peer_known = true;
    s->allow = allow;
    s->allow_user = user;
    return 0;
}

int dc_sync_trust_peer_clock(dc_sync *s) {
    if (!s)
        return dc__last_set(DC_EMISUSE, "dc_sync_trust_peer_clock: the session is NULL");
    if (s->role != DC_SYNC_INITIATOR || s->calls)
        return sfail(s, DC_EMISUSE,
                     "sync: only an initiator, before its first step, trusts its peer's clock");
    s->trust_clock = true;
    return 0;
}

int dc__sync_outcome_get(const dc_sync *s, dc__sync_outcome *o) {
    o->port = &s->port;
    if (s->role != DC_SYNC_INITIATOR || !s->finished)
        return DC_EMISUSE;
    o->clock_offset = s->clock_offset;
    o->adopted = s->adopted;
    o->clock_doubt = s->clock_doubt;
    return 0;
}

int dc__sync_each_space(const dc_sync *s, int (*fn)(void *fu, void *sp, bool peer_refused),
                        void *fu) {
    int rc = 0;
    for (size_t i = 0; i < s->nsp && !rc; i++)
        rc = fn(fu, s->sp[i]->bsp, s->sp[i]->peer_refused);
    return rc;
}
