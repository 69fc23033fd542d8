/*
 * Key ids and lockboxes: what key rotation needs from cryptography.
 *
 * A key id names a space key without revealing it, so that membership
 * (which travels in clear, for relays) can say which key a rotation made.
 * A lockbox carries every older key of a space sealed with the new one: a
 * member who receives the newest key opens the lockbox of its rotation and
 * can read the whole history, while a removed device, which never gets the
 * new key, learns nothing.  docs/format/body.md, "Membership body v2".
 */
#include <string.h>
#include <sodium.h>

#include "crypto/crypto.h"

static const char KID_CONTEXT[] = "drivercore key id v1";
static const char LOCKBOX_CONTEXT[] = "drivercore lockbox v1";

void dc__key_id(uint8_t kid[DC_KEY_ID], const uint8_t key[DC_SPACE_KEY]) {
    /* A MAC of a constant under the key: names it, reveals nothing. */
    crypto_generichash(kid, DC_KEY_ID, (const uint8_t *)KID_CONTEXT, sizeof KID_CONTEXT, key,
                       DC_SPACE_KEY);
}

/* The associated data binding a lockbox to its space, epoch and key. */
static void lockbox_ad(uint8_t ad[sizeof LOCKBOX_CONTEXT + 16 + 4 + DC_KEY_ID],
                       const uint8_t space[16], uint32_t epoch, const uint8_t kid[DC_KEY_ID]) {
    memcpy(ad, LOCKBOX_CONTEXT, sizeof LOCKBOX_CONTEXT);
    memcpy(ad + sizeof LOCKBOX_CONTEXT, space, 16);
    dc__store_be32(ad + sizeof LOCKBOX_CONTEXT + 16, epoch);
    memcpy(ad + sizeof LOCKBOX_CONTEXT + 20, kid, DC_KEY_ID);
}

int dc__lockbox_seal(dc_buf *out, const uint8_t key[DC_SPACE_KEY], const uint8_t space[16],
                     uint32_t epoch, const dc__keyent *keys, size_t n, dc__err *err) {
    if (n > DC_LOCKBOX_KEYS_MAX)
        return dc__err_set(err, DC_ETOOBIG, "rotate: the space has %zu keys, more than %u", n,
                           (unsigned)DC_LOCKBOX_KEYS_MAX);
    size_t plen = n * DC_LOCKBOX_ENTRY;
    uint8_t *plain = dc__secret_alloc(plen ? plen : 1);
    if (!plain)
        return dc__err_set(err, DC_ENOMEM, "rotate: out of memory");
    for (size_t i = 0; i < n; i++) {
        dc__store_be32(plain + i * DC_LOCKBOX_ENTRY, keys[i].epoch);
        memcpy(plain + i * DC_LOCKBOX_ENTRY + 4, keys[i].key, DC_SPACE_KEY);
    }
    uint8_t kid[DC_KEY_ID], ad[sizeof LOCKBOX_CONTEXT + 16 + 4 + DC_KEY_ID];
    dc__key_id(kid, key);
    lockbox_ad(ad, space, epoch, kid);
    dc__buf_clear(out);
    int rc = 0;
    if (dc__buf_reserve(out, 24 + plen + 16)) {
        rc = dc__err_set(err, DC_ENOMEM, "rotate: out of memory");
    } else {
        randombytes_buf(out->ptr, 24);
        unsigned long long clen;
        crypto_aead_xchacha20poly1305_ietf_encrypt(out->ptr + 24, &clen, plain, plen, ad, sizeof ad,
                                                   NULL, out->ptr, key);
        out->size = 24 + (size_t)clen;
    }
    dc__secret_free(plain);
    return rc;
}

int dc__lockbox_open(const uint8_t *box, size_t n, const uint8_t key[DC_SPACE_KEY],
                     const uint8_t space[16], uint32_t epoch, dc__lockbox_fn fn, void *user,
                     dc__err *err) {
    if (n < DC_LOCKBOX_MIN || (n - DC_LOCKBOX_MIN) % DC_LOCKBOX_ENTRY != 0)
        return dc__err_set(err, DC_ECORRUPT, "lockbox: %zu bytes is not a whole number of keys", n);
    size_t plen = n - DC_LOCKBOX_MIN;
    uint8_t *plain = dc__secret_alloc(plen ? plen : 1);
    if (!plain)
        return dc__err_set(err, DC_ENOMEM, "lockbox: out of memory");
    uint8_t kid[DC_KEY_ID], ad[sizeof LOCKBOX_CONTEXT + 16 + 4 + DC_KEY_ID];
    dc__key_id(kid, key);
    lockbox_ad(ad, space, epoch, kid);
    unsigned long long mlen;
    int rc = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &mlen, NULL, box + 24, n - 24, ad,
                                                   sizeof ad, box, key) != 0) {
        rc = dc__err_set(err, DC_EBADSIG,
                         "lockbox of epoch %u does not open with its key (damaged or forged)",
                         epoch);
    } else {
        for (size_t i = 0; i < plen / DC_LOCKBOX_ENTRY && !rc; i++)
            rc = fn(user, dc__load_be32(plain + i * DC_LOCKBOX_ENTRY),
                    plain + i * DC_LOCKBOX_ENTRY + 4);
    }
    dc__secret_free(plain);
    return rc;
}
