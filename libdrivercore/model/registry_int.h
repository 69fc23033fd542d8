/*
 * model/registry_int.h — what the rest of the model needs from the registry
 * (registry.c, regspace.c): the value shown for a reported fact of a driver
 * (a pure function of his reports, docs/domain.md "The value shown"), the
 * `registry`/`part` record that says what a registry space is, the root its
 * keys come from, and the set of registry spaces a call given a root reads
 * (the province's union of its parts).  Nothing here touches SQL.
 */
#ifndef DC_MODEL_REGISTRY_INT_H
#define DC_MODEL_REGISTRY_INT_H

#include "model/read.h"

/* ---- the value shown ---- */

/*
 * The value shown for register `field` of a `driver` record: for the six
 * reported facts (name, phone_sealed, hukou_region, employer,
 * activity_area, status) the fold of the record's reports when any report
 * carries the fact, else the register; for any other field the register.
 * Writes the value NUL-terminated into `out` (a phone stays sealed, as in
 * the reports).  Returns 1 (a string value), 0 (none: absent, null or not
 * a string) or DC_ENOMEM.  `extra` (may be NULL) adds the reports of other
 * copies of the same driver (a driver kept twice); `extra_n` of them.
 */
int dc__registry_shown(const dc_record *rec, const char *field, dc_buf *out,
                       const char *const *extra, size_t extra_n);
/* The same for n fields at once (at most 8), each report read once: outs[i]
 * and has[i] (1 or 0) for fields[i].  0 or DC_ENOMEM. */
int dc__registry_shown_n(const dc_record *rec, const char *const *fields, size_t n, dc_buf *outs,
                         int *has, const char *const *extra, size_t extra_n);

/* ---- what a registry space is ---- */

typedef struct dc__regpart {
    bool has;        /* the space holds a `registry`/`part` record */
    char root[33];   /* hex id of the root (the space itself for a root) */
    char level[16];  /* "province", "county", "branch" ("" when absent) */
    char region[16]; /* county code of a part, province code of a root */
    char branch[96]; /* org id of a branch registry, "" otherwise */
} dc__regpart;

/* Reads the `registry`/`part` record of `space`; p->has is false when the
 * space has none (a root of the layout before parts, or no registry at
 * all).  Returns 0 or the replica's error. */
int dc__registry_part(dc_replica *r, const char *space, dc__regpart *p);

/* The root of `space`: the root its part record names, or the space
 * itself.  root[33]. */
int dc__registry_root(dc_replica *r, const char *space, char root[33]);

/* A key derived from the root of `space` (dc_space_derive_key of the root);
 * DC_ENOKEY with a message naming the root when this device does not hold
 * it. */
int dc__registry_subkey(dc_replica *r, const char *space, const char *context, uint8_t out[32]);
/* The same with the root already known (`root` of `space`). */
int dc__registry_root_subkey(dc_replica *r, const char *space, const char *root,
                             const char *context, uint8_t out[32]);

/* The spaces a registry call given `space` reads: the space itself, and
 * when it is a root every held space whose part record names it as root
 * (in space id order, `space` first).  `out` receives n hex ids of 33
 * bytes each (free with dc__free). */
int dc__registry_scope(dc_replica *r, const char *space, char (**out)[33], size_t *n);

/* 1 when `space` forwards `driver` elsewhere (a `moved` entry), 0 if not,
 * or an error. */
int dc__registry_left_behind(dc_replica *r, const char *space, const char *driver);

/* Whether a driver record was emptied by a move (its `id_hash` is no
 * longer a string).  A copy is "left behind" when its space forwards him
 * and it was emptied: then it is not where he is kept (docs/domain.md,
 * "Registry spaces"); a copy a concurrent move filled again is kept. */
bool dc__registry_emptied(const dc_record *rec);

/* ---- reports left behind by moves ----
 * A report imported into a part concurrently with a move stays in the copy
 * left behind there (docs/domain.md, "Moves").  The value shown is the fold
 * of all of a driver's reports, so readers that walk where he is kept add
 * these.  They are few (one per such race), found through the `moved`
 * entries of the spaces read. */
typedef struct dc__regextra {
    char (*did)[25];
    char ***rep; /* NULL-terminated lists of report members, per driver */
    size_t *nrep;
    size_t n, cap;
} dc__regextra;

/* Loads the reports left behind in the `n` spaces given. */
int dc__registry_extras_load(dc_replica *r, char (*spaces)[33], size_t n, dc__regextra *x);
/* The reports left behind of driver `did` (NULL and *n 0 when none). */
const char *const *dc__registry_extras_of(const dc__regextra *x, const char *did, size_t *n);
void dc__registry_extras_free(dc__regextra *x);

/* ---- the county of a region code ---- */

/* Copies the 6-digit county code of a region code (the first 6 digits of
 * a 9- or 12-digit code, or a 6-digit code of the county level) into
 * out[7]; false when the code names no county (a province or city code,
 * or not a code). */
bool dc__county_of(const char *code, size_t n, char out[7]);

#endif
