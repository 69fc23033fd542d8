/*
 * Golden vectors: the byte-exact envelope and bundle formats, pinned by
 * files checked into tests/vectors/ (see tests/vectors/README.md).
 *
 * Everything that goes into them is fixed: the device's keys come from
 * libsodium's seed functions, the space key and nonce are constants, and
 * Ed25519 signatures are deterministic.  So this test rebuilds each file
 * and demands the same bytes, and it also reads each stored file as a
 * replica would (parse, verify, open, decompress, decode) and checks what
 * comes out, so that a file written by format version 1 stays readable for
 * as long as version 1 is supported.  The BLAKE2b hashes of the files are
 * written here too: regenerating the files after an accidental format
 * change makes this test fail until someone edits these constants on
 * purpose (and adds a new version, per docs/format/).
 *
 * One thing is not ours to pin: the exact bytes zstd's compressor emits,
 * which may change between zstd releases (or between the system package
 * and the meson wrap).  Any valid frame is a valid body, so the rebuild
 * seals the frame found in the stored file; a fresh frame from the local
 * zstd is checked to decompress to the same body.
 *
 *   test_vectors DIR            compare against DIR/envelope-v1.bin, ...
 *   test_vectors --write DIR    (re)create the files
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "vector_files.h"

/* The hashes of the checked-in files (BLAKE2b-256, hex). */
#define ENVELOPE_V1_HASH "1b5f28e6e89482044afca6705ee0afc74f8700f14db5f365e1266e13b654fe34"
#define BUNDLE_V1_HASH "dfea9eb337300a116c272d59e554b8fcf073d802bc99373218ae5382fb1684e2"

static const char *g_dir;

/* ---- the fixed inputs ---- */

#define T0 INT64_C(1700000000000) /* 2023-11-14T22:13:20Z */

static dc__identity *golden_identity(void) {
    dc__identity *id = sodium_malloc(sizeof *id);
    if (!id)
        return NULL;
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i; /* 00 01 02 ... 1f */
    crypto_sign_seed_keypair(id->sign_pk, id->sign_sk, seed);
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0x20 + i); /* 20 21 ... 3f */
    crypto_box_seed_keypair(id->box_pk, id->box_sk, seed);
    sodium_memzero(seed, sizeof seed);
    return id;
}

static void golden_key(uint8_t key[32]) {
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x40 + i);
}

static void golden_nonce(uint8_t nonce[24]) {
    for (int i = 0; i < 24; i++)
        nonce[i] = (uint8_t)(0x60 + i);
}

static void golden_genesis_nonce(uint8_t n[16]) {
    for (int i = 0; i < 16; i++)
        n[i] = (uint8_t)(0x90 + i);
}

/* The space id: BLAKE2b-128 of the creator's key and the genesis nonce. */
static void golden_space(uint8_t space[16], const dc__identity *id) {
    uint8_t in[48];
    memcpy(in, id->sign_pk, 32);
    golden_genesis_nonce(in + 32);
    dc__hash(space, 16, in, sizeof in);
}

static dc__tag g_tag;
static dc__str g_keys[4];
static dc__value g_vals[4];

static dc__str S(const char *s) {
    dc__str r = {s, (uint32_t)strlen(s)};
    return r;
}

/* One op of every kind and a value of every kind. */
static size_t golden_ops(dc__op *ops) {
    memset(ops, 0, 12 * sizeof *ops);
    size_t n = 0;
#define OP(k, t, i, f)                                                                             \
    (ops[n].kind = (k), ops[n].type = S(t), ops[n].id = S(i), ops[n].field = S(f))
    OP(DC_OP_SET, "truck", "34 ABC 123", "plate");
    ops[n].val = (dc__value){DC_STR, 0, "34 ABC 123", 10};
    n++;
    OP(DC_OP_SET, "truck", "34 ABC 123", "axles");
    ops[n].val = (dc__value){DC_INT, 5, NULL, 0};
    n++;
    OP(DC_OP_SET, "truck", "34 ABC 123", "odometer");
    ops[n].val = (dc__value){DC_INT, INT64_MIN, NULL, 0};
    n++;
    OP(DC_OP_SET, "truck", "34 ABC 123", "refrigerated");
    ops[n].val = (dc__value){DC_BOOL, 1, NULL, 0};
    n++;
    OP(DC_OP_SET, "truck", "34 ABC 123", "note");
    ops[n].val = (dc__value){DC_NULL, 0, NULL, 0};
    n++;
    OP(DC_OP_ADD, "branch", "izmir-1", "drivers");
    ops[n].val = (dc__value){DC_STR, 0,
                             "\xc3\x87"
                             "a\xc4\x9f"
                             "da\xc5\x9f",
                             9};
    n++;
    OP(DC_OP_REMOVE, "branch", "izmir-1", "drivers");
    ops[n].val = (dc__value){DC_STR, 0, "", 0};
    memset(g_tag.dev, 0xaa, 32);
    g_tag.seq = 7;
    g_tag.op = 2;
    ops[n].ntags = 1;
    ops[n].tags = &g_tag;
    n++;
    OP(DC_OP_EVENT, "grievance", "g-1", "");
    g_keys[0] = S("step");
    g_vals[0] = (dc__value){DC_STR, 0, "opened", 6};
    g_keys[1] = S("urgent");
    g_vals[1] = (dc__value){DC_BOOL, 0, NULL, 0};
    g_keys[2] = S("count");
    g_vals[2] = (dc__value){DC_INT, INT64_MAX, NULL, 0};
    g_keys[3] = S("truck");
    g_vals[3] = (dc__value){DC_STR, 0, "\xf0\x9f\x9a\x9a", 4};
    ops[n].nfields = 4;
    ops[n].keys = g_keys;
    ops[n].vals = g_vals;
    n++;
    OP(DC_OP_DELETE, "truck", "00 XX 000", "");
    n++;
#undef OP
    return n;
}

static dc__envelope change_header(const dc__identity *id, size_t nops) {
    dc__envelope e;
    memset(&e, 0, sizeof e);
    e.version = DC_ENV_VERSION;
    e.kind = DC_ENV_KIND_CHANGE;
    e.cipher = DC_CIPHER_XCHACHA20POLY1305;
    e.comp = DC_COMP_ZSTD;
    golden_space(e.space, id);
    e.epoch = 1;
    memcpy(e.author, id->sign_pk, 32);
    e.seq = 2;
    e.hlc_min = DC_HLC_MAKE(T0, 1);
    e.hlc_max = DC_HLC_MAKE(T0, nops); /* op i is stamped hlc_min + i */
    return e;
}

static dc__envelope membership_header(const dc__identity *id) {
    dc__envelope e;
    memset(&e, 0, sizeof e);
    e.version = DC_ENV_VERSION;
    e.kind = DC_ENV_KIND_MEMBERSHIP;
    e.cipher = DC_CIPHER_NONE;
    e.comp = DC_COMP_NONE;
    golden_space(e.space, id);
    e.epoch = 1;
    memcpy(e.author, id->sign_pk, 32);
    e.seq = 1;
    e.hlc_min = e.hlc_max = DC_HLC_MAKE(T0, 0);
    return e;
}

static void golden_member_op(dc__member_op *m, const dc__identity *id) {
    memset(m, 0, sizeof *m);
    m->kind = DC_MOP_GENESIS;
    memcpy(m->device, id->sign_pk, 32);
    memcpy(m->box_pk, id->box_pk, 32);
    golden_genesis_nonce(m->nonce);
    m->role = DC_ROLE_ADMIN;
    strcpy(m->name, "golden vector device");
}

/* Builds the change envelope; `frame` (may be NULL) is the zstd frame to
 * seal instead of compressing the body with the local zstd. */
static int build_envelope(dc_buf *out, const uint8_t *frame, size_t frame_len) {
    dc__identity *id = golden_identity();
    if (!id)
        return DC_ENOMEM;
    dc__op ops[12];
    size_t nops = golden_ops(ops);
    dc_buf body = DC_BUF_INIT, z = DC_BUF_INIT;
    dc__err err;
    int rc = dc__body_encode(&body, ops, nops, &err);
    if (rc == 0 && !frame) {
        rc = dc__zstd_compress(&z, body.ptr, body.size, 3, &err);
        frame = z.ptr;
        frame_len = z.size;
    }
    uint8_t key[32], nonce[24];
    golden_key(key);
    golden_nonce(nonce);
    dc__envelope h = change_header(id, nops);
    if (rc == 0)
        rc = dc__envelope_seal(out, &h, frame, frame_len, key, nonce, id, &err);
    dc_buf_dispose(&body);
    dc_buf_dispose(&z);
    dc__identity_free(id);
    return rc;
}

static int build_membership(dc_buf *out) {
    dc__identity *id = golden_identity();
    if (!id)
        return DC_ENOMEM;
    dc__member_op m;
    golden_member_op(&m, id);
    dc_buf body = DC_BUF_INIT;
    dc__err err;
    int rc = dc__member_encode_version(&body, &m, 1, 1, &err);
    dc__envelope h = membership_header(id);
    if (rc == 0)
        rc = dc__envelope_seal(out, &h, body.ptr, body.size, NULL, NULL, id, &err);
    dc_buf_dispose(&body);
    dc__identity_free(id);
    return rc;
}

static int build_bundle(dc_buf *out, const uint8_t *frame, size_t frame_len) {
    dc_buf mem = DC_BUF_INIT, chg = DC_BUF_INIT;
    int rc = build_membership(&mem);
    if (rc == 0)
        rc = build_envelope(&chg, frame, frame_len);
    if (rc == 0)
        rc = dc__bundle_begin(out);
    if (rc == 0)
        rc = dc__bundle_add(out, mem.ptr, mem.size);
    if (rc == 0)
        rc = dc__bundle_add(out, chg.ptr, chg.size);
    if (rc == 0)
        rc = dc__bundle_finish(out);
    dc_buf_dispose(&mem);
    dc_buf_dispose(&chg);
    return rc;
}

/* ---- files ---- */

static uint8_t *read_file(const char *name, size_t *n) {
    return vec_read(g_dir, name, n);
}

static int write_file(const char *dir, const char *name, const dc_buf *b) {
    return vec_write(dir, name, b->ptr, b->size);
}

static void assert_hash(const uint8_t *p, size_t n, const char *want) {
    vec_assert_hash(p, n, want);
}

static void assert_same_bytes(const uint8_t *got, size_t ng, const uint8_t *want, size_t nw,
                              const char *what) {
    if (ng != nw)
        fail_msg("%s: rebuilt %zu bytes, stored %zu", what, ng, nw);
    for (size_t i = 0; i < ng; i++)
        if (got[i] != want[i])
            fail_msg("%s: first difference at byte %zu (rebuilt 0x%02x, stored 0x%02x)", what, i,
                     got[i], want[i]);
}

/* ---- reading a stored change as a replica would ---- */

static void check_change(const uint8_t *p, size_t n, dc_buf *frame_out) {
    dc__identity *id = golden_identity();
    assert_non_null(id);
    dc__envelope e;
    dc__err err;
    assert_int_equal(dc__envelope_parse(&e, p, n, &err), 0);
    dc__op want[12];
    size_t nops = golden_ops(want);
    dc__envelope h = change_header(id, nops);
    assert_int_equal(e.version, 1);
    assert_int_equal(e.kind, DC_ENV_KIND_CHANGE);
    assert_int_equal(e.cipher, DC_CIPHER_XCHACHA20POLY1305);
    assert_int_equal(e.comp, DC_COMP_ZSTD);
    assert_memory_equal(e.space, h.space, 16);
    assert_true(e.epoch == h.epoch);
    assert_memory_equal(e.author, id->sign_pk, 32);
    assert_true(e.seq == h.seq);
    assert_true(e.hlc_min == h.hlc_min);
    assert_true(e.hlc_max == h.hlc_max);
    uint8_t nonce[24];
    golden_nonce(nonce);
    assert_memory_equal(e.nonce, nonce, 24);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);

    uint8_t key[32];
    golden_key(key);
    dc_buf frame = DC_BUF_INIT, body = DC_BUF_INIT, fresh = DC_BUF_INIT;
    assert_int_equal(dc__envelope_open(&frame, &e, key, &err), 0);
    assert_int_equal(dc__zstd_decompress(&body, frame.ptr, frame.size, DC_BODY_MAX_SIZE, &err), 0);
    /* The body bytes are ours to pin: exactly what the encoder gives. */
    assert_int_equal(dc__body_encode(&fresh, want, nops, &err), 0);
    assert_same_bytes(body.ptr, body.size, fresh.ptr, fresh.size, "msgpack body");
    dc__body b;
    assert_int_equal(dc__body_decode(&b, body.ptr, body.size, &err), 0);
    assert_int_equal(b.nops, nops);
    assert_int_equal(b.ops[0].kind, DC_OP_SET);
    assert_int_equal(b.ops[2].val.kind, DC_INT);
    assert_true(b.ops[2].val.num == INT64_MIN);
    assert_int_equal(b.ops[6].kind, DC_OP_REMOVE);
    assert_int_equal(b.ops[6].ntags, 1);
    assert_true(b.ops[6].tags[0].seq == 7);
    assert_int_equal(b.ops[7].kind, DC_OP_EVENT);
    assert_int_equal(b.ops[7].nfields, 4);
    assert_true(b.ops[7].vals[2].num == INT64_MAX);
    assert_int_equal(b.ops[8].kind, DC_OP_DELETE);
    dc__body_free(&b);

    /* The local zstd's frame may differ from the stored one, but must
     * carry the same body. */
    dc_buf z = DC_BUF_INIT, back = DC_BUF_INIT;
    assert_int_equal(dc__zstd_compress(&z, fresh.ptr, fresh.size, 3, &err), 0);
    assert_int_equal(dc__zstd_decompress(&back, z.ptr, z.size, DC_BODY_MAX_SIZE, &err), 0);
    assert_same_bytes(back.ptr, back.size, fresh.ptr, fresh.size, "local zstd round trip");
    if (z.size != frame.size || memcmp(z.ptr, frame.ptr, z.size) != 0)
        print_message("note: this zstd compresses the golden body to other bytes than the "
                      "stored frame (fine: any valid frame is a valid body)\n");
    dc_buf_dispose(&z);
    dc_buf_dispose(&back);
    if (frame_out)
        dc__buf_move(frame_out, &frame);
    dc_buf_dispose(&frame);
    dc_buf_dispose(&body);
    dc_buf_dispose(&fresh);
    dc__identity_free(id);
}

static void test_envelope_v1(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("envelope-v1.bin", &n);
    assert_hash(stored, n, ENVELOPE_V1_HASH);
    dc_buf frame = DC_BUF_INIT, rebuilt = DC_BUF_INIT;
    check_change(stored, n, &frame);
    assert_int_equal(build_envelope(&rebuilt, frame.ptr, frame.size), 0);
    assert_same_bytes(rebuilt.ptr, rebuilt.size, stored, n, "envelope-v1.bin");

    /* Tampering with the stored file is noticed (the check above could
     * fail): one flipped bit in the ciphertext. */
    stored[DC_ENV_HEADER_SIZE + 5] ^= 1;
    dc__envelope e;
    dc__err err;
    assert_int_equal(dc__envelope_parse(&e, stored, n, &err), 0);
    assert_int_equal(dc__envelope_verify(&e, &err), DC_EBADSIG);
    free(stored);
    dc_buf_dispose(&frame);
    dc_buf_dispose(&rebuilt);
}

typedef struct walk {
    int n;
    dc_buf env[4];
} walk;

static int each(void *user, uint64_t index, const uint8_t *env, size_t n) {
    walk *w = user;
    if (index != (uint64_t)w->n || w->n >= 4)
        return DC_ECORRUPT;
    dc_buf_init(&w->env[w->n]);
    if (dc__buf_put(&w->env[w->n], env, n))
        return DC_ENOMEM;
    w->n++;
    return 0;
}

static void test_bundle_v1(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("bundle-v1.bin", &n);
    assert_hash(stored, n, BUNDLE_V1_HASH);
    walk w;
    memset(&w, 0, sizeof w);
    uint64_t count = 0;
    dc__err err;
    assert_int_equal(dc__bundle_parse(stored, n, &count, each, &w, &err), 0);
    assert_true(count == 2);
    assert_int_equal(w.n, 2);

    /* The first envelope: the space's genesis, in clear. */
    dc__identity *id = golden_identity();
    assert_non_null(id);
    dc__envelope e;
    assert_int_equal(dc__envelope_parse(&e, w.env[0].ptr, w.env[0].size, &err), 0);
    assert_int_equal(e.kind, DC_ENV_KIND_MEMBERSHIP);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);
    dc__member_op *ops = NULL;
    size_t nops = 0;
    assert_int_equal(dc__member_decode(&ops, &nops, e.payload, e.payload_len, &err), 0);
    assert_int_equal(nops, 1);
    assert_int_equal(ops[0].kind, DC_MOP_GENESIS);
    assert_memory_equal(ops[0].device, id->sign_pk, 32);
    assert_memory_equal(ops[0].box_pk, id->box_pk, 32);
    assert_string_equal(ops[0].name, "golden vector device");
    /* The space id is derived from the genesis. */
    uint8_t space[16];
    golden_space(space, id);
    assert_memory_equal(e.space, space, 16);
    dc__free(ops);

    /* The second: the change of envelope-v1.bin. */
    dc_buf frame = DC_BUF_INIT, rebuilt = DC_BUF_INIT;
    check_change(w.env[1].ptr, w.env[1].size, &frame);
    assert_int_equal(build_bundle(&rebuilt, frame.ptr, frame.size), 0);
    assert_same_bytes(rebuilt.ptr, rebuilt.size, stored, n, "bundle-v1.bin");

    for (int i = 0; i < w.n; i++)
        dc_buf_dispose(&w.env[i]);
    dc_buf_dispose(&frame);
    dc_buf_dispose(&rebuilt);
    dc__identity_free(id);
    free(stored);
}

/* The stored bundle through the real import path: a fresh replica (not a
 * member, so without the key) accepts the genesis and keeps the change
 * opaque, to pass on. */
static void test_bundle_v1_import(void **state) {
    (void)state;
    char dir[] = "/tmp/dc-vectors-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/r.dcr", dir);
    dc_replica *r = NULL;
    assert_int_equal(dc_replica_open(&r, path, NULL), 0);
    size_t n;
    uint8_t *stored = read_file("bundle-v1.bin", &n);
    dc_buf report = DC_BUF_INIT, list = DC_BUF_INIT;
    int rc = dc_bundle_import(r, stored, n, &report);
    if (rc != 0)
        fail_msg("import of bundle-v1.bin: %s: %s", dc_error_name(rc), dc_replica_errmsg(r));
    const char *rep = (const char *)report.ptr;
    assert_non_null(strstr(rep, "\"envelopes\":2"));
    assert_non_null(strstr(rep, "\"new\":2"));
    assert_non_null(strstr(rep, "\"opaque\":1"));
    /* The space is known by the id the genesis derives, with its creator
     * as admin under the name in the genesis. */
    dc__identity *id = golden_identity();
    assert_non_null(id);
    uint8_t space[16];
    char hex[33], dev[65];
    golden_space(space, id);
    dc__hex(hex, space, 16);
    dc__hex(dev, id->sign_pk, 32);
    assert_int_equal(dc_space_list(&list, r), 0);
    assert_non_null(strstr((const char *)list.ptr, hex));
    assert_int_equal(dc_space_members(&list, r, hex), 0);
    assert_non_null(strstr((const char *)list.ptr, dev));
    assert_non_null(strstr((const char *)list.ptr, "golden vector device"));
    assert_non_null(strstr((const char *)list.ptr, "admin"));
    /* Importing it again: all duplicates. */
    assert_int_equal(dc_bundle_import(r, stored, n, &report), 0);
    assert_non_null(strstr((const char *)report.ptr, "\"duplicate\":2"));
    dc__identity_free(id);
    dc_buf_dispose(&report);
    dc_buf_dispose(&list);
    free(stored);
    dc_replica_close(r);
    char sub[sizeof path + 8];
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s%s", path, suffix[i]);
        remove(sub);
    }
    remove(dir);
}

/* ---- membership body v2 ---- */

/* One op of every kind, every byte fixed (docs/format/body.md). */
static int build_member_v2(dc_buf *out) {
    static uint8_t lockbox[24 + 36 + 16];
    for (size_t i = 0; i < sizeof lockbox; i++)
        lockbox[i] = (uint8_t)(0xa0 + i);
    dc__member_op ops[6];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < 6; i++) {
        memset(ops[i].device, 0x10 + i, 32);
        memset(ops[i].box_pk, 0x20 + i, 32);
        memset(ops[i].sealed, 0x30 + i, 80);
        memset(ops[i].kid, 0x40 + i, DC_KEY_ID);
    }
    ops[0].kind = DC_MOP_GENESIS;
    memset(ops[0].nonce, 0x90, 16);
    ops[1].kind = DC_MOP_GRANT;
    ops[1].role = DC_ROLE_MEMBER;
    ops[1].upto = 7;
    ops[1].epoch = 1;
    ops[2].kind = DC_MOP_REMOVE;
    ops[2].upto = 300;
    ops[3].kind = DC_MOP_ROTATE;
    ops[3].epoch = 2;
    ops[3].lockbox = lockbox;
    ops[3].lockbox_len = sizeof lockbox;
    ops[4].kind = DC_MOP_KEY;
    ops[4].epoch = 2;
    ops[5].kind = DC_MOP_LOCKBOX;
    ops[5].epoch = 2;
    ops[5].lockbox = lockbox;
    ops[5].lockbox_len = sizeof lockbox;
    dc__err err;
    return dc__member_encode(out, ops, 6, &err);
}

static void test_member_v2_vector(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("membership-v2.bin", &n);
    dc_buf rebuilt = DC_BUF_INIT;
    assert_int_equal(build_member_v2(&rebuilt), 0);
    assert_int_equal(rebuilt.size, n);
    assert_memory_equal(rebuilt.ptr, stored, n);
    /* And as a reader decodes it. */
    dc__member_op *ops = NULL;
    size_t nops = 0;
    dc__err err;
    assert_int_equal(dc__member_decode(&ops, &nops, stored, n, &err), 0);
    assert_int_equal(nops, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ops[i].kind, i + 1);
        assert_int_equal(ops[i].version, 2);
    }
    assert_true(ops[1].upto == 7 && ops[1].role == DC_ROLE_MEMBER && ops[1].epoch == 1);
    assert_true(ops[2].upto == 300);
    assert_int_equal(ops[3].lockbox_len, 76);
    assert_int_equal(ops[3].lockbox[0], 0xa0);
    assert_int_equal(ops[4].kid[0], 0x44);
    dc__free(ops);
    dc_buf_dispose(&rebuilt);
    free(stored);
}

/* ---- membership body v3: the clear compaction point ---- */

/* One COMPACT op, every byte fixed (docs/format/body.md, "Membership body
 * v3"): a point of two authors at clock 0x0102030405060708, and two dead
 * attachment objects. */
static uint8_t g3_vec[13 + 2 * 40], g3_dead[64];

static int build_member_v3(dc_buf *out) {
    memset(g3_vec, 0, sizeof g3_vec);
    g3_vec[0] = 1;
    for (int i = 0; i < 8; i++)
        g3_vec[1 + i] = (uint8_t)(i + 1);
    g3_vec[12] = 2;
    memset(g3_vec + 13, 0x5a, 32);
    g3_vec[13 + 39] = 42;
    memset(g3_vec + 53, 0xa5, 32);
    g3_vec[53 + 38] = 1; /* seq 256 */
    for (size_t i = 0; i < sizeof g3_dead; i++)
        g3_dead[i] = (uint8_t)(0xd0 + i % 16);
    dc__member_op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_MOP_COMPACT;
    op.point = g3_vec;
    op.point_len = sizeof g3_vec;
    op.dead = g3_dead;
    op.ndead = 2;
    dc__err err;
    return dc__member_encode(out, &op, 1, &err);
}

static void test_member_v3_vector(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("membership-v3.bin", &n);
    dc_buf rebuilt = DC_BUF_INIT;
    assert_int_equal(build_member_v3(&rebuilt), 0);
    assert_int_equal(rebuilt.size, n);
    assert_memory_equal(rebuilt.ptr, stored, n);
    dc__member_op *ops = NULL;
    size_t nops = 0;
    dc__err err;
    assert_int_equal(dc__member_decode(&ops, &nops, stored, n, &err), 0);
    assert_int_equal(nops, 1);
    assert_int_equal(ops[0].kind, DC_MOP_COMPACT);
    assert_int_equal(ops[0].version, 3);
    assert_int_equal(ops[0].point_len, sizeof g3_vec);
    assert_memory_equal(ops[0].point, g3_vec, sizeof g3_vec);
    assert_int_equal(ops[0].ndead, 2);
    assert_memory_equal(ops[0].dead, g3_dead, sizeof g3_dead);
    dc__free(ops);
    dc_buf_dispose(&rebuilt);
    free(stored);
}

/* ---- change body v2: floats and bytes ---- */

/* Every value kind of version 2, every byte fixed (docs/format/body.md). */
static dc__value g2_vals[3];
static dc__str g2_keys[3];

static int build_body_v2(dc_buf *out) {
    static const uint8_t raw[4] = {0x00, 0xff, 0x10, 0x80};
    dc__op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].kind = DC_OP_SET;
    ops[0].type = (dc__str){"checkin", 7};
    ops[0].id = (dc__str){"c1", 2};
    ops[0].field = (dc__str){"lat", 3};
    ops[0].val = dc__value_real(26.5783);
    ops[1].kind = DC_OP_ADD;
    ops[1].type = (dc__str){"checkin", 7};
    ops[1].id = (dc__str){"c1", 2};
    ops[1].field = (dc__str){"photos", 6};
    ops[1].val = (dc__value){DC_BYTES, 0, (const char *)raw, sizeof raw};
    ops[2].kind = DC_OP_EVENT;
    ops[2].type = (dc__str){"checkin", 7};
    ops[2].id = (dc__str){"c1", 2};
    g2_keys[0] = (dc__str){"lon", 3};
    g2_vals[0] = dc__value_real(-106.7135);
    g2_keys[1] = (dc__str){"thumb", 5};
    g2_vals[1] = (dc__value){DC_BYTES, 0, "", 0};
    g2_keys[2] = (dc__str){"n", 1};
    g2_vals[2] = (dc__value){DC_INT, 7, NULL, 0};
    ops[2].nfields = 3;
    ops[2].keys = g2_keys;
    ops[2].vals = g2_vals;
    dc__err err;
    return dc__body_encode(out, ops, 3, &err);
}

static void test_body_v2_vector(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("body-v2.bin", &n);
    dc_buf rebuilt = DC_BUF_INIT;
    assert_int_equal(build_body_v2(&rebuilt), 0);
    assert_int_equal(rebuilt.size, n);
    assert_memory_equal(rebuilt.ptr, stored, n);
    /* Version 2 on the wire, read back as written. */
    assert_int_equal(stored[0], 0x92);
    assert_int_equal(stored[1], 2);
    dc__body b;
    dc__err err;
    assert_int_equal(dc__body_decode(&b, stored, n, &err), 0);
    assert_int_equal(b.nops, 3);
    assert_int_equal(b.ops[0].val.kind, DC_FLOAT);
    assert_true(dc__real(&b.ops[0].val) == 26.5783);
    assert_int_equal(b.ops[1].val.kind, DC_BYTES);
    assert_int_equal(b.ops[1].val.len, 4);
    assert_int_equal((uint8_t)b.ops[1].val.str[1], 0xff);
    assert_true(dc__real(&b.ops[2].vals[0]) == -106.7135);
    assert_int_equal(b.ops[2].vals[1].kind, DC_BYTES);
    assert_int_equal(b.ops[2].vals[1].len, 0);
    dc__body_free(&b);
    /* A body with no float and no bytes is still written as version 1. */
    dc__op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_OP_SET;
    op.type = (dc__str){"t", 1};
    op.id = (dc__str){"i", 1};
    op.field = (dc__str){"f", 1};
    op.val = (dc__value){DC_INT, 1, NULL, 0};
    dc_buf v1 = DC_BUF_INIT;
    assert_int_equal(dc__body_encode(&v1, &op, 1, &err), 0);
    assert_int_equal(v1.ptr[1], 1);
    dc_buf_dispose(&v1);
    /* A float in a body that says version 1 is refused, not guessed. */
    static const uint8_t float_in_v1[] = {0x92, 0x01, 0x91, 0x95, 0x01, 0xa1, 't', 0xa1, 'i', 0xa1,
                                          'f',  0xcb, 0x3f, 0xf8, 0,    0,    0,   0,    0,   0};
    assert_int_equal(dc__body_decode(&b, float_in_v1, sizeof float_in_v1, &err), DC_ECORRUPT);
    /* NaN is refused in version 2 as well: every replica must compare alike. */
    static const uint8_t nan_in_v2[] = {0x92, 0x02, 0x91, 0x95, 0x01, 0xa1, 't', 0xa1, 'i', 0xa1,
                                        'f',  0xcb, 0x7f, 0xf8, 0,    0,    0,   0,    0,   0};
    assert_int_equal(dc__body_decode(&b, nan_in_v2, sizeof nan_in_v2, &err), DC_ECORRUPT);
    /* And a version this library does not read yet is DC_EVERSION. */
    static const uint8_t v9[] = {0x92, 0x09, 0x90};
    assert_int_equal(dc__body_decode(&b, v9, sizeof v9, &err), DC_EVERSION);
    dc_buf_dispose(&rebuilt);
    free(stored);
}

static int write_all(const char *dir) {
    dc_buf env = DC_BUF_INIT, bundle = DC_BUF_INIT;
    int rc = build_envelope(&env, NULL, 0);
    if (rc == 0) {
        /* The bundle must carry the very same frame as the envelope file. */
        dc__envelope e;
        dc__err err;
        dc_buf frame = DC_BUF_INIT;
        uint8_t key[32];
        golden_key(key);
        rc = dc__envelope_parse(&e, env.ptr, env.size, &err);
        if (rc == 0)
            rc = dc__envelope_open(&frame, &e, key, &err);
        if (rc == 0)
            rc = build_bundle(&bundle, frame.ptr, frame.size);
        dc_buf_dispose(&frame);
    }
    if (rc != 0) {
        fprintf(stderr, "test_vectors: building the vectors failed: %s\n", dc_error_name(rc));
        return 1;
    }
    dc_buf mv2 = DC_BUF_INIT, bv2 = DC_BUF_INIT, mv3 = DC_BUF_INIT;
    if (build_member_v2(&mv2) != 0 || build_body_v2(&bv2) != 0 || build_member_v3(&mv3) != 0)
        return 1;
    rc = write_file(dir, "envelope-v1.bin", &env) | write_file(dir, "bundle-v1.bin", &bundle) |
         write_file(dir, "membership-v2.bin", &mv2) | write_file(dir, "body-v2.bin", &bv2) |
         write_file(dir, "membership-v3.bin", &mv3);
    dc_buf_dispose(&mv3);
    dc_buf_dispose(&mv2);
    dc_buf_dispose(&bv2);
    dc_buf_dispose(&env);
    dc_buf_dispose(&bundle);
    if (rc == 0)
        printf("update ENVELOPE_V1_HASH / BUNDLE_V1_HASH in test_vectors.c only if the format "
               "change is deliberate\n");
    return rc;
}

/* A replica file written by schema 1 (the library before removal and
 * rotation; tests/vectors/README.md says how it was made) opens under the
 * current schema: it is migrated, shows exactly what it showed, its members
 * keep their roles (a version-1 demotion never refused later changes, and
 * still does not), and it takes the new membership calls. */
static void test_replica_schema1(void **state) {
    (void)state;
    char dir[] = "/tmp/dc-vectors-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/r.dcr", dir);
    size_t n, dn;
    uint8_t *file = read_file("replica-schema1.dcr", &n);
    uint8_t *want = read_file("replica-schema1.dump", &dn);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(file, 1, n, f), n);
    fclose(f);
    dc_replica *r = NULL;
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.must_exist = 1;
    int rc = dc_replica_open(&r, path, &o);
    if (rc != 0)
        fail_msg("open a schema-1 replica: %s", dc_error_last());
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_replica_dump(&b, r, NULL), 0);
    assert_int_equal(b.size, dn);
    assert_memory_equal(b.ptr, want, dn);
    const char *space = "e48c8e8e1520105f746ddfce5897f437";
    assert_int_equal(dc_space_members(&b, r, space), 0);
    const char *m = (const char *)b.ptr;
    assert_non_null(strstr(m, "\"role\":\"admin\",\"name\":\"province office\""));
    assert_non_null(strstr(m, "\"role\":\"reader\",\"name\":\"Yang Fei's phone\""));
    assert_non_null(strstr(m, "\"role\":\"reader\",\"name\":\"reader tablet\""));
    assert_int_equal(dc_space_list(&b, r), 0);
    assert_non_null(strstr((const char *)b.ptr, "\"state\":\"accepted\""));
    assert_int_equal(dc_replica_status(&b, r), 0);
    assert_non_null(strstr((const char *)b.ptr, "\"unauthorised\":0"));
    /* The new calls work on it: the phone is removed, the key rotated. */
    const char *phone = "c3a76df79151cdf97d5f7d7e4c3a38c989b9130e9f47a7cb5d7e6178390fa6e4";
    rc = dc_space_remove(r, space, phone);
    if (rc != 0)
        fail_msg("remove on a migrated replica: %s", dc_replica_errmsg(r));
    assert_int_equal(dc_space_list(&b, r), 0);
    assert_non_null(strstr((const char *)b.ptr, "\"epoch\":1"));
    dc_txn *t = NULL;
    assert_int_equal(dc_txn_begin(&t, r, space), 0);
    assert_int_equal(dc_txn_set(t, "driver", "d4", "name", DC_STR, 0, "after the rotation"), 0);
    assert_int_equal(dc_txn_commit(t, NULL), 0);
    assert_int_equal(dc_replica_dump(&b, r, NULL), 0);
    assert_non_null(strstr((const char *)b.ptr, "written after a v1 demotion"));
    assert_non_null(strstr((const char *)b.ptr, "after the rotation"));
    dc_buf_dispose(&b);
    dc_replica_close(r);
    free(file);
    free(want);
    char sub[sizeof path + 8];
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s%s", path, suffix[i]);
        remove(sub);
    }
    remove(dir);
}

/* A replica file written by schema 3 (every kind of op and value, folded
 * and pending; tests/vectors/README.md says how it was made) reads the same
 * in every later version. */
static void test_replica_schema3(void **state) {
    (void)state;
    char dir[] = "/tmp/dc-vectors-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/r.dcr", dir);
    size_t n, dn;
    uint8_t *file = read_file("replica-schema3.dcr", &n);
    uint8_t *want = read_file("replica-schema3.dump", &dn);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(file, 1, n, f), n);
    fclose(f);
    dc_replica *r = NULL;
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.must_exist = 1;
    if (dc_replica_open(&r, path, &o) != 0)
        fail_msg("open a schema-3 replica: %s", dc_error_last());
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_replica_dump(&b, r, NULL), 0);
    assert_int_equal(b.size, dn);
    assert_memory_equal(b.ptr, want, dn);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    free(file);
    free(want);
    char sub[sizeof path + 8];
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s%s", path, suffix[i]);
        remove(sub);
    }
    remove(dir);
}

int main(int argc, char **argv) {
    if (dc_global_init(NULL) != 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_all(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: test_vectors DIR | test_vectors --write DIR\n");
        return 2;
    }
    g_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_v1),      cmocka_unit_test(test_bundle_v1),
        cmocka_unit_test(test_bundle_v1_import), cmocka_unit_test(test_replica_schema1),
        cmocka_unit_test(test_member_v2_vector), cmocka_unit_test(test_body_v2_vector),
        cmocka_unit_test(test_replica_schema3),  cmocka_unit_test(test_member_v3_vector),
    };
    return cmocka_run_group_tests_name("vectors", tests, NULL, NULL);
}
