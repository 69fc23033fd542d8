/*
 * The change envelope's binary framing (docs/format/envelope.md).  This
 * file only checks shape: magic, version, reserved bits, algorithm ids and
 * lengths, so that nothing downstream reads a byte that is not there.
 * Signatures and decryption are crypto/seal.c's job.
 */
#include <string.h>

#include "codec/codec.h"

static const uint8_t MAGIC[3] = {'D', 'C', 'E'};

void dc__envelope_write_header(uint8_t h[DC_ENV_HEADER_SIZE], const dc__envelope *e) {
    memcpy(h, MAGIC, 3);
    h[3] = e->version;
    h[4] = 0; /* reserved flags */
    h[5] = e->kind;
    h[6] = e->cipher;
    h[7] = e->comp;
    memcpy(h + 8, e->space, 16);
    dc__store_be32(h + 24, e->epoch);
    memcpy(h + 28, e->author, 32);
    dc__store_be64(h + 60, e->seq);
    dc__store_be64(h + 68, e->hlc_min);
    dc__store_be64(h + 76, e->hlc_max);
    dc__store_be32(h + 84, e->payload_len);
    /* bytes 88..111: the nonce, written by the sealer */
}

int dc__envelope_parse(dc__envelope *out, const uint8_t *p, size_t n, dc__err *err) {
    memset(out, 0, sizeof *out);
    if (!p || n < DC_ENV_HEADER_SIZE + DC_ENV_SIG_SIZE)
        return dc__err_set(err, DC_ECORRUPT,
                           "envelope: %zu bytes is shorter than the smallest "
                           "envelope (%d bytes)",
                           n, DC_ENV_HEADER_SIZE + DC_ENV_SIG_SIZE);
    if (n > DC_ENV_MAX_SIZE)
        return dc__err_set(err, DC_ETOOBIG, "envelope: %zu bytes exceeds the limit of %u bytes", n,
                           DC_ENV_MAX_SIZE);
    if (memcmp(p, MAGIC, 3) != 0)
        return dc__err_set(err, DC_ECORRUPT, "envelope: bad magic (not a drivercore change)");
    if (p[3] == 0)
        return dc__err_set(err, DC_ECORRUPT, "envelope: format version 0 does not exist");
    if (p[3] > DC_ENV_VERSION)
        return dc__err_set(err, DC_EVERSION,
                           "envelope: format version %u is newer than this "
                           "library reads (%d); upgrade drivercore",
                           p[3], DC_ENV_VERSION);
    if (p[4] != 0)
        return dc__err_set(err, DC_ECORRUPT, "envelope: reserved flags 0x%02x must be zero", p[4]);
    out->version = p[3];
    out->flags = p[4];
    out->kind = p[5];
    out->cipher = p[6];
    out->comp = p[7];
    if (out->kind != DC_ENV_KIND_CHANGE && out->kind != DC_ENV_KIND_MEMBERSHIP)
        return dc__err_set(err, DC_ECORRUPT, "envelope: unknown kind %u", out->kind);
    /* Changes are always encrypted; membership is always clear so a relay can
     * check who may write without holding the space key. */
    if (out->kind == DC_ENV_KIND_CHANGE && out->cipher != DC_CIPHER_XCHACHA20POLY1305)
        return dc__err_set(err, DC_ECORRUPT, "envelope: unknown cipher id %u for a change",
                           out->cipher);
    if (out->kind == DC_ENV_KIND_MEMBERSHIP && out->cipher != DC_CIPHER_NONE)
        return dc__err_set(err, DC_ECORRUPT,
                           "envelope: membership must not be encrypted "
                           "(cipher id %u)",
                           out->cipher);
    if (out->comp != DC_COMP_NONE && out->comp != DC_COMP_ZSTD)
        return dc__err_set(err, DC_ECORRUPT, "envelope: unknown compression id %u", out->comp);
    if (out->kind == DC_ENV_KIND_MEMBERSHIP && out->comp != DC_COMP_NONE)
        return dc__err_set(err, DC_ECORRUPT, "envelope: membership must not be compressed");
    memcpy(out->space, p + 8, 16);
    out->epoch = dc__load_be32(p + 24);
    memcpy(out->author, p + 28, 32);
    out->seq = dc__load_be64(p + 60);
    out->hlc_min = dc__load_be64(p + 68);
    out->hlc_max = dc__load_be64(p + 76);
    out->payload_len = dc__load_be32(p + 84);
    if ((size_t)out->payload_len != n - DC_ENV_HEADER_SIZE - DC_ENV_SIG_SIZE)
        return dc__err_set(err, DC_ECORRUPT,
                           "envelope: payload length %u does not match the "
                           "%zu bytes present",
                           out->payload_len, n - DC_ENV_HEADER_SIZE - DC_ENV_SIG_SIZE);
    if (out->seq == 0)
        return dc__err_set(err, DC_ECORRUPT, "envelope: sequence number 0 is invalid");
    if (out->hlc_min > out->hlc_max)
        return dc__err_set(err, DC_ECORRUPT, "envelope: timestamp range is inverted");
    if (out->cipher == DC_CIPHER_XCHACHA20POLY1305 && out->payload_len < DC_ENV_MAC_SIZE)
        return dc__err_set(err, DC_ECORRUPT, "envelope: ciphertext shorter than its tag");
    if (out->cipher == DC_CIPHER_NONE) {
        for (int i = 0; i < 24; i++)
            if (p[DC_ENV_NONCE_OFFSET + i] != 0)
                return dc__err_set(err, DC_ECORRUPT,
                                   "envelope: nonce of a clear envelope must "
                                   "be zero");
    }
    out->nonce = p + DC_ENV_NONCE_OFFSET;
    out->payload = p + DC_ENV_HEADER_SIZE;
    out->sig = p + DC_ENV_HEADER_SIZE + out->payload_len;
    out->raw = p;
    out->raw_len = n;
    return 0;
}
