/*
 * demo_net — the relay process and the device side of syncing with it, for
 * the demo (see demo_net.h).  A device syncs through the library's sync
 * client (include/drivercore/client.h) on its libcurl transport, as
 * `drivercore sync --relay` does; a refusal or an unreachable relay ends
 * the demo with the reason.
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

#include "drivercore/curl.h"

#ifndef DEMO_RELAY_EXE
#error "DEMO_RELAY_EXE: the path of the built drivercore-relay (examples/meson.build)"
#endif

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

/* ---- syncing a device: the library's sync client ---- */

static long num(json_t *o, const char *k) {
    return (long)json_integer_value(json_object_get(o, k));
}

int relay_sync(sync_figures *fig, dc_replica *r, const char *url, char *err, size_t errcap) {
    memset(fig, 0, sizeof *fig);
    dc_transport t;
    dc_client *c = NULL;
    dc_buf rep = DC_BUF_INIT, st = DC_BUF_INIT;
    int out = -1, rc = dc_curl_transport(&t);
    if (rc) {
        snprintf(err, errcap, "cannot set up HTTP (libcurl): %s", dc_error_name(rc));
        return -1;
    }
    if ((rc = dc_client_new(&c, r, url, &t, NULL)) != 0 || (rc = dc_client_sync(c)) != 0) {
        snprintf(err, errcap, "sync: %s: %s", dc_error_name(rc), dc_replica_errmsg(r));
        goto end;
    }
    if (dc_client_report(&rep, c) != 0 || dc_client_stats(&st, c) != 0) {
        snprintf(err, errcap, "sync report: %s", dc_error_last());
        goto end;
    }
    json_t *j = json_loadb((const char *)rep.ptr, rep.size, 0, NULL);
    json_t *k = json_loadb((const char *)st.ptr, st.size, 0, NULL);
    if (j && k) {
        fig->bytes_sent = num(j, "bytes_sent");
        fig->bytes_received = num(j, "bytes_received");
        fig->round_trips = num(j, "round_trips");
        fig->changes_sent = num(j, "changes_sent");
        fig->changes_received = num(j, "changes_received");
        fig->clock_offset_ms = (long long)json_integer_value(json_object_get(j, "clock_offset_ms"));
        fig->sessions = (int)num(k, "sessions");
        out = 0;
    } else {
        snprintf(err, errcap, "sync report is not JSON: %s", (const char *)rep.ptr);
    }
    json_decref(j);
    json_decref(k);
end:
    dc_buf_dispose(&rep);
    dc_buf_dispose(&st);
    dc_client_free(c);
    return out;
}
