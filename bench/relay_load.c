/*
 * bench_relay_load — issue 3's load test: many simulated devices against one
 * drivercore-relay process on loopback.  Prints one JSON line:
 *
 *   {"bench":"relay_load","devices":N,"connected":C,"changes_in_per_s":X,
 *    "changes_out_per_s":Y,"commit_to_arrival_ms":{"p50":A,"p99":B},
 *    "relay_peak_rss_bytes":R,"seconds":T,"note":"..."}
 *
 * The devices, three kinds:
 *  - writers (real replicas, each the admin of its own space): commit a
 *    batch of changes with dc_txn_commit, then sync with the relay over HTTP
 *    (a dc_sync initiator session, one POST per message), and again;
 *  - members (real replicas, members of a writer's space): park in
 *    GET /v1/wait; when woken, sync; an observer on the replica records the
 *    moment each change arrives.  Commit-to-arrival = that moment minus the
 *    moment the writer's dc_txn_commit returned (one process, one monotonic
 *    clock: a change's id carries its sequence number, a table its commit
 *    time);
 *  - idle devices (the rest): authenticated and parked in GET /v1/wait on
 *    one epoll thread, re-parked when a wait times out.  Creating a replica
 *    costs ~4 ms on tmpfs (~20 ms on disk: its schema), so 10,000 replicas
 *    would take the whole time budget: an idle device is a bare Ed25519 key
 *    pair that signs the relay's challenge exactly as dc_relay_sign_challenge
 *    does (the prefix "drivercore relay auth v1\0" || challenge).  To the
 *    relay it is indistinguishable from a replica's device: a token, a
 *    connection, a waiter checked at every change generation.
 *
 * Rates come from the relay's own counters (/metrics), read at the start
 * and the end of the measured window; "connected" is the lowest count of
 * long-polling devices the relay reported during the window; peak memory
 * is the relay's VmHWM.  The relay's store is in a temporary directory on
 * disk (synchronous=FULL: its fsyncs are real); the device replicas are on
 * tmpfs when /dev/shm exists (they stand for other machines' disks).
 *
 * Usage: bench_relay_load [--quick] [--devices N] [--writers W]
 *          [--members-per-space M] [--batch B] [--seconds S]
 *          [--relay PATH] [--relay-threads T] [--relays 1|2]
 * --relays 2: two relays over one PostgreSQL made for the run (Debian's
 * server programs; a cluster under the temporary directory): writers and
 * half the idle devices on the first, members and the other half on the
 * second, so every arrival crossed relays.  Rates and connections are the
 * two relays' sums, peak memory the larger one's, CPU the sum; the row
 * says "relays": 2, "store": "postgresql".
 * Defaults: 10,000 devices, 40 writers, 2 members per space, batches of 25,
 * a 30 s window (~50 s in all); --quick: 300 devices, 4 writers, 3 s.
 * A percentile is null when it falls among changes that never arrived
 * (within the window and 2 s after): the note gives arrivals/expected.
 * Exit 1 if no change arrived at all.
 */
#include <dirent.h>
#include <glob.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivercore.h"
#include "drivercore/curl.h"
#include "drivercore/relay.h"
#include "hex.h"
#include "vec.h"

#ifndef DC_BENCH_RELAY
#define DC_BENCH_RELAY "drivercore-relay"
#endif

/* ---- clocks, small helpers ---- */

static double t_origin;

static double mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Microseconds since the bench began (fits the commit-time table). */
static int64_t now_us(void) {
    return (int64_t)((mono() - t_origin) * 1e6);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void die(const char *fmt, const char *arg) {
    fprintf(stderr, "bench_relay_load: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

/* ---- shared state ---- */

static struct {
    int port;
    pid_t relay_pid;
    atomic_bool stop_writers, stop_all;
    /* Commit time (µs since t_origin) of change number i; 0 = not yet. */
    _Atomic int64_t *commit_us;
    size_t commit_cap;
    atomic_size_t commit_seq;
    atomic_long sync_errors, syncs, rate_limited;
    pthread_mutex_t lat_mu;
    double *lat_ms;
    size_t nlat, lat_cap;
    long members_per_space;
    /* Where the writers' and members' time goes (µs, summed over threads). */
    atomic_llong commit_time_us, writer_sync_us, member_sync_us;
    atomic_int failures_logged;
    atomic_long writer_syncs;
} g;

/* CPU seconds this process (the simulated devices) has used. */
static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The first few sync failures go to stderr, to say why. */
static void log_failure(const char *what, int status, const char *body) {
    if (!atomic_load(&g.stop_all) && atomic_fetch_add(&g.failures_logged, 1) < 5)
        fprintf(stderr, "bench_relay_load: sync failed: %s %d %.200s\n", what, status,
                body ? body : "");
}

static void add_latency(double ms) {
    pthread_mutex_lock(&g.lat_mu);
    if (VEC_ROOM(g.lat_ms, g.nlat, g.lat_cap)) {
        pthread_mutex_unlock(&g.lat_mu);
        return;
    }
    g.lat_ms[g.nlat++] = ms;
    pthread_mutex_unlock(&g.lat_mu);
}

/* ---- a minimal blocking HTTP/1.1 client (keep-alive) ---- */

typedef struct conn {
    int fd;
    uint8_t *buf; /* bytes read past the current response */
    size_t n, cap;
} conn;

typedef struct resp {
    int status;
    uint8_t *body;
    size_t size;
    char session[80];
    long retry_after;
} resp;

/* Two relays (--relays 2, over one PostgreSQL): the second one's port and
 * pid; each thread talks to the relay of its devices (tl_port, 0: the
 * first).  Writers and the first half of the idle devices use the first
 * relay, members and the second half the second: every change a member
 * receives crossed from one relay to the other. */
static int g_port2;
static pid_t g_pid2;
static _Thread_local int tl_port;

static int idle_port(long k, long nidle_all) {
    return g_port2 && k >= nidle_all / 2 ? g_port2 : 0;
}

static int tcp_connect(bool nonblock) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)(tl_port ? tl_port : g.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static void conn_close(conn *c) {
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->n = 0;
}

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fill(conn *c) {
    /* Room for a read of 16 KiB at least. */
    if (VEC_RESERVE(c->buf, c->cap, c->n + 16384))
        return -1;
    ssize_t r;
    errno = 0;
    do
        r = recv(c->fd, c->buf + c->n, c->cap - c->n, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return -1;
    c->n += (size_t)r;
    return 0;
}

/* The end of the response head ("\r\n\r\n") in p[0..n), or NULL. */
static char *head_end(uint8_t *p, size_t n) {
    for (size_t i = 0; i + 4 <= n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return (char *)p + i;
    return NULL;
}

static const char *header(const char *head, size_t hn, const char *name) {
    size_t k = strlen(name);
    for (const char *p = head; p && p < head + hn; p = memchr(p, '\n', (size_t)(head + hn - p))) {
        if (*p == '\n')
            p++;
        if (strncasecmp(p, name, k) == 0 && p[k] == ':') {
            p += k + 1;
            while (*p == ' ')
                p++;
            return p;
        }
    }
    return NULL;
}

/* Why the last http_do of this thread failed. */
static _Thread_local char http_why[96];

/* One request; 0 when a response arrived (any status), -1 on a transport
 * failure (the connection is then closed; the caller may retry). */
static int http_do(conn *c, const char *method, const char *path, const char *token,
                   const char *session, const void *body, size_t n, resp *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = c->fd < 0;
        if (fresh && (c->fd = tcp_connect(false)) < 0) {
            snprintf(http_why, sizeof http_why, "connect: %s", strerror(errno));
            return -1;
        }
        char head[1024];
        int hl = snprintf(head, sizeof head,
                          "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s%s%s%s"
                          "Content-Length: %zu\r\n\r\n",
                          method, path, token ? "Authorization: Bearer " : "", token ? token : "",
                          token ? "\r\n" : "", session && *session ? "DC-Session: " : "",
                          session && *session ? session : "", session && *session ? "\r\n" : "", n);
        if (write_all(c->fd, head, (size_t)hl) || (n && write_all(c->fd, body, n))) {
            snprintf(http_why, sizeof http_why, "send: %s", strerror(errno));
            conn_close(c);
            if (fresh)
                return -1;
            continue; /* a keep-alive connection the relay had closed */
        }
        char *end = NULL;
        int bad = 0;
        while (!(end = head_end(c->buf, c->n)))
            if (fill(c)) {
                bad = 1;
                break;
            }
        if (bad) {
            snprintf(http_why, sizeof http_why, "recv head (fresh %d, attempt %d): %s", fresh,
                     attempt, errno ? strerror(errno) : "closed");
            conn_close(c);
            if (fresh || attempt)
                return -1;
            continue;
        }
        size_t hn = (size_t)(end - (char *)c->buf) + 4;
        char *h = (char *)c->buf;
        if (sscanf(h, "HTTP/1.%*d %d", &r->status) != 1) {
            conn_close(c);
            return -1;
        }
        const char *v = header(h, hn, "Content-Length");
        size_t len = v ? strtoull(v, NULL, 10) : 0;
        if ((v = header(h, hn, "DC-Session")) != NULL) {
            size_t k = strcspn(v, "\r\n");
            if (k < sizeof r->session) {
                memcpy(r->session, v, k);
                r->session[k] = 0;
            }
        }
        if ((v = header(h, hn, "Retry-After")) != NULL)
            r->retry_after = strtol(v, NULL, 10);
        v = header(h, hn, "Connection");
        bool closing = v && strncasecmp(v, "close", 5) == 0;
        while (c->n < hn + len)
            if (fill(c)) {
                snprintf(http_why, sizeof http_why, "recv body");
                conn_close(c);
                return -1;
            }
        h = (char *)c->buf;
        r->body = malloc(len + 1);
        if (!r->body) {
            conn_close(c);
            return -1;
        }
        memcpy(r->body, c->buf + hn, len);
        r->body[len] = 0;
        r->size = len;
        memmove(c->buf, c->buf + hn + len, c->n - hn - len);
        c->n -= hn + len;
        if (closing)
            conn_close(c);
        return 0;
    }
    return -1;
}

/* A field of a small JSON answer, as hex bytes. */
static int json_hex(const resp *r, const char *field, uint8_t *out, size_t n) {
    json_t *j = json_loadb((const char *)r->body, r->size, 0, NULL);
    int rc = hex_decode(out, n, j ? json_string_value(json_object_get(j, field)) : NULL);
    json_decref(j);
    return rc;
}

/* Authenticate: challenge, signature (by `r`'s device key, or by the bare
 * key `sk` for an idle device), token.  0 on success. */
static int authenticate(conn *c, dc_replica *rep, const uint8_t pk[32], const uint8_t *sk,
                        char tokhex[65]) {
    char body[400], dev[65], chhex[65], sighex[129];
    uint8_t ch[32], sig[64], tok[32];
    resp r = {0};
    hex_encode(dev, pk, 32);
    snprintf(body, sizeof body, "{\"device\":\"%s\"}", dev);
    int rc = -1;
    if (http_do(c, "POST", "/v1/auth/challenge", NULL, NULL, body, strlen(body), &r) ||
        r.status != 200 || json_hex(&r, "challenge", ch, 32))
        goto done;
    if (rep) {
        if (dc_relay_sign_challenge(sig, rep, ch) != 0)
            goto done;
    } else {
        uint8_t m[DC_RELAY_AUTH_PREFIX_LEN + 32];
        memcpy(m, DC_RELAY_AUTH_PREFIX, DC_RELAY_AUTH_PREFIX_LEN); /* its NUL included */
        memcpy(m + DC_RELAY_AUTH_PREFIX_LEN, ch, 32);
        crypto_sign_detached(sig, NULL, m, sizeof m, sk);
    }
    hex_encode(chhex, ch, 32);
    hex_encode(sighex, sig, 64);
    snprintf(body, sizeof body, "{\"device\":\"%s\",\"challenge\":\"%s\",\"signature\":\"%s\"}",
             dev, chhex, sighex);
    if (http_do(c, "POST", "/v1/auth/session", NULL, NULL, body, strlen(body), &r) ||
        r.status != 200 || json_hex(&r, "token", tok, 32))
        goto done;
    hex_encode(tokhex, tok, 32);
    rc = 0;
done:
    free(r.body);
    return rc;
}

/* ---- relay metrics ---- */

typedef struct metrics {
    double in, out, waiters, conns, rate_refusals;
    /* The store's group commits (-1: a relay without them). */
    double groups, bundles, commit_s;
} metrics;

static double metric(const char *text, const char *name) {
    size_t k = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, name, k) == 0 && p[k] == ' ')
            return strtod(p + k + 1, NULL);
    }
    return -1;
}

static int read_metrics1(metrics *m) {
    conn c = {-1, NULL, 0, 0};
    resp r = {0};
    int rc = http_do(&c, "GET", "/metrics", NULL, NULL, NULL, 0, &r);
    if (rc == 0 && r.status == 200) {
        m->in = metric((char *)r.body, "drivercore_relay_changes_in_total");
        m->out = metric((char *)r.body, "drivercore_relay_changes_out_total");
        m->waiters = metric((char *)r.body, "drivercore_relay_waiters");
        m->conns = metric((char *)r.body, "drivercore_relay_connections");
        /* 429s: the sync client waits them out itself; the relay counts them. */
        m->rate_refusals =
            metric((char *)r.body, "drivercore_relay_refusals_total{reason=\"rate\"}");
        atomic_store(&g.rate_limited, (long)m->rate_refusals);
        m->groups =
            metric((char *)r.body, "drivercore_relay_commit_groups_total{store=\"sqlite\"}");
        m->bundles =
            metric((char *)r.body, "drivercore_relay_commit_bundles_total{store=\"sqlite\"}");
        m->commit_s =
            metric((char *)r.body, "drivercore_relay_commit_seconds_sum{store=\"sqlite\"}");
    } else {
        rc = -1;
    }
    free(r.body);
    conn_close(&c);
    free(c.buf);
    return rc;
}

/* The relays' figures summed (with two relays, each read from its own). */
static int read_metrics(metrics *m) {
    int saved = tl_port;
    tl_port = 0;
    int rc = read_metrics1(m);
    if (!rc && g_port2) {
        metrics b;
        tl_port = g_port2;
        if ((rc = read_metrics1(&b)) == 0) {
            m->in += b.in;
            m->out += b.out;
            m->waiters += b.waiters;
            m->conns += b.conns;
            m->rate_refusals += b.rate_refusals;
            if (m->groups >= 0 && b.groups >= 0) {
                m->groups += b.groups;
                m->bundles += b.bundles;
                m->commit_s += b.commit_s;
            }
        }
    }
    tl_port = saved;
    return rc;
}

/* A relay's peak resident set (VmHWM) and CPU seconds so far. */
static long long hwm_of(pid_t pid) {
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtoll(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

static double cpu_of(pid_t pid) {
    char p[64], line[1024];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    double s = -1;
    if (fgets(line, sizeof line, f)) {
        char *q = strrchr(line, ')');
        unsigned long ut, st;
        if (q &&
            sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    fclose(f);
    return s;
}

/* The highest peak of the relays, and their CPU seconds summed. */
static long long relay_hwm(void) {
    long long a = hwm_of(g.relay_pid), b = g_pid2 ? hwm_of(g_pid2) : -1;
    return a > b ? a : b;
}

static double relay_cpu_s(void) {
    double a = cpu_of(g.relay_pid);
    if (g_pid2 && a >= 0) {
        double b = cpu_of(g_pid2);
        a = b >= 0 ? a + b : -1;
    }
    return a;
}

/* ---- one sync session over HTTP ---- */

typedef struct device {
    int idx;
    int port; /* its relay's (0: the first) */
    dc_replica *r;
    dc_client *cl; /* the library's sync client, on its libcurl transport */
    char path[512];
    char space[40];
} device;

/* One sync by the library's sync client; 0 on success. */
static int sync_once(device *d) {
    if (!d->cl) {
        char url[64];
        dc_transport t;
        dc_client_options o = DC_CLIENT_OPTIONS_INIT;
        o.max_attempts = 3;
        o.backoff_base_ms = 50;
        snprintf(url, sizeof url, "http://127.0.0.1:%d", d->port ? d->port : g.port);
        if (dc_curl_transport(&t) || dc_client_new(&d->cl, d->r, url, &t, &o)) {
            log_failure("client", 0, dc_replica_errmsg(d->r));
            atomic_fetch_add(&g.sync_errors, 1);
            return -1;
        }
    }
    int rc = dc_client_sync(d->cl);
    if (rc && !atomic_load(&g.stop_all)) {
        log_failure("sync", 0, dc_replica_errmsg(d->r));
        atomic_fetch_add(&g.sync_errors, 1);
    } else {
        atomic_fetch_add(&g.syncs, 1);
    }
    return rc;
}

/* ---- writers ---- */

typedef struct writer_arg {
    device *d;
    int batch;
    atomic_bool *go;
} writer_arg;

static void *writer_main(void *arg) {
    writer_arg *wa = arg;
    device *d = wa->d;
    while (!atomic_load(wa->go) && !atomic_load(&g.stop_writers))
        sleep_ms(5);
    char id[32];
    while (!atomic_load(&g.stop_writers)) {
        int64_t tc = now_us();
        for (int k = 0; k < wa->batch; k++) {
            size_t seq = atomic_fetch_add(&g.commit_seq, 1);
            if (seq >= g.commit_cap) {
                atomic_store(&g.stop_writers, true);
                break;
            }
            snprintf(id, sizeof id, "c%zu", seq);
            dc_txn *t = NULL;
            if (dc_txn_begin(&t, d->r, d->space) ||
                dc_txn_set(t, "note", id, "n", DC_INT, (int64_t)seq, NULL)) {
                dc_txn_rollback(t);
                fprintf(stderr, "bench_relay_load: writer txn: %s\n", dc_replica_errmsg(d->r));
                continue;
            }
            if (dc_txn_commit(t, NULL) != 0) {
                fprintf(stderr, "bench_relay_load: commit: %s\n", dc_replica_errmsg(d->r));
                continue;
            }
            int64_t us = now_us();
            atomic_store(&g.commit_us[seq], us ? us : 1);
        }
        int64_t ts = now_us();
        atomic_fetch_add(&g.commit_time_us, ts - tc);
        int rc = sync_once(d);
        atomic_fetch_add(&g.writer_sync_us, now_us() - ts);
        atomic_fetch_add(&g.writer_syncs, 1);
        if (rc)
            sleep_ms(50);
    }
    return NULL;
}

/* ---- members: wait, sync, record arrivals ---- */

static int on_record(void *user, const char *space, const char *type, const char *id,
                     const char *origin) {
    (void)user;
    (void)space;
    if (strcmp(origin, "remote") != 0 || strcmp(type, "note") != 0 || id[0] != 'c')
        return 0;
    size_t seq = strtoull(id + 1, NULL, 10);
    if (seq >= g.commit_cap)
        return 0;
    int64_t c = atomic_load(&g.commit_us[seq]);
    if (!c)
        return 0; /* cannot happen: the time is stored before the writer syncs */
    add_latency((double)(now_us() - c) / 1000.0);
    return 0;
}

static void *member_main(void *arg) {
    device *d = arg;
    while (!atomic_load(&g.stop_all)) {
        int changed = 0;
        if (dc_client_wait(&changed, d->cl, 20) != 0) {
            sleep_ms(50);
            continue;
        }
        if (atomic_load(&g.stop_all))
            break;
        if (changed) {
            int64_t ts = now_us();
            sync_once(d);
            atomic_fetch_add(&g.member_sync_us, now_us() - ts);
        }
    }
    return NULL;
}

/* ---- idle devices: parked long-polls on one epoll loop ---- */

typedef struct idle {
    int fd;
    char token[65];
    uint8_t pk[32], sk[64];
    char rbuf[1024];
    size_t rn;
    bool parked; /* request written, waiting for the answer */
} idle;

static idle *idles;
static long nidle;
static atomic_long idle_parked, idle_reparks, idle_failures;

static void idle_send(idle *x) {
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET /v1/wait?timeout=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     x->token);
    /* A fresh loopback socket takes 200 bytes at once. */
    if (send(x->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(x->fd);
        x->fd = -1;
        atomic_fetch_add(&idle_failures, 1);
        return;
    }
    x->parked = true;
    x->rn = 0;
}

typedef struct idle_loop_arg {
    long from, to;
} idle_loop_arg;

/* Connects idle devices [from, to) (at most 256 connects in flight, so the
 * relay's listen backlog is not overrun), parks each in a wait, re-parks
 * it whenever an answer comes (a timeout), until stop_all. */
static void *idle_loop(void *arg) {
    idle_loop_arg *la = arg;
    tl_port = idle_port(la->from, nidle);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long next = la->from, inflight = 0;
    struct epoll_event evs[256];
    while (!atomic_load(&g.stop_all)) {
        while (next < la->to && inflight < 256) {
            idle *x = &idles[next];
            x->fd = tcp_connect(true);
            if (x->fd < 0) {
                atomic_fetch_add(&idle_failures, 1);
                next++;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = x};
            epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev);
            next++;
            inflight++;
        }
        int n = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < n; i++) {
            idle *x = evs[i].data.ptr;
            if (x->fd < 0)
                continue;
            if (!x->parked && (evs[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                inflight--;
                if (err) {
                    close(x->fd);
                    x->fd = -1;
                    atomic_fetch_add(&idle_failures, 1);
                    continue;
                }
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
                epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
                idle_send(x);
                if (x->fd >= 0)
                    atomic_fetch_add(&idle_parked, 1);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = recv(x->fd, x->rbuf + x->rn, sizeof x->rbuf - 1 - x->rn, 0);
                if (r <= 0) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                    close(x->fd);
                    x->fd = -1;
                    atomic_fetch_sub(&idle_parked, 1);
                    if (!atomic_load(&g.stop_all))
                        atomic_fetch_add(&idle_failures, 1);
                    continue;
                }
                x->rn += (size_t)r;
                x->rbuf[x->rn] = 0;
                char *e = strstr(x->rbuf, "\r\n\r\n");
                const char *cl =
                    e ? header(x->rbuf, (size_t)(e - x->rbuf), "Content-Length") : NULL;
                if (e && cl && x->rn >= (size_t)(e + 4 - x->rbuf) + strtoull(cl, NULL, 10)) {
                    /* A wait answered (timed out): park again. */
                    atomic_fetch_add(&idle_reparks, 1);
                    idle_send(x);
                    if (x->fd < 0)
                        atomic_fetch_sub(&idle_parked, 1);
                } else if (x->rn >= sizeof x->rbuf - 1) {
                    close(x->fd);
                    x->fd = -1;
                    atomic_fetch_sub(&idle_parked, 1);
                }
            }
        }
    }
    for (long i = la->from; i < la->to; i++)
        if (idles[i].fd >= 0)
            close(idles[i].fd);
    close(ep);
    return NULL;
}

typedef struct auth_arg {
    long from, to;
} auth_arg;

static atomic_long idle_authed;

static void *idle_auth_main(void *arg) {
    auth_arg *aa = arg;
    tl_port = idle_port(aa->from, nidle);
    conn c = {-1, NULL, 0, 0};
    for (long i = aa->from; i < aa->to; i++) {
        idle *x = &idles[i];
        crypto_sign_keypair(x->pk, x->sk);
        x->fd = -1;
        for (int t = 0; t < 3; t++)
            if (authenticate(&c, NULL, x->pk, x->sk, x->token) == 0) {
                atomic_fetch_add(&idle_authed, 1);
                break;
            }
    }
    conn_close(&c);
    free(c.buf);
    return NULL;
}

/* ---- the relay process ---- */

static char tmpdir[256], devdir[256];

/* Starts relay number `which` (1 or 2) over `url` (a PostgreSQL store) or,
 * NULL, its own SQLite file. */
static void start_relay(const char *relay, int threads, long maxconn, const char *url, int which) {
    char store[512], log[512], th[16], mc[32];
    snprintf(store, sizeof store, "%s", url ? url : "");
    if (!url)
        snprintf(store, sizeof store, "%s/relay.db", tmpdir);
    snprintf(log, sizeof log, "%s/relay-%d.log", tmpdir, which);
    snprintf(th, sizeof th, "%d", threads);
    snprintf(mc, sizeof mc, "%ld", maxconn);
    pid_t p = fork();
    if (p < 0)
        die("fork: %s", strerror(errno));
    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        /* --per-ip 0: every simulated device comes from 127.0.0.1. */
        execl(relay, relay, "--store", store, "--listen", "127.0.0.1:0", "--quiet", "--threads", th,
              "--max-connections", mc, "--max-waiters", mc, "--per-ip", "0", (char *)NULL);
        _exit(127);
    }
    if (which == 1)
        g.relay_pid = p;
    else
        g_pid2 = p;
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(log, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f)) {
            char *q = strstr(line, " port ");
            if (strstr(line, "listening on") && q) {
                *(which == 1 ? &g.port : &g_port2) = atoi(q + 6);
                fclose(f);
                return;
            }
        }
        if (f)
            fclose(f);
        int st;
        if (waitpid(p, &st, WNOHANG) == p)
            die("the relay exited at start (see %s)", log);
        sleep_ms(10);
    }
    die("the relay did not start (%s)", log);
}

/* ---- a throw-away PostgreSQL for --relays 2 ----
 * Debian's server programs, a cluster under the bench's temporary
 * directory, run as `nobody` when the bench runs as root, on a unix socket
 * only (fsync on: the relays' commits are durable there). */
static char pg_bin[256], pg_dir[512], pg_url[768];

static int run_cmd(const char *cmd) {
    int st = system(cmd);
    return st == 0 ? 0 : -1;
}

static const char *as_user(void) {
    return geteuid() == 0 ? "runuser -u nobody -- " : "";
}

static void pg_start(void) {
    glob_t gl;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &gl) != 0 || gl.gl_pathc == 0)
        die("%s", "--relays 2 needs PostgreSQL's server programs (Debian's postgresql)");
    snprintf(pg_bin, sizeof pg_bin, "%s", gl.gl_pathv[gl.gl_pathc - 1]);
    globfree(&gl);
    *strrchr(pg_bin, '/') = 0;
    snprintf(pg_dir, sizeof pg_dir, "%s/pg", tmpdir);
    if (mkdir(pg_dir, 0755) != 0)
        die("cannot make the cluster's directory: %s", strerror(errno));
    char cmd[2048];
    if (geteuid() == 0) {
        chmod(tmpdir, 0755);
        snprintf(cmd, sizeof cmd, "chown nobody %s", pg_dir);
        if (run_cmd(cmd))
            die("%s", "cannot give the cluster's directory to nobody");
    }
    int port = 20000 + (int)(getpid() % 20000);
    snprintf(cmd, sizeof cmd,
             "%s%s/initdb -D %s/data -A trust -U dc --no-sync -E UTF8 >%s/initdb.log 2>&1",
             as_user(), pg_bin, pg_dir, tmpdir);
    if (run_cmd(cmd))
        die("initdb failed (see %s/initdb.log)", tmpdir);
    snprintf(cmd, sizeof cmd,
             "%s%s/pg_ctl -D %s/data -l %s/data/log -w -o \"-k %s -p %d -c "
             "listen_addresses=''\" start >/dev/null",
             as_user(), pg_bin, pg_dir, pg_dir, pg_dir, port);
    if (run_cmd(cmd))
        die("PostgreSQL did not start (see %s/data/log)", pg_dir);
    snprintf(pg_url, sizeof pg_url, "postgresql:///postgres?host=%s&port=%d&user=dc", pg_dir, port);
}

static void pg_stop(void) {
    if (!pg_bin[0])
        return;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s%s/pg_ctl -D %s/data -m fast -w stop >/dev/null 2>&1", as_user(),
             pg_bin, pg_dir);
    if (run_cmd(cmd))
        fprintf(stderr, "bench_relay_load: PostgreSQL did not stop cleanly\n");
    snprintf(cmd, sizeof cmd, "rm -rf %s", pg_dir);
    if (run_cmd(cmd))
        fprintf(stderr, "bench_relay_load: could not remove %s\n", pg_dir);
}

/* Removes a flat directory (the temporary ones hold files only). */
static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[1024];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static device *new_device(int idx, const char *kind) {
    device *d = calloc(1, sizeof *d);
    if (!d)
        die("%s", "out of memory");
    d->idx = idx;
    snprintf(d->path, sizeof d->path, "%s/%s%d.db", devdir, kind, idx);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = kind;
    if (dc_replica_open(&d->r, d->path, &o))
        die("replica: %s", dc_error_last());
    return d;
}

int main(int argc, char **argv) {
    long devices = 10000, writers = 40, mps = 2, batch = 25;
    double seconds = 30;
    int relay_threads = 8, relays = 1;
    bool quick = false;
    const char *relay = DC_BENCH_RELAY;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--quick") == 0) {
            quick = true;
            devices = 300;
            writers = 4;
            seconds = 3;
            continue;
        }
        if (!v)
            die("option %s needs a value (see the comment at the top of relay_load.c)", o);
        i++;
        if (strcmp(o, "--devices") == 0)
            devices = atol(v);
        else if (strcmp(o, "--writers") == 0)
            writers = atol(v);
        else if (strcmp(o, "--members-per-space") == 0)
            mps = atol(v);
        else if (strcmp(o, "--batch") == 0)
            batch = atol(v);
        else if (strcmp(o, "--seconds") == 0)
            seconds = atof(v);
        else if (strcmp(o, "--relay") == 0)
            relay = v;
        else if (strcmp(o, "--relay-threads") == 0)
            relay_threads = atoi(v);
        else if (strcmp(o, "--relays") == 0)
            relays = atoi(v);
        else
            die("unknown option %s", o);
    }
    if (writers < 1 || mps < 1 || batch < 1 || seconds <= 0)
        die("%s", "--writers, --members-per-space, --batch and --seconds must be positive");
    long members = writers * mps;
    if (devices < writers + members)
        devices = writers + members;
    double t_bench = mono();
    t_origin = t_bench;
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0 || dc_global_init(NULL) != 0)
        die("%s", "cannot initialise libsodium");

    /* File descriptors: one per device connection here, as many in the
     * relay (it raises its own soft limit to the hard one at start). */
    struct rlimit rl;
    char note[1024] = "";
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    long fd_room = (long)rl.rlim_cur - 200 - writers - members;
    long wanted = devices;
    if (devices - writers - members > fd_room)
        devices = writers + members + (fd_room > 0 ? fd_room : 0);

    /* Temporary places: the relay's store on disk, replicas on tmpfs. */
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/relay_load.XXXXXX", tmp);
    if (!mkdtemp(tmpdir))
        die("mkdtemp: %s", strerror(errno));
    struct stat sb;
    snprintf(devdir, sizeof devdir, "%s/relay_load_dev.XXXXXX",
             stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : tmp);
    if (!mkdtemp(devdir))
        die("mkdtemp: %s", strerror(errno));
    if (relays != 1 && relays != 2)
        die("%s", "--relays takes 1 or 2");
    if (relays == 2) {
        pg_start();
        start_relay(relay, relay_threads, devices + 1000, pg_url, 1);
        start_relay(relay, relay_threads, devices + 1000, pg_url, 2);
    } else {
        start_relay(relay, relay_threads, devices + 1000, NULL, 1);
    }

    g.commit_cap = (size_t)(seconds * 40000) + 100000;
    g.commit_us = calloc(g.commit_cap, sizeof *g.commit_us);
    g.members_per_space = mps;
    pthread_mutex_init(&g.lat_mu, NULL);
    if (!g.commit_us)
        die("%s", "out of memory");

    /* Writers and members: replicas, spaces, memberships, first syncs. */
    device **w = calloc((size_t)writers, sizeof *w), **m = calloc((size_t)members, sizeof *m);
    for (long i = 0; i < writers; i++) {
        w[i] = new_device((int)i, "writer");
        dc_buf sp = DC_BUF_INIT;
        if (dc_space_create(&sp, w[i]->r, "load"))
            die("space: %s", dc_replica_errmsg(w[i]->r));
        snprintf(w[i]->space, sizeof w[i]->space, "%.*s", (int)sp.size, (char *)sp.ptr);
        dc_buf_dispose(&sp);
        for (long k = 0; k < mps; k++) {
            device *d = m[i * mps + k] = new_device((int)(i * mps + k), "member");
            d->port = g_port2; /* 0 with one relay */
            snprintf(d->space, sizeof d->space, "%s", w[i]->space);
            dc_buf card = DC_BUF_INIT;
            if (dc_replica_card(&card, d->r))
                die("card: %s", dc_replica_errmsg(d->r));
            char *cj = strndup((char *)card.ptr, card.size);
            if (dc_space_add(w[i]->r, w[i]->space, cj, dc_role_parse("member")))
                die("space add: %s", dc_replica_errmsg(w[i]->r));
            free(cj);
            dc_buf_dispose(&card);
        }
        if (sync_once(w[i]))
            die("first sync of a writer failed (relay log in %s)", tmpdir);
    }
    for (long i = 0; i < members; i++) {
        dc_replica_observe(m[i]->r, on_record, NULL);
        if (sync_once(m[i]))
            die("first sync of a member failed (relay log in %s)", tmpdir);
        if (dc_space_accept(m[i]->r, m[i]->space, 0))
            die("space accept: %s", dc_replica_errmsg(m[i]->r));
    }
    double t_replicas = mono();

    /* Idle devices: keys, tokens (4 threads), then parked (2 epoll loops). */
    nidle = devices - writers - members;
    idles = calloc((size_t)(nidle ? nidle : 1), sizeof *idles);
    enum { NAUTH = 4, NLOOP = 2 };
    pthread_t at[NAUTH], lt[NLOOP];
    auth_arg aa[NAUTH];
    idle_loop_arg la[NLOOP];
    for (int i = 0; i < NAUTH; i++) {
        aa[i].from = nidle * i / NAUTH;
        aa[i].to = nidle * (i + 1) / NAUTH;
        pthread_create(&at[i], NULL, idle_auth_main, &aa[i]);
    }
    for (int i = 0; i < NAUTH; i++)
        pthread_join(at[i], NULL);
    double t_auth = mono();
    for (int i = 0; i < NLOOP; i++) {
        la[i].from = nidle * i / NLOOP;
        la[i].to = nidle * (i + 1) / NLOOP;
        pthread_create(&lt[i], NULL, idle_loop, &la[i]);
    }
    pthread_t *mt = calloc((size_t)members, sizeof *mt), *wt = calloc((size_t)writers, sizeof *wt);
    for (long i = 0; i < members; i++)
        pthread_create(&mt[i], NULL, member_main, m[i]);
    /* Wait until (nearly) every device is parked, 20 s at most. */
    metrics m0 = {0}, m1 = {0}, mm;
    double park_deadline = mono() + (quick ? 5 : 20);
    long target = (long)((double)(idle_authed + members) * 0.99);
    while (mono() < park_deadline) {
        if (read_metrics(&mm) == 0 && mm.waiters >= (double)target)
            break;
        sleep_ms(100);
    }
    double t_parked = mono();

    /* The measured window. */
    atomic_bool go = false;
    writer_arg *wa = calloc((size_t)writers, sizeof *wa);
    for (long i = 0; i < writers; i++) {
        wa[i] = (writer_arg){w[i], (int)batch, &go};
        pthread_create(&wt[i], NULL, writer_main, &wa[i]);
    }
    if (read_metrics(&m0))
        die("%s", "cannot read the relay's metrics");
    double cpu0 = relay_cpu_s(), scpu0 = self_cpu_s();
    double t0 = mono();
    atomic_store(&go, true);
    double min_waiters = -1, max_conns = 0;
    while (mono() - t0 < seconds) {
        sleep_ms(250);
        if (read_metrics(&mm) == 0) {
            if (min_waiters < 0 || mm.waiters < min_waiters)
                min_waiters = mm.waiters;
            if (mm.conns > max_conns)
                max_conns = mm.conns;
        }
    }
    atomic_store(&g.stop_writers, true);
    if (read_metrics(&m1))
        die("%s", "cannot read the relay's metrics");
    double t1 = mono();
    double cpu1 = relay_cpu_s(), scpu1 = self_cpu_s();
    for (long i = 0; i < writers; i++)
        pthread_join(wt[i], NULL);
    /* Let the members fetch what the writers pushed last (2 s at most). */
    size_t committed = atomic_load(&g.commit_seq);
    if (committed > g.commit_cap)
        committed = g.commit_cap;
    size_t expect = committed * (size_t)mps;
    for (double d = mono() + 2; mono() < d;) {
        pthread_mutex_lock(&g.lat_mu);
        size_t got = g.nlat;
        pthread_mutex_unlock(&g.lat_mu);
        if (got >= expect)
            break;
        sleep_ms(50);
    }
    long long hwm = relay_hwm();
    if (getenv("DC_BENCH_METRICS")) {
        /* The relay's own figures at the end, for a person tuning it. */
        conn c = {-1, NULL, 0, 0};
        resp r = {0};
        if (http_do(&c, "GET", "/metrics", NULL, NULL, NULL, 0, &r) == 0 && r.status == 200)
            fprintf(stderr, "%s", (char *)r.body);
        free(r.body);
        conn_close(&c);
        free(c.buf);
    }
    atomic_store(&g.stop_all, true);
    kill(g.relay_pid, SIGTERM); /* answers every long-poll, then exits */
    if (g_pid2)
        kill(g_pid2, SIGTERM);
    for (long i = 0; i < members; i++)
        pthread_join(mt[i], NULL);
    for (int i = 0; i < NLOOP; i++)
        pthread_join(lt[i], NULL);
    int st = 0, st2 = 0;
    waitpid(g.relay_pid, &st, 0);
    if (g_pid2) {
        waitpid(g_pid2, &st2, 0);
        if (!WIFEXITED(st2) || WEXITSTATUS(st2) != 0)
            st = st2;
    }
    pg_stop();

    double win = t1 - t0;
    pthread_mutex_lock(&g.lat_mu);
    qsort(g.lat_ms, g.nlat, sizeof *g.lat_ms, cmp_double);
    /* Percentiles over every expected arrival: a change that never reached
     * a member (within the window and 2 s after) counts as slower than any
     * that did, and a percentile that falls among those is null. */
    size_t base = expect > g.nlat ? expect : g.nlat;
    size_t k50 = base ? (size_t)((double)(base - 1) * 0.50) : 0;
    size_t k99 = base ? (size_t)((double)(base - 1) * 0.99) : 0;
    double p50 = k50 < g.nlat ? g.lat_ms[k50] : -1;
    double p99 = k99 < g.nlat ? g.lat_ms[k99] : -1;
    size_t nlat = g.nlat;
    pthread_mutex_unlock(&g.lat_mu);
    double rcpu = cpu1 >= 0 && cpu0 >= 0 ? (cpu1 - cpu0) / win : -1;
    /* What limits the run, from what was measured: the machine's load,
     * the relay's CPU, its store's one writer (busy fraction of the
     * window), or else the devices of the load generator themselves. */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double load = -1;
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf", &load) != 1)
            load = -1;
        fclose(lf);
    }
    bool has_gc = m0.groups >= 0 && m1.groups >= 0;
    double groups = has_gc ? m1.groups - m0.groups : -1;
    double per_group = has_gc && groups > 0 ? (m1.bundles - m0.bundles) / groups : -1;
    double commit_ms = has_gc && groups > 0 ? (m1.commit_s - m0.commit_s) * 1000 / groups : -1;
    double busy = has_gc ? (m1.commit_s - m0.commit_s) / win : -1;
    char limit[256];
    double dcpu = (scpu1 - scpu0) / win;
    if (rcpu >= 0 && rcpu + dcpu > 0.85 * (double)ncpu)
        snprintf(limit, sizeof limit,
                 "the machine's cores: relay %.2f and load generator %.2f of %ld cores (the "
                 "generator needs a host of its own to load the relay further)",
                 rcpu, dcpu, ncpu);
    else if (load > 1.5 * (double)ncpu)
        snprintf(limit, sizeof limit,
                 "the machine: load average %.1f on %ld cores (other work); relay %.2f cores, "
                 "devices %.2f",
                 load, ncpu, rcpu, (scpu1 - scpu0) / win);
    else if (rcpu > 0.8 * (double)ncpu)
        snprintf(limit, sizeof limit, "relay CPU: %.2f cores of %ld", rcpu, ncpu);
    else if (busy > 0.8)
        snprintf(limit, sizeof limit,
                 "the store's writer: committing %.0f%% of the window, %.1f ms a group of %.1f "
                 "bundles (fsync)",
                 busy * 100, commit_ms, per_group);
    else
        snprintf(limit, sizeof limit,
                 "the devices: writers wait for their own syncs (relay %.2f cores, store writer "
                 "busy %.0f%%)",
                 rcpu, busy < 0 ? 0 : busy * 100);
    snprintf(
        note, sizeof note,
        "%s%ld writers (own space, batches of %ld, one sync per batch) and %ld members "
        "(%ld per space, sync when woken) are replicas; %ld idle devices are bare Ed25519 "
        "keys (authenticated: %ld; parked: %ld; wait failures: %ld); setup %.1fs (replicas "
        "%.1fs, auth %.1fs, park %.1fs); window %.1fs; %zu committed, %zu arrivals of %zu "
        "expected; %ld syncs, %ld failed, %ld rate-limited; peak relay connections %.0f; "
        "writer time: commits %.1fs, %ld syncs %.1fs; member sync time %.1fs; "
        "CPU: relay %.2f, devices %.2f cores of %ld; %srelay store on %s (synchronous=FULL), %d "
        "relay "
        "threads; relay exit %d",
        wanted != devices ? "devices capped by RLIMIT_NOFILE; " : "", writers, batch, members, mps,
        nidle, (long)atomic_load(&idle_authed), (long)atomic_load(&idle_parked),
        (long)atomic_load(&idle_failures), t_parked - t_bench, t_replicas - t_bench,
        t_auth - t_replicas, t_parked - t_auth, win, committed, nlat, expect,
        (long)atomic_load(&g.syncs), (long)atomic_load(&g.sync_errors),
        (long)atomic_load(&g.rate_limited), max_conns, (double)atomic_load(&g.commit_time_us) / 1e6,
        (long)atomic_load(&g.writer_syncs), (double)atomic_load(&g.writer_sync_us) / 1e6,
        (double)atomic_load(&g.member_sync_us) / 1e6, rcpu, (scpu1 - scpu0) / win,
        sysconf(_SC_NPROCESSORS_ONLN),
        relays == 2 ? "two relays over one PostgreSQL (its cluster on the same disk, fsync on); "
                      "each relay's cache: "
                    : "",
        tmp, relay_threads, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    json_t *out = json_pack(
        "{s:s,s:I,s:I,s:I,s:I,s:{s:o,s:o},s:I,s:f,s:s,s:s,s:o,s:o,s:o,s:i,s:s}", "bench",
        "relay_load", "devices", (json_int_t)devices, "connected",
        (json_int_t)(min_waiters < 0 ? 0 : min_waiters), "changes_in_per_s",
        (json_int_t)((m1.in - m0.in) / win), "changes_out_per_s",
        (json_int_t)((m1.out - m0.out) / win), "commit_to_arrival_ms", "p50",
        p50 < 0 ? json_null() : json_real((double)(long)(p50 * 10) / 10), "p99",
        p99 < 0 ? json_null() : json_real((double)(long)(p99 * 10) / 10), "relay_peak_rss_bytes",
        (json_int_t)hwm, "seconds", (double)(long)((mono() - t_bench) * 10) / 10, "note", note,
        "limit", limit, "bundles_per_commit",
        per_group < 0 ? json_null() : json_real((double)(long)(per_group * 10) / 10),
        "commit_ms_mean",
        commit_ms < 0 ? json_null() : json_real((double)(long)(commit_ms * 10) / 10),
        "load_average", load < 0 ? json_null() : json_real(load), "relays", relays, "store",
        relays == 2 ? "postgresql" : "sqlite");
    char *s = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(7));
    puts(s);
    free(s);
    json_decref(out);

    for (long i = 0; i < writers; i++) {
        dc_client_free(w[i]->cl);
        dc_replica_close(w[i]->r);
        free(w[i]);
    }
    for (long i = 0; i < members; i++) {
        dc_client_free(m[i]->cl);
        dc_replica_close(m[i]->r);
        free(m[i]);
    }
    free(w);
    free(m);
    free(wt);
    free(mt);
    free(wa);
    free(idles);
    free(g.commit_us);
    free(g.lat_ms);
    rm_dir(devdir);
    rm_dir(tmpdir);
    return nlat > 0 ? 0 : 1;
}
