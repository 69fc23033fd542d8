/*
 * The cryptography of the replica file at rest (docs/format/at-rest.md):
 * the file's clear header, the master key (given by the app, or derived
 * from a passphrase with Argon2id), the keys derived from it for one file,
 * the AEAD of one page, and the mask over the checksums SQLite writes in
 * the WAL's frame headers.  Pure functions over bytes: the SQLite VFS that
 * applies them to files lives in store/vfs.c, so that this part can be
 * pinned by a golden vector and tested without SQLite.
 */
#include <string.h>
#include <sodium.h>

#include "crypto/crypto.h"

static const uint8_t MAGIC[8] = {'D', 'C', 'A', 'T', 'R', 'E', 'S', 'T'};

/* BLAKE2b personalisations (16 bytes each), one per derived value. */
static const uint8_t PERSONAL_CHECK[16] = "dc-at-rest-check";
static const uint8_t PERSONAL_PAGE[16] = "dc-at-rest-page1";
static const uint8_t PERSONAL_MASK[16] = "dc-at-rest-wmask";
static const uint8_t PERSONAL_FRAME[16] = "dc-at-rest-frame";

/* Costs a header may ask for: beyond these the file is refused rather than
 * letting a tampered header make the library allocate or compute for ever. */
#define MAX_OPSLIMIT 64u
#define MAX_MEMLIMIT ((uint64_t)1 << 30)

/* ---- the key a provider gives (public dc_key) ---- */

size_t dc_key_bytes(void) {
    return DC_KEY_BYTES;
}

dc_key *dc__key_new(void) {
    dc_key *k = dc__calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->raw = sodium_malloc(DC_KEY_BYTES);
    if (!k->raw) {
        dc__free(k);
        return NULL;
    }
    return k;
}

void dc__key_free(dc_key *k) {
    if (!k)
        return;
    sodium_free(k->raw); /* wipes before unmapping */
    if (k->pass)
        sodium_free(k->pass);
    dc__free(k);
}

int dc_key_set(dc_key *k, const uint8_t *key, size_t n) {
    if (!k || !key)
        return dc__last_set(DC_EMISUSE, "dc_key_set: a NULL argument");
    if (k->kind != DC__KEY_NONE)
        return dc__last_set(DC_EINVAL, "dc_key_set: the key provider already gave a key");
    if (n != DC_KEY_BYTES)
        return dc__last_set(DC_EINVAL, "dc_key_set: an at-rest key is %d bytes, not %zu",
                            DC_KEY_BYTES, n);
    memcpy(k->raw, key, DC_KEY_BYTES);
    k->kind = DC__KEY_RAW;
    return 0;
}

int dc_key_set_passphrase(dc_key *k, const char *pass, size_t n) {
    if (!k || !pass)
        return dc__last_set(DC_EMISUSE, "dc_key_set_passphrase: a NULL argument");
    if (k->kind != DC__KEY_NONE)
        return dc__last_set(DC_EINVAL,
                            "dc_key_set_passphrase: the key provider already gave a key");
    if (n < 1 || n > DC__PASSPHRASE_MAX)
        return dc__last_set(DC_EINVAL, "dc_key_set_passphrase: a passphrase is 1 to %d bytes",
                            DC__PASSPHRASE_MAX);
    k->pass = sodium_malloc(n);
    if (!k->pass)
        return dc__last_set(DC_ENOMEM, "dc_key_set_passphrase: out of guarded memory");
    memcpy(k->pass, pass, n);
    k->pass_len = n;
    k->kind = DC__KEY_PASSPHRASE;
    return 0;
}

/* ---- the header ---- */

bool dc__ar_is_header(const uint8_t *p, size_t n) {
    return n >= sizeof MAGIC && memcmp(p, MAGIC, sizeof MAGIC) == 0;
}

static bool all_zero(const uint8_t *p, size_t n) {
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

void dc__ar_header_new(dc__ar_header *h, uint32_t page_size, int kdf) {
    memset(h, 0, sizeof *h);
    h->page_size = page_size;
    h->kdf = kdf;
    if (kdf == DC__AR_KDF_ARGON2ID) {
        h->opslimit = DC__AR_OPSLIMIT;
        h->memlimit = DC__AR_MEMLIMIT;
        randombytes_buf(h->kdf_salt, sizeof h->kdf_salt);
    }
    randombytes_buf(h->file_salt, sizeof h->file_salt);
}

void dc__ar_header_encode(uint8_t out[DC__AR_HEADER], const dc__ar_header *h) {
    memset(out, 0, DC__AR_HEADER);
    memcpy(out, MAGIC, 8);
    out[8] = DC__AR_VERSION;
    out[9] = DC__AR_CIPHER;
    out[10] = (uint8_t)h->kdf;
    out[11] = 0;
    dc__store_be32(out + 12, h->page_size);
    out[16] = DC__AR_RESERVE;
    dc__store_be32(out + 20, h->opslimit);
    dc__store_be64(out + 24, h->memlimit);
    memcpy(out + 32, h->kdf_salt, 16);
    memcpy(out + 48, h->file_salt, 16);
    memcpy(out + 64, h->check, 16);
}

int dc__ar_header_parse(dc__ar_header *h, const uint8_t *p, size_t n, dc__err *err) {
    memset(h, 0, sizeof *h);
    if (n < DC__AR_HEADER || !dc__ar_is_header(p, n))
        return dc__err_set(err, DC_ECORRUPT, "the at-rest header is missing or truncated");
    if (p[8] != DC__AR_VERSION)
        return dc__err_set(err, p[8] > DC__AR_VERSION ? DC_EVERSION : DC_ECORRUPT,
                           "the file is encrypted with at-rest format version %u; this library "
                           "reads version %d%s",
                           p[8], DC__AR_VERSION,
                           p[8] > DC__AR_VERSION ? ": upgrade drivercore" : "");
    if (p[9] != DC__AR_CIPHER)
        return dc__err_set(err, DC_EVERSION, "the file's cipher id %u is unknown to this library",
                           p[9]);
    if (p[10] != DC__AR_KDF_RAW && p[10] != DC__AR_KDF_ARGON2ID)
        return dc__err_set(err, DC_EVERSION,
                           "the file's key derivation id %u is unknown to this library", p[10]);
    if (p[11] != 0 || !all_zero(p + 17, 3))
        return dc__err_set(err, DC_ECORRUPT, "the at-rest header's reserved bytes are not zero");
    h->kdf = p[10];
    h->page_size = dc__load_be32(p + 12);
    if (h->page_size < 512 || h->page_size > 65536 || (h->page_size & (h->page_size - 1)))
        return dc__err_set(err, DC_ECORRUPT, "the at-rest header gives a page size of %u",
                           h->page_size);
    if (p[16] != DC__AR_RESERVE)
        return dc__err_set(err, DC_ECORRUPT, "the at-rest header gives %u reserved bytes per page",
                           p[16]);
    h->opslimit = dc__load_be32(p + 20);
    h->memlimit = dc__load_be64(p + 24);
    memcpy(h->kdf_salt, p + 32, 16);
    memcpy(h->file_salt, p + 48, 16);
    memcpy(h->check, p + 64, 16);
    if (h->kdf == DC__AR_KDF_RAW) {
        if (h->opslimit || h->memlimit || !all_zero(h->kdf_salt, 16))
            return dc__err_set(err, DC_ECORRUPT,
                               "the at-rest header has passphrase costs but no passphrase");
    } else if (h->opslimit < crypto_pwhash_OPSLIMIT_MIN || h->opslimit > MAX_OPSLIMIT ||
               h->memlimit < crypto_pwhash_MEMLIMIT_MIN || h->memlimit > MAX_MEMLIMIT) {
        return dc__err_set(err, DC_ECORRUPT,
                           "the at-rest header asks Argon2id for %u passes over %llu bytes, "
                           "outside what this library accepts",
                           h->opslimit, (unsigned long long)h->memlimit);
    }
    return 0;
}

/* ---- keys ---- */

static void keyed_hash(uint8_t *out, size_t outlen, const uint8_t master[32], const uint8_t *in,
                       size_t n, const uint8_t personal[16]) {
    static const uint8_t zero_salt[16] = {0};
    crypto_generichash_blake2b_salt_personal(out, outlen, in, n, master, 32, zero_salt, personal);
}

int dc__ar_master(uint8_t master[DC_KEY_BYTES], const dc_key *k, const dc__ar_header *h,
                  dc__err *err) {
    if (k->kind == DC__KEY_NONE)
        return dc__err_set(err, DC_EKEY, "the key provider returned without giving a key");
    if (h->kdf == DC__AR_KDF_RAW) {
        if (k->kind != DC__KEY_RAW)
            return dc__err_set(err, DC_EKEY,
                               "the file is encrypted with a key, and a passphrase was given");
        memcpy(master, k->raw, DC_KEY_BYTES);
        return 0;
    }
    if (k->kind != DC__KEY_PASSPHRASE)
        return dc__err_set(err, DC_EKEY,
                           "the file is encrypted with a passphrase, and a key was given");
    if (crypto_pwhash(master, DC_KEY_BYTES, k->pass, k->pass_len, h->kdf_salt, h->opslimit,
                      (size_t)h->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return dc__err_set(err, DC_ENOMEM,
                           "out of memory deriving the key from the passphrase (Argon2id needs "
                           "%llu MiB)",
                           (unsigned long long)(h->memlimit >> 20));
    return 0;
}

void dc__ar_header_seal(dc__ar_header *h, const uint8_t master[DC_KEY_BYTES]) {
    uint8_t raw[DC__AR_HEADER];
    dc__ar_header_encode(raw, h);
    keyed_hash(h->check, 16, master, raw, 64, PERSONAL_CHECK);
}

int dc__ar_header_verify(const dc__ar_header *h, const uint8_t master[DC_KEY_BYTES]) {
    uint8_t raw[DC__AR_HEADER], check[16];
    dc__ar_header_encode(raw, h);
    keyed_hash(check, 16, master, raw, 64, PERSONAL_CHECK);
    return sodium_memcmp(check, h->check, 16) == 0 ? 0 : DC_EKEY;
}

void dc__ar_keys_derive(dc__ar_keys *k, const uint8_t master[DC_KEY_BYTES],
                        const dc__ar_header *h) {
    keyed_hash(k->page, sizeof k->page, master, h->file_salt, 16, PERSONAL_PAGE);
    keyed_hash(k->mask, sizeof k->mask, master, h->file_salt, 16, PERSONAL_MASK);
    memcpy(k->salt, h->file_salt, 16);
}

/* ---- pages ---- */

static void page_ad(uint8_t ad[20], const dc__ar_keys *k, uint32_t pgno) {
    memcpy(ad, k->salt, 16);
    dc__store_be32(ad + 16, pgno);
}

bool dc__ar_reserve_clear(const uint8_t *page, size_t size) {
    return all_zero(page + size - DC__AR_RESERVE, DC__AR_RESERVE);
}

void dc__ar_page_seal(const dc__ar_keys *k, uint32_t pgno, uint8_t *dst, const uint8_t *src,
                      size_t size, const uint8_t *nonce) {
    uint8_t ad[20];
    uint8_t *n = dst + size - DC__AR_RESERVE, *tag = n + DC__AR_NONCE;
    page_ad(ad, k, pgno);
    if (nonce)
        memcpy(n, nonce, DC__AR_NONCE);
    else
        randombytes_buf(n, DC__AR_NONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt_detached(dst, tag, NULL, src, size - DC__AR_RESERVE,
                                                        ad, sizeof ad, NULL, n, k->page);
}

int dc__ar_page_open(const dc__ar_keys *k, uint32_t pgno, uint8_t *page, size_t size) {
    uint8_t ad[20];
    uint8_t *n = page + size - DC__AR_RESERVE, *tag = n + DC__AR_NONCE;
    page_ad(ad, k, pgno);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(page, NULL, page, size - DC__AR_RESERVE,
                                                            tag, ad, sizeof ad, n, k->page) != 0)
        return -1;
    /* SQLite computed its checksums over a page whose reserve was zero. */
    memset(n, 0, DC__AR_RESERVE);
    return 0;
}

void dc__ar_frame_mask(const dc__ar_keys *k, uint64_t offset, uint8_t hdr[24]) {
    uint8_t in[24], mask[8];
    memcpy(in, hdr, 16);
    dc__store_be64(in + 16, offset);
    keyed_hash(mask, sizeof mask, k->mask, in, sizeof in, PERSONAL_FRAME);
    for (int i = 0; i < 8; i++)
        hdr[16 + i] ^= mask[i];
}
