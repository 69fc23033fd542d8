/*
 * The cryptography of attachments (docs/attachments.md): the keyed content
 * hashes that name chunks and attachments, and the AEAD of each object.
 *
 * Ids are keyed with subkeys of the space key, not plain hashes: a plain
 * content hash would let a relay see that two spaces (or two epochs) hold
 * the same photo, and let anyone holding a file confirm that a space holds
 * it.  The AEAD binds each object to its header, its space and its id, so
 * a relay cannot swap one chunk for another, move it between spaces or
 * present a chunk as a manifest.
 */
#include <string.h>
#include <sodium.h>

#include "crypto/crypto.h"

static const char KDF_CONTEXT[crypto_kdf_CONTEXTBYTES] = {'d', 'c', 'a', 't', 't', 'a', 'c', 'h'};
static const char ID_CONTEXT[] = "drivercore attachment v1";
#define AD_SIZE (DC_ATT_HEADER_SIZE + 16 + 32)

void dc__att_derive(uint8_t keys[DC_ATT_KEYS], const uint8_t key[DC_SPACE_KEY]) {
    crypto_kdf_derive_from_key(keys, 32, 1, KDF_CONTEXT, key);
    crypto_kdf_derive_from_key(keys + 32, 32, 2, KDF_CONTEXT, key);
}

void dc__att_chunk_id(uint8_t id[32], const uint8_t keys[DC_ATT_KEYS], const uint8_t *p, size_t n) {
    crypto_generichash(id, 32, p, n, keys, 32);
}

void dc__att_id(uint8_t id[32], const uint8_t keys[DC_ATT_KEYS], uint64_t size, uint32_t chunk,
                const uint8_t *cids, uint32_t n) {
    crypto_generichash_state st;
    uint8_t h[12];
    dc__store_be64(h, size);
    dc__store_be32(h + 8, chunk);
    crypto_generichash_init(&st, keys + 32, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)ID_CONTEXT, sizeof ID_CONTEXT);
    crypto_generichash_update(&st, h, sizeof h);
    crypto_generichash_update(&st, cids, (size_t)n * 32);
    crypto_generichash_final(&st, id, 32);
}

static void make_ad(uint8_t ad[AD_SIZE], const uint8_t *hdr, const uint8_t space[16],
                    const uint8_t oid[32]) {
    memcpy(ad, hdr, DC_ATT_HEADER_SIZE);
    memcpy(ad + DC_ATT_HEADER_SIZE, space, 16);
    memcpy(ad + DC_ATT_HEADER_SIZE + 16, oid, 32);
}

int dc__att_seal(dc_buf *out, uint8_t kind, uint32_t epoch, const uint8_t key[DC_SPACE_KEY],
                 const uint8_t space[16], const uint8_t oid[32], const uint8_t *p, size_t n,
                 dc__err *err) {
    uint8_t nonce[24], kid[DC_KEY_ID], ad[AD_SIZE];
    dc__random(nonce, sizeof nonce);
    dc__key_id(kid, key);
    dc__buf_clear(out);
    if (dc__buf_reserve(out, DC_ATT_HEADER_SIZE + n + 16))
        return dc__err_set(err, DC_ENOMEM, "attachment: out of memory");
    dc__att_write_header(out->ptr, kind, epoch, kid, nonce);
    make_ad(ad, out->ptr, space, oid);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out->ptr + DC_ATT_HEADER_SIZE, &clen, p, n, ad,
                                               sizeof ad, NULL, nonce, key);
    out->size = DC_ATT_HEADER_SIZE + (size_t)clen;
    return 0;
}

int dc__att_open(dc_buf *plain, const dc__att_hdr *h, const uint8_t *obj,
                 const uint8_t key[DC_SPACE_KEY], const uint8_t space[16], const uint8_t oid[32],
                 dc__err *err) {
    uint8_t ad[AD_SIZE];
    make_ad(ad, obj, space, oid);
    dc__buf_clear(plain);
    if (dc__buf_reserve(plain, h->ct_len))
        return dc__err_set(err, DC_ENOMEM, "attachment: out of memory");
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain->ptr, &mlen, NULL, h->ct, h->ct_len, ad,
                                                   sizeof ad, h->nonce, key) != 0)
        return dc__err_set(err, DC_ECORRUPT,
                           "the object does not authenticate (a flipped byte, or another "
                           "object's bytes under this id)");
    plain->size = (size_t)mlen;
    return 0;
}
