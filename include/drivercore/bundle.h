/*
 * drivercore — bundles: the change envelopes a replica holds, in one file,
 * for carrying on a USB stick or any other link (docs/format/bundle.md).
 *
 * Import is all or nothing: every envelope is checked (framing, signature,
 * the author's right to write, decryption and decoding where this device
 * holds the key) inside one SQLite transaction, and a bundle with any bad
 * part imports nothing; the error names the part.  Envelopes of spaces this
 * device has no key for are verified and kept, to pass on, but not applied.
 * Thread safety: as the dc_replica.
 */
#ifndef DRIVERCORE_BUNDLE_H
#define DRIVERCORE_BUNDLE_H

#include "drivercore/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Export every envelope held (or those of `space` only, if not NULL). */
DC_EXTERN int dc_bundle_export(dc_buf *out, dc_replica *r, const char *space);

/* Export to a file, written to a temporary name and renamed into place. */
DC_EXTERN int dc_bundle_export_file(dc_replica *r, const char *path, const char *space);

/*
 * Import a bundle, all or nothing.  `report` (may be NULL) receives JSON:
 * {"envelopes": N, "new": N, "duplicate": N, "held": N, "opaque": N,
 * "released": N, "rejected": N, "unauthorised": N, "set_aside": N} —
 * "new" envelopes stored, of which "held" wait for our clock and "opaque"
 * for a key; "released": earlier held or opaque changes applied by this
 * import; "rejected": earlier ones whose body turned out undecodable once
 * their key came (kept, never applied, not exported); "unauthorised":
 * changes (new, or held before) whose author did not hold the role they
 * need for their sequence number, by the membership now known — kept,
 * not applied, not exported, and judged again whenever the membership of
 * their space changes (a removal can also withdraw changes applied
 * before); "set_aside": envelopes skipped as broken or forged (only with
 * DC_IMPORT_SET_ASIDE); "future": changes of a newer body version, kept;
 * "compacted": envelopes dropped as this replica compacted, once the
 * import ended, to a compaction point the bundle brought; "snapshot_needed":
 * spaces whose new point it could not compact to, missing covered history
 * (docs/data-model.md, "Compaction").
 * Returns 0, DC_ECORRUPT, DC_EVERSION, DC_ETOOBIG, DC_EBADSIG,
 * DC_ECONFLICT, DC_EIO, DC_ENOMEM, DC_EUSER (observer; data committed).
 */
DC_EXTERN int dc_bundle_import(dc_replica *r, const uint8_t *data, size_t size, dc_buf *report);

/* dc_bundle_import_with flag: an envelope that is malformed, forged,
 * conflicting (a second envelope under one author and sequence number)
 * or whose body proves broken is set aside — recorded for
 * dc_replica_status ("set_aside") and skipped — and the import goes on
 * with the rest, instead of refusing the whole bundle.  Sync sessions
 * import this way, so that one bad item can never stop a device's sync. */
#define DC_IMPORT_SET_ASIDE 1u

/* dc_bundle_import with flags (0 or DC_IMPORT_SET_ASIDE); DC_EINVAL for an
 * unknown flag. */
DC_EXTERN int dc_bundle_import_with(dc_replica *r, const uint8_t *data, size_t size, unsigned flags,
                                    dc_buf *report);

/* Import a bundle from a file (with flags: dc_bundle_import_with). */
DC_EXTERN int dc_bundle_import_file(dc_replica *r, const char *path, dc_buf *report);
DC_EXTERN int dc_bundle_import_file_with(dc_replica *r, const char *path, unsigned flags,
                                         dc_buf *report);

#ifdef __cplusplus
}
#endif
#endif
