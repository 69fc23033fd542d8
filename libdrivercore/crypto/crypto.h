/*
 * crypto — everything that touches libsodium: device identities, the
 * signed device card, space keys sealed to a device, and the sealing and
 * opening of change envelopes (XChaCha20-Poly1305 with the header as
 * associated data, then an Ed25519 signature over header and ciphertext),
 * and the page cipher of the replica file at rest (atrest.c).
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

/* Guarded memory and randomness (dc__secret_alloc, dc__wipe, dc__random)
 * are base/'s (base/secret.c). */
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

/* ---- at rest (atrest.c; docs/format/at-rest.md) ---- */

#define DC__AR_VERSION 1
#define DC__AR_CIPHER 1  /* XChaCha20-Poly1305-IETF */
#define DC__AR_HEADER 80 /* meaningful bytes of the clear header */
#define DC__AR_NONCE 24
#define DC__AR_TAG 16
#define DC__AR_RESERVE 40                    /* nonce || tag, at the end of every page */
#define DC__AR_KDF_RAW 0                     /* the app gave the key itself */
#define DC__AR_KDF_ARGON2ID 1                /* the key is Argon2id(passphrase) */
#define DC__AR_OPSLIMIT 3u                   /* Argon2id cost of a new file: 3 passes ... */
#define DC__AR_MEMLIMIT ((uint64_t)32 << 20) /* ... over 32 MiB */
#define DC__PASSPHRASE_MAX 1024

enum { DC__KEY_NONE = 0, DC__KEY_RAW = 1, DC__KEY_PASSPHRASE = 2 };

/* The public dc_key: what a key provider gave.  Allocated with dc__key_new;
 * the secrets are in guarded memory. */
struct dc_key {
    int kind;
    uint8_t *raw; /* DC_KEY_BYTES, sodium_malloc */
    char *pass;   /* pass_len bytes, sodium_malloc */
    size_t pass_len;
};
dc_key *dc__key_new(void);
void dc__key_free(dc_key *k); /* wipes; NULL ok */

/* The clear header at the start of an encrypted replica file. */
typedef struct dc__ar_header {
    uint32_t page_size;
    int kdf; /* DC__AR_KDF_* */
    uint32_t opslimit;
    uint64_t memlimit;
    uint8_t kdf_salt[16];
    uint8_t file_salt[16];
    uint8_t check[16];
} dc__ar_header;

/* The keys of one file, derived from its master key and salt: allocate in
 * guarded memory. */
typedef struct dc__ar_keys {
    uint8_t page[32]; /* XChaCha20-Poly1305 key of the pages */
    uint8_t mask[32]; /* BLAKE2b key of the WAL frame-header mask */
    uint8_t salt[16]; /* the file salt, bound into every page */
} dc__ar_keys;

/* True if p starts with the at-rest magic. */
bool dc__ar_is_header(const uint8_t *p, size_t n);
/* A header for a new file: random salts; Argon2id costs for a passphrase. */
void dc__ar_header_new(dc__ar_header *h, uint32_t page_size, int kdf);
void dc__ar_header_encode(uint8_t out[DC__AR_HEADER], const dc__ar_header *h);
/* 0, DC_ECORRUPT or DC_EVERSION (the file is newer than this library). */
int dc__ar_header_parse(dc__ar_header *h, const uint8_t *p, size_t n, dc__err *err);
/* The master key: the key given, or Argon2id of the passphrase under the
 * header's salt and costs.  DC_EKEY if the kind does not match the file. */
int dc__ar_master(uint8_t master[DC_KEY_BYTES], const dc_key *k, const dc__ar_header *h,
                  dc__err *err);
/* Sets h->check for `master`; verify: 0 or DC_EKEY (another key). */
void dc__ar_header_seal(dc__ar_header *h, const uint8_t master[DC_KEY_BYTES]);
int dc__ar_header_verify(const dc__ar_header *h, const uint8_t master[DC_KEY_BYTES]);
void dc__ar_keys_derive(dc__ar_keys *k, const uint8_t master[DC_KEY_BYTES], const dc__ar_header *h);
/* True if the last DC__AR_RESERVE bytes of a page are zero (SQLite leaves
 * them to us). */
bool dc__ar_reserve_clear(const uint8_t *page, size_t size);
/* Encrypts page `pgno` (size bytes at src, its reserve zero) into dst (may
 * be src), writing nonce || tag into dst's reserve.  nonce NULL: random. */
void dc__ar_page_seal(const dc__ar_keys *k, uint32_t pgno, uint8_t *dst, const uint8_t *src,
                      size_t size, const uint8_t *nonce);
/* Decrypts in place and zeroes the reserve; -1 if the page is not
 * authentic (the buffer is then zero). */
int dc__ar_page_open(const dc__ar_keys *k, uint32_t pgno, uint8_t *page, size_t size);
/* XORs the mask of the WAL frame header at file offset `offset` into its
 * checksum bytes 16..23 (applying it twice restores them). */
void dc__ar_frame_mask(const dc__ar_keys *k, uint64_t offset, uint8_t hdr[24]);

/* ---- attachments (attach.c, docs/attachments.md) ---- */

#define DC_ATT_KEYS 64 /* the chunk-id key, then the attachment-id key */

/* The keys of a space key's attachment ids (into guarded memory): two
 * subkeys by crypto_kdf, so ids name content only within the space and
 * key epoch, and a relay cannot tell that two spaces hold one file. */
void dc__att_derive(uint8_t keys[DC_ATT_KEYS], const uint8_t key[DC_SPACE_KEY]);
/* A chunk's id: BLAKE2b-256 of its bytes, keyed with the chunk-id key. */
void dc__att_chunk_id(uint8_t id[32], const uint8_t keys[DC_ATT_KEYS], const uint8_t *p, size_t n);
/* An attachment's id: BLAKE2b-256 keyed with the attachment-id key over a
 * constant, the file's size, the chunk size and its chunks' ids. */
void dc__att_id(uint8_t id[32], const uint8_t keys[DC_ATT_KEYS], uint64_t size, uint32_t chunk,
                const uint8_t *cids, uint32_t n);
/* Seals `p` as an attachment object of `kind` under the space key of
 * `epoch` (XChaCha20-Poly1305, a random nonce; header, space id and
 * object id as associated data) into `out` (replaced). */
int dc__att_seal(dc_buf *out, uint8_t kind, uint32_t epoch, const uint8_t key[DC_SPACE_KEY],
                 const uint8_t space[16], const uint8_t oid[32], const uint8_t *p, size_t n,
                 dc__err *err);
/* Opens an object parsed into `h` (its bytes `obj`): the plaintext into
 * `plain` (replaced), or DC_ECORRUPT when it does not authenticate. */
int dc__att_open(dc_buf *plain, const dc__att_hdr *h, const uint8_t *obj,
                 const uint8_t key[DC_SPACE_KEY], const uint8_t space[16], const uint8_t oid[32],
                 dc__err *err);

#endif
