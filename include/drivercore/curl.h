/*
 * drivercore — a ready transport for the sync client (client.h) on
 * libcurl.  It is not part of libdrivercore: it lives in its own small
 * library, libdrivercore-curl (built when libcurl is found; meson option
 * -Dcurl), so that mobile builds, whose apps bring their own HTTP (OkHttp,
 * URLSession), carry no libcurl.  Link it beside libdrivercore.
 *
 * One transport keeps one connection alive across the requests of a sync
 * (HTTP keep-alive).  Thread safety: as its client; the cancel hook may be
 * called from any thread.
 */
#ifndef DRIVERCORE_CURL_H
#define DRIVERCORE_CURL_H

#include "drivercore/client.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Fills *out with a new libcurl transport, to pass to dc_client_new (which
 * then owns it: dc_client_free releases it).  Returns 0, DC_ENOMEM, or
 * DC_EIO when libcurl cannot be initialised.
 */
DC_EXTERN int dc_curl_transport(dc_transport *out);

/*
 * How the transport checks a relay served over https:// (docs/relay.md,
 * "TLS").  Zero fields: libcurl's defaults (the system's CA store).
 *  - ca_file: a PEM file of the certificate authorities to trust instead
 *    (a province's own CA, or the relay's self-signed certificate);
 *  - pinned_key: the relay's public key, as libcurl's
 *    CURLOPT_PINNEDPUBLICKEY takes it ("sha256//BASE64", several joined by
 *    ';'), given to the device at enrolment: a relay presenting any other
 *    key is refused even with a certificate the CAs accept.
 * With either set, a plain http:// relay is refused (DC_HTTP_FAIL_CONNECT,
 * "TLS settings given for a plain http:// relay"): a device told to check
 * its relay never talks to one unchecked.
 */
typedef struct dc_curl_options {
    unsigned version; /* DC_CURL_OPTIONS_VERSION */
    const char *ca_file;
    const char *pinned_key;
} dc_curl_options;
#define DC_CURL_OPTIONS_VERSION 1u
#define DC_CURL_OPTIONS_INIT                                                                       \
    { DC_CURL_OPTIONS_VERSION, NULL, NULL }

/* dc_curl_transport with `o` (copied; may be NULL).  Also DC_EINVAL for an
 * unknown options version. */
DC_EXTERN int dc_curl_transport_with(dc_transport *out, const dc_curl_options *o);

#ifdef __cplusplus
}
#endif
#endif
