/*
 * Several relays over one PostgreSQL (docs/relay.md, "Several relays"):
 * the database holds the shared log of every bundle any relay accepted,
 * and each relay's SQLite store is a verified cache in front of it.
 *
 *  - Publish (the store's writer thread, relay_store.h dc__relay_shared):
 *    each group the relay's store commits is inserted into `dc_log` in one
 *    PostgreSQL transaction, with NOTIFY, before any of its bundles is
 *    acknowledged.  A bundle is keyed by its BLAKE2b digest, so a device
 *    sending the same bundle again adds no row.
 *  - Tail (one thread): LISTEN on the channel; on each notification, and
 *    every second should one be lost, the rows after the last one seen
 *    that another relay published are imported into the local store
 *    (dc__relay_store_import_shared), which wakes the devices waiting on
 *    their spaces.  A relay starts from an empty cache and catches up from
 *    the first row; it says it is ready (/readyz) only once caught up.
 *  - PostgreSQL away (restarted, unreachable): publishing fails, so the
 *    syncs that push are refused (503) and nothing is acknowledged; the
 *    tail retries every second; both reconnect by themselves.
 *
 * Only this file talks to libpq; it is built into drivercore-relay when
 * libpq is found.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relay/relay_int.h"
#include "relay_http.h"
#include "relay_pg.h"

#define CHANNEL "dc_relay"
#define TAIL_BATCH 64 /* rows a tail query reads (its LIMIT) */

struct relay_pg {
    char *url;
    char origin[33]; /* this process's id in the log's rows */
    PGconn *pub;     /* the writer thread's */
    PGconn *tail;    /* the tail thread's (LISTEN) */
    dc__relay_store *st;
    pthread_t th;
    bool started;
    atomic_bool stop, caught_up, tail_ok;
    atomic_llong last_seq;
    atomic_ullong published, imported, pub_failures;
    pthread_mutex_t mu; /* last_err */
    char last_err[256];
};

/* Schema steps (docs/relay.md, "PostgreSQL schema"): step n takes the
 * database from version n - 1 to n; never edited once released. */
static const char *const MIGRATIONS[] = {
    NULL,
    "CREATE TABLE dc_log(seq bigserial PRIMARY KEY, origin text NOT NULL, "
    "digest bytea NOT NULL UNIQUE, body bytea NOT NULL, "
    "at timestamptz NOT NULL DEFAULT now())",
};
#define LATEST ((int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]) - 1)

static void set_err(relay_pg *p, const char *what, PGconn *c) {
    pthread_mutex_lock(&p->mu);
    snprintf(p->last_err, sizeof p->last_err, "%s: %s", what,
             c ? PQerrorMessage(c) : "no connection");
    size_t n = strlen(p->last_err);
    while (n && (p->last_err[n - 1] == '\n' || p->last_err[n - 1] == ' '))
        p->last_err[--n] = 0;
    pthread_mutex_unlock(&p->mu);
}

static bool exec_ok(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(r);
    PQclear(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* A connection that answers, made anew if the old one broke. */
static PGconn *ensure(relay_pg *p, PGconn **cp) {
    if (*cp && PQstatus(*cp) == CONNECTION_OK)
        return *cp;
    if (*cp)
        PQfinish(*cp);
    *cp = PQconnectdb(p->url);
    if (PQstatus(*cp) != CONNECTION_OK) {
        set_err(p, "connecting", *cp);
        PQfinish(*cp);
        *cp = NULL;
    }
    return *cp;
}

static int migrate(relay_pg *p, PGconn *c, char *err, size_t errcap) {
    /* One migrator at a time across relays (a transaction-scoped lock). */
    if (!exec_ok(c, "BEGIN") || !exec_ok(c, "SELECT pg_advisory_xact_lock(8408408408)") ||
        !exec_ok(c, "CREATE TABLE IF NOT EXISTS dc_meta(key text PRIMARY KEY, value bigint NOT "
                    "NULL)")) {
        snprintf(err, errcap, "migrating the schema: %s", PQerrorMessage(c));
        exec_ok(c, "ROLLBACK");
        return -1;
    }
    PGresult *r = PQexec(c, "SELECT value FROM dc_meta WHERE key = 'schema'");
    int v =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (v > LATEST) {
        snprintf(err, errcap, "the database is at schema %d, newer than this relay's %d", v,
                 LATEST);
        exec_ok(c, "ROLLBACK");
        return -1;
    }
    for (int step = v + 1; step <= LATEST; step++) {
        char up[128];
        snprintf(up, sizeof up,
                 "INSERT INTO dc_meta(key, value) VALUES('schema', %d) ON CONFLICT(key) DO "
                 "UPDATE SET value = EXCLUDED.value",
                 step);
        if (!exec_ok(c, MIGRATIONS[step]) || !exec_ok(c, up)) {
            snprintf(err, errcap, "schema step %d: %s", step, PQerrorMessage(c));
            exec_ok(c, "ROLLBACK");
            return -1;
        }
    }
    if (!exec_ok(c, "COMMIT")) {
        snprintf(err, errcap, "migrating the schema: %s", PQerrorMessage(c));
        return -1;
    }
    (void)p;
    return 0;
}

/* ---- publish (the store's writer thread) ---- */

static int publish_once(relay_pg *p, PGconn *c, const dc__import_req *reqs, size_t n) {
    if (!exec_ok(c, "BEGIN"))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].rc || reqs[i].shared)
            continue;
        uint8_t dg[32];
        crypto_generichash(dg, sizeof dg, reqs[i].data, reqs[i].size, NULL, 0);
        const char *vals[3] = {p->origin, (const char *)dg, (const char *)reqs[i].data};
        int lens[3] = {0, (int)sizeof dg, (int)reqs[i].size};
        int fmts[3] = {0, 1, 1};
        PGresult *r = PQexecParams(c,
                                   "INSERT INTO dc_log(origin, digest, body) VALUES($1, $2, $3) ON "
                                   "CONFLICT (digest) DO NOTHING",
                                   3, NULL, vals, lens, fmts, 0);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            exec_ok(c, "ROLLBACK");
            return -1;
        }
    }
    if (!exec_ok(c, "NOTIFY " CHANNEL) || !exec_ok(c, "COMMIT")) {
        exec_ok(c, "ROLLBACK");
        return -1;
    }
    return 0;
}

static int pg_publish(void *user, const dc__import_req *reqs, size_t n, dc__err *err) {
    relay_pg *p = user;
    size_t todo = 0;
    for (size_t i = 0; i < n; i++)
        todo += !reqs[i].rc && !reqs[i].shared;
    if (!todo)
        return 0;
    /* A connection lost since the last group is made again once. */
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *c = ensure(p, &p->pub);
        if (c && publish_once(p, c, reqs, n) == 0) {
            atomic_fetch_add(&p->published, todo);
            return 0;
        }
        set_err(p, "publishing", c);
        if (c && PQstatus(c) == CONNECTION_OK)
            break; /* the database answered and refused: no use trying again */
    }
    atomic_fetch_add(&p->pub_failures, 1);
    pthread_mutex_lock(&p->mu);
    int rc = dc__err_set(err, DC_EIO, "PostgreSQL: %s", p->last_err);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int pg_ready(void *user, dc__err *err) {
    relay_pg *p = user;
    if (!atomic_load(&p->caught_up))
        return dc__err_set(err, DC_EBUSY, "PostgreSQL: catching up with the shared log");
    if (!atomic_load(&p->tail_ok)) {
        pthread_mutex_lock(&p->mu);
        int rc = dc__err_set(err, DC_EIO, "PostgreSQL: %s", p->last_err);
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    return 0;
}

/* ---- tail (its own thread) ---- */

/* Imports the rows after last_seq; returns how many rows were read, or -1
 * when the database did not answer. */
static int tail_batch(relay_pg *p, PGconn *c) {
    char seq[32];
    snprintf(seq, sizeof seq, "%lld", (long long)atomic_load(&p->last_seq));
    const char *vals[1] = {seq};
    PGresult *r = PQexecParams(c,
                               "SELECT seq, origin, body FROM dc_log WHERE seq > $1::bigint "
                               "ORDER BY seq LIMIT 64",
                               1, NULL, vals, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(p, "reading the shared log", c);
        PQclear(r);
        return -1;
    }
    int rows = PQntuples(r);
    /* The rows other relays published, imported together: they share the
     * store's group commits instead of waiting for one each. */
    const uint8_t *bodies[TAIL_BATCH];
    size_t sizes[TAIL_BATCH], nb = 0;
    long long seqs[TAIL_BATCH];
    for (int i = 0; i < rows; i++) {
        const uint8_t *sq = (const uint8_t *)PQgetvalue(r, i, 0);
        long long s = 0;
        for (int k = 0; k < 8; k++)
            s = (s << 8) | sq[k];
        seqs[i] = s;
        bool mine = PQgetlength(r, i, 1) == 32 && memcmp(PQgetvalue(r, i, 1), p->origin, 32) == 0;
        if (!mine) {
            bodies[nb] = (const uint8_t *)PQgetvalue(r, i, 2);
            sizes[nb++] = (size_t)PQgetlength(r, i, 2);
        }
    }
    size_t ok = 0;
    dc__err e = {0};
    if (nb && dc__relay_store_import_shared_many(p->st, bodies, sizes, nb, &ok, &e) != 0) {
        /* The store refused one (out of memory, a full disk): the rows up
         * to it are in; from it on, tried again at the next round. */
        relay_http_log("shared log: %zu of %zu rows not imported: %s", nb - ok, nb, e.msg);
        size_t seen = 0;
        for (int i = 0; i < rows; i++) {
            bool mine =
                PQgetlength(r, i, 1) == 32 && memcmp(PQgetvalue(r, i, 1), p->origin, 32) == 0;
            if (!mine && seen++ == ok)
                break;
            atomic_store(&p->last_seq, seqs[i]);
        }
        atomic_fetch_add(&p->imported, ok);
        PQclear(r);
        return -1;
    }
    atomic_fetch_add(&p->imported, ok);
    if (rows)
        atomic_store(&p->last_seq, seqs[rows - 1]);
    PQclear(r);
    return rows;
}

static void *tail_main(void *arg) {
    relay_pg *p = arg;
    bool listening = false;
    while (!atomic_load(&p->stop)) {
        PGconn *c = ensure(p, &p->tail);
        if (c && !listening) {
            listening = exec_ok(c, "LISTEN " CHANNEL);
            if (!listening)
                set_err(p, "listening", c);
        }
        int got = c && listening ? tail_batch(p, c) : -1;
        if (got < 0) {
            atomic_store(&p->tail_ok, false);
            if (c) {
                PQreset(c);
                listening = false;
            }
            struct timespec t = {1, 0};
            nanosleep(&t, NULL);
            continue;
        }
        atomic_store(&p->tail_ok, true);
        if (got == TAIL_BATCH)
            continue;
        atomic_store(&p->caught_up, true);
        /* Wait for a notification (or a second: one may be lost). */
        struct pollfd pf = {PQsocket(c), POLLIN, 0};
        if (pf.fd >= 0)
            poll(&pf, 1, 1000);
        if (!PQconsumeInput(c)) {
            listening = false;
            continue;
        }
        PGnotify *nt;
        while ((nt = PQnotifies(c)) != NULL)
            PQfreemem(nt);
    }
    return NULL;
}

/* ---- opening ---- */

relay_pg *relay_pg_open(const char *url, char *err, size_t errcap) {
    relay_pg *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url))) {
        free(p);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    uint8_t id[16];
    randombytes_buf(id, sizeof id);
    sodium_bin2hex(p->origin, sizeof p->origin, id, sizeof id);
    PGconn *c = ensure(p, &p->pub);
    if (!c) {
        snprintf(err, errcap, "cannot reach PostgreSQL: %s", p->last_err);
        relay_pg_free(p);
        return NULL;
    }
    if (migrate(p, c, err, errcap) != 0) {
        relay_pg_free(p);
        return NULL;
    }
    return p;
}

dc__relay_shared relay_pg_shared(relay_pg *p) {
    dc__relay_shared sh = {"postgresql", p, pg_publish, pg_ready};
    return sh;
}

int relay_pg_start(relay_pg *p, dc__relay_store *st) {
    p->st = st;
    if (pthread_create(&p->th, NULL, tail_main, p) != 0)
        return -1;
    p->started = true;
    return 0;
}

void relay_pg_stop(relay_pg *p) {
    if (!p || !p->started)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->th, NULL);
    p->started = false;
}

void relay_pg_free(relay_pg *p) {
    if (!p)
        return;
    relay_pg_stop(p);
    if (p->pub)
        PQfinish(p->pub);
    if (p->tail)
        PQfinish(p->tail);
    pthread_mutex_destroy(&p->mu);
    free(p->url);
    free(p);
}
