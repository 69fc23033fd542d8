/*
 * The byte formats of attachments (docs/format/attachment.md): the header
 * of an encrypted attachment object (a chunk of a file, or the manifest
 * that lists them) and the manifest's plaintext.  Both arrive from relays
 * and peers, so both decoders treat their input as hostile, check every
 * length before using it, and have a fuzz target (fuzz/fuzz_attach.c).
 */
#include <string.h>

#include "codec/codec.h"

static const uint8_t MAGIC[3] = {'D', 'C', 'A'};

int dc__att_parse(dc__att_hdr *out, const uint8_t *p, size_t n, dc__err *err) {
    memset(out, 0, sizeof *out);
    if (n < DC_ATT_HEADER_SIZE + 16)
        return dc__err_set(err, DC_ECORRUPT,
                           "attachment object: %zu bytes, shorter than its header", n);
    if (memcmp(p, MAGIC, 3) != 0)
        return dc__err_set(err, DC_ECORRUPT, "attachment object: bad magic");
    if (p[3] != DC_ATT_VERSION)
        return dc__err_set(err, p[3] > DC_ATT_VERSION ? DC_EVERSION : DC_ECORRUPT,
                           "attachment object: version %u, this library reads version %d", p[3],
                           DC_ATT_VERSION);
    if (p[4] != DC_ATT_KIND_CHUNK && p[4] != DC_ATT_KIND_MANIFEST)
        return dc__err_set(err, DC_ECORRUPT, "attachment object: unknown kind %u", p[4]);
    if (p[5] != DC_CIPHER_XCHACHA20POLY1305)
        return dc__err_set(err, DC_ECORRUPT, "attachment object: unknown cipher %u", p[5]);
    if (p[6] || p[7])
        return dc__err_set(err, DC_ECORRUPT, "attachment object: reserved bytes are not zero");
    size_t max =
        p[4] == DC_ATT_KIND_CHUNK ? DC_ATT_HEADER_SIZE + DC_ATT_CHUNK_MAX + 16 : DC_ATT_OBJECT_MAX;
    if (n > max)
        return dc__err_set(err, DC_ETOOBIG, "attachment object: %zu bytes, over the limit of %zu",
                           n, max);
    out->kind = p[4];
    out->epoch = dc__load_be32(p + 8);
    memcpy(out->kid, p + 12, 8);
    out->nonce = p + 20;
    out->ct = p + DC_ATT_HEADER_SIZE;
    out->ct_len = n - DC_ATT_HEADER_SIZE;
    return 0;
}

void dc__att_write_header(uint8_t hdr[DC_ATT_HEADER_SIZE], uint8_t kind, uint32_t epoch,
                          const uint8_t kid[8], const uint8_t nonce[24]) {
    memcpy(hdr, MAGIC, 3);
    hdr[3] = DC_ATT_VERSION;
    hdr[4] = kind;
    hdr[5] = DC_CIPHER_XCHACHA20POLY1305;
    hdr[6] = hdr[7] = 0;
    dc__store_be32(hdr + 8, epoch);
    memcpy(hdr + 12, kid, 8);
    memcpy(hdr + 20, nonce, 24);
}

bool dc__media_valid(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > DC_ATT_MEDIA_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    return true;
}

/* The chunks a file of `size` bytes takes; false if over the limit. */
static bool chunk_count(uint64_t size, uint32_t chunk, uint32_t *k) {
    uint64_t c = size / chunk + (size % chunk != 0);
    if (c > DC_ATT_MAX_CHUNKS)
        return false;
    *k = (uint32_t)c;
    return true;
}

static bool chunk_size_valid(uint32_t c) {
    return c >= DC_ATT_CHUNK_MIN && c <= DC_ATT_CHUNK_MAX && (c & (c - 1)) == 0;
}

int dc__manifest_encode(dc_buf *out, uint64_t size, uint32_t chunk, const char *media,
                        const uint8_t *cids, uint32_t nchunks, dc__err *err) {
    uint32_t k;
    if (!chunk_size_valid(chunk) || !chunk_count(size, chunk, &k) || k != nchunks)
        return dc__err_set(err, DC_ETOOBIG,
                           "attachment: a file of %llu bytes is over the limit of %u chunks of "
                           "%u bytes",
                           (unsigned long long)size, DC_ATT_MAX_CHUNKS, chunk);
    if (!dc__media_valid(media))
        return dc__err_set(err, DC_EINVAL,
                           "attachment: the media type must be 1..%u printable ASCII bytes "
                           "without spaces (e.g. \"image/jpeg\")",
                           DC_ATT_MEDIA_MAX);
    size_t m = strlen(media);
    uint8_t h[16];
    h[0] = 1;
    h[1] = (uint8_t)m;
    h[2] = h[3] = 0;
    dc__store_be32(h + 4, chunk);
    dc__store_be64(h + 8, size);
    dc__buf_clear(out);
    if (dc__buf_put(out, h, 16) || dc__buf_put(out, media, m) ||
        dc__buf_put(out, cids, (size_t)nchunks * 32))
        return dc__err_set(err, DC_ENOMEM, "attachment: out of memory");
    return 0;
}

int dc__manifest_decode(dc__manifest *out, const uint8_t *p, size_t n, dc__err *err) {
    memset(out, 0, sizeof *out);
    if (n < 16)
        return dc__err_set(err, DC_ECORRUPT, "manifest: %zu bytes, shorter than its header", n);
    if (p[0] != 1)
        return dc__err_set(err, p[0] > 1 ? DC_EVERSION : DC_ECORRUPT,
                           "manifest: version %u, this library reads version 1", p[0]);
    if (p[2] || p[3])
        return dc__err_set(err, DC_ECORRUPT, "manifest: reserved bytes are not zero");
    size_t m = p[1];
    out->chunk = dc__load_be32(p + 4);
    out->size = dc__load_be64(p + 8);
    if (!chunk_size_valid(out->chunk))
        return dc__err_set(err, DC_ECORRUPT, "manifest: a chunk size of %u bytes", out->chunk);
    if (!chunk_count(out->size, out->chunk, &out->nchunks))
        return dc__err_set(err, DC_ETOOBIG, "manifest: %llu bytes is over the limit of %u chunks",
                           (unsigned long long)out->size, DC_ATT_MAX_CHUNKS);
    if (m == 0 || m > DC_ATT_MEDIA_MAX || n != 16 + m + (size_t)out->nchunks * 32)
        return dc__err_set(err, DC_ECORRUPT,
                           "manifest: %zu bytes do not hold a media type of %zu bytes and %u "
                           "chunk ids",
                           n, m, out->nchunks);
    memcpy(out->media, p + 16, m);
    out->media[m] = 0;
    if (!dc__media_valid(out->media))
        return dc__err_set(err, DC_ECORRUPT, "manifest: the media type is not printable ASCII");
    out->cids = p + 16 + m;
    return 0;
}
