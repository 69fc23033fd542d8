/*
 * The bundle file (docs/format/bundle.md): a header, length-prefixed
 * envelopes, and a BLAKE2b-256 of everything before it.  Envelopes are
 * signed one by one, but the trailer also catches a truncated copy or a
 * flipped bit in the framing before any envelope is looked at, so a bad
 * USB stick gives one clear error instead of a confusing one.
 */
#include <string.h>
#include <sodium.h>

#include "codec/codec.h"

static const uint8_t MAGIC[3] = {'D', 'C', 'B'};
#define BUNDLE_VERSION 1

int dc__bundle_begin(dc_buf *out) {
    uint8_t h[DC_BUNDLE_HEADER_SIZE] = {0};
    memcpy(h, MAGIC, 3);
    h[3] = BUNDLE_VERSION;
    /* h[4] flags, h[5] compression id (none: envelopes are ciphertext),
     * h[6..7] reserved, h[8..15] the count, filled in by finish. */
    dc__buf_clear(out);
    return dc__buf_put(out, h, sizeof h);
}

int dc__bundle_add(dc_buf *out, const uint8_t *env, size_t n) {
    uint8_t len[4];
    if (n > DC_ENV_MAX_SIZE)
        return DC_ETOOBIG;
    dc__store_be32(len, (uint32_t)n);
    if (dc__buf_put(out, len, 4) || dc__buf_put(out, env, n))
        return DC_ENOMEM;
    uint64_t count = dc__load_be64(out->ptr + 8) + 1;
    dc__store_be64(out->ptr + 8, count);
    return 0;
}

int dc__bundle_finish(dc_buf *out) {
    uint8_t h[DC_BUNDLE_TRAILER_SIZE];
    crypto_generichash(h, sizeof h, out->ptr, out->size, NULL, 0);
    return dc__buf_put(out, h, sizeof h);
}

int dc__bundle_checksum(const uint8_t *p, size_t n, dc__err *err) {
    if (!p || n < DC_BUNDLE_HEADER_SIZE + DC_BUNDLE_TRAILER_SIZE)
        return dc__err_set(err, DC_ECORRUPT,
                           "bundle: %zu bytes is too short to be a bundle "
                           "(truncated?)",
                           n);
    uint8_t h[DC_BUNDLE_TRAILER_SIZE];
    size_t body = n - DC_BUNDLE_TRAILER_SIZE;
    crypto_generichash(h, sizeof h, p, body, NULL, 0);
    if (sodium_memcmp(h, p + body, sizeof h) != 0)
        return dc__err_set(err, DC_ECORRUPT,
                           "bundle: checksum mismatch: the file is truncated "
                           "or damaged");
    return 0;
}

static int parse(const uint8_t *p, size_t n, bool checksum, uint64_t *count,
                 dc__bundle_each_fn each, void *user, dc__err *err) {
    *count = 0;
    if (!p || n < DC_BUNDLE_HEADER_SIZE + DC_BUNDLE_TRAILER_SIZE)
        return dc__err_set(err, DC_ECORRUPT,
                           "bundle: %zu bytes is too short to be a bundle "
                           "(truncated?)",
                           n);
    if (memcmp(p, MAGIC, 3) != 0)
        return dc__err_set(err, DC_ECORRUPT, "bundle: bad magic (not a drivercore bundle)");
    if (p[3] == 0)
        return dc__err_set(err, DC_ECORRUPT, "bundle: version 0 does not exist");
    if (p[3] > BUNDLE_VERSION)
        return dc__err_set(err, DC_EVERSION,
                           "bundle: format version %u is newer than this "
                           "library reads (%d); upgrade drivercore",
                           p[3], BUNDLE_VERSION);
    if (p[4] != 0 || p[6] != 0 || p[7] != 0)
        return dc__err_set(err, DC_ECORRUPT, "bundle: reserved bits must be zero");
    if (p[5] != DC_COMP_NONE)
        return dc__err_set(err, DC_ECORRUPT, "bundle: unknown compression id %u", p[5]);
    int rc;
    if (checksum && (rc = dc__bundle_checksum(p, n, err)))
        return rc;
    size_t body = n - DC_BUNDLE_TRAILER_SIZE;
    uint64_t want = dc__load_be64(p + 8);
    if (want > DC_BUNDLE_MAX_ENVELOPES)
        return dc__err_set(err, DC_ETOOBIG, "bundle: %llu envelopes exceeds the limit",
                           (unsigned long long)want);
    size_t pos = DC_BUNDLE_HEADER_SIZE;
    uint64_t i = 0;
    while (pos < body) {
        if (body - pos < 4)
            return dc__err_set(err, DC_ECORRUPT, "bundle: envelope %llu: truncated length",
                               (unsigned long long)i + 1);
        uint32_t len = dc__load_be32(p + pos);
        pos += 4;
        if (len > DC_ENV_MAX_SIZE)
            return dc__err_set(err, DC_ETOOBIG,
                               "bundle: envelope %llu: %u bytes exceeds the "
                               "limit",
                               (unsigned long long)i + 1, len);
        if (len > body - pos)
            return dc__err_set(err, DC_ECORRUPT, "bundle: envelope %llu: runs past the end",
                               (unsigned long long)i + 1);
        if (i >= want)
            return dc__err_set(err, DC_ECORRUPT, "bundle: more envelopes than the %llu declared",
                               (unsigned long long)want);
        if (each && (rc = each(user, i, p + pos, len)))
            return rc;
        pos += len;
        i++;
    }
    if (i != want)
        return dc__err_set(err, DC_ECORRUPT, "bundle: %llu envelopes present, %llu declared",
                           (unsigned long long)i, (unsigned long long)want);
    *count = i;
    return 0;
}

int dc__bundle_parse(const uint8_t *p, size_t n, uint64_t *count, dc__bundle_each_fn each,
                     void *user, dc__err *err) {
    return parse(p, n, true, count, each, user, err);
}

int dc__bundle_frame(const uint8_t *p, size_t n, uint64_t *count, dc__bundle_each_fn each,
                     void *user, dc__err *err) {
    return parse(p, n, false, count, each, user, err);
}
