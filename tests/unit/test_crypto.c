/*
 * Unit tests of libdrivercore/crypto: sealing and opening change
 * envelopes, what tampering and forgery do to them, space keys sealed to a
 * device, and device cards.  The promise under test is the one a relay and
 * every replica rely on: a change verifies only if its named author signed
 * exactly these bytes, and opens only with the right space key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "crypto/crypto.h"

static dc__identity *g_a, *g_b;
static uint8_t g_key[DC_SPACE_KEY], g_key2[DC_SPACE_KEY];

static int setup(void **state) {
    (void)state;
    if (dc_global_init(NULL) != 0)
        return -1;
    g_a = dc__identity_new();
    g_b = dc__identity_new();
    if (!g_a || !g_b)
        return -1;
    dc__random(g_key, sizeof g_key);
    dc__random(g_key2, sizeof g_key2);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dc__identity_free(g_a);
    dc__identity_free(g_b);
    dc__identity_free(NULL);
    return 0;
}

static dc__envelope header(const dc__identity *author, int kind) {
    dc__envelope e;
    memset(&e, 0, sizeof e);
    e.version = DC_ENV_VERSION;
    e.kind = (uint8_t)kind;
    e.cipher = kind == DC_ENV_KIND_CHANGE ? DC_CIPHER_XCHACHA20POLY1305 : DC_CIPHER_NONE;
    e.comp = kind == DC_ENV_KIND_CHANGE ? DC_COMP_ZSTD : DC_COMP_NONE;
    memset(e.space, 0x5b, 16);
    e.epoch = 3;
    memcpy(e.author, author->sign_pk, 32);
    e.seq = 42;
    e.hlc_min = DC_HLC_MAKE(1700000000000, 1);
    e.hlc_max = DC_HLC_MAKE(1700000000000, 9);
    return e;
}

static bool contains(const uint8_t *p, size_t n, const void *needle, size_t k) {
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, needle, k) == 0)
            return true;
    return false;
}

static const char BODY[] = "a change body: not decoded here, only sealed and opened";

static void seal_sample(dc_buf *out) {
    dc__envelope e = header(g_a, DC_ENV_KIND_CHANGE);
    dc__err err;
    assert_int_equal(
        dc__envelope_seal(out, &e, (const uint8_t *)BODY, sizeof BODY, g_key, NULL, g_a, &err), 0);
}

static void test_seal_open(void **state) {
    (void)state;
    dc_buf env = DC_BUF_INIT, plain = DC_BUF_INIT;
    seal_sample(&env);
    assert_int_equal(env.size,
                     DC_ENV_HEADER_SIZE + sizeof BODY + DC_ENV_MAC_SIZE + DC_ENV_SIG_SIZE);
    dc__envelope e;
    dc__err err;
    assert_int_equal(dc__envelope_parse(&e, env.ptr, env.size, &err), 0);
    assert_memory_equal(e.author, g_a->sign_pk, 32);
    assert_true(e.seq == 42);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);
    assert_int_equal(dc__envelope_open(&plain, &e, g_key, &err), 0);
    assert_int_equal(plain.size, sizeof BODY);
    assert_memory_equal(plain.ptr, BODY, sizeof BODY);
    /* The ciphertext is not the plaintext. */
    assert_false(contains(env.ptr, env.size, "a change body", 13));

    /* The wrong key, or a key of another epoch, does not open it. */
    assert_int_equal(dc__envelope_open(&plain, &e, g_key2, &err), DC_EBADSIG);
    assert_true(strlen(err.msg) > 0);

    /* A random nonce: sealing twice gives different envelopes (and ids). */
    dc_buf env2 = DC_BUF_INIT;
    seal_sample(&env2);
    assert_int_equal(env2.size, env.size);
    assert_memory_not_equal(env.ptr + DC_ENV_NONCE_OFFSET, env2.ptr + DC_ENV_NONCE_OFFSET, 24);
    uint8_t id1[32], id2[32], want[32];
    dc__envelope_id(id1, env.ptr, env.size);
    dc__envelope_id(id2, env2.ptr, env2.size);
    assert_memory_not_equal(id1, id2, 32);
    /* The id is BLAKE2b-256 of the whole signed envelope. */
    crypto_generichash(want, 32, env.ptr, env.size, NULL, 0);
    assert_memory_equal(id1, want, 32);

    /* Seal appends: two envelopes in one buffer. */
    size_t first = env.size;
    seal_sample(&env);
    assert_int_equal(env.size, 2 * first);
    assert_int_equal(dc__envelope_parse(&e, env.ptr + first, first, &err), 0);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);

    /* The empty body. */
    dc__buf_clear(&env);
    dc__envelope h = header(g_a, DC_ENV_KIND_CHANGE);
    assert_int_equal(dc__envelope_seal(&env, &h, NULL, 0, g_key, NULL, g_a, &err), 0);
    assert_int_equal(dc__envelope_parse(&e, env.ptr, env.size, &err), 0);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);
    assert_int_equal(dc__envelope_open(&plain, &e, g_key, &err), 0);
    assert_int_equal(plain.size, 0);

    dc_buf_dispose(&env);
    dc_buf_dispose(&env2);
    dc_buf_dispose(&plain);
}

static void test_membership_clear(void **state) {
    (void)state;
    dc_buf env = DC_BUF_INIT, plain = DC_BUF_INIT;
    dc__envelope h = header(g_a, DC_ENV_KIND_MEMBERSHIP);
    dc__err err;
    uint8_t nonce[24];
    memset(nonce, 0x77, sizeof nonce);
    /* A nonce passed for a clear envelope is ignored: the field stays zero. */
    assert_int_equal(
        dc__envelope_seal(&env, &h, (const uint8_t *)BODY, sizeof BODY, NULL, nonce, g_a, &err), 0);
    dc__envelope e;
    assert_int_equal(dc__envelope_parse(&e, env.ptr, env.size, &err), 0);
    assert_int_equal(e.payload_len, sizeof BODY);
    assert_memory_equal(e.payload, BODY, sizeof BODY);
    for (int i = 0; i < 24; i++)
        assert_int_equal(e.nonce[i], 0);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);
    /* There is nothing to decrypt. */
    assert_int_not_equal(dc__envelope_open(&plain, &e, g_key, &err), 0);
    /* A tampered clear payload fails the signature. */
    env.ptr[DC_ENV_HEADER_SIZE + 3] ^= 1;
    assert_int_equal(dc__envelope_parse(&e, env.ptr, env.size, &err), 0);
    assert_int_equal(dc__envelope_verify(&e, &err), DC_EBADSIG);
    dc_buf_dispose(&env);
    dc_buf_dispose(&plain);
}

/* Parse, verify and open; 0 only if all three pass and the body is intact. */
static int accept(const uint8_t *p, size_t n) {
    dc__envelope e;
    dc__err err;
    int rc = dc__envelope_parse(&e, p, n, &err);
    if (rc == 0)
        rc = dc__envelope_verify(&e, &err);
    if (rc == 0) {
        dc_buf plain = DC_BUF_INIT;
        rc = dc__envelope_open(&plain, &e, g_key, &err);
        if (rc == 0 && (plain.size != sizeof BODY || memcmp(plain.ptr, BODY, sizeof BODY) != 0))
            rc = DC_ERROR;
        dc_buf_dispose(&plain);
    }
    if (rc != 0)
        assert_true(strlen(err.msg) > 0);
    return rc;
}

static void test_tamper_every_byte(void **state) {
    (void)state;
    dc_buf env = DC_BUF_INIT;
    seal_sample(&env);
    assert_int_equal(accept(env.ptr, env.size), 0);
    const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < env.size; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            env.ptr[i] ^= masks[m];
            int rc = accept(env.ptr, env.size);
            if (rc == 0)
                fail_msg("flipping byte %zu with 0x%02x went unnoticed", i, masks[m]);
            env.ptr[i] ^= masks[m];
        }
    }
    /* Truncated or extended by a byte. */
    assert_int_not_equal(accept(env.ptr, env.size - 1), 0);
    dc__buf_putc(&env, 0);
    assert_int_not_equal(accept(env.ptr, env.size), 0);
    dc_buf_dispose(&env);
}

static void test_wrong_signer(void **state) {
    (void)state;
    dc__err err;
    dc_buf env = DC_BUF_INIT;
    /* seal refuses to name an author other than the signing identity. */
    dc__envelope h = header(g_b, DC_ENV_KIND_CHANGE);
    assert_int_equal(
        dc__envelope_seal(&env, &h, (const uint8_t *)BODY, sizeof BODY, g_key, NULL, g_a, &err),
        DC_EINVAL);
    assert_int_equal(env.size, 0);

    /* A forger: B writes a header naming A as author and signs it with
     * its own key, building the envelope by hand. */
    h = header(g_a, DC_ENV_KIND_CHANGE);
    size_t plen = sizeof BODY + DC_ENV_MAC_SIZE;
    h.payload_len = (uint32_t)plen;
    size_t n = DC_ENV_HEADER_SIZE + plen + DC_ENV_SIG_SIZE;
    uint8_t *p = calloc(1, n);
    dc__envelope_write_header(p, &h);
    randombytes_buf(p + DC_ENV_NONCE_OFFSET, 24);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + DC_ENV_HEADER_SIZE, &clen, (const uint8_t *)BODY,
                                               sizeof BODY, p, DC_ENV_HEADER_SIZE, NULL,
                                               p + DC_ENV_NONCE_OFFSET, g_key);
    crypto_sign_detached(p + DC_ENV_HEADER_SIZE + plen, NULL, p, DC_ENV_HEADER_SIZE + plen,
                         g_b->sign_sk);
    dc__envelope e;
    assert_int_equal(dc__envelope_parse(&e, p, n, &err), 0);
    assert_int_equal(dc__envelope_verify(&e, &err), DC_EBADSIG);
    assert_true(strlen(err.msg) > 0);
    /* The same bytes signed by A (the control) verify: the forgery failed
     * because of the signer, not because the hand-made envelope is wrong. */
    crypto_sign_detached(p + DC_ENV_HEADER_SIZE + plen, NULL, p, DC_ENV_HEADER_SIZE + plen,
                         g_a->sign_sk);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);
    assert_int_equal(accept(p, n), 0);

    /* A genuine envelope of A with the author field rewritten to B. */
    seal_sample(&env);
    memcpy(env.ptr + 28, g_b->sign_pk, 32);
    assert_int_equal(dc__envelope_parse(&e, env.ptr, env.size, &err), 0);
    assert_int_equal(dc__envelope_verify(&e, &err), DC_EBADSIG);
    /* Re-signed by B as author B, the header (associated data) no longer
     * matches what was encrypted: it verifies but does not open. */
    crypto_sign_detached((uint8_t *)e.sig, NULL, env.ptr, DC_ENV_HEADER_SIZE + e.payload_len,
                         g_b->sign_sk);
    assert_int_equal(dc__envelope_verify(&e, &err), 0);
    dc_buf plain = DC_BUF_INIT;
    assert_int_equal(dc__envelope_open(&plain, &e, g_key, &err), DC_EBADSIG);
    free(p);
    dc_buf_dispose(&env);
    dc_buf_dispose(&plain);
}

static void test_key_seal_open(void **state) {
    (void)state;
    uint8_t sealed[DC_SEALED_KEY], sealed2[DC_SEALED_KEY];
    uint8_t *got = dc__secret_alloc(DC_SPACE_KEY);
    assert_non_null(got);
    assert_int_equal(dc__key_seal(sealed, g_key, g_b->box_pk), 0);
    assert_false(contains(sealed, sizeof sealed, g_key, 8));
    assert_int_equal(dc__key_open(got, sealed, g_b), 0);
    assert_memory_equal(got, g_key, DC_SPACE_KEY);
    /* Anonymous sealed boxes use a fresh ephemeral key every time. */
    assert_int_equal(dc__key_seal(sealed2, g_key, g_b->box_pk), 0);
    assert_memory_not_equal(sealed, sealed2, sizeof sealed);
    /* Addressed to B: A cannot open it, and gets zeros, not garbage. */
    memset(got, 0xee, DC_SPACE_KEY);
    assert_int_equal(dc__key_open(got, sealed, g_a), DC_EBADSIG);
    uint8_t zero[DC_SPACE_KEY] = {0};
    assert_memory_equal(got, zero, DC_SPACE_KEY);
    /* Any flipped byte is refused. */
    for (size_t i = 0; i < sizeof sealed; i++) {
        sealed[i] ^= 0x20;
        assert_int_equal(dc__key_open(got, sealed, g_b), DC_EBADSIG);
        sealed[i] ^= 0x20;
    }
    assert_int_equal(dc__key_open(got, sealed, g_b), 0);
    dc__secret_free(got);
    dc__secret_free(NULL);
}

static void test_card(void **state) {
    (void)state;
    uint8_t sig[64];
    const char *name = "driver \xc3\x87"
                       "a\xc4\x9f"
                       "da\xc5\x9f";
    dc__card_sign(sig, g_a, name);
    assert_true(dc__card_verify(sig, g_a->sign_pk, g_a->box_pk, name));
    /* Another name, another box key (a relay swapping in its own key to
     * read the space), another signer, a flipped signature: all refused. */
    assert_false(dc__card_verify(sig, g_a->sign_pk, g_a->box_pk, "driver"));
    assert_false(dc__card_verify(sig, g_a->sign_pk, g_b->box_pk, name));
    assert_false(dc__card_verify(sig, g_b->sign_pk, g_a->box_pk, name));
    for (int i = 0; i < 64; i += 7) {
        sig[i] ^= 1;
        assert_false(dc__card_verify(sig, g_a->sign_pk, g_a->box_pk, name));
        sig[i] ^= 1;
    }
    /* The signature is over the documented message, so another
     * implementation can check it. */
    uint8_t msg[256];
    size_t n = 0;
    memcpy(msg, "drivercore card v1", 19); /* with its NUL */
    n += 19;
    memcpy(msg + n, g_a->box_pk, 32);
    n += 32;
    memcpy(msg + n, name, strlen(name));
    n += strlen(name);
    crypto_sign_state st;
    crypto_sign_init(&st);
    crypto_sign_update(&st, msg, n);
    assert_int_equal(crypto_sign_final_verify(&st, sig, g_a->sign_pk), 0);
    /* The empty name. */
    dc__card_sign(sig, g_b, "");
    assert_true(dc__card_verify(sig, g_b->sign_pk, g_b->box_pk, ""));
}

static void test_identity(void **state) {
    (void)state;
    /* Fresh identities differ, and their public keys match their secrets. */
    dc__identity *c = dc__identity_new();
    assert_non_null(c);
    assert_memory_not_equal(c->sign_pk, g_a->sign_pk, 32);
    uint8_t pk[32];
    assert_int_equal(crypto_sign_ed25519_sk_to_pk(pk, c->sign_sk), 0);
    assert_memory_equal(pk, c->sign_pk, 32);
    assert_int_equal(crypto_scalarmult_base(pk, c->box_sk), 0);
    assert_memory_equal(pk, c->box_pk, 32);
    dc__identity_free(c);
    /* The hash helper is BLAKE2b with the requested length. */
    uint8_t h[16], want[16];
    dc__hash(h, 16, (const uint8_t *)"abc", 3);
    crypto_generichash(want, 16, (const uint8_t *)"abc", 3, NULL, 0);
    assert_memory_equal(h, want, 16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open),         cmocka_unit_test(test_membership_clear),
        cmocka_unit_test(test_tamper_every_byte), cmocka_unit_test(test_wrong_signer),
        cmocka_unit_test(test_key_seal_open),     cmocka_unit_test(test_card),
        cmocka_unit_test(test_identity),
    };
    return cmocka_run_group_tests_name("crypto", tests, setup, teardown);
}
