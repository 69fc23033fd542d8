/*
 * The relay's attachment endpoints on libmicrohttpd (docs/attachments.md,
 * "Wire"), for drivercore-relay and `drivercore serve` alike: the HTTP
 * face of dc_relay_attach_have / _put / _get.  Kept apart from
 * relay_http.c, which routes /v1/attach/ here after reading the body
 * within RELAY_ATTACH_BODY_MAX and checking that a bearer token is there.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "drivercore.h"
#include "drivercore/relay.h"
#include "relay_http.h"

static int unhex_arg(struct MHD_Connection *c, const char *name, uint8_t *out, size_t n) {
    return relay_http_unhex(out, n, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name));
}

static enum MHD_Result refuse(struct MHD_Connection *c, int rc, int quiet, const char *what) {
    unsigned st = relay_http_status_of(rc);
    if (!quiet)
        relay_http_log("attach %s status=%u: %s", what, st, dc_error_last());
    return relay_http_refuse(c, st, dc_error_last());
}

enum MHD_Result relay_attach_handle(dc_relay *rl, struct MHD_Connection *c, const char *method,
                                    const char *url, const uint8_t token[32], const uint8_t *body,
                                    size_t n, int quiet) {
    bool post = strcmp(method, "POST") == 0;
    static const uint8_t none[1] = {0};
    if (!body)
        body = none;
    if (post && strcmp(url, "/v1/attach/have") == 0) {
        dc_buf out = DC_BUF_INIT;
        int rc = dc_relay_attach_have(&out, rl, token, body, n);
        if (rc)
            return refuse(c, rc, quiet, "have");
        enum MHD_Result ok = relay_http_reply(c, 200, "application/octet-stream",
                                              out.ptr ? out.ptr : none, out.size);
        dc_buf_dispose(&out);
        return ok;
    }
    uint8_t space[16], id[32];
    bool put = post && strcmp(url, "/v1/attach/put") == 0;
    bool get = !post && strcmp(url, "/v1/attach/get") == 0;
    if (!put && !get)
        return relay_http_refuse(c, 404, "no such endpoint");
    if (unhex_arg(c, "space", space, 16) || unhex_arg(c, "id", id, 32))
        return relay_http_refuse(c, 400, "expected ?space=32 hex digits&id=64 hex digits");
    if (put) {
        int stored = 0;
        int rc = dc_relay_attach_put(&stored, rl, token, space, id, body, n);
        if (rc)
            return refuse(c, rc, quiet, "put");
        char j[32];
        int k = snprintf(j, sizeof j, "{\"stored\":%s}", stored ? "true" : "false");
        return relay_http_reply(c, 200, "application/json", j, (size_t)k);
    }
    dc_buf out = DC_BUF_INIT;
    int rc = dc_relay_attach_get(&out, rl, token, space, id);
    if (rc) {
        dc_buf_dispose(&out);
        if (rc == DC_ENOTFOUND)
            return relay_http_refuse(c, 404, dc_error_last());
        return refuse(c, rc, quiet, "get");
    }
    enum MHD_Result ok = relay_http_reply(c, 200, "application/octet-stream", out.ptr, out.size);
    dc_buf_dispose(&out);
    return ok;
}
