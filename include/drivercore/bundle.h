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
 * Import a bundle.  `report` (may be NULL) receives JSON:
 * {"envelopes": N, "new": N, "duplicate": N, "held": N, "opaque": N,
 * "released": N, "rejected": N} — "new" envelopes stored, of which "held"
 * wait for our clock and "opaque" for a key; "released": earlier held or
 * opaque changes applied by this import; "rejected": earlier ones whose
 * body turned out undecodable once their key came (kept, never applied,
 * not exported).
 * Returns 0, DC_ECORRUPT, DC_EVERSION, DC_ETOOBIG, DC_EBADSIG, DC_EDENIED,
 * DC_ECONFLICT, DC_EIO, DC_ENOMEM, DC_EUSER (observer; data committed).
 */
DC_EXTERN int dc_bundle_import(dc_replica *r, const uint8_t *data, size_t size, dc_buf *report);

/* Import a bundle from a file. */
DC_EXTERN int dc_bundle_import_file(dc_replica *r, const char *path, dc_buf *report);

#ifdef __cplusplus
}
#endif
#endif
