/*
 * The WAL checkpoint of a long import on the other core (docs/storage.md,
 * "The receive path, sixth pass"): SQLite checkpoints after any commit
 * that leaves 1,000 frames or more in the WAL, in the committing thread —
 * for an import's commit and the fold's windows, a few thousand page
 * copies and an fsync, on the one core busy while the other idles.  While
 * a checkpointer runs, the handle's connection only tells a thread of its
 * own, which checkpoints (PASSIVE: never waits for the writer, never blocks
 * it) on a connection of its own, as WAL mode allows beside a writer.  The
 * thread is joined before the import returns, having done every checkpoint
 * asked of it, so the work stays inside the call; what it could not do
 * (its connection did not open) is done in line at the end, as before.
 *
 * Files in clear only: the at-rest VFS is one per connection and not
 * shared between threads (its nonce counter), so an encrypted file keeps
 * SQLite's own checkpoint in line.
 */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "store/store_int.h"

/* SQLite's default (SQLITE_DEFAULT_WAL_AUTOCHECKPOINT), which the handle's
 * connection keeps outside a checkpointer's life. */
#define AUTOCHECKPOINT 1000

struct dc__store_ckpt {
    dc__store *s;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool asked; /* a commit left AUTOCHECKPOINT frames or more */
    bool stop;
    bool failed; /* the thread's connection did not open */
};

/* The handle's connection committed, leaving `frames` in the WAL. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
    (void)db;
    (void)name;
    dc__store_ckpt *c = arg;
    if (frames >= AUTOCHECKPOINT) {
        pthread_mutex_lock(&c->mu);
        c->asked = true;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    return SQLITE_OK;
}

static void *run(void *arg) {
    dc__store_ckpt *c = arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(c->s->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db, c->s->durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        db = NULL;
    }
    pthread_mutex_lock(&c->mu);
    c->failed = db == NULL;
    for (;;) {
        while (!c->asked && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (!c->asked || !db)
            break;
        c->asked = false;
        pthread_mutex_unlock(&c->mu);
        /* A failure or SQLITE_BUSY (another checkpointer) leaves the frames
         * for the next one: the WAL is as safe as before. */
        sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    sqlite3_close(db);
    return NULL;
}

dc__store_ckpt *dc__store_ckpt_start(dc__store *s) {
    if (!s || !s->db || s->vfs || !s->path || strcmp(s->path, ":memory:") == 0 ||
        !sqlite3_threadsafe() || sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return NULL;
    dc__store_ckpt *c = dc__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = s;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        dc__free(c);
        return NULL;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        dc__free(c);
        return NULL;
    }
    if (pthread_create(&c->th, NULL, run, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        dc__free(c);
        return NULL;
    }
    sqlite3_wal_hook(s->db, wal_hook, c);
    return c;
}

void dc__store_ckpt_stop(dc__store *s, dc__store_ckpt *c) {
    if (!c)
        return;
    /* Commits from here on checkpoint in line again. */
    sqlite3_wal_autocheckpoint(s->db, AUTOCHECKPOINT);
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->th, NULL);
    if (c->failed && c->asked && s->db)
        sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    dc__free(c);
}
