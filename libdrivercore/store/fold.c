/*
 * Folding: the changes listed in `pending` applied to the materialised
 * state, a window at a time (docs/storage.md, "Schema version 3").
 *
 * A commit or an import only appends to the change log and to `pending`;
 * the state is a cache of the log that this file brings up to date.  A
 * batch is whole pending changes, in log order, up to BATCH_OPS ops: their
 * bodies are opened and decoded and their ops sorted by record, once.  The
 * batch is then applied a window of records at a time (each window its own
 * transaction when the fold runs outside the caller's), so that every
 * record the batch touches is read once, merged by the rules of
 * crdt/record.c (registers, the delete clock) and of the set and event
 * rows, and written once, while another handle's write waits at most one
 * window.  The batch leaves `pending` with its last window.  Every rule is
 * a maximum or a union, so folding a change again, or two handles folding
 * the same change, changes nothing: a fold cut short by a crash is simply
 * folded again, and a read on another handle that finds the batch half
 * applied folds all of it first.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/crdt.h"
#include "store/store_int.h"

#define STEP_DONE(st) (sqlite3_step(st) == SQLITE_DONE)

/* A batch: whole changes up to this many ops (or changes), decoded and
 * held in memory while its windows are applied. */
#define BATCH_OPS 262144
#define BATCH_CHANGES 16384
/* A window: at most this many records, one SQLite transaction when the
 * fold runs outside the caller's. */
#define WINDOW_RECORDS 2048
/* Between two windows the write lock is let go this long, so another
 * handle's write waits at most about one window (docs/threading.md). */
#define WINDOW_PAUSE_MS 2
/* Waits for a write lock by the handles of this process (their busy
 * handler counts each poll): a fold lets the lock go for WINDOW_PAUSE_MS
 * only when one waited during its window. */
static atomic_uint_fast64_t lock_waits;

void dc__store_lock_waited(void) {
    atomic_fetch_add_explicit(&lock_waits, 1, memory_order_relaxed);
}

static uint_fast64_t waits_now(void) {
    return atomic_load_explicit(&lock_waits, memory_order_relaxed);
}

/* A fold that has not paused for this long pauses anyway: handles of
 * other processes (the CLI on an app's file) are not counted by
 * dc__store_lock_waited, and must not wait for a whole long fold (their
 * busy timeout is 5 s). */
#define PAUSE_AT_LEAST_EVERY_MS 200

/* The pause between two windows or batches, taken when another handle of
 * this process waited for the lock since the last one, or when the fold
 * has not paused for PAUSE_AT_LEAST_EVERY_MS. */
typedef struct pause_state {
    uint_fast64_t seen;
    int64_t last_ms;
} pause_state;

static void pause_init(pause_state *p) {
    p->seen = waits_now();
    p->last_ms = dc__os_mono_ms();
}

static void window_pause(pause_state *p) {
    int64_t now = dc__os_mono_ms();
    if (waits_now() != p->seen || now - p->last_ms >= PAUSE_AT_LEAST_EVERY_MS) {
        dc__os_sleep_ms(WINDOW_PAUSE_MS);
        now = dc__os_mono_ms();
        p->last_ms = now;
    }
    p->seen = waits_now();
}

/* A commit that leaves this many of the handle's ops unfolded folds. */
#define FOLD_AFTER_OPS BATCH_OPS

typedef struct fchange {
    int64_t cno, sid, did;
    dc__envelope e; /* its header (e's pointers only while env is held) */
    uint8_t *env;   /* the envelope's bytes, freed once the body is open */
    dc_buf plain;   /* its body, decrypted and decompressed */
    dc__body body;
} fchange;

typedef struct fop {
    const dc__op *op;
    uint32_t ch;  /* index of its change in the window */
    uint32_t i;   /* its index in the change: its clock is hlc_min + i */
    uint32_t fid; /* its field's number (named_kind), looked up in log order */
} fop;

/* Ask for memory the fold reads next (the ops of the next record, which
 * lie scattered over the batch's decoded bodies). */
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

typedef struct fkey {
    int64_t sid;
    uint32_t epoch;
    uint8_t *key; /* guarded memory */
} fkey;

#define NKEYS 8

typedef struct fold {
    dc__store *s;
    dc__touched *touched;
    fchange *ch;
    size_t nch, cch;
    int64_t *drop; /* pending rows to delete without applying */
    size_t ndrop, cdrop;
    fop *ops;
    size_t nops, cops;
    uint32_t *grp; /* start of each record's ops in f->ops, in key order, then nops */
    size_t ngrp;
    fkey keys[NKEYS];
    size_t nkeys;
    dc_buf tmp, zbuf;
    sqlite3_stmt *probe; /* new_run's query, prepared at its first use */
} fold;

struct dc__tname {
    int64_t rid, sid;
    size_t off; /* type NUL id NUL in s->tn_buf */
};

void dc__store_tnames_clear(dc__store *s) {
    s->ntn = 0;
    s->tn_sorted = true;
    dc__buf_clear(&s->tn_buf);
}

void dc__store_tnames_free(dc__store *s) {
    dc__free(s->tn);
    s->tn = NULL;
    s->ntn = s->ctn = 0;
    dc_buf_dispose(&s->tn_buf);
}

/* Record rid (space sid, type, id) is touched: noted in t, and its name
 * kept for the notification. */
static int touch(dc__store *s, dc__touched *t, int64_t rid, int64_t sid, const char *type,
                 size_t tl, const char *id, size_t il) {
    if (!t || (t->n && t->rids[t->n - 1] == rid))
        return 0;
    /* Names are never wrong once kept (a record's key does not change, and
     * a rollback forgets them): a new list keeps those of the lists not
     * notified yet, unless there are many. */
    if (!t->n && s->ntn >= 16384)
        dc__store_tnames_clear(s);
    if (DC__VEC_RESERVE(t->rids, t->cap, t->n + 1) || DC__VEC_RESERVE(s->tn, s->ctn, s->ntn + 1))
        return DC_ENOMEM;
    size_t off = s->tn_buf.size;
    if (dc__buf_put(&s->tn_buf, type, tl) || dc__buf_putc(&s->tn_buf, 0) ||
        dc__buf_put(&s->tn_buf, id, il) || dc__buf_putc(&s->tn_buf, 0))
        return DC_ENOMEM;
    if (s->ntn && s->tn[s->ntn - 1].rid > rid)
        s->tn_sorted = false;
    s->tn[s->ntn++] = (struct dc__tname){rid, sid, off};
    t->rids[t->n++] = rid;
    return 0;
}

static void batch_free(fold *f) {
    for (size_t i = 0; i < f->nch; i++) {
        fchange *c = &f->ch[i];
        dc__body_free(&c->body);
        dc__wipe(c->plain.ptr, c->plain.size);
        dc_buf_dispose(&c->plain);
        dc__free(c->env);
    }
    f->nch = f->ndrop = f->nops = f->ngrp = 0;
}

static void fold_free(fold *f) {
    batch_free(f);
    dc__free(f->ch);
    dc__free(f->drop);
    dc__free(f->ops);
    dc__free(f->grp);
    for (size_t i = 0; i < f->nkeys; i++)
        dc__secret_free(f->keys[i].key);
    dc__wipe(f->zbuf.ptr, f->zbuf.size);
    dc_buf_dispose(&f->zbuf);
    dc_buf_dispose(&f->tmp);
    sqlite3_finalize(f->probe);
}

/* ---- pending ---- */

int dc__store_pending_add(dc__store *s, int64_t cno, uint32_t nops, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_PENDING_ADD, "INSERT OR IGNORE INTO pending(cno) VALUES(?)", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, cno);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "pending");
    sqlite3_reset(st);
    if (!rc)
        s->unfolded += nops;
    return rc;
}

/* ---- bodies the import opened ---- */

struct dc__opened_row {
    int64_t cno;
    uint8_t cid[32];
    uint32_t nops;
    dc__opened o;
};

void dc__opened_free(dc__opened *o) {
    dc__body_free(&o->body);
    dc__wipe(o->plain.ptr, o->plain.size);
    dc_buf_dispose(&o->plain);
    memset(&o->body, 0, sizeof o->body);
}

void dc__store_opened_clear(dc__store *s) {
    for (size_t i = 0; i < s->nopened; i++)
        dc__opened_free(&s->opened[i].o);
    s->nopened = 0;
    s->opened_ops = 0;
}

int dc__store_pending_add_opened(dc__store *s, int64_t cno, uint32_t nops, const uint8_t cid[32],
                                 dc__opened *o, dc__err *err) {
    int rc = dc__store_pending_add(s, cno, nops, err);
    /* Kept while they fit in one batch and come in row order (an import's
     * do); else the fold opens the envelope as it would have. */
    if (rc || s->opened_ops + nops > BATCH_OPS || s->nopened >= BATCH_CHANGES ||
        (s->nopened && s->opened[s->nopened - 1].cno >= cno) ||
        DC__VEC_RESERVE(s->opened, s->copened, s->nopened + 1)) {
        dc__opened_free(o);
        return rc;
    }
    struct dc__opened_row *w = &s->opened[s->nopened++];
    w->cno = cno;
    memcpy(w->cid, cid, 32);
    w->nops = nops;
    w->o = *o;
    memset(o, 0, sizeof *o);
    s->opened_ops += nops;
    return 0;
}

/* The body kept for row cno, if it is still that change's: taken. */
static bool opened_take(dc__store *s, size_t *at, int64_t cno, const void *cid, size_t cid_len,
                        fchange *c) {
    while (*at < s->nopened && s->opened[*at].cno < cno)
        (*at)++;
    if (*at >= s->nopened || s->opened[*at].cno != cno)
        return false;
    struct dc__opened_row *w = &s->opened[*at];
    if (cid_len != 32 || memcmp(w->cid, cid, 32) != 0 || !w->o.body.nops)
        return false;
    c->plain = w->o.plain;
    c->body = w->o.body;
    memset(&w->o, 0, sizeof w->o);
    return true;
}

static int pending_any(dc__store *s, bool *any, dc__err *err) {
    sqlite3_stmt *st = dc__q(s, Q_PENDING_ANY, "SELECT 1 FROM pending LIMIT 1", err);
    if (!st)
        return err->code;
    int r = sqlite3_step(st);
    *any = r == SQLITE_ROW;
    sqlite3_reset(st);
    return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : dc__sql_err(s, err, "pending");
}

/* Deletes the rows lo..hi of `pending`, every one of which the caller
 * has folded (a run of consecutive row numbers). */
static int pending_del(dc__store *s, int64_t lo, int64_t hi, dc__err *err) {
    sqlite3_stmt *st =
        dc__q(s, Q_PENDING_DEL, "DELETE FROM pending WHERE cno BETWEEN ?1 AND ?2", err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "pending");
    sqlite3_reset(st);
    return rc;
}

/* ---- opening a change's body ---- */

typedef struct trykey {
    fchange *c;
    bool opened;
} trykey;

static int try_key(void *user, uint32_t epoch, const uint8_t kid[DC_KEY_ID],
                   const uint8_t key[32]) {
    trykey *t = user;
    dc__err e = {0};
    (void)epoch;
    (void)kid;
    dc__buf_clear(&t->c->plain);
    if (dc__envelope_open(&t->c->plain, &t->c->e, key, &e) != 0)
        return 0;
    t->opened = true;
    return 1;
}

static const uint8_t *key_for(fold *f, int64_t sid, uint32_t epoch, dc__err *err) {
    for (size_t i = 0; i < f->nkeys; i++)
        if (f->keys[i].sid == sid && f->keys[i].epoch == epoch)
            return f->keys[i].key;
    if (f->nkeys == NKEYS) {
        for (size_t i = 0; i < f->nkeys; i++)
            dc__secret_free(f->keys[i].key);
        f->nkeys = 0;
    }
    uint8_t *k = dc__secret_alloc(32);
    if (!k) {
        dc__err_set(err, DC_ENOMEM, "fold: out of memory");
        return NULL;
    }
    if (dc__store_key_get(f->s, sid, epoch, NULL, k, err)) {
        dc__secret_free(k);
        return NULL;
    }
    f->keys[f->nkeys++] = (fkey){sid, epoch, k};
    return k;
}

/* Decrypts, decompresses and decodes c's body.  DC_ENOKEY: no key held
 * opens it; DC_ECORRUPT and its kin: the body is bad. */
static int open_change(fold *f, fchange *c, dc__err *err) {
    const uint8_t *key = key_for(f, c->sid, c->e.epoch, err);
    if (!key)
        return err->code;
    int rc = dc__envelope_open(&c->plain, &c->e, key, err);
    if (rc == DC_EBADSIG) {
        /* Two keys of one epoch (two admins rotated at once). */
        trykey t = {c, false};
        dc__err_clear(err);
        int x = dc__store_keys_each(f->s, c->sid, c->e.epoch, try_key, &t, err);
        if (x < 0)
            return x;
        rc = t.opened ? 0 : dc__err_set(err, DC_ENOKEY, "no key held opens this change");
    }
    if (rc)
        return rc;
    if (c->e.comp == DC_COMP_ZSTD) {
        dc__buf_clear(&f->zbuf);
        if ((rc = dc__zstd_decompress_with(&f->s->zdctx, &f->zbuf, c->plain.ptr, c->plain.size,
                                           DC_BODY_MAX_SIZE, err)))
            return rc;
        dc__wipe(c->plain.ptr, c->plain.size);
        dc__buf_clear(&c->plain);
        if (dc__buf_put(&c->plain, f->zbuf.ptr, f->zbuf.size))
            return dc__err_set(err, DC_ENOMEM, "fold: out of memory");
        dc__wipe(f->zbuf.ptr, f->zbuf.size);
    }
    if ((rc = dc__body_decode(&c->body, c->plain.ptr, c->plain.size, err)))
        return rc;
    if (c->body.nops == 0 || c->e.hlc_max - c->e.hlc_min != (uint64_t)c->body.nops - 1)
        return dc__err_set(err, DC_ECORRUPT,
                           "the timestamp range of the header does not match its %u ops",
                           c->body.nops);
    /* Only the body and the header's fields are needed from here on. */
    dc__free(c->env);
    c->env = NULL;
    c->e.raw = c->e.payload = NULL;
    return 0;
}

/* A change that can no longer be folded leaves `pending`: without a key it
 * is opaque again (it applies when one comes), with a bad body rejected. */
static int set_fate(fold *f, int64_t cno, const fchange *c, int rc, dc__err *err) {
    int state = rc == DC_ENOKEY ? DC_CHANGE_OPAQUE : DC_CHANGE_REJECTED;
    if (state == DC_CHANGE_REJECTED) {
        dc__setaside a = {dc__os_wall_ms(), c->e.space, c->e.author, c->e.seq, NULL, rc, err->msg};
        uint8_t cid[32];
        dc__envelope_id(cid, c->env, c->e.raw_len);
        a.cid = cid;
        int x = dc__store_set_aside(f->s, &a, err);
        if (x)
            return x;
    }
    dc__err_clear(err);
    return dc__store_change_set_state(f->s, cno, state, err);
}

/* Reads the next batch of pending changes: fills f->ch (opened) and
 * f->drop; *more when the batch stopped at its limit. */
static int read_batch(fold *f, bool *more, dc__err *err) {
    dc__store *s = f->s;
    sqlite3_stmt *st =
        dc__q(s, Q_PENDING_READ,
              "SELECT p.cno, c.sid, c.author, c.state, c.kind, c.cid, c.off, c.len FROM pending p "
              "LEFT JOIN changes c ON c.cno = p.cno ORDER BY p.cno",
              err);
    if (!st)
        return err->code;
    size_t ops = 0, at = 0;
    int r, rc = 0;
    *more = false;
    /* Collected first, opened after the statement is reset: opening reads
     * keys through other statements. */
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (ops >= BATCH_OPS || f->nch >= BATCH_CHANGES) {
            *more = true;
            break;
        }
        int64_t cno = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL || sqlite3_column_int(st, 3) != 0 ||
            sqlite3_column_int(st, 4) != DC_ENV_KIND_CHANGE) {
            /* Gone, no longer applied (re-judged), or not a change. */
            if (DC__VEC_RESERVE(f->drop, f->cdrop, f->ndrop + 1)) {
                rc = DC_ENOMEM;
                break;
            }
            f->drop[f->ndrop++] = cno;
            continue;
        }
        if (DC__VEC_RESERVE(f->ch, f->cch, f->nch + 1)) {
            rc = DC_ENOMEM;
            break;
        }
        fchange *c = &f->ch[f->nch];
        memset(c, 0, sizeof *c);
        /* The envelope from the log's stream (read in stream order: the
         * rows come in cno order). */
        size_t n = (size_t)sqlite3_column_int64(st, 7);
        const uint8_t *env;
        if ((rc = dc__store_env(s, sqlite3_column_int64(st, 6), (int64_t)n, &env, err)))
            break;
        /* A body the import opened is used as it is: only the header is
         * read from the envelope. */
        bool opened = opened_take(s, &at, cno, sqlite3_column_blob(st, 5),
                                  (size_t)sqlite3_column_bytes(st, 5), c);
        if (!opened) {
            if (!(c->env = dc__malloc(n ? n : 1))) {
                rc = DC_ENOMEM;
                break;
            }
            memcpy(c->env, env, n);
            env = c->env;
        }
        f->nch++;
        c->cno = cno;
        c->sid = sqlite3_column_int64(st, 1);
        c->did = sqlite3_column_int64(st, 2);
        if (dc__envelope_parse(&c->e, env, n, err)) {
            rc = DC_ECORRUPT;
            dc__err_prefix(err, "change %lld in the log", (long long)cno);
            break;
        }
        if (opened)
            c->e.raw = c->e.payload = c->e.nonce = c->e.sig = NULL;
        /* The op count is the header's timestamp range. */
        ops += (size_t)(c->e.hlc_max - c->e.hlc_min) + 1;
    }
    if (rc == 0 && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = dc__sql_err(s, err, "pending");
    dc__store_env_done(s);
    sqlite3_reset(st);
    if (rc == DC_ENOMEM)
        return dc__err_set(err, DC_ENOMEM, "fold: out of memory");
    if (rc == DC_ECORRUPT)
        err->code = DC_ECORRUPT;
    if (rc)
        return rc;
    /* Open each change; one that fails leaves the window with its fate. */
    size_t k = 0;
    for (size_t i = 0; i < f->nch; i++) {
        fchange *c = &f->ch[i];
        rc = c->body.nops ? 0 : open_change(f, c, err);
        if (rc == DC_ENOMEM || rc == DC_EIO || rc == DC_EBUSY || rc < 0)
            return rc;
        if (rc) {
            if ((rc = set_fate(f, c->cno, c, rc, err)) ||
                DC__VEC_RESERVE(f->drop, f->cdrop, f->ndrop + 1))
                return rc ? rc : dc__err_set(err, DC_ENOMEM, "fold: out of memory");
            f->drop[f->ndrop++] = c->cno;
            dc__body_free(&c->body);
            dc__wipe(c->plain.ptr, c->plain.size);
            dc_buf_dispose(&c->plain);
            dc__free(c->env);
            continue;
        }
        f->ch[k++] = *c;
    }
    f->nch = k;
    return 0;
}

/* ---- applying a window ---- */

/* Records of a batch: ops are grouped by record through a hash of the
 * record key (space row, type, id), and the groups put in key order, so
 * that a window writes neighbouring rows and each record's ops stay in
 * log order.  Each group keeps its key's hash and a copy of its bytes, side
 * by side with the other groups' (a few hundred KB for 10,000 records), so
 * that grouping and sorting compare within memory the cache holds rather
 * than chase each op into its body. */
static uint64_t hash_mix(uint64_t h, uint64_t w) {
    h = (h ^ w) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* Eight bytes at a time (the hash lives only in this process's memory). */
static uint64_t hash_bytes(uint64_t h, const char *p, uint32_t n) {
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hash_mix(h, w);
    }
    uint64_t w = 0;
    for (uint32_t i = 0; i < n; i++)
        w |= (uint64_t)(uint8_t)p[i] << (8 * i);
    return hash_mix(h, w);
}

static uint64_t rec_hash(int64_t sid, const dc__str *type, const dc__str *id) {
    uint64_t h = hash_mix(0x243f6a8885a308d3ull, (uint64_t)sid);
    h = hash_mix(h, (uint64_t)type->n << 32 | id->n);
    return hash_bytes(hash_bytes(h, type->p, type->n), id->p, id->n);
}

typedef struct fgroup {
    uint64_t hash;   /* rec_hash of its key */
    int64_t sid;     /* its space row */
    size_t key;      /* its type's bytes, then its id's, in the batch's key bytes */
    uint32_t tn, in; /* their lengths */
    uint32_t n;      /* its ops */
    uint32_t first;  /* where its ops start once placed */
} fgroup;

static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* Key order: space row, then type, then id (bytes; a prefix first). */
static int group_cmp(const uint8_t *kb, const fgroup *x, const fgroup *y) {
    if (x->sid != y->sid)
        return (x->sid > y->sid) - (x->sid < y->sid);
    int c = bytes_cmp(kb + x->key, x->tn, kb + y->key, y->tn);
    return c ? c : bytes_cmp(kb + x->key + x->tn, x->in, kb + y->key + y->tn, y->in);
}

/* Whether an op of space row `sid`, its key hashing to `h`, is the group's
 * record. */
static bool group_has(const uint8_t *kb, const fgroup *g, uint64_t h, int64_t sid,
                      const dc__op *op) {
    return g->hash == h && g->sid == sid && g->tn == op->type.n && g->in == op->id.n &&
           memcmp(kb + g->key, op->type.p, op->type.n) == 0 &&
           memcmp(kb + g->key + g->tn, op->id.p, op->id.n) == 0;
}

/* Doubles the hash table of group numbers + 1 (kept at most half full). */
static int slots_grow(uint32_t **slot, size_t *nslot, const fgroup *g, size_t ng) {
    size_t ns = *nslot * 2;
    uint32_t *v = dc__calloc(ns, sizeof *v);
    if (!v)
        return DC_ENOMEM;
    for (size_t k = 0; k < ng; k++) {
        size_t at = (size_t)g[k].hash & (ns - 1);
        while (v[at])
            at = (at + 1) & (ns - 1);
        v[at] = (uint32_t)k + 1;
    }
    dc__free(*slot);
    *slot = v;
    *nslot = ns;
    return 0;
}

/* Merge sort of group indices by record key. */
static void sort_groups(const uint8_t *kb, const fgroup *g, uint32_t *v, uint32_t *tmp, size_t n) {
    if (n < 2)
        return;
    size_t h = n / 2, i = 0, j = h, k = 0;
    sort_groups(kb, g, v, tmp, h);
    sort_groups(kb, g, v + h, tmp, n - h);
    while (i < h && j < n)
        tmp[k++] = group_cmp(kb, &g[v[j]], &g[v[i]]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

static int pk_of(void *user, int64_t did, uint8_t pk[32], dc__err *err) {
    return dc__store_device_pk(user, did, pk, err);
}

/* One record of the window: its row, as loaded and as merged. */
typedef struct frec {
    int64_t sid, rid;
    const dc__str *type, *id;
    dc__recstate st;
    uint8_t *blob; /* the loaded state column (its strings point into it) */
    int64_t nev;   /* its events */
    bool rows;     /* an event row changed */
} frec;

static int rec_load(fold *f, frec *r, dc__err *err) {
    dc__store *s = f->s;
    /* The type's number from the handle's cache: no type never numbered has
     * a record. */
    uint32_t tno;
    int nrc = dc__store_name_id(s, r->type->p, r->type->n, false, &tno, err);
    if (nrc == DC_ENOTFOUND)
        return 0;
    if (nrc)
        return nrc;
    sqlite3_stmt *st = dc__q(s, Q_REC_GET,
                             "SELECT k.rid, s.del_hlc, s.del_did, s.state, s.nev FROM rkeys k "
                             "JOIN rstate s ON s.rid = k.rid "
                             "WHERE k.sid = ? AND k.tno = ? AND k.id = ?",
                             err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, r->sid);
    sqlite3_bind_int64(st, 2, tno);
    sqlite3_bind_text(st, 3, r->id->p, (int)r->id->n, SQLITE_STATIC);
    int x = sqlite3_step(st), rc = 0;
    if (x == SQLITE_ROW) {
        r->rid = sqlite3_column_int64(st, 0);
        r->st.del_hlc = (dc_hlc)sqlite3_column_int64(st, 1);
        r->st.del_did = sqlite3_column_int64(st, 2);
        r->nev = sqlite3_column_int64(st, 4);
        size_t n = (size_t)sqlite3_column_bytes(st, 3);
        if (n) {
            dc__recdata d;
            if (!(r->blob = dc__malloc(n)))
                rc = dc__err_set(err, DC_ENOMEM, "fold: out of memory");
            else
                memcpy(r->blob, sqlite3_column_blob(st, 3), n);
            if (!rc && !(rc = dc__recdata_decode(r->blob, n, &d, err)))
                dc__recstate_adopt(&r->st, &d);
        }
    } else if (x != SQLITE_DONE) {
        rc = dc__sql_err(s, err, "records");
    }
    sqlite3_reset(st);
    return rc;
}

/* The record's row id, the row created if the record is new. */
static int rec_rid(fold *f, frec *r, dc__err *err) {
    if (r->rid)
        return 0;
    return dc__store_record_insert(f->s, r->sid, r->type, r->id, 0, 0, NULL, 0, 0, 0, &r->rid, err);
}

static int rec_save(fold *f, frec *r, dc__err *err) {
    int rc;
    /* A new record's row is written once, with its state. */
    bool fresh = !r->rid;
    if (fresh && !r->st.changed && !r->rows)
        return rec_rid(f, r, err);
    if (!r->st.changed && !r->rows)
        return 0;
    const dc__recdata *d = &r->st.d;
    bool empty = !d->nregs && !d->nadds && !d->nrm;
    dc__buf_clear(&f->tmp);
    if (!empty && (rc = dc__recdata_encode(&f->tmp, d, err)))
        return rc;
    int64_t nval = (int64_t)(d->nregs + d->nadds);
    if (fresh) {
        rc = dc__store_record_insert(f->s, r->sid, r->type, r->id, (int64_t)r->st.del_hlc,
                                     r->st.del_did, empty ? NULL : f->tmp.ptr, f->tmp.size, nval,
                                     r->nev, &r->rid, err);
    } else {
        sqlite3_stmt *st = dc__q(f->s, Q_REC_SAVE,
                                 "UPDATE rstate SET del_hlc = ?2, del_did = ?3, state = ?4, "
                                 "nval = ?5, nev = ?6 WHERE rid = ?1",
                                 err);
        if (!st)
            return err->code;
        sqlite3_bind_int64(st, 1, r->rid);
        sqlite3_bind_int64(st, 2, (int64_t)r->st.del_hlc);
        sqlite3_bind_int64(st, 3, r->st.del_did);
        if (empty)
            sqlite3_bind_null(st, 4);
        else
            sqlite3_bind_blob(st, 4, f->tmp.ptr, (int)f->tmp.size, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, nval);
        sqlite3_bind_int64(st, 6, r->nev);
        rc = STEP_DONE(st) ? 0 : dc__sql_err(f->s, err, "records");
        sqlite3_reset(st);
    }
    if (!rc && r->st.changed && f->s->nix)
        rc = dc__store_index_update(f->s, r->rid, r->sid, r->type, r->id, d, err);
    return rc;
}

/* Events at or before a new delete clock (h, pk) go. */
static int purge_events(fold *f, frec *r, dc_hlc h, const uint8_t pk[32], dc__err *err) {
    sqlite3_stmt *st =
        dc__q(f->s, Q_PURGE_EVENTS,
              "DELETE FROM events WHERE rid = ?1 AND " DC__CLOCK_NOT_AFTER_SQL(
                  "hlc", "(SELECT pk FROM devices WHERE did = events.did)", "?2", "?3"),
              err);
    if (!st)
        return err->code;
    sqlite3_bind_int64(st, 1, r->rid);
    sqlite3_bind_int64(st, 2, (int64_t)h);
    sqlite3_bind_blob(st, 3, pk, 32, SQLITE_STATIC);
    int rc = STEP_DONE(st) ? 0 : dc__sql_err(f->s, err, "delete");
    int n = rc ? 0 : sqlite3_changes(f->s->db);
    sqlite3_reset(st);
    if (n > 0) {
        r->nev -= n;
        r->rows = true;
    }
    return rc;
}

static int notice(dc__store *s, int64_t sid) {
    for (size_t i = 0; i < s->nnoticed; i++)
        if (s->noticed[i] == sid)
            return 0;
    if (DC__VEC_RESERVE(s->noticed, s->cnoticed, s->nnoticed + 1))
        return DC_ENOMEM;
    s->noticed[s->nnoticed++] = sid;
    return 0;
}

void dc__store_point_noticed(dc__store *s, int64_t **sids, size_t *n) {
    *sids = s->nnoticed ? s->noticed : NULL;
    *n = s->nnoticed;
    if (s->nnoticed) {
        s->noticed = NULL;
        s->nnoticed = s->cnoticed = 0;
    }
}

/* The op's kind as the fold applies it. */
static int fold_kind(const dc__op *op) {
#ifdef DC_TEST_FUTURE
    return op->kind == DC_OP_FUTURE_SET ? DC_OP_SET : op->kind;
#else
    return op->kind;
#endif
}

/* Whether an op of this kind names a field (its number is in fop.fid). */
static bool named_kind(int kind) {
    return kind == DC_OP_SET || kind == DC_OP_ADD || kind == DC_OP_REMOVE;
}

/* `fid`: the number of the op's field, where named_kind. */
static int apply_op(fold *f, frec *r, const fchange *c, const dc__op *op, uint32_t i, uint32_t fid,
                    dc__err *err) {
    dc__store *s = f->s;
    dc_hlc h = c->e.hlc_min + i;
    const uint8_t *pk = c->e.author;
    bool visible, changed;
    int rc;
    int kind = fold_kind(op);
    switch (kind) {
    case DC_OP_SET: return dc__rec_set(&r->st, fid, &op->val, h, pk, c->did, err);
    case DC_OP_ADD: return dc__rec_add(&r->st, fid, &op->val, h, pk, c->did, c->e.seq, i, err);
    case DC_OP_REMOVE:
        for (uint32_t t = 0; t < op->ntags; t++) {
            int64_t tdid;
            if ((rc = dc__store_device(s, op->tags[t].dev, &tdid, err)) ||
                (rc = dc__rec_remove(&r->st, fid, tdid, op->tags[t].seq, op->tags[t].op, err)))
                return rc;
        }
        return 0;
    case DC_OP_DELETE:
        if ((rc = dc__rec_delete(&r->st, h, pk, c->did, &changed, err)) || !changed)
            return rc;
        if (!r->nev)
            return 0;
        if ((rc = rec_rid(f, r, err)))
            return rc;
        return purge_events(f, r, h, pk, err);
    case DC_OP_EVENT: {
        if ((rc = dc__rec_visible(&r->st, h, pk, &visible, err)) || !visible)
            return rc;
        if ((rc = rec_rid(f, r, err)))
            return rc;
        dc__buf_clear(&f->tmp);
        if ((rc = dc__event_encode(&f->tmp, op->keys, op->vals, op->nfields, err)))
            return rc;
        sqlite3_stmt *st = dc__q(s, Q_EVENT_PUT,
                                 "INSERT OR IGNORE INTO events(rid, hlc, did, op, body) "
                                 "VALUES(?, ?, ?, ?, ?)",
                                 err);
        if (!st)
            return err->code;
        sqlite3_bind_int64(st, 1, r->rid);
        sqlite3_bind_int64(st, 2, (int64_t)h);
        sqlite3_bind_int64(st, 3, c->did);
        sqlite3_bind_int64(st, 4, i);
        sqlite3_bind_blob(st, 5, f->tmp.ptr, (int)f->tmp.size, SQLITE_STATIC);
        rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "event");
        if (!rc && sqlite3_changes(s->db) > 0) {
            r->nev++;
            r->rows = true;
            /* A new compaction point: the import compacts when it ends. */
            if (op->type.n == 8 && memcmp(op->type.p, "@compact", 8) == 0)
                rc = notice(s, c->sid) ? dc__err_set(err, DC_ENOMEM, "fold: out of memory") : 0;
        }
        sqlite3_reset(st);
        return rc;
    }
    default: return dc__err_set(err, DC_ECORRUPT, "op %u: unknown kind %d", i, op->kind);
    }
}

/* Field numbers of short names remembered for one sort: a name of at most
 * 16 bytes is keyed exactly by its length and its first and last eight
 * bytes (zero-padded), so the handle's cache of names is asked about a name
 * once per sort rather than once per op. */
#define NAME_MEMO 64

typedef struct name_memo {
    uint64_t a, b; /* the name's first and last eight bytes */
    uint32_t n;    /* its length (0: the slot is empty) */
    uint32_t fid;
} name_memo;

static int field_id(dc__store *s, name_memo *memo, const dc__str *name, uint32_t *fid,
                    dc__err *err) {
    if (name->n == 0 || name->n > 16)
        return dc__store_name_id(s, name->p, name->n, true, fid, err);
    uint64_t a = 0, b = 0;
    if (name->n >= 8) {
        memcpy(&a, name->p, 8);
        memcpy(&b, name->p + name->n - 8, 8);
    } else {
        memcpy(&a, name->p, name->n);
    }
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ name->n) * 0xff51afd7ed558ccdull;
    size_t at = (size_t)(h >> 58), free_at = NAME_MEMO;
    /* Up to four slots from the hashed one; the first if all are taken. */
    for (size_t k = 0; k < 4; k++) {
        name_memo *m = &memo[(at + k) & (NAME_MEMO - 1)];
        if (m->n == name->n && m->a == a && m->b == b) {
            *fid = m->fid;
            return 0;
        }
        if (!m->n && free_at == NAME_MEMO)
            free_at = (at + k) & (NAME_MEMO - 1);
    }
    int rc = dc__store_name_id(s, name->p, name->n, true, fid, err);
    if (!rc)
        memo[free_at < NAME_MEMO ? free_at : at] = (name_memo){a, b, name->n, *fid};
    return rc;
}

/* Groups the batch's ops by record, records in key order (f->grp). */
static int sort_batch(fold *f, dc__err *err) {
    size_t total = 0;
    for (size_t i = 0; i < f->nch; i++)
        total += f->ch[i].body.nops;
    size_t nslot = 1024, ng = 0, cg = 0;
    /* Per op in log order: its group, its field's number. */
    uint32_t *gof = dc__malloc((total ? total : 1) * sizeof *gof);
    uint32_t *fids = dc__malloc((total ? total : 1) * sizeof *fids);
    uint32_t *slot = dc__calloc(nslot, sizeof *slot), *order = NULL, *tmp = NULL;
    fgroup *g = NULL;
    dc_buf kb = DC_BUF_INIT; /* the groups' key bytes */
    int rc = gof && fids && slot ? 0 : DC_ENOMEM;
    if (!rc && DC__VEC_RESERVE(f->ops, f->cops, total + 1))
        rc = DC_ENOMEM;
    if (!rc) {
        uint32_t *p = dc__realloc(f->grp, (total + 1) * sizeof *p);
        if (p)
            f->grp = p;
        else
            rc = DC_ENOMEM;
    }
    /* One pass in log order, while each body's bytes are read in turn: the
     * op to its record's group, and its field name to a number (in record
     * order, each lookup would miss the cache).  A failed lookup (err says
     * why) ends the sort. */
    int named = 0;
    size_t n = 0;
    name_memo memo[NAME_MEMO];
    memset(memo, 0, sizeof memo);
    for (size_t c = 0; c < f->nch && !rc; c++) {
        int64_t sid = f->ch[c].sid;
        for (uint32_t k = 0; k < f->ch[c].body.nops && !rc; k++, n++) {
            const dc__op *op = &f->ch[c].body.ops[k];
            fids[n] = 0;
            if (named_kind(fold_kind(op)) &&
                (named = field_id(f->s, memo, &op->field, &fids[n], err))) {
                rc = named;
                break;
            }
            uint64_t h = rec_hash(sid, &op->type, &op->id);
            size_t at = (size_t)h & (nslot - 1);
            while (slot[at] && !group_has(kb.ptr, &g[slot[at] - 1], h, sid, op))
                at = (at + 1) & (nslot - 1);
            if (slot[at]) {
                gof[n] = slot[at] - 1;
            } else {
                if (DC__VEC_RESERVE(g, cg, ng + 1) || dc__buf_put(&kb, op->type.p, op->type.n) ||
                    dc__buf_put(&kb, op->id.p, op->id.n)) {
                    rc = DC_ENOMEM;
                    break;
                }
                g[ng] =
                    (fgroup){h, sid, kb.size - op->type.n - op->id.n, op->type.n, op->id.n, 0, 0};
                slot[at] = (uint32_t)++ng;
                gof[n] = (uint32_t)ng - 1;
                if (ng * 2 > nslot && (rc = slots_grow(&slot, &nslot, g, ng)))
                    break;
            }
            g[gof[n]].n++;
        }
    }
    if (!rc && (!(order = dc__malloc((ng ? ng : 1) * sizeof *order)) ||
                !(tmp = dc__malloc((ng ? ng : 1) * sizeof *tmp))))
        rc = DC_ENOMEM;
    if (!rc) {
        for (size_t k = 0; k < ng; k++)
            order[k] = (uint32_t)k;
        sort_groups(kb.ptr, g, order, tmp, ng);
        uint32_t at = 0;
        for (size_t k = 0; k < ng; k++) {
            f->grp[k] = at;
            g[order[k]].first = at;
            at += g[order[k]].n;
        }
        f->grp[ng] = at;
        f->ngrp = ng;
        /* Placed in log order within each record. */
        n = 0;
        for (size_t c = 0; c < f->nch; c++)
            for (uint32_t k = 0; k < f->ch[c].body.nops; k++, n++)
                f->ops[g[gof[n]].first++] = (fop){&f->ch[c].body.ops[k], (uint32_t)c, k, fids[n]};
        f->nops = n;
    }
    dc__free(gof);
    dc__free(fids);
    dc__free(slot);
    dc__free(g);
    dc__free(order);
    dc__free(tmp);
    dc_buf_dispose(&kb);
    if (named)
        return named;
    return rc ? dc__err_set(err, DC_ENOMEM, "fold: out of memory") : 0;
}

/* A run of at least this many records of one space and type in a window is
 * probed at once for rows (new_run). */
#define PROBE_RUN 4

/* The run of records from k to *run_end (before the window's `end`) that
 * share record k's space and type (in key order, so their ids ascend);
 * *fresh when none of them has a row yet.  One probe of the run's key range
 * instead of a lookup per record that misses (a fresh replica's import
 * creates every record).  Within the window only its own records are
 * written before they are read, and those are other keys. */
static int new_run(fold *f, size_t k, size_t end, size_t *run_end, bool *fresh, dc__err *err) {
    *fresh = false;
    const fop *a = &f->ops[f->grp[k]];
    int64_t sid = f->ch[a->ch].sid;
    const dc__str *type = &a->op->type;
    size_t j = k + 1;
    while (j < end) {
        const fop *b = &f->ops[f->grp[j]];
        if (f->ch[b->ch].sid != sid || b->op->type.n != type->n ||
            memcmp(b->op->type.p, type->p, type->n) != 0)
            break;
        j++;
    }
    *run_end = j;
    if (j - k < PROBE_RUN)
        return 0;
    uint32_t tno;
    int rc = dc__store_name_id(f->s, type->p, type->n, false, &tno, err);
    if (rc == DC_ENOTFOUND) { /* a type never numbered has no record */
        *fresh = true;
        return 0;
    }
    if (rc)
        return rc;
    if (!f->probe &&
        sqlite3_prepare_v2(f->s->db,
                           "SELECT 1 FROM rkeys WHERE sid = ?1 AND tno = ?2 AND id BETWEEN ?3 "
                           "AND ?4 LIMIT 1",
                           -1, &f->probe, NULL) != SQLITE_OK)
        return dc__sql_err(f->s, err, "records");
    const dc__str *lo = &a->op->id, *hi = &f->ops[f->grp[j - 1]].op->id;
    sqlite3_bind_int64(f->probe, 1, sid);
    sqlite3_bind_int64(f->probe, 2, tno);
    sqlite3_bind_text(f->probe, 3, lo->p, (int)lo->n, SQLITE_STATIC);
    sqlite3_bind_text(f->probe, 4, hi->p, (int)hi->n, SQLITE_STATIC);
    int x = sqlite3_step(f->probe);
    *fresh = x == SQLITE_DONE;
    rc = x == SQLITE_ROW || x == SQLITE_DONE ? 0 : dc__sql_err(f->s, err, "records");
    sqlite3_reset(f->probe);
    sqlite3_clear_bindings(f->probe);
    return rc;
}

/* Applies the records of the batch from record *at on, at most
 * WINDOW_RECORDS of them; *at moves to the first record not applied. */
static int apply_window(fold *f, size_t *at, dc__err *err) {
    int rc = 0;
    size_t k = *at, end = k + WINDOW_RECORDS < f->ngrp ? k + WINDOW_RECORDS : f->ngrp;
    size_t run = k;     /* the end of the run of k's space and type */
    bool fresh = false; /* whether that run's records have no row yet */
    for (; k < end && !rc; k++) {
        if (k >= run && (rc = new_run(f, k, end, &run, &fresh, err)))
            break;
        size_t a = f->grp[k], b = f->grp[k + 1];
        /* The ops two records on, then the values of the next record's
         * (their ops asked for one record ago). */
        if (k + 2 < f->ngrp)
            for (size_t j = f->grp[k + 2]; j < f->grp[k + 3]; j++) {
                PREFETCH(f->ops[j].op);
                PREFETCH((const char *)f->ops[j].op + 64);
            }
        if (k + 1 < f->ngrp)
            for (size_t j = b; j < f->grp[k + 2]; j++)
                PREFETCH(f->ops[j].op->val.str);
        frec r;
        memset(&r, 0, sizeof r);
        r.sid = f->ch[f->ops[a].ch].sid;
        r.type = &f->ops[a].op->type;
        r.id = &f->ops[a].op->id;
        r.st.pk = pk_of;
        r.st.pk_user = f->s;
        rc = fresh ? 0 : rec_load(f, &r, err);
        for (size_t i = a; i < b && !rc; i++)
            rc = apply_op(f, &r, &f->ch[f->ops[i].ch], f->ops[i].op, f->ops[i].i, f->ops[i].fid,
                          err);
        if (!rc)
            rc = rec_save(f, &r, err);
        if (!rc && (r.st.changed || r.rows) &&
            touch(f->s, f->touched, r.rid, r.sid, r.type->p, r.type->n, r.id->p, r.id->n))
            rc = dc__err_set(err, DC_ENOMEM, "fold: out of memory");
        dc__recstate_free(&r.st);
        dc__free(r.blob);
    }
    *at = k;
    return rc;
}

/* The batch leaves `pending` (with its last window): its changes and the
 * rows it dropped, both in row order, deleted a run of consecutive row
 * numbers at a time (an import's changes are one run).  Only rows of the
 * batch are named, so a row put in `pending` meanwhile stays. */
static int batch_done(fold *f, dc__err *err) {
    int rc = 0;
    size_t i = 0, j = 0;
    bool open = false;
    int64_t lo = 0, hi = 0;
    while (!rc && (i < f->nch || j < f->ndrop)) {
        int64_t c = j >= f->ndrop || (i < f->nch && f->ch[i].cno < f->drop[j]) ? f->ch[i++].cno
                                                                               : f->drop[j++];
        if (open && c == hi + 1) {
            hi = c;
            continue;
        }
        if (open && c == hi)
            continue;
        if (open)
            rc = pending_del(f->s, lo, hi, err);
        lo = hi = c;
        open = true;
    }
    if (!rc && open)
        rc = pending_del(f->s, lo, hi, err);
    return rc;
}

/* A rebuild (dc__store_state_clear) by another handle between two windows
 * would meet a batch judged before it: the batch is then read again. */
static int state_epoch(dc__store *s, int64_t *v, dc__err *err) {
    int rc = dc__store_meta_get(s, "state_epoch", v, err);
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        *v = 0;
        return 0;
    }
    return rc;
}

int dc__store_fold(dc__store *s, dc__touched *touched, dc__err *err) {
    if (s->folding)
        return 0;
    bool any = false;
    int rc = pending_any(s, &any, err);
    if (rc || !any) {
        if (!rc)
            s->unfolded = 0;
        dc__store_opened_clear(s);
        return rc;
    }
    bool own = sqlite3_get_autocommit(s->db) != 0;
    fold f;
    memset(&f, 0, sizeof f);
    f.s = s;
    f.touched = touched;
    s->folding = true;
    pause_state seen;
    pause_init(&seen);
    for (bool more = true; more && !rc;) {
        /* The batch is read inside its first window's transaction. */
        if (own && (rc = dc__store_begin(s, err)))
            break;
        int64_t epoch = 0, now;
        bool in_txn = true;
        /* (The value indexes declared, perhaps by another handle, are kept
         * by rec_save.) */
        if (!(rc = state_epoch(s, &epoch, err)) && !(rc = dc__store_index_sync(s, err)) &&
            !(rc = read_batch(&f, &more, err)))
            rc = sort_batch(&f, err);
        for (size_t at = 0; !rc;) {
            if (!in_txn) {
                window_pause(&seen);
                if ((rc = dc__store_begin(s, err)))
                    break;
                in_txn = true;
                if ((rc = state_epoch(s, &now, err)))
                    break;
                if (now != epoch) {
                    more = true; /* rebuilt meanwhile: read the batch again */
                    break;
                }
            }
            if ((rc = apply_window(&f, &at, err)))
                break;
            if (at >= f.ngrp && (rc = batch_done(&f, err)))
                break;
            if (own) {
                if ((rc = dc__store_commit(s, err)))
                    break;
                in_txn = false;
            }
            if (at >= f.ngrp)
                break;
        }
        if (own && in_txn) {
            if (rc)
                dc__store_rollback(s);
            else if ((rc = dc__store_commit(s, err)))
                break;
        }
        batch_free(&f);
        if (!rc && more && own)
            window_pause(&seen);
    }
    s->folding = false;
    if (!rc)
        s->unfolded = 0;
    /* What was kept and not taken (folded by another handle, or re-judged)
     * is of no more use. */
    dc__store_opened_clear(s);
    fold_free(&f);
    return rc;
}

bool dc__store_fold_due(const dc__store *s) {
    return s->unfolded >= FOLD_AFTER_OPS;
}

int dc__store_snapshot_begin(dc__store *s, bool *began, dc__err *err) {
    *began = false;
    if (!sqlite3_get_autocommit(s->db))
        return 0;
    /* The read transaction starts at its first read (pending_any): a
     * commit by another handle between the fold and that read leaves
     * changes pending inside the snapshot, which a read could fold only by
     * writing in it; so try again, a few times. */
    for (int tries = 0; tries < 4; tries++) {
        bool any = false;
        int rc = dc__store_fold(s, NULL, err);
        if (rc || (rc = dc__sql_exec(s, "BEGIN", err)))
            return rc;
        if ((rc = pending_any(s, &any, err)) || any)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc)
            return rc;
        if (!any) {
            *began = true;
            return 0;
        }
    }
    return 0;
}

void dc__store_snapshot_end(dc__store *s, bool began) {
    /* A read transaction has nothing to keep: should its COMMIT fail (out
     * of memory), a ROLLBACK ends it, so that the handle can write again. */
    if (began && !sqlite3_get_autocommit(s->db) &&
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK &&
        !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- other state work ---- */

int dc__store_state_clear(dc__store *s, int64_t sid, dc__err *err) {
    static const char *const SQL[] = {
        /* A fold part way through a batch on another handle reads it again. */
        "INSERT INTO meta(key, value) VALUES('state_epoch', 1) ON CONFLICT(key) DO UPDATE "
        "SET value = value + 1 WHERE ?1 = ?1",
        "DELETE FROM events WHERE rid IN (SELECT rid FROM records WHERE sid = ?1)",
        /* Rows stay (observers name them); their state goes. */
        "UPDATE rstate SET del_hlc = 0, del_did = 0, state = NULL, nval = 0, nev = 0 "
        "WHERE rid IN (SELECT rid FROM rkeys WHERE sid = ?1)",
        /* Every change still applied is folded again. */
        "INSERT OR IGNORE INTO pending(cno) SELECT cno FROM changes WHERE sid = ?1 AND "
        "kind = 1 AND state = 0",
    };
    /* The fold writes the index rows of what it rebuilds. */
    int xrc = dc__store_index_clear_space(s, sid, err);
    if (xrc)
        return xrc;
    for (size_t i = 0; i < sizeof SQL / sizeof SQL[0]; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, SQL[i], -1, &st, NULL) != SQLITE_OK)
            return dc__sql_err(s, err, "rebuild");
        sqlite3_bind_int64(st, 1, sid);
        int rc = STEP_DONE(st) ? 0 : dc__sql_err(s, err, "rebuild");
        sqlite3_finalize(st);
        if (rc)
            return rc;
    }
    /* A compacted space starts again from its base (docs/storage.md,
     * "Compaction"): the changes folded into it are no longer in the log. */
    return dc__store_base_restore(s, sid, err);
}

int dc__store_space_rids(dc__store *s, int64_t sid, dc__touched *t, dc__err *err) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT rid, type, id FROM records WHERE sid = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "rebuild");
    sqlite3_bind_int64(st, 1, sid);
    int x, rc = 0;
    while (!rc && (x = sqlite3_step(st)) == SQLITE_ROW)
        if (touch(s, t, sqlite3_column_int64(st, 0), sid, (const char *)sqlite3_column_text(st, 1),
                  (size_t)sqlite3_column_bytes(st, 1), (const char *)sqlite3_column_text(st, 2),
                  (size_t)sqlite3_column_bytes(st, 2)))
            rc = dc__err_set(err, DC_ENOMEM, "rebuild: out of memory");
    if (!rc && x != SQLITE_DONE)
        rc = dc__sql_err(s, err, "rebuild");
    sqlite3_finalize(st);
    return rc;
}

static int tname_cmp(const void *a, const void *b) {
    int64_t x = ((const struct dc__tname *)a)->rid, y = ((const struct dc__tname *)b)->rid;
    return (x > y) - (x < y);
}

int dc__store_record_name(dc__store *s, int64_t rid, char space_hex[33], dc_buf *type, dc_buf *id,
                          dc__err *err) {
    sqlite3_stmt *st;
    /* A record the fold touched: its name was kept then. */
    if (!s->tn_sorted) {
        qsort(s->tn, s->ntn, sizeof *s->tn, tname_cmp);
        s->tn_sorted = true;
    }
    struct dc__tname key = {rid, 0, 0};
    const struct dc__tname *hit =
        s->ntn ? bsearch(&key, s->tn, s->ntn, sizeof *s->tn, tname_cmp) : NULL;
    if (hit) {
        const char *tp = (const char *)s->tn_buf.ptr + hit->off, *ip = tp + strlen(tp) + 1;
        if (sqlite3_prepare_v2(s->db, "SELECT space_id FROM spaces WHERE sid = ?", -1, &st, NULL) !=
            SQLITE_OK)
            return dc__sql_err(s, err, "records");
        sqlite3_bind_int64(st, 1, hit->sid);
        int rc = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16
                     ? 0
                     : dc__sql_err(s, err, "records");
        if (!rc) {
            dc__hex(space_hex, sqlite3_column_blob(st, 0), 16);
            dc__buf_clear(type);
            dc__buf_clear(id);
            if (dc__buf_put(type, tp, strlen(tp)) || dc__buf_put(id, ip, strlen(ip)))
                rc = dc__err_set(err, DC_ENOMEM, "out of memory");
        }
        sqlite3_finalize(st);
        return rc;
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT p.space_id, r.type, r.id FROM records r JOIN spaces p "
                           "ON p.sid = r.sid WHERE r.rid = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return dc__sql_err(s, err, "records");
    sqlite3_bind_int64(st, 1, rid);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        dc__hex(space_hex, sqlite3_column_blob(st, 0), 16);
        dc__buf_clear(type);
        dc__buf_clear(id);
        rc =
            dc__buf_put(type, sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1)) ||
                    dc__buf_put(id, sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2))
                ? dc__err_set(err, DC_ENOMEM, "out of memory")
                : 0;
    } else {
        rc = dc__sql_err(s, err, "records");
    }
    sqlite3_finalize(st);
    return rc;
}
