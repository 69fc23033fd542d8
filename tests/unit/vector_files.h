/*
 * Reading, writing and pinning the golden files of tests/vectors/, shared by
 * the vector tests (test_vectors.c, test_atrest_format.c): a stored file is
 * read whole, its BLAKE2b-256 compared with the hash written in the test, and
 * `--write` prints the hash of what it wrote.  Header only (static
 * functions); needs cmocka, sodium and base/base.h included first.
 */
#ifndef DC_TEST_VECTOR_FILES_H
#define DC_TEST_VECTOR_FILES_H

/* The whole of DIR/NAME, malloc'd; fails the test if it cannot be read. */
static uint8_t *vec_read(const char *dir, const char *name, size_t *n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s (run the test with `--write DIR` to create it)", path);
    uint8_t *p = NULL;
    size_t cap = 0;
    *n = 0;
    for (;;) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            p = realloc(p, cap);
            assert_non_null(p);
        }
        size_t got = fread(p + *n, 1, cap - *n, f);
        if (got == 0)
            break;
        *n += got;
    }
    fclose(f);
    return p;
}

static void vec_hash_hex(char hex[65], const uint8_t *p, size_t n) {
    uint8_t h[32];
    crypto_generichash(h, 32, p, n, NULL, 0);
    dc__hex(hex, h, 32);
}

/* Fails unless the BLAKE2b-256 of p is `want` (hex). */
static void vec_assert_hash(const uint8_t *p, size_t n, const char *want) {
    char hex[65];
    vec_hash_hex(hex, p, n);
    if (strcmp(hex, want) != 0)
        fail_msg("file hash %s, expected %s: the stored vector changed", hex, want);
}

/* Writes DIR/NAME and prints its size and hash; 0 or 1. */
static int vec_write(const char *dir, const char *name, const uint8_t *p, size_t n) {
    char path[4096], hex[65];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    vec_hash_hex(hex, p, n);
    printf("%s: %zu bytes, BLAKE2b-256 %s\n", path, n, hex);
    return 0;
}

#endif
