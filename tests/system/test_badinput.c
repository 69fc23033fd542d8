/*
 * Bad input and misuse leave a replica exactly as it was.
 *
 * A valid bundle is built from real replicas (an admin A and a member B
 * write changes); the target C is a member that has only the space's
 * membership.  Then C is fed that bundle truncated at every length,
 * bit-flipped at every byte (raw, caught by the trailing hash, and with
 * the hash recomputed, so each envelope's own checks are reached), with a
 * length or count claiming more than the limits, a zstd bomb signed by a
 * member, changes forged by a device that is not a member (sealed with the
 * space's real key, to be nasty), a re-signed header, a change by a
 * reader, a grant by a non-admin, two changes claiming one sequence
 * number, and the valid bundle replayed.  A forgery or a broken envelope
 * must return the expected code with a message (naming the envelope), and
 * C's dump and status must stay byte-identical; a well-signed envelope
 * whose author lacks the role (a non-member's, a reader's change, a
 * non-admin's grant) is kept aside as unauthorised and changes nothing
 * readable.  The same bad envelopes mixed into the valid bundle and
 * imported the way sync imports (DC_IMPORT_SET_ASIDE) leave the valid part
 * applied and each bad one set aside and reported.  Then API misuse: NULL
 * handles and arguments (DC_EMISUSE), invalid UTF-8 (DC_EINVAL), unknown
 * spaces (DC_ENOTFOUND) — none may crash or change anything.
 *
 * The forgeries need secrets no API hands out, so this test links the
 * internal archive and reads a closed replica's identity and the space key
 * through store/ (dc__store_*), then seals envelopes with crypto/.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "store/store.h"
#include "systest.h"

static const int64_t T0 = INT64_C(1700000000000);

typedef struct env {
    dc_replica *a, *b, *c, *d, *e;
    char *pa, *pb, *pc, *pd, *pe;
    st_clock clock;
    char space[64];
    uint8_t sid[16];
    dc_buf valid;      /* B's full export: membership, A's and B's changes */
    char *before_dump; /* C's state before any bad input */
    char *before_status;
    long checks;
} env;

/* ---- the target must not change ---- */

static void assert_unchanged(env *w, const char *what) {
    char *d = st_dump(w->c), *s = st_status(w->c);
    if (strcmp(d, w->before_dump) != 0) {
        fprintf(stderr, "after %s, the target's dump changed:\n", what);
        st_show_diff("before", w->before_dump, "after", d);
        ST_FAIL("a refused input changed the replica");
    }
    if (strcmp(s, w->before_status) != 0) {
        fprintf(stderr, "after %s, the target's status changed:\n", what);
        st_show_diff("before", w->before_status, "after", s);
        ST_FAIL("a refused input changed the replica's status");
    }
    free(d);
    free(s);
    w->checks++;
}

/* Imports p into C; the result must be one of the codes in `want` (ending
 * with 0), with a message; `needle` (may be NULL) must occur in it. */
static int refuse(env *w, const uint8_t *p, size_t n, const int *want, const char *needle,
                  const char *what) {
    dc_buf report = DC_BUF_INIT;
    int rc = dc_bundle_import(w->c, p, n, &report);
    dc_buf_dispose(&report);
    bool ok = false;
    for (const int *k = want; *k; k++)
        ok |= rc == *k;
    if (!ok) {
        fprintf(stderr, "%s: import returned %s (%s); expected", what, dc_error_name(rc),
                dc_replica_errmsg(w->c));
        for (const int *k = want; *k; k++)
            fprintf(stderr, " %s", dc_error_name(*k));
        fputc('\n', stderr);
        ST_FAIL("wrong result for bad input");
    }
    ST_CHECK(dc_replica_errcode(w->c) == rc);
    const char *msg = dc_replica_errmsg(w->c);
    if (!msg || !*msg)
        ST_FAIL("%s: %s without a message", what, dc_error_name(rc));
    if (needle && !strstr(msg, needle))
        ST_FAIL("%s: the message does not mention '%s': %s", what, needle, msg);
    if (!strstr(msg, "nothing was imported"))
        ST_FAIL("%s: the message does not say that nothing was imported: %s", what, msg);
    assert_unchanged(w, what);
    return rc;
}

#define CODES(...) ((const int[]){__VA_ARGS__, 0})

/* ---- bundle surgery ---- */

static void rehash(dc_buf *b) {
    crypto_generichash(b->ptr + b->size - 32, 32, b->ptr, b->size - 32, NULL, 0);
}

typedef struct envs {
    size_t n;
    dc_buf e[256];
} envs;

static int collect(void *user, uint64_t i, const uint8_t *p, size_t n) {
    envs *v = user;
    (void)i;
    ST_CHECK(v->n < 256);
    dc_buf_init(&v->e[v->n]);
    ST_CHECK(dc__buf_put(&v->e[v->n], p, n) == 0);
    v->n++;
    return 0;
}

static void split(envs *v, const dc_buf *bundle) {
    v->n = 0;
    uint64_t count;
    dc__err err;
    ST_CHECK(dc__bundle_parse(bundle->ptr, bundle->size, &count, collect, v, &err) == 0);
}

static void envs_free(envs *v) {
    for (size_t i = 0; i < v->n; i++)
        dc_buf_dispose(&v->e[i]);
    v->n = 0;
}

/* A bundle of the given envelopes (NULL-terminated list of buffers). */
static void bundle_of(dc_buf *out, const dc_buf *const *list) {
    ST_CHECK(dc__bundle_begin(out) == 0);
    for (; *list; list++)
        ST_CHECK(dc__bundle_add(out, (*list)->ptr, (*list)->size) == 0);
    ST_CHECK(dc__bundle_finish(out) == 0);
}

/* ---- secrets of a (closed) replica file ---- */

static dc__identity *load_identity(const char *path) {
    dc__store *s = NULL;
    dc__err err;
    if (dc__store_open(&s, path, true, false, NULL, NULL, &err) != 0)
        ST_FAIL("store open %s: %s", path, err.msg);
    dc__identity *id = sodium_malloc(sizeof *id);
    ST_CHECK(id != NULL);
    char name[128];
    if (dc__store_identity_load(s, id, name, sizeof name, &err) != 0)
        ST_FAIL("identity of %s: %s", path, err.msg);
    dc__store_close(s);
    return id;
}

static uint32_t load_key(const char *path, const uint8_t sid[16], uint8_t key[32]) {
    dc__store *s = NULL;
    dc__err err;
    dc__space sp;
    ST_CHECK(dc__store_open(&s, path, true, false, NULL, NULL, &err) == 0);
    if (dc__store_space_get(s, sid, &sp, &err) != 0 ||
        dc__store_key_get(s, sp.sid, sp.epoch, NULL, key, &err) != 0)
        ST_FAIL("space key of %s: %s", path, err.msg);
    dc__store_close(s);
    return sp.epoch;
}

/* Seals a one-op change (set truck/forged.f = value) as `id`, with an
 * arbitrary body if `body` is given.  hlc_ms is the stamp's wall time. */
static void forge_change(dc_buf *out, const dc__identity *id, const uint8_t sid[16], uint32_t epoch,
                         const uint8_t key[32], uint64_t seq, int64_t hlc_ms, const char *value,
                         const dc_buf *body, int comp) {
    dc_buf plain = DC_BUF_INIT;
    dc__err err;
    if (!body) {
        dc__op op;
        memset(&op, 0, sizeof op);
        op.kind = DC_OP_SET;
        op.type = (dc__str){"truck", 5};
        op.id = (dc__str){"forged", 6};
        op.field = (dc__str){"f", 1};
        op.val = (dc__value){DC_STR, 0, value, (uint32_t)strlen(value)};
        ST_CHECK(dc__body_encode(&plain, &op, 1, &err) == 0);
        body = &plain;
        comp = DC_COMP_NONE;
    }
    dc__envelope h;
    memset(&h, 0, sizeof h);
    h.version = DC_ENV_VERSION;
    h.kind = DC_ENV_KIND_CHANGE;
    h.cipher = DC_CIPHER_XCHACHA20POLY1305;
    h.comp = (uint8_t)comp;
    memcpy(h.space, sid, 16);
    h.epoch = epoch;
    memcpy(h.author, id->sign_pk, 32);
    h.seq = seq;
    h.hlc_min = h.hlc_max = DC_HLC_MAKE(hlc_ms, 0);
    dc__buf_clear(out);
    if (dc__envelope_seal(out, &h, body->ptr, body->size, key, NULL, id, &err) != 0)
        ST_FAIL("seal: %s", err.msg);
    dc_buf_dispose(&plain);
}

/* The highest sequence number `author` used in the bundle's envelopes. */
static uint64_t max_seq(const envs *v, const uint8_t author[32]) {
    uint64_t m = 0;
    for (size_t i = 0; i < v->n; i++) {
        dc__envelope e;
        dc__err err;
        ST_CHECK(dc__envelope_parse(&e, v->e[i].ptr, v->e[i].size, &err) == 0);
        if (memcmp(e.author, author, 32) == 0 && e.seq > m)
            m = e.seq;
    }
    return m;
}

/* ---- setup ---- */

static char *card_of(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    ST_OK(r, dc_replica_card(&b, r));
    char *s = st_strdup_buf(&b);
    dc_buf_dispose(&b);
    return s;
}

static void commit_some(dc_replica *r, const char *space, const char *who, int n) {
    for (int i = 0; i < n; i++) {
        dc_txn *t = NULL;
        char id[32];
        snprintf(id, sizeof id, "%s-%d", who, i);
        ST_OK(r, dc_txn_begin(&t, r, space));
        ST_OK(r, dc_txn_set(t, "truck", id, "plate", DC_STR, 0, "34 ABC \xc3\x87"));
        ST_OK(r, dc_txn_set(t, "truck", id, "axles", DC_INT, i + 2, NULL));
        ST_OK(r, dc_txn_add(t, "branch", "b1", "trucks", DC_STR, 0, id));
        ST_OK(r, dc_txn_event(t, "truck", id));
        ST_OK(r, dc_txn_event_field(t, "step", DC_STR, 0, "registered"));
        ST_OK(r, dc_txn_event_field(t, "ok", DC_BOOL, 1, NULL));
        if (i == n - 1)
            ST_OK(r, dc_txn_delete(t, "truck", "nonexistent"));
        ST_OK(r, dc_txn_commit(t, NULL));
    }
}

static void import_ok(dc_replica *r, const dc_buf *b) {
    ST_OK(r, dc_bundle_import(r, b->ptr, b->size, NULL));
}

/* Imports p into C: a well-signed envelope by a device without the role
 * it needs is kept (unauthorised), not applied: C's dump is unchanged. */
static void kept_unauthorised(env *w, const uint8_t *p, size_t n, const char *what) {
    dc_buf report = DC_BUF_INIT;
    int rc = dc_bundle_import(w->c, p, n, &report);
    if (rc != 0)
        ST_FAIL("%s: import returned %s: %s", what, dc_error_name(rc), dc_replica_errmsg(w->c));
    if (st_json_int((char *)report.ptr, "unauthorised") < 1)
        ST_FAIL("%s: not reported unauthorised: %s", what, (char *)report.ptr);
    dc_buf_dispose(&report);
    char *d = st_dump(w->c);
    if (strcmp(d, w->before_dump) != 0) {
        st_show_diff("before", w->before_dump, "after", d);
        ST_FAIL("%s: an unauthorised change shows in the target's state", what);
    }
    free(d);
    /* The status counts it (as unauthorised); later checks start here. */
    free(w->before_status);
    w->before_status = st_status(w->c);
    ST_CHECK(st_json_sum(w->before_status, "unauthorised") >= 1);
    w->checks++;
}

static void setup(env *w, const char *dir) {
    w->clock.now_ms = T0;
    w->pa = st_path(dir, "a.dcr");
    w->pb = st_path(dir, "b.dcr");
    w->pc = st_path(dir, "c.dcr");
    w->pd = st_path(dir, "d.dcr");
    w->pe = st_path(dir, "e.dcr");
    w->a = st_open(w->pa, "admin A", &w->clock);
    w->b = st_open(w->pb, "member B", &w->clock);
    w->c = st_open(w->pc, "target C", &w->clock);
    w->d = st_open(w->pd, "reader D", &w->clock);
    w->e = st_open(w->pe, "outsider E", &w->clock);
    dc_buf b = DC_BUF_INIT;
    ST_OK(w->a, dc_space_create(&b, w->a, "bad input"));
    snprintf(w->space, sizeof w->space, "%s", (char *)b.ptr);
    ST_CHECK(strlen(w->space) == 32);
    for (int i = 0; i < 16; i++) {
        unsigned x;
        ST_CHECK(sscanf(w->space + 2 * i, "%2x", &x) == 1);
        w->sid[i] = (uint8_t)x;
    }
    char *cb = card_of(w->b), *cc = card_of(w->c), *cd = card_of(w->d);
    ST_OK(w->a, dc_space_add(w->a, w->space, cb, DC_ROLE_MEMBER));
    ST_OK(w->a, dc_space_add(w->a, w->space, cc, DC_ROLE_MEMBER));
    ST_OK(w->a, dc_space_add(w->a, w->space, cd, DC_ROLE_READER));
    free(cb);
    free(cc);
    free(cd);
    /* Everyone gets the membership and accepts the space; C gets nothing
     * more until the end. */
    ST_OK(w->a, dc_bundle_export(&b, w->a, NULL));
    import_ok(w->b, &b);
    import_ok(w->c, &b);
    import_ok(w->d, &b);
    ST_OK(w->b, dc_space_accept(w->b, w->space, 0));
    ST_OK(w->c, dc_space_accept(w->c, w->space, 0));
    ST_OK(w->d, dc_space_accept(w->d, w->space, 0));
    commit_some(w->a, w->space, "a", 3);
    ST_OK(w->a, dc_bundle_export(&b, w->a, NULL));
    import_ok(w->b, &b);
    commit_some(w->b, w->space, "b", 3);
    dc_buf_init(&w->valid);
    ST_OK(w->b, dc_bundle_export(&w->valid, w->b, NULL));
    dc_buf_dispose(&b);
    w->before_dump = st_dump(w->c);
    w->before_status = st_status(w->c);
}

/* ---- the bad inputs ---- */

static void bad_truncated(env *w) {
    const dc_buf *v = &w->valid;
    size_t step = v->size > 4000 ? v->size / 2000 : 1;
    for (size_t len = 0; len < v->size; len += (len < 64 || len > v->size - 64) ? 1 : step) {
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, v->ptr, len);
        char what[64];
        snprintf(what, sizeof what, "the bundle truncated to %zu bytes", len);
        refuse(w, p, len, CODES(DC_ECORRUPT), "bundle", what);
        free(p);
    }
}

static void bad_flipped_raw(env *w) {
    st_rng g;
    st_seed(&g, 7);
    dc_buf b = DC_BUF_INIT;
    ST_CHECK(dc__buf_put(&b, w->valid.ptr, w->valid.size) == 0);
    for (size_t i = 0; i < b.size; i++) {
        uint8_t bit = (uint8_t)(1u << st_below(&g, 8));
        b.ptr[i] ^= bit;
        char what[64];
        snprintf(what, sizeof what, "a flipped bit in byte %zu", i);
        refuse(w, b.ptr, b.size, CODES(DC_ECORRUPT, DC_EVERSION), "bundle", what);
        b.ptr[i] ^= bit;
    }
    dc_buf_dispose(&b);
}

/* Flips with the trailer recomputed: the bundle's framing passes, so each
 * envelope's own checks (framing, signature, AEAD, body) must catch it. */
static void bad_flipped_rehashed(env *w) {
    st_rng g;
    st_seed(&g, 11);
    dc_buf b = DC_BUF_INIT;
    ST_CHECK(dc__buf_put(&b, w->valid.ptr, w->valid.size) == 0);
    size_t end = b.size - DC_BUNDLE_TRAILER_SIZE;
    for (size_t i = DC_BUNDLE_HEADER_SIZE; i < end; i++) {
        uint8_t bit = (uint8_t)(1u << st_below(&g, 8));
        b.ptr[i] ^= bit;
        rehash(&b);
        char what[96];
        snprintf(what, sizeof what, "a flipped bit in byte %zu (trailer recomputed)", i);
        refuse(w, b.ptr, b.size,
               CODES(DC_ECORRUPT, DC_EVERSION, DC_ETOOBIG, DC_EBADSIG, DC_EDENIED, DC_ECONFLICT),
               "envelope", what);
        b.ptr[i] ^= bit;
    }
    dc_buf_dispose(&b);
}

static void bad_oversized(env *w, const dc__identity *bid, const uint8_t key[32], uint32_t epoch,
                          uint64_t bseq) {
    envs v;
    split(&v, &w->valid);
    dc_buf b = DC_BUF_INIT;
    /* A length prefix claiming more than an envelope may hold. */
    ST_CHECK(dc__buf_put(&b, w->valid.ptr, w->valid.size) == 0);
    dc__store_be32(b.ptr + DC_BUNDLE_HEADER_SIZE, DC_ENV_MAX_SIZE + 1);
    rehash(&b);
    refuse(w, b.ptr, b.size, CODES(DC_ETOOBIG), "envelope", "an oversized length field");
    /* A count claiming more envelopes than any bundle may hold. */
    dc__buf_clear(&b);
    ST_CHECK(dc__buf_put(&b, w->valid.ptr, w->valid.size) == 0);
    dc__store_be64(b.ptr + 8, UINT64_C(1) << 40);
    rehash(&b);
    refuse(w, b.ptr, b.size, CODES(DC_ETOOBIG), NULL, "an oversized envelope count");
    /* An envelope whose own payload length claims more than is there. */
    dc_buf e = DC_BUF_INIT;
    ST_CHECK(dc__buf_put(&e, v.e[v.n - 1].ptr, v.e[v.n - 1].size) == 0);
    dc__store_be32(e.ptr + 84, 0x7fffffff);
    const dc_buf *list[] = {&v.e[0], &e, NULL};
    bundle_of(&b, list);
    refuse(w, b.ptr, b.size, CODES(DC_ECORRUPT, DC_ETOOBIG), "envelope 2",
           "a payload length "
           "overrunning its envelope");
    /* A decompression bomb signed by a real member with the real key:
     * 65 MB of zeros in a frame of a few kB.  Decompression must stop at
     * the body limit before allocating. */
    size_t bomb = (size_t)DC_BODY_MAX_SIZE + 1;
    uint8_t *zeros = calloc(1, bomb);
    ST_CHECK(zeros != NULL);
    dc_buf z = DC_BUF_INIT;
    dc__err err;
    ST_CHECK(dc__zstd_compress(&z, zeros, bomb, 1, &err) == 0);
    free(zeros);
    forge_change(&e, bid, w->sid, epoch, key, bseq + 1, T0, NULL, &z, DC_COMP_ZSTD);
    const dc_buf *list2[] = {&e, NULL};
    bundle_of(&b, list2);
    refuse(w, b.ptr, b.size, CODES(DC_ETOOBIG), "envelope 1", "a zstd bomb from a member");
    /* The same bomb after the whole valid bundle: all or nothing. */
    const dc_buf *list3[64 + 2];
    size_t k = 0;
    for (size_t i = 0; i < v.n && k < 64; i++)
        list3[k++] = &v.e[i];
    list3[k++] = &e;
    list3[k] = NULL;
    bundle_of(&b, list3);
    char needle[32];
    snprintf(needle, sizeof needle, "envelope %zu", k);
    refuse(w, b.ptr, b.size, CODES(DC_ETOOBIG), needle, "the valid bundle plus a zstd bomb");
    dc_buf_dispose(&z);
    dc_buf_dispose(&e);
    dc_buf_dispose(&b);
    envs_free(&v);
}

static void bad_forged(env *w, const uint8_t key[32], uint32_t epoch) {
    envs v;
    split(&v, &w->valid);
    dc__identity *eid = load_identity(w->pe);
    dc_buf e = DC_BUF_INIT, b = DC_BUF_INIT;

    /* 1. A change by E, who is not a member, sealed with the real space
     * key: it verifies and would decrypt; only membership stops it. */
    forge_change(&e, eid, w->sid, epoch, key, 1, T0, "forged by an outsider", NULL, 0);
    const dc_buf *l1[] = {&e, NULL};
    bundle_of(&b, l1);
    kept_unauthorised(w, b.ptr, b.size, "a change by a non-member");
    const dc_buf *l2[66];
    size_t k = 0;
    for (size_t i = 0; i < v.n && k < 64; i++)
        l2[k++] = &v.e[i];

    /* 2. B's last change re-signed: its header rewritten to name E as the
     * author, signed by E.  The signature is good; E may not write. */
    dc_buf r = DC_BUF_INIT;
    ST_CHECK(dc__buf_put(&r, v.e[v.n - 1].ptr, v.e[v.n - 1].size) == 0);
    dc__envelope h;
    dc__err err;
    ST_CHECK(dc__envelope_parse(&h, r.ptr, r.size, &err) == 0);
    ST_CHECK(h.kind == DC_ENV_KIND_CHANGE);
    memcpy(r.ptr + 28, eid->sign_pk, 32);
    crypto_sign_detached(r.ptr + DC_ENV_HEADER_SIZE + h.payload_len, NULL, r.ptr,
                         DC_ENV_HEADER_SIZE + h.payload_len, eid->sign_sk);
    const dc_buf *l3[] = {&r, NULL};
    bundle_of(&b, l3);
    kept_unauthorised(w, b.ptr, b.size, "a change re-signed by a non-member as author");
    /* 3. Still naming B as the author, with a new sequence number, and
     * signed by E: a wrong signer. */
    dc__buf_clear(&r);
    ST_CHECK(dc__buf_put(&r, v.e[v.n - 1].ptr, v.e[v.n - 1].size) == 0);
    dc__store_be64(r.ptr + 60, 1000);
    crypto_sign_detached(r.ptr + DC_ENV_HEADER_SIZE + h.payload_len, NULL, r.ptr,
                         DC_ENV_HEADER_SIZE + h.payload_len, eid->sign_sk);
    bundle_of(&b, l3);
    refuse(w, b.ptr, b.size, CODES(DC_EBADSIG), "envelope 1",
           "a change signed by a device "
           "other than its author");
    /* 4. A version-2 envelope among valid ones. */
    dc__buf_clear(&r);
    ST_CHECK(dc__buf_put(&r, v.e[v.n - 1].ptr, v.e[v.n - 1].size) == 0);
    r.ptr[3] = 2;
    const dc_buf *l4[] = {&v.e[0], &r, NULL};
    bundle_of(&b, l4);
    refuse(w, b.ptr, b.size, CODES(DC_EVERSION), "envelope 2", "an envelope of version 2");

    /* 5. A change by the reader D, sealed with the key D really holds. */
    dc__identity *did = load_identity(w->pd);
    uint8_t dkey[32];
    uint32_t depoch = load_key(w->pd, w->sid, dkey);
    forge_change(&e, did, w->sid, depoch, dkey, 1, T0, "written by a reader", NULL, 0);
    bundle_of(&b, l1);
    kept_unauthorised(w, b.ptr, b.size, "a change by a reader");
    sodium_memzero(dkey, sizeof dkey);

    /* 6. B (a member, not an admin) grants E the admin role. */
    dc__identity *bid = load_identity(w->pb);
    dc__member_op g;
    memset(&g, 0, sizeof g);
    g.kind = DC_MOP_GRANT;
    memcpy(g.device, eid->sign_pk, 32);
    memcpy(g.box_pk, eid->box_pk, 32);
    g.role = DC_ROLE_ADMIN;
    strcpy(g.name, "outsider E");
    g.epoch = epoch;
    ST_CHECK(dc__key_seal(g.sealed, key, eid->box_pk) == 0);
    dc_buf body = DC_BUF_INIT;
    ST_CHECK(dc__member_encode(&body, &g, 1, &err) == 0);
    memset(&h, 0, sizeof h);
    h.version = DC_ENV_VERSION;
    h.kind = DC_ENV_KIND_MEMBERSHIP;
    memcpy(h.space, w->sid, 16);
    h.epoch = epoch;
    memcpy(h.author, bid->sign_pk, 32);
    h.seq = max_seq(&v, bid->sign_pk) + 1;
    h.hlc_min = h.hlc_max = DC_HLC_MAKE(T0, 5);
    dc__buf_clear(&e);
    ST_CHECK(dc__envelope_seal(&e, &h, body.ptr, body.size, NULL, NULL, bid, &err) == 0);
    bundle_of(&b, l1);
    kept_unauthorised(w, b.ptr, b.size, "a grant by a non-admin");
    /* E, granted admin only by that refused grant, is no member: its
     * change is still unauthorised. */
    forge_change(&e, eid, w->sid, epoch, key, 2, T0, "outsider, after the false grant", NULL, 0);
    bundle_of(&b, l1);
    kept_unauthorised(w, b.ptr, b.size, "a change by the target of a non-admin's grant");

    /* 7. Two different changes by B under one sequence number: the one in
     * the valid bundle and a new one. */
    uint8_t bkey[32];
    uint32_t bepoch = load_key(w->pb, w->sid, bkey);
    uint64_t bseq = max_seq(&v, bid->sign_pk);
    forge_change(&e, bid, w->sid, bepoch, bkey, bseq, T0, "a second change, same number", NULL, 0);
    l2[k] = &e;
    l2[k + 1] = NULL;
    bundle_of(&b, l2); /* the valid bundle, then the impostor */
    refuse(w, b.ptr, b.size, CODES(DC_ECONFLICT), "envelope",
           "two changes with one sequence "
           "number");
    sodium_memzero(bkey, sizeof bkey);

    dc_buf_dispose(&body);
    dc_buf_dispose(&r);
    dc_buf_dispose(&e);
    dc_buf_dispose(&b);
    envs_free(&v);
    dc__identity_free(eid);
    dc__identity_free(did);
    dc__identity_free(bid);
}

/* A change from a member that is well signed but whose body is broken
 * (here: a timestamp range that does not match its ops), stamped two days
 * ahead so that it is held aside without being opened.  It must not poison
 * the replica: when the clock passes it, later imports must still work (the
 * bad change may be refused or dropped, but not block everything after). */
static void bad_held_poison(env *w, const uint8_t key[32], uint32_t epoch, dc_replica *victim,
                            const char *victim_name) {
    dc__identity *bid = load_identity(w->pb);
    envs v;
    split(&v, &w->valid);
    uint64_t bseq = max_seq(&v, bid->sign_pk);
    /* Two ops under a one-op timestamp range. */
    dc__op ops[2];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < 2; i++) {
        ops[i].kind = DC_OP_SET;
        ops[i].type = (dc__str){"truck", 5};
        ops[i].id = (dc__str){"poison", 6};
        ops[i].field = (dc__str){"f", 1};
        ops[i].val = (dc__value){DC_INT, i, NULL, 0};
    }
    dc_buf body = DC_BUF_INIT, e = DC_BUF_INIT, b = DC_BUF_INIT;
    dc__err err;
    ST_CHECK(dc__body_encode(&body, ops, 2, &err) == 0);
    forge_change(&e, bid, w->sid, epoch, key, bseq + 10, T0 + 2 * 86400000LL, NULL, &body,
                 DC_COMP_NONE);
    const dc_buf *l[] = {&e, NULL};
    bundle_of(&b, l);
    dc_buf report = DC_BUF_INIT;
    int rc = dc_bundle_import(victim, b.ptr, b.size, &report);
    printf("  a broken change held for the future: import returned %s %s\n", dc_error_name(rc),
           rc ? dc_replica_errmsg(victim) : (char *)report.ptr);
    /* Three days later the hold is over.  A valid, new change must still
     * be importable. */
    int64_t saved = w->clock.now_ms;
    w->clock.now_ms = T0 + 3 * 86400000LL;
    uint64_t applied = 0;
    int rel = dc_replica_release_held(&applied, victim);
    printf("  after the clock passed it: dc_replica_release_held returned %s %s\n",
           dc_error_name(rel), rel ? dc_replica_errmsg(victim) : "");
    forge_change(&e, bid, w->sid, epoch, key, bseq + 11, w->clock.now_ms, "after the broken change",
                 NULL, 0);
    bundle_of(&b, l);
    int rc2 = dc_bundle_import(victim, b.ptr, b.size, &report);
    if (rc2 != 0)
        ST_FAIL("%s: after a broken change was held and its time came, a valid bundle no "
                "longer imports: %s: %s (one bad change from a member blocks every later "
                "import)",
                victim_name, dc_error_name(rc2), dc_replica_errmsg(victim));
    /* The broken change is not shown, and nothing waits any more. */
    char *d = st_dump(victim), *st = st_status(victim);
    if (strstr(d, "\"poison\""))
        ST_FAIL("%s: the broken change was applied: %s", victim_name, d);
    if (st_json_sum(st, "held") != 0)
        ST_FAIL("%s: changes still held after their time: %s", victim_name, st);
    free(d);
    free(st);
    w->clock.now_ms = saved;
    dc_buf_dispose(&report);
    dc_buf_dispose(&body);
    dc_buf_dispose(&e);
    dc_buf_dispose(&b);
    envs_free(&v);
    dc__identity_free(bid);
}

/* The same for a change kept opaque: E knows the membership but has no
 * key when a broken change by B arrives; then A adds E, and the bundle
 * that brings E the key must import (the broken change refused or dropped,
 * not blocking). */
static void bad_opaque_poison(env *w, const uint8_t key[32], uint32_t epoch) {
    dc_buf b = DC_BUF_INIT, e = DC_BUF_INIT, body = DC_BUF_INIT, report = DC_BUF_INIT;
    ST_OK(w->a, dc_bundle_export(&b, w->a, NULL));
    import_ok(w->e, &b);
    dc__identity *bid = load_identity(w->pb);
    envs v;
    split(&v, &w->valid);
    uint64_t bseq = max_seq(&v, bid->sign_pk);
    envs_free(&v);
    /* A body that is not msgpack at all. */
    ST_CHECK(dc__buf_puts(&body, "\xc1 this is not a change body") == 0);
    forge_change(&e, bid, w->sid, epoch, key, bseq + 20, w->clock.now_ms, NULL, &body,
                 DC_COMP_NONE);
    const dc_buf *l[] = {&e, NULL};
    bundle_of(&b, l);
    int rc = dc_bundle_import(w->e, b.ptr, b.size, &report);
    printf("  a broken change kept opaque (no key yet): import returned %s %s\n", dc_error_name(rc),
           rc ? dc_replica_errmsg(w->e) : (char *)report.ptr);
    char *ce = card_of(w->e);
    ST_OK(w->a, dc_space_add(w->a, w->space, ce, DC_ROLE_MEMBER));
    free(ce);
    ST_OK(w->a, dc_bundle_export(&b, w->a, NULL));
    rc = dc_bundle_import(w->e, b.ptr, b.size, &report);
    if (rc != 0)
        ST_FAIL("E: the bundle that brings the key does not import once a broken opaque "
                "change is stored: %s: %s",
                dc_error_name(rc), dc_replica_errmsg(w->e));
    rc = dc_space_accept(w->e, w->space, 0);
    if (rc != 0)
        ST_FAIL("E: accepting the space once a broken opaque change is stored: %s: %s",
                dc_error_name(rc), dc_replica_errmsg(w->e));
    char *da = st_dump(w->a), *de = st_dump(w->e);
    if (strstr(de, "poison") || strstr(de, "not a change"))
        ST_FAIL("E: the broken change shows: %s", de);
    if (strcmp(da, de) != 0) {
        st_show_diff("A", da, "E", de);
        ST_FAIL("E does not show what A shows after receiving the key");
    }
    free(da);
    free(de);
    dc__identity_free(bid);
    dc_buf_dispose(&b);
    dc_buf_dispose(&e);
    dc_buf_dispose(&body);
    dc_buf_dispose(&report);
}

/* ---- one bad item among good ones, imported as a sync does ---- */

/* The valid bundle with bad envelopes mixed in, imported into the reader D
 * with DC_IMPORT_SET_ASIDE: every valid envelope goes in (D then shows what
 * B shows), each bad one is set aside and reported, and the next import
 * is not blocked by any of them. */
static void set_aside_mixed(env *w, const uint8_t key[32], uint32_t epoch) {
    dc__identity *bid = load_identity(w->pb), *eid = load_identity(w->pe);
    envs v;
    split(&v, &w->valid);
    uint64_t bseq = max_seq(&v, bid->sign_pk);
    dc_buf bad[5], b = DC_BUF_INIT, body = DC_BUF_INIT, report = DC_BUF_INIT;
    for (int i = 0; i < 5; i++)
        dc_buf_init(&bad[i]);
    dc__err err;
    /* 1. Signed by E while naming B as its author. */
    forge_change(&bad[0], bid, w->sid, epoch, key, bseq + 40, T0, "wrong signer", NULL, 0);
    dc__envelope h;
    ST_CHECK(dc__envelope_parse(&h, bad[0].ptr, bad[0].size, &err) == 0);
    crypto_sign_detached(bad[0].ptr + DC_ENV_HEADER_SIZE + h.payload_len, NULL, bad[0].ptr,
                         DC_ENV_HEADER_SIZE + h.payload_len, eid->sign_sk);
    /* 2. A body that is not msgpack, from B, with the real key. */
    ST_CHECK(dc__buf_puts(&body, "\xc1 not a body") == 0);
    forge_change(&bad[1], bid, w->sid, epoch, key, bseq + 41, T0, NULL, &body, DC_COMP_NONE);
    /* 3. A second change under a sequence number B already used. */
    forge_change(&bad[2], bid, w->sid, epoch, key, bseq, T0, "equivocation", NULL, 0);
    /* 4. A change by E, no member: kept unauthorised, not set aside. */
    forge_change(&bad[3], eid, w->sid, epoch, key, 1, T0, "outsider", NULL, 0);
    /* 5. Bytes that are not an envelope at all. */
    ST_CHECK(dc__buf_puts(&bad[4], "this is not an envelope, and it is long enough to look like "
                                   "one to a careless reader of lengths..."
                                   "........................................................"
                                   "................................................") == 0);
    /* Mixed in among the good ones; the equivocation after the change it
     * contradicts (whichever of two changes one device signed with one
     * number arrives first is kept: the device is broken either way). */
    static const int order[] = {0, 1, 3, 4};
    const dc_buf *list[256 + 6];
    size_t k = 0, nb = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (i % 3 == 1 && nb < 4)
            list[k++] = &bad[order[nb++]];
        list[k++] = &v.e[i];
    }
    while (nb < 4)
        list[k++] = &bad[order[nb++]];
    list[k++] = &bad[2];
    list[k] = NULL;
    bundle_of(&b, list);
    /* All or nothing refuses it. */
    ST_CHECK(dc_bundle_import(w->d, b.ptr, b.size, NULL) != 0);
    /* As sync imports: the good goes in, the bad is set aside. */
    int rc = dc_bundle_import_with(w->d, b.ptr, b.size, DC_IMPORT_SET_ASIDE, &report);
    if (rc != 0)
        ST_FAIL("D: a bundle with bad items among good ones, set aside: %s: %s", dc_error_name(rc),
                dc_replica_errmsg(w->d));
    const char *rep = (const char *)report.ptr;
    if (st_json_int(rep, "set_aside") != 4 || st_json_int(rep, "unauthorised") != 1)
        ST_FAIL("D: the report does not count 4 set aside and 1 unauthorised: %s", rep);
    char *db = st_dump(w->b), *dd = st_dump(w->d);
    if (strcmp(db, dd) != 0) {
        st_show_diff("B", db, "D", dd);
        ST_FAIL("D does not show B's valid changes after the bad ones were set aside");
    }
    char *st = st_status(w->d);
    ST_CHECK(strstr(st, "\"set_aside\":{\"count\":4") != NULL);
    ST_CHECK(strstr(st, "DC_EBADSIG") && strstr(st, "DC_ECORRUPT") && strstr(st, "DC_ECONFLICT"));
    /* Nothing of it blocks what comes next. */
    ST_OK(w->d, dc_bundle_import_with(w->d, b.ptr, b.size, DC_IMPORT_SET_ASIDE, &report));
    ST_OK(w->d, dc_bundle_import(w->d, w->valid.ptr, w->valid.size, &report));
    free(db);
    free(dd);
    free(st);
    for (int i = 0; i < 5; i++)
        dc_buf_dispose(&bad[i]);
    dc_buf_dispose(&b);
    dc_buf_dispose(&body);
    dc_buf_dispose(&report);
    envs_free(&v);
    dc__identity_free(bid);
    dc__identity_free(eid);
    w->checks++;
}

/* ---- the valid bundle, and its replay ---- */

static void good_and_replay(env *w) {
    dc_buf report = DC_BUF_INIT;
    ST_OK(w->c, dc_bundle_import(w->c, w->valid.ptr, w->valid.size, &report));
    long long n = st_json_int((char *)report.ptr, "envelopes");
    long long fresh = st_json_int((char *)report.ptr, "new");
    ST_CHECK(n > 0 && fresh > 0);
    char *after = st_dump(w->c);
    /* The test can see a change: the valid bundle did change the dump. */
    ST_CHECK(strcmp(after, w->before_dump) != 0);
    char *b_dump = st_dump(w->b);
    if (strcmp(after, b_dump) != 0) {
        st_show_diff("B", b_dump, "C", after);
        ST_FAIL("C does not show what B shows after importing B's whole bundle");
    }
    free(b_dump);
    char *status = st_status(w->c);
    /* Replayed: every envelope a duplicate, nothing changes. */
    ST_OK(w->c, dc_bundle_import(w->c, w->valid.ptr, w->valid.size, &report));
    ST_CHECK(st_json_int((char *)report.ptr, "envelopes") == n);
    if (st_json_int((char *)report.ptr, "duplicate") != n ||
        st_json_int((char *)report.ptr, "new") != 0)
        ST_FAIL("a replayed bundle is not all duplicates: %s", (char *)report.ptr);
    char *again = st_dump(w->c), *status2 = st_status(w->c);
    ST_CHECK(strcmp(after, again) == 0);
    if (strcmp(status, status2) != 0) {
        st_show_diff("before the replay", status, "after", status2);
        ST_FAIL("a replayed bundle changed the status");
    }
    free(w->before_dump);
    free(w->before_status);
    w->before_dump = again;
    w->before_status = status2;
    free(after);
    free(status);
    dc_buf_dispose(&report);
}

/* ---- API misuse ---- */

static int g_soft_failures;
/* A check whose failure is reported and fails the run at the end, so one
 * run lists all of them. */
#define SOFT_EXPECT(want, call)                                                                    \
    do {                                                                                           \
        int st_rc_ = (call);                                                                       \
        if (st_rc_ != (want)) {                                                                    \
            fprintf(stderr, "%s:%d: FAILED: %s returned %s, expected %s\n", __FILE__, __LINE__,    \
                    #call, dc_error_name(st_rc_), dc_error_name(want));                            \
            g_soft_failures++;                                                                     \
        }                                                                                          \
    } while (0)

static void misuse(env *w) {
    static const char UNKNOWN[] = "0123456789abcdef0123456789abcdef";
    dc_replica *c = w->c;
    dc_buf b = DC_BUF_INIT;
    dc_txn *t = NULL;
    dc_replica *r = (dc_replica *)1;

    /* NULL handles and outputs. */
    SOFT_EXPECT(DC_EMISUSE, dc_replica_open(NULL, w->pc, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_open(&r, NULL, NULL));
    ST_CHECK(r == NULL);
    ST_CHECK(*dc_error_last() != 0 && dc_error_last_code() == DC_EMISUSE);
    dc_replica_options bad = DC_REPLICA_OPTIONS_INIT;
    bad.version = 99;
    r = (dc_replica *)1;
    ST_CHECK(dc_replica_open(&r, w->pc, &bad) != 0 && r == NULL);
    dc_replica_options must = DC_REPLICA_OPTIONS_INIT;
    must.must_exist = 1;
    char *nope = st_path(w->pc, "../no-such-replica.dcr");
    SOFT_EXPECT(DC_ENOTFOUND, dc_replica_open(&r, nope, &must));
    ST_CHECK(r == NULL);
    free(nope);
    SOFT_EXPECT(DC_EMISUSE, dc_replica_dump(&b, NULL, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_dump(NULL, c, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_status(NULL, c));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_status(&b, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_card(NULL, c));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_card(&b, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_release_held(NULL, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_replica_observe(NULL, NULL, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_bundle_import(NULL, w->valid.ptr, w->valid.size, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_bundle_import(c, NULL, 100, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_bundle_export(NULL, c, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_bundle_export(&b, NULL, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_bundle_import_file(c, NULL, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_bundle_export_file(c, NULL, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_space_create(NULL, c, "x"));
    SOFT_EXPECT(DC_EMISUSE, dc_space_create(&b, c, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_space_create(&b, NULL, "x"));
    SOFT_EXPECT(DC_EMISUSE, dc_space_add(NULL, w->space, "{}", DC_ROLE_MEMBER));
    SOFT_EXPECT(DC_EMISUSE, dc_space_add(c, w->space, NULL, DC_ROLE_MEMBER));
    SOFT_EXPECT(DC_EMISUSE, dc_space_list(NULL, c));
    SOFT_EXPECT(DC_EMISUSE, dc_space_members(NULL, c, w->space));
    SOFT_EXPECT(DC_EMISUSE, dc_record_get(NULL, c, w->space, "truck", "a-0"));
    SOFT_EXPECT(DC_EMISUSE, dc_record_get(&b, c, w->space, "truck", NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_record_get(&b, c, w->space, NULL, "a-0"));
    SOFT_EXPECT(DC_EMISUSE, dc_record_get(&b, c, NULL, "truck", "a-0"));
    SOFT_EXPECT(DC_EMISUSE, dc_record_list(&b, NULL, w->space, "truck"));
    SOFT_EXPECT(DC_EMISUSE, dc_record_find(&b, c, w->space, "truck", NULL, DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_record_find(&b, c, w->space, "truck", "plate", DC_STR, 0, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_begin(NULL, c, w->space));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_begin(&t, NULL, w->space));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_begin(&t, c, NULL));
    ST_CHECK(t == NULL);
    SOFT_EXPECT(DC_EMISUSE, dc_txn_set(NULL, "truck", "x", "f", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_add(NULL, "truck", "x", "f", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_remove(NULL, "truck", "x", "f", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_event(NULL, "truck", "x"));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_event_field(NULL, "k", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_delete(NULL, "truck", "x"));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_commit(NULL, NULL));
    ST_CHECK(dc_txn_op_count(NULL) == 0);
    dc_txn_rollback(NULL);
    dc_replica_close(NULL);
    ST_CHECK(dc_replica_errmsg(NULL) != NULL);
    ST_CHECK(dc_replica_errcode(NULL) == DC_EMISUSE);

    /* Invalid UTF-8 and reserved or empty names: DC_EINVAL, and the
     * transaction stays usable. */
    ST_OK(c, dc_txn_begin(&t, c, w->space));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "\xff", "x", "f", DC_INT, 1, NULL));
    ST_CHECK(dc_replica_errcode(c) == DC_EINVAL && *dc_replica_errmsg(c));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "truck", "\xc0\xaf", "f", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "truck", "x", "\xed\xa0\x80", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "truck", "x", "f", DC_STR, 0, "bad \xe2\x82"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_add(t, "truck", "x", "s", DC_STR, 0, "\xf8\x88\x80\x80\x80"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_remove(t, "truck", "x", "s", DC_STR, 0, "\x80"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_event(t, "truck\xff", "x"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_delete(t, "truck", "\xc3"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "", "x", "f", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "truck", "", "f", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "truck", "x", "", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "truck", "x", "@events", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_set(t, "truck", "x", "f", 42, 1, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_set(t, "truck", "x", "f", DC_STR, 0, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_set(t, NULL, "x", "f", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_txn_event_field(t, "k", DC_INT, 1, NULL)); /* no event yet */
    ST_OK(c, dc_txn_event(t, "truck", "x"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_event_field(t, "\xfe", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_event_field(t, "@time", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_event_field(t, "k", DC_STR, 0, "\xff"));
    ST_OK(c, dc_txn_event_field(t, "k", DC_INT, 1, NULL));
    SOFT_EXPECT(DC_EINVAL, dc_txn_event_field(t, "k", DC_INT, 2, NULL)); /* repeated key */
    ST_CHECK(dc_txn_op_count(t) == 1);
    /* A second transaction, an import or a new space while one is open. */
    dc_txn *t2 = NULL;
    SOFT_EXPECT(DC_EMISUSE, dc_txn_begin(&t2, c, w->space));
    ST_CHECK(t2 == NULL);
    SOFT_EXPECT(DC_EMISUSE, dc_bundle_import(c, w->valid.ptr, w->valid.size, NULL));
    SOFT_EXPECT(DC_EMISUSE, dc_space_create(&b, c, "x"));
    dc_txn_rollback(t);
    SOFT_EXPECT(DC_EINVAL, dc_space_create(&b, c, "bad \xff name"));

    /* Unknown and malformed space ids. */
    SOFT_EXPECT(DC_ENOTFOUND, dc_txn_begin(&t, c, UNKNOWN));
    ST_CHECK(t == NULL);
    SOFT_EXPECT(DC_ENOTFOUND, dc_record_get(&b, c, UNKNOWN, "truck", "a-0"));
    SOFT_EXPECT(DC_ENOTFOUND, dc_record_list(&b, c, UNKNOWN, "truck"));
    SOFT_EXPECT(DC_ENOTFOUND, dc_record_find(&b, c, UNKNOWN, "truck", "axles", DC_INT, 2, NULL));
    SOFT_EXPECT(DC_ENOTFOUND, dc_bundle_export(&b, c, UNKNOWN));
    SOFT_EXPECT(DC_ENOTFOUND, dc_replica_dump(&b, c, UNKNOWN));
    SOFT_EXPECT(DC_ENOTFOUND, dc_space_members(&b, c, UNKNOWN));
    char *ce = card_of(w->e);
    SOFT_EXPECT(DC_ENOTFOUND, dc_space_add(w->a, UNKNOWN, ce, DC_ROLE_MEMBER));
    SOFT_EXPECT(DC_EINVAL, dc_txn_begin(&t, c, "not hex"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_begin(&t, c, "0123456789abcdef0123456789abcdeg"));
    SOFT_EXPECT(DC_EINVAL, dc_txn_begin(&t, c, "0123456789abcdef0123456789abcdef00"));
    SOFT_EXPECT(DC_EINVAL, dc_record_get(&b, c, "xyz", "truck", "a-0"));
    SOFT_EXPECT(DC_ENOTFOUND, dc_record_get(&b, c, w->space, "truck", "no such record"));

    /* Cards: malformed, tampered, a bad role, a non-admin adding. */
    SOFT_EXPECT(DC_EINVAL, dc_space_add(w->a, w->space, "not json", DC_ROLE_MEMBER));
    SOFT_EXPECT(DC_EINVAL, dc_space_add(w->a, w->space, "{}", DC_ROLE_MEMBER));
    SOFT_EXPECT(DC_EINVAL, dc_space_add(w->a, w->space, ce, 7));
    SOFT_EXPECT(DC_EINVAL, dc_space_add(w->a, w->space, ce, 0));
    char *name = strstr(ce, "\"name\"");
    ST_CHECK(name != NULL);
    char *q = strstr(name + 6, "\"");
    ST_CHECK(q != NULL && q[1] != '"');
    q[1] = q[1] == 'X' ? 'Y' : 'X'; /* the name no longer matches the signature */
    SOFT_EXPECT(DC_EBADSIG, dc_space_add(w->a, w->space, ce, DC_ROLE_MEMBER));
    free(ce);
    ce = card_of(w->e);
    SOFT_EXPECT(DC_EDENIED, dc_space_add(c, w->space, ce, DC_ROLE_MEMBER));
    free(ce);
    /* The reader may not write. */
    SOFT_EXPECT(DC_EDENIED, dc_txn_begin(&t, w->d, w->space));
    ST_CHECK(t == NULL);
    /* Nothing of all this is visible. */
    assert_unchanged(w, "API misuse");
    dc_buf_dispose(&b);
}

int main(void) {
    ST_OK(NULL, dc_global_init(NULL));
    const char *dir = st_tmpdir("badinput");
    char *keep = strdup(dir);
    env *w = calloc(1, sizeof *w);
    ST_CHECK(w != NULL);
    setup(w, keep);
    printf("test_badinput: a valid bundle of %zu bytes; target %s\n", w->valid.size,
           dc_replica_device_id(w->c));

    uint8_t *key = sodium_malloc(32);
    ST_CHECK(key != NULL);
    uint32_t epoch = load_key(w->pa, w->sid, key);
    dc__identity *bid = load_identity(w->pb);
    envs v;
    split(&v, &w->valid);
    uint64_t bseq = max_seq(&v, bid->sign_pk);
    envs_free(&v);

    bad_truncated(w);
    printf("truncated at every length: refused, unchanged (%ld checks so far)\n", w->checks);
    bad_flipped_raw(w);
    printf("a bit flipped in every byte: refused, unchanged (%ld)\n", w->checks);
    bad_flipped_rehashed(w);
    printf("the same with the trailing hash recomputed: refused, unchanged (%ld)\n", w->checks);
    bad_oversized(w, bid, key, epoch, bseq);
    printf("oversized lengths, counts and a zstd bomb: refused, unchanged (%ld)\n", w->checks);
    bad_forged(w, key, epoch);
    printf("forged, re-signed, reader's, non-admin's, conflicting: refused, unchanged (%ld)\n",
           w->checks);
    good_and_replay(w);
    printf("the valid bundle imports; replayed, it is all duplicates and changes nothing\n");
    set_aside_mixed(w, key, epoch);
    printf("bad items among good ones, imported as a sync does: the good go in, each bad one is "
           "set aside and reported\n");
    misuse(w);
    printf("API misuse: the right codes, nothing changed (%ld)\n", w->checks);
    /* Last, as it moves the clock and may leave a held change behind. */
    bad_held_poison(w, key, epoch, w->c, "target C");
    printf("a broken change held for the future does not block later imports\n");
    bad_opaque_poison(w, key, epoch);
    printf("a broken change kept without a key does not block the key's arrival\n");

    sodium_free(key);
    dc__identity_free(bid);
    dc_replica *all[] = {w->a, w->b, w->c, w->d, w->e};
    for (int i = 0; i < 5; i++)
        dc_replica_close(all[i]);
    dc_buf_dispose(&w->valid);
    free(w->before_dump);
    free(w->before_status);
    free(w->pa);
    free(w->pb);
    free(w->pc);
    free(w->pd);
    free(w->pe);
    free(w);
    st_rmtree(keep);
    free(keep);
    if (g_soft_failures) {
        fprintf(stderr, "test_badinput: %d API checks failed (listed above)\n", g_soft_failures);
        return 1;
    }
    printf("test_badinput: OK\n");
    return 0;
}
