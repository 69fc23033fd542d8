/*
 * gen_corpus — writes the seed corpora of the fuzz targets from the real
 * encoders, so the seeds are what the library actually produces: change
 * bodies with every op kind, membership bodies, zstd frames, signed
 * envelopes (changes and membership) and bundles taken from two replicas
 * that share a space, plus a few broken ones made by hand (truncated,
 * bit-flipped, forged, oversized claims).  Built with the fuzz targets but
 * not run by the suite; the corpus it wrote is checked in.
 *
 *   gen_corpus fuzz/corpus
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

static const char *g_out;
static char g_tmp[64];
static int g_files;

static void fail(const char *what, const char *msg) {
    fprintf(stderr, "gen_corpus: %s: %s\n", what, msg ? msg : "");
    exit(1);
}

static void put(const char *target, const char *name, const void *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_out, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        fail(path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        fail(path, strerror(errno));
    g_files++;
}

/* Writes the input, a truncated copy and a copy with one flipped byte:
 * the two broken forms every decoder must refuse cleanly. */
static void put_variants(const char *target, const char *name, const uint8_t *p, size_t n) {
    char nm[256];
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        fail("malloc", "out of memory");
    put(target, name, p, n);
    snprintf(nm, sizeof nm, "broken-truncated-%s", name);
    put(target, nm, p, n / 2);
    memcpy(c, p, n);
    if (n) {
        c[n / 3] ^= 0x41;
        snprintf(nm, sizeof nm, "broken-flipped-%s", name);
        put(target, nm, c, n);
    }
    free(c);
}

/* ---- bodies ---- */

static dc__str S(const char *s) {
    dc__str r = {s, (uint32_t)strlen(s)};
    return r;
}

static dc__value VS(const char *s) {
    dc__value v = {DC_STR, 0, s, (uint32_t)strlen(s)};
    return v;
}

static dc__value VI(int kind, int64_t n) {
    dc__value v = {kind, n, NULL, 0};
    return v;
}

static void encode_body(dc_buf *out, const dc__op *ops, size_t n) {
    dc__err err;
    dc__buf_clear(out);
    if (dc__body_encode(out, ops, n, &err) != 0)
        fail("dc__body_encode", err.msg);
}

static void gen_bodies(void) {
    static dc__tag tags[2];
    static dc__str keys[3];
    static dc__value vals[3];
    dc__op ops[8];
    dc_buf b = DC_BUF_INIT, z = DC_BUF_INIT;
    dc__err err;
    memset(ops, 0, sizeof ops);
    memset(tags, 0, sizeof tags);
    for (int i = 0; i < 32; i++) {
        tags[0].dev[i] = (uint8_t)(0xA0 + i);
        tags[1].dev[i] = (uint8_t)(0x10 + i);
    }
    tags[0].seq = 3;
    tags[0].op = 1;
    tags[1].seq = 70000;
    tags[1].op = 0;
    keys[0] = S("kind");
    vals[0] = VS("check-in");
    keys[1] = S("driver");
    vals[1] = VS("d-huang-hongxing");
    keys[2] = S("parking");
    vals[2] = VI(DC_BOOL, 1);

    ops[0] = (dc__op){.kind = DC_OP_SET,
                      .type = S("driver"),
                      .id = S("d000001"),
                      .field = S("status"),
                      .val = VS("verified")};
    ops[1] = (dc__op){.kind = DC_OP_SET,
                      .type = S("driver"),
                      .id = S("d000001"),
                      .field = S("stage"),
                      .val = VI(DC_INT, -4000000000LL)};
    ops[2] = (dc__op){.kind = DC_OP_SET,
                      .type = S("driver"),
                      .id = S("d000002"),
                      .field = S("party_member"),
                      .val = VI(DC_BOOL, 0)};
    ops[3] = (dc__op){.kind = DC_OP_SET,
                      .type = S("driver"),
                      .id = S("d000002"),
                      .field = S("note"),
                      .val = VI(DC_NULL, 0)};
    ops[4] = (dc__op){.kind = DC_OP_ADD,
                      .type = S("driver"),
                      .id = S("d000001"),
                      .field = S("scope"),
                      .val = VS("冷链 cold chain")};
    ops[5] = (dc__op){.kind = DC_OP_REMOVE,
                      .type = S("driver"),
                      .id = S("d000001"),
                      .field = S("scope"),
                      .val = VS("general cargo"),
                      .ntags = 2,
                      .tags = tags};
    ops[6] = (dc__op){.kind = DC_OP_EVENT,
                      .type = S("home"),
                      .id = S("dh-wudang-01"),
                      .nfields = 3,
                      .keys = keys,
                      .vals = vals};
    ops[7] = (dc__op){.kind = DC_OP_DELETE, .type = S("driver"), .id = S("d000003")};

    static const char *const names[] = {"set-str", "set-int", "set-bool", "set-null",
                                        "add",     "remove",  "event",    "delete"};
    char nm[64];
    for (int i = 0; i < 8; i++) {
        encode_body(&b, &ops[i], 1);
        snprintf(nm, sizeof nm, "body-%s.bin", names[i]);
        put("body", nm, b.ptr, b.size);
        dc__buf_clear(&z);
        if (dc__zstd_compress(&z, b.ptr, b.size, 3, &err) != 0)
            fail("dc__zstd_compress", err.msg);
        snprintf(nm, sizeof nm, "zstd-body-%s.zst", names[i]);
        put("zstd", nm, z.ptr, z.size);
    }
    encode_body(&b, ops, 8);
    put_variants("body", "body-every-kind.bin", b.ptr, b.size);
    dc__buf_clear(&z);
    if (dc__zstd_compress(&z, b.ptr, b.size, 3, &err) != 0)
        fail("dc__zstd_compress", err.msg);
    put_variants("zstd", "zstd-every-kind.zst", z.ptr, z.size);

    /* A realistic batch: 100 one-field register changes. */
    dc__op batch[100];
    char ids[100][12];
    static const char *const st[] = {"active", "resting", "on-route", "verified", "pending"};
    for (int i = 0; i < 100; i++) {
        snprintf(ids[i], sizeof ids[i], "d%06d", 1000 + 7 * i);
        batch[i] = (dc__op){.kind = DC_OP_SET,
                            .type = S("driver"),
                            .id = S(ids[i]),
                            .field = S("status"),
                            .val = VS(st[i % 5])};
    }
    encode_body(&b, batch, 100);
    put("body", "body-100-sets.bin", b.ptr, b.size);
    dc__buf_clear(&z);
    if (dc__zstd_compress(&z, b.ptr, b.size, 3, &err) != 0)
        fail("dc__zstd_compress", err.msg);
    put_variants("zstd", "zstd-100-sets.zst", z.ptr, z.size);

    /* Hand-made: an empty op array, a 4-billion-element array header with
     * nothing behind it, a map where an array belongs, plain text. */
    put("body", "hand-empty-array.bin", "\x90", 1);
    put("body", "hand-huge-array.bin", "\xdd\xff\xff\xff\xff\x95\x01", 7);
    put("body", "hand-map.bin", "\x81\xa1k\xa1v", 5);
    put("body", "hand-text.bin", "not msgpack at all", 18);
    put("body", "hand-deep-nesting.bin",
        "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91", 20);
    dc_buf_dispose(&b);
    dc_buf_dispose(&z);
}

static void gen_zstd_extra(void) {
    size_t n = 2u << 20;
    uint8_t *zeros = calloc(1, n);
    uint8_t *frame = malloc(ZSTD_compressBound(n));
    if (!zeros || !frame)
        fail("malloc", "out of memory");
    /* A bomb: 2 MiB of zeros in a few dozen bytes, over the 1 MiB cap. */
    size_t fs = ZSTD_compress(frame, ZSTD_compressBound(n), zeros, n, 19);
    if (ZSTD_isError(fs))
        fail("ZSTD_compress", ZSTD_getErrorName(fs));
    put("zstd", "hand-bomb-2MiB.zst", frame, fs);
    /* Just under the cap, and highly compressible text. */
    char text[60000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "Wudang district mobile branch, Driver's Home check-in. "[i % 55];
    fs = ZSTD_compress(frame, ZSTD_compressBound(n), text, sizeof text, 3);
    put_variants("zstd", "zstd-text-60k.zst", frame, fs);
    fs = ZSTD_compress(frame, ZSTD_compressBound(n), "", 0, 3);
    put("zstd", "zstd-empty.zst", frame, fs);
    /* A frame that does not declare its size (streaming, size unknown). */
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_inBuffer in = {text, 1000, 0};
    ZSTD_outBuffer out = {frame, ZSTD_compressBound(n), 0};
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    ZSTD_compressStream2(c, &out, &in, ZSTD_e_end);
    ZSTD_freeCCtx(c);
    put("zstd", "hand-no-content-size.zst", frame, out.pos);
    /* Two frames back to back, and a frame with trailing garbage. */
    size_t a = ZSTD_compress(frame, 4096, "abc", 3, 3);
    size_t b2 = ZSTD_compress(frame + a, 4096, "def", 3, 3);
    put("zstd", "hand-two-frames.zst", frame, a + b2);
    memcpy(frame + a, "trailing", 8);
    put("zstd", "hand-trailing.zst", frame, a + 8);
    put("zstd", "hand-magic-only.zst", "\x28\xb5\x2f\xfd", 4);
    free(zeros);
    free(frame);
}

/* ---- membership bodies ---- */

static void gen_members(void) {
    dc__member_op m[3];
    dc_buf b = DC_BUF_INIT;
    dc__err err;
    memset(m, 0, sizeof m);
    m[0].kind = DC_MOP_GENESIS;
    for (int i = 0; i < 32; i++) {
        m[0].device[i] = (uint8_t)i;
        m[0].box_pk[i] = (uint8_t)(i * 3);
        m[1].device[i] = (uint8_t)(0xff - i);
        m[1].box_pk[i] = (uint8_t)(i * 5);
    }
    for (int i = 0; i < 16; i++)
        m[0].nonce[i] = (uint8_t)(0x55 ^ i);
    snprintf(m[0].name, sizeof m[0].name, "Xu Xin's tablet");
    m[0].role = DC_ROLE_ADMIN;
    m[1].kind = DC_MOP_GRANT;
    m[1].role = DC_ROLE_MEMBER;
    m[1].epoch = 0;
    snprintf(m[1].name, sizeof m[1].name, "黄红兴 Huang Hongxing's phone");
    for (int i = 0; i < 80; i++)
        m[1].sealed[i] = (uint8_t)(i * 7);
    m[2] = m[1];
    m[2].role = DC_ROLE_READER;
    m[2].epoch = 7;
    m[2].device[0] ^= 1;
    snprintf(m[2].name, sizeof m[2].name, "reader");

    if (dc__member_encode(&b, m, 1, &err) != 0)
        fail("dc__member_encode", err.msg);
    put_variants("member", "member-genesis.bin", b.ptr, b.size);
    dc__buf_clear(&b);
    if (dc__member_encode(&b, m + 1, 1, &err) != 0)
        fail("dc__member_encode", err.msg);
    put_variants("member", "member-grant.bin", b.ptr, b.size);
    dc__buf_clear(&b);
    if (dc__member_encode(&b, m, 3, &err) != 0)
        fail("dc__member_encode", err.msg);
    put_variants("member", "member-genesis-two-grants.bin", b.ptr, b.size);
    put("member", "hand-empty-array.bin", "\x90", 1);
    put("member", "hand-huge-array.bin", "\xdd\x7f\xff\xff\xff", 5);
    put("member", "hand-text.bin", "membership?", 11);
    dc_buf_dispose(&b);
}

/* ---- envelopes and bundles from real replicas ---- */

static int64_t g_now = INT64_C(1735700000000);

static int64_t clock_fn(void *user) {
    (void)user;
    return g_now;
}

static dc_replica *open_rep(const char *name) {
    char path[128];
    dc_replica *r = NULL;
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = name;
    o.clock = clock_fn;
    snprintf(path, sizeof path, "%s/%s.db", g_tmp, name);
    if (dc_replica_open(&r, path, &o) != 0)
        fail("dc_replica_open", dc_error_last());
    return r;
}

#define OK(r, call)                                                                                \
    do {                                                                                           \
        if ((call) != 0)                                                                           \
            fail(#call, dc_replica_errmsg(r));                                                     \
    } while (0)

typedef struct split {
    int n;
    uint8_t *env[64];
    size_t len[64];
} split;

static int split_each(void *user, uint64_t index, const uint8_t *env, size_t n) {
    split *s = user;
    (void)index;
    if (s->n < 64) {
        s->env[s->n] = malloc(n);
        if (!s->env[s->n])
            return -1;
        memcpy(s->env[s->n], env, n);
        s->len[s->n] = n;
        s->n++;
    }
    return 0;
}

static void gen_replicas(void) {
    dc_replica *a = open_rep("tablet"), *b = open_rep("phone");
    dc_buf space = DC_BUF_INIT, card = DC_BUF_INIT, bun = DC_BUF_INIT, rep = DC_BUF_INIT;
    dc_txn *t;
    const char *sp;
    dc__err err;

    OK(a, dc_space_create(&space, a, "Wudang district mobile branch"));
    sp = (const char *)space.ptr;
    OK(b, dc_replica_card(&card, b));
    OK(a, dc_space_add(a, sp, (const char *)card.ptr, DC_ROLE_MEMBER));

    /* One transaction with every op kind. */
    g_now += 1000;
    OK(a, dc_txn_begin(&t, a, sp));
    OK(a, dc_txn_set(t, "driver", "d-huang", "name", DC_STR, 0, "黄红兴"));
    OK(a, dc_txn_set(t, "driver", "d-huang", "phone", DC_STR, 0, "13985001234"));
    OK(a, dc_txn_set(t, "driver", "d-huang", "verified", DC_BOOL, 1, NULL));
    OK(a, dc_txn_set(t, "driver", "d-huang", "stage", DC_INT, 5, NULL));
    OK(a, dc_txn_set(t, "driver", "d-huang", "note", DC_NULL, 0, NULL));
    OK(a, dc_txn_add(t, "driver", "d-huang", "scope", DC_STR, 0, "general cargo"));
    OK(a, dc_txn_add(t, "driver", "d-huang", "scope", DC_STR, 0, "cold chain"));
    OK(a, dc_txn_event(t, "home", "dh-wudang-01"));
    OK(a, dc_txn_event_field(t, "kind", DC_STR, 0, "check-in"));
    OK(a, dc_txn_event_field(t, "driver", DC_STR, 0, "d-huang"));
    OK(a, dc_txn_set(t, "driver", "d-stale", "name", DC_STR, 0, "Huang H."));
    OK(a, dc_txn_commit(t, NULL));
    g_now += 1000;
    OK(a, dc_txn_begin(&t, a, sp));
    OK(a, dc_txn_remove(t, "driver", "d-huang", "scope", DC_STR, 0, "general cargo"));
    OK(a, dc_txn_delete(t, "driver", "d-stale"));
    OK(a, dc_txn_commit(t, NULL));

    OK(a, dc_bundle_export(&bun, a, NULL));
    put_variants("bundle", "bundle-tablet-all.bin", bun.ptr, bun.size);
    OK(b, dc_bundle_import(b, bun.ptr, bun.size, &rep));
    OK(b, dc_space_accept(b, sp, 0));

    /* Every envelope of the tablet's bundle, for the envelope target; one
     * of them forged (a payload byte changed after signing), and the
     * forged one also re-framed into a bundle whose hash is right, so the
     * import gets past the framing to the signature check. */
    split s = {0};
    uint64_t count;
    if (dc__bundle_parse(bun.ptr, bun.size, &count, split_each, &s, &err) != 0)
        fail("dc__bundle_parse", err.msg);
    for (int i = 0; i < s.n; i++) {
        dc__envelope e;
        char nm[64];
        if (dc__envelope_parse(&e, s.env[i], s.len[i], &err) != 0)
            fail("dc__envelope_parse", err.msg);
        snprintf(nm, sizeof nm, "env-%d-%s.bin", i,
                 e.kind == DC_ENV_KIND_CHANGE ? "change" : "membership");
        if (i == s.n - 1)
            put_variants("envelope", nm, s.env[i], s.len[i]);
        else
            put("envelope", nm, s.env[i], s.len[i]);
    }
    if (s.n > 0) {
        int last = s.n - 1;
        uint8_t *forged = malloc(s.len[last]);
        memcpy(forged, s.env[last], s.len[last]);
        forged[DC_ENV_HEADER_SIZE + 2] ^= 0x01;
        put("envelope", "broken-forged-payload.bin", forged, s.len[last]);
        dc_buf fb = DC_BUF_INIT;
        if (dc__bundle_begin(&fb) || dc__bundle_add(&fb, s.env[0], s.len[0]) ||
            dc__bundle_add(&fb, forged, s.len[last]) || dc__bundle_finish(&fb))
            fail("dc__bundle_*", "framing a forged bundle");
        put("bundle", "broken-forged-envelope.bin", fb.ptr, fb.size);
        /* The same envelope twice in one bundle. */
        dc__buf_clear(&fb);
        if (dc__bundle_begin(&fb) || dc__bundle_add(&fb, s.env[last], s.len[last]) ||
            dc__bundle_add(&fb, s.env[last], s.len[last]) || dc__bundle_finish(&fb))
            fail("dc__bundle_*", "framing a duplicate bundle");
        put("bundle", "bundle-duplicate-envelope.bin", fb.ptr, fb.size);
        /* An envelope whose header claims a newer format version. */
        forged[3] = 9;
        put("envelope", "broken-version-9.bin", forged, s.len[last]);
        free(forged);
        dc_buf_dispose(&fb);
    }
    for (int i = 0; i < s.n; i++)
        free(s.env[i]);

    /* The phone writes back; its bundle carries its own change too. */
    g_now += 1000;
    OK(b, dc_txn_begin(&t, b, sp));
    OK(b, dc_txn_set(t, "driver", "d-huang", "phone", DC_STR, 0, "13985009876"));
    OK(b, dc_txn_add(t, "driver", "d-huang", "scope", DC_STR, 0, "general cargo"));
    OK(b, dc_txn_event(t, "study", "s-2025-01"));
    OK(b, dc_txn_event_field(t, "read_by", DC_STR, 0, "d-huang"));
    OK(b, dc_txn_event_field(t, "completed", DC_BOOL, 1, NULL));
    OK(b, dc_txn_commit(t, NULL));
    OK(b, dc_bundle_export(&bun, b, sp));
    put("bundle", "bundle-phone-space.bin", bun.ptr, bun.size);
    /* The phone's own change, and a membership envelope with its reserved
     * flags set (refused before any signature check). */
    memset(&s, 0, sizeof s);
    if (dc__bundle_parse(bun.ptr, bun.size, &count, split_each, &s, &err) != 0)
        fail("dc__bundle_parse", err.msg);
    for (int i = 0; i < s.n; i++) {
        dc__envelope e;
        if (dc__envelope_parse(&e, s.env[i], s.len[i], &err) != 0)
            fail("dc__envelope_parse", err.msg);
        if (e.kind == DC_ENV_KIND_CHANGE && e.author[0] != 0 &&
            memcmp(e.author, s.env[s.n - 1] + 28, 32) == 0)
            put("envelope", "phone-env-change.bin", s.env[i], s.len[i]);
        if (e.kind == DC_ENV_KIND_MEMBERSHIP && i == 0) {
            s.env[i][4] = 0x80;
            put("envelope", "broken-reserved-flags.bin", s.env[i], s.len[i]);
        }
    }
    for (int i = 0; i < s.n; i++)
        free(s.env[i]);

    dc_buf e = DC_BUF_INIT;
    if (dc__bundle_begin(&e) || dc__bundle_finish(&e))
        fail("dc__bundle_*", "framing an empty bundle");
    put("bundle", "bundle-empty.bin", e.ptr, e.size);
    put("bundle", "hand-header-only.bin", e.ptr, e.size < 16 ? e.size : 16);
    dc_buf_dispose(&e);

    dc_replica_close(a);
    dc_replica_close(b);
    dc_buf_dispose(&space);
    dc_buf_dispose(&card);
    dc_buf_dispose(&bun);
    dc_buf_dispose(&rep);
}

static void rm_tmp(void) {
    static const char *const names[] = {"tablet", "phone"};
    static const char *const sfx[] = {".db", ".db-wal", ".db-shm"};
    char p[128];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof p, "%s/%s%s", g_tmp, names[i], sfx[j]);
            unlink(p);
        }
    rmdir(g_tmp);
}

/* The stored state of a record and of an event (codec/stored.c): what a
 * damaged or hand-edited replica file can put in front of the decoder. */
static void gen_stored(void) {
    dc__err err;
    dc_buf b = DC_BUF_INIT;
    dc__reg regs[3] = {{0, VS("Huang Hongxing"), 118000000000000000ull, 1},
                       {1, VI(DC_INT, -42), 118000000000065536ull, 2},
                       {4, VI(DC_BOOL, 1), 118000000000000003ull, 1}};
    dc__sadd adds[2] = {{2, VS("cold chain"), 1, 7, 3, 118000000000000004ull},
                        {2, VI(DC_NULL, 0), 2, 9, 0, 118000000000131072ull}};
    dc__stag rm[1] = {{2, 1, 6, 1}};
    dc__recdata d = {regs, 3, adds, 2, rm, 1};
    if (dc__recdata_encode(&b, &d, &err) != 0)
        fail("dc__recdata_encode", err.msg);
    put_variants("stored", "state-full.bin", b.ptr, b.size);
    dc__buf_clear(&b);
    /* Version-2 values in the state: a float and bytes. */
    static const uint8_t raw[3] = {0, 0xff, 7};
    dc__reg v2regs[2] = {{0, dc__value_real(26.5783), 118000000000000000ull, 1},
                         {1, {DC_BYTES, 0, (const char *)raw, 3}, 118000000000000001ull, 1}};
    dc__recdata d2 = {v2regs, 2, NULL, 0, NULL, 0};
    dc__buf_clear(&b);
    if (dc__recdata_encode(&b, &d2, &err) != 0)
        fail("dc__recdata_encode", err.msg);
    put("stored", "state-float-bytes.bin", b.ptr, b.size);
    dc__buf_clear(&b);
    dc__recdata e = {regs, 1, NULL, 0, NULL, 0};
    if (dc__recdata_encode(&b, &e, &err) != 0)
        fail("dc__recdata_encode", err.msg);
    put("stored", "state-one-register.bin", b.ptr, b.size);
    dc__str keys[2] = {S("step"), S("amount")};
    dc__value vals[2] = {VS("accepted"), VI(DC_INT, 12000)};
    dc__buf_clear(&b);
    if (dc__event_encode(&b, keys, vals, 2, &err) != 0)
        fail("dc__event_encode", err.msg);
    put_variants("stored", "event.bin", b.ptr, b.size);
    put("stored", "hand-empty.bin", "", 0);
    put("stored", "hand-three-parts.bin", "\x93\x90\x90\x90", 4);
    put("stored", "hand-huge-count.bin", "\x94\x00\xdd\xff\xff\xff\xff", 7);
    dc_buf_dispose(&b);
}

/* Attachment objects and manifests (docs/format/attachment.md), sealed
 * under the key, space and id fuzz_attach.c opens them with. */
static void gen_attach(void) {
    dc__err err;
    dc_buf man = DC_BUF_INIT, obj = DC_BUF_INIT;
    uint8_t key[32], space[16], oid[32], cids[3 * 32];
    memset(key, 0x5a, sizeof key);
    memset(space, 0x11, sizeof space);
    memset(oid, 0x22, sizeof oid);
    for (size_t i = 0; i < sizeof cids; i++)
        cids[i] = (uint8_t)(i * 37);
    if (dc__manifest_encode(&man, 600000, DC_ATT_CHUNK, "video/mp4", cids, 3, &err) != 0)
        fail("dc__manifest_encode", err.msg);
    put_variants("attach", "manifest-plain.bin", man.ptr, man.size);
    if (dc__manifest_encode(&obj, 0, 4096, "a/b", NULL, 0, &err) != 0)
        fail("dc__manifest_encode", err.msg);
    put("attach", "manifest-empty-file.bin", obj.ptr, obj.size);
    if (dc__att_seal(&obj, DC_ATT_KIND_MANIFEST, 3, key, space, oid, man.ptr, man.size, &err))
        fail("dc__att_seal", err.msg);
    put_variants("attach", "object-manifest.bin", obj.ptr, obj.size);
    static const uint8_t chunk[] = "the bytes of a waybill photo";
    if (dc__att_seal(&obj, DC_ATT_KIND_CHUNK, 0, key, space, oid, chunk, sizeof chunk, &err))
        fail("dc__att_seal", err.msg);
    put_variants("attach", "object-chunk.bin", obj.ptr, obj.size);
    obj.ptr[3] = 2; /* a later version */
    put("attach", "object-version-2.bin", obj.ptr, obj.size);
    dc_buf_dispose(&man);
    dc_buf_dispose(&obj);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus OUTDIR   (e.g. fuzz/corpus)\n");
        return 2;
    }
    g_out = argv[1];
    if (mkdir(g_out, 0755) != 0 && errno != EEXIST)
        fail(g_out, strerror(errno));
    if (dc_global_init(NULL) != 0)
        fail("dc_global_init", dc_error_last());
    snprintf(g_tmp, sizeof g_tmp, "/tmp/dc-gen-corpus-XXXXXX");
    if (!mkdtemp(g_tmp))
        fail("mkdtemp", strerror(errno));
    atexit(rm_tmp); /* also when fail() exits */
    gen_bodies();
    gen_zstd_extra();
    gen_members();
    gen_stored();
    gen_attach();
    gen_replicas();
    fprintf(stderr, "gen_corpus: wrote %d files under %s\n", g_files, g_out);
    return 0;
}
