/*
 * Attachments: the public calls of include/drivercore/attach.h and the
 * checks a sync applies to objects it receives (docs/attachments.md).
 *
 * A put reads the file a chunk at a time, names each chunk by its keyed
 * hash, seals and stores those the space does not hold yet, then seals the
 * manifest under the attachment's id, all in one transaction.  A get
 * opens and checks each chunk before handing a byte of it over; a chunk
 * that fails is dropped, so the next sync fetches it again, and the call
 * says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "replica/attach_int.h"

#define ID_PREFIX "att1:"

void dc__att_id_text(char out[70], const uint8_t aid[32]) {
    memcpy(out, ID_PREFIX, 5);
    dc__hex(out + 5, aid, 32);
}

static int parse_id(dc_replica *r, const char *id, uint8_t aid[32]) {
    if (!id)
        return dc__fail(r, DC_EMISUSE, "attachment: the id is NULL");
    if (strlen(id) != DC_ATTACH_ID_LEN || strncmp(id, ID_PREFIX, 5) != 0 ||
        dc__unhex(aid, 32, id + 5) != 0)
        return dc__fail(r, DC_EINVAL,
                        "'%.80s' is not an attachment id (\"att1:\" and 64 hex digits, as "
                        "`drivercore attach put` prints)",
                        id);
    return 0;
}

/* The space, known and accepted. */
static int att_space(dc_replica *r, const char *space, dc__space *sp) {
    uint8_t sid[16];
    if (dc__space_id_parse(r, space, sid))
        return r->err.code;
    if (dc__store_space_get(r->st, sid, sp, &r->err))
        return dc__fail_err(r, &r->err);
    return dc__space_readable(r, sp);
}

/* The two id keys of the space key that sealed an object (cached in
 * `keys` for (epoch, kid) in *at, a 12-byte tag). */
typedef struct keyset {
    uint8_t *mem; /* guarded: space key (32), then the id keys (64) */
    bool have;
    uint32_t epoch;
    uint8_t kid[DC_KEY_ID];
} keyset;

static int keyset_init(keyset *k, dc__err *err) {
    memset(k, 0, sizeof *k);
    if (!(k->mem = dc__secret_alloc(DC_SPACE_KEY + DC_ATT_KEYS)))
        return dc__err_set(err, DC_ENOMEM, "attachment: out of memory");
    return 0;
}

static void keyset_free(keyset *k) {
    dc__secret_free(k->mem);
    k->mem = NULL;
}

static int keyset_for(keyset *k, dc_replica *r, const dc__space *sp, uint32_t epoch,
                      const uint8_t kid[DC_KEY_ID], dc__err *err) {
    if (k->have && k->epoch == epoch && memcmp(k->kid, kid, DC_KEY_ID) == 0)
        return 0;
    k->have = false;
    const uint8_t *key = dc__space_key(r, sp->sid, epoch, kid, err);
    if (!key) {
        if (err->code == DC_ENOKEY) {
            char hex[33];
            dc__hex(hex, sp->id, 16);
            return dc__err_set(err, DC_ENOKEY,
                               "attachment: this device has no key of epoch %u of space %s; "
                               "sync so the space's admins can send it",
                               epoch, hex);
        }
        return err->code;
    }
    memcpy(k->mem, key, DC_SPACE_KEY);
    dc__att_derive(k->mem + DC_SPACE_KEY, k->mem);
    k->have = true;
    k->epoch = epoch;
    memcpy(k->kid, kid, DC_KEY_ID);
    return 0;
}

/* Opens an object of `kind` stored or received under `oid`. */
static int open_obj(keyset *k, dc_replica *r, const dc__space *sp, int kind, const uint8_t oid[32],
                    const uint8_t *obj, size_t n, dc_buf *plain, dc__err *err) {
    dc__att_hdr h;
    int rc = dc__att_parse(&h, obj, n, err);
    if (rc)
        return rc;
    if (h.kind != kind)
        return dc__err_set(err, DC_ECORRUPT, "a %s was expected, this is a %s",
                           kind == DC_ATT_KIND_CHUNK ? "chunk" : "manifest",
                           h.kind == DC_ATT_KIND_CHUNK ? "chunk" : "manifest");
    if ((rc = keyset_for(k, r, sp, h.epoch, h.kid, err)))
        return rc;
    return dc__att_open(plain, &h, obj, k->mem, sp->id, oid, err);
}

/* A chunk object checked: it opens, and its bytes hash to `cid`. */
static int check_chunk(keyset *k, dc_replica *r, const dc__space *sp, const uint8_t cid[32],
                       const uint8_t *obj, size_t n, dc_buf *plain, dc__err *err) {
    int rc = open_obj(k, r, sp, DC_ATT_KIND_CHUNK, cid, obj, n, plain, err);
    if (rc)
        return rc;
    uint8_t h[32];
    dc__att_chunk_id(h, k->mem + DC_SPACE_KEY, plain->ptr, plain->size);
    if (sodium_memcmp(h, cid, 32) != 0)
        return dc__err_set(err, DC_ECORRUPT, "the chunk's bytes do not match its id");
    return 0;
}

/* A manifest object checked: it opens, decodes, and hashes to `aid`. */
static int check_manifest(keyset *k, dc_replica *r, const dc__space *sp, const uint8_t aid[32],
                          const uint8_t *obj, size_t n, dc_buf *plain, dc__manifest *m,
                          dc__err *err) {
    int rc = open_obj(k, r, sp, DC_ATT_KIND_MANIFEST, aid, obj, n, plain, err);
    if (!rc)
        rc = dc__manifest_decode(m, plain->ptr, plain->size, err);
    if (rc)
        return rc;
    uint8_t h[32];
    dc__att_id(h, k->mem + DC_SPACE_KEY, m->size, m->chunk, m->cids, m->nchunks);
    if (sodium_memcmp(h, aid, 32) != 0)
        return dc__err_set(err, DC_ECORRUPT, "the manifest does not match the attachment's id");
    return 0;
}

int dc__att_take_manifest(dc_replica *r, const dc__space *sp, const uint8_t aid[32],
                          const uint8_t *obj, size_t n, dc__err *err) {
    keyset k;
    dc_buf plain = DC_BUF_INIT;
    dc__manifest m;
    int rc = keyset_init(&k, err);
    if (!rc)
        rc = check_manifest(&k, r, sp, aid, obj, n, &plain, &m, err);
    if (!rc && !(rc = dc__replica_writable(r, err)) && !(rc = dc__store_begin(r->st, err))) {
        int64_t now = dc__clock_wall_ms(&r->clock);
        rc = dc__store_obj_put(r->st, sp->sid, aid, DC_ATT_KIND_MANIFEST, obj, n, now, NULL, err);
        if (!rc)
            rc = dc__store_att_put(r->st, sp->sid, aid, &m, now, err);
        if (!rc)
            rc = dc__store_commit(r->st, err);
        if (rc)
            dc__store_rollback(r->st);
    }
    dc_buf_dispose(&plain);
    keyset_free(&k);
    return rc;
}

int dc__att_take_chunk(dc_replica *r, const dc__space *sp, const uint8_t cid[32],
                       const uint8_t *obj, size_t n, dc__err *err) {
    keyset k;
    dc_buf plain = DC_BUF_INIT;
    int rc = keyset_init(&k, err);
    if (!rc)
        rc = check_chunk(&k, r, sp, cid, obj, n, &plain, err);
    if (plain.ptr)
        dc__wipe(plain.ptr, plain.size);
    dc_buf_dispose(&plain);
    keyset_free(&k);
    if (!rc)
        rc = dc__store_obj_put(r->st, sp->sid, cid, DC_ATT_KIND_CHUNK, obj, n,
                               dc__clock_wall_ms(&r->clock), NULL, err);
    return rc;
}

/* ---- put ---- */

typedef struct fileread {
    FILE *f;
    const char *path;
    int err;
} fileread;

static int read_file_fn(void *user, uint8_t *buf, size_t cap, size_t *got) {
    fileread *fr = user;
    *got = fread(buf, 1, cap, fr->f);
    if (*got == 0 && ferror(fr->f)) {
        fr->err = 1;
        return 1;
    }
    return 0;
}

/* Fills buf with up to cap bytes from read (short only at the end). */
static int fill(dc_attach_read_fn read, void *user, uint8_t *buf, size_t cap, size_t *got) {
    *got = 0;
    while (*got < cap) {
        size_t k = 0;
        if (read(user, buf + *got, cap - *got, &k) != 0)
            return DC_EUSER;
        if (k == 0)
            break;
        if (k > cap - *got)
            return DC_EMISUSE;
        *got += k;
    }
    return 0;
}

int dc_attach_put(char id[DC_ATTACH_ID_SIZE], dc_replica *r, const char *space,
                  const char *media_type, dc_attach_read_fn read, void *user) {
    DC__CHECK(r);
    if (!id || !read)
        return dc__fail(r, DC_EMISUSE, "attach put: id and read must not be NULL");
    id[0] = 0;
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "attach put: a transaction is open on this replica");
    const char *media = media_type ? media_type : "application/octet-stream";
    if (!dc__media_valid(media))
        return dc__fail(r, DC_EINVAL,
                        "attach put: '%.40s' is not a media type (1..127 printable ASCII bytes "
                        "without spaces, e.g. image/jpeg)",
                        media);
    dc__space sp;
    if (att_space(r, space, &sp))
        return r->err.code;
    dc__member me;
    if (dc__store_member_get(r->st, sp.sid, r->id->sign_pk, &me, &r->err))
        return dc__fail_err(r, &r->err);
    if (me.role < 2)
        return dc__fail(r, DC_EDENIED,
                        "attach put: this device is a %s of space %s and cannot add files; ask "
                        "an admin for the member role",
                        me.role ? "reader" : "non-member", space);
    keyset k;
    if (keyset_init(&k, &r->err))
        return dc__fail_err(r, &r->err);
    uint8_t *chunk = dc__malloc(DC_ATT_CHUNK);
    dc_buf cids = DC_BUF_INIT, obj = DC_BUF_INIT;
    dc__err *e = &r->err;
    int rc = chunk ? 0 : dc__err_set(e, DC_ENOMEM, "attach put: out of memory");
    const uint8_t *key = rc ? NULL : dc__space_write_key(r, &sp, e);
    if (!rc && !key)
        rc = e->code;
    uint8_t kid[DC_KEY_ID];
    if (!rc) {
        dc__key_id(kid, key);
        rc = keyset_for(&k, r, &sp, sp.epoch, kid, e);
    }
    bool open = false;
    if (!rc && !(rc = dc__replica_begin(r, e)))
        open = true;
    uint64_t size = 0;
    uint32_t n = 0;
    int64_t now = dc__clock_wall_ms(&r->clock);
    while (!rc) {
        size_t got;
        if ((rc = fill(read, user, chunk, DC_ATT_CHUNK, &got))) {
            rc = dc__err_set(e, rc,
                             rc == DC_EUSER ? "attach put: the read callback stopped it"
                                            : "attach put: the read callback returned "
                                              "more bytes than asked");
            break;
        }
        if (got == 0)
            break;
        if (n == DC_ATT_MAX_CHUNKS) {
            rc = dc__err_set(e, DC_ETOOBIG,
                             "attach put: the file is larger than %u chunks of %u "
                             "bytes (4 GiB); split it",
                             DC_ATT_MAX_CHUNKS, DC_ATT_CHUNK);
            break;
        }
        uint8_t cid[32];
        bool has = false;
        dc__att_chunk_id(cid, k.mem + DC_SPACE_KEY, chunk, got);
        if (!(rc = dc__store_obj_has(r->st, sp.sid, cid, &has, e)) && !has) {
            rc = dc__att_seal(&obj, DC_ATT_KIND_CHUNK, sp.epoch, k.mem, sp.id, cid, chunk, got, e);
            if (!rc)
                rc = dc__store_obj_put(r->st, sp.sid, cid, DC_ATT_KIND_CHUNK, obj.ptr, obj.size,
                                       now, NULL, e);
        }
        if (!rc && dc__buf_put(&cids, cid, 32))
            rc = dc__err_set(e, DC_ENOMEM, "attach put: out of memory");
        size += got;
        n++;
        if (got < DC_ATT_CHUNK)
            break;
    }
    uint8_t aid[32];
    dc_buf man = DC_BUF_INIT;
    if (!rc) {
        dc__att_id(aid, k.mem + DC_SPACE_KEY, size, DC_ATT_CHUNK, cids.ptr, n);
        rc = dc__manifest_encode(&man, size, DC_ATT_CHUNK, media, cids.ptr, n, e);
    }
    dc__manifest m;
    if (!rc)
        rc = dc__manifest_decode(&m, man.ptr, man.size, e);
    if (!rc)
        rc = dc__att_seal(&obj, DC_ATT_KIND_MANIFEST, sp.epoch, k.mem, sp.id, aid, man.ptr,
                          man.size, e);
    if (!rc)
        rc = dc__store_obj_put(r->st, sp.sid, aid, DC_ATT_KIND_MANIFEST, obj.ptr, obj.size, now,
                               NULL, e);
    if (!rc)
        rc = dc__store_att_put(r->st, sp.sid, aid, &m, now, e);
    if (!rc)
        rc = dc__store_commit(r->st, e);
    if (rc && open)
        dc__store_rollback(r->st);
    if (chunk) {
        dc__wipe(chunk, DC_ATT_CHUNK);
        dc__free(chunk);
    }
    dc_buf_dispose(&cids);
    dc_buf_dispose(&obj);
    dc_buf_dispose(&man);
    keyset_free(&k);
    if (rc)
        return dc__fail_err(r, e);
    dc__att_id_text(id, aid);
    return 0;
}

int dc_attach_put_file(char id[DC_ATTACH_ID_SIZE], dc_replica *r, const char *space,
                       const char *media_type, const char *path) {
    DC__CHECK(r);
    if (!id || !path)
        return dc__fail(r, DC_EMISUSE, "attach put: id and path must not be NULL");
    id[0] = 0;
    fileread fr = {fopen(path, "rb"), path, 0};
    if (!fr.f)
        return dc__fail(r, DC_EIO, "attach put: cannot open %s: %s", path, strerror(errno));
    int rc = dc_attach_put(id, r, space, media_type, read_file_fn, &fr);
    fclose(fr.f);
    if (rc == DC_EUSER && fr.err)
        return dc__fail(r, DC_EIO, "attach put: reading %s failed; nothing was stored", path);
    return rc;
}

/* ---- get ---- */

typedef struct partlist {
    uint8_t *cids;
    uint32_t n, cap;
} partlist;

static int part_add(void *user, uint32_t idx, const uint8_t cid[32], bool present) {
    (void)present;
    partlist *p = user;
    if (idx != p->n || idx >= p->cap)
        return DC_ECORRUPT;
    memcpy(p->cids + (size_t)idx * 32, cid, 32);
    p->n++;
    return 0;
}

/* Marks the attachment wanted and says it is not here yet. */
static int not_here(dc_replica *r, const dc__space *sp, const uint8_t aid[32], const char *id,
                    const dc__att_row *a) {
    dc__err e = {0};
    dc__store_att_want(r->st, sp->sid, aid, dc__clock_wall_ms(&r->clock), &e);
    if (!a || a->size < 0)
        return dc__fail(r, DC_ENOTFOUND,
                        "attachment %s is not on this device yet; it will be fetched at the "
                        "next sync",
                        id);
    return dc__fail(r, DC_ENOTFOUND,
                    "attachment %s is not wholly on this device yet (%u of %lld chunks); the "
                    "rest will be fetched at the next sync",
                    id, a->present, (long long)a->nchunks);
}

/* The attachment `id` of `space`: its row, or an error on the replica
 * (DC_ENOTFOUND without a message: the caller says it). */
static int find_att(dc_replica *r, const char *space, const char *id, uint8_t aid[32],
                    dc__space *sp, dc__att_row *a) {
    if (parse_id(r, id, aid) || att_space(r, space, sp))
        return r->err.code;
    int rc = dc__store_att_get(r->st, sp->sid, aid, a, &r->err);
    return rc && rc != DC_ENOTFOUND ? dc__fail_err(r, &r->err) : rc;
}

int dc_attach_get(dc_replica *r, const char *space, const char *id, dc_attach_write_fn write,
                  void *user) {
    DC__CHECK(r);
    if (!write)
        return dc__fail(r, DC_EMISUSE, "attach get: write must not be NULL");
    uint8_t aid[32];
    dc__space sp;
    dc__att_row a;
    int rc = find_att(r, space, id, aid, &sp, &a);
    if (rc == DC_ENOTFOUND)
        return not_here(r, &sp, aid, id, NULL);
    if (rc)
        return rc;
    if (a.size < 0 || a.present < a.nchunks)
        return not_here(r, &sp, aid, id, &a);
    partlist pl = {dc__malloc((size_t)(a.nchunks ? a.nchunks : 1) * 32), 0, (uint32_t)a.nchunks};
    keyset k;
    dc_buf obj = DC_BUF_INIT, plain = DC_BUF_INIT;
    dc__err *e = &r->err;
    rc = pl.cids ? keyset_init(&k, e) : dc__err_set(e, DC_ENOMEM, "attach get: out of memory");
    bool keys = !rc;
    if (!rc && (rc = dc__store_att_parts(r->st, sp.sid, aid, part_add, &pl, e)) && !e->code)
        rc = dc__err_set(e, DC_ECORRUPT, "attach get: the chunk list of %s is damaged", id);
    if (!rc && pl.n != a.nchunks)
        rc = dc__err_set(e, DC_ECORRUPT, "attach get: the chunk list of %s is incomplete", id);
    uint64_t left = (uint64_t)a.size;
    for (uint32_t i = 0; !rc && i < pl.n; i++) {
        const uint8_t *cid = pl.cids + (size_t)i * 32;
        rc = dc__store_obj_get(r->st, sp.sid, cid, &obj, e);
        if (rc == DC_ENOTFOUND) {
            dc_buf_dispose(&obj);
            keyset_free(&k);
            dc__free(pl.cids);
            return not_here(r, &sp, aid, id, &a);
        }
        if (rc)
            break;
        uint64_t want = left < a.chunk ? left : a.chunk;
        rc = check_chunk(&k, r, &sp, cid, obj.ptr, obj.size, &plain, e);
        if (rc == DC_ENOKEY)
            rc = DC_ECORRUPT; /* it was checked when stored: its header is damaged */
        if (!rc && plain.size != want)
            rc = dc__err_set(e, DC_ECORRUPT, "the chunk has %zu bytes where %llu belong",
                             plain.size, (unsigned long long)want);
        if (rc == DC_ECORRUPT || rc == DC_EVERSION || rc == DC_ETOOBIG) {
            /* Dropped, so the next sync fetches a sound copy. */
            dc__err de = {0};
            dc__store_obj_drop(r->st, sp.sid, cid, &de);
            dc__store_att_want(r->st, sp.sid, aid, dc__clock_wall_ms(&r->clock), &de);
            dc__err_prefix(e,
                           "attachment %s: chunk %u of %u is damaged on this device and was "
                           "dropped (it will be fetched again at the next sync)",
                           id, i + 1, pl.n);
            rc = e->code = DC_ECORRUPT;
            break;
        }
        if (!rc && write(user, plain.ptr, plain.size) != 0)
            rc = dc__err_set(e, DC_EUSER, "attach get: the write callback stopped it");
        left -= want;
    }
    if (plain.ptr)
        dc__wipe(plain.ptr, plain.size);
    dc_buf_dispose(&plain);
    dc_buf_dispose(&obj);
    if (keys)
        keyset_free(&k);
    dc__free(pl.cids);
    return rc ? dc__fail_err(r, e) : 0;
}

static int write_file_fn(void *user, const uint8_t *p, size_t n) {
    return fwrite(p, 1, n, (FILE *)user) == n ? 0 : 1;
}

int dc_attach_get_file(dc_replica *r, const char *space, const char *id, const char *path) {
    DC__CHECK(r);
    if (!path)
        return dc__fail(r, DC_EMISUSE, "attach get: path must not be NULL");
    size_t n = strlen(path);
    char *tmp = dc__malloc(n + 32);
    if (!tmp)
        return dc__fail(r, DC_ENOMEM, "attach get: out of memory");
    snprintf(tmp, n + 32, "%s.part-%ld", path, dc__os_pid());
    dc__os_remove(tmp);
    FILE *f = dc__os_fopen_private(tmp);
    if (!f) {
        int rc = dc__fail(r, DC_EIO, "attach get: cannot create %s: %s", tmp, strerror(errno));
        dc__free(tmp);
        return rc;
    }
    int rc = dc_attach_get(r, space, id, write_file_fn, f);
    if (rc == DC_EUSER)
        rc = dc__fail(r, DC_EIO, "attach get: writing %s failed: %s", tmp, strerror(errno));
    if (fflush(f) != 0 && !rc)
        rc = dc__fail(r, DC_EIO, "attach get: writing %s failed: %s", tmp, strerror(errno));
    fclose(f);
    if (!rc && dc__os_rename(tmp, path) != 0)
        rc = dc__fail(r, DC_EIO, "attach get: cannot rename %s to %s: %s", tmp, path,
                      strerror(errno));
    if (rc)
        dc__os_remove(tmp);
    dc__free(tmp);
    return rc;
}

/* ---- stat, ls, policy, want ---- */

int dc_attach_stat(int64_t *size, uint32_t *present, uint32_t *total, dc_replica *r,
                   const char *space, const char *id) {
    DC__CHECK(r);
    uint8_t aid[32];
    dc__space sp;
    dc__att_row a;
    int rc = find_att(r, space, id, aid, &sp, &a);
    if (rc == DC_ENOTFOUND)
        return dc__fail(r, DC_ENOTFOUND, "this device has not heard of attachment %s", id);
    if (rc)
        return rc;
    if (size)
        *size = a.size;
    if (present)
        *present = a.present;
    if (total)
        *total = a.nchunks > 0 ? (uint32_t)a.nchunks : 0;
    return 0;
}

int dc__ids_add(void *user, const uint8_t id[32]) {
    dc__ids *s = user;
    if (dc__vec_reserve(&s->p, &s->cap, s->n + 1, 32)) /* elements of 32 bytes */
        return DC_ENOMEM;
    memcpy(s->p + s->n * 32, id, 32);
    s->n++;
    return 0;
}

int dc__ids_add16(void *user, const uint8_t id[16]) {
    uint8_t slot[32] = {0};
    memcpy(slot, id, 16);
    return dc__ids_add(user, slot);
}

static int cmp32(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

/* Sorts and removes duplicates. */
static void ids_sort(dc__ids *s) {
    if (!s->n)
        return;
    qsort(s->p, s->n, 32, cmp32);
    size_t w = 1;
    for (size_t i = 1; i < s->n; i++)
        if (memcmp(s->p + i * 32, s->p + (w - 1) * 32, 32) != 0)
            memmove(s->p + w++ * 32, s->p + i * 32, 32);
    s->n = w;
}

static bool ids_has(const dc__ids *s, const uint8_t aid[32]) {
    return s->n && bsearch(aid, s->p, s->n, 32, cmp32) != NULL;
}

static int refs_of(dc_replica *r, int64_t sid, dc__ids *refs, dc__err *err) {
    int rc = dc__store_att_refs(r->st, sid, dc__ids_add, refs, err);
    if (rc && !err->code)
        dc__err_set(err, rc, "attachments: out of memory");
    ids_sort(refs);
    return rc;
}

static int want_row(void *user, int64_t sid, const dc__att_row *a) {
    (void)sid;
    return a->want ? dc__ids_add(user, a->aid) : 0;
}

int dc__att_candidates(dc_replica *r, const dc__space *sp, uint8_t **aids, size_t *n,
                       dc__err *err) {
    dc__ids s = {0};
    *aids = NULL;
    *n = 0;
    int rc = dc__store_att_refs(r->st, sp->sid, dc__ids_add, &s, err);
    if (!rc)
        rc = dc__store_att_each(r->st, sp->sid, want_row, &s, err);
    if (rc) {
        if (!err->code)
            dc__err_set(err, rc, "attachments: out of memory");
        dc__free(s.p);
        return rc;
    }
    ids_sort(&s);
    *aids = s.p;
    *n = s.n;
    return 0;
}

typedef struct lsctx {
    dc_buf *out;
    const uint8_t *space; /* 16 */
    dc__ids refs, seen;
    bool first;
} lsctx;

static int ls_emit(lsctx *c, const uint8_t aid[32], const dc__att_row *a) {
    char hex[33], idt[70];
    dc__hex(hex, c->space, 16);
    dc__att_id_text(idt, aid);
    dc_buf *o = c->out;
    int rc = dc__buf_printf(o, "%s{\"space\":\"%s\",\"id\":\"%s\",\"size\":%lld,\"media_type\":",
                            c->first ? "" : ",", hex, idt, a ? (long long)a->size : -1LL);
    c->first = false;
    if (!rc)
        rc = a && a->size >= 0 ? dc__json_str(o, a->media, strlen(a->media))
                               : dc__buf_puts(o, "null");
    int64_t total = a && a->nchunks > 0 ? a->nchunks : 0;
    uint32_t present = a ? a->present : 0;
    if (!rc)
        rc = dc__buf_printf(
            o,
            ",\"chunks\":%lld,\"chunks_present\":%u,\"complete\":%s,"
            "\"wanted\":%s,\"referenced\":%s}",
            (long long)total, present, a && a->size >= 0 && present == total ? "true" : "false",
            a && a->want ? "true" : "false", ids_has(&c->refs, aid) ? "true" : "false");
    return rc ? DC_ENOMEM : 0;
}

static int ls_row(void *user, int64_t sid, const dc__att_row *a) {
    (void)sid;
    lsctx *c = user;
    int rc = dc__ids_add(&c->seen, a->aid);
    return rc ? rc : ls_emit(c, a->aid, a);
}

static int ls_space(dc_replica *r, lsctx *c, const dc__space *sp) {
    c->space = sp->id;
    c->refs.n = c->seen.n = 0;
    int rc = refs_of(r, sp->sid, &c->refs, &r->err);
    if (!rc)
        rc = dc__store_att_each(r->st, sp->sid, ls_row, c, &r->err);
    /* Referenced, not heard of otherwise yet: the record came first. */
    ids_sort(&c->seen);
    for (size_t i = 0; !rc && i < c->refs.n; i++)
        if (!ids_has(&c->seen, c->refs.p + i * 32))
            rc = ls_emit(c, c->refs.p + i * 32, NULL);
    return rc;
}

int dc_attach_ls(dc_buf *out, dc_replica *r, const char *space) {
    DC__CHECK(r);
    if (!out)
        return dc__fail(r, DC_EMISUSE, "attach ls: out is NULL");
    lsctx c = {out, NULL, {0}, {0}, true};
    dc__ids spaces = {0};
    int rc = 0;
    if (space) {
        dc__space sp;
        if (att_space(r, space, &sp))
            return r->err.code;
        rc = dc__ids_add16(&spaces, sp.id);
    } else {
        rc = dc__store_spaces_each(r->st, dc__ids_add16, &spaces, &r->err);
    }
    dc__buf_clear(out);
    if (!rc && dc__buf_putc(out, '['))
        rc = DC_ENOMEM;
    for (size_t i = 0; !rc && i < spaces.n; i++) {
        dc__space sp;
        if (!(rc = dc__store_space_get(r->st, spaces.p + i * 32, &sp, &r->err)))
            rc = ls_space(r, &c, &sp);
    }
    if (!rc && dc__buf_putc(out, ']'))
        rc = DC_ENOMEM;
    dc__free(spaces.p);
    dc__free(c.refs.p);
    dc__free(c.seen.p);
    if (rc) {
        dc__buf_clear(out);
        return r->err.code ? dc__fail_err(r, &r->err) : dc__fail(r, rc, "attach ls: out of memory");
    }
    return 0;
}

int dc_attach_policy_set(dc_replica *r, const char *space, int mode, uint64_t max_bytes) {
    DC__CHECK(r);
    if (mode != DC_ATTACH_FETCH_ALL && mode != DC_ATTACH_FETCH_ON_DEMAND &&
        mode != DC_ATTACH_FETCH_UNDER)
        return dc__fail(r, DC_EINVAL,
                        "attach policy: unknown mode %d (1 all, 2 on demand, 3 under a size on "
                        "a metered link)",
                        mode);
    if (max_bytes > (uint64_t)INT64_MAX)
        return dc__fail(r, DC_EINVAL, "attach policy: max_bytes is too large");
    dc__space sp;
    if (att_space(r, space, &sp))
        return r->err.code;
    int rc = dc__store_att_policy_put(r->st, sp.sid, mode, max_bytes, &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

int dc_attach_want(dc_replica *r, const char *space, const char *id) {
    DC__CHECK(r);
    uint8_t aid[32];
    dc__space sp;
    if (parse_id(r, id, aid) || att_space(r, space, &sp))
        return r->err.code;
    int rc = dc__store_att_want(r->st, sp.sid, aid, dc__clock_wall_ms(&r->clock), &r->err);
    return rc ? dc__fail_err(r, &r->err) : 0;
}

/* ---- collection ---- */

typedef struct gcctx {
    dc__ids refs, doomed;
    int64_t before;
} gcctx;

static int gc_row(void *user, int64_t sid, const dc__att_row *a) {
    (void)sid;
    gcctx *g = user;
    if (ids_has(&g->refs, a->aid) || a->at_ms > g->before)
        return 0;
    return dc__ids_add(&g->doomed, a->aid);
}

/* A referenced attachment whose manifest a peer pushed here (a tablet
 * serving phones stores what they push without opening it): opened now,
 * so that collection sees its chunks as used. */
static int open_pushed(dc_replica *r, const dc__space *sp, const dc__ids *refs) {
    dc_buf obj = DC_BUF_INIT;
    for (size_t i = 0; i < refs->n; i++) {
        const uint8_t *aid = refs->p + i * 32;
        dc__att_row a;
        dc__err e = {0};
        int rc = dc__store_att_get(r->st, sp->sid, aid, &a, &e);
        if (rc == 0 && a.size >= 0)
            continue;
        if ((rc && rc != DC_ENOTFOUND) ||
            ((rc = dc__store_obj_get(r->st, sp->sid, aid, &obj, &e)) && rc != DC_ENOTFOUND)) {
            dc_buf_dispose(&obj);
            return dc__fail_err(r, &e);
        }
        /* One that does not open is left to the orphan rule below. */
        if (rc == 0)
            dc__att_take_manifest(r, sp, aid, obj.ptr, obj.size, &e);
    }
    dc_buf_dispose(&obj);
    return 0;
}

static int gc_space(dc_replica *r, const dc__space *sp, int64_t before, uint64_t *removed) {
    gcctx g = {{0}, {0}, before};
    dc__err *e = &r->err;
    int rc = refs_of(r, sp->sid, &g.refs, e);
    if (!rc)
        rc = open_pushed(r, sp, &g.refs);
    if (!rc)
        rc = dc__store_att_each(r->st, sp->sid, gc_row, &g, e);
    if (!rc && !(rc = dc__replica_begin(r, e))) {
        uint64_t orphans = 0;
        for (size_t i = 0; !rc && i < g.doomed.n; i++)
            rc = dc__store_att_forget(r->st, sp->sid, g.doomed.p + i * 32, NULL, e);
        if (!rc)
            rc = dc__store_att_orphans(r->st, sp->sid, before, &orphans, e);
        if (!rc)
            rc = dc__store_commit(r->st, e);
        if (rc)
            dc__store_rollback(r->st);
        else
            *removed += g.doomed.n;
    }
    if (rc && !e->code)
        dc__err_set(e, rc, "attach gc: out of memory");
    dc__free(g.refs.p);
    dc__free(g.doomed.p);
    return rc;
}

/* ---- dead objects, for a compaction point ---- */

typedef struct deadctx {
    dc_replica *r;
    int64_t sid;
    dc__ids refs, live, dead;
    int64_t before;
    bool blind; /* a referenced attachment's chunks are unknown */
} deadctx;

static int part_of(void *user, uint32_t idx, const uint8_t cid[32], bool present) {
    (void)idx, (void)present;
    return dc__ids_add(user, cid);
}

static int dead_row(void *user, int64_t sid, const dc__att_row *a) {
    deadctx *d = user;
    dc__err e = {0};
    if (ids_has(&d->refs, a->aid)) {
        if (a->size < 0) {
            d->blind = true;
            return 0;
        }
        return dc__store_att_parts(d->r->st, sid, a->aid, part_of, &d->live, &e);
    }
    if (a->size < 0 || a->at_ms > d->before)
        return 0;
    int rc = dc__ids_add(&d->dead, a->aid);
    /* Its chunks are candidates: those a live attachment uses leave below. */
    return rc ? rc : dc__store_att_parts(d->r->st, sid, a->aid, part_of, &d->dead, &e);
}

int dc__att_dead(dc_replica *r, const dc__space *sp, int64_t before_ms, size_t max, dc__ids *out,
                 dc__err *err) {
    memset(out, 0, sizeof *out);
    deadctx d = {r, sp->sid, {0}, {0}, {0}, before_ms, false};
    int rc = refs_of(r, sp->sid, &d.refs, err);
    /* Referenced attachments without a row have chunks unknown here too. */
    for (size_t i = 0; !rc && i < d.refs.n; i++) {
        dc__att_row a;
        dc__err e = {0};
        int x = dc__store_att_get(r->st, sp->sid, d.refs.p + i * 32, &a, &e);
        if (x == DC_ENOTFOUND)
            d.blind = true;
        else if (x)
            rc = dc__err_set(err, x, "%s", e.msg);
    }
    if (!rc && (rc = dc__store_att_each(r->st, sp->sid, dead_row, &d, err)) && !err->code)
        dc__err_set(err, rc, "attachments: out of memory");
    if (!rc) {
        ids_sort(&d.live);
        ids_sort(&d.dead);
        /* Manifests (attachment ids) stay whatever; a chunk goes only if
         * no live attachment uses it and every live one's chunks are known. */
        dc__ids keep = {0};
        for (size_t i = 0; !rc && i < d.dead.n && keep.n < max; i++) {
            const uint8_t *id = d.dead.p + i * 32;
            dc__att_row a;
            dc__err e = {0};
            bool manifest = dc__store_att_get(r->st, sp->sid, id, &a, &e) == 0;
            if (manifest || (!d.blind && !ids_has(&d.live, id)))
                rc = dc__ids_add(&keep, id);
        }
        if (rc) {
            dc__free(keep.p);
            dc__err_set(err, rc, "attachments: out of memory");
        } else {
            *out = keep;
        }
    }
    dc__free(d.refs.p);
    dc__free(d.live.p);
    dc__free(d.dead.p);
    return rc;
}

int dc_attach_gc(uint64_t *removed, dc_replica *r, const char *space, int64_t min_age_ms) {
    DC__CHECK(r);
    if (removed)
        *removed = 0;
    if (min_age_ms < 0)
        return dc__fail(r, DC_EINVAL, "attach gc: min_age_ms must not be negative");
    if (r->txn)
        return dc__fail(r, DC_EMISUSE, "attach gc: a transaction is open on this replica");
    int64_t before = dc__clock_wall_ms(&r->clock) - min_age_ms;
    uint64_t gone = 0;
    dc__ids spaces = {0};
    int rc = 0;
    if (space) {
        dc__space sp;
        if (att_space(r, space, &sp))
            return r->err.code;
        rc = gc_space(r, &sp, before, &gone);
    } else if (!(rc = dc__store_spaces_each(r->st, dc__ids_add16, &spaces, &r->err))) {
        for (size_t i = 0; !rc && i < spaces.n; i++) {
            dc__space sp;
            if (!(rc = dc__store_space_get(r->st, spaces.p + i * 32, &sp, &r->err)))
                rc = gc_space(r, &sp, before, &gone);
        }
    }
    dc__free(spaces.p);
    if (removed)
        *removed = gone;
    if (rc)
        return r->err.code ? dc__fail_err(r, &r->err) : dc__fail(r, rc, "attach gc failed");
    return 0;
}
