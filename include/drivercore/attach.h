/*
 * drivercore — attachments: files in a space (docs/attachments.md).
 *
 * A file put in a space is cut into chunks of 256 KiB, each encrypted
 * under the space key and named by a keyed hash of its bytes, so the same
 * content is stored once per space; a manifest lists the chunks.  The
 * attachment's id, "att1:" and 64 hex digits, is a keyed hash of the
 * content too: a record references the file by holding that text in a
 * field (a register, a set or an event).  Records sync first; chunks
 * follow, chunk by chunk, as each space's fetch policy asks, through the
 * same relay or `drivercore serve` peer (dc_client_sync), and a cut link
 * keeps every chunk already finished.  Every chunk is authenticated
 * before a byte of it is returned.
 *
 * Thread safety: these calls use the replica handle and follow its rule
 * (one thread at a time).  The dc_relay_attach_* calls are the relay's
 * side and are internally locked like the rest of dc_relay.
 */
#ifndef DRIVERCORE_ATTACH_H
#define DRIVERCORE_ATTACH_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An attachment id as text: "att1:" then 64 lowercase hex digits. */
#define DC_ATTACH_ID_LEN 69
/* Size of a buffer for one, with its NUL. */
#define DC_ATTACH_ID_SIZE 70

/* Reads up to `cap` bytes into `buf`; *got = 0 at the end.  Non-zero
 * return aborts the put (DC_EUSER). */
typedef int (*dc_attach_read_fn)(void *user, uint8_t *buf, size_t cap, size_t *got);
/* Takes the next `n` bytes of the file.  Non-zero aborts (DC_EUSER). */
typedef int (*dc_attach_write_fn)(void *user, const uint8_t *p, size_t n);

/*
 * Stores a file in `space` (32 hex digits) from `read` and writes its id
 * into `id` (DC_ATTACH_ID_SIZE bytes, NUL-terminated).  `media_type` (NULL:
 * "application/octet-stream") is kept in the manifest.  All or nothing:
 * one transaction.  Chunks the space already holds are not stored again,
 * and the same content put twice gives the same id (within one key epoch
 * of the space).  The device must be a writer of the space.
 * Returns 0; DC_ENOTFOUND (unknown space), DC_EDENIED (not accepted, or a
 * reader), DC_ENOKEY, DC_ETOOBIG (over 16384 chunks: 4 GiB), DC_EINVAL (a
 * bad media type), DC_EUSER (the callback stopped it), DC_EIO.
 */
DC_EXTERN int dc_attach_put(char id[DC_ATTACH_ID_SIZE], dc_replica *r, const char *space,
                            const char *media_type, dc_attach_read_fn read, void *user);
/* The same from a file: DC_EIO (with the path and the reason) if it
 * cannot be read. */
DC_EXTERN int dc_attach_put_file(char id[DC_ATTACH_ID_SIZE], dc_replica *r, const char *space,
                                 const char *media_type, const char *path);

/*
 * Streams attachment `id` of `space` to `write`, chunk by chunk; each
 * chunk is decrypted and checked against its id before it is handed over.
 * Returns 0; DC_ENOTFOUND when it is not (wholly) on this device yet — the
 * attachment is then marked wanted, and the next sync fetches it whatever
 * the space's policy; DC_ECORRUPT when a stored chunk fails its check: it
 * is dropped (and fetched again at the next sync) and what was written
 * before it is all the caller got; DC_EUSER; DC_EDENIED; DC_ENOKEY.
 */
DC_EXTERN int dc_attach_get(dc_replica *r, const char *space, const char *id,
                            dc_attach_write_fn write, void *user);
/* The same into a file, created 0600 and renamed into place only once
 * the whole attachment checked out: never a partial or unchecked file. */
DC_EXTERN int dc_attach_get_file(dc_replica *r, const char *space, const char *id,
                                 const char *path);

/*
 * What this device holds of an attachment: its size in bytes (-1 while
 * its manifest has not arrived), its chunks held and in all (0 when not
 * known yet).  Any output may be NULL.  DC_ENOTFOUND if the device has
 * never heard of it.
 */
DC_EXTERN int dc_attach_stat(int64_t *size, uint32_t *present, uint32_t *total, dc_replica *r,
                             const char *space, const char *id);

/*
 * The attachments this device knows of, in `space` (NULL: every space), as
 * a JSON array of {"space", "id", "size", "media_type", "chunks",
 * "chunks_present", "complete", "wanted", "referenced"} (size -1 and
 * media_type null while the manifest has not arrived).  "referenced": a
 * live record of the space names it.
 */
DC_EXTERN int dc_attach_ls(dc_buf *out, dc_replica *r, const char *space);

/* Fetch policies (dc_attach_policy_set). */
enum {
    DC_ATTACH_FETCH_ALL = 1,       /* every attachment a record references (the default) */
    DC_ATTACH_FETCH_ON_DEMAND = 2, /* only those asked for (dc_attach_get, dc_attach_want) */
    DC_ATTACH_FETCH_UNDER = 3      /* on a metered link only those up to max_bytes; all
                                      on an unmetered one */
};

/* Sets the fetch policy of `space` (max_bytes: for DC_ATTACH_FETCH_UNDER).
 * DC_EINVAL for an unknown mode. */
DC_EXTERN int dc_attach_policy_set(dc_replica *r, const char *space, int mode, uint64_t max_bytes);

/* Marks an attachment to be fetched at the next sync, whatever the
 * policy.  DC_EINVAL for a malformed id. */
DC_EXTERN int dc_attach_want(dc_replica *r, const char *space, const char *id);

/*
 * Collects the attachments of `space` (NULL: every space) that no live
 * record references and that this device has known for at least
 * `min_age_ms` (so a file just put is not collected before the record
 * that will name it is written): their rows, manifests and every chunk no
 * other attachment uses; and the objects peers pushed here (a tablet
 * serving phones) that nothing known here uses, stored at least
 * `min_age_ms` ago.  *removed (may be NULL) gets how many attachments
 * went.
 */
DC_EXTERN int dc_attach_gc(uint64_t *removed, dc_replica *r, const char *space, int64_t min_age_ms);

/* ---- the relay's side (docs/attachments.md, "Wire") ----
 * For a relay core (drivercore-relay, drivercore serve); every call takes
 * the token of an authenticated device (dc_relay_session) and answers
 * only for a space that device is a member of. */
typedef struct dc_relay dc_relay;

/* Which of the objects named in `in` (16-byte space id, then up to 4096
 * 32-byte object ids) the relay holds: `out` gets one byte per id, 1 or 0.
 * DC_EBADSIG (token), DC_EDENIED (not a member), DC_ECORRUPT (framing). */
DC_EXTERN int dc_relay_attach_have(dc_buf *out, dc_relay *rl, const uint8_t token[32],
                                   const uint8_t *in, size_t n);
/* Stores an object a writer of the space pushes (kept if one is held under
 * its id already: *stored = 0).  DC_EDENIED (not a writer), DC_ECORRUPT /
 * DC_ETOOBIG (framing), DC_EBADSIG. */
DC_EXTERN int dc_relay_attach_put(int *stored, dc_relay *rl, const uint8_t token[32],
                                  const uint8_t space[16], const uint8_t id[32], const uint8_t *p,
                                  size_t n);
/* An object's bytes; DC_ENOTFOUND if not held. */
DC_EXTERN int dc_relay_attach_get(dc_buf *out, dc_relay *rl, const uint8_t token[32],
                                  const uint8_t space[16], const uint8_t id[32]);

#ifdef __cplusplus
}
#endif
#endif
