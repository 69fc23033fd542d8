/*
 * An HttpTransport on java.net.HttpURLConnection: on the JVM and on Android
 * without further dependencies.  The read timeout is the stall timeout
 * (HttpURLConnection times each read, which is what a stalled link needs).
 */
package org.drivercore;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public final class UrlConnectionTransport implements HttpTransport {
    private volatile HttpURLConnection current;
    private volatile boolean cancelled;

    @Override
    public Response execute(Request q) throws IOException {
        cancelled = false;
        HttpURLConnection c = (HttpURLConnection) new URL(q.url).openConnection();
        current = c;
        try {
            c.setRequestMethod(q.method);
            c.setConnectTimeout((int) Math.min(Integer.MAX_VALUE, q.connectTimeoutMs));
            c.setReadTimeout((int) Math.min(Integer.MAX_VALUE, q.stallTimeoutMs));
            c.setUseCaches(false);
            c.setInstanceFollowRedirects(false);
            for (Map.Entry<String, String> h : q.headers.entrySet()) {
                c.setRequestProperty(h.getKey(), h.getValue());
            }
            if ("POST".equals(q.method)) {
                c.setDoOutput(true);
                c.setFixedLengthStreamingMode(q.body.length);
                try (OutputStream out = c.getOutputStream()) {
                    out.write(q.body);
                }
            }
            int status = c.getResponseCode();
            Map<String, String> headers = new HashMap<>();
            for (Map.Entry<String, List<String>> h : c.getHeaderFields().entrySet()) {
                if (h.getKey() != null && !h.getValue().isEmpty()) {
                    headers.put(h.getKey(), h.getValue().get(0));
                }
            }
            InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            if (in != null) {
                try (InputStream i = in) {
                    byte[] buf = new byte[65536];
                    for (int n; (n = i.read(buf)) > 0;) {
                        body.write(buf, 0, n);
                    }
                }
            }
            return new Response(status, headers, body.toByteArray());
        } catch (IOException e) {
            if (cancelled) {
                throw new java.io.InterruptedIOException("cancelled");
            }
            throw e;
        } finally {
            current = null;
            c.disconnect();
        }
    }

    @Override
    public void cancel() {
        cancelled = true;
        HttpURLConnection c = current;
        if (c != null) {
            c.disconnect();
        }
    }
}
