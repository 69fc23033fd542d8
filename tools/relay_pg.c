/*
 * Several relays over one PostgreSQL (docs/relay.md, "Several relays"):
 * the database holds the shared log of every bundle any relay accepted,
 * and each relay's SQLite store is a verified cache in front of it.
 *
 *  - Publish (the store's writer thread, relay_store.h dc__relay_shared):
 *    each group the relay's store commits is inserted into `dc_log` in one
 *    PostgreSQL transaction, with NOTIFY, before any of its bundles is
 *    acknowledged; relays publish in turns, so that seq order is commit
 *    order.  A bundle is keyed by its BLAKE2b digest, so a device
 *    sending the same bundle again adds no row.
 *  - Tail (one thread): LISTEN on the channel; on each notification, and
 *    every second should one be lost (a notification libpq queued during
 *    a query counts too), the rows after the last one seen
 *    that another relay published are imported into the local store
 *    (dc__relay_store_import_shared), which wakes the devices waiting on
 *    their spaces.  A relay starts from an empty cache and catches up from
 *    the first row; it says it is ready (/readyz) only once caught up.
 *  - Compaction (docs/relay.md, "Compaction of the shared log"): once
 *    caught up, when a clear point of the cache moved, the tail takes the
 *    log's trimming lock and rewrites the rows it has imported: the change
 *    envelopes the cache compacted away leave their bundle (a bundle left
 *    with none is deleted; membership envelopes always stay) and their
 *    items go to `dc_covered`, which every relay reads after the log, so
 *    that one started later counts them held as the others do.
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
#define TAIL_BATCH 64             /* rows a tail query reads (its LIMIT) */
#define COVERED_BATCH 512         /* covered items a tail query reads */
#define TRIM_LOCK "8408408409"    /* the advisory lock of the one relay trimming */
#define PUBLISH_LOCK "8408408410" /* the advisory lock publishers take in turns */

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
    long long last_cov;   /* the last dc_covered row recorded (the tail's) */
    int64_t trimmed_mark; /* the cache's compaction mark at the last trim */
    atomic_ullong trimmed_rows, trimmed_envelopes, trimmed_bytes;
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
    /* 2: the items of the envelopes compaction took out of dc_log. */
    "CREATE TABLE dc_covered(n bigserial PRIMARY KEY, space bytea NOT NULL, "
    "author bytea NOT NULL, seq bigint NOT NULL, hlc bigint NOT NULL, cid bytea NOT NULL, "
    "UNIQUE(space, hlc, cid))",
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
    /* Publishers take turns (a transaction-scoped lock, released at the
     * commit): a row's seq is drawn when it is inserted, so two relays
     * publishing at once could commit seq n + 1 before seq n, and a tail
     * reading in between would pass n for ever (it reads after the last
     * seq it saw).  Taken in turns, the seqs become visible in order. */
    if (!exec_ok(c, "BEGIN") || !exec_ok(c, "SELECT pg_advisory_xact_lock(" PUBLISH_LOCK ")")) {
        exec_ok(c, "ROLLBACK");
        return -1;
    }
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

/* ---- compaction of the shared log (the tail's thread) ---- */

static long long be64(const char *p) {
    long long v = 0;
    for (int k = 0; k < 8; k++)
        v = (v << 8) | (uint8_t)p[k];
    return v;
}

static void put_be64(char out[8], uint64_t v) {
    for (int k = 7; k >= 0; k--, v >>= 8)
        out[k] = (char)(v & 0xff);
}

/* Records in the cache the covered items other relays took out of the
 * log, after the last one recorded; returns -1 when the database did not
 * answer.  An item the cache cannot place yet (its point not imported)
 * stops the round: it is read again at the next one. */
static int covered_tail(relay_pg *p, PGconn *c) {
    for (;;) {
        char after[32];
        snprintf(after, sizeof after, "%lld", p->last_cov);
        const char *vals[1] = {after};
        PGresult *r = PQexecParams(c,
                                   "SELECT n, space, author, seq, hlc, cid FROM dc_covered WHERE "
                                   "n > $1::bigint ORDER BY n LIMIT 512",
                                   1, NULL, vals, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            set_err(p, "reading the shared log's covered items", c);
            PQclear(r);
            return -1;
        }
        int rows = PQntuples(r);
        dc__relay_covered *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
        if (rows && !v) {
            PQclear(r);
            return 0;
        }
        int n = 0;
        for (int i = 0; i < rows; i++) {
            if (PQgetlength(r, i, 1) != 16 || PQgetlength(r, i, 2) != 32 ||
                PQgetlength(r, i, 5) != 32)
                break; /* not a row a relay wrote: the rest waits */
            memcpy(v[n].space, PQgetvalue(r, i, 1), 16);
            memcpy(v[n].author, PQgetvalue(r, i, 2), 32);
            v[n].seq = (uint64_t)be64(PQgetvalue(r, i, 3));
            v[n].hlc = (uint64_t)be64(PQgetvalue(r, i, 4));
            memcpy(v[n].cid, PQgetvalue(r, i, 5), 32);
            n++;
        }
        size_t done = 0;
        dc__err e = {0};
        if (n && dc__relay_store_shared_covered(p->st, v, (size_t)n, &done, &e) != 0)
            relay_http_log("shared log: covered items not recorded: %s", e.msg);
        if (done)
            p->last_cov = be64(PQgetvalue(r, (int)done - 1, 0));
        free(v);
        PQclear(r);
        if (rows < COVERED_BATCH || done < (size_t)rows)
            return 0;
    }
}

/* One batch of trimmed rows, written in one transaction. */
static int trim_write(relay_pg *p, PGconn *c, long long seq, const dc_buf *kept, size_t nkept,
                      const dc__relay_covered *v, size_t n) {
    char sq[32];
    snprintf(sq, sizeof sq, "%lld", seq);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (!v[i].held)
            continue; /* set aside here: it leaves the log unlisted */
        char sb[8], hb[8];
        put_be64(sb, v[i].seq);
        put_be64(hb, v[i].hlc);
        const char *vals[5] = {(const char *)v[i].space, (const char *)v[i].author, sb, hb,
                               (const char *)v[i].cid};
        int lens[5] = {16, 32, 8, 8, 32};
        int fmts[5] = {1, 1, 1, 1, 1};
        PGresult *r = PQexecParams(c,
                                   "INSERT INTO dc_covered(space, author, seq, hlc, cid) "
                                   "VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                                   5, NULL, vals, lens, fmts, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (ok) {
        /* The row keeps its digest, the bundle's as received: the same
         * bundle sent again still adds no row. */
        const char *vals[2] = {sq, (const char *)kept->ptr};
        int lens[2] = {0, (int)kept->size};
        int fmts[2] = {0, 1};
        PGresult *r = PQexecParams(c,
                                   nkept ? "UPDATE dc_log SET body = $2 WHERE seq = $1::bigint"
                                         : "DELETE FROM dc_log WHERE seq = $1::bigint",
                                   nkept ? 2 : 1, NULL, vals, lens, fmts, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    (void)p;
    return ok ? 0 : -1;
}

/* Trims the rows this relay imported to what its cache keeps, one relay
 * at a time (the others find the lock taken and try at their next round;
 * trimming again what is trimmed changes nothing).  Returns 0 when done,
 * 1 when another relay holds the lock, -1 on a database error. */
static int trim_log(relay_pg *p, PGconn *c) {
    PGresult *r = PQexec(c, "SELECT pg_try_advisory_lock(" TRIM_LOCK ")");
    bool got =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    bool answered = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    if (!answered) {
        set_err(p, "trimming the shared log", c);
        return -1;
    }
    if (!got)
        return 1;
    long long after = 0, upto = atomic_load(&p->last_seq);
    int rc = 0;
    dc_buf kept;
    dc_buf_init(&kept);
    for (;;) {
        char a[32], u[32];
        snprintf(a, sizeof a, "%lld", after);
        snprintf(u, sizeof u, "%lld", upto);
        const char *vals[2] = {a, u};
        r = PQexecParams(c,
                         "SELECT seq, body FROM dc_log WHERE seq > $1::bigint AND seq <= "
                         "$2::bigint ORDER BY seq LIMIT 64",
                         2, NULL, vals, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            set_err(p, "trimming the shared log", c);
            PQclear(r);
            rc = -1;
            break;
        }
        int rows = PQntuples(r);
        bool began = false;
        unsigned long long envs = 0, bytes = 0, gone = 0; /* counted once committed */
        for (int i = 0; i < rows && !rc; i++) {
            const uint8_t *body = (const uint8_t *)PQgetvalue(r, i, 1);
            size_t len = (size_t)PQgetlength(r, i, 1), nkept = 0, n = 0;
            dc__relay_covered *v = NULL;
            dc__err e = {0};
            if (dc__relay_store_shared_trim(p->st, body, len, &kept, &nkept, &v, &n, &e) != 0) {
                relay_http_log("shared log: %s", e.msg);
                rc = -1;
            } else if (n) {
                if (!began && !(began = exec_ok(c, "BEGIN")))
                    rc = -1;
                if (!rc && trim_write(p, c, be64(PQgetvalue(r, i, 0)), &kept, nkept, v, n) != 0)
                    rc = -1;
                if (!rc) {
                    envs += n;
                    bytes += len - (nkept ? kept.size : 0);
                    gone += nkept ? 0 : 1;
                }
            }
            free(v);
        }
        if (began && (rc || !exec_ok(c, "COMMIT"))) {
            set_err(p, "trimming the shared log", c);
            exec_ok(c, "ROLLBACK");
            rc = -1;
        } else if (began) {
            atomic_fetch_add(&p->trimmed_envelopes, envs);
            atomic_fetch_add(&p->trimmed_bytes, bytes);
            atomic_fetch_add(&p->trimmed_rows, gone);
        }
        if (rows)
            after = be64(PQgetvalue(r, rows - 1, 0));
        PQclear(r);
        if (rc || rows < TAIL_BATCH)
            break;
    }
    dc_buf_dispose(&kept);
    exec_ok(c, "SELECT pg_advisory_unlock(" TRIM_LOCK ")");
    return rc;
}

/* After the log is read: the covered items other relays recorded, then a
 * trim when a clear point of the cache moved since the last one. */
static int compact_round(relay_pg *p, PGconn *c) {
    if (covered_tail(p, c) != 0)
        return -1;
    int64_t mark = 0;
    dc__err e = {0};
    if (dc__relay_store_compact_mark(p->st, &mark, &e) != 0) {
        relay_http_log("shared log: %s", e.msg);
        return 0;
    }
    if (mark == p->trimmed_mark)
        return 0;
    int rc = trim_log(p, c);
    if (rc == 0)
        p->trimmed_mark = mark;
    return rc < 0 ? -1 : 0;
}

/* Reads what the socket holds and drops the queued notifications (one
 * read of the log answers them all); returns how many there were, or -1
 * when the connection broke. */
static int take_notifies(PGconn *c) {
    if (!PQconsumeInput(c))
        return -1;
    int n = 0;
    PGnotify *nt;
    while ((nt = PQnotifies(c)) != NULL) {
        PQfreemem(nt);
        n++;
    }
    return n;
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
        /* The notifications queued so far are answered by the read below:
         * each was sent after its rows committed, so the read sees them. */
        if (c && listening && take_notifies(c) < 0)
            listening = false;
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
        if (got == TAIL_BATCH) {
            atomic_store(&p->tail_ok, true);
            continue;
        }
        if (compact_round(p, c) != 0) {
            atomic_store(&p->tail_ok, false);
            struct timespec t = {1, 0};
            nanosleep(&t, NULL);
            continue;
        }
        atomic_store(&p->tail_ok, true);
        atomic_store(&p->caught_up, true);
        /* A notification that came while the queries above ran was taken
         * off the socket by libpq and queued: the socket stays quiet, so
         * waiting on it would leave the row unread until the second runs
         * out.  The log is read again at once instead. */
        if (take_notifies(c) > 0)
            continue;
        /* Wait for a notification (or a second: one may be lost). */
        struct pollfd pf = {PQsocket(c), POLLIN, 0};
        if (pf.fd >= 0)
            poll(&pf, 1, 1000);
        if (take_notifies(c) < 0)
            listening = false;
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

static int pg_metrics(void *user, dc_buf *out) {
    relay_pg *p = user;
    return dc__buf_printf(
        out,
        "# HELP drivercore_relay_shared_compacted_total Envelopes this relay's trims took out of "
        "the shared log.\n# TYPE drivercore_relay_shared_compacted_total counter\n"
        "drivercore_relay_shared_compacted_total{store=\"postgresql\"} %llu\n"
        "# HELP drivercore_relay_shared_compacted_bytes_total Bytes of bundles this relay's trims "
        "took out of the shared log.\n# TYPE drivercore_relay_shared_compacted_bytes_total "
        "counter\ndrivercore_relay_shared_compacted_bytes_total{store=\"postgresql\"} %llu\n"
        "# HELP drivercore_relay_shared_compacted_rows_total Rows of the shared log this relay's "
        "trims deleted (every envelope covered).\n# TYPE "
        "drivercore_relay_shared_compacted_rows_total counter\n"
        "drivercore_relay_shared_compacted_rows_total{store=\"postgresql\"} %llu\n",
        (unsigned long long)atomic_load(&p->trimmed_envelopes),
        (unsigned long long)atomic_load(&p->trimmed_bytes),
        (unsigned long long)atomic_load(&p->trimmed_rows));
}

dc__relay_shared relay_pg_shared(relay_pg *p) {
    dc__relay_shared sh = {"postgresql", p, pg_publish, pg_ready, pg_metrics};
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
