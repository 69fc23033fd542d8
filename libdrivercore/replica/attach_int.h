/*
 * Private to the library: what a sync needs of attachments beyond the
 * public calls (replica/attach.c) — the spaces and attachments to fetch,
 * and taking in an object a peer sent after checking it.
 */
#ifndef DC_ATTACH_INT_H
#define DC_ATTACH_INT_H

#include "replica/attach_port.h"
#include "replica/replica_int.h"

/* Checks a manifest object received for attachment `aid` of `sp` (framing,
 * AEAD, and that its content hashes to `aid`) and stores it with its chunk
 * list.  DC_ECORRUPT / DC_EVERSION / DC_ETOOBIG with a message on err;
 * DC_ENOKEY when the key of its epoch is not here. */
int dc__att_take_manifest(dc_replica *r, const dc__space *sp, const uint8_t aid[32],
                          const uint8_t *obj, size_t n, dc__err *err);
/* Checks a chunk object received under id `cid` (framing, AEAD, and that
 * its plaintext hashes to `cid`) and stores it. */
int dc__att_take_chunk(dc_replica *r, const dc__space *sp, const uint8_t cid[32],
                       const uint8_t *obj, size_t n, dc__err *err);

/* The attachments of `sp` a sync should look at: every one a live record
 * references, and every one asked for.  *aids: dc__malloc'd, n x 32. */
int dc__att_candidates(dc_replica *r, const dc__space *sp, uint8_t **aids, size_t *n, dc__err *err);

/* The attachment objects of `sp` no record references any more, for a
 * compaction point to list (docs/relay.md, "Compaction"): the manifest and
 * the chunks of each attachment whose manifest this replica opened, that no
 * live record references and that arrived before `before_ms`, chunks still
 * used by a referenced attachment left out; no chunk at all when a
 * referenced attachment's manifest is not here (its chunks are unknown).
 * At most `max` ids (the rest at a later compaction), sorted; *out
 * dc__malloc'd (free out->p). */
int dc__att_dead(dc_replica *r, const dc__space *sp, int64_t before_ms, size_t max, dc__ids *out,
                 dc__err *err);

/* "att1:" + hex of aid. */
void dc__att_id_text(char out[70], const uint8_t aid[32]);

#endif
