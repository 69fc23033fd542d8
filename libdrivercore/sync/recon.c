/*
 * sync/recon — the reconciliation session: message encoding, and the
 * rules that turn a peer's ranges into our answer; a message is decoded by
 * recon_read.c, the items and their sums are item.c's (docs/protocol.md is
 * the byte-level spec; keep the three in step).
 *
 * A message is a header and a list of consecutive ranges covering the item
 * space from the lowest bound upward; each range is Skip (nothing to say),
 * Fingerprint (here is my fingerprint of it), IdList (here are all my items
 * in it) or IdListReply (of the ids you listed I lack these; I have so many
 * you lack).  The answer to a message is computed range by range, the way
 * Negentropy does, with two departures that the byte targets of DESIGN.md
 * call for: bounds carry "round" timestamps (a few bytes instead of eight),
 * and a listed range is settled in one exchange — the receiver of an id
 * list learns both directions at once and returns a bitmap, so that both
 * sides learn what to send without echoing ids.
 *
 * The session keeps no per-range state between messages: everything it
 * needs comes back in the peer's ranges.  That is what makes a cut session
 * cheap to abandon, and a store free to take new items between messages.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/recon_int.h"

static const unsigned char PERSONAL_FP[16] = "dc-recon-fp-v1";
static const unsigned char PERSONAL_ID[16] = "dc-recon-id-v1";

const dc__recon_bound dc__recon_bound_zero = {0, {0}, 0};
const dc__recon_bound dc__recon_bound_inf = {DC_RECON_TS_INF, {0}, 0};

/* ---------------------------------------------------------------- varints */

static int put_varint(dc_buf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = (uint8_t)(byte | (v ? 0x80 : 0));
    } while (v);
    return dc__buf_put(b, tmp, n);
}

/* ---------------------------------------------------------------- session */

int dc__recon_fail(dc__recon *s, int code, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A session that failed mid-message may have reported half a message's
     * findings; it is not safe to go on, only to start over. */
    if (code != DC_EMISUSE)
        s->state = S_FAILED;
    return dc__err_set(&s->err, code, "reconcile: %s", msg);
}

static int check_opts(const dc__recon_options *o, dc__err *err) {
    if (o->version != DC_RECON_OPTIONS_VERSION)
        return dc__err_set(err, DC_EINVAL, "reconcile: unknown options version %u", o->version);
    if (o->buckets < 2 || o->buckets > 64 || o->first_buckets < 1 || o->first_buckets > 64)
        return dc__err_set(err, DC_EINVAL, "reconcile: buckets must be 2..64, first_buckets 1..64");
    if (o->idlist_max < 1 || o->idlist_max > 1024)
        return dc__err_set(err, DC_EINVAL, "reconcile: idlist_max must be 1..1024");
    if (o->id_bytes < 8 || o->id_bytes > 32 || o->fp_bytes < 8 || o->fp_bytes > 16)
        return dc__err_set(err, DC_EINVAL, "reconcile: id_bytes must be 8..32, fp_bytes 8..16");
    if (o->max_message < (16u << 10) || o->max_message > (64u << 20))
        return dc__err_set(err, DC_EINVAL, "reconcile: max_message must be 16 KiB..64 MiB");
    /* The largest single answer (a reply listing EXTRAS_FACTOR * idlist_max
     * full ids, or a split) must fit in an otherwise empty message, or a
     * session could stall deferring the same range for ever. */
    size_t worst = HEADER_SIZE + OPENING_SIZE + 2 * BOUND_MAX + 20 +
                   (size_t)o->idlist_max * (EXTRAS_FACTOR * 32 + 32 + 1) +
                   (size_t)o->buckets * (BOUND_MAX + 16) + 64 * DEFER_ENTRY_MAX;
    if (worst > o->max_message)
        return dc__err_set(err, DC_EINVAL,
                           "reconcile: max_message %zu is too small for idlist_max %u and "
                           "buckets %u (needs %zu)",
                           o->max_message, o->idlist_max, o->buckets, worst);
    return 0;
}

int dc__recon_new(dc__recon **out, int role, const dc__recon_set *set,
                  const dc__recon_options *opts, dc__err *err) {
    *out = NULL;
    dc__recon_options def = DC_RECON_OPTIONS_INIT;
    const dc__recon_options *o = opts ? opts : &def;
    if (role != DC_RECON_INITIATOR && role != DC_RECON_RESPONDER)
        return dc__err_set(err, DC_EINVAL, "reconcile: role must be initiator or responder");
    if (!set || !set->size || !set->lower_bound || !set->sum || !set->item || !set->each)
        return dc__err_set(err, DC_EINVAL, "reconcile: the item set lacks a function");
    int rc = check_opts(o, err);
    if (rc != 0)
        return rc;
    rc = dc__ensure_init();
    if (rc != 0)
        return dc__err_set(err, rc, "reconcile: %s", dc_error_last());
    dc__recon *s = dc__calloc(1, sizeof *s);
    if (!s)
        return dc__err_set(err, DC_ENOMEM, "reconcile: out of memory creating a session");
    s->role = role;
    s->set = *set;
    s->o = *o;
    s->id_bytes = o->id_bytes;
    s->fp_bytes = o->fp_bytes;
    if (role == DC_RECON_INITIATOR) {
        if (o->salt)
            memcpy(s->salt, o->salt, 16);
        else
            randombytes_buf(s->salt, 16);
    }
    *out = s;
    return 0;
}

void dc__recon_free(dc__recon *s) {
    if (!s)
        return;
    dc__free(s->sends.v);
    dc__free(s->needs.v);
    dc__free(s->pend);
    dc__free(s->in);
    dc__free(s);
}

const dc__err *dc__recon_err(const dc__recon *s) {
    return &s->err;
}

const dc__recon_item *dc__recon_sends(const dc__recon *s, size_t *n) {
    *n = s->sends.n;
    return s->sends.v;
}

const dc__recon_item *dc__recon_needs(const dc__recon *s, size_t *n) {
    *n = s->needs.n;
    return s->needs.v;
}

uint64_t dc__recon_send_count(const dc__recon *s) {
    return s->send_count;
}

uint64_t dc__recon_need_count(const dc__recon *s) {
    return s->need_count;
}

/* ---------------------------------------------------------------- findings */

static int pend_add(dc__recon *s, int kind, const dc__recon_item *it) {
    if (DC__VEC_ROOM(s->pend, s->npend, s->cappend))
        return dc__recon_fail(s, DC_ENOMEM, "out of memory recording findings");
    s->pend[s->npend].kind = kind;
    s->pend[s->npend].it = *it;
    s->npend++;
    return 0;
}

static int list_add(dc__recon *s, list *l, const dc__recon_item *it) {
    if (DC__VEC_ROOM(l->v, l->n, l->cap))
        return dc__recon_fail(s, DC_ENOMEM, "out of memory keeping findings");
    l->v[l->n++] = *it;
    return 0;
}

static void pend_drop(dc__recon *s) {
    s->npend = 0;
    s->pend_need_count = 0;
}

static int pend_commit(dc__recon *s) {
    int rc = 0;
    for (size_t i = 0; i < s->npend && rc == 0; i++) {
        finding *f = &s->pend[i];
        if (f->kind == DC_RECON_SEND)
            s->send_count++;
        if (s->o.on_found) {
            if (s->o.on_found(s->o.on_found_user, f->kind, &f->it) != 0)
                rc = dc__recon_fail(s, DC_EUSER, "the findings callback returned non-zero");
        } else {
            rc = list_add(s, f->kind == DC_RECON_SEND ? &s->sends : &s->needs, &f->it);
        }
    }
    s->need_count += s->pend_need_count;
    pend_drop(s);
    return rc;
}

/* ---------------------------------------------------------------- writing */

/* Writes a bound relative to the previous one, and the mode byte. */
static int put_bound(dc__recon *s, dc_buf *b, const dc__recon_bound *hi, int mode) {
    int rc;
    if (hi->ts == DC_RECON_TS_INF) {
        rc = put_varint(b, 0);
    } else {
        uint64_t delta = hi->ts - s->out_prev.ts;
        unsigned shift = 0;
        while (delta && shift < 62 && !((delta >> shift) & 1))
            shift++;
        uint64_t m = delta >> shift;
        if (m >> 57) /* does not fit beside the shift: escape, then raw */
            rc = put_varint(b, 1 + 63);
        else
            rc = put_varint(b, 1 + ((m << 6) | shift));
        if (rc == 0 && (m >> 57))
            rc = put_varint(b, delta);
    }
    uint8_t mb = (uint8_t)((hi->id_len << 2) | mode);
    if (rc == 0)
        rc = dc__buf_put(b, &mb, 1);
    if (rc == 0 && hi->id_len)
        rc = dc__buf_put(b, hi->id, hi->id_len);
    if (rc != 0)
        return dc__recon_fail(s, DC_ENOMEM, "out of memory writing a message");
    s->out_prev = *hi;
    return 0;
}

/* Starts a non-skip range [lo, hi): a Skip range first if the output's last
 * range ended below lo (skips are written lazily, so runs of them merge and
 * trailing ones cost nothing). */
static int open_range(dc__recon *s, dc_buf *b, const dc__recon_bound *lo, const dc__recon_bound *hi,
                      int mode) {
    int rc = 0;
    if (mode == MODE_FP || mode == MODE_IDLIST)
        s->out_asks = true;
    if (dc__recon_bound_cmp(&s->out_prev, lo) != 0)
        rc = put_bound(s, b, lo, MODE_SKIP);
    if (rc == 0)
        rc = put_bound(s, b, hi, mode);
    return rc;
}

/* The wire fingerprint of our items of ranks [lo, hi). */
static int fingerprint(dc__recon *s, size_t lo, size_t hi, uint8_t out[16]) {
    uint8_t in[32 + 10];
    int rc = s->set.sum(s->set.user, lo, hi, in);
    if (rc != 0)
        return dc__recon_fail(s, rc, "the item set could not sum a range");
    uint64_t count = hi - lo;
    size_t n = 32;
    do {
        uint8_t byte = count & 0x7f;
        count >>= 7;
        in[n++] = (uint8_t)(byte | (count ? 0x80 : 0));
    } while (count);
    crypto_generichash_blake2b_salt_personal(out, s->fp_bytes, in, n, s->salt, 16, NULL,
                                             PERSONAL_FP);
    return 0;
}

/* The id-list entry of an id: the id itself, or a salted hash of it.  The
 * salt is fresh per session, so two ids that collide in a short entry (by
 * chance or by a writer grinding for it) do not collide in the next one. */
static void entry_of(const dc__recon *s, uint8_t *out, const uint8_t id[32]) {
    if (s->id_bytes == DC_RECON_ID_SIZE)
        memcpy(out, id, DC_RECON_ID_SIZE);
    else
        crypto_generichash_blake2b_salt_personal(out, s->id_bytes, id, DC_RECON_ID_SIZE, s->salt,
                                                 16, NULL, PERSONAL_ID);
}

static int rank_of(dc__recon *s, const dc__recon_bound *b, size_t *out) {
    if (b->ts == DC_RECON_TS_INF) {
        int rc = s->set.size(s->set.user, out);
        return rc ? dc__recon_fail(s, rc, "the item set could not count its items") : 0;
    }
    int rc = s->set.lower_bound(s->set.user, b, out);
    return rc ? dc__recon_fail(s, rc, "the item set could not find a bound") : 0;
}

/*
 * The shortest bound b with a < b <= c, relative to the previous bound
 * written (prev <= a): when the timestamps differ, the timestamp in (a.ts,
 * c.ts] whose distance from prev has the most trailing zero bits and no id;
 * when they are equal, c's timestamp and the shortest prefix of c's id that
 * sorts above a's.
 */
static void bound_between(const dc__recon_bound *prev, const dc__recon_item *a,
                          const dc__recon_item *c, dc__recon_bound *out) {
    memset(out, 0, sizeof *out);
    if (a->ts < c->ts) {
        uint64_t lo = a->ts + 1 - prev->ts, hi = c->ts - prev->ts;
        uint64_t pick = hi;
        for (int sft = 63; sft >= 0; sft--) {
            uint64_t mask = ((uint64_t)1 << sft) - 1;
            if ((lo | mask) == UINT64_MAX && (lo & mask))
                continue;
            uint64_t x = (lo & mask) ? (lo | mask) + 1 : lo;
            if (x >= lo && x <= hi) {
                pick = x;
                break;
            }
        }
        out->ts = prev->ts + pick;
        return;
    }
    out->ts = c->ts;
    size_t k = 0;
    while (k < DC_RECON_ID_SIZE && a->id[k] == c->id[k])
        k++;
    /* a < c with equal timestamps, so k < 32. */
    out->id_len = (uint8_t)(k + 1);
    memcpy(out->id, c->id, k + 1);
}

/* Writes a Fingerprint range over our items in [lo, hi). */
static int emit_fp(dc__recon *s, dc_buf *b, const dc__recon_bound *lo, const dc__recon_bound *hi,
                   size_t rlo, size_t rhi) {
    uint8_t fp[16];
    int rc = fingerprint(s, rlo, rhi, fp);
    if (rc == 0)
        rc = open_range(s, b, lo, hi, MODE_FP);
    if (rc == 0 && dc__buf_put(b, fp, s->fp_bytes) != 0)
        rc = dc__recon_fail(s, DC_ENOMEM, "out of memory writing a message");
    return rc;
}

typedef struct put_ctx {
    dc__recon *s;
    dc_buf *b;
} put_ctx;

static int put_entry(void *ctx, const dc__recon_item *it) {
    put_ctx *c = ctx;
    uint8_t e[32];
    entry_of(c->s, e, it->id);
    return dc__buf_put(c->b, e, c->s->id_bytes);
}

/* Writes an IdList range listing all our items (ranks [rlo, rhi)). */
static int emit_idlist(dc__recon *s, dc_buf *b, const dc__recon_bound *lo,
                       const dc__recon_bound *hi, size_t rlo, size_t rhi) {
    int rc = open_range(s, b, lo, hi, MODE_IDLIST);
    if (rc == 0 && put_varint(b, rhi - rlo) != 0)
        return dc__recon_fail(s, DC_ENOMEM, "out of memory writing a message");
    if (rc == 0) {
        put_ctx c = {s, b};
        rc = s->set.each(s->set.user, rlo, rhi, put_entry, &c);
        if (rc != 0)
            return s->state == S_FAILED ? rc
                                        : dc__recon_fail(s, rc, "could not list a range's items");
    }
    return rc;
}

/* Splits our items of [lo, hi) (ranks [rlo, rhi), at least `parts` of them)
 * into `parts` ranges of nearly equal counts, each as a Fingerprint. */
static int emit_split(dc__recon *s, dc_buf *b, const dc__recon_bound *lo, const dc__recon_bound *hi,
                      size_t rlo, size_t rhi, unsigned parts) {
    size_t c = rhi - rlo;
    if (parts > c)
        parts = (unsigned)(c ? c : 1);
    dc__recon_bound cur = *lo;
    size_t rcur = rlo;
    for (unsigned k = 1; k <= parts; k++) {
        size_t rnext = rlo + (size_t)((uint64_t)c * k / parts);
        dc__recon_bound next;
        if (k == parts) {
            next = *hi;
            rnext = rhi;
        } else {
            dc__recon_item a, z;
            int rc = s->set.item(s->set.user, rnext - 1, &a);
            if (rc == 0)
                rc = s->set.item(s->set.user, rnext, &z);
            if (rc != 0)
                return dc__recon_fail(s, rc, "the item set could not fetch an item by rank");
            /* The writer's previous bound is cur once the skip (if any) and
             * the ranges before are written, which bound_between assumes. */
            bound_between(&cur, &a, &z, &next);
        }
        int rc = emit_fp(s, b, &cur, &next, rcur, rnext);
        if (rc != 0)
            return rc;
        cur = next;
        rcur = rnext;
    }
    return 0;
}

/* ---------------------------------------------------------------- answering */

typedef struct peer_entry {
    uint8_t e[32];
    uint32_t idx;
} peer_entry;

/* Entries shorter than 32 bytes are zero-padded, so whole-array compares
 * are right for every entry size (and qsort needs no context). */
static int cmp_entry(const void *a, const void *b) {
    return memcmp(((const peer_entry *)a)->e, ((const peer_entry *)b)->e, 32);
}

typedef struct match_ctx {
    dc__recon *s;
    peer_entry *pe;
    size_t k;
    uint8_t *bitmap; /* 1 = we lack peer entry i */
    dc_buf *extras;  /* full-id mode: our extra ids */
    uint64_t nextras;
} match_ctx;

static int match_item(void *ctx, const dc__recon_item *it) {
    match_ctx *c = ctx;
    peer_entry key;
    memset(key.e, 0, sizeof key.e);
    entry_of(c->s, key.e, it->id);
    size_t lo = 0, hi = c->k;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(c->pe[mid].e, key.e, 32) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->k && memcmp(c->pe[lo].e, key.e, 32) == 0) {
        uint32_t i = c->pe[lo].idx;
        c->bitmap[i / 8] &= (uint8_t) ~(1u << (i % 8));
        return 0;
    }
    c->nextras++;
    if (c->extras && dc__buf_put(c->extras, it->id, DC_RECON_ID_SIZE) != 0)
        return DC_ENOMEM;
    return pend_add(c->s, DC_RECON_SEND, it);
}

/* Answers the peer's id list of [lo, hi): both directions are settled here. */
static int answer_idlist(dc__recon *s, dc_buf *b, const in_range *x, const dc__recon_bound *lo,
                         size_t rlo, size_t rhi) {
    size_t k = (size_t)x->count;
    bool full = s->id_bytes == DC_RECON_ID_SIZE;
    if (full && rhi - rlo > (size_t)EXTRAS_FACTOR * s->o.idlist_max)
        /* Listing our extras could overflow a message: narrow the range
         * first, learning nothing from the peer's list yet. */
        return emit_split(s, b, lo, &x->hi, rlo, rhi, s->o.buckets);
    peer_entry *pe = k ? dc__calloc(k, sizeof *pe) : NULL;
    uint8_t *bitmap = dc__calloc(k / 8 + 1, 1);
    dc_buf extras = DC_BUF_INIT;
    int rc = 0;
    if ((k && !pe) || !bitmap) {
        rc = dc__recon_fail(s, DC_ENOMEM, "out of memory answering an id list");
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        memcpy(pe[i].e, x->data + i * s->id_bytes, s->id_bytes);
        pe[i].idx = (uint32_t)i;
        bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    if (k)
        qsort(pe, k, sizeof *pe, cmp_entry);
    match_ctx c = {s, pe, k, bitmap, full ? &extras : NULL, 0};
    rc = s->set.each(s->set.user, rlo, rhi, match_item, &c);
    if (rc != 0) {
        if (s->state != S_FAILED)
            rc = dc__recon_fail(s, rc, "could not compare a listed range with our items");
        goto out;
    }
    /* What the peer listed and we lack. */
    for (size_t i = 0; i < k; i++) {
        if (!(bitmap[i / 8] >> (i % 8) & 1))
            continue;
        if (full) {
            dc__recon_item it;
            it.ts = 0;
            memcpy(it.id, x->data + i * DC_RECON_ID_SIZE, DC_RECON_ID_SIZE);
            if ((rc = pend_add(s, DC_RECON_NEED, &it)) != 0)
                goto out;
        }
        s->pend_need_count++;
    }
    rc = open_range(s, b, lo, &x->hi, MODE_REPLY);
    if (rc == 0 && (put_varint(b, k) != 0 || dc__buf_put(b, bitmap, (k + 7) / 8) != 0 ||
                    put_varint(b, c.nextras) != 0 ||
                    (extras.size && dc__buf_put(b, extras.ptr, extras.size) != 0)))
        rc = dc__recon_fail(s, DC_ENOMEM, "out of memory writing a message");
out:
    dc__free(pe);
    dc__free(bitmap);
    dc_buf_dispose(&extras);
    return rc;
}

typedef struct reply_ctx {
    dc__recon *s;
    const uint8_t *bitmap;
    size_t i;
} reply_ctx;

static int reply_item(void *ctx, const dc__recon_item *it) {
    reply_ctx *c = ctx;
    size_t i = c->i++;
    if (c->bitmap[i / 8] >> (i % 8) & 1)
        return pend_add(c->s, DC_RECON_SEND, it);
    return 0;
}

/* Takes in the peer's reply to our id list of [lo, hi) (ranks [rlo, rhi),
 * whose count the parser's classification checked against the reply). */
static int take_reply(dc__recon *s, const in_range *x, size_t rlo, size_t rhi) {
    reply_ctx c = {s, x->data, 0};
    int rc = s->set.each(s->set.user, rlo, rhi, reply_item, &c);
    if (rc != 0)
        return s->state == S_FAILED ? rc : dc__recon_fail(s, rc, "could not walk a replied range");
    for (uint64_t i = 0; x->extra_ids && i < x->extras; i++) {
        dc__recon_item it;
        it.ts = 0;
        memcpy(it.id, x->extra_ids + i * DC_RECON_ID_SIZE, DC_RECON_ID_SIZE);
        if ((rc = pend_add(s, DC_RECON_NEED, &it)) != 0)
            return rc;
    }
    s->pend_need_count += x->extras;
    return 0;
}

/* Our answer to one Fingerprint or IdList range (or a REDO). */
static int answer_range(dc__recon *s, dc_buf *b, const in_range *x, const dc__recon_bound *lo,
                        size_t rlo, size_t rhi) {
    if (x->mode == MODE_IDLIST)
        return answer_idlist(s, b, x, lo, rlo, rhi);
    if (x->mode == MODE_FP) {
        uint8_t fp[16];
        int rc = fingerprint(s, rlo, rhi, fp);
        if (rc != 0)
            return rc;
        if (memcmp(fp, x->fp, s->fp_bytes) == 0)
            return 0; /* equal: Skip, written lazily */
    }
    if (rhi - rlo <= s->o.idlist_max)
        return emit_idlist(s, b, lo, &x->hi, rlo, rhi);
    return emit_split(s, b, lo, &x->hi, rlo, rhi, s->o.buckets);
}

static int put_header(dc__recon *s, dc_buf *b, bool opening) {
    uint8_t h[HEADER_SIZE + OPENING_SIZE] = {MAGIC0, MAGIC1, VERSION, opening ? FLAG_OPENING : 0};
    size_t n = HEADER_SIZE;
    if (opening) {
        h[4] = (uint8_t)s->id_bytes;
        h[5] = (uint8_t)s->fp_bytes;
        memcpy(h + 6, s->salt, 16);
        n += OPENING_SIZE;
    }
    dc__buf_clear(b);
    s->out_prev = dc__recon_bound_zero;
    s->out_asks = false;
    if (dc__buf_put(b, h, n) != 0)
        return dc__recon_fail(s, DC_ENOMEM, "out of memory writing a message");
    return 0;
}

/* Ends a message with a range up to the top bound.  Ranges are
 * self-delimiting, so without this a message cut at a range boundary would
 * parse, and the ranges lost with the cut would silently count as Skip. */
static int close_message(dc__recon *s, dc_buf *b) {
    if (s->out_prev.ts == DC_RECON_TS_INF)
        return 0;
    return put_bound(s, b, &dc__recon_bound_inf, MODE_SKIP);
}

int dc__recon_start(dc__recon *s, dc_buf *out) {
    if (!s || !out)
        return DC_EMISUSE;
    if (s->role != DC_RECON_INITIATOR || s->state != S_NEW)
        return dc__recon_fail(s, DC_EMISUSE, "start is for a new initiator session only");
    int rc = put_header(s, out, true);
    size_t n = 0;
    if (rc == 0)
        rc = rank_of(s, &dc__recon_bound_inf, &n);
    if (rc == 0) {
        if (n <= s->o.idlist_max)
            rc = emit_idlist(s, out, &dc__recon_bound_zero, &dc__recon_bound_inf, 0, n);
        else
            rc = emit_split(s, out, &dc__recon_bound_zero, &dc__recon_bound_inf, 0, n,
                            s->o.first_buckets);
    }
    if (rc == 0)
        rc = close_message(s, out);
    if (rc != 0)
        return s->state == S_FAILED ? rc
                                    : dc__recon_fail(s, rc, "could not write the first message");
    s->state = S_WAIT;
    return 0;
}

int dc__recon_step(dc__recon *s, dc_buf *out, bool *done, const uint8_t *p, size_t n) {
    if (!s || !out || !done || (!p && n))
        return DC_EMISUSE;
    *done = false;
    bool first = s->role == DC_RECON_RESPONDER && s->state == S_NEW;
    if (!first && s->state != S_WAIT)
        return dc__recon_fail(s, DC_EMISUSE,
                              s->state == S_DONE     ? "the session is already complete"
                              : s->state == S_FAILED ? "the session failed; start a new one"
                                                     : "the initiator must call start first");
    bool asks;
    int rc = dc__recon_parse(s, p, n, &asks);
    if (rc != 0)
        return rc;
    dc__buf_clear(out);

    /* Ranks of every received range, and which replies still line up with
     * our items (a reply whose listed count differs from our count there
     * means our set grew since we listed it: that range is asked again). */
    size_t *ranks = dc__calloc(s->nin + 1, sizeof *ranks);
    size_t *replies_after = dc__calloc(s->nin + 1, sizeof *replies_after);
    if (!ranks || !replies_after) {
        dc__free(ranks);
        dc__free(replies_after);
        return dc__recon_fail(s, DC_ENOMEM, "out of memory answering a message");
    }
    ranks[0] = 0;
    for (size_t i = 0; i < s->nin && rc == 0; i++)
        rc = rank_of(s, &s->in[i].hi, &ranks[i + 1]);
    for (size_t i = 0; i < s->nin && rc == 0; i++)
        if (s->in[i].mode == MODE_REPLY && s->in[i].count != ranks[i + 1] - ranks[i])
            s->in[i].mode = MODE_REDO;
    for (size_t i = s->nin; i-- > 0;)
        replies_after[i] = replies_after[i + 1] + (s->in[i].mode == MODE_REPLY);
    if (rc == 0 && !asks) {
        /*
         * The peer asks nothing: it only answers our id lists (or says it is
         * done).  We take the answers in and stop, sending nothing — that
         * saves the round trip a bare "done" would cost.  A reply that no
         * longer lines up (our set grew since we listed the range) is left
         * for the next session rather than asked again here.
         */
        for (size_t i = 0; i < s->nin && rc == 0; i++)
            if (s->in[i].mode == MODE_REPLY) {
                rc = take_reply(s, &s->in[i], ranks[i], ranks[i + 1]);
                if (rc == 0)
                    rc = pend_commit(s);
            }
        dc__free(ranks);
        dc__free(replies_after);
        if (rc != 0)
            return s->state == S_FAILED ? rc
                                        : dc__recon_fail(s, rc, "could not take in the replies");
        s->state = S_DONE;
        *done = true;
        return 0;
    }

    /*
     * Answer range by range.  Each answer is written, then kept only if it
     * leaves room for the worst case of what must still follow: once one
     * does not fit, every later range that needs an answer is deferred — a
     * run of them becomes one Fingerprint of ours, which the peer splits
     * again next round — while replies are still taken in (they need no
     * bytes), so nothing is settled twice.  This is the continuation that
     * keeps every message under the cap.
     */
    if (rc == 0)
        rc = put_header(s, out, false);
    bool deferring = false, run_open = false;
    dc__recon_bound run_lo = dc__recon_bound_zero, run_hi = dc__recon_bound_zero;
    size_t run_rlo = 0, run_rhi = 0;
    for (size_t i = 0; i < s->nin && rc == 0; i++) {
        const in_range *x = &s->in[i];
        const dc__recon_bound *lo = i ? &s->in[i - 1].hi : &dc__recon_bound_zero;
        size_t rlo = ranks[i], rhi = ranks[i + 1];
        if (x->mode == MODE_SKIP)
            continue;
        if (x->mode == MODE_REPLY) {
            if (run_open) {
                rc = emit_fp(s, out, &run_lo, &run_hi, run_rlo, run_rhi);
                run_open = false;
            }
            if (rc == 0)
                rc = take_reply(s, x, rlo, rhi);
            if (rc == 0)
                rc = pend_commit(s);
            continue;
        }
        if (!deferring) {
            size_t mark = out->size;
            dc__recon_bound prev = s->out_prev;
            size_t reserve = (replies_after[i] + 1) * DEFER_ENTRY_MAX;
            rc = answer_range(s, out, x, lo, rlo, rhi);
            if (rc != 0)
                break;
            if (out->size + reserve <= s->o.max_message) {
                rc = pend_commit(s);
                continue;
            }
            out->size = mark;
            s->out_prev = prev;
            pend_drop(s);
            deferring = true;
        }
        if (!run_open) {
            run_open = true;
            run_lo = *lo;
            run_rlo = rlo;
        }
        run_hi = x->hi;
        run_rhi = rhi;
    }
    if (rc == 0 && run_open)
        rc = emit_fp(s, out, &run_lo, &run_hi, run_rlo, run_rhi);
    if (rc == 0)
        rc = close_message(s, out);
    dc__free(ranks);
    dc__free(replies_after);
    if (rc != 0)
        return s->state == S_FAILED ? rc : dc__recon_fail(s, rc, "could not answer the message");
    if (out->size > s->o.max_message)
        return dc__recon_fail(s, DC_ETOOBIG,
                              "the peer's message is too fragmented to answer within %zu bytes; "
                              "start a new session",
                              s->o.max_message);
    if (!s->out_asks) {
        /* We ask nothing back: once this message (replies, or just the
         * header and one Skip to the top bound, which says "settled") is
         * sent, we are done, and the peer will be once it reads it. */
        s->state = S_DONE;
        *done = true;
    } else {
        s->state = S_WAIT;
    }
    return 0;
}
