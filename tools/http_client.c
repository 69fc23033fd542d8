/*
 * libcurl behind http_client.h.  A response body is capped (a relay's
 * reply is one sync message, at most 64 MiB by the protocol) so a broken
 * or hostile server cannot make the tool allocate without bound.
 */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX ((size_t)80 << 20)

struct http_client {
    CURL *c;
    char base[1024];
};

http_client *http_client_new(const char *base_url, char *err, size_t errcap) {
    static int inited;
    if (!inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
            snprintf(err, errcap, "cannot initialise libcurl");
            return NULL;
        }
        inited = 1;
    }
    size_t n = strlen(base_url);
    while (n && base_url[n - 1] == '/')
        n--;
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0) {
        snprintf(err, errcap, "the relay URL must begin with http:// or https://: %s", base_url);
        return NULL;
    }
    http_client *h = calloc(1, sizeof *h);
    if (!h || n >= sizeof h->base || !(h->c = curl_easy_init())) {
        free(h);
        snprintf(err, errcap, "cannot create an HTTP client for %s", base_url);
        return NULL;
    }
    memcpy(h->base, base_url, n);
    h->base[n] = 0;
    return h;
}

void http_client_free(http_client *h) {
    if (!h)
        return;
    curl_easy_cleanup(h->c);
    free(h);
}

void http_response_clear(http_response *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *user) {
    http_response *r = user;
    size_t n = size * nmemb;
    if (r->size + n > BODY_MAX)
        return 0; /* aborts the transfer */
    uint8_t *b = realloc(r->body, r->size + n + 1);
    if (!b)
        return 0;
    memcpy(b + r->size, p, n);
    r->size += n;
    b[r->size] = 0;
    r->body = b;
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *user) {
    http_response *r = user;
    size_t n = size * nmemb;
    char line[256];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, p, k);
    line[k] = 0;
    while (k && (line[k - 1] == '\r' || line[k - 1] == '\n' || line[k - 1] == ' '))
        line[--k] = 0;
    if (strncasecmp(line, "DC-Session:", 11) == 0) {
        const char *v = line + 11;
        while (*v == ' ')
            v++;
        size_t m = strlen(v);
        if (m < sizeof r->session) {
            memcpy(r->session, v, m);
            r->session[m] = 0;
        }
    } else if (strncasecmp(line, "Retry-After:", 12) == 0) {
        r->retry_after_s = strtol(line + 12, NULL, 10);
    }
    return n;
}

int http_request(http_client *h, const char *method, const char *path, const char *bearer,
                 const char *session, const char *content_type, const uint8_t *body, size_t n,
                 http_response *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    char url[1200], auth[160], sess[120], ctype[120];
    snprintf(url, sizeof url, "%s%s", h->base, path);
    struct curl_slist *hd = NULL;
    if (bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        hd = curl_slist_append(hd, auth);
    }
    if (session && *session) {
        snprintf(sess, sizeof sess, "DC-Session: %s", session);
        hd = curl_slist_append(hd, sess);
    }
    snprintf(ctype, sizeof ctype, "Content-Type: %s",
             content_type ? content_type : "application/octet-stream");
    hd = curl_slist_append(hd, ctype);
    hd = curl_slist_append(hd, "Expect:"); /* no 100-continue round trip */
    CURL *c = h->c;
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hd);
    if (rc != CURLE_OK) {
        snprintf(err, errcap, "%s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
        http_response_clear(out);
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    return 0;
}
