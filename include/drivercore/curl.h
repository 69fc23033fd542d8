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

#ifdef __cplusplus
}
#endif
#endif
