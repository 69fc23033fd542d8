/*
 * Unit tests of libdrivercore/base: hex and UTF-8 helpers, the JSON string
 * escaper, growable buffers, error records and the hybrid logical clock.
 * These are the primitives every format and every dump is built from, so a
 * quiet bug here (an overlong UTF-8 sequence let through, a clock that
 * repeats a timestamp) would surface far away as replicas that disagree.
 * The clock tests pin time with a dc_clock_fn that reads a variable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/base.h"

/* ---- hex ---- */

static void test_hex_round_trip(void **state) {
    (void)state;
    uint8_t in[256], out[256];
    char hex[513];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    dc__hex(hex, in, sizeof in);
    assert_int_equal(strlen(hex), 512);
    assert_string_equal(hex + 2 * 0xab, "abacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5"
                                        "d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaeb"
                                        "ecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    assert_int_equal(dc__unhex(out, sizeof out, hex), 0);
    assert_memory_equal(in, out, sizeof in);

    /* Upper case is accepted on input; output is always lower case. */
    uint8_t two[2];
    assert_int_equal(dc__unhex(two, 2, "ABcd"), 0);
    assert_int_equal(two[0], 0xab);
    assert_int_equal(two[1], 0xcd);
    char back[5];
    dc__hex(back, two, 2);
    assert_string_equal(back, "abcd");

    /* Zero bytes: the empty string. */
    assert_int_equal(dc__unhex(two, 0, ""), 0);
    dc__hex(back, two, 0);
    assert_string_equal(back, "");
}

static void test_hex_rejects(void **state) {
    (void)state;
    uint8_t out[4];
    assert_int_equal(dc__unhex(out, 4, "0011223"), DC_EINVAL);    /* too short (odd) */
    assert_int_equal(dc__unhex(out, 4, "001122"), DC_EINVAL);     /* too short */
    assert_int_equal(dc__unhex(out, 4, "0011223344"), DC_EINVAL); /* too long */
    assert_int_equal(dc__unhex(out, 4, "001122 3"), DC_EINVAL);   /* space */
    assert_int_equal(dc__unhex(out, 4, "00112g33"), DC_EINVAL);   /* not a digit */
    assert_int_equal(dc__unhex(out, 4, "0x112233"), DC_EINVAL);
    assert_int_equal(dc__unhex(out, 4,
                               "\xc3\xa9"
                               "112233"),
                     DC_EINVAL);
    assert_int_equal(dc__unhex(out, 4, NULL), DC_EINVAL);
    assert_int_equal(dc__unhex(out, 1, ""), DC_EINVAL);
}

/* ---- UTF-8 ---- */

static bool valid(const char *s) {
    return dc__utf8_valid((const uint8_t *)s, strlen(s));
}

static void test_utf8_valid(void **state) {
    (void)state;
    assert_true(dc__utf8_valid((const uint8_t *)"", 0));
    assert_true(valid("plain ascii ~\x7f"));
    assert_true(valid("\xc3\xa9"));         /* é, 2 bytes */
    assert_true(valid("\xc2\x80"));         /* U+0080, smallest 2-byte */
    assert_true(valid("\xdf\xbf"));         /* U+07FF */
    assert_true(valid("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
    assert_true(valid("\xe2\x82\xac"));     /* € */
    assert_true(valid("\xed\x9f\xbf"));     /* U+D7FF, just below surrogates */
    assert_true(valid("\xee\x80\x80"));     /* U+E000, just above */
    assert_true(valid("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(valid("\xf0\x90\x80\x80")); /* U+10000, smallest 4-byte */
    assert_true(valid("\xf0\x9f\x9a\x9a")); /* 🚚 */
    assert_true(valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last code point */
    assert_true(valid("T\xc3\xbcrk \xc5\x9fof\xc3\xb6r\xc3\xbc \xf0\x9f\x9a\x9a"));
}

static void test_utf8_invalid(void **state) {
    (void)state;
    /* Overlong encodings of '/' and of NUL, and of U+07FF / U+FFFF. */
    assert_false(valid("\xc0\xaf"));
    assert_false(valid("\xc1\xbf"));
    assert_false(valid("\xe0\x80\xaf"));
    assert_false(valid("\xe0\x9f\xbf"));
    assert_false(valid("\xf0\x80\x80\xaf"));
    assert_false(valid("\xf0\x8f\xbf\xbf"));
    assert_false(dc__utf8_valid((const uint8_t *)"\xc0\x80", 2));
    /* UTF-16 surrogates, high and low, encoded as if they were code points. */
    assert_false(valid("\xed\xa0\x80"));
    assert_false(valid("\xed\xaf\xbf"));
    assert_false(valid("\xed\xb0\x80"));
    assert_false(valid("\xed\xbf\xbf"));
    /* Beyond U+10FFFF, and bytes that never occur. */
    assert_false(valid("\xf4\x90\x80\x80"));
    assert_false(valid("\xf5\x80\x80\x80"));
    assert_false(valid("\xf8\x88\x80\x80\x80"));
    assert_false(valid("\xfe"));
    assert_false(valid("\xff"));
    /* A continuation byte with no lead, and a lead followed by ASCII. */
    assert_false(valid("\x80"));
    assert_false(valid("a\xbf"
                       "b"));
    assert_false(valid("\xc3"
                       "a"));
    assert_false(valid("\xe2\x82"
                       "a"));
    /* Truncated sequences at the end of the input. */
    assert_false(valid("\xc3"));
    assert_false(valid("\xe2\x82"));
    assert_false(valid("\xf0\x9f\x9a"));
    const uint8_t truck[] = {0xf0, 0x9f, 0x9a, 0x9a};
    for (size_t n = 1; n < sizeof truck; n++)
        assert_false(dc__utf8_valid(truck, n));
    /* An embedded NUL: strings cross a C API, so the library refuses it. */
    assert_false(dc__utf8_valid((const uint8_t *)"a\0b", 3));
    /* Long ASCII runs are checked eight bytes at a time: a NUL, a stray
     * continuation byte or a truncated lead at any offset of a 40-byte
     * string is still refused, and a 2-byte character anywhere accepted. */
    uint8_t buf[40];
    for (size_t at = 0; at < sizeof buf; at++) {
        memset(buf, 'x', sizeof buf);
        buf[at] = 0;
        assert_false(dc__utf8_valid(buf, sizeof buf));
        buf[at] = 0x80;
        assert_false(dc__utf8_valid(buf, sizeof buf));
        buf[at] = 0x7f;
        assert_true(dc__utf8_valid(buf, sizeof buf));
        if (at + 1 < sizeof buf) {
            buf[at] = 0xc3;
            assert_false(dc__utf8_valid(buf, sizeof buf));
            buf[at + 1] = 0xa9;
            assert_true(dc__utf8_valid(buf, sizeof buf));
        }
    }
}

/* ---- JSON strings ---- */

static void json_is(const char *in, size_t n, const char *want) {
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc__json_str(&b, in, n), 0);
    assert_int_equal(b.size, strlen(want));
    assert_memory_equal(b.ptr, want, b.size);
    assert_int_equal(b.ptr[b.size], 0); /* the library keeps a NUL after size */
    dc_buf_dispose(&b);
}

static void test_json_str(void **state) {
    (void)state;
    json_is("", 0, "\"\"");
    json_is("plain", 5, "\"plain\"");
    json_is("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    json_is("C:\\dir", 6, "\"C:\\\\dir\"");
    json_is("a\nb\rc\td", 7, "\"a\\nb\\rc\\td\"");
    json_is("\b\f", 2, "\"\\b\\f\"");
    /* Other control characters become \u00XX, in lower-case hex. */
    json_is("\x01", 1, "\"\\u0001\"");
    json_is("x\x1fy", 3, "\"x\\u001fy\"");
    json_is("\x0b\x0e\x1b", 3, "\"\\u000b\\u000e\\u001b\"");
    const char nul[] = {'a', 0, 'b'};
    json_is(nul, 3, "\"a\\u0000b\"");
    /* DEL and '/' need no escape; multibyte UTF-8 passes through verbatim. */
    json_is("\x7f/", 2, "\"\x7f/\"");
    json_is("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x9a", 14,
            "\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x9a\"");
    /* Only n bytes are read, not up to a NUL. */
    json_is("abcdef", 3, "\"abc\"");

    /* Appends to what the buffer holds. */
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc__buf_puts(&b, "{"), 0);
    assert_int_equal(dc__json_str(&b, "k", 1), 0);
    assert_int_equal(dc__buf_puts(&b, ":1}"), 0);
    assert_string_equal((char *)b.ptr, "{\"k\":1}");
    dc_buf_dispose(&b);
}

/* A flat object's empty string is "" as text, wherever it stands: a
 * device card with an empty name first once read as garbage (its buffer's
 * first allocation was not terminated) and failed its signature. */
static int first_empty(void *user, const char *key, const dc__value *v) {
    int *seen = user;
    assert_int_equal(v->kind, DC_STR);
    if (strcmp(key, "name") == 0) {
        assert_int_equal(v->len, 0);
        assert_int_equal(v->str[0], 0);
    }
    (*seen)++;
    return 0;
}

static void test_json_value_kinds(void **state) {
    (void)state;
    /* The one writer of values as JSON: every kind, and null for a field
     * that is absent (a NULL value). */
    dc_buf b = DC_BUF_INIT;
    dc__value v[] = {{.kind = DC_NULL},
                     {.kind = DC_BOOL, .num = 1},
                     {.kind = DC_INT, .num = -42},
                     {.kind = DC_STR, .str = "a\"b", .len = 3},
                     dc__value_real(0.25),
                     {.kind = DC_BYTES, .str = "\x01\x02\xff", .len = 3}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_int_equal(dc__json_value(&b, &v[i]), 0);
        assert_int_equal(dc__buf_putc(&b, ' '), 0);
    }
    assert_int_equal(dc__json_value(&b, NULL), 0);
    assert_string_equal((const char *)b.ptr,
                        "null true -42 \"a\\\"b\" 0.25 {\"@bytes\":\"AQL/\"} null");
    dc_buf_dispose(&b);
}

static void test_json_flat_empty_first(void **state) {
    (void)state;
    /* Leave a freed block of the size the reader asks for full of 'x'. */
    char *junk = malloc(64);
    assert_non_null(junk);
    memset(junk, 'x', 64);
    free(junk);
    int seen = 0;
    assert_int_equal(dc__json_flat_each("{\"name\":\"\",\"box\":\"ab\"}", first_empty, &seen), 0);
    assert_int_equal(seen, 2);
    dc_buf b = DC_BUF_INIT;
    assert_non_null(dc__json_read_string("\"\"", &b));
    assert_int_equal(b.size, 0);
    assert_string_equal((const char *)b.ptr, "");
    dc_buf_dispose(&b);
}

/* ---- buffers ---- */

static void test_buf_grows(void **state) {
    (void)state;
    dc_buf b;
    dc_buf_init(&b);
    assert_null(b.ptr);
    assert_int_equal(b.size, 0);
    /* 200 KB in small pieces: every growth step keeps earlier content. */
    for (uint32_t i = 0; i < 50000; i++) {
        uint8_t w[4];
        dc__store_be32(w, i);
        assert_int_equal(dc__buf_put(&b, w, 4), 0);
        assert_int_equal(b.ptr[b.size], 0);
    }
    assert_int_equal(b.size, 200000);
    assert_true(b.asize > b.size);
    for (uint32_t i = 0; i < 50000; i++)
        assert_int_equal(dc__load_be32(b.ptr + 4 * i), i);

    /* printf longer than any internal scratch buffer. */
    dc__buf_clear(&b);
    assert_int_equal(b.size, 0);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    assert_int_equal(dc__buf_printf(&b, "<%s|%d>", big, 42), 0);
    assert_int_equal(b.size, 1 + 999 + 4);
    assert_int_equal(memcmp(b.ptr + 1000, "|42>", 4), 0);
    assert_int_equal(b.ptr[b.size], 0);
    assert_int_equal(dc__buf_putc(&b, '!'), 0);
    assert_int_equal(b.ptr[b.size - 1], '!');

    /* A request whose size would overflow fails instead of wrapping. */
    assert_int_equal(dc__buf_reserve(&b, SIZE_MAX), DC_ENOMEM);
    assert_int_equal(dc__buf_reserve(&b, SIZE_MAX - b.size), DC_ENOMEM);
    assert_int_equal(b.size, 1005);

    /* Move hands the memory over and leaves the source empty. */
    dc_buf dst = DC_BUF_INIT;
    assert_int_equal(dc__buf_puts(&dst, "old"), 0);
    dc__buf_move(&dst, &b);
    assert_int_equal(dst.size, 1005);
    assert_int_equal(dst.ptr[0], '<');
    assert_null(b.ptr);
    assert_int_equal(b.size, 0);
    dc_buf_dispose(&dst);
    assert_null(dst.ptr);
    dc_buf_dispose(&dst); /* twice is harmless */
    dc_buf_dispose(NULL);
}

static void test_vec_grows(void **state) {
    (void)state;
    /* An array of structs grown one element at a time keeps every element
     * and its capacity covers its length. */
    typedef struct pair {
        uint32_t a;
        uint64_t b;
    } pair;
    pair *v = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        assert_int_equal(DC__VEC_ROOM(v, n, cap), 0);
        assert_true(cap > n);
        v[n++] = (pair){i, (uint64_t)i * 3};
    }
    for (uint32_t i = 0; i < 10000; i++) {
        assert_int_equal(v[i].a, i);
        assert_int_equal(v[i].b, (uint64_t)i * 3);
    }
    /* Reserving what is there already changes nothing. */
    pair *before = v;
    size_t cap_before = cap;
    assert_int_equal(DC__VEC_RESERVE(v, cap, n), 0);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, cap_before);
    /* A size that would overflow fails and leaves the array as it was. */
    assert_int_equal(DC__VEC_RESERVE(v, cap, SIZE_MAX / 4), DC_ENOMEM);
    assert_int_equal(dc__vec_reserve(&v, &cap, SIZE_MAX, 1), DC_ENOMEM);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, cap_before);
    assert_int_equal(v[9999].a, 9999);
    dc__free(v);
}

static void test_buf_borrowed(void **state) {
    (void)state;
    /* A buffer pointing at memory the library does not own (asize 0) is
     * copied on growth and never freed. */
    uint8_t mine[4] = {'a', 'b', 'c', 'd'};
    dc_buf b = {mine, 4, 0};
    assert_int_equal(dc__buf_put(&b, "ef", 2), 0);
    assert_true(b.ptr != mine);
    assert_int_equal(b.size, 6);
    assert_memory_equal(b.ptr, "abcdef", 6);
    assert_memory_equal(mine, "abcd", 4);
    dc_buf_dispose(&b);
}

/* ---- big-endian helpers ---- */

static void test_be(void **state) {
    (void)state;
    uint8_t p[8];
    dc__store_be64(p, UINT64_C(0x0102030405060708));
    const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(p, want, 8);
    assert_true(dc__load_be64(p) == UINT64_C(0x0102030405060708));
    dc__store_be64(p, UINT64_MAX);
    assert_true(dc__load_be64(p) == UINT64_MAX);
    dc__store_be32(p, 0xdeadbeefu);
    assert_int_equal(p[0], 0xde);
    assert_int_equal(p[3], 0xef);
    assert_true(dc__load_be32(p) == 0xdeadbeefu);
}

/* ---- errors ---- */

static void test_errors(void **state) {
    (void)state;
    dc__err e;
    dc__err_clear(&e);
    assert_int_equal(e.code, 0);
    assert_int_equal(dc__err_set(&e, DC_ECORRUPT, "envelope %d of %d", 3, 9), DC_ECORRUPT);
    assert_int_equal(e.code, DC_ECORRUPT);
    assert_string_equal(e.msg, "envelope 3 of 9");
    assert_int_equal(dc__err_prefix(&e, "bundle %s", "x.dcb"), DC_ECORRUPT);
    assert_string_equal(e.msg, "bundle x.dcb: envelope 3 of 9");
    /* A message longer than the record is cut, not overrun. */
    char big[2000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = 0;
    dc__err_set(&e, DC_EIO, "%s", big);
    assert_true(strlen(e.msg) < sizeof e.msg);

    /* The error table: names and messages exist for every code. */
#define CHECK_NAME(name, val, msg)                                                                 \
    assert_string_equal(dc_error_name(val), "DC_" #name);                                          \
    assert_string_equal(dc_strerror(val), msg);
    DC_ERRNO_MAP(CHECK_NAME)
#undef CHECK_NAME
    assert_string_equal(dc_error_name(0), "DC_OK");
    assert_string_equal(dc_error_name(-999), "DC_UNKNOWN");
    assert_non_null(dc_strerror(-999));
    assert_non_null(dc_strerror(12345));

    /* The thread-local last error. */
    assert_int_equal(dc__last_set(DC_ENOTFOUND, "no such %s", "space"), DC_ENOTFOUND);
    assert_int_equal(dc_error_last_code(), DC_ENOTFOUND);
    assert_string_equal(dc_error_last(), "no such space");
    assert_int_equal(dc__last_from(&e), DC_EIO);
    assert_int_equal(dc_error_last_code(), DC_EIO);
    dc__last_clear();
    assert_int_equal(dc_error_last_code(), DC_OK);
    assert_string_equal(dc_error_last(), "");
}

/* ---- hybrid logical clock ---- */

static int64_t g_now;
static int64_t pinned(void *user) {
    return *(int64_t *)user;
}

static dc__clock make_clock(void) {
    dc__clock c;
    memset(&c, 0, sizeof c);
    c.now = pinned;
    c.now_user = &g_now;
    c.max_skew_ms = 3600 * 1000;
    return c;
}

static void test_hlc_monotonic(void **state) {
    (void)state;
    g_now = 1700000000000;
    dc__clock c = make_clock();
    dc_hlc prev = dc__clock_tick(&c);
    assert_true(DC_HLC_MS(prev) == g_now);
    /* The wall clock moves forward, stands still, jumps back by an hour and
     * a day, and forward again: every tick stays strictly greater. */
    const int64_t steps[] = {1, 0, 0, 5, -1, -3600000, 0, 0, 2, -86400000, 10, 100000000, 0};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        g_now += steps[i];
        for (int k = 0; k < 100; k++) {
            dc_hlc h = dc__clock_tick(&c);
            assert_true(h > prev);
            prev = h;
        }
    }
    /* When the wall clock has moved past everything, the stamp follows it. */
    g_now = DC_HLC_MS(prev) + 1000;
    dc_hlc h = dc__clock_tick(&c);
    assert_true(h == DC_HLC_MAKE(g_now, 0));
}

static void test_hlc_counter_overflow(void **state) {
    (void)state;
    g_now = 1700000000000;
    dc__clock c = make_clock();
    dc_hlc first = dc__clock_tick(&c);
    assert_true(first == DC_HLC_MAKE(g_now, 0));
    /* With time standing still, 65535 more ticks use up the counter... */
    dc_hlc h = first;
    for (int i = 0; i < 65535; i++) {
        dc_hlc n = dc__clock_tick(&c);
        assert_true(n == h + 1);
        h = n;
    }
    assert_true(h == DC_HLC_MAKE(g_now, 0xffff));
    /* ...and the next one carries into the next millisecond. */
    dc_hlc next = dc__clock_tick(&c);
    assert_true(next > h);
    assert_true(DC_HLC_MS(next) == g_now + 1);
    assert_true(next == DC_HLC_MAKE(g_now + 1, 0));
    /* The wall clock catching up does not make it go back. */
    g_now += 1;
    assert_true(dc__clock_tick(&c) > next);
}

static void test_hlc_acceptable(void **state) {
    (void)state;
    g_now = 1700000000000;
    dc__clock c = make_clock();
    c.max_skew_ms = 60000;
    assert_true(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now, 0)));
    assert_true(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now - 86400000, 7)));
    assert_true(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now + 59999, 0xffff)));
    /* Exactly at the bound is accepted, whatever the counter... */
    assert_true(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now + 60000, 0)));
    assert_true(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now + 60000, 0xffff)));
    /* ...one millisecond beyond it is not. */
    assert_false(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now + 60001, 0)));
    assert_false(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now + 2 * 86400000LL, 0)));
    assert_false(dc__clock_acceptable(&c, UINT64_MAX));
    /* Once the wall clock moves on, the held timestamp becomes acceptable. */
    g_now += 1;
    assert_true(dc__clock_acceptable(&c, DC_HLC_MAKE(g_now + 60000, 0)));
    /* Acceptance does not move the clock. */
    assert_true(c.last == 0);
}

static void test_hlc_observe(void **state) {
    (void)state;
    g_now = 1700000000000;
    dc__clock c = make_clock();
    dc_hlc mine = dc__clock_tick(&c);
    /* A remote stamp 30 minutes ahead (within the skew bound). */
    dc_hlc remote = DC_HLC_MAKE(g_now + 1800000, 42);
    assert_true(dc__clock_acceptable(&c, remote));
    dc__clock_observe(&c, remote);
    dc_hlc next = dc__clock_tick(&c);
    assert_true(next > remote);
    assert_true(next > mine);
    /* Observing an older stamp changes nothing. */
    dc__clock_observe(&c, DC_HLC_MAKE(g_now - 5, 0));
    dc_hlc after = dc__clock_tick(&c);
    assert_true(after == next + 1);
    /* A remote stamp with a full counter: the next tick still exceeds it. */
    dc_hlc full = DC_HLC_MAKE(g_now + 2000000, 0xffff);
    dc__clock_observe(&c, full);
    assert_true(dc__clock_tick(&c) > full);
}

static void test_hlc_wall_clamped(void **state) {
    (void)state;
    /* A clock before 1970 or beyond 48 bits of ms is clamped, so a stamp
     * never wraps around. */
    dc__clock c = make_clock();
    g_now = -5;
    assert_true(dc__clock_wall_ms(&c) == 0);
    g_now = INT64_MAX;
    assert_true(dc__clock_wall_ms(&c) == (int64_t)((UINT64_C(1) << 48) - 1));
    dc_hlc h = dc__clock_tick(&c);
    assert_true(DC_HLC_MS(h) == (int64_t)((UINT64_C(1) << 48) - 1));
    /* The system clock (no hook) is somewhere after 2020. */
    dc__clock sys;
    memset(&sys, 0, sizeof sys);
    assert_true(dc__clock_wall_ms(&sys) > 1577836800000LL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_round_trip),
        cmocka_unit_test(test_hex_rejects),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_json_str),
        cmocka_unit_test(test_json_value_kinds),
        cmocka_unit_test(test_json_flat_empty_first),
        cmocka_unit_test(test_buf_grows),
        cmocka_unit_test(test_buf_borrowed),
        cmocka_unit_test(test_vec_grows),
        cmocka_unit_test(test_be),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_hlc_monotonic),
        cmocka_unit_test(test_hlc_counter_overflow),
        cmocka_unit_test(test_hlc_acceptable),
        cmocka_unit_test(test_hlc_observe),
        cmocka_unit_test(test_hlc_wall_clamped),
    };
    return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
