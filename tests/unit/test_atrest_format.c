/*
 * The at-rest format (docs/format/at-rest.md) below the VFS: the clear
 * header and what a reader refuses in it, the master key from a key or a
 * passphrase, the key check, the AEAD of one page and what it catches, and
 * the mask over WAL frame-header checksums.  Then the golden vectors in
 * tests/vectors/ (see its README): at-rest-v1.bin (a header block and two
 * sealed pages), at-rest-v1-wal.bin (a WAL header and one frame) and
 * at-rest-v1-passphrase.bin (a header block under Argon2id) are rebuilt
 * from fixed inputs and compared byte for byte, their stored pages opened
 * and checked; replica-at-rest-v1.dcr, a real encrypted replica written by
 * format version 1, must open with its key and show its records for as
 * long as version 1 is supported.
 *
 *   test_atrest_format DIR           check against DIR
 *   test_atrest_format --write DIR   (re)create the files
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"
#include "vector_files.h"

/* BLAKE2b-256 of the checked-in files. */
#define AT_REST_V1_HASH "45987077b9b0705d6fdad3008b442b645e9bc7569c6031664e67d9279b04cc73"
#define AT_REST_V1_WAL_HASH "1ef1894279afc8a588947d9853d6a29fbb107b7032d5c77ac1b33b092b420761"
#define AT_REST_V1_PASS_HASH "5a2b351deebb7221fb117a60e41050d6e7ca4b36020db06ee515331588905c6a"
#define REPLICA_V1_HASH "11c5cdede3741973cc56431be9ed4c911fe993430eb386017533e6c81cc8bc45"

#define P 1024 /* the vectors' page size: the smallest that keeps them short */

static const char *g_dir;

/* ---- fixed inputs ---- */

static void seq(uint8_t *p, size_t n, uint8_t first) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(first + i);
}

static void golden_master(uint8_t k[32]) {
    seq(k, 32, 0x80); /* 80 81 ... 9f */
}

static const char GOLDEN_PASS[] = "drivercore golden passphrase";

/* Header of at-rest-v1.bin: the app's key, file salt a0..af. */
static void golden_header(dc__ar_header *h) {
    memset(h, 0, sizeof *h);
    h->page_size = P;
    h->kdf = DC__AR_KDF_RAW;
    seq(h->file_salt, 16, 0xa0);
    uint8_t k[32];
    golden_master(k);
    dc__ar_header_seal(h, k);
}

/* Page 1: what SQLite writes first (its header for 1024-byte pages with 40
 * reserved bytes), then a pattern; page 2: a pattern.  Reserves zero. */
static void golden_plain(uint8_t *page, uint32_t pgno) {
    memset(page, 0, P);
    for (size_t i = 0; i < P - DC__AR_RESERVE; i++)
        page[i] = (uint8_t)(i * 7 + pgno * 31);
    if (pgno == 1) {
        memcpy(page, "SQLite format 3", 16);
        page[16] = P >> 8;
        page[17] = P & 0xff;
        page[18] = page[19] = 2;
        page[20] = DC__AR_RESERVE;
    }
}

static void golden_nonce(uint8_t n[24], uint32_t pgno) {
    seq(n, 24, (uint8_t)(0xc0 + 24 * (pgno - 1))); /* page 1: c0..d7, page 2: d8..ef */
}

static dc__ar_keys *golden_keys(const dc__ar_header *h) {
    dc__ar_keys *k = sodium_malloc(sizeof *k);
    assert_non_null(k);
    uint8_t m[32];
    golden_master(m);
    dc__ar_keys_derive(k, m, h);
    return k;
}

/* at-rest-v1.bin: header block, sealed page 1, sealed page 2. */
static void build_file(dc_buf *out) {
    dc__ar_header h;
    golden_header(&h);
    dc__ar_keys *k = golden_keys(&h);
    uint8_t block[P] = {0};
    dc__ar_header_encode(block, &h);
    assert_int_equal(dc__buf_put(out, block, P), 0);
    for (uint32_t pg = 1; pg <= 2; pg++) {
        uint8_t page[P], n[24];
        golden_plain(page, pg);
        golden_nonce(n, pg);
        dc__ar_page_seal(k, pg, page, page, P, n);
        assert_int_equal(dc__buf_put(out, page, P), 0);
    }
    sodium_free(k);
}

/* at-rest-v1-wal.bin: a WAL header (in clear) and one frame holding page 2
 * (nonce f0..107 wrapped), its checksums 11111111 22222222 masked. */
static const uint8_t WAL_HDR[32] = {
    0x37, 0x7f, 0x06, 0x82, 0x00, 0x2d, 0xe2, 0x18, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
static const uint8_t FRAME_HDR[24] = {0,    0,    0,    2,    0,    0,    0,    2,
                                      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                      0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22};

static void build_wal(dc_buf *out) {
    dc__ar_header h;
    golden_header(&h);
    dc__ar_keys *k = golden_keys(&h);
    uint8_t fh[24], page[P], n[24];
    memcpy(fh, FRAME_HDR, 24);
    dc__ar_frame_mask(k, 32, fh);
    golden_plain(page, 2);
    seq(n, 24, 0xf0);
    dc__ar_page_seal(k, 2, page, page, P, n);
    assert_int_equal(dc__buf_put(out, WAL_HDR, 32), 0);
    assert_int_equal(dc__buf_put(out, fh, 24), 0);
    assert_int_equal(dc__buf_put(out, page, P), 0);
    sodium_free(k);
}

/* at-rest-v1-passphrase.bin: a header block under Argon2id with the default
 * costs, KDF salt 10..1f, file salt 20..2f, passphrase GOLDEN_PASS. */
static void pass_header(dc__ar_header *h) {
    memset(h, 0, sizeof *h);
    h->page_size = P;
    h->kdf = DC__AR_KDF_ARGON2ID;
    h->opslimit = DC__AR_OPSLIMIT;
    h->memlimit = DC__AR_MEMLIMIT;
    seq(h->kdf_salt, 16, 0x10);
    seq(h->file_salt, 16, 0x20);
}

static void pass_master(uint8_t m[32], const dc__ar_header *h) {
    dc_key *k = dc__key_new();
    assert_non_null(k);
    assert_int_equal(dc_key_set_passphrase(k, GOLDEN_PASS, strlen(GOLDEN_PASS)), 0);
    dc__err err = {0};
    assert_int_equal(dc__ar_master(m, k, h, &err), 0);
    dc__key_free(k);
}

static void build_pass(dc_buf *out) {
    dc__ar_header h;
    pass_header(&h);
    uint8_t m[32];
    pass_master(m, &h);
    dc__ar_header_seal(&h, m);
    uint8_t block[P] = {0};
    dc__ar_header_encode(block, &h);
    assert_int_equal(dc__buf_put(out, block, P), 0);
}

/* ---- files ---- */

static uint8_t *read_file(const char *name, size_t *n) {
    return vec_read(g_dir, name, n);
}

static void assert_same(const dc_buf *got, const uint8_t *want, size_t n, const char *what) {
    if (got->size != n)
        fail_msg("%s: rebuilt %zu bytes, stored %zu", what, got->size, n);
    for (size_t i = 0; i < n; i++)
        if (got->ptr[i] != want[i])
            fail_msg("%s: first difference at byte %zu", what, i);
}

/* ---- the header ---- */

static void test_header(void **state) {
    (void)state;
    dc__ar_header h, back;
    dc__ar_header_new(&h, 4096, DC__AR_KDF_ARGON2ID);
    assert_int_equal(h.opslimit, 3);
    assert_true(h.memlimit == 32u << 20);
    uint8_t m[32];
    memset(m, 9, sizeof m);
    dc__ar_header_seal(&h, m);
    uint8_t raw[DC__AR_HEADER];
    dc__ar_header_encode(raw, &h);
    assert_memory_equal(raw, "DCATREST", 8);
    dc__err err = {0};
    assert_int_equal(dc__ar_header_parse(&back, raw, sizeof raw, &err), 0);
    assert_memory_equal(&back, &h, sizeof h);
    assert_int_equal(dc__ar_header_verify(&back, m), 0);
    m[31] ^= 1;
    assert_int_equal(dc__ar_header_verify(&back, m), DC_EKEY);

    /* What a reader refuses, and with which code. */
    struct {
        size_t off;
        uint8_t val;
        int want;
    } bad[] =
        {
            {0, 'X', DC_ECORRUPT},   {8, 2, DC_EVERSION},  {8, 0, DC_ECORRUPT},
            {9, 2, DC_EVERSION},     {10, 7, DC_EVERSION}, {11, 1, DC_ECORRUPT},
            {14, 0x05, DC_ECORRUPT}, /* page size 0x1000 -> 0x0500: not a power of two */
            {13, 0x01, DC_ECORRUPT}, /* 0x00011000: above 65536 */
            {16, 39, DC_ECORRUPT},   {18, 1, DC_ECORRUPT}, {24, 0x01, DC_ECORRUPT}, /* 1 TiB */
            {23, 0x00, DC_ECORRUPT},                                                /* 0 passes */
        };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t t[DC__AR_HEADER];
        memcpy(t, raw, sizeof t);
        t[bad[i].off] = bad[i].val;
        int rc = dc__ar_header_parse(&back, t, sizeof t, &err);
        if (rc != bad[i].want)
            fail_msg("header byte %zu = 0x%02x: %s, expected %s", bad[i].off, bad[i].val,
                     dc_error_name(rc), dc_error_name(bad[i].want));
    }
    assert_int_equal(dc__ar_header_parse(&back, raw, DC__AR_HEADER - 1, &err), DC_ECORRUPT);
    /* A key file's header with passphrase costs is refused. */
    dc__ar_header_new(&h, 4096, DC__AR_KDF_RAW);
    dc__ar_header_encode(raw, &h);
    raw[23] = 3;
    assert_int_equal(dc__ar_header_parse(&back, raw, sizeof raw, &err), DC_ECORRUPT);
}

static void test_master(void **state) {
    (void)state;
    dc__ar_header raw_h, pass_h;
    dc__ar_header_new(&raw_h, 4096, DC__AR_KDF_RAW);
    pass_header(&pass_h);
    dc_key *k = dc__key_new();
    assert_non_null(k);
    uint8_t m[32], m2[32], key[32];
    dc__err err = {0};
    /* Nothing given yet. */
    assert_int_equal(dc__ar_master(m, k, &raw_h, &err), DC_EKEY);
    memset(key, 0x42, sizeof key);
    assert_int_equal(dc_key_set(k, key, 31), DC_EINVAL);
    assert_int_equal(dc_key_set(k, key, 32), 0);
    assert_int_equal(dc_key_set(k, key, 32), DC_EINVAL);
    assert_int_equal(dc_key_set_passphrase(k, "x", 1), DC_EINVAL);
    assert_int_equal(dc__ar_master(m, k, &raw_h, &err), 0);
    assert_memory_equal(m, key, 32);
    assert_int_equal(dc__ar_master(m, k, &pass_h, &err), DC_EKEY);
    dc__key_free(k);
    k = dc__key_new();
    assert_int_equal(dc_key_set_passphrase(k, "", 0), DC_EINVAL);
    assert_int_equal(dc_key_set_passphrase(k, GOLDEN_PASS, strlen(GOLDEN_PASS)), 0);
    assert_int_equal(dc__ar_master(m, k, &raw_h, &err), DC_EKEY);
    assert_int_equal(dc__ar_master(m, k, &pass_h, &err), 0);
    /* Argon2id is a function of passphrase and salt. */
    pass_master(m2, &pass_h);
    assert_memory_equal(m, m2, 32);
    pass_h.kdf_salt[0] ^= 1;
    assert_int_equal(dc__ar_master(m2, k, &pass_h, &err), 0);
    assert_memory_not_equal(m, m2, 32);
    dc__key_free(k);
}

/* ---- pages ---- */

static void test_page(void **state) {
    (void)state;
    dc__ar_header h, other;
    uint8_t m[32];
    memset(m, 1, sizeof m);
    dc__ar_header_new(&h, 4096, DC__AR_KDF_RAW);
    dc__ar_header_new(&other, 4096, DC__AR_KDF_RAW);
    dc__ar_keys *k = sodium_malloc(sizeof *k), *ko = sodium_malloc(sizeof *ko);
    assert_non_null(k);
    assert_non_null(ko);
    dc__ar_keys_derive(k, m, &h);
    dc__ar_keys_derive(ko, m, &other);
    static uint8_t plain[4096], page[4096], first[4096];
    for (size_t i = 0; i < 4096 - DC__AR_RESERVE; i++)
        plain[i] = (uint8_t)(i * 13);
    assert_true(dc__ar_reserve_clear(plain, 4096));
    plain[4096 - 1] = 1;
    assert_false(dc__ar_reserve_clear(plain, 4096));
    plain[4096 - 1] = 0;

    memcpy(page, plain, 4096);
    dc__ar_page_seal(k, 7, page, page, 4096, NULL);
    memcpy(first, page, 4096);
    /* No plaintext run survives. */
    assert_memory_not_equal(page, plain, 64);
    assert_int_equal(dc__ar_page_open(k, 7, page, 4096), 0);
    assert_memory_equal(page, plain, 4096); /* reserve back to zero */

    /* A new random nonce at every write. */
    memcpy(page, plain, 4096);
    dc__ar_page_seal(k, 7, page, page, 4096, NULL);
    assert_memory_not_equal(page + 4096 - 40, first + 4096 - 40, 24);

    /* Every bit flip, in ciphertext, nonce and tag, is caught. */
    for (size_t pos = 0; pos < 4096; pos += 97) {
        memcpy(page, first, 4096);
        page[pos] ^= 0x20;
        assert_int_equal(dc__ar_page_open(k, 7, page, 4096), -1);
    }
    for (size_t pos = 4096 - 40; pos < 4096; pos++) {
        memcpy(page, first, 4096);
        page[pos] ^= 0x01;
        assert_int_equal(dc__ar_page_open(k, 7, page, 4096), -1);
    }
    /* Another page number, another file's keys. */
    memcpy(page, first, 4096);
    assert_int_equal(dc__ar_page_open(k, 8, page, 4096), -1);
    memcpy(page, first, 4096);
    assert_int_equal(dc__ar_page_open(ko, 7, page, 4096), -1);
    sodium_free(k);
    sodium_free(ko);
}

static void test_frame_mask(void **state) {
    (void)state;
    dc__ar_header h;
    uint8_t m[32];
    memset(m, 3, sizeof m);
    dc__ar_header_new(&h, 4096, DC__AR_KDF_RAW);
    dc__ar_keys *k = sodium_malloc(sizeof *k);
    assert_non_null(k);
    dc__ar_keys_derive(k, m, &h);
    uint8_t a[24], b[24];
    memcpy(a, FRAME_HDR, 24);
    dc__ar_frame_mask(k, 32, a);
    assert_memory_equal(a, FRAME_HDR, 16);              /* page number, salts: clear */
    assert_memory_not_equal(a + 16, FRAME_HDR + 16, 8); /* checksums: masked */
    memcpy(b, FRAME_HDR, 24);
    dc__ar_frame_mask(k, 32 + 24 + 4096, b);
    assert_memory_not_equal(a + 16, b + 16, 8); /* bound to the offset */
    dc__ar_frame_mask(k, 32, a);
    assert_memory_equal(a, FRAME_HDR, 24); /* an involution */
    sodium_free(k);
}

/* ---- golden vectors ---- */

static void test_vector_file(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("at-rest-v1.bin", &n);
    vec_assert_hash(stored, n, AT_REST_V1_HASH);
    dc_buf b = DC_BUF_INIT;
    build_file(&b);
    assert_same(&b, stored, n, "at-rest-v1.bin");
    dc_buf_dispose(&b);

    /* Read it as the VFS would: header, key check, both pages. */
    dc__ar_header h;
    dc__err err = {0};
    assert_int_equal(dc__ar_header_parse(&h, stored, n, &err), 0);
    assert_int_equal(h.page_size, P);
    uint8_t m[32];
    golden_master(m);
    assert_int_equal(dc__ar_header_verify(&h, m), 0);
    dc__ar_keys *k = golden_keys(&h);
    for (uint32_t pg = 1; pg <= 2; pg++) {
        uint8_t page[P], want[P];
        memcpy(page, stored + P * pg, P);
        golden_plain(want, pg);
        assert_int_equal(dc__ar_page_open(k, pg, page, P), 0);
        assert_memory_equal(page, want, P);
    }
    sodium_free(k);
    free(stored);
}

static void test_vector_wal(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("at-rest-v1-wal.bin", &n);
    vec_assert_hash(stored, n, AT_REST_V1_WAL_HASH);
    dc_buf b = DC_BUF_INIT;
    build_wal(&b);
    assert_same(&b, stored, n, "at-rest-v1-wal.bin");
    dc_buf_dispose(&b);
    dc__ar_header h;
    golden_header(&h);
    dc__ar_keys *k = golden_keys(&h);
    uint8_t fh[24], page[P], want[P];
    memcpy(fh, stored + 32, 24);
    dc__ar_frame_mask(k, 32, fh);
    assert_memory_equal(fh, FRAME_HDR, 24);
    memcpy(page, stored + 56, P);
    golden_plain(want, 2);
    assert_int_equal(dc__ar_page_open(k, 2, page, P), 0);
    assert_memory_equal(page, want, P);
    sodium_free(k);
    free(stored);
}

static void test_vector_passphrase(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("at-rest-v1-passphrase.bin", &n);
    vec_assert_hash(stored, n, AT_REST_V1_PASS_HASH);
    dc_buf b = DC_BUF_INIT;
    build_pass(&b);
    assert_same(&b, stored, n, "at-rest-v1-passphrase.bin");
    dc_buf_dispose(&b);
    dc__ar_header h;
    dc__err err = {0};
    assert_int_equal(dc__ar_header_parse(&h, stored, n, &err), 0);
    assert_int_equal(h.kdf, DC__AR_KDF_ARGON2ID);
    uint8_t m[32];
    pass_master(m, &h);
    assert_int_equal(dc__ar_header_verify(&h, m), 0);
    free(stored);
}

/* ---- the replica fixture ---- */

static int fixture_key(void *user, dc_key *k, int purpose) {
    (void)purpose;
    uint8_t key[32];
    golden_master(key);
    key[0] ^= (uint8_t)(user != NULL); /* user non-NULL: a wrong key */
    return dc_key_set(k, key, sizeof key);
}

static int64_t fixture_clock(void *user) {
    (void)user;
    return INT64_C(1700000000000);
}

static int write_fixture(const char *path) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = "golden at-rest device";
    o.key_provider = fixture_key;
    o.clock = fixture_clock;
    dc_replica *r = NULL;
    dc_buf sp = DC_BUF_INIT;
    dc_txn *t = NULL;
    int rc = dc_replica_open(&r, path, &o);
    if (!rc)
        rc = dc_space_create(&sp, r, "golden space");
    if (!rc)
        rc = dc_txn_begin(&t, r, (const char *)sp.ptr);
    if (!rc)
        rc = dc_txn_set(t, "driver", "d1", "name", DC_STR, 0, "Huang Hongxing");
    if (!rc)
        rc = dc_txn_set(t, "driver", "d1", "phone", DC_STR, 0, "13812345678");
    if (!rc)
        rc = dc_txn_commit(t, NULL);
    dc_buf_dispose(&sp);
    dc_replica_close(r);
    return rc;
}

static void test_replica_fixture(void **state) {
    (void)state;
    size_t n;
    uint8_t *stored = read_file("replica-at-rest-v1.dcr", &n);
    vec_assert_hash(stored, n, REPLICA_V1_HASH);
    char dir[] = "/tmp/dc-atrest-vec-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/r.dcr", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(stored, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(stored);

    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.key_provider = fixture_key;
    o.key_user = (void *)1;
    o.must_exist = 1;
    dc_replica *r = NULL;
    assert_int_equal(dc_replica_open(&r, path, &o), DC_EKEY);
    o.key_user = NULL;
    int rc = dc_replica_open(&r, path, &o);
    if (rc)
        fail_msg("open replica-at-rest-v1.dcr: %s: %s", dc_error_name(rc), dc_error_last());
    assert_int_equal(dc_replica_encrypted(r), 1);
    dc_buf b = DC_BUF_INIT;
    assert_int_equal(dc_replica_dump(&b, r, NULL), 0);
    assert_non_null(strstr((const char *)b.ptr, "\"name\":\"Huang Hongxing\""));
    assert_non_null(strstr((const char *)b.ptr, "\"phone\":\"13812345678\""));
    assert_int_equal(dc_replica_card(&b, r), 0);
    assert_non_null(strstr((const char *)b.ptr, "golden at-rest device"));
    assert_int_equal(dc_space_list(&b, r), 0);
    assert_non_null(strstr((const char *)b.ptr, "golden space"));
    dc_buf_dispose(&b);
    dc_replica_close(r);
    const char *sfx[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        char p[sizeof path + 16];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        remove(p);
    }
    remove(dir);
}

/* ---- writing ---- */

static int write_buf(const char *dir, const char *name, const dc_buf *b) {
    return vec_write(dir, name, b->ptr, b->size);
}

static int write_all(const char *dir) {
    dc_buf a = DC_BUF_INIT, w = DC_BUF_INIT, p = DC_BUF_INIT;
    build_file(&a);
    build_wal(&w);
    build_pass(&p);
    int rc = write_buf(dir, "at-rest-v1.bin", &a) | write_buf(dir, "at-rest-v1-wal.bin", &w) |
             write_buf(dir, "at-rest-v1-passphrase.bin", &p);
    dc_buf_dispose(&a);
    dc_buf_dispose(&w);
    dc_buf_dispose(&p);
    /* The replica: written only if absent (its nonces are random, so a
     * rewrite would change it; it exists to stay readable as it is). */
    char path[4096];
    snprintf(path, sizeof path, "%s/replica-at-rest-v1.dcr", dir);
    if (access(path, F_OK) != 0) {
        int wrc = write_fixture(path);
        if (wrc) {
            fprintf(stderr, "test_atrest_format: writing %s: %s\n", path, dc_error_last());
            return 1;
        }
        size_t n;
        g_dir = dir;
        uint8_t *s = read_file("replica-at-rest-v1.dcr", &n);
        char hex[65];
        vec_hash_hex(hex, s, n);
        printf("%s: %zu bytes, BLAKE2b-256 %s\n", path, n, hex);
        free(s);
    }
    return rc;
}

int main(int argc, char **argv) {
    if (dc_global_init(NULL) != 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_all(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: test_atrest_format DIR | test_atrest_format --write DIR\n");
        return 2;
    }
    g_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_master),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_frame_mask),
        cmocka_unit_test(test_vector_file),
        cmocka_unit_test(test_vector_wal),
        cmocka_unit_test(test_vector_passphrase),
        cmocka_unit_test(test_replica_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
