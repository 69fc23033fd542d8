/*
 * Kill -9 during a stream of transactions: each transaction is whole or
 * absent, and every acknowledged one survives.
 *
 *   test_crash [ROUNDS] [SEED] [--key]    (defaults: 8 rounds, seed 1)
 *
 * A child process opens the replica and commits numbered transactions in a
 * loop; transaction i sets record n/k<i> (field "v" = i) and record
 * n/counter (field "last" = i), nothing else, and after dc_txn_commit
 * returns it writes i to a pipe: that is the acknowledgement.  The parent
 * kills the child with SIGKILL at a random moment (sometimes while it is
 * still opening the file), then opens the replica itself and checks that
 * the state is an exact prefix: with m = last + 1, records k0..k(m-1) all
 * exist with the right values, none beyond, the list of records has
 * exactly m + 1 entries, and every acknowledged index is below m.  Then it
 * runs SQLite's integrity check on the file and starts the next round on
 * the same file.  A process kill is not a power cut: with WAL and
 * synchronous=NORMAL the OS still holds every written page, so nothing
 * acknowledged may be lost.
 *
 * With --key the replica is encrypted at rest (docs/format/at-rest.md): the
 * WAL the child leaves behind holds encrypted frames, and recovery must
 * find every committed one (SQLite checks its frame checksums over what the
 * VFS returns, so a VFS that returned anything but the bytes SQLite wrote
 * would make recovery drop frames silently).  The integrity check then
 * goes through the store, which reads the file with its key.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "systest.h"
#include "store/store.h"

static bool g_key;

static int key_provider(void *user, dc_key *k, int purpose) {
    (void)user;
    (void)purpose;
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0xc0 + i);
    return dc_key_set(k, key, sizeof key);
}

static void key_options(dc_replica_options *o) {
    if (g_key) {
        o->key_provider = key_provider;
        o->key_user = NULL;
    }
}

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child: commit transactions start, start+1, ... until killed. */
static void child(const char *path, const char *space, int64_t start, int fd) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.must_exist = 1;
    key_options(&o);
    dc_replica *r = NULL;
    if (dc_replica_open(&r, path, &o) != 0) {
        fprintf(stderr, "child: open: %s\n", dc_error_last());
        _exit(3);
    }
    for (int64_t i = start;; i++) {
        char id[32];
        snprintf(id, sizeof id, "k%lld", (long long)i);
        dc_txn *t = NULL;
        int rc = dc_txn_begin(&t, r, space);
        if (rc == 0)
            rc = dc_txn_set(t, "n", id, "v", DC_INT, i, NULL);
        if (rc == 0)
            rc = dc_txn_set(t, "n", "counter", "last", DC_INT, i, NULL);
        if (rc == 0)
            rc = dc_txn_commit(t, NULL);
        else
            dc_txn_rollback(t);
        if (rc != 0) {
            fprintf(stderr, "child: transaction %lld: %s: %s\n", (long long)i, dc_error_name(rc),
                    dc_replica_errmsg(r));
            _exit(4);
        }
        uint32_t ack = (uint32_t)i;
        if (write(fd, &ack, sizeof ack) != (ssize_t)sizeof ack)
            _exit(5);
    }
}

/* Reads every acknowledgement available; returns the number read. */
static long drain(int fd, int64_t *expect_next, int64_t *max_ack) {
    long n = 0;
    uint32_t buf[1024];
    for (;;) {
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        /* A kill can cut an acknowledgement in half only between write()
         * calls of 4 bytes, which are atomic on a pipe. */
        ST_CHECK(got % 4 == 0);
        for (ssize_t k = 0; k < got / 4; k++) {
            if ((int64_t)buf[k] != *expect_next)
                ST_FAIL("acknowledgement %u out of sequence (expected %lld)", buf[k],
                        (long long)*expect_next);
            *max_ack = buf[k];
            (*expect_next)++;
            n++;
        }
    }
    return n;
}

/* Opens the replica and checks the exact-prefix property; returns m. */
static int64_t check_prefix(const char *path, const char *space, int64_t min_m, int64_t max_ack) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.must_exist = 1;
    key_options(&o);
    dc_replica *r = NULL;
    ST_OK(NULL, dc_replica_open(&r, path, &o));
    dc_buf b = DC_BUF_INIT;
    int64_t last = -1;
    int rc = dc_record_get(&b, r, space, "n", "counter");
    if (rc == 0) {
        long long v = st_json_int((char *)b.ptr, "last");
        if (v < 0)
            ST_FAIL("counter record without a \"last\" field: %s", (char *)b.ptr);
        last = v;
    } else if (rc != DC_ENOTFOUND) {
        ST_FAIL("dc_record_get counter: %s: %s", dc_error_name(rc), dc_replica_errmsg(r));
    }
    int64_t m = last + 1;
    if (m < min_m)
        ST_FAIL("the replica went back: %lld transactions now, %lld before the kill", (long long)m,
                (long long)min_m);
    if (max_ack >= m)
        ST_FAIL("transaction %lld was acknowledged but is lost (the replica holds %lld)",
                (long long)max_ack, (long long)m);
    for (int64_t i = 0; i < m + 20; i++) {
        char id[32];
        snprintf(id, sizeof id, "k%lld", (long long)i);
        rc = dc_record_get(&b, r, space, "n", id);
        if (i < m) {
            if (rc != 0)
                ST_FAIL("record %s missing (%s) although counter says %lld: a transaction was "
                        "torn",
                        id, dc_error_name(rc), (long long)last);
            if (st_json_int((char *)b.ptr, "v") != i)
                ST_FAIL("record %s holds %s", id, (char *)b.ptr);
        } else if (rc != DC_ENOTFOUND) {
            ST_FAIL("record %s exists (%s) beyond counter %lld: a transaction was torn", id,
                    dc_error_name(rc), (long long)last);
        }
    }
    /* The list agrees: exactly m records k.. plus the counter. */
    if (m > 0) {
        ST_OK(r, dc_record_list(&b, r, space, "n"));
        long long records = 0;
        for (const char *p = strstr((char *)b.ptr, "\"v\":"); p; p = strstr(p + 1, "\"v\":"))
            records++;
        if (records != m)
            ST_FAIL("dc_record_list shows %lld records with a \"v\" field, expected %lld", records,
                    (long long)m);
        /* The log holds one change per transaction (+ the space's own). */
        char *status = st_status(r);
        long long changes = st_json_sum(status, "changes");
        if (changes < m)
            ST_FAIL("status counts %lld changes for %lld transactions: %s", changes, (long long)m,
                    status);
        free(status);
    }
    dc_buf_dispose(&b);
    dc_replica_close(r);

    /* And SQLite agrees the file is sound. */
    if (g_key) {
        dc__store *s = NULL;
        dc__err err = {0};
        if (dc__store_open(&s, path, true, false, key_provider, NULL, &err) != 0 ||
            dc__store_integrity_check(s, &err) != 0)
            ST_FAIL("integrity check of the encrypted replica: %s", err.msg);
        ST_CHECK(dc__store_encrypted(s));
        dc__store_close(s);
        return m;
    }
    sqlite3 *db = NULL;
    ST_CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ST_CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
    ST_CHECK(sqlite3_step(st) == SQLITE_ROW);
    const char *ok = (const char *)sqlite3_column_text(st, 0);
    if (!ok || strcmp(ok, "ok") != 0)
        ST_FAIL("integrity_check: %s", ok ? ok : "(null)");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return m;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 8;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    g_key = argc > 3 && strcmp(argv[3], "--key") == 0;
    printf("test_crash: %d rounds, seed %llu%s\n", rounds, (unsigned long long)seed,
           g_key ? ", encrypted at rest" : "");
    fflush(stdout);
    st_rng g;
    st_seed(&g, seed);
    ST_OK(NULL, dc_global_init(NULL));
    const char *dir = st_tmpdir("crash");
    char *path = st_path(dir, "crash.dcr");

    /* Create the replica and its space, then close: the children write. */
    char space[64];
    {
        dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
        o.device_name = "crash test";
        key_options(&o);
        dc_replica *r = NULL;
        ST_OK(NULL, dc_replica_open(&r, path, &o));
        ST_CHECK(dc_replica_encrypted(r) == (g_key ? 1 : 0));
        dc_buf b = DC_BUF_INIT;
        ST_OK(r, dc_space_create(&b, r, "crash"));
        snprintf(space, sizeof space, "%s", (char *)b.ptr);
        dc_buf_dispose(&b);
        dc_replica_close(r);
    }

    int64_t m = 0, total_acks = 0;
    int torn_candidates = 0, wal_rounds = 0;
    for (int round = 0; round < rounds; round++) {
        int fds[2];
        ST_CHECK(pipe(fds) == 0);
        fflush(NULL);
        pid_t pid = fork();
        ST_CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(path, space, m, fds[1]);
            _exit(6);
        }
        close(fds[1]);
        ST_CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
        /* Round 0 kills almost at once (during open and recovery); the
         * others after a random 5..200 ms of committing. */
        int64_t wait = round == 0 ? (int64_t)st_below(&g, 3) : 5 + (int64_t)st_below(&g, 196);
        int64_t deadline = mono_ms() + wait, expect_next = m, max_ack = -1;
        long acks = 0;
        while (mono_ms() < deadline) {
            struct pollfd p = {fds[0], POLLIN, 0};
            poll(&p, 1, 2);
            acks += drain(fds[0], &expect_next, &max_ack);
        }
        ST_CHECK(kill(pid, SIGKILL) == 0);
        int status = 0;
        ST_CHECK(waitpid(pid, &status, 0) == pid);
        acks += drain(fds[0], &expect_next, &max_ack);
        close(fds[0]);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            ST_FAIL("the child ended by itself (status 0x%x) before it was killed", status);
        int64_t before = m;
        /* What recovery will read: the WAL the killed child left. */
        char wal[4200];
        struct stat wst;
        snprintf(wal, sizeof wal, "%s-wal", path);
        long long wal_bytes = stat(wal, &wst) == 0 ? (long long)wst.st_size : 0;
        if (wal_bytes > 32)
            wal_rounds++;
        m = check_prefix(path, space, m, max_ack);
        total_acks += acks;
        /* A transaction committed but not yet acknowledged when the kill
         * came is fine: it is whole.  Count them, for the record. */
        if (m > expect_next)
            torn_candidates++;
        printf("round %d: killed after %lld ms with %lld bytes of WAL; %ld acknowledged, %lld "
               "committed in this round (%lld in all): exact prefix\n",
               round, (long long)wait, wal_bytes, acks, (long long)(m - before), (long long)m);
    }
    if (rounds >= 4 && total_acks == 0)
        ST_FAIL("no transaction was ever acknowledged: the test did not exercise anything");
    if (rounds >= 4 && wal_rounds == 0)
        ST_FAIL("no kill left a WAL behind: recovery was never exercised");
    printf("test_crash: OK (%d rounds, %lld transactions; in %d rounds the kill came between "
           "commit and acknowledgement)\n",
           rounds, (long long)m, torn_candidates);
    st_rmtree(dir);
    free(path);
    return 0;
}
