/*
 * Private to sync/recon*.c: the reconciliation session's state and the
 * constants of its messages (docs/protocol.md), shared by the session
 * (recon.c: writing and answering) and the message reader (recon_read.c).
 */
#ifndef DC_SYNC_RECON_INT_H
#define DC_SYNC_RECON_INT_H

#include <string.h>

#include "sync/recon.h"

#define MAGIC0 0xDC
#define MAGIC1 0x52 /* 'R': reconciliation */
#define VERSION 1
#define FLAG_OPENING 0x01
#define HEADER_SIZE 4
#define OPENING_SIZE 18 /* id_bytes, fp_bytes, salt[16] */

enum { MODE_SKIP = 0, MODE_FP = 1, MODE_IDLIST = 2, MODE_REPLY = 3 };
/* Internal classification of a received range whose IdListReply no longer
 * lines up with our items (our set grew meanwhile): it is answered with a
 * fresh fingerprint. */
#define MODE_REDO 4

/* Worst-case bytes of a bound (escape varint, delta varint, mode byte, id
 * prefix) and of a fingerprint entry; they size the room kept for deferring. */
#define BOUND_MAX (1 + 10 + 1 + DC_RECON_ID_SIZE)
#define DEFER_ENTRY_MAX (2 * BOUND_MAX + 16)
/* In full-id mode a receiver with more items than this multiple of
 * idlist_max in a listed range splits it rather than list its extras. */
#define EXTRAS_FACTOR 4

static inline int dc__recon_bound_cmp(const dc__recon_bound *a, const dc__recon_bound *b) {
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    int c = memcmp(a->id, b->id, DC_RECON_ID_SIZE);
    return (c > 0) - (c < 0);
}

extern const dc__recon_bound dc__recon_bound_zero, dc__recon_bound_inf;

typedef struct finding {
    int kind;
    dc__recon_item it;
} finding;

typedef struct list {
    dc__recon_item *v;
    size_t n, cap;
} list;

/* One received range, decoded and checked before any of it is acted on. */
typedef struct in_range {
    dc__recon_bound hi;
    int mode;
    const uint8_t *fp;        /* MODE_FP */
    uint64_t count;           /* MODE_IDLIST entries; MODE_REPLY listed count */
    const uint8_t *data;      /* IDLIST entries; REPLY bitmap */
    uint64_t extras;          /* MODE_REPLY */
    const uint8_t *extra_ids; /* MODE_REPLY in full-id mode */
} in_range;

struct dc__recon {
    int role;
    int state; /* S_* */
    dc__recon_set set;
    dc__recon_options o;
    unsigned id_bytes, fp_bytes;
    uint8_t salt[16];
    dc__err err;
    list sends, needs;
    uint64_t send_count, need_count;
    /* Findings of the range being answered: committed only when its answer
     * fits in the message, so a deferred range reports nothing twice. */
    finding *pend;
    size_t npend, cappend;
    uint64_t pend_need_count;
    /* The writer: the bound the output's last range ended at, and whether
     * the output asks anything (holds a Fingerprint or an IdList). */
    dc__recon_bound out_prev;
    bool out_asks;
    in_range *in;
    size_t nin, capin;
};

enum { S_NEW, S_WAIT, S_DONE, S_FAILED };

/* Records the session's error (the session can only start over, unless
 * the caller misused it) and returns code. */
int dc__recon_fail(dc__recon *s, int code, const char *fmt, ...) DC__PRINTF(3, 4);

/* Decodes and checks a whole message before acting on any of it, into
 * s->in; *asks tells whether it holds a range that needs an answer
 * (recon_read.c). */
int dc__recon_parse(dc__recon *s, const uint8_t *p, size_t n, bool *asks);

#endif
