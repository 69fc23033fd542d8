/*
 * Fuzz target for the reconciliation message (libdrivercore/sync/recon):
 * every peer — another device, a relay, a proxy in between — can send any
 * bytes.  The input is fed to a responder as the first message of a session
 * and to an initiator as the answer to its first message, both over small
 * fixed item sets; a refusal must carry a decoding error code and a
 * message, and an accepted message must produce an answer under the cap.
 */
#include <stdlib.h>
#include <string.h>

#include "sync/recon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dc__recon_memset *g_set;

/* 300 items; the ids and timestamps follow a fixed recipe so the seed
 * corpus (fuzz/corpus/recon) matches the sets. */
static void build(void) {
    if (g_set)
        return;
    if (dc__recon_memset_new(&g_set) != 0)
        abort();
    for (uint32_t i = 0; i < 300; i++) {
        dc__recon_item it;
        it.ts = ((uint64_t)(1700000000000ull + i * 977u) << 16) | (i % 7);
        memset(it.id, 0, sizeof it.id);
        for (int k = 0; k < 32; k++)
            it.id[k] = (uint8_t)(i * 131u + (uint32_t)k * 17u + (i >> 3));
        if (dc__recon_memset_add(g_set, &it, 1) != 0)
            abort();
    }
}

static void one(int role, const uint8_t *data, size_t size) {
    static const uint8_t salt[16] = "fuzz-recon-salt";
    dc__recon_options o = DC_RECON_OPTIONS_INIT;
    o.salt = salt;
    o.max_message = 64u << 10;
    dc__recon_set v = dc__recon_memset_view(g_set);
    dc__recon *s;
    dc__err err;
    if (dc__recon_new(&s, role, &v, &o, &err) != 0)
        abort();
    dc_buf out = DC_BUF_INIT;
    bool done = false;
    if (role == DC_RECON_INITIATOR && dc__recon_start(s, &out) != 0)
        abort();
    int rc = dc__recon_step(s, &out, &done, data, size);
    if (rc != 0) {
        if ((rc != DC_ECORRUPT && rc != DC_ETOOBIG && rc != DC_EVERSION) ||
            dc__recon_err(s)->msg[0] == '\0')
            abort();
    } else if (out.size > o.max_message) {
        abort();
    }
    dc_buf_dispose(&out);
    dc__recon_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    build();
    one(DC_RECON_RESPONDER, data, size);
    one(DC_RECON_INITIATOR, data, size);
    return 0;
}
