/*
 * Fuzz target for the change envelope, the first thing any device or relay
 * reads from a peer: dc__envelope_parse checks the framing, then
 * dc__envelope_verify checks the Ed25519 signature of whatever parsed.
 * Neither may read outside the input, crash or leak on hostile bytes; a
 * parsed envelope's pointers must stay inside the input, which is asserted
 * here so that a framing bug shows up even without a sanitizer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "codec/codec.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int inited;
    dc__envelope e;
    dc__err err;
    if (!inited) {
        if (dc__ensure_init() != 0)
            abort();
        inited = 1;
    }
    dc__err_clear(&err);
    if (dc__envelope_parse(&e, data, size, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            abort(); /* a refusal must carry a code and say why */
        return 0;
    }
    const uint8_t *end = data + size;
    if (e.raw != data || e.raw_len != size || e.payload < data || e.payload > end ||
        e.payload + e.payload_len > end || e.sig < data || e.sig + DC_ENV_SIG_SIZE > end ||
        e.nonce < data || e.nonce + 24 > end) {
        fprintf(stderr, "fuzz_envelope: parsed pointers leave the input\n");
        abort();
    }
    uint8_t id[DC_CHANGE_ID];
    dc__envelope_id(id, data, size);
    /* A random input almost never carries a valid signature, but the
     * verifier must still handle every author key and length it is given. */
    (void)dc__envelope_verify(&e, &err);
    return 0;
}
