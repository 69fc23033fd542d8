/*
 * codec/mpack.h — the msgpack writing the change bodies (body.c) and the
 * stored state of records and events (stored.c) share: a dc_buf as
 * msgpack-c's write target, strings, and values of every kind.  Private to
 * codec/.
 */
#ifndef DC_CODEC_MPACK_H
#define DC_CODEC_MPACK_H

#include <msgpack.h>

#include "base/base.h"

/* msgpack-c ignores its write callback's result, so the sink remembers a
 * failed write and the encoder reports it at the end. */
typedef struct dc__mp_sink {
    dc_buf *buf;
    int failed;
} dc__mp_sink;

/* msgpack-c's write callback over a dc__mp_sink. */
int dc__mp_write(void *data, const char *p, size_t n);
void dc__mp_pack_str(msgpack_packer *pk, const char *p, size_t n);
/* A value: nil, a boolean, an int64, a string, a float64 or bin. */
void dc__mp_pack_value(msgpack_packer *pk, const dc__value *v);

#endif
