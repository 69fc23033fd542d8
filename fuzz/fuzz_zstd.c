/*
 * Fuzz target for bounded zstd decompression: a change body arrives as a
 * zstd frame inside a decrypted envelope, so a member of a space could send
 * a decompression bomb or a malformed frame.  dc__zstd_decompress must
 * refuse both without allocating past its cap (1 MiB here), and never write
 * more than the cap into the output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

#define CAP (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dc_buf out = DC_BUF_INIT;
    dc__err err;
    int rc = dc__zstd_decompress(&out, data, size, CAP, &err);
    if (rc != 0 && (err.code >= 0 || err.msg[0] == '\0'))
        abort();
    if (out.size > CAP) {
        fprintf(stderr, "fuzz_zstd: %zu bytes out, over the cap of %u\n", out.size, CAP);
        abort();
    }
    if (rc == 0) {
        /* What decompressed must compress and come back unchanged. */
        dc_buf c = DC_BUF_INIT, back = DC_BUF_INIT;
        if (dc__zstd_compress(&c, out.ptr, out.size, 3, &err) != 0 ||
            dc__zstd_decompress(&back, c.ptr, c.size, CAP, &err) != 0 || back.size != out.size ||
            (out.size && memcmp(back.ptr, out.ptr, out.size) != 0)) {
            fprintf(stderr, "fuzz_zstd: round trip failed\n");
            abort();
        }
        dc_buf_dispose(&c);
        dc_buf_dispose(&back);
    }
    dc_buf_dispose(&out);
    return 0;
}
