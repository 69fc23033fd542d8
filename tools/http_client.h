/*
 * The device side of the relay's HTTP transport, on libcurl: one client
 * per relay URL, reusing its connection (keep-alive) across the requests
 * of a sync.  Only what `drivercore sync --relay` needs: POST with an
 * optional bearer token and sync session id, GET for the long-poll, and
 * the status, body and the headers the relay sends back.
 */
#ifndef DRIVERCORE_HTTP_CLIENT_H
#define DRIVERCORE_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct http_client http_client;

typedef struct http_response {
    long status;
    uint8_t *body; /* malloc'd, NUL-terminated; free with http_response_clear */
    size_t size;
    char session[72];   /* the DC-Session header, "" if none */
    long retry_after_s; /* the Retry-After header, 0 if none */
} http_response;

/* A client for `base_url` ("http://HOST:PORT"); NULL with a message in
 * err (size errcap) on failure. */
http_client *http_client_new(const char *base_url, char *err, size_t errcap);
void http_client_free(http_client *h);

/*
 * One request: `method` "GET" or "POST" to base_url + path.  `bearer` (hex
 * token) and `session` may be NULL.  Returns 0 when a response arrived
 * (whatever its status), -1 when the relay could not be reached or the
 * transfer failed (message in err).
 */
int http_request(http_client *h, const char *method, const char *path, const char *bearer,
                 const char *session, const char *content_type, const uint8_t *body, size_t n,
                 http_response *out, char *err, size_t errcap);

void http_response_clear(http_response *r);

#endif
