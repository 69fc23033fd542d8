/*
 * Fuzz target for attachment objects and manifests (codec/attach.c,
 * crypto/attach.c; docs/format/attachment.md), which relays and peers put
 * in front of a device.  The same bytes are tried as an object (framing,
 * then the AEAD under a fixed key, which must refuse what it did not seal)
 * and as a manifest's plaintext.  A manifest the decoder accepts must be
 * canonical: encoding what it decoded gives back exactly the input.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void object(const uint8_t *data, size_t size) {
    dc__att_hdr h;
    dc__err err;
    if (dc__att_parse(&h, data, size, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            abort();
        return;
    }
    if (h.ct < data || h.ct + h.ct_len != data + size || h.ct_len < 16 || h.nonce != data + 20 ||
        (h.kind != DC_ATT_KIND_CHUNK && h.kind != DC_ATT_KIND_MANIFEST))
        abort();
    /* The corpus' objects are sealed under this key, space and id. */
    uint8_t key[32], space[16], oid[32];
    memset(key, 0x5a, sizeof key);
    memset(space, 0x11, sizeof space);
    memset(oid, 0x22, sizeof oid);
    dc_buf plain = DC_BUF_INIT;
    int rc = dc__att_open(&plain, &h, data, key, space, oid, &err);
    if (rc == 0 && plain.size != h.ct_len - 16)
        abort();
    if (rc != 0 && rc != DC_ECORRUPT)
        abort();
    dc_buf_dispose(&plain);
}

static void manifest(const uint8_t *data, size_t size) {
    dc__manifest m;
    dc__err err;
    if (dc__manifest_decode(&m, data, size, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            abort();
        return;
    }
    dc_buf enc = DC_BUF_INIT;
    if (dc__manifest_encode(&enc, m.size, m.chunk, m.media, m.cids, m.nchunks, &err) != 0 ||
        enc.size != size || memcmp(enc.ptr, data, size) != 0)
        abort();
    dc_buf_dispose(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    object(data, size);
    manifest(data, size);
    return 0;
}
