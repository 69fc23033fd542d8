/*
 * Private to client/: what the attachment phase of a sync
 * (attach_sync.c) needs of the client (client.c) — one request carried
 * with the client's token, retries and failure words.
 */
#ifndef DC_CLIENT_INT_H
#define DC_CLIENT_INT_H

#include "base/base.h"
#include "drivercore/client.h"

/* Attachments moved by one dc_client_sync (summed over its attempts). */
typedef struct dc__att_figures {
    uint64_t sent, bytes_sent, received, bytes_received, refused, missing;
    uint64_t held;    /* objects the peer refused to take (403), left to send again */
    bool unsupported; /* the peer has no attachment endpoints (an older relay) */
} dc__att_figures;

/* One request (body: application/octet-stream, or none).  0 with the
 * answer's status and body, or the failure already recorded (transient
 * kinds are retried by dc_client_sync). */
int dc__client_call(dc_client *c, const char *method, const char *path, const uint8_t *body,
                    size_t n, long *status, const dc_buf **resp);
/* Records the last answer's HTTP error status as this attempt's failure. */
int dc__client_refusal(dc_client *c, const char *what);
/* Records a failure of the replica. */
int dc__client_local(dc_client *c, int code, const char *msg);
dc_replica *dc__client_replica(dc_client *c);
const char *dc__client_base(const dc_client *c);
bool dc__client_metered(const dc_client *c);

/* The attachment phase, after the records' sessions: pushes the objects
 * the peer lacks, then fetches what each space's policy asks for. */
int dc__client_attach(dc_client *c, dc__att_figures *f);

#endif
