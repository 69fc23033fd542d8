/*
 * The attachment port (replica/attach_port.h): the replica's attachment
 * objects and rows for the relay's endpoints and the client's attachment
 * phase, over the store, a space named by its id and row.
 */
#include "replica/attach_int.h"

/* The store's space row of sp (the checks of received objects need its
 * keys' epoch). */
static int space_row(dc_replica *r, const dc__att_space *sp, dc__space *out, dc__err *err) {
    return dc__store_space_get(r->st, sp->id, out, err);
}

int dc__att_space_get(dc_replica *r, const uint8_t id[16], dc__att_space *sp, dc__err *err) {
    dc__space row;
    int rc = dc__store_space_get(r->st, id, &row, err);
    if (rc)
        return rc;
    memcpy(sp->id, row.id, 16);
    sp->row = row.sid;
    return 0;
}

int dc__att_spaces(dc_replica *r, dc__ids *out, dc__err *err) {
    int rc = dc__store_spaces_each(r->st, dc__ids_add16, out, err);
    if (rc && !err->code)
        dc__err_set(err, rc, "attachments: out of memory");
    return rc;
}

int dc__att_role(dc_replica *r, const dc__att_space *sp, const uint8_t device[32], int *role,
                 dc__err *err) {
    dc__member m = {0};
    int rc = dc__store_member_get(r->st, sp->row, device, &m, err);
    *role = rc ? 0 : m.role;
    if (rc == DC_ENOTFOUND) {
        dc__err_clear(err);
        rc = 0;
    }
    return rc;
}

int dc__att_solo(dc_replica *r, const uint8_t space[16], const uint8_t device[32], bool *solo,
                 int64_t *held, dc__err *err) {
    *solo = false;
    *held = 0;
    int rc = dc__store_space_solo(r->st, space, device, solo, err);
    return rc || !*solo ? rc : dc__store_solo_bytes(r->st, device, held, err);
}

int dc__att_obj_kind(const uint8_t *p, size_t n, int *kind, dc__err *err) {
    dc__att_hdr h;
    int rc = dc__att_parse(&h, p, n, err);
    *kind = rc ? 0 : h.kind;
    return rc;
}

void dc__att_peer_id(uint8_t out[16], const char *base) {
    dc__hash(out, 16, (const uint8_t *)base, strlen(base));
}

int dc__att_obj_has(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], bool *has,
                    dc__err *err) {
    return dc__store_obj_has(r->st, sp->row, oid, has, err);
}

int dc__att_obj_put(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], int kind,
                    const uint8_t *p, size_t n, bool *fresh, dc__err *err) {
    return dc__store_obj_put(r->st, sp->row, oid, kind, p, n, dc__clock_wall_ms(&r->clock), fresh,
                             err);
}

int dc__att_obj_get(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], dc_buf *out,
                    dc__err *err) {
    return dc__store_obj_get(r->st, sp->row, oid, out, err);
}

int dc__att_obj_drop(dc_replica *r, const dc__att_space *sp, const uint8_t oid[32], dc__err *err) {
    return dc__store_obj_drop(r->st, sp->row, oid, err);
}

int dc__att_obj_unsent(dc_replica *r, const uint8_t peer[16], const dc__att_space *sp, size_t max,
                       dc__att_obj_fn fn, void *user, dc__err *err) {
    return dc__store_obj_unsent(r->st, peer, sp->row, max, fn, user, err);
}

int dc__att_obj_mark_sent(dc_replica *r, const uint8_t peer[16], const dc__att_space *sp,
                          const uint8_t oid[32], dc__err *err) {
    return dc__store_obj_mark_sent(r->st, peer, sp->row, oid, err);
}

int dc__att_state_get(dc_replica *r, const dc__att_space *sp, const uint8_t aid[32],
                      dc__att_state *out, dc__err *err) {
    dc__att_row a;
    int rc = dc__store_att_get(r->st, sp->row, aid, &a, err);
    if (rc)
        return rc;
    out->size = a.size;
    out->nchunks = a.nchunks;
    out->present = a.present;
    out->want = a.want;
    return 0;
}

static int part_missing(void *user, uint32_t idx, const uint8_t cid[32], bool present) {
    (void)idx;
    return present ? 0 : dc__ids_add(user, cid);
}

int dc__att_missing(dc_replica *r, const dc__att_space *sp, const uint8_t aid[32], dc__ids *out,
                    dc__err *err) {
    return dc__store_att_parts(r->st, sp->row, aid, part_missing, out, err);
}

int dc__att_policy(dc_replica *r, const dc__att_space *sp, int *mode, uint64_t *max_bytes,
                   dc__err *err) {
    return dc__store_att_policy_get(r->st, sp->row, mode, max_bytes, err);
}

int dc__att_wanted(dc_replica *r, const dc__att_space *sp, uint8_t **aids, size_t *n,
                   dc__err *err) {
    dc__space row;
    *aids = NULL;
    *n = 0;
    int rc = space_row(r, sp, &row, err);
    return rc ? rc : dc__att_candidates(r, &row, aids, n, err);
}

int dc__att_receive_manifest(dc_replica *r, const dc__att_space *sp, const uint8_t aid[32],
                             const uint8_t *obj, size_t n, dc__err *err) {
    dc__space row;
    int rc = space_row(r, sp, &row, err);
    return rc ? rc : dc__att_take_manifest(r, &row, aid, obj, n, err);
}

int dc__att_receive_chunk(dc_replica *r, const dc__att_space *sp, const uint8_t cid[32],
                          const uint8_t *obj, size_t n, dc__err *err) {
    dc__space row;
    int rc = space_row(r, sp, &row, err);
    return rc ? rc : dc__att_take_chunk(r, &row, cid, obj, n, err);
}
