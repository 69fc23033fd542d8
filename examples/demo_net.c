/*
 * demo_net — the relay process and the device side of syncing with it, for
 * the demo (see demo_net.h).  The sync session is the one of
 * tools/cmd_sync.c, kept short: the demo's devices are well behaved, so a
 * refusal or an unreachable relay simply ends the demo with the reason.
 *
 * The relay is the installed daemon itself, not a copy of its logic: the
 * demo starts the executable meson built (DEMO_RELAY_EXE) on the story's
 * clock: --clock-file names a mapped file whose first 8 bytes the demo
 * moves forward as the story goes.
 */
#include "demo_net.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivercore/relay.h"
#include "http_client.h"

#ifndef DEMO_RELAY_EXE
#error "DEMO_RELAY_EXE: the path of the built drivercore-relay (examples/meson.build)"
#endif

/* A session that never ends would be a protocol bug; stop it loudly. */
#define MAX_MESSAGES 10000

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the relay process ---- */

/* The port from the relay's "listening on 127.0.0.1 port N" log line, or 0. */
static int port_from_log(const char *path) {
    char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, " port ");
    return p ? atoi(p + 6) : 0;
}

int relay_start(demo_relay *rl, const char *dir, int64_t now_ms, char *err, size_t errcap) {
    memset(rl, 0, sizeof *rl);
    snprintf(rl->store, sizeof rl->store, "%s/relay.db", dir);
    snprintf(rl->log, sizeof rl->log, "%s/relay.log", dir);
    snprintf(rl->clock_file, sizeof rl->clock_file, "%s/relay-clock", dir);

    /* The shared clock page: written here, read inside the relay. */
    int fd = open(rl->clock_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        snprintf(err, errcap, "cannot create %s: %s", rl->clock_file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errcap, "cannot map %s: %s", rl->clock_file, strerror(errno));
        return -1;
    }
    rl->clock = m;
    *rl->clock = now_ms;

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int lfd = open(rl->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int nfd = open("/dev/null", O_RDONLY);
        if (lfd < 0 || nfd < 0)
            _exit(127);
        dup2(nfd, 0);
        dup2(lfd, 1);
        dup2(lfd, 2);
        execl(DEMO_RELAY_EXE, "drivercore-relay", "--store", rl->store, "--listen", "127.0.0.1:0",
              "--threads", "2", "--quiet", "--clock-file", rl->clock_file, (char *)NULL);
        dprintf(2, "exec %s: %s\n", DEMO_RELAY_EXE, strerror(errno));
        _exit(127);
    }
    rl->pid = pid;
    /* Port 0: the kernel picks a free port and the relay logs it. */
    for (int i = 0; i < 200 && !rl->port; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            rl->pid = 0;
            snprintf(err, errcap, "the relay exited at start (see %s)", rl->log);
            return -1;
        }
        rl->port = port_from_log(rl->log);
        if (!rl->port)
            sleep_ms(25);
    }
    if (!rl->port) {
        relay_stop(rl);
        snprintf(err, errcap, "the relay did not start listening within 5 s (see %s)", rl->log);
        return -1;
    }
    snprintf(rl->url, sizeof rl->url, "http://127.0.0.1:%d", rl->port);
    return 0;
}

void relay_set_clock(demo_relay *rl, int64_t now_ms) {
    if (rl->clock)
        *rl->clock = now_ms;
}

int relay_stop(demo_relay *rl) {
    int st = 0;
    if (rl->pid <= 0)
        return -1;
    kill(rl->pid, SIGTERM);
    for (int i = 0; i < 400; i++) {
        pid_t w = waitpid(rl->pid, &st, WNOHANG);
        if (w == rl->pid) {
            rl->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        sleep_ms(25);
    }
    kill(rl->pid, SIGKILL);
    waitpid(rl->pid, &st, 0);
    rl->pid = 0;
    return -1;
}

/* ---- syncing a device ---- */

static void tohex(char *out, const uint8_t *p, size_t n) {
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int unhex(uint8_t *out, size_t n, const char *hex) {
    if (!hex || strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* POSTs a small JSON object and reads one hex field of the answer. */
static int post_json(http_client *h, const char *path, const char *body, const char *field,
                     uint8_t *val, size_t n, char *err, size_t errcap) {
    http_response resp;
    if (http_request(h, "POST", path, NULL, NULL, "application/json", (const uint8_t *)body,
                     strlen(body), &resp, err, errcap) != 0)
        return -1;
    json_t *j = resp.status == 200 ? json_loadb((const char *)resp.body, resp.size, 0, NULL) : NULL;
    int rc = unhex(val, n, j ? json_string_value(json_object_get(j, field)) : NULL);
    if (rc)
        snprintf(err, errcap, "the relay refused %s (HTTP %ld): %.200s", path, resp.status,
                 resp.body ? (const char *)resp.body : "");
    json_decref(j);
    http_response_clear(&resp);
    return rc;
}

static long num(json_t *o, const char *k) {
    return (long)json_integer_value(json_object_get(o, k));
}

/* One initiator session over HTTP; adds its figures to fig.  *unheard is
 * set when the relay finished (204, no session id) while our side was not
 * done: see relay_sync. */
static int session(sync_figures *fig, int *unheard, dc_replica *r, http_client *h,
                   const char *tokhex, char *err, size_t errcap) {
    int out = -1, rc, done = 0;
    char sid[72] = "";
    dc_sync *s = NULL;
    dc_buf m = DC_BUF_INIT, rep = DC_BUF_INIT;
    http_response resp = {0};
    *unheard = 0;
    if ((rc = dc_sync_new(&s, r, DC_SYNC_INITIATOR)) != 0 ||
        (rc = dc_sync_trust_peer_clock(s)) != 0 ||
        (rc = dc_sync_step(s, &m, &done, NULL, 0)) != 0) {
        snprintf(err, errcap, "sync: %s: %s", dc_error_name(rc), dc_replica_errmsg(r));
        goto end;
    }
    for (int i = 0; m.size > 0; i++) {
        if (i == MAX_MESSAGES) {
            snprintf(err, errcap, "sync: no end after %d messages", MAX_MESSAGES);
            goto end;
        }
        http_response_clear(&resp);
        if (http_request(h, "POST", "/v1/sync", tokhex, sid, NULL, m.ptr, m.size, &resp, err,
                         errcap) != 0)
            goto end;
        if (resp.status == 429) { /* rate-limited: the message was not taken */
            sleep_ms(resp.retry_after_s > 0 ? resp.retry_after_s * 1000 : 100);
            i--;
            continue;
        }
        if (resp.status != 200 && resp.status != 204) {
            snprintf(err, errcap, "the relay refused the sync (HTTP %ld): %.200s", resp.status,
                     resp.body ? (const char *)resp.body : "");
            goto end;
        }
        if (resp.session[0])
            snprintf(sid, sizeof sid, "%s", resp.session);
        if (resp.size == 0) {
            *unheard = !done && !resp.session[0];
            break;
        }
        if ((rc = dc_sync_step(s, &m, &done, resp.body, resp.size)) != 0) {
            snprintf(err, errcap, "sync: %s: %s", dc_error_name(rc), dc_replica_errmsg(r));
            goto end;
        }
    }
    if (!done && !*unheard) {
        snprintf(err, errcap, "sync: the relay stopped answering before the session ended");
        goto end;
    }
    /* The relay's clock corrects ours; what we wrote is now durably there. */
    if (done && (rc = dc_sync_note_relay(s)) != 0) {
        snprintf(err, errcap, "recording the relay sync: %s: %s", dc_error_name(rc),
                 dc_replica_errmsg(r));
        goto end;
    }
    if ((rc = dc_sync_report(&rep, s)) != 0) {
        snprintf(err, errcap, "sync report: %s", dc_error_last());
        goto end;
    }
    json_t *j = json_loadb((const char *)rep.ptr, rep.size, 0, NULL);
    if (!j) {
        snprintf(err, errcap, "sync report is not JSON: %s", (const char *)rep.ptr);
        goto end;
    }
    fig->bytes_sent += num(j, "bytes_sent");
    fig->bytes_received += num(j, "bytes_received");
    fig->round_trips += num(j, "round_trips");
    fig->changes_sent += num(j, "changes_sent");
    fig->changes_received += num(j, "changes_received");
    if (fig->sessions++ == 0) /* the offset before any correction */
        fig->clock_offset_ms = (long long)json_integer_value(json_object_get(j, "clock_offset_ms"));
    json_decref(j);
    out = 0;
end:
    http_response_clear(&resp);
    dc_sync_free(s);
    dc_buf_dispose(&m);
    dc_buf_dispose(&rep);
    return out;
}

int relay_sync(sync_figures *fig, dc_replica *r, const char *url, char *err, size_t errcap) {
    int out = -1, unheard = 1;
    char body[512], tokhex[65] = "", chhex[65], sighex[129];
    uint8_t ch[32], sig[64], tok[32];
    const char *dev = dc_replica_device_id(r);
    memset(fig, 0, sizeof *fig);
    http_client *h = http_client_new(url, err, errcap);
    if (!h)
        return -1;

    /* Authenticate: a challenge, signed by the device key, buys a token. */
    snprintf(body, sizeof body, "{\"device\":\"%s\"}", dev);
    if (post_json(h, "/v1/auth/challenge", body, "challenge", ch, 32, err, errcap))
        goto end;
    if (dc_relay_sign_challenge(sig, r, ch) != 0) {
        snprintf(err, errcap, "signing the challenge: %s", dc_replica_errmsg(r));
        goto end;
    }
    tohex(chhex, ch, 32);
    tohex(sighex, sig, 64);
    snprintf(body, sizeof body, "{\"device\":\"%s\",\"challenge\":\"%s\",\"signature\":\"%s\"}",
             dev, chhex, sighex);
    if (post_json(h, "/v1/auth/session", body, "token", tok, 32, err, errcap))
        goto end;
    tohex(tokhex, tok, 32);

    /* Known library issue (see the report of this demo): when the relay's
     * side finishes on our last message while it was still reconciling a
     * large space, it drops its bare final message, so our session never
     * reaches done and cannot record the sync (dc_sync_note_relay).
     * Everything was exchanged; a second, short session ends properly and
     * records it.  The figures printed are those of both sessions. */
    for (int k = 0; k < 3 && unheard; k++)
        if (session(fig, &unheard, r, h, tokhex, err, errcap) != 0)
            goto end;
    if (unheard) {
        snprintf(err, errcap, "sync: three sessions ended without the relay's final message");
        goto end;
    }
    out = 0;
end:
    memset(tokhex, 0, sizeof tokhex);
    memset(tok, 0, sizeof tok);
    http_client_free(h);
    return out;
}
