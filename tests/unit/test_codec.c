/*
 * Unit tests of libdrivercore/codec: the msgpack change and membership
 * bodies, bounded zstd framing, the envelope's binary header and the bundle
 * file.  Every decoder here reads bytes from other devices, relays and USB
 * sticks, so besides round trips these tests feed each one truncated,
 * trailing, mistyped, oversized and version-bumped input and demand a
 * specific error code with a message, never a crash or a silent accept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "codec/codec.h"

/* ---- helpers ---- */

static dc__str S(const char *s) {
    dc__str r = {s, (uint32_t)strlen(s)};
    return r;
}

static dc__value V_null(void) {
    dc__value v = {DC_NULL, 0, NULL, 0};
    return v;
}
static dc__value V_bool(int b) {
    dc__value v = {DC_BOOL, b, NULL, 0};
    return v;
}
static dc__value V_int(int64_t n) {
    dc__value v = {DC_INT, n, NULL, 0};
    return v;
}
static dc__value V_str(const char *s) {
    dc__value v = {DC_STR, 0, s, (uint32_t)strlen(s)};
    return v;
}

static bool str_eq(dc__str a, dc__str b) {
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static bool val_eq(const dc__value *a, const dc__value *b) {
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case DC_NULL: return true;
    case DC_BOOL: return (a->num != 0) == (b->num != 0);
    case DC_INT: return a->num == b->num;
    case DC_FLOAT: return a->num == b->num; /* the same bits */
    case DC_STR:
    case DC_BYTES: return a->len == b->len && (a->len == 0 || memcmp(a->str, b->str, a->len) == 0);
    }
    return false;
}

static void assert_op_eq(const dc__op *a, const dc__op *b) {
    assert_int_equal(a->kind, b->kind);
    assert_true(str_eq(a->type, b->type));
    assert_true(str_eq(a->id, b->id));
    if (a->kind == DC_OP_SET || a->kind == DC_OP_ADD || a->kind == DC_OP_REMOVE) {
        assert_true(str_eq(a->field, b->field));
        assert_true(val_eq(&a->val, &b->val));
    }
    if (a->kind == DC_OP_REMOVE) {
        assert_int_equal(a->ntags, b->ntags);
        for (uint32_t i = 0; i < a->ntags; i++) {
            assert_memory_equal(a->tags[i].dev, b->tags[i].dev, 32);
            assert_true(a->tags[i].seq == b->tags[i].seq);
            assert_int_equal(a->tags[i].op, b->tags[i].op);
        }
    }
    if (a->kind == DC_OP_EVENT) {
        assert_int_equal(a->nfields, b->nfields);
        for (uint32_t i = 0; i < a->nfields; i++) {
            assert_true(str_eq(a->keys[i], b->keys[i]));
            assert_true(val_eq(&a->vals[i], &b->vals[i]));
        }
    }
}

/* A decoder failure must carry one of the expected codes and a message. */
static void assert_refused(int rc, const dc__err *err, int want) {
    if (rc != want)
        fail_msg("expected %s, got %s (%s)", dc_error_name(want), dc_error_name(rc), err->msg);
    assert_int_equal(err->code, want);
    assert_true(strlen(err->msg) > 0);
}

static void assert_refused_any(int rc, const dc__err *err) {
    if (rc != DC_ECORRUPT && rc != DC_EVERSION && rc != DC_ETOOBIG)
        fail_msg("expected a decoding error, got %s (%s)", dc_error_name(rc), err->msg);
    assert_int_equal(err->code, rc);
    assert_true(strlen(err->msg) > 0);
}

/* msgpack-c packer into a plain sbuffer, for hand-made hostile bodies. */
typedef struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp;

static void mp_init(mp *m) {
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}
static void mp_str(mp *m, const char *s) {
    msgpack_pack_str(&m->pk, strlen(s));
    msgpack_pack_str_body(&m->pk, s, strlen(s));
}
static int mp_decode(mp *m, dc__err *err) {
    dc__body b;
    int rc = dc__body_decode(&b, (const uint8_t *)m->sb.data, m->sb.size, err);
    if (rc == 0)
        dc__body_free(&b);
    msgpack_sbuffer_destroy(&m->sb);
    return rc;
}
/* Begins [1, [op]] with an op array of `len` elements. */
static void mp_body1(mp *m, uint32_t version, size_t len) {
    mp_init(m);
    msgpack_pack_array(&m->pk, 2);
    msgpack_pack_uint32(&m->pk, version);
    msgpack_pack_array(&m->pk, 1);
    msgpack_pack_array(&m->pk, len);
}

/* ---- a body with every op kind and every value kind ---- */

static dc__tag g_tags[3];
static dc__str g_keys[6];
static dc__value g_vals[6];

static size_t sample_ops(dc__op *ops) {
    size_t n = 0;
    memset(ops, 0, 32 * sizeof *ops);
    for (int i = 0; i < 3; i++) {
        memset(g_tags[i].dev, 0x11 * (i + 1), 32);
        g_tags[i].seq = i == 2 ? (uint64_t)INT64_MAX : (uint64_t)(i + 1) * 1000;
        g_tags[i].op = i == 2 ? UINT32_MAX : (uint32_t)i;
    }
    const dc__value vals[] = {V_null(),
                              V_bool(0),
                              V_bool(1),
                              V_int(0),
                              V_int(-1),
                              V_int(INT64_MIN),
                              V_int(INT64_MAX),
                              V_int(127),
                              V_int(-33),
                              V_int(65536),
                              V_str(""),
                              V_str("plain"),
                              V_str("\xc5\x9e"
                                    "of\xc3\xb6r \xf0\x9f\x9a\x9a \xe2\x82\xac")};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        ops[n].kind = DC_OP_SET;
        ops[n].type = S("truck");
        ops[n].id = S("34 ABC 123");
        ops[n].field = S(i % 2 ? "plate"
                               : "\xc3\xa7"
                                 "ift");
        ops[n].val = vals[i];
        n++;
    }
    ops[n].kind = DC_OP_ADD;
    ops[n].type = S("branch");
    ops[n].id = S("b1");
    ops[n].field = S("drivers");
    ops[n].val = V_str("d-7");
    n++;
    ops[n].kind = DC_OP_REMOVE;
    ops[n].type = S("branch");
    ops[n].id = S("b1");
    ops[n].field = S("drivers");
    ops[n].val = V_int(7);
    ops[n].ntags = 3;
    ops[n].tags = g_tags;
    n++;
    ops[n].kind = DC_OP_REMOVE; /* a remove that observed nothing */
    ops[n].type = S("branch");
    ops[n].id = S("b1");
    ops[n].field = S("drivers");
    ops[n].val = V_bool(1);
    n++;
    const char *keys[] = {"step", "by", "note", "ok", "none", "n"};
    const dc__value evals[] = {V_str("opened"), V_str("\xe2\x82\xac"), V_str(""), V_bool(1),
                               V_null(),        V_int(INT64_MIN)};
    for (int i = 0; i < 6; i++) {
        g_keys[i] = S(keys[i]);
        g_vals[i] = evals[i];
    }
    ops[n].kind = DC_OP_EVENT;
    ops[n].type = S("grievance");
    ops[n].id = S("g-1");
    ops[n].nfields = 6;
    ops[n].keys = g_keys;
    ops[n].vals = g_vals;
    n++;
    ops[n].kind = DC_OP_EVENT; /* an event with no fields */
    ops[n].type = S("grievance");
    ops[n].id = S("g-1");
    n++;
    ops[n].kind = DC_OP_DELETE;
    ops[n].type = S("truck");
    ops[n].id = S("34 ABC 123");
    n++;
    return n;
}

static void encode_sample(dc_buf *out) {
    dc__op ops[32];
    size_t n = sample_ops(ops);
    dc__err err;
    assert_int_equal(dc__body_encode(out, ops, n, &err), 0);
}

static void test_body_round_trip(void **state) {
    (void)state;
    dc__op ops[32];
    size_t n = sample_ops(ops);
    assert_true(n == 19);
    dc_buf b = DC_BUF_INIT;
    dc__err err;
    assert_int_equal(dc__body_encode(&b, ops, n, &err), 0);
    dc__body body;
    assert_int_equal(dc__body_decode(&body, b.ptr, b.size, &err), 0);
    assert_int_equal(body.nops, n);
    for (size_t i = 0; i < n; i++)
        assert_op_eq(&ops[i], &body.ops[i]);

    /* Re-encoding the decoded ops gives the same bytes: the encoding is
     * canonical, which the change id (a hash of the envelope) relies on. */
    dc_buf b2 = DC_BUF_INIT;
    assert_int_equal(dc__body_encode(&b2, body.ops, body.nops, &err), 0);
    assert_int_equal(b2.size, b.size);
    assert_memory_equal(b2.ptr, b.ptr, b.size);
    dc__body_free(&body);
    dc__body_free(&body); /* twice is harmless */

    /* The empty body. */
    dc__buf_clear(&b);
    assert_int_equal(dc__body_encode(&b, NULL, 0, &err), 0);
    assert_int_equal(dc__body_decode(&body, b.ptr, b.size, &err), 0);
    assert_int_equal(body.nops, 0);
    dc__body_free(&body);
    dc_buf_dispose(&b);
    dc_buf_dispose(&b2);
}

static void test_body_truncated(void **state) {
    (void)state;
    dc_buf b = DC_BUF_INIT;
    encode_sample(&b);
    for (size_t len = 0; len < b.size; len++) {
        /* Copy so that ASan sees a read past `len` as an overflow. */
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, b.ptr, len);
        dc__body body;
        dc__err err = {0, ""};
        int rc = dc__body_decode(&body, p, len, &err);
        assert_refused(rc, &err, DC_ECORRUPT);
        assert_null(body.mem);
        free(p);
    }
    dc_buf_dispose(&b);
}

static void test_body_trailing(void **state) {
    (void)state;
    dc_buf b = DC_BUF_INIT;
    encode_sample(&b);
    const uint8_t extra[] = {0x00, 0xc0, 0x90};
    for (size_t i = 0; i < sizeof extra; i++) {
        dc_buf t = DC_BUF_INIT;
        dc__buf_put(&t, b.ptr, b.size);
        dc__buf_put(&t, &extra[i], 1);
        dc__body body;
        dc__err err;
        assert_refused(dc__body_decode(&body, t.ptr, t.size, &err), &err, DC_ECORRUPT);
        dc_buf_dispose(&t);
    }
    /* A whole second body appended (from a copy: put may move b.ptr). */
    uint8_t *copy = malloc(b.size);
    memcpy(copy, b.ptr, b.size);
    dc__buf_put(&b, copy, b.size);
    free(copy);
    dc__body body;
    dc__err err;
    assert_refused(dc__body_decode(&body, b.ptr, b.size, &err), &err, DC_ECORRUPT);
    dc_buf_dispose(&b);
}

static void test_body_version(void **state) {
    (void)state;
    const uint8_t v3[] = {0x92, 0x03, 0x90};
    const uint8_t v0[] = {0x92, 0x00, 0x90};
    const uint8_t v1[] = {0x92, 0x01, 0x90};
    const uint8_t v2[] = {0x92, 0x02, 0x90};
    const uint8_t vbig[] = {0x92, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x90};
    dc__body body;
    dc__err err;
    assert_int_equal(dc__body_decode(&body, v1, sizeof v1, &err), 0);
    dc__body_free(&body);
    assert_int_equal(dc__body_decode(&body, v2, sizeof v2, &err), 0);
    dc__body_free(&body);
    assert_refused(dc__body_decode(&body, v3, sizeof v3, &err), &err, DC_EVERSION);
    assert_refused(dc__body_decode(&body, vbig, sizeof vbig, &err), &err, DC_EVERSION);
    assert_refused(dc__body_decode(&body, v0, sizeof v0, &err), &err, DC_ECORRUPT);
    /* Version 3 with a shape version 2 does not know is still "newer". */
    const uint8_t v3odd[] = {0x93, 0x03, 0x90, 0xc0};
    assert_refused(dc__body_decode(&body, v3odd, sizeof v3odd, &err), &err, DC_EVERSION);
}

static void test_body_unknown_op(void **state) {
    (void)state;
    const uint32_t kinds[] = {0, 6, 9, 200};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        mp m;
        mp_body1(&m, 1, 3);
        msgpack_pack_uint32(&m.pk, kinds[i]);
        mp_str(&m, "t");
        mp_str(&m, "i");
        dc__err err;
        assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    }
    /* A known kind with the wrong number of elements. */
    mp m;
    mp_body1(&m, 1, 4);
    msgpack_pack_uint32(&m.pk, DC_OP_SET);
    mp_str(&m, "t");
    mp_str(&m, "i");
    mp_str(&m, "f");
    dc__err err;
    assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
}

static void test_body_bad_utf8(void **state) {
    (void)state;
    /* The encoder does not judge its input; the decoder must. */
    const char *bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "a\0b"};
    size_t badlen[] = {1, 2, 3, 2, 3};
    for (size_t i = 0; i < 5; i++) {
        for (int where = 0; where < 4; where++) {
            dc__op op;
            memset(&op, 0, sizeof op);
            op.kind = DC_OP_SET;
            op.type = S("t");
            op.id = S("i");
            op.field = S("f");
            op.val = V_str("v");
            dc__str s = {bad[i], (uint32_t)badlen[i]};
            if (where == 0)
                op.type = s;
            else if (where == 1)
                op.id = s;
            else if (where == 2)
                op.field = s;
            else {
                op.val.str = s.p;
                op.val.len = s.n;
            }
            dc_buf b = DC_BUF_INIT;
            dc__err err;
            assert_int_equal(dc__body_encode(&b, &op, 1, &err), 0);
            dc__body body;
            assert_refused(dc__body_decode(&body, b.ptr, b.size, &err), &err, DC_ECORRUPT);
            dc_buf_dispose(&b);
        }
    }
    /* In an event key and an event value. */
    for (int where = 0; where < 2; where++) {
        dc__str k = where == 0 ? (dc__str){"\xfe", 1} : S("k");
        dc__value v = V_str("ok");
        if (where == 1) {
            v.str = "\xe2\x82";
            v.len = 2;
        }
        dc__op op;
        memset(&op, 0, sizeof op);
        op.kind = DC_OP_EVENT;
        op.type = S("t");
        op.id = S("i");
        op.nfields = 1;
        op.keys = &k;
        op.vals = &v;
        dc_buf b = DC_BUF_INIT;
        dc__err err;
        assert_int_equal(dc__body_encode(&b, &op, 1, &err), 0);
        dc__body body;
        assert_refused(dc__body_decode(&body, b.ptr, b.size, &err), &err, DC_ECORRUPT);
        dc_buf_dispose(&b);
    }
}

static void test_body_too_many(void **state) {
    (void)state;
    dc__body body;
    dc__err err;
    /* Counts far beyond the bytes present are refused before msgpack-c
     * allocates for them. */
    const uint8_t ops4g[] = {0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff};
    assert_refused(dc__body_decode(&body, ops4g, sizeof ops4g, &err), &err, DC_ECORRUPT);
    const uint8_t root4g[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_refused(dc__body_decode(&body, root4g, sizeof root4g, &err), &err, DC_ECORRUPT);
    const uint8_t map4g[] = {0x92, 0x01, 0x91, 0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02};
    assert_refused(dc__body_decode(&body, map4g, sizeof map4g, &err), &err, DC_ECORRUPT);
    const uint8_t str4g[] = {0x92, 0x01, 0x91, 0x93, 0x05, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    assert_refused(dc__body_decode(&body, str4g, sizeof str4g, &err), &err, DC_ECORRUPT);
    /* A tag list claiming 65536 entries, present only in part. */
    const uint8_t tags[] = {0x92, 0x01, 0x91, 0x96, 0x03, 0xa1, 't',  0xa1,
                            'i',  0xa1, 'f',  0xc0, 0xdc, 0xff, 0xff, 0x93};
    assert_refused(dc__body_decode(&body, tags, sizeof tags, &err), &err, DC_ECORRUPT);

    /* Deep nesting (beyond what the format uses) is refused, not recursed. */
    uint8_t deep[2 + 4000];
    deep[0] = 0x92;
    deep[1] = 0x01;
    memset(deep + 2, 0x91, sizeof deep - 3);
    deep[sizeof deep - 1] = 0x90;
    assert_refused(dc__body_decode(&body, deep, sizeof deep, &err), &err, DC_ECORRUPT);

    /* More ops than the format allows, every one of them present (as nil,
     * one byte each): DC_ETOOBIG. */
    size_t nops = DC_BODY_MAX_OPS + 1;
    uint8_t *big = malloc(nops + 16);
    assert_non_null(big);
    size_t n = 0;
    big[n++] = 0x92;
    big[n++] = 0x01;
    big[n++] = 0xdd;
    dc__store_be32(big + n, (uint32_t)nops);
    n += 4;
    memset(big + n, 0xc0, nops);
    n += nops;
    assert_refused(dc__body_decode(&body, big, n, &err), &err, DC_ETOOBIG);
    free(big);
}

static void test_body_wrong_types(void **state) {
    (void)state;
    dc__err err;
    mp m;
    /* Root not an array / ops not an array / op not an array. */
    const uint8_t notarr[] = {0x81, 0x01, 0x90};
    dc__body body;
    assert_refused(dc__body_decode(&body, notarr, sizeof notarr, &err), &err, DC_ECORRUPT);
    const uint8_t opsmap[] = {0x92, 0x01, 0x80};
    assert_refused(dc__body_decode(&body, opsmap, sizeof opsmap, &err), &err, DC_ECORRUPT);
    const uint8_t opnil[] = {0x92, 0x01, 0x91, 0xc0};
    assert_refused(dc__body_decode(&body, opnil, sizeof opnil, &err), &err, DC_ECORRUPT);
    const uint8_t verstr[] = {0x92, 0xa1, '1', 0x90};
    assert_refused(dc__body_decode(&body, verstr, sizeof verstr, &err), &err, DC_ECORRUPT);

    /* Kind as a string. */
    mp_body1(&m, 1, 3);
    mp_str(&m, "5");
    mp_str(&m, "t");
    mp_str(&m, "i");
    assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    /* Kind negative. */
    mp_body1(&m, 1, 3);
    msgpack_pack_int32(&m.pk, -5);
    mp_str(&m, "t");
    mp_str(&m, "i");
    assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    /* Type as an integer; id as bin; empty id; empty type. */
    for (int v = 0; v < 4; v++) {
        mp_body1(&m, 1, 3);
        msgpack_pack_uint32(&m.pk, DC_OP_DELETE);
        if (v == 0)
            msgpack_pack_int(&m.pk, 7);
        else
            mp_str(&m, v == 3 ? "" : "t");
        if (v == 1) {
            msgpack_pack_bin(&m.pk, 1);
            msgpack_pack_bin_body(&m.pk, "i", 1);
        } else {
            mp_str(&m, v == 2 ? "" : "i");
        }
        assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    }
    /* Values of kinds the format has no place for: float, double, bin, array,
     * map, ext, and an unsigned integer above INT64_MAX. */
    for (int v = 0; v < 7; v++) {
        mp_body1(&m, 1, 5);
        msgpack_pack_uint32(&m.pk, DC_OP_SET);
        mp_str(&m, "t");
        mp_str(&m, "i");
        mp_str(&m, "f");
        switch (v) {
        case 0: msgpack_pack_float(&m.pk, 1.5f); break;
        case 1: msgpack_pack_double(&m.pk, 2.5); break;
        case 2:
            msgpack_pack_bin(&m.pk, 2);
            msgpack_pack_bin_body(&m.pk, "ab", 2);
            break;
        case 3: msgpack_pack_array(&m.pk, 0); break;
        case 4: msgpack_pack_map(&m.pk, 0); break;
        case 5:
            msgpack_pack_ext(&m.pk, 1, 1);
            msgpack_pack_ext_body(&m.pk, "x", 1);
            break;
        default: msgpack_pack_uint64(&m.pk, (uint64_t)INT64_MAX + 1); break;
        }
        assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    }
    /* A field name beginning with '@' (reserved) and an empty field name. */
    for (int v = 0; v < 2; v++) {
        mp_body1(&m, 1, 5);
        msgpack_pack_uint32(&m.pk, DC_OP_SET);
        mp_str(&m, "t");
        mp_str(&m, "i");
        mp_str(&m, v ? "" : "@events");
        msgpack_pack_int(&m.pk, 1);
        assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    }
    /* Remove: tags not an array; tag with a short device id; negative seq. */
    for (int v = 0; v < 3; v++) {
        mp_body1(&m, 1, 6);
        msgpack_pack_uint32(&m.pk, DC_OP_REMOVE);
        mp_str(&m, "t");
        mp_str(&m, "i");
        mp_str(&m, "f");
        msgpack_pack_int(&m.pk, 1);
        if (v == 0) {
            msgpack_pack_nil(&m.pk);
        } else {
            uint8_t dev[32] = {0};
            msgpack_pack_array(&m.pk, 1);
            msgpack_pack_array(&m.pk, 3);
            msgpack_pack_bin(&m.pk, v == 1 ? 31 : 32);
            msgpack_pack_bin_body(&m.pk, dev, v == 1 ? 31 : 32);
            msgpack_pack_int64(&m.pk, v == 2 ? -1 : 1);
            msgpack_pack_uint32(&m.pk, 0);
        }
        assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    }
    /* Event: odd number of key/value elements; a repeated key; a map. */
    for (int v = 0; v < 3; v++) {
        mp_body1(&m, 1, 4);
        msgpack_pack_uint32(&m.pk, DC_OP_EVENT);
        mp_str(&m, "t");
        mp_str(&m, "i");
        if (v == 0) {
            msgpack_pack_array(&m.pk, 3);
            mp_str(&m, "k");
            msgpack_pack_int(&m.pk, 1);
            mp_str(&m, "j");
        } else if (v == 1) {
            msgpack_pack_array(&m.pk, 4);
            mp_str(&m, "k");
            msgpack_pack_int(&m.pk, 1);
            mp_str(&m, "k");
            msgpack_pack_int(&m.pk, 2);
        } else {
            msgpack_pack_map(&m.pk, 1);
            mp_str(&m, "k");
            msgpack_pack_int(&m.pk, 1);
        }
        assert_refused(mp_decode(&m, &err), &err, DC_ECORRUPT);
    }
    /* Event with more keys than the limit. */
    mp_body1(&m, 1, 4);
    msgpack_pack_uint32(&m.pk, DC_OP_EVENT);
    mp_str(&m, "t");
    mp_str(&m, "i");
    msgpack_pack_array(&m.pk, 2 * (DC_EVENT_MAX_FIELDS + 1));
    for (unsigned k = 0; k <= DC_EVENT_MAX_FIELDS; k++) {
        char key[16];
        snprintf(key, sizeof key, "k%u", k);
        mp_str(&m, key);
        msgpack_pack_int(&m.pk, (int)k);
    }
    int rc = mp_decode(&m, &err);
    assert_refused_any(rc, &err);
}

static void test_body_bit_flips(void **state) {
    (void)state;
    /* Flip every bit of a valid body: the decoder either accepts (a flip
     * can give another valid body) or refuses with a decoding error. */
    dc_buf b = DC_BUF_INIT;
    encode_sample(&b);
    for (size_t i = 0; i < b.size * 8; i++) {
        b.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
        dc__body body;
        dc__err err = {0, ""};
        int rc = dc__body_decode(&body, b.ptr, b.size, &err);
        if (rc == 0)
            dc__body_free(&body);
        else
            assert_refused_any(rc, &err);
        b.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    dc_buf_dispose(&b);
}

/* ---- the state column of a record (stored.c) ----
 *
 * The state column is read by a reader of its own layout, not by msgpack-c.
 * The reference below decodes the same bytes through msgpack-c's object
 * tree, as the library did before: the two must accept exactly the same
 * inputs and give the same entries, for valid states, for every encoding
 * msgpack-c may choose for a number, and for damaged bytes. */

typedef struct ref_state {
    uint64_t base;
    uint64_t obj[3][64]; /* per array: each scalar, folded to a comparable form */
    int type[3][64];
    const char *str[3][64];
    uint32_t len[3][64];
    uint32_t n[3];
} ref_state;

/* 1: accepted (r filled); 0: refused.  The old decoder's unpack (bounded
 * by a walk over the bytes first, as the library's: a damaged count would
 * otherwise have msgpack-c allocate for it) and its shape rules. */
static int ref_decode(const uint8_t *p, size_t n, ref_state *r) {
    static const int per[3] = {4, 6, 4};
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int ok = 0;
    /* Bounded first, as the old decoder was: msgpack-c alone allocates
     * what a damaged count claims (128 GiB for a flipped bit) before it
     * finds the data short, which a sanitizer's allocator refuses. */
    dc__err e = {0, ""};
    if (dc__msgpack_unpack_checked(&u, p, n, UINT64_MAX, "state", &e) != 0)
        goto out;
    const msgpack_object *root = &u.data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 4 ||
        root->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        root->via.array.ptr[0].via.u64 > (uint64_t)INT64_MAX)
        goto out;
    r->base = root->via.array.ptr[0].via.u64;
    for (int a = 0; a < 3; a++) {
        const msgpack_object *o = &root->via.array.ptr[a + 1];
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size % per[a] || o->via.array.size > 64)
            goto out;
        r->n[a] = o->via.array.size;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            const msgpack_object *x = &o->via.array.ptr[i];
            bool value = (a < 2 && i % per[a] == 1); /* the value of a register or an add */
            r->type[a][i] = x->type;
            r->str[a][i] = NULL;
            switch (x->type) {
            case MSGPACK_OBJECT_POSITIVE_INTEGER:
                if (x->via.u64 > (uint64_t)INT64_MAX)
                    goto out;
                r->obj[a][i] = x->via.u64;
                break;
            case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                if (!value)
                    goto out;
                r->obj[a][i] = (uint64_t)x->via.i64;
                break;
            case MSGPACK_OBJECT_NIL:
            case MSGPACK_OBJECT_BOOLEAN:
            case MSGPACK_OBJECT_STR:
                if (!value)
                    goto out;
                r->obj[a][i] = x->type == MSGPACK_OBJECT_BOOLEAN ? x->via.boolean : 0;
                r->str[a][i] = x->type == MSGPACK_OBJECT_STR ? x->via.str.ptr : NULL;
                r->len[a][i] = x->type == MSGPACK_OBJECT_STR ? x->via.str.size : 0;
                break;
            case MSGPACK_OBJECT_FLOAT32:
            case MSGPACK_OBJECT_FLOAT64: /* values of body format 2 */
                if (!value)
                    goto out;
                memcpy(&r->obj[a][i], &x->via.f64, sizeof x->via.f64);
                break;
            case MSGPACK_OBJECT_BIN:
                if (!value)
                    goto out;
                r->str[a][i] = x->via.bin.ptr;
                r->len[a][i] = x->via.bin.size;
                break;
            default: goto out;
            }
            /* Field numbers and op indexes are 32-bit. */
            bool u32 = i % per[a] == 0 || (a == 1 && i % per[a] == 4) || (a == 2 && i % 4 == 3);
            if (u32 && r->obj[a][i] > UINT32_MAX)
                goto out;
            /* Clocks are stored from the base: base + clock must not wrap. */
            bool clock = (a == 0 && i % 4 == 2) || (a == 1 && i % 6 == 5);
            if (clock && r->obj[a][i] > UINT64_MAX - r->base)
                goto out;
        }
    }
    ok = 1;
out:
    msgpack_unpacked_destroy(&u);
    return ok;
}

static void value_of(const ref_state *r, int a, uint32_t i, dc__value *v) {
    memset(v, 0, sizeof *v);
    switch (r->type[a][i]) {
    case MSGPACK_OBJECT_NIL: v->kind = DC_NULL; break;
    case MSGPACK_OBJECT_BOOLEAN:
        v->kind = DC_BOOL;
        v->num = (int64_t)r->obj[a][i];
        break;
    case MSGPACK_OBJECT_STR:
    case MSGPACK_OBJECT_BIN:
        v->kind = r->type[a][i] == MSGPACK_OBJECT_STR ? DC_STR : DC_BYTES;
        v->str = r->str[a][i];
        v->len = r->len[a][i];
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        double d;
        memcpy(&d, &r->obj[a][i], sizeof d);
        *v = dc__value_real(d);
        break;
    }
    default: v->kind = DC_INT; v->num = (int64_t)r->obj[a][i];
    }
}

/* dc__recdata_decode and the reference agree on p. */
static void assert_state_agrees(const uint8_t *p, size_t n) {
    ref_state r;
    memset(&r, 0, sizeof r);
    int want = n == 0 ? 1 : ref_decode(p, n, &r);
    dc__recdata d;
    dc__err err = {0, ""};
    int rc = dc__recdata_decode(p, n, &d, &err);
    if (!want) {
        assert_refused_any(rc, &err);
        return;
    }
    if (rc != 0)
        fail_msg("the reference accepts %zu bytes, the decoder says %s (%s)", n, dc_error_name(rc),
                 err.msg);
    assert_int_equal(d.nregs, r.n[0] / 4);
    assert_int_equal(d.nadds, r.n[1] / 6);
    assert_int_equal(d.nrm, r.n[2] / 4);
    for (size_t i = 0; i < d.nregs; i++) {
        dc__value v;
        value_of(&r, 0, (uint32_t)(4 * i + 1), &v);
        assert_int_equal(d.regs[i].fid, r.obj[0][4 * i]);
        assert_true(val_eq(&d.regs[i].val, &v));
        assert_true(d.regs[i].hlc == r.base + r.obj[0][4 * i + 2]);
        assert_true(d.regs[i].did == (int64_t)r.obj[0][4 * i + 3]);
    }
    for (size_t i = 0; i < d.nadds; i++) {
        dc__value v;
        value_of(&r, 1, (uint32_t)(6 * i + 1), &v);
        assert_int_equal(d.adds[i].fid, r.obj[1][6 * i]);
        assert_true(val_eq(&d.adds[i].val, &v));
        assert_true(d.adds[i].did == (int64_t)r.obj[1][6 * i + 2]);
        assert_true(d.adds[i].seq == r.obj[1][6 * i + 3]);
        assert_int_equal(d.adds[i].op, r.obj[1][6 * i + 4]);
        assert_true(d.adds[i].hlc == r.base + r.obj[1][6 * i + 5]);
    }
    for (size_t i = 0; i < d.nrm; i++) {
        assert_int_equal(d.rm[i].fid, r.obj[2][4 * i]);
        assert_true(d.rm[i].did == (int64_t)r.obj[2][4 * i + 1]);
        assert_true(d.rm[i].seq == r.obj[2][4 * i + 2]);
        assert_int_equal(d.rm[i].op, r.obj[2][4 * i + 3]);
    }
    dc__recdata_free(&d);
}

static void sample_state(dc_buf *out) {
    static char big[70000];
    memset(big, 'x', sizeof big - 1);
    dc__reg regs[5] = {
        {0, V_str("名字"), 1700000000000ull << 16, 1},
        {3, V_int(-5), (1700000000000ull << 16) + 9, 2},
        {70000, V_int(INT64_MAX), (1700000000000ull << 16) + 1, 300},
        {4, V_bool(1), (1700000000000ull << 16) + 2, 70000},
        {5, V_null(), (1700000000000ull << 16) + 3, 1},
    };
    regs[2].fid = 70000;
    dc__value longv = {DC_STR, 0, big, 300};
    dc__sadd adds[3] = {
        {1, V_str("a"), 1, 1, 0, 1700000000000ull << 16},
        {1, longv, 2, 5000000000ull, 65536, (1700000000000ull << 16) + 100},
        {2, V_int(INT64_MIN), 3, 7, 2, (1700000000000ull << 16) + 5},
    };
    dc__stag rm[2] = {{1, 2, 3, 4}, {9, 1, UINT32_MAX + 5ull, UINT32_MAX}};
    dc__recdata d = {regs, 5, adds, 3, rm, 2};
    dc__err err = {0, ""};
    assert_int_equal(dc__recdata_encode(out, &d, &err), 0);
}

static void test_state_round_trip(void **state) {
    (void)state;
    dc_buf b = DC_BUF_INIT;
    sample_state(&b);
    assert_state_agrees(b.ptr, b.size);
    dc__recdata d;
    dc__err err = {0, ""};
    assert_int_equal(dc__recdata_decode(b.ptr, b.size, &d, &err), 0);
    assert_int_equal(d.nregs, 5);
    assert_int_equal(d.nadds, 3);
    assert_int_equal(d.nrm, 2);
    assert_true(d.regs[1].val.kind == DC_INT && d.regs[1].val.num == -5);
    assert_true(d.regs[2].val.num == INT64_MAX && d.regs[2].fid == 70000);
    assert_true(d.adds[1].val.len == 300 && d.adds[1].seq == 5000000000ull);
    assert_true(d.adds[2].val.num == INT64_MIN);
    assert_true(d.rm[1].op == UINT32_MAX);
    dc__recdata_free(&d);
    /* An empty column is an empty state. */
    assert_int_equal(dc__recdata_decode(NULL, 0, &d, &err), 0);
    assert_int_equal(d.nregs + d.nadds + d.nrm, 0);
    dc_buf_dispose(&b);
}

static void test_state_damaged(void **state) {
    (void)state;
    dc_buf b = DC_BUF_INIT;
    sample_state(&b);
    /* Every truncation, every bit flip, a trailing byte. */
    for (size_t n = 0; n < b.size; n++)
        assert_state_agrees(b.ptr, n);
    for (size_t i = 0; i < b.size * 8; i++) {
        b.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_state_agrees(b.ptr, b.size);
        b.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    assert_int_equal(dc__buf_putc(&b, 0), 0);
    assert_state_agrees(b.ptr, b.size);
    dc_buf_dispose(&b);
}

/* Every encoding msgpack-c may write or read for the scalars of a state,
 * and the shapes the layout refuses. */
static void test_state_encodings(void **state) {
    (void)state;
    for (int shape = 0; shape < 40; shape++) {
        mp m;
        mp_init(&m);
        msgpack_pack_array(&m.pk, shape == 30 ? 3 : 4);
        if (shape == 31)
            msgpack_pack_int8(&m.pk, -1); /* a negative base */
        else
            msgpack_pack_uint64(&m.pk, 1000);
        msgpack_pack_array(&m.pk, shape == 32 ? 3 : 4);
        /* the field number */
        switch (shape) {
        case 1: msgpack_pack_int8(&m.pk, 7); break;
        case 2: msgpack_pack_int16(&m.pk, 700); break;
        case 3: msgpack_pack_int32(&m.pk, 70000); break;
        case 4: msgpack_pack_int64(&m.pk, 7); break;
        case 5: msgpack_pack_uint64(&m.pk, 7); break;
        case 6: msgpack_pack_uint64(&m.pk, 1ull << 32); break; /* not a field number */
        case 7: msgpack_pack_int8(&m.pk, -7); break;
        case 8: msgpack_pack_double(&m.pk, 7.0); break;
        case 9: mp_str(&m, "7"); break;
        default: msgpack_pack_uint8(&m.pk, 7);
        }
        /* the value */
        switch (shape) {
        case 10: msgpack_pack_int8(&m.pk, -100); break;
        case 11: msgpack_pack_int16(&m.pk, -30000); break;
        case 12: msgpack_pack_int32(&m.pk, -2000000000); break;
        case 13: msgpack_pack_int64(&m.pk, INT64_MIN); break;
        case 14: msgpack_pack_uint64(&m.pk, UINT64_MAX); break; /* beyond int64 */
        case 15: msgpack_pack_float(&m.pk, 1.5f); break;
        case 16: msgpack_pack_bin(&m.pk, 2), msgpack_pack_bin_body(&m.pk, "ab", 2); break;
        case 29: msgpack_pack_double(&m.pk, -0.25); break;
        case 17: msgpack_pack_map(&m.pk, 0); break;
        case 18: msgpack_pack_array(&m.pk, 0); break;
        case 19: msgpack_pack_v4raw(&m.pk, 3), msgpack_pack_v4raw_body(&m.pk, "abc", 3); break;
        case 20: msgpack_pack_true(&m.pk); break;
        case 21: msgpack_pack_nil(&m.pk); break;
        case 22:
            msgpack_pack_str(&m.pk, 40),
                msgpack_pack_str_body(&m.pk, "0123456789012345678901234567890123456789", 40);
            break;
        case 23: msgpack_pack_ext(&m.pk, 1, 1), msgpack_pack_ext_body(&m.pk, "x", 1); break;
        default: msgpack_pack_int16(&m.pk, 5);
        }
        /* the clock and the device */
        if (shape == 24)
            msgpack_pack_uint64(&m.pk, UINT64_MAX - 10); /* wraps past the base */
        else
            msgpack_pack_uint32(&m.pk, 3);
        if (shape == 25)
            msgpack_pack_int64(&m.pk, -1);
        else
            msgpack_pack_uint16(&m.pk, 300);
        if (shape != 32 && shape == 26)
            msgpack_pack_nil(&m.pk); /* one object too many */
        msgpack_pack_array(&m.pk, 0);
        msgpack_pack_array(&m.pk, shape == 27 ? 1 : 0);
        if (shape == 27)
            msgpack_pack_uint8(&m.pk, 1);
        if (shape == 28)
            msgpack_pack_nil(&m.pk); /* trailing */
        assert_state_agrees((const uint8_t *)m.sb.data, m.sb.size);
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* An array that claims more entries than there are bytes. */
    const uint8_t lie[] = {0x94, 0x00, 0xdd, 0x7f, 0xff, 0xff, 0xfc, 0x90, 0x90};
    assert_state_agrees(lie, sizeof lie);
    const uint8_t lie16[] = {0x94, 0x00, 0xdc, 0xff, 0xfc, 0x00};
    assert_state_agrees(lie16, sizeof lie16);
}

/* ---- membership body ---- */

static void test_member_round_trip(void **state) {
    (void)state;
    dc__member_op ops[3];
    memset(ops, 0, sizeof ops);
    ops[0].kind = DC_MOP_GENESIS;
    memset(ops[0].device, 0xa1, 32);
    memset(ops[0].box_pk, 0xb1, 32);
    memset(ops[0].nonce, 0xc1, 16);
    strcpy(ops[0].name, "secretary's tablet \xc3\xa7");
    for (int i = 1; i < 3; i++) {
        ops[i].kind = DC_MOP_GRANT;
        memset(ops[i].device, 0xa1 + i, 32);
        memset(ops[i].box_pk, 0xb1 + i, 32);
        ops[i].role = i == 1 ? DC_ROLE_READER : DC_ROLE_ADMIN;
        strcpy(ops[i].name, i == 1 ? "" : "driver \xf0\x9f\x9a\x9a");
        for (int k = 0; k < 80; k++)
            ops[i].sealed[k] = (uint8_t)(k * i);
        ops[i].epoch = i == 1 ? 0 : UINT32_MAX;
    }
    dc_buf b = DC_BUF_INIT;
    dc__err err;
    assert_int_equal(dc__member_encode_version(&b, ops, 3, 1, &err), 0);
    dc__member_op *got = NULL;
    size_t n = 0;
    assert_int_equal(dc__member_decode(&got, &n, b.ptr, b.size, &err), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].kind, ops[i].kind);
        assert_memory_equal(got[i].device, ops[i].device, 32);
        assert_memory_equal(got[i].box_pk, ops[i].box_pk, 32);
        assert_string_equal(got[i].name, ops[i].name);
        if (ops[i].kind == DC_MOP_GENESIS) {
            assert_memory_equal(got[i].nonce, ops[i].nonce, 16);
            assert_int_equal(got[i].role, DC_ROLE_ADMIN);
        } else {
            assert_int_equal(got[i].role, ops[i].role);
            assert_memory_equal(got[i].sealed, ops[i].sealed, 80);
            assert_true(got[i].epoch == ops[i].epoch);
        }
    }
    dc__free(got);

    /* Truncated at every length, and trailing bytes. */
    for (size_t len = 0; len < b.size; len++) {
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, b.ptr, len);
        got = (dc__member_op *)1;
        int rc = dc__member_decode(&got, &n, p, len, &err);
        assert_refused(rc, &err, DC_ECORRUPT);
        assert_null(got);
        assert_int_equal(n, 0);
        free(p);
    }
    dc__buf_putc(&b, 0);
    assert_refused(dc__member_decode(&got, &n, b.ptr, b.size, &err), &err, DC_ECORRUPT);
    dc_buf_dispose(&b);

    /* No ops, version 4, a role out of range, a name too long. */
    const uint8_t empty[] = {0x92, 0x01, 0x90};
    assert_refused(dc__member_decode(&got, &n, empty, sizeof empty, &err), &err, DC_ECORRUPT);
    const uint8_t v4[] = {0x92, 0x04, 0x91, 0xc0};
    assert_refused(dc__member_decode(&got, &n, v4, sizeof v4, &err), &err, DC_EVERSION);
    for (int v = 0; v < 2; v++) {
        ops[1].role = v == 0 ? 4 : 0;
        dc_buf t = DC_BUF_INIT;
        assert_int_equal(dc__member_encode_version(&t, &ops[1], 1, 1, &err), 0);
        assert_refused(dc__member_decode(&got, &n, t.ptr, t.size, &err), &err, DC_ECORRUPT);
        dc_buf_dispose(&t);
    }
    ops[1].role = DC_ROLE_MEMBER;
    ops[1].name[0] = (char)0xff;
    ops[1].name[1] = 0;
    dc_buf t = DC_BUF_INIT;
    assert_int_equal(dc__member_encode_version(&t, &ops[1], 1, 1, &err), 0);
    assert_refused(dc__member_decode(&got, &n, t.ptr, t.size, &err), &err, DC_ECORRUPT);
    dc_buf_dispose(&t);
}

/* Version 2: no names in clear, `upto` on grants and removals, rotations
 * with their lockbox, keys sealed to one member. */
/* Membership body v3: the clear compaction point (docs/format/body.md). */
static void test_member_v3_compact(void **state) {
    (void)state;
    dc__err err;
    uint8_t vec[13 + 2 * 40], dead[64];
    memset(vec, 0, sizeof vec);
    vec[0] = 1;
    vec[12] = 2;
    memset(vec + 13, 0x11, 32);
    vec[13 + 39] = 5;
    memset(vec + 53, 0x22, 32);
    vec[53 + 39] = 7;
    memset(dead, 0x33, sizeof dead);
    dc__member_op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_MOP_COMPACT;
    op.point = vec;
    op.point_len = sizeof vec;
    op.dead = dead;
    op.ndead = 2;
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc__member_encode(&b, &op, 1, &err), 0);
    assert_int_equal(b.ptr[1], 3); /* written as version 3 */
    dc__member_op *got;
    size_t n;
    assert_int_equal(dc__member_decode(&got, &n, b.ptr, b.size, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].kind, DC_MOP_COMPACT);
    assert_int_equal(got[0].point_len, sizeof vec);
    assert_memory_equal(got[0].point, vec, sizeof vec);
    assert_int_equal(got[0].ndead, 2);
    assert_memory_equal(got[0].dead, dead, sizeof dead);
    dc__free(got);
    /* Not in version 2; a body without one stays version 2. */
    assert_int_equal(dc__member_encode_version(&b, &op, 1, 2, &err), DC_EINVAL);
    dc__buf_clear(&b);
    assert_int_equal(dc__member_encode(&b, &op, 1, &err), 0);
    b.ptr[1] = 2; /* the same op in a body that says version 2 */
    assert_refused(dc__member_decode(&got, &n, b.ptr, b.size, &err), &err, DC_ECORRUPT);
    /* Keys out of order, a zero seq, a count that does not match, dead ids
     * not a multiple of 32 bytes: damage. */
    for (int k = 0; k < 4; k++) {
        uint8_t v2[sizeof vec];
        memcpy(v2, vec, sizeof vec);
        op.point = v2;
        op.point_len = sizeof vec;
        op.ndead = 2;
        if (k == 0)
            memset(v2 + 53, 0x01, 32);
        else if (k == 1)
            v2[13 + 39] = 0;
        else if (k == 2)
            v2[12] = 3;
        dc__buf_clear(&b);
        assert_int_equal(dc__member_encode(&b, &op, 1, &err), 0);
        if (k == 3) { /* the dead list's bin32 header 0xc4 0x40 -> 63 bytes */
            size_t at = b.size - 64 - 1;
            assert_int_equal(b.ptr[at], 64);
            b.ptr[at] = 63;
            b.size--;
        }
        assert_refused(dc__member_decode(&got, &n, b.ptr, b.size, &err), &err, DC_ECORRUPT);
    }
    dc_buf_dispose(&b);
}

static void test_member_v2(void **state) {
    (void)state;
    uint8_t lockbox[24 + 36 + 16];
    for (size_t k = 0; k < sizeof lockbox; k++)
        lockbox[k] = (uint8_t)(k * 7);
    dc__member_op ops[5];
    memset(ops, 0, sizeof ops);
    ops[0].kind = DC_MOP_GENESIS;
    memset(ops[0].device, 0xa1, 32);
    memset(ops[0].box_pk, 0xb1, 32);
    memset(ops[0].nonce, 0xc1, 16);
    strcpy(ops[0].name, "never written in version 2");
    ops[1].kind = DC_MOP_GRANT;
    memset(ops[1].device, 0xa2, 32);
    memset(ops[1].box_pk, 0xb2, 32);
    ops[1].role = DC_ROLE_READER;
    ops[1].upto = (uint64_t)INT64_MAX;
    ops[1].epoch = 7;
    memset(ops[1].sealed, 0x5a, 80);
    ops[2].kind = DC_MOP_REMOVE;
    memset(ops[2].device, 0xa3, 32);
    ops[2].upto = 41;
    ops[3].kind = DC_MOP_ROTATE;
    ops[3].epoch = 8;
    memset(ops[3].kid, 0x3c, DC_KEY_ID);
    ops[3].lockbox = lockbox;
    ops[3].lockbox_len = sizeof lockbox;
    ops[4].kind = DC_MOP_KEY;
    memset(ops[4].device, 0xa4, 32);
    ops[4].epoch = 8;
    memset(ops[4].sealed, 0x6b, 80);
    dc_buf b = DC_BUF_INIT;
    dc__err err;
    assert_int_equal(dc__member_encode(&b, ops, 5, &err), 0);
    /* The name of a genesis is not in the bytes. */
    for (size_t k = 0; k + 13 <= b.size; k++)
        assert_true(memcmp(b.ptr + k, "never written", 13) != 0);
    dc__member_op *got = NULL;
    size_t n = 0;
    assert_int_equal(dc__member_decode(&got, &n, b.ptr, b.size, &err), 0);
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(got[i].kind, ops[i].kind);
        assert_int_equal(got[i].version, 2);
    }
    assert_string_equal(got[0].name, "");
    assert_memory_equal(got[0].nonce, ops[0].nonce, 16);
    assert_int_equal(got[1].role, DC_ROLE_READER);
    assert_true(got[1].upto == (uint64_t)INT64_MAX);
    assert_int_equal(got[1].epoch, 7);
    assert_memory_equal(got[1].sealed, ops[1].sealed, 80);
    assert_memory_equal(got[2].device, ops[2].device, 32);
    assert_true(got[2].upto == 41);
    assert_int_equal(got[3].epoch, 8);
    assert_memory_equal(got[3].kid, ops[3].kid, DC_KEY_ID);
    assert_int_equal(got[3].lockbox_len, sizeof lockbox);
    assert_memory_equal(got[3].lockbox, lockbox, sizeof lockbox);
    assert_memory_equal(got[4].device, ops[4].device, 32);
    assert_memory_equal(got[4].sealed, ops[4].sealed, 80);
    dc__free(got);
    for (size_t len = 0; len < b.size; len++) {
        int rc = dc__member_decode(&got, &n, b.ptr, len, &err);
        assert_refused(rc, &err, DC_ECORRUPT);
    }
    dc_buf_dispose(&b);
    /* Each op alone, broken one way: refused as malformed. */
    dc__member_op m;
    dc_buf t = DC_BUF_INIT;
    m = ops[3];
    m.epoch = 0; /* a rotation to epoch 0 */
    assert_int_equal(dc__member_encode(&t, &m, 1, &err), 0);
    assert_refused(dc__member_decode(&got, &n, t.ptr, t.size, &err), &err, DC_ECORRUPT);
    dc__buf_clear(&t);
    m = ops[3];
    m.lockbox_len = DC_LOCKBOX_MIN - 1; /* a lockbox too short to hold a tag */
    assert_int_equal(dc__member_encode(&t, &m, 1, &err), 0);
    assert_refused(dc__member_decode(&got, &n, t.ptr, t.size, &err), &err, DC_ECORRUPT);
    dc__buf_clear(&t);
    m = ops[2];
    m.upto = (uint64_t)INT64_MAX + 1; /* beyond any sequence number */
    assert_int_equal(dc__member_encode(&t, &m, 1, &err), 0);
    assert_refused(dc__member_decode(&got, &n, t.ptr, t.size, &err), &err, DC_ECORRUPT);
    dc__buf_clear(&t);
    /* Version 1 has no removals: the encoder refuses to write one. */
    assert_int_equal(dc__member_encode_version(&t, &ops[2], 1, 1, &err), DC_EINVAL);
    dc_buf_dispose(&t);
}

/* ---- zstd ---- */

static void test_zstd_round_trip(void **state) {
    (void)state;
    size_t n = 300000;
    uint8_t *in = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        in[i] = i % 7 == 0 ? (uint8_t)(x >> 24) : (uint8_t) "truck fleet "[i % 12];
    }
    dc_buf z = DC_BUF_INIT, out = DC_BUF_INIT;
    dc__err err;
    assert_int_equal(dc__zstd_compress(&z, in, n, 3, &err), 0);
    assert_true(z.size < n);
    assert_int_equal(dc__zstd_decompress(&out, z.ptr, z.size, n, &err), 0);
    assert_int_equal(out.size, n);
    assert_memory_equal(out.ptr, in, n);
    /* One byte less room than the content is refused. */
    dc__buf_clear(&out);
    assert_refused(dc__zstd_decompress(&out, z.ptr, z.size, n - 1, &err), &err, DC_ETOOBIG);

    /* Reusable contexts across many frames, and the empty input. */
    void *cc = NULL, *dc = NULL;
    for (size_t len = 0; len < 2000; len += 199) {
        dc__buf_clear(&z);
        dc__buf_clear(&out);
        assert_int_equal(dc__zstd_compress_with(&cc, &z, in, len, 1, &err), 0);
        assert_int_equal(dc__zstd_decompress_with(&dc, &out, z.ptr, z.size, len, &err), 0);
        assert_int_equal(out.size, len);
        if (len)
            assert_memory_equal(out.ptr, in, len);
    }
    dc__zstd_free_ctx(cc, dc);
    dc__zstd_free_ctx(NULL, NULL);
    free(in);
    dc_buf_dispose(&z);
    dc_buf_dispose(&out);
}

static void test_zstd_bomb(void **state) {
    (void)state;
    /* 10 MB of zeros compress to a few hundred bytes; with a 1 MB limit the
     * decoder must refuse before allocating the 10 MB. */
    size_t n = 10u << 20;
    uint8_t *zeros = calloc(1, n);
    assert_non_null(zeros);
    dc_buf z = DC_BUF_INIT, out = DC_BUF_INIT;
    dc__err err;
    assert_int_equal(dc__zstd_compress(&z, zeros, n, 3, &err), 0);
    free(zeros);
    assert_true(z.size < 4096);
    assert_refused(dc__zstd_decompress(&out, z.ptr, z.size, 1u << 20, &err), &err, DC_ETOOBIG);
    assert_true(out.asize < (1u << 20)); /* nothing big was allocated */
    dc_buf_dispose(&z);
    dc_buf_dispose(&out);
}

static void test_zstd_garbage(void **state) {
    (void)state;
    dc_buf out = DC_BUF_INIT;
    dc__err err;
    const uint8_t junk[] = "this is not a zstd frame at all";
    assert_refused(dc__zstd_decompress(&out, junk, sizeof junk, 1000, &err), &err, DC_ECORRUPT);
    assert_refused(dc__zstd_decompress(&out, junk, 0, 1000, &err), &err, DC_ECORRUPT);

    /* A real frame, truncated at every length and with a trailing byte. */
    const char *text = "drivercore drivercore drivercore drivercore drivercore 0123456789";
    dc_buf z = DC_BUF_INIT;
    assert_int_equal(dc__zstd_compress(&z, (const uint8_t *)text, strlen(text), 3, &err), 0);
    for (size_t len = 0; len < z.size; len++) {
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, z.ptr, len);
        dc__buf_clear(&out);
        int rc = dc__zstd_decompress(&out, p, len, 1000, &err);
        assert_refused(rc, &err, DC_ECORRUPT);
        free(p);
    }
    dc__buf_putc(&z, 0);
    dc__buf_clear(&out);
    assert_refused(dc__zstd_decompress(&out, z.ptr, z.size, 1000, &err), &err, DC_ECORRUPT);
    z.size--;

    /* Bit flips in the frame: refused, or (a flip in a literal) decoded to
     * exactly the declared size; never more than the limit. */
    for (size_t i = 0; i < z.size * 8; i++) {
        z.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
        dc__buf_clear(&out);
        int rc = dc__zstd_decompress(&out, z.ptr, z.size, 1000, &err);
        if (rc == 0)
            assert_true(out.size <= 1000);
        else
            assert_refused_any(rc, &err);
        z.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    dc_buf_dispose(&z);
    dc_buf_dispose(&out);
}

/* ---- envelope framing ---- */

/* A syntactically valid envelope (no real crypto: parse does none). */
static size_t make_envelope(uint8_t *buf, int kind, uint32_t payload_len) {
    dc__envelope e;
    memset(&e, 0, sizeof e);
    e.version = DC_ENV_VERSION;
    e.kind = (uint8_t)kind;
    e.cipher = kind == DC_ENV_KIND_CHANGE ? DC_CIPHER_XCHACHA20POLY1305 : DC_CIPHER_NONE;
    e.comp = kind == DC_ENV_KIND_CHANGE ? DC_COMP_ZSTD : DC_COMP_NONE;
    for (int i = 0; i < 16; i++)
        e.space[i] = (uint8_t)(0x10 + i);
    e.epoch = 0x01020304;
    for (int i = 0; i < 32; i++)
        e.author[i] = (uint8_t)(0x80 + i);
    e.seq = UINT64_C(0x1112131415161718);
    e.hlc_min = UINT64_C(0x2122232425262728);
    e.hlc_max = UINT64_C(0x3132333435363738);
    e.payload_len = payload_len;
    dc__envelope_write_header(buf, &e);
    for (int i = 0; i < 24; i++)
        buf[DC_ENV_NONCE_OFFSET + i] = kind == DC_ENV_KIND_CHANGE ? (uint8_t)(0xe0 + i) : 0;
    for (uint32_t i = 0; i < payload_len; i++)
        buf[DC_ENV_HEADER_SIZE + i] = (uint8_t)i;
    memset(buf + DC_ENV_HEADER_SIZE + payload_len, 0x5a, DC_ENV_SIG_SIZE);
    return DC_ENV_HEADER_SIZE + payload_len + DC_ENV_SIG_SIZE;
}

static void test_envelope_layout(void **state) {
    (void)state;
    uint8_t buf[512];
    size_t n = make_envelope(buf, DC_ENV_KIND_CHANGE, 40);
    assert_int_equal(n, 112 + 40 + 64);
    assert_int_equal(DC_ENV_HEADER_SIZE, 112);
    assert_int_equal(DC_ENV_NONCE_OFFSET, 88);
    /* The golden header layout of docs/format/envelope.md, byte by byte. */
    const uint8_t golden[112] = {
        /* 0: magic, version, flags, kind, cipher, compression */
        'D',  'C',  'E',  0x01, 0x00, 0x01, 0x01, 0x01, 0x10, 0x11, 0x12, 0x13, 0x14,
        0x15, 0x16, 0x17,                                                       /* 8: space id */
        0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x01, 0x02, 0x03, 0x04, /* 24: epoch, big
                                                                                   endian */
        0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,                         /* 28: author */
        0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0x11, 0x12,
        0x13, 0x14, 0x15, 0x16, 0x17, 0x18,             /* 60: seq */
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* 68: hlc_min */
        0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, /* 76: hlc_max */
        0x00, 0x00, 0x00, 0x28,                         /* 84: payload length */
        0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, /* 88: nonce */
        0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4,
        0xf5, 0xf6, 0xf7,
    };
    assert_memory_equal(buf, golden, 112);

    dc__envelope e;
    dc__err err;
    assert_int_equal(dc__envelope_parse(&e, buf, n, &err), 0);
    assert_int_equal(e.version, 1);
    assert_int_equal(e.flags, 0);
    assert_int_equal(e.kind, DC_ENV_KIND_CHANGE);
    assert_int_equal(e.cipher, DC_CIPHER_XCHACHA20POLY1305);
    assert_int_equal(e.comp, DC_COMP_ZSTD);
    assert_memory_equal(e.space, golden + 8, 16);
    assert_true(e.epoch == 0x01020304);
    assert_memory_equal(e.author, golden + 28, 32);
    assert_true(e.seq == UINT64_C(0x1112131415161718));
    assert_true(e.hlc_min == UINT64_C(0x2122232425262728));
    assert_true(e.hlc_max == UINT64_C(0x3132333435363738));
    assert_int_equal(e.payload_len, 40);
    assert_ptr_equal(e.nonce, buf + 88);
    assert_ptr_equal(e.payload, buf + 112);
    assert_ptr_equal(e.sig, buf + 152);
    assert_ptr_equal(e.raw, buf);
    assert_int_equal(e.raw_len, n);

    /* A clear membership envelope with an empty payload is well formed. */
    n = make_envelope(buf, DC_ENV_KIND_MEMBERSHIP, 0);
    assert_int_equal(dc__envelope_parse(&e, buf, n, &err), 0);
    assert_int_equal(e.kind, DC_ENV_KIND_MEMBERSHIP);
    assert_int_equal(e.payload_len, 0);
}

static void expect_parse(const uint8_t *p, size_t n, int want) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    dc__envelope e;
    dc__err err = {0, ""};
    assert_refused(dc__envelope_parse(&e, copy, n, &err), &err, want);
    free(copy);
}

static void test_envelope_rejects(void **state) {
    (void)state;
    uint8_t good[512], b[512];
    size_t n = make_envelope(good, DC_ENV_KIND_CHANGE, 40);
#define MUTATE(stmt, want)                                                                         \
    do {                                                                                           \
        memcpy(b, good, n);                                                                        \
        stmt;                                                                                      \
        expect_parse(b, n, want);                                                                  \
    } while (0)
    MUTATE(b[0] = 'X', DC_ECORRUPT); /* bad magic */
    MUTATE(b[2] = 'B', DC_ECORRUPT); /* a bundle's magic */
    MUTATE(b[3] = 2, DC_EVERSION);   /* version 2 */
    MUTATE(b[3] = 255, DC_EVERSION);
    MUTATE(b[3] = 0, DC_ECORRUPT); /* version 0 */
    MUTATE(b[4] = 1, DC_ECORRUPT); /* reserved flags */
    MUTATE(b[4] = 0x80, DC_ECORRUPT);
    MUTATE(b[5] = 0, DC_ECORRUPT); /* unknown kind */
    MUTATE(b[5] = 3, DC_ECORRUPT);
    MUTATE(b[6] = 0, DC_ECORRUPT); /* a change in clear */
    MUTATE(b[6] = 2, DC_ECORRUPT); /* unknown cipher id */
    MUTATE(b[6] = 0xff, DC_ECORRUPT);
    MUTATE(b[7] = 2, DC_ECORRUPT); /* unknown compression id */
    MUTATE(b[7] = 0x7f, DC_ECORRUPT);
    MUTATE(dc__store_be32(b + 84, 41), DC_ECORRUPT); /* overruns by one */
    MUTATE(dc__store_be32(b + 84, 39), DC_ECORRUPT); /* stops short by one */
    MUTATE(dc__store_be32(b + 84, UINT32_MAX), DC_ECORRUPT);
    MUTATE(dc__store_be32(b + 84, UINT32_MAX - 111), DC_ECORRUPT);
    MUTATE(dc__store_be64(b + 60, 0), DC_ECORRUPT);                            /* sequence 0 */
    MUTATE(dc__store_be64(b + 68, UINT64_C(0x3132333435363739)), DC_ECORRUPT); /* min > max */
#undef MUTATE
    /* Truncated at every length. */
    for (size_t len = 0; len < n; len++)
        expect_parse(good, len, DC_ECORRUPT);
    /* A ciphertext shorter than its tag. */
    n = make_envelope(good, DC_ENV_KIND_CHANGE, DC_ENV_MAC_SIZE - 1);
    expect_parse(good, n, DC_ECORRUPT);
    /* A clear envelope with a non-zero nonce, and one that claims a cipher. */
    n = make_envelope(good, DC_ENV_KIND_MEMBERSHIP, 20);
    memcpy(b, good, n);
    b[DC_ENV_NONCE_OFFSET + 23] = 1;
    expect_parse(b, n, DC_ECORRUPT);
    memcpy(b, good, n);
    b[6] = DC_CIPHER_XCHACHA20POLY1305;
    expect_parse(b, n, DC_ECORRUPT);
    /* Over the size limit: refused from the length alone. */
    size_t huge = (size_t)DC_ENV_MAX_SIZE + 1;
    uint8_t *big = calloc(1, huge);
    assert_non_null(big);
    make_envelope(big, DC_ENV_KIND_CHANGE, 40);
    dc__store_be32(big + 84, (uint32_t)(huge - DC_ENV_HEADER_SIZE - DC_ENV_SIG_SIZE));
    dc__envelope e;
    dc__err err;
    assert_refused(dc__envelope_parse(&e, big, huge, &err), &err, DC_ETOOBIG);
    free(big);
    assert_refused(dc__envelope_parse(&e, NULL, 0, &err), &err, DC_ECORRUPT);
}

/* ---- bundle framing ---- */

typedef struct collected {
    uint64_t n;
    uint8_t *env[8];
    size_t len[8];
    int stop_at; /* return an error from the callback at this index, or -1 */
} collected;

static int collect(void *user, uint64_t index, const uint8_t *env, size_t n) {
    collected *c = user;
    if ((int)index == c->stop_at)
        return DC_EUSER;
    assert_true(index == c->n);
    assert_true(c->n < 8);
    c->env[c->n] = malloc(n ? n : 1);
    memcpy(c->env[c->n], env, n);
    c->len[c->n] = n;
    c->n++;
    return 0;
}

static void collected_free(collected *c) {
    for (uint64_t i = 0; i < c->n; i++)
        free(c->env[i]);
    memset(c, 0, sizeof *c);
}

static void sample_bundle(dc_buf *b, uint8_t envs[3][512], size_t lens[3]) {
    lens[0] = make_envelope(envs[0], DC_ENV_KIND_MEMBERSHIP, 30);
    lens[1] = make_envelope(envs[1], DC_ENV_KIND_CHANGE, 16);
    lens[2] = make_envelope(envs[2], DC_ENV_KIND_CHANGE, 100);
    assert_int_equal(dc__bundle_begin(b), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dc__bundle_add(b, envs[i], lens[i]), 0);
    assert_int_equal(dc__bundle_finish(b), 0);
}

static int parse_copy(const uint8_t *p, size_t n, collected *c, dc__err *err) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    uint64_t count = 99;
    int rc = dc__bundle_parse(copy, n, &count, collect, c, err);
    if (rc == 0)
        assert_true(count == c->n);
    else
        assert_true(count == 0);
    free(copy);
    return rc;
}

static void test_bundle_round_trip(void **state) {
    (void)state;
    uint8_t envs[3][512];
    size_t lens[3];
    dc_buf b = DC_BUF_INIT;
    sample_bundle(&b, envs, lens);
    size_t want =
        DC_BUNDLE_HEADER_SIZE + 3 * 4 + lens[0] + lens[1] + lens[2] + DC_BUNDLE_TRAILER_SIZE;
    assert_int_equal(b.size, want);
    /* The header: magic, version 1, zero flags/compression/reserved, count. */
    const uint8_t hdr[16] = {'D', 'C', 'B', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
    assert_memory_equal(b.ptr, hdr, 16);
    /* The trailer: BLAKE2b-256 of everything before it. */
    uint8_t h[32];
    crypto_generichash(h, 32, b.ptr, b.size - 32, NULL, 0);
    assert_memory_equal(b.ptr + b.size - 32, h, 32);

    collected c = {.stop_at = -1};
    dc__err err;
    assert_int_equal(parse_copy(b.ptr, b.size, &c, &err), 0);
    assert_true(c.n == 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c.len[i], lens[i]);
        assert_memory_equal(c.env[i], envs[i], lens[i]);
    }
    collected_free(&c);

    /* The callback's error stops the walk and is returned as is. */
    c.stop_at = 1;
    assert_int_equal(parse_copy(b.ptr, b.size, &c, &err), DC_EUSER);
    assert_true(c.n == 1);
    collected_free(&c);

    /* No callback: only the framing is checked. */
    uint64_t count = 0;
    assert_int_equal(dc__bundle_parse(b.ptr, b.size, &count, NULL, NULL, &err), 0);
    assert_true(count == 3);

    /* The empty bundle. */
    dc_buf e = DC_BUF_INIT;
    assert_int_equal(dc__bundle_begin(&e), 0);
    assert_int_equal(dc__bundle_finish(&e), 0);
    assert_int_equal(e.size, 48);
    c.stop_at = -1;
    assert_int_equal(parse_copy(e.ptr, e.size, &c, &err), 0);
    assert_true(c.n == 0);
    /* begin clears a buffer that is reused. */
    assert_int_equal(dc__bundle_begin(&b), 0);
    assert_int_equal(b.size, 16);
    dc_buf_dispose(&e);
    dc_buf_dispose(&b);
}

static void test_bundle_truncated_and_flipped(void **state) {
    (void)state;
    uint8_t envs[3][512];
    size_t lens[3];
    dc_buf b = DC_BUF_INIT;
    sample_bundle(&b, envs, lens);
    dc__err err;
    for (size_t len = 0; len < b.size; len++) {
        collected c = {.stop_at = -1};
        assert_refused(parse_copy(b.ptr, len, &c, &err), &err, DC_ECORRUPT);
        /* Nothing is handed out before the whole file checks out. */
        assert_true(c.n == 0);
        collected_free(&c);
    }
    /* Every single-bit flip anywhere is caught by the trailing hash (or, in
     * the version byte, by the version check). */
    for (size_t i = 0; i < b.size * 8; i++) {
        b.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
        collected c = {.stop_at = -1};
        int rc = parse_copy(b.ptr, b.size, &c, &err);
        assert_true(rc == DC_ECORRUPT || rc == DC_EVERSION);
        assert_true(strlen(err.msg) > 0);
        assert_true(c.n == 0);
        collected_free(&c);
        b.ptr[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* A byte appended. */
    dc__buf_putc(&b, 0);
    collected c = {.stop_at = -1};
    assert_refused(parse_copy(b.ptr, b.size, &c, &err), &err, DC_ECORRUPT);
    dc_buf_dispose(&b);
}

/* Re-hashes a bundle after a mutation, so the framing checks behind the
 * trailer are reached. */
static void rehash(dc_buf *b) {
    crypto_generichash(b->ptr + b->size - 32, 32, b->ptr, b->size - 32, NULL, 0);
}

static void test_bundle_framing_rejects(void **state) {
    (void)state;
    uint8_t envs[3][512];
    size_t lens[3];
    dc_buf good = DC_BUF_INIT, b = DC_BUF_INIT;
    sample_bundle(&good, envs, lens);
    dc__err err;
    collected c = {.stop_at = -1};
    /* `early`: the fault is in the header, found before any envelope is
     * handed out.  A count that disagrees with the envelopes present is
     * only found by walking them (import's transaction makes that safe). */
#define MUTATE_(stmt, want, early)                                                                 \
    do {                                                                                           \
        dc__buf_clear(&b);                                                                         \
        dc__buf_put(&b, good.ptr, good.size);                                                      \
        stmt;                                                                                      \
        rehash(&b);                                                                                \
        assert_refused(parse_copy(b.ptr, b.size, &c, &err), &err, want);                           \
        if (early)                                                                                 \
            assert_true(c.n == 0);                                                                 \
        collected_free(&c);                                                                        \
        c.stop_at = -1;                                                                            \
    } while (0)
#define MUTATE(stmt, want) MUTATE_(stmt, want, 1)
    MUTATE(b.ptr[0] = 'X', DC_ECORRUPT);
    MUTATE(b.ptr[3] = 2, DC_EVERSION);
    MUTATE(b.ptr[3] = 0, DC_ECORRUPT);
    MUTATE(b.ptr[4] = 1, DC_ECORRUPT); /* flags */
    MUTATE(b.ptr[5] = 1, DC_ECORRUPT); /* compression id */
    MUTATE(b.ptr[6] = 1, DC_ECORRUPT); /* reserved */
    MUTATE(b.ptr[7] = 0x80, DC_ECORRUPT);
    MUTATE_(dc__store_be64(b.ptr + 8, 2), DC_ECORRUPT, 0); /* fewer declared than present */
    MUTATE_(dc__store_be64(b.ptr + 8, 4), DC_ECORRUPT, 0); /* more declared than present */
    MUTATE_(dc__store_be64(b.ptr + 8, 0), DC_ECORRUPT, 0);
    MUTATE(dc__store_be64(b.ptr + 8, UINT64_MAX), DC_ETOOBIG);
    /* The first length runs past the end; the first length claims more
     * than an envelope may hold. */
    MUTATE(dc__store_be32(b.ptr + 16, (uint32_t)(b.size)), DC_ECORRUPT);
    MUTATE(dc__store_be32(b.ptr + 16, DC_ENV_MAX_SIZE + 1), DC_ETOOBIG);
    MUTATE(dc__store_be32(b.ptr + 16, UINT32_MAX), DC_ETOOBIG);
#undef MUTATE
#undef MUTATE_
    /* A length prefix cut in half before the trailer. */
    dc__buf_clear(&b);
    dc__bundle_begin(&b);
    dc__bundle_add(&b, envs[1], lens[1]);
    dc__buf_put(&b, "\0\0", 2);
    dc__bundle_finish(&b);
    assert_refused(parse_copy(b.ptr, b.size, &c, &err), &err, DC_ECORRUPT);
    /* Adding an envelope over the size limit is refused at the source. */
    assert_int_equal(dc__bundle_add(&b, envs[0], (size_t)DC_ENV_MAX_SIZE + 1), DC_ETOOBIG);
    collected_free(&c);
    dc_buf_dispose(&good);
    dc_buf_dispose(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_round_trip),
        cmocka_unit_test(test_body_truncated),
        cmocka_unit_test(test_body_trailing),
        cmocka_unit_test(test_body_version),
        cmocka_unit_test(test_body_unknown_op),
        cmocka_unit_test(test_body_bad_utf8),
        cmocka_unit_test(test_body_too_many),
        cmocka_unit_test(test_body_wrong_types),
        cmocka_unit_test(test_body_bit_flips),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_state_damaged),
        cmocka_unit_test(test_state_encodings),
        cmocka_unit_test(test_member_round_trip),
        cmocka_unit_test(test_member_v2),
        cmocka_unit_test(test_member_v3_compact),
        cmocka_unit_test(test_zstd_round_trip),
        cmocka_unit_test(test_zstd_bomb),
        cmocka_unit_test(test_zstd_garbage),
        cmocka_unit_test(test_envelope_layout),
        cmocka_unit_test(test_envelope_rejects),
        cmocka_unit_test(test_bundle_round_trip),
        cmocka_unit_test(test_bundle_truncated_and_flipped),
        cmocka_unit_test(test_bundle_framing_rejects),
    };
    return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
