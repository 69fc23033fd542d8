/*
 * Fuzz target for bundles, the files that arrive on a USB stick from
 * anyone.  First the codec alone: dc__bundle_parse checks the framing and
 * the trailing hash and hands out each envelope, which is parsed in turn
 * (every index must arrive once, in order, inside the input).  Then the
 * whole public path: dc_bundle_import into a replica kept for the life of
 * the process, which must either import or refuse with a code and a
 * message, never crash.  The replica lives on ":memory:" when the library
 * allows it, else in a temporary file created once per process.
 *
 * The trailer is a BLAKE2b-256 of everything before it, which a mutated
 * input almost never matches; so each input is also run a second time with
 * the trailer recomputed, which lets the fuzzer past the checksum into the
 * framing and the import (as zstd's fuzzers do with frame checksums).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct walk {
    const uint8_t *data;
    size_t size;
    uint64_t next;
} walk;

static int each(void *user, uint64_t index, const uint8_t *env, size_t n) {
    walk *w = user;
    dc__envelope e;
    dc__err err;
    if (index != w->next || env < w->data || n > w->size || env + n > w->data + w->size) {
        fprintf(stderr, "fuzz_bundle: envelope %llu is out of order or outside the input\n",
                (unsigned long long)index);
        abort();
    }
    w->next++;
    (void)dc__envelope_parse(&e, env, n, &err);
    return 0;
}

static char tmp_path[64];

static void remove_tmp(void) {
    char p[80];
    if (!tmp_path[0])
        return;
    unlink(tmp_path);
    snprintf(p, sizeof p, "%s-wal", tmp_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", tmp_path);
    unlink(p);
}

static dc_replica *replica(void) {
    static dc_replica *r;
    if (r)
        return r;
    if (dc_replica_open(&r, ":memory:", NULL) == 0)
        return r;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/dc-fuzz-bundle-%ld.db", (long)getpid());
    if (dc_replica_open(&r, tmp_path, NULL) != 0) {
        fprintf(stderr, "fuzz_bundle: cannot open a replica: %s\n", dc_error_last());
        abort();
    }
    atexit(remove_tmp);
    return r;
}

static void run(const uint8_t *data, size_t size) {
    walk w = {data, size, 0};
    uint64_t count = 0;
    dc__err err;
    int rc = dc__bundle_parse(data, size, &count, each, &w, &err);
    if (rc != 0 && (err.code >= 0 || err.msg[0] == '\0'))
        abort();
    if (rc == 0 && count != w.next) {
        fprintf(stderr, "fuzz_bundle: count %llu but %llu envelopes seen\n",
                (unsigned long long)count, (unsigned long long)w.next);
        abort();
    }

    dc_replica *r = replica();
    dc_buf report = DC_BUF_INIT;
    rc = dc_bundle_import(r, data, size, &report);
    if (rc != 0 && (dc_replica_errcode(r) == 0 || dc_replica_errmsg(r)[0] == '\0')) {
        fprintf(stderr, "fuzz_bundle: import failed (%d) without saying why\n", rc);
        abort();
    }
    dc_buf_dispose(&report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    run(data, size);
    if (size >= DC_BUNDLE_HEADER_SIZE + DC_BUNDLE_TRAILER_SIZE) {
        size_t body = size - DC_BUNDLE_TRAILER_SIZE;
        uint8_t h[DC_BUNDLE_TRAILER_SIZE];
        crypto_generichash(h, sizeof h, data, body, NULL, 0);
        if (memcmp(h, data + body, sizeof h) != 0) {
            uint8_t *fixed = malloc(size);
            if (!fixed)
                abort();
            memcpy(fixed, data, body);
            memcpy(fixed + body, h, sizeof h);
            run(fixed, size);
            free(fixed);
        }
    }
    return 0;
}
