/*
 * crypto — everything that touches libsodium: device identities, the
 * signed device card, space keys sealed to a device, and the sealing and
 * opening of change envelopes (XChaCha20-Poly1305 with the header as
 * associated data, then an Ed25519 signature over header and ciphertext).
 * Depends only on base and codec's envelope layout.  Secrets live in
 * sodium_malloc memory and are wiped on every path.
 */
#ifndef DC_CRYPTO_H
#define DC_CRYPTO_H

#include "base/base.h"
#include "codec/codec.h"

#define DC_SIGN_PK 32
#define DC_SIGN_SK 64
#define DC_BOX_PK 32
#define DC_BOX_SK 32
#define DC_SPACE_KEY 32
#define DC_SEALED_KEY 80 /* crypto_box_SEALBYTES + 32 */
#define DC_CHANGE_ID 32

/* A device identity; allocated with sodium_malloc (secrets inside). */
typedef struct dc__identity {
    uint8_t sign_pk[DC_SIGN_PK];
    uint8_t sign_sk[DC_SIGN_SK];
    uint8_t box_pk[DC_BOX_PK];
    uint8_t box_sk[DC_BOX_SK];
} dc__identity;

dc__identity *dc__identity_new(void);     /* fresh key pairs, or NULL */
void dc__identity_free(dc__identity *id); /* wipes and frees; NULL ok */

/* Secret buffer of n bytes in guarded memory (NULL on failure). */
uint8_t *dc__secret_alloc(size_t n);
void dc__secret_free(uint8_t *p);
/* Overwrites n bytes with zeros in a way the compiler keeps (plaintext in
 * ordinary buffers, before they are reused or freed). */
void dc__wipe(void *p, size_t n);

void dc__random(uint8_t *p, size_t n);
/* BLAKE2b of p with an output of outlen bytes (16..64). */
void dc__hash(uint8_t *out, size_t outlen, const uint8_t *p, size_t n);

/* The card's signature: Ed25519 by sign_sk over
 * "drivercore card v1\0" || box_pk || name. */
void dc__card_sign(uint8_t sig[64], const dc__identity *id, const char *name);
bool dc__card_verify(const uint8_t sig[64], const uint8_t sign_pk[32], const uint8_t box_pk[32],
                     const char *name);

/* Seal a 32-byte space key to a device's X25519 key (anonymous sealed box). */
int dc__key_seal(uint8_t sealed[DC_SEALED_KEY], const uint8_t key[DC_SPACE_KEY],
                 const uint8_t box_pk[DC_BOX_PK]);
/* Open a sealed space key addressed to us; DC_EBADSIG if not ours or forged. */
int dc__key_open(uint8_t key[DC_SPACE_KEY], const uint8_t sealed[DC_SEALED_KEY],
                 const dc__identity *id);

/* ---- key ids and lockboxes (lockbox.c) ---- */

/* The id of a space key: BLAKE2b-64 keyed with the key over a constant. */
void dc__key_id(uint8_t kid[DC_KEY_ID], const uint8_t key[DC_SPACE_KEY]);

typedef struct dc__keyent {
    uint32_t epoch;
    const uint8_t *key; /* 32 bytes, in guarded memory */
} dc__keyent;

#define DC_LOCKBOX_ENTRY (4 + DC_SPACE_KEY)
#define DC_LOCKBOX_KEYS_MAX ((DC_LOCKBOX_MAX - DC_LOCKBOX_MIN) / DC_LOCKBOX_ENTRY)

/* Seals `keys` with `key`, the key of (space, epoch): nonce(24) ||
 * XChaCha20-Poly1305 of the entries (epoch be32 || key), with the space,
 * epoch and key id as associated data.  out receives the lockbox. */
int dc__lockbox_seal(dc_buf *out, const uint8_t key[DC_SPACE_KEY], const uint8_t space[16],
                     uint32_t epoch, const dc__keyent *keys, size_t n, dc__err *err);

/* Called per key of an opened lockbox; the key is valid during the call
 * only (guarded memory, wiped after).  Non-zero stops and is returned. */
typedef int (*dc__lockbox_fn)(void *user, uint32_t epoch, const uint8_t key[DC_SPACE_KEY]);
/* Opens a lockbox with the key of (space, epoch): DC_EBADSIG if it does not
 * open, DC_ECORRUPT if malformed. */
int dc__lockbox_open(const uint8_t *box, size_t n, const uint8_t key[DC_SPACE_KEY],
                     const uint8_t space[16], uint32_t epoch, dc__lockbox_fn fn, void *user,
                     dc__err *err);

/*
 * Build a signed envelope.  `e` gives the header fields (version, kind,
 * cipher, comp, space, epoch, author, seq, hlc range); `author` must equal
 * id->sign_pk.  With cipher XCHACHA20POLY1305 the body is encrypted with
 * `key` under `nonce` (NULL: random; fixed nonces are for test vectors
 * only); with cipher NONE it is stored in clear (membership envelopes) and
 * the nonce field is zero.  Appends the envelope to out.
 */
int dc__envelope_seal(dc_buf *out, const dc__envelope *e, const uint8_t *body, size_t n,
                      const uint8_t *key, const uint8_t *nonce, const dc__identity *id,
                      dc__err *err);

/* Check the Ed25519 signature of a parsed envelope against its author. */
int dc__envelope_verify(const dc__envelope *e, dc__err *err);

/* Decrypt the payload of a verified change envelope into out (plaintext
 * body, still compressed if e->comp says so). */
int dc__envelope_open(dc_buf *out, const dc__envelope *e, const uint8_t key[DC_SPACE_KEY],
                      dc__err *err);

/* The change id: BLAKE2b-256 of the whole signed envelope. */
void dc__envelope_id(uint8_t id[DC_CHANGE_ID], const uint8_t *env, size_t n);

#endif
