/*
 * Sealing and opening change envelopes.  One AEAD and one signature per
 * change (a whole transaction), never per op: Ed25519 verification runs at
 * ~28 k/s, which per op would cap merging far below what SQLite can take.
 * The header is the AEAD's associated data, so a relay that rewrote the
 * space, epoch or author of a change would break decryption as well as the
 * signature.
 */
#include <string.h>
#include <sodium.h>

#include "crypto/crypto.h"

int dc__envelope_seal(dc_buf *out, const dc__envelope *e, const uint8_t *body, size_t n,
                      const uint8_t *key, const uint8_t *nonce, const dc__identity *id,
                      dc__err *err) {
    if (memcmp(e->author, id->sign_pk, 32) != 0)
        return dc__err_set(err, DC_EINVAL, "envelope: author is not the signing device");
    bool enc = e->cipher == DC_CIPHER_XCHACHA20POLY1305;
    size_t plen = n + (enc ? DC_ENV_MAC_SIZE : 0);
    size_t total = DC_ENV_HEADER_SIZE + plen + DC_ENV_SIG_SIZE;
    if (total > DC_ENV_MAX_SIZE)
        return dc__err_set(err, DC_ETOOBIG,
                           "envelope: a change of %zu bytes exceeds the limit "
                           "of %u; split the transaction",
                           total, DC_ENV_MAX_SIZE);
    if (dc__buf_reserve(out, total))
        return dc__err_set(err, DC_ENOMEM, "envelope: out of memory");
    uint8_t *h = out->ptr + out->size;
    dc__envelope hdr = *e;
    hdr.payload_len = (uint32_t)plen;
    dc__envelope_write_header(h, &hdr);
    uint8_t *np = h + DC_ENV_NONCE_OFFSET;
    if (!enc)
        memset(np, 0, 24);
    else if (nonce)
        memcpy(np, nonce, 24);
    else
        randombytes_buf(np, 24);
    uint8_t *payload = h + DC_ENV_HEADER_SIZE;
    if (enc) {
        unsigned long long clen = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(payload, &clen, body, n, h, DC_ENV_HEADER_SIZE,
                                                   NULL, np, key);
    } else if (n) {
        memcpy(payload, body, n);
    }
    crypto_sign_detached(payload + plen, NULL, h, DC_ENV_HEADER_SIZE + plen, id->sign_sk);
    out->size += total;
    out->ptr[out->size] = 0;
    return 0;
}

int dc__envelope_verify(const dc__envelope *e, dc__err *err) {
    size_t signed_len = DC_ENV_HEADER_SIZE + e->payload_len;
    if (crypto_sign_verify_detached(e->sig, e->raw, signed_len, e->author) != 0)
        return dc__err_set(err, DC_EBADSIG, "bad signature (forged or damaged change)");
    return 0;
}

int dc__envelope_open(dc_buf *out, const dc__envelope *e, const uint8_t key[DC_SPACE_KEY],
                      dc__err *err) {
    if (e->cipher != DC_CIPHER_XCHACHA20POLY1305)
        return dc__err_set(err, DC_ECORRUPT, "envelope is not encrypted");
    size_t mlen = e->payload_len - DC_ENV_MAC_SIZE;
    dc__buf_clear(out);
    if (dc__buf_reserve(out, mlen))
        return dc__err_set(err, DC_ENOMEM, "out of memory decrypting a change");
    unsigned long long got = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->ptr, &got, NULL, e->payload, e->payload_len,
                                                   e->raw, DC_ENV_HEADER_SIZE, e->nonce, key) != 0)
        return dc__err_set(err, DC_EBADSIG,
                           "decryption failed (wrong key epoch or tampered "
                           "ciphertext)");
    out->size = (size_t)got;
    out->ptr[out->size] = 0;
    return 0;
}

void dc__envelope_id(uint8_t id[DC_CHANGE_ID], const uint8_t *env, size_t n) {
    crypto_generichash(id, DC_CHANGE_ID, env, n, NULL, 0);
}
