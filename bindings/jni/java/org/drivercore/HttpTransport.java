/*
 * The app's HTTP, for SyncClient (dc_transport in include/drivercore/client.h):
 * one request at a time, on the thread that called SyncClient.syncNow.  An
 * Android app hands it to OkHttp; UrlConnectionTransport is a ready one on
 * java.net.HttpURLConnection.  The library does the protocol, retries with
 * backoff and the relay's clock; the transport only carries bytes.
 *
 * execute returns the answer whatever its status; it throws an IOException
 * when no answer came (java.net.ConnectException or UnknownHostException: no
 * connection; SocketTimeoutException: stalled or too long; anything else: the
 * connection broke).  cancel() is called from another thread by
 * SyncClient.cancel: make the request in flight fail soon.
 */
package org.drivercore;

import java.io.IOException;
import java.util.Collections;
import java.util.Map;

public interface HttpTransport {
    final class Request {
        public final String method;
        public final String url;
        public final Map<String, String> headers;
        public final byte[] body;
        /** Give up connecting after this long. */
        public final long connectTimeoutMs;
        /** Give up when no byte moved either way for this long (a stalled link). */
        public final long stallTimeoutMs;
        /** Give up after this long in all (a long-poll's includes its wait). */
        public final long timeoutMs;

        Request(String method, String url, Map<String, String> headers, byte[] body,
                long connectTimeoutMs, long stallTimeoutMs, long timeoutMs) {
            this.method = method;
            this.url = url;
            this.headers = Collections.unmodifiableMap(headers);
            this.body = body;
            this.connectTimeoutMs = connectTimeoutMs;
            this.stallTimeoutMs = stallTimeoutMs;
            this.timeoutMs = timeoutMs;
        }
    }

    final class Response {
        public final int status;
        public final Map<String, String> headers;
        public final byte[] body;

        public Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers != null ? headers : Collections.<String, String>emptyMap();
            this.body = body != null ? body : new byte[0];
        }
    }

    Response execute(Request request) throws IOException;

    /** Makes the request in flight fail soon; called from another thread. */
    void cancel();
}
