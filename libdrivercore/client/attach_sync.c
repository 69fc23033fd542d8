/*
 * The attachment phase of a sync (docs/attachments.md, "Sync"): after the
 * records, over the same relay or `drivercore serve` peer and token.
 *
 * Push: the objects (chunks, then manifests) this device holds that it
 * has not yet seen on this peer are offered in batches ("have"); those the
 * peer lacks are sent one by one, each remembered as sent once the peer
 * took it, so a cut link resends only the object in flight.
 *
 * Fetch: for every attachment a live record of the space references (or
 * that was asked for), the manifest first, then — as the space's policy
 * asks — each missing chunk, one request each, checked (AEAD, and its
 * bytes against its id) and committed before the next is asked for.  A
 * chunk that fails its check is refused, asked for once more, and
 * reported if it fails again; nothing unchecked is ever stored.
 */
#include <stdio.h>
#include <string.h>

#include "client/client_int.h"
#include "replica/attach_port.h"

#define HAVE_BATCH 256

typedef struct objlist {
    uint8_t ids[HAVE_BATCH][32];
    size_t n;
} objlist;

static int obj_add(void *user, const uint8_t oid[32], int kind) {
    (void)kind;
    objlist *l = user;
    if (l->n < HAVE_BATCH)
        memcpy(l->ids[l->n++], oid, 32);
    return 0;
}

static void obj_path(char *out, size_t cap, const char *what, const uint8_t space[16],
                     const uint8_t id[32]) {
    char sh[33], ih[65];
    dc__hex(sh, space, 16);
    dc__hex(ih, id, 32);
    snprintf(out, cap, "/v1/attach/%s?space=%s&id=%s", what, sh, ih);
}

static int local(dc_client *c, const dc__err *e) {
    return dc__client_local(c, e->code ? e->code : DC_ERROR, e->msg);
}

static int count_obj(void *user, const uint8_t oid[32], int kind) {
    (void)oid;
    (void)kind;
    (*(uint64_t *)user)++;
    return 0;
}

/* The peer refused to store an object of this space (403 on a put: this
 * device is no writer there, or its storage quota is full).  What the peer
 * does not hold yet of the space is counted (attach_held), and offered
 * again at the next sync. */
static int held_back(dc_client *c, dc_replica *r, const dc__att_space *sp, const uint8_t peer[16],
                     dc__att_figures *f) {
    dc__err e = {0};
    if (dc__att_obj_unsent(r, peer, sp, (size_t)INT64_MAX, count_obj, &f->held, &e))
        return local(c, &e);
    return 0;
}

/* Pushes what the peer lacks of space `sp`.  A peer that refuses the
 * space (403: this device is no member or no writer there, or its quota is
 * full) is left alone; after a refused upload, what it did not take is
 * counted in f->held. */
static int push_space(dc_client *c, dc_replica *r, const dc__att_space *sp, const uint8_t peer[16],
                      dc__att_figures *f) {
    objlist *l = dc__malloc(sizeof *l);
    uint8_t *body = dc__malloc(16 + HAVE_BATCH * 32);
    dc_buf obj = DC_BUF_INIT;
    dc__err e = {0};
    int rc = l && body ? 0 : dc__client_local(c, DC_ENOMEM, "attachments: out of memory");
    while (!rc) {
        l->n = 0;
        if ((rc = dc__att_obj_unsent(r, peer, sp, HAVE_BATCH, obj_add, l, &e))) {
            rc = local(c, &e);
            break;
        }
        if (l->n == 0)
            break;
        memcpy(body, sp->id, 16);
        for (size_t i = 0; i < l->n; i++)
            memcpy(body + 16 + i * 32, l->ids[i], 32);
        long st;
        const dc_buf *resp;
        if ((rc = dc__client_call(c, "POST", "/v1/attach/have", body, 16 + l->n * 32, &st, &resp)))
            break;
        if (st == 403)
            break;
        if (st == 404) {
            /* A relay older than attachments: records only, as before. */
            f->unsupported = true;
            break;
        }
        if (st != 200) {
            rc = dc__client_refusal(c, "the attachment inventory");
            break;
        }
        if (resp->size != l->n) {
            rc = dc__client_local(c, DC_ECORRUPT,
                                  "the relay's answer to the attachment inventory is malformed");
            break;
        }
        uint8_t have[HAVE_BATCH];
        memcpy(have, resp->ptr, l->n);
        bool stop = false;
        for (size_t i = 0; !rc && !stop && i < l->n; i++) {
            if (!have[i]) {
                if ((rc = dc__att_obj_get(r, sp, l->ids[i], &obj, &e))) {
                    rc = rc == DC_ENOTFOUND ? 0 : local(c, &e); /* collected meanwhile */
                    continue;
                }
                char path[200];
                obj_path(path, sizeof path, "put", sp->id, l->ids[i]);
                if ((rc = dc__client_call(c, "POST", path, obj.ptr, obj.size, &st, &resp)))
                    break;
                if (st == 403) {
                    rc = held_back(c, r, sp, peer, f);
                    stop = true;
                    break;
                }
                /* 400 / 413: the peer will never take it; not offered again. */
                if (st != 200 && st != 400 && st != 413) {
                    rc = dc__client_refusal(c, "an attachment upload");
                    break;
                }
                if (st == 200) {
                    f->sent++;
                    f->bytes_sent += obj.size;
                }
            }
            if (dc__att_obj_mark_sent(r, peer, sp, l->ids[i], &e))
                rc = local(c, &e);
        }
        if (stop || l->n < HAVE_BATCH)
            break;
    }
    dc_buf_dispose(&obj);
    dc__free(l);
    dc__free(body);
    return rc;
}

/* Fetches one object and takes it in (manifest or chunk), asking once
 * more if the first copy fails its check.  *fetched: it is here now. */
static int fetch_obj(dc_client *c, dc_replica *r, const dc__att_space *sp, const uint8_t id[32],
                     bool manifest, dc__att_figures *f, bool *fetched) {
    *fetched = false;
    char path[200];
    obj_path(path, sizeof path, "get", sp->id, id);
    for (int round = 0; round < 2; round++) {
        long st;
        const dc_buf *resp;
        int rc = dc__client_call(c, "GET", path, NULL, 0, &st, &resp);
        if (rc)
            return rc;
        if (st == 404 || st == 403) {
            f->missing++;
            return 0;
        }
        if (st != 200)
            return dc__client_refusal(c, "an attachment download");
        f->received++;
        f->bytes_received += resp->size;
        dc__err e = {0};
        rc = manifest ? dc__att_receive_manifest(r, sp, id, resp->ptr, resp->size, &e)
                      : dc__att_receive_chunk(r, sp, id, resp->ptr, resp->size, &e);
        if (!rc) {
            *fetched = true;
            return 0;
        }
        if (rc == DC_ENOKEY) {
            f->missing++;
            return 0;
        }
        if (rc != DC_ECORRUPT && rc != DC_EVERSION && rc != DC_ETOOBIG)
            return local(c, &e);
        /* Refused: asked for once more (a byte flipped on the way). */
    }
    f->refused++;
    return 0;
}

/* Does the policy of `sp` fetch attachment `a` now? */
static bool wanted(int mode, uint64_t cap, bool metered, const dc__att_state *a) {
    if (a->want || mode == 0 || mode == DC_ATTACH_FETCH_ALL)
        return true;
    if (mode == DC_ATTACH_FETCH_UNDER)
        return !metered || (a->size >= 0 && (uint64_t)a->size <= cap);
    return false;
}

static int fetch_one(dc_client *c, dc_replica *r, const dc__att_space *sp, const uint8_t aid[32],
                     int mode, uint64_t cap, dc__att_figures *f) {
    dc__err e = {0};
    dc__att_state a;
    int rc = dc__att_state_get(r, sp, aid, &a, &e);
    if (rc && rc != DC_ENOTFOUND)
        return local(c, &e);
    if (rc || a.size < 0) {
        /* The manifest: held already (a peer pushed it here), or fetched. */
        dc_buf obj = DC_BUF_INIT;
        bool here = false;
        if (dc__att_obj_get(r, sp, aid, &obj, &e) == 0) {
            here = dc__att_receive_manifest(r, sp, aid, obj.ptr, obj.size, &e) == 0;
            if (!here)
                dc__att_obj_drop(r, sp, aid, &e);
        }
        dc_buf_dispose(&obj);
        dc__err_clear(&e);
        if (!here && ((rc = fetch_obj(c, r, sp, aid, true, f, &here)) || !here))
            return rc;
        if ((rc = dc__att_state_get(r, sp, aid, &a, &e)))
            return local(c, &e);
    }
    if (!wanted(mode, cap, dc__client_metered(c), &a) || a.present == a.nchunks)
        return 0;
    dc__ids m = {0};
    if ((rc = dc__att_missing(r, sp, aid, &m, &e))) {
        dc__free(m.p);
        return e.code ? local(c, &e) : dc__client_local(c, rc, "attachments: out of memory");
    }
    for (size_t i = 0; !rc && i < m.n; i++) {
        bool got;
        rc = fetch_obj(c, r, sp, m.p + i * 32, false, f, &got);
    }
    dc__free(m.p);
    return rc;
}

static int fetch_space(dc_client *c, dc_replica *r, const dc__att_space *sp, dc__att_figures *f) {
    dc__err e = {0};
    int mode;
    uint64_t cap;
    uint8_t *aids = NULL;
    size_t n = 0;
    if (dc__att_policy(r, sp, &mode, &cap, &e))
        return local(c, &e);
    if (dc__att_wanted(r, sp, &aids, &n, &e))
        /* A change of this replica that does not fold (a broken body its
         * own app wrote) makes the space unreadable here, its references
         * too; the sync goes on without fetching for it. */
        return e.code == DC_ECORRUPT ? 0 : local(c, &e);
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++)
        rc = fetch_one(c, r, sp, aids + i * 32, mode, cap, f);
    dc__free(aids);
    return rc;
}

int dc__client_attach(dc_client *c, dc__att_figures *f) {
    dc_replica *r = dc__client_replica(c);
    const char *base = dc__client_base(c);
    uint8_t peer[16];
    dc__att_peer_id(peer, base);
    dc__ids s = {0};
    dc__err e = {0};
    int rc = dc__att_spaces(r, &s, &e);
    if (rc)
        rc = e.code ? local(c, &e) : dc__client_local(c, rc, "attachments: out of memory");
    for (size_t i = 0; !rc && i < s.n; i++) {
        dc__att_space sp;
        if (dc__att_space_get(r, s.p + i * 32, &sp, &e)) {
            rc = local(c, &e);
            break;
        }
        if (!(rc = push_space(c, r, &sp, peer, f)) && !f->unsupported)
            rc = fetch_space(c, r, &sp, f);
        if (f->unsupported)
            break;
    }
    dc__free(s.p);
    return rc;
}
