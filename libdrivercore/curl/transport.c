/*
 * libdrivercore-curl: the sync client's transport on libcurl
 * (include/drivercore/curl.h).  Timeouts map onto libcurl's: the connect
 * timeout; the stall timeout as "less than 1 byte/s for that long"
 * (CURLOPT_LOW_SPEED_*), so a 40 kbit/s link that still moves bytes is not
 * cut; the total timeout.  Cancellation is a flag the progress callback
 * reads.  Built apart from libdrivercore (see its meson.build), so the
 * core library never links libcurl.
 */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivercore/curl.h"
#include "drivercore/errors.h"

typedef struct ctransport {
    CURL *c;
    atomic_int cancel;
    char *ca_file, *pinned_key; /* TLS checks (dc_curl_options), or NULL */
} ctransport;

static size_t on_body(char *p, size_t size, size_t nmemb, void *user) {
    size_t n = size * nmemb;
    return dc_http_response_append(user, (const uint8_t *)p, n) == 0 ? n : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *user) {
    size_t n = size * nmemb;
    char line[512];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = 0;
    while (k && (line[k - 1] == '\r' || line[k - 1] == '\n' || line[k - 1] == ' '))
        line[--k] = 0;
    char *colon = strchr(line, ':');
    if (colon && strncmp(line, "HTTP/", 5) != 0) {
        *colon = 0;
        dc_http_response_add_header(user, line, colon + 1);
    }
    return n;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    (void)dt, (void)dn, (void)ut, (void)un;
    return atomic_load(&((ctransport *)user)->cancel) ? 1 : 0;
}

static int request(void *user, const dc_http_request *q, dc_http_response *r) {
    ctransport *t = user;
    CURL *c = t->c;
    atomic_store(&t->cancel, 0); /* a cancel belongs to the request in flight */
    struct curl_slist *hd = NULL;
    char line[512];
    for (size_t i = 0; i < dc_http_request_header_count(q); i++) {
        snprintf(line, sizeof line, "%s: %s", dc_http_request_header_name(q, i),
                 dc_http_request_header_value(q, i));
        hd = curl_slist_append(hd, line);
    }
    hd = curl_slist_append(hd, "Expect:"); /* no 100-continue round trip */
    char ebuf[CURL_ERROR_SIZE] = "";
    if ((t->ca_file || t->pinned_key) && strncmp(dc_http_request_url(q), "https://", 8) != 0) {
        curl_slist_free_all(hd);
        dc_http_response_fail(r, DC_HTTP_FAIL_CONNECT,
                              "TLS settings given for a plain http:// relay");
        return -1;
    }
    curl_easy_reset(c); /* keeps the live connection */
    if (t->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
    if (t->pinned_key)
        curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, t->pinned_key);
    curl_easy_setopt(c, CURLOPT_URL, dc_http_request_url(q));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)dc_http_request_connect_timeout_ms(q));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)dc_http_request_timeout_ms(q));
    long stall_s = (long)((dc_http_request_stall_timeout_ms(q) + 999) / 1000);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    if (strcmp(dc_http_request_method(q), "POST") == 0) {
        size_t n;
        const uint8_t *body = dc_http_request_body(q, &n);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hd);
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        dc_http_response_set_status(r, (int)status);
        return 0;
    }
    snprintf(line, sizeof line, "%s", ebuf[0] ? ebuf : curl_easy_strerror(rc));
    long connected = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connected);
    double tconn = 0;
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &tconn);
    int why;
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK: why = DC_HTTP_FAIL_CANCELED; break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    /* No checked connection to the relay: as if there were none. */
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR: why = DC_HTTP_FAIL_CONNECT; break;
    case CURLE_OPERATION_TIMEDOUT:
        why = tconn > 0 ? DC_HTTP_FAIL_TIMEOUT : DC_HTTP_FAIL_CONNECT;
        break;
    default: why = DC_HTTP_FAIL_BROKEN; break;
    }
    dc_http_response_fail(r, why, line);
    return -1;
}

static void cancel(void *user) {
    atomic_store(&((ctransport *)user)->cancel, 1);
}

static void release(void *user) {
    ctransport *t = user;
    if (!t)
        return;
    curl_easy_cleanup(t->c);
    free(t->ca_file);
    free(t->pinned_key);
    free(t);
}

int dc_curl_transport(dc_transport *out) {
    return dc_curl_transport_with(out, NULL);
}

int dc_curl_transport_with(dc_transport *out, const dc_curl_options *o) {
    static atomic_int inited;
    if (!out)
        return DC_EMISUSE;
    if (o && o->version != DC_CURL_OPTIONS_VERSION)
        return DC_EINVAL;
    dc_transport z = DC_TRANSPORT_INIT;
    *out = z;
    if (!atomic_load(&inited)) {
        /* curl_global_init is not thread-safe in old libcurl; apps with
         * threads should call it once themselves first (it is idempotent). */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
            return DC_EIO;
        atomic_store(&inited, 1);
    }
    ctransport *t = calloc(1, sizeof *t);
    if (!t)
        return DC_ENOMEM;
    if ((o && o->ca_file && !(t->ca_file = strdup(o->ca_file))) ||
        (o && o->pinned_key && !(t->pinned_key = strdup(o->pinned_key)))) {
        free(t->ca_file);
        free(t);
        return DC_ENOMEM;
    }
    if (!(t->c = curl_easy_init())) {
        free(t->ca_file);
        free(t->pinned_key);
        free(t);
        return DC_EIO;
    }
    out->request = request;
    out->cancel = cancel;
    out->release = release;
    out->user = t;
    return 0;
}
