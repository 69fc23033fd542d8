/*
 * Fuzz target for the membership body: it travels in clear, so relays and
 * every device decode it before any key is involved, and anyone can hand
 * one over.  Whatever dc__member_decode accepts must re-encode and decode
 * to the same ops (the encoder and decoder agree on every accepted input).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dc__member_op *ops = NULL, *ops2 = NULL;
    size_t n = 0, n2 = 0;
    dc__err err;
    if (dc__member_decode(&ops, &n, data, size, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            abort();
        /* Nothing to free on failure: a decoder that leaves memory behind
         * shows up as a leak under LeakSanitizer. */
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind < DC_MOP_GENESIS || ops[i].kind > DC_MOP_LOCKBOX)
            abort();
        if (ops[i].version == 1 && ops[i].kind != DC_MOP_GENESIS && ops[i].kind != DC_MOP_GRANT)
            abort();
        if (memchr(ops[i].name, '\0', sizeof ops[i].name) == NULL)
            abort(); /* the name must be a terminated C string */
        if ((ops[i].kind == DC_MOP_ROTATE || ops[i].kind == DC_MOP_LOCKBOX) &&
            (ops[i].lockbox_len < DC_LOCKBOX_MIN || ops[i].lockbox_len > DC_LOCKBOX_MAX ||
             ops[i].lockbox < data || ops[i].lockbox + ops[i].lockbox_len > data + size))
            abort(); /* a lockbox lies within the input */
    }
    dc_buf enc = DC_BUF_INIT;
    if (dc__member_encode_version(&enc, ops, n, ops[0].version, &err) != 0) {
        fprintf(stderr, "fuzz_member: decoded ops do not re-encode: %s\n", err.msg);
        abort();
    }
    if (dc__member_decode(&ops2, &n2, enc.ptr, enc.size, &err) != 0) {
        fprintf(stderr, "fuzz_member: re-encoded ops do not decode: %s\n", err.msg);
        abort();
    }
    if (n2 != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ops2[i].kind != ops[i].kind || ops2[i].role != ops[i].role ||
            ops2[i].epoch != ops[i].epoch || ops2[i].upto != ops[i].upto ||
            memcmp(ops2[i].device, ops[i].device, 32) != 0 ||
            memcmp(ops2[i].kid, ops[i].kid, DC_KEY_ID) != 0 ||
            ops2[i].lockbox_len != ops[i].lockbox_len ||
            (ops[i].lockbox_len &&
             memcmp(ops2[i].lockbox, ops[i].lockbox, ops[i].lockbox_len) != 0) ||
            strcmp(ops2[i].name, ops[i].name) != 0)
            abort();
    dc__free(ops2);
    dc_buf_dispose(&enc);
    dc__free(ops);
    return 0;
}
