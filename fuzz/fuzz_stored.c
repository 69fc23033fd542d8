/*
 * Fuzz target for the stored state of a record and the stored body of an
 * event (codec/stored.c), which a damaged or hand-edited replica file puts
 * in front of the decoder: the same bytes are tried as both.  Whatever a
 * decoder accepts must survive the round trip: encoding what it decoded and
 * decoding that again gives the same entries.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch_value(const dc__value *v, volatile unsigned *sink) {
    if (v->kind == DC_STR)
        for (uint32_t i = 0; i < v->len; i++)
            *sink += (unsigned char)v->str[i];
}

static bool same_value(const dc__value *a, const dc__value *b) {
    return a->kind == b->kind && a->num == b->num && a->len == b->len &&
           (a->kind != DC_STR || memcmp(a->str, b->str, a->len) == 0);
}

static void state(const uint8_t *data, size_t size) {
    dc__recdata d, d2;
    dc__err err;
    volatile unsigned sink = 0;
    if (dc__recdata_decode(data, size, &d, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            abort();
        return;
    }
    for (size_t i = 0; i < d.nregs; i++)
        touch_value(&d.regs[i].val, &sink);
    for (size_t i = 0; i < d.nadds; i++)
        touch_value(&d.adds[i].val, &sink);
    dc_buf enc = DC_BUF_INIT;
    if (dc__recdata_encode(&enc, &d, &err) != 0 ||
        dc__recdata_decode(enc.ptr, enc.size, &d2, &err) != 0)
        abort();
    if (d2.nregs != d.nregs || d2.nadds != d.nadds || d2.nrm != d.nrm)
        abort();
    for (size_t i = 0; i < d.nregs; i++)
        if (d2.regs[i].fid != d.regs[i].fid || d2.regs[i].hlc != d.regs[i].hlc ||
            d2.regs[i].did != d.regs[i].did || !same_value(&d2.regs[i].val, &d.regs[i].val))
            abort();
    for (size_t i = 0; i < d.nadds; i++)
        if (d2.adds[i].hlc != d.adds[i].hlc || d2.adds[i].seq != d.adds[i].seq ||
            !same_value(&d2.adds[i].val, &d.adds[i].val))
            abort();
    for (size_t i = 0; i < d.nrm; i++)
        if (d2.rm[i].fid != d.rm[i].fid || d2.rm[i].did != d.rm[i].did ||
            d2.rm[i].seq != d.rm[i].seq || d2.rm[i].op != d.rm[i].op)
            abort();
    dc__recdata_free(&d2);
    dc__recdata_free(&d);
    dc_buf_dispose(&enc);
}

static void event(const uint8_t *data, size_t size) {
    dc__str *keys, *k2;
    dc__value *vals, *v2;
    uint32_t n, n2;
    dc__err err;
    volatile unsigned sink = 0;
    if (dc__event_decode(data, size, &keys, &vals, &n, &err) != 0) {
        if (err.code >= 0 || err.msg[0] == '\0')
            abort();
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < keys[i].n; k++)
            sink += (unsigned char)keys[i].p[k];
        touch_value(&vals[i], &sink);
    }
    dc_buf enc = DC_BUF_INIT;
    if (dc__event_encode(&enc, keys, vals, n, &err) != 0 ||
        dc__event_decode(enc.ptr, enc.size, &k2, &v2, &n2, &err) != 0 || n2 != n)
        abort();
    dc__free(v2);
    dc__free(vals);
    dc_buf_dispose(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    state(data, size);
    event(data, size);
    return 0;
}
