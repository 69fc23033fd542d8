/*
 * The relay's HTTP endpoints (docs/relay.md) on libmicrohttpd, over any
 * dc_relay: the relay daemon (drivercore-relay) and `drivercore serve` (a
 * tablet as the sync peer of phones) both run this one implementation.
 */
#ifndef DRIVERCORE_RELAY_HTTP_H
#define DRIVERCORE_RELAY_HTTP_H

#include <stddef.h>

#include "drivercore/relay.h"

typedef struct relay_http_options {
    const char *listen;   /* HOST:PORT (port 0: any free port; it is logged) */
    unsigned threads;     /* MHD workers (8) */
    unsigned max_conn;    /* connections (10000) */
    unsigned per_ip;      /* connections per client address (1024; UINT_MAX: no limit) */
    unsigned max_waiters; /* long-polls (20000) */
    size_t sync_max;      /* sync request body cap (64 MiB) */
    int quiet;            /* log only refusals and lifecycle */
    const char *name;     /* the log's program name */
    /* TLS (libmicrohttpd over GnuTLS): the certificate chain and its
     * private key, PEM text (not file names); both NULL: plain HTTP.  The
     * caller keeps them until relay_http_stop. */
    const char *tls_cert_pem, *tls_key_pem;
    /* Budgets a hostile client cannot exhaust (docs/relay.md, "Limits"). */
    size_t mem_per_address; /* body bytes buffered per client address (4 x sync_max) */
    size_t mem_per_device;  /* body bytes buffered per device (sync_max) */
    unsigned header_s;      /* a connection's first request headers complete within (30) */
    unsigned idle_s;        /* no byte for this long closes a connection (30) */
    unsigned body_grace_s;  /* after this long a body must average body_min_rate (10) */
    unsigned body_min_rate; /* bytes a second (512) */
} relay_http_options;

typedef struct relay_http relay_http;

/*
 * Listens on o->listen and serves `rl` (borrowed: it must outlive the
 * server) until relay_http_stop; logs "listening on HOST port N".  Returns
 * NULL with a message in err when the address is bad or taken.  Zero
 * fields of `o` take the defaults above.
 */
relay_http *relay_http_start(dc_relay *rl, const relay_http_options *o, char *err, size_t errcap);

/* The port listened on. */
unsigned relay_http_port(const relay_http *h);

/* Stops accepting, answers every long-poll ("changed": false), lets the
 * requests in flight finish, and frees the server.  NULL is a no-op. */
void relay_http_stop(relay_http *h);

/* Logs as one JSON object a line from now on (on != 0): "ts", "program",
 * "event" (the line's first word), each `key=value` of the line as a field
 * (numbers as numbers), and "msg" (the line).  No payload and no name is
 * ever logged, in either form (a device is its id's first 8 bytes). */
void relay_http_log_json(int on);

/* One timestamped log line on stderr, under the program's name. */
void relay_http_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Blocks SIGTERM and SIGINT (call first, before any thread starts), and
 * later waits for one of them; returns the signal. */
void relay_http_block_signals(void);
int relay_http_wait_signal(void);

/* ---- the attachment endpoints (relay_attach.c; docs/attachments.md) ---- */
#include <microhttpd.h>

/* The largest request body of an attachment endpoint: one object. */
#define RELAY_ATTACH_BODY_MAX ((1u << 20) + 64u)

/* Answers POST /v1/attach/have, POST /v1/attach/put?space=&id=, GET
 * /v1/attach/get?space=&id= for the bearer `token`. */
enum MHD_Result relay_attach_handle(dc_relay *rl, struct MHD_Connection *c, const char *method,
                                    const char *url, const uint8_t token[32], const uint8_t *body,
                                    size_t n, int quiet);
/* relay_http.c's answers, for relay_attach.c. */
enum MHD_Result relay_http_reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                                 const void *p, size_t n);
enum MHD_Result relay_http_refuse(struct MHD_Connection *c, unsigned status, const char *msg);
unsigned relay_http_status_of(int rc);
/* 2n hex digits into n bytes: 0, or -1 (NULL, wrong length, not hex). */
int relay_http_unhex(uint8_t *out, size_t n, const char *hex);

#endif
