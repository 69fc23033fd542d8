/*
 * model/registry_facts.h — what the three files of the driver registry
 * share, and nothing outside them includes: the CSV columns and the
 * reported facts, the registry space's keys and the sealed values, the
 * report members of a driver and their fold, and a driver record read for
 * an import.  registry.c implements these (and the value shown,
 * registry_int.h); registry_import.c is the CSV import; registry_find.c
 * the reads that print JSON (conflicts, find, driver id).
 */
#ifndef DC_MODEL_REGISTRY_FACTS_H
#define DC_MODEL_REGISTRY_FACTS_H

#include <sodium.h>

#include "base/base.h"
#include "model/org_int.h"
#include "model/read.h"

/* ---- the CSV columns and the reported facts ---- */

enum {
    C_NAME,
    C_ID,
    C_PHONE,
    C_HUKOU,
    C_PLATE,
    C_EMPLOYER,
    C_ROUTE,
    C_AREA,
    C_SCOPE,
    C_STATUS,
    NCOL
};

extern const char *const dc__reg_cols[NCOL];

/* The facts that are one value per person (registers of the driver), and so
 * can be in conflict between sources.  Plates, routes and business scope
 * are sets: two lines naming different plates both hold. */
enum { F_NAME, F_PHONE, F_HUKOU, F_EMPLOYER, F_AREA, F_STATUS, NFACT };

typedef struct dc__reg_fact {
    int col;         /* CSV column */
    const char *reg; /* register of the driver record */
} dc__reg_fact;

extern const dc__reg_fact dc__reg_facts[NFACT];

/* Names of the sources, levels and verification methods of a report, each
 * NULL-terminated (a source is 1 or 2: index 0 is NULL). */
extern const char *const dc__reg_sources[];
extern const char *const dc__reg_levels[];
extern const char *const dc__reg_methods[];

#define TYPE_DRIVER "driver"
#define F_REPORTS "reports"
#define FIELD_MAX 512  /* bytes of one CSV value */
#define BATCH_OPS 1000 /* ops per transaction during an import */
#define DID_LEN 24     /* "drv-" + 20 hex */
#define HASH_PREFIX 10 /* bytes of the lookup hash in the record id */
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

/* ---- small string lists ---- */

/* The model's list of owned strings (org_int.h: dc__strs_push,
 * dc__strs_free), with what the registry needs besides. */
typedef dc__strs strs;

/* Whether p is in the list (in any order: a linear search). */
bool dc__reg_strs_has(const strs *s, const char *p);
/* qsort comparison of two `char *`. */
int dc__reg_str_cmp(const void *a, const void *b);
/* Empties the list and keeps its memory. */
void dc__reg_strs_clear(strs *s);

/* ---- keys, hashes and sealed values ---- */

/* The three subkeys of the registry space, in one guarded block. */
typedef struct keys {
    uint8_t *mem; /* lookup[32] || seal[32] || nonce[32] */
} keys;

#define K_LOOKUP(k) ((k)->mem)
#define K_SEAL(k) ((k)->mem + 32)
#define K_NONCE(k) ((k)->mem + 64)

void dc__reg_keys_free(keys *k);
/* The first `n` keys (1: the lookup key only, or 3), derived from the
 * registry's root. */
int dc__reg_keys_derive_n(keys *k, dc_replica *r, const char *space, int n);
int dc__reg_keys_derive(keys *k, dc_replica *r, const char *space);
/* Normalises and checks an identity number into out[19]: NULL, or why it
 * is not one (never repeating the number). */
const char *dc__reg_id_normalise(char out[19], const char *s, size_t n);
void dc__reg_id_hash(uint8_t h[32], const keys *k, const char id[19]);
void dc__reg_driver_id(char did[DID_LEN + 1], const uint8_t h[32]);
/* Seals `plain` for field `what` of driver `did` into hex(nonce ||
 * ciphertext); opens one (DC_ECORRUPT when it does not open). */
int dc__reg_seal(dc_buf *out, const keys *k, const char *did, const char *what, const char *plain,
                 bool deterministic);
int dc__reg_unseal(dc_buf *out, const keys *k, const char *did, const char *what, const char *hex);

/* ---- reports and their fold ---- */

typedef struct report {
    int source;
    int64_t round;
    int level;         /* index into dc__reg_levels; 0: not given */
    int method;        /* index into dc__reg_methods; 0: list */
    char *fact[NFACT]; /* NULL when not reported */
} report;

/* The index of p[0..n) in the NULL-terminated `names`, or -1. */
int dc__reg_index_of(const char *const *names, const char *p, size_t n);
void dc__reg_report_dispose(report *p);
/* Parses a report member: 1, 0 for one this version cannot read, or
 * DC_ENOMEM. */
int dc__reg_report_parse(report *p, const char *s);
/* Parses the report members of a driver and `extra` (may be NULL); unknown
 * formats skipped. */
int dc__reg_reports_parse(report **out, size_t *nout, const strs *members, const char *extra);
void dc__reg_reports_free(report *rp, size_t n);

typedef struct entry {
    const char *value;
    int source;
    int64_t round;
} entry;

typedef struct fold {
    entry *e;
    size_t n, cap;
    bool conflict;
    const char *current; /* NULL: never reported */
} fold;

/* Folds the reports of fact f (registry.c says how). */
int dc__reg_fold_fact(fold *fo, const report *rp, size_t nr, int f);
void dc__reg_fold_dispose(fold *fo);
/* How many distinct values e[0..n) holds. */
size_t dc__reg_distinct(const entry *e, size_t n);
/* The fact a register of the driver record holds, or -1. */
int dc__reg_fact_of_reg(const char *field);

/* ---- one driver record, read for an import ---- */

typedef struct snap {
    bool exists;
    bool has_hash, has_sealed_id;
    char *reg[NFACT]; /* current register values, NULL when absent */
    strs plates, routes, scope, reports;
} snap;

/* Reads driver `did`; a missing record leaves s->exists false. */
int dc__reg_snap_read(snap *s, dc_replica *r, const char *space, const char *did);
void dc__reg_snap_dispose(snap *s);

/* ---- following a driver from space to space ----
 * One step of a walk along the `moved` entries: dc__reg_hop_driver (on
 * the space's `driver` record) notes that he is kept there, and
 * dc__reg_hop_moved (on its `moved` entry) the space he moved to. */

typedef struct hop {
    bool kept, moved;
    char space[33];
} hop;

int dc__reg_hop_driver(void *user, const dc_record *rec);
int dc__reg_hop_moved(void *user, const dc_record *rec);

#endif
