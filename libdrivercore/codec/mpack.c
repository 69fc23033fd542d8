/*
 * The msgpack writing body.c and stored.c share (codec/mpack.h).
 */
#include <string.h>

#include "codec/mpack.h"

int dc__mp_write(void *data, const char *p, size_t n) {
    dc__mp_sink *s = data;
    dc_buf *b = s->buf;
    /* msgpack-c writes a few bytes a call (a type byte, a number, a
     * string): while the buffer has room for them and its NUL, they are
     * copied here rather than through dc__buf_put and its reserve. */
    if (!s->failed && b->asize > b->size && b->asize - b->size > n) {
        uint8_t *d = b->ptr + b->size;
        if (n <= 16)
            for (size_t i = 0; i < n; i++)
                d[i] = (uint8_t)p[i];
        else
            memcpy(d, p, n);
        b->size += n;
        d[n] = 0;
        return 0;
    }
    if (!s->failed && dc__buf_put(b, p, n))
        s->failed = 1;
    return s->failed ? -1 : 0;
}

void dc__mp_pack_str(msgpack_packer *pk, const char *p, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, p, n);
}

void dc__mp_pack_value(msgpack_packer *pk, const dc__value *v) {
    switch (v->kind) {
    case DC_BOOL:
        if (v->num)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case DC_INT: msgpack_pack_int64(pk, v->num); break;
    case DC_STR: dc__mp_pack_str(pk, v->str, v->len); break;
    case DC_FLOAT: msgpack_pack_double(pk, dc__real(v)); break;
    case DC_BYTES:
        msgpack_pack_bin(pk, v->len);
        msgpack_pack_bin_body(pk, v->str, v->len);
        break;
    default: msgpack_pack_nil(pk);
    }
}
