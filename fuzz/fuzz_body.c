/*
 * Fuzz target for the msgpack change body, decoded after a change has been
 * verified and decrypted — which a malicious member of a space can still
 * shape at will.  Whatever dc__body_decode accepts must also survive the
 * round trip: re-encoding the decoded ops and decoding them again gives the
 * same number of ops of the same kinds.  A decoder that accepts what the
 * encoder cannot write (or the reverse) would let two replicas disagree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch_value(const dc__value *v, volatile unsigned *sink) {
    /* Read every byte the decoder points at, so a pointer past the input
     * faults under ASan even when nothing else would look at it. */
    if (v->kind == DC_STR)
        for (uint32_t i = 0; i < v->len; i++)
            *sink += (unsigned char)v->str[i];
}

static void touch_str(const dc__str *s, volatile unsigned *sink) {
    for (uint32_t i = 0; i < s->n; i++)
        *sink += (unsigned char)s->p[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dc__body b, b2;
    dc__err err;
    volatile unsigned sink = 0;
    if (dc__body_decode(&b, data, size, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            abort();
        return 0;
    }
    for (uint32_t i = 0; i < b.nops; i++) {
        const dc__op *op = &b.ops[i];
        if (op->kind < DC_OP_SET || op->kind > DC_OP_DELETE)
            abort();
        touch_str(&op->type, &sink);
        touch_str(&op->id, &sink);
        if (op->kind == DC_OP_SET || op->kind == DC_OP_ADD || op->kind == DC_OP_REMOVE) {
            touch_str(&op->field, &sink);
            touch_value(&op->val, &sink);
        }
        for (uint32_t k = 0; k < op->ntags; k++)
            sink += op->tags[k].dev[31] + (unsigned)op->tags[k].seq + op->tags[k].op;
        for (uint32_t k = 0; k < op->nfields; k++) {
            touch_str(&op->keys[k], &sink);
            touch_value(&op->vals[k], &sink);
        }
    }

    dc_buf enc = DC_BUF_INIT;
    if (dc__body_encode(&enc, b.ops, b.nops, &err) != 0) {
        fprintf(stderr, "fuzz_body: decoded body does not re-encode: %s\n", err.msg);
        abort();
    }
    if (dc__body_decode(&b2, enc.ptr, enc.size, &err) != 0) {
        fprintf(stderr, "fuzz_body: re-encoded body does not decode: %s\n", err.msg);
        abort();
    }
    if (b2.nops != b.nops)
        abort();
    for (uint32_t i = 0; i < b.nops; i++)
        if (b2.ops[i].kind != b.ops[i].kind || b2.ops[i].id.n != b.ops[i].id.n ||
            memcmp(b2.ops[i].id.p, b.ops[i].id.p, b.ops[i].id.n) != 0)
            abort();
    dc__body_free(&b2);
    dc_buf_dispose(&enc);
    dc__body_free(&b);
    return 0;
}
