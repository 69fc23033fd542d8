/*
 * Bounded zstd framing.  Compression writes the content size into every
 * frame; decompression refuses a frame that does not declare its size, or
 * declares more than the caller allows, before allocating anything, and
 * then decodes in one shot into exactly that buffer, so a decompression
 * bomb costs nothing.  Contexts go through the library's allocator.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem and the _advanced constructors */
#include <zstd.h>
#include <zstd_errors.h>

#include "codec/codec.h"

static void *zalloc(void *u, size_t n) {
    (void)u;
    return dc__malloc(n);
}
static void zfree(void *u, void *p) {
    (void)u;
    dc__free(p);
}
static const ZSTD_customMem ZMEM = {zalloc, zfree, NULL};

/* zstd's own allocation failures are ours too (they go through our hook). */
static int zerr(dc__err *err, size_t r, int otherwise) {
    if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
        return dc__err_set(err, DC_ENOMEM, "zstd: out of memory");
    return dc__err_set(err, otherwise, "zstd: %s", ZSTD_getErrorName(r));
}

int dc__zstd_compress_with(void **cctx, dc_buf *out, const uint8_t *p, size_t n, int level,
                           dc__err *err) {
    if (!*cctx && !(*cctx = ZSTD_createCCtx_advanced(ZMEM)))
        return dc__err_set(err, DC_ENOMEM, "zstd: out of memory creating a compressor");
    size_t bound = ZSTD_compressBound(n);
    if (dc__buf_reserve(out, bound))
        return dc__err_set(err, DC_ENOMEM, "zstd: out of memory");
    ZSTD_CCtx_reset(*cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(*cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(*cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(*cctx, ZSTD_c_checksumFlag, 0);
    size_t r = ZSTD_compress2(*cctx, out->ptr + out->size, bound, p, n);
    if (ZSTD_isError(r))
        return zerr(err, r, DC_ERROR);
    out->size += r;
    out->ptr[out->size] = 0;
    return 0;
}

int dc__zstd_decompress_with(void **dctx, dc_buf *out, const uint8_t *p, size_t n, size_t max_out,
                             dc__err *err) {
    unsigned long long sz = ZSTD_getFrameContentSize(p, n);
    if (sz == ZSTD_CONTENTSIZE_ERROR)
        return dc__err_set(err, DC_ECORRUPT, "zstd: not a valid zstd frame");
    if (sz == ZSTD_CONTENTSIZE_UNKNOWN)
        return dc__err_set(err, DC_ECORRUPT, "zstd: frame does not declare its size");
    if (sz > max_out)
        return dc__err_set(err, DC_ETOOBIG,
                           "zstd: frame would decompress to %llu bytes, over "
                           "the limit of %zu",
                           sz, max_out);
    size_t fsz = ZSTD_findFrameCompressedSize(p, n);
    if (ZSTD_isError(fsz) || fsz != n)
        return dc__err_set(err, DC_ECORRUPT, "zstd: frame is truncated or has trailing bytes");
    if (!*dctx && !(*dctx = ZSTD_createDCtx_advanced(ZMEM)))
        return dc__err_set(err, DC_ENOMEM, "zstd: out of memory creating a decompressor");
    /* One-shot decoding into the whole output needs no window buffer, but
     * cap the window anyway in case a frame lies about its size. */
    ZSTD_DCtx_reset(*dctx, ZSTD_reset_session_and_parameters);
    ZSTD_DCtx_setParameter(*dctx, ZSTD_d_windowLogMax, 27);
    if (dc__buf_reserve(out, (size_t)sz))
        return dc__err_set(err, DC_ENOMEM, "zstd: out of memory for %llu bytes", sz);
    size_t r = ZSTD_decompressDCtx(*dctx, out->ptr + out->size, (size_t)sz, p, n);
    if (ZSTD_isError(r))
        return zerr(err, r, DC_ECORRUPT);
    if (r != sz)
        return dc__err_set(err, DC_ECORRUPT,
                           "zstd: frame decoded to %zu bytes, not the %llu it "
                           "declared",
                           r, sz);
    out->size += r;
    out->ptr[out->size] = 0;
    return 0;
}

void dc__zstd_free_ctx(void *cctx, void *dctx) {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
}

int dc__zstd_compress(dc_buf *out, const uint8_t *p, size_t n, int level, dc__err *err) {
    void *c = NULL;
    int rc = dc__zstd_compress_with(&c, out, p, n, level, err);
    ZSTD_freeCCtx(c);
    return rc;
}

int dc__zstd_decompress(dc_buf *out, const uint8_t *p, size_t n, size_t max_out, dc__err *err) {
    void *d = NULL;
    int rc = dc__zstd_decompress_with(&d, out, p, n, max_out, err);
    ZSTD_freeDCtx(d);
    return rc;
}
