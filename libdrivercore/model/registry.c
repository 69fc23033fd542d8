/*
 * model/registry.c — the driver registry (台账): lists of drivers from the
 * organisation line and the transport line, imported round by round into
 * one `driver` record per person of the registry space.  A person is keyed
 * by a keyed hash of the identity number, so the same person from any
 * source or round lands on the same record without the number ever being
 * stored in clear; identity and phone numbers are sealed with a key only
 * members of the registry space can derive (docs/domain.md, "Sensitive
 * values").  Every row read is kept as a "report" in a set of its driver,
 * and whether the sources disagree is computed from those reports when
 * asked: a flag written at import time could not converge, because two
 * secretaries importing different lines offline each see no disagreement,
 * while the union of their reports does (docs/domain.md, "The registry").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/base.h"
#include "crypto/crypto.h"
#include "drivercore/record.h"
#include "drivercore/registry.h"
#include "drivercore/txn.h"
#include "model/org_int.h"
#include "model/registry_int.h"
#include "replica/records.h"

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

static const char *const COLS[NCOL] = {
    "name",     "id_number", "phone",         "hukou_region",   "plate",
    "employer", "route",     "activity_area", "business_scope", "political_status"};

/* The facts that are one value per person (registers of the driver), and so
 * can be in conflict between sources.  Plates, routes and business scope
 * are sets: two lines naming different plates both hold. */
enum { F_NAME, F_PHONE, F_HUKOU, F_EMPLOYER, F_AREA, F_STATUS, NFACT };

static const struct {
    int col;         /* CSV column */
    const char *reg; /* register of the driver record */
} FACTS[NFACT] = {
    {C_NAME, "name"},         {C_PHONE, "phone_sealed"}, {C_HUKOU, "hukou_region"},
    {C_EMPLOYER, "employer"}, {C_AREA, "activity_area"}, {C_STATUS, "status"},
};

static const char *const SOURCES[] = {NULL, "organisation", "transport", NULL};

#define TYPE_DRIVER "driver"
#define F_REPORTS "reports"
#define FIELD_MAX 512  /* bytes of one CSV value */
#define BATCH_OPS 1000 /* ops per transaction during an import */
#define DID_LEN 24     /* "drv-" + 20 hex */
#define HASH_PREFIX 10 /* bytes of the lookup hash in the record id */
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

/* ---- small string lists ---- */

typedef struct strs {
    char **v;
    size_t n, cap;
} strs;

static int strs_push(strs *s, const char *p, size_t n) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        char **v = dc__realloc(s->v, nc * sizeof *v);
        if (!v)
            return DC_ENOMEM;
        s->v = v;
        s->cap = nc;
    }
    if (!(s->v[s->n] = dc__strndup(p, n)))
        return DC_ENOMEM;
    s->n++;
    return 0;
}

static bool strs_has(const strs *s, const char *p) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], p) == 0)
            return true;
    return false;
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void strs_clear(strs *s) {
    for (size_t i = 0; i < s->n; i++)
        dc__free(s->v[i]);
    s->n = 0;
}

static void strs_dispose(strs *s) {
    strs_clear(s);
    dc__free(s->v);
    s->v = NULL;
    s->cap = 0;
}

/* ---- keys, hashes and sealed values ---- */

/* The three subkeys of the registry space, in one guarded block. */
typedef struct keys {
    uint8_t *mem; /* lookup[32] || seal[32] || nonce[32] */
} keys;

#define K_LOOKUP(k) ((k)->mem)
#define K_SEAL(k) ((k)->mem + 32)
#define K_NONCE(k) ((k)->mem + 64)

static void keys_free(keys *k) {
    dc__secret_free(k->mem);
    k->mem = NULL;
}

/* The keys come from the registry's root (docs/domain.md, "Registry
 * spaces"): every part of one province derives the same ones, so a person
 * has one id and his sealed values open wherever he is kept.  `n` is how
 * many are needed: 1 (the lookup key only, for a driver id) or 3. */
static int keys_derive_n(keys *k, dc_replica *r, const char *space, int n) {
    static const char *const CTX[3] = {"drivercore lookup v1", "drivercore seal v1",
                                       "drivercore seal nonce v1"};
    char root[33];
    int rc0 = dc__registry_root(r, space, root);
    if (rc0)
        return rc0;
    if (!(k->mem = dc__secret_alloc(96)))
        return dc__model_fail(r, DC_ENOMEM, "registry: out of memory for the space keys");
    for (int i = 0; i < n; i++) {
        int rc = dc__registry_root_subkey(r, space, root, CTX[i], k->mem + 32 * i);
        if (rc) {
            keys_free(k);
            return rc;
        }
    }
    return 0;
}

static int keys_derive(keys *k, dc_replica *r, const char *space) {
    return keys_derive_n(k, r, space, 3);
}

/* Normalises an identity number (ASCII spaces removed, 'x' upper-cased)
 * into out[19] and checks it: 17 digits and a check character by GB 11643
 * (ISO 7064 MOD 11-2).  Returns NULL or why it is not one; the message
 * never repeats the number, which must not reach a log. */
static const char *id_normalise(char out[19], const char *s, size_t n) {
    static const int W[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char CHECK[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t')
            continue;
        if (k == 18)
            return "id_number is longer than 18 characters";
        out[k++] = c == 'x' ? 'X' : c;
    }
    out[k] = 0;
    if (k != 18)
        return "id_number must be 18 characters (17 digits, then a digit or X)";
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (out[i] < '0' || out[i] > '9')
            return "id_number must be 18 characters (17 digits, then a digit or X)";
        sum += (out[i] - '0') * W[i];
    }
    if (!((out[17] >= '0' && out[17] <= '9') || out[17] == 'X'))
        return "id_number must be 18 characters (17 digits, then a digit or X)";
    if (out[17] != CHECK[sum % 11])
        return "id_number fails its check digit (GB 11643): mistyped?";
    return NULL;
}

/* The keyed lookup hash of a normalised identity number. */
static void id_hash(uint8_t h[32], const keys *k, const char id[19]) {
    crypto_generichash(h, 32, (const uint8_t *)id, 18, K_LOOKUP(k), 32);
}

static void driver_id(char did[DID_LEN + 1], const uint8_t h[32]) {
    memcpy(did, "drv-", 4);
    dc__hex(did + 4, h, HASH_PREFIX);
}

/* Seals `plain` for the field `what` of driver `did` into hex(nonce ||
 * ciphertext).  The associated data binds the value to its place, so a
 * sealed phone cannot be passed off as another driver's or as an identity
 * number.  With `deterministic` the nonce is a keyed hash of place and
 * value: equal values then seal equally, which the reports need to compare
 * phones without opening them (and which reveals only that equality). */
static int seal(dc_buf *out, const keys *k, const char *did, const char *what, const char *plain,
                bool deterministic) {
    char ad[64];
    int adn = snprintf(ad, sizeof ad, "%s/%s", did, what);
    size_t pn = strlen(plain);
    uint8_t nonce[NONCE_LEN];
    if (deterministic) {
        crypto_generichash_state st;
        crypto_generichash_init(&st, K_NONCE(k), 32, NONCE_LEN);
        crypto_generichash_update(&st, (const uint8_t *)ad, (size_t)adn + 1);
        crypto_generichash_update(&st, (const uint8_t *)plain, pn);
        crypto_generichash_final(&st, nonce, NONCE_LEN);
    } else {
        dc__random(nonce, NONCE_LEN);
    }
    size_t cn = NONCE_LEN + pn + TAG_LEN;
    uint8_t *c = dc__malloc(cn);
    if (!c)
        return DC_ENOMEM;
    memcpy(c, nonce, NONCE_LEN);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(c + NONCE_LEN, &clen, (const uint8_t *)plain, pn,
                                               (const uint8_t *)ad, (size_t)adn, NULL, nonce,
                                               K_SEAL(k));
    dc__buf_clear(out);
    int rc = dc__buf_reserve(out, 2 * cn);
    if (!rc) {
        dc__hex((char *)out->ptr, c, cn);
        out->size = 2 * cn;
    }
    dc__free(c);
    return rc;
}

/* Opens a sealed value into out (NUL-terminated); DC_ECORRUPT when it does
 * not open under this key and place. */
static int unseal(dc_buf *out, const keys *k, const char *did, const char *what, const char *hex) {
    char ad[64];
    int adn = snprintf(ad, sizeof ad, "%s/%s", did, what);
    size_t hn = strlen(hex);
    if (hn % 2 || hn / 2 < NONCE_LEN + TAG_LEN || hn / 2 > 4096)
        return DC_ECORRUPT;
    size_t cn = hn / 2;
    uint8_t c[4096];
    if (dc__unhex(c, cn, hex))
        return DC_ECORRUPT;
    dc__buf_clear(out);
    if (dc__buf_reserve(out, cn))
        return DC_ENOMEM;
    unsigned long long mlen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out->ptr, &mlen, NULL, c + NONCE_LEN,
                                                   cn - NONCE_LEN, (const uint8_t *)ad, (size_t)adn,
                                                   c, K_SEAL(k)) != 0)
        return DC_ECORRUPT;
    out->size = (size_t)mlen;
    out->ptr[mlen] = 0;
    return 0;
}

/* ---- reports: one row as read, kept in the driver's `reports` set ----
 *
 * Format 1: "1\t<source>\t<round>\t<name>\t<phone sealed>\t<hukou>\t<employer>\t<area>\t<status>"
 * Format 2: "2\t<source>\t<round>\t<level>\t<method>\t<name>\t...\t<status>", for rows
 * imported with a verification level or a method other than "list"; a row
 * with neither is written in format 1, so a list imported before and after
 * levels existed is the same member.  Values never hold a tab (control
 * characters are refused on import); an empty value means "not reported".
 * The phone is sealed deterministically so that the same row imported twice
 * is the same member. */

static const char *const LEVELS[] = {"",         "province", "city",   "county",
                                     "township", "village",  "branch", NULL};
static const char *const METHODS[] = {"list", "visit", "phone", NULL};

typedef struct report {
    int source;
    int64_t round;
    int level;         /* index into LEVELS; 0: not given */
    int method;        /* index into METHODS; 0: list */
    char *fact[NFACT]; /* NULL when not reported */
} report;

static void report_dispose(report *p) {
    for (int f = 0; f < NFACT; f++)
        dc__free(p->fact[f]);
    memset(p, 0, sizeof *p);
}

/* The parts of one report member, checked: 1 when readable (then fact f
 * is fact[f] of flen[f] bytes), 0 for a member this version cannot read (a
 * newer format written by a later version is skipped, never guessed). */
typedef struct rspan {
    int source, level, method;
    int64_t round;
    const char *fact[NFACT];
    size_t flen[NFACT];
} rspan;

static int index_of(const char *const *names, const char *p, size_t n) {
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], p, n) == 0)
            return i;
    return -1;
}

static int report_span(rspan *sp, const char *s) {
    const char *part[5 + NFACT];
    size_t len[5 + NFACT];
    int n = 0;
    const char *q = s;
    for (;;) {
        const char *t = strchr(q, '\t');
        size_t l = t ? (size_t)(t - q) : strlen(q);
        if (n == 5 + NFACT)
            return 0;
        part[n] = q;
        len[n++] = l;
        if (!t)
            break;
        q = t + 1;
    }
    if (len[0] != 1 || (part[0][0] != '1' && part[0][0] != '2'))
        return 0;
    int head = part[0][0] == '1' ? 3 : 5;
    if (n != head + NFACT)
        return 0;
    if ((sp->source = index_of(SOURCES + 1, part[1], len[1]) + 1) < 1)
        return 0;
    char num[24];
    if (len[2] == 0 || len[2] >= sizeof num)
        return 0;
    memcpy(num, part[2], len[2]);
    num[len[2]] = 0;
    char *end;
    long long round = strtoll(num, &end, 10);
    if (*end || round < 1)
        return 0;
    sp->round = round;
    sp->level = sp->method = 0;
    if (head == 5 && ((sp->level = index_of(LEVELS, part[3], len[3])) < 0 ||
                      (sp->method = index_of(METHODS, part[4], len[4])) < 0))
        return 0;
    for (int f = 0; f < NFACT; f++) {
        sp->fact[f] = part[head + f];
        sp->flen[f] = len[head + f];
    }
    return 1;
}

/* Parses a report member: 1, 0 for one this version cannot read, or
 * DC_ENOMEM. */
static int report_parse(report *p, const char *s) {
    memset(p, 0, sizeof *p);
    rspan sp;
    if (!report_span(&sp, s))
        return 0;
    p->source = sp.source;
    p->round = sp.round;
    p->level = sp.level;
    p->method = sp.method;
    for (int f = 0; f < NFACT; f++) {
        if (sp.flen[f] == 0)
            continue;
        if (!(p->fact[f] = dc__strndup(sp.fact[f], sp.flen[f]))) {
            report_dispose(p);
            return DC_ENOMEM;
        }
    }
    return 1;
}

/* ---- folding the reports of one fact ----
 *
 * Rounds are taken in ascending order.  Each source's report replaces that
 * source's earlier one (a line correcting itself); the fact is in conflict
 * while the current reports hold more than one value.  A round whose
 * reports all give one value that is among the values in conflict settles
 * the conflict (a re-verification agreeing with one side).  The fold is a
 * function of the set of reports alone, so every replica holding the same
 * reports computes the same value and the same conflicts. */

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

static void fold_dispose(fold *fo) {
    dc__free(fo->e);
    memset(fo, 0, sizeof *fo);
}

static size_t distinct(const entry *e, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && strcmp(e[j].value, e[i].value) != 0)
            j++;
        d += j == i;
    }
    return d;
}

static int entry_cmp(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->round != y->round)
        return x->round < y->round ? -1 : 1;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    return strcmp(x->value, y->value);
}

static int fold_fact(fold *fo, const report *rp, size_t nr, int f) {
    memset(fo, 0, sizeof *fo);
    if (nr == 0)
        return 0;
    entry *m = dc__calloc(nr, sizeof *m);
    fo->cap = 2 * nr;
    fo->e = dc__calloc(fo->cap, sizeof *fo->e);
    if (!m || !fo->e) {
        dc__free(m);
        fold_dispose(fo);
        return DC_ENOMEM;
    }
    int64_t last = 0;
    for (;;) {
        /* The next round above `last` with a report of this fact. */
        int64_t round = 0;
        for (size_t i = 0; i < nr; i++)
            if (rp[i].fact[f] && rp[i].round > last && (round == 0 || rp[i].round < round))
                round = rp[i].round;
        if (round == 0)
            break;
        last = round;
        size_t nm = 0;
        for (size_t i = 0; i < nr; i++) {
            if (!rp[i].fact[f] || rp[i].round != round)
                continue;
            entry x = {rp[i].fact[f], rp[i].source, round};
            size_t j = 0;
            while (j < nm && entry_cmp(&m[j], &x) != 0)
                j++;
            if (j == nm)
                m[nm++] = x;
        }
        bool conflict = distinct(fo->e, fo->n) > 1;
        bool settles = false;
        if (conflict && distinct(m, nm) == 1)
            for (size_t i = 0; i < fo->n && !settles; i++)
                settles = strcmp(fo->e[i].value, m[0].value) == 0;
        if (settles) {
            fo->n = 0;
        } else {
            /* Drop the earlier reports of the sources reporting now. */
            size_t k = 0;
            for (size_t i = 0; i < fo->n; i++) {
                bool replaced = false;
                for (size_t j = 0; j < nm && !replaced; j++)
                    replaced = m[j].source == fo->e[i].source;
                if (!replaced)
                    fo->e[k++] = fo->e[i];
            }
            fo->n = k;
        }
        for (size_t j = 0; j < nm; j++)
            fo->e[fo->n++] = m[j]; /* each report enters once: n <= nr < cap */
    }
    dc__free(m);
    qsort(fo->e, fo->n, sizeof *fo->e, entry_cmp);
    fo->conflict = distinct(fo->e, fo->n) > 1;
    /* The value shown: the first entry of the latest round (organisation
     * line first, then the bytewise smallest).  In conflict any fixed
     * choice converges; out of conflict all entries agree. */
    if (fo->n) {
        size_t i = fo->n - 1;
        while (i > 0 && fo->e[i - 1].round == fo->e[fo->n - 1].round)
            i--;
        fo->current = fo->e[i].value;
    }
    return 0;
}

/* ---- reading one driver record ---- */

typedef struct snap {
    bool exists;
    bool has_hash, has_sealed_id;
    char *reg[NFACT]; /* current register values, NULL when absent */
    strs plates, routes, scope, reports;
} snap;

static void snap_clear(snap *s) {
    s->exists = s->has_hash = s->has_sealed_id = false;
    for (int f = 0; f < NFACT; f++) {
        dc__free(s->reg[f]);
        s->reg[f] = NULL;
    }
    strs_clear(&s->plates);
    strs_clear(&s->routes);
    strs_clear(&s->scope);
    strs_clear(&s->reports);
}

static void snap_dispose(snap *s) {
    snap_clear(s);
    strs_dispose(&s->plates);
    strs_dispose(&s->routes);
    strs_dispose(&s->scope);
    strs_dispose(&s->reports);
}

/* ---- reading one driver for an import ----
 * Typed, through dc__records_each (one indexed lookup): the registers of
 * the facts, whether the id is hashed and sealed yet, and the string
 * members of his sets. */

static strs *snap_set(snap *s, const char *name) {
    return strcmp(name, "plates") == 0           ? &s->plates
           : strcmp(name, "routes") == 0         ? &s->routes
           : strcmp(name, "business_scope") == 0 ? &s->scope
           : strcmp(name, F_REPORTS) == 0        ? &s->reports
                                                 : NULL;
}

static int snap_cb(void *user, const dc__rec *rec) {
    snap *s = user;
    s->exists = true;
    for (size_t i = 0; i < rec->nf; i++) {
        const dc__rfield *f = &rec->f[i];
        if (f->v.kind != DC_STR)
            continue;
        if (f->member) {
            strs *set = snap_set(s, f->name);
            if (set && strs_push(set, f->v.str, f->v.len))
                return DC_ENOMEM;
        } else if (strcmp(f->name, "id_hash") == 0) {
            s->has_hash = true;
        } else if (strcmp(f->name, "id_sealed") == 0) {
            s->has_sealed_id = true;
        } else {
            for (int k = 0; k < NFACT; k++)
                if (!s->reg[k] && strcmp(f->name, FACTS[k].reg) == 0 &&
                    !(s->reg[k] = dc__strndup(f->v.str, f->v.len)))
                    return DC_ENOMEM;
        }
    }
    return 0;
}

/* Reads driver `did`; a missing record leaves s->exists false. */
static int snap_read(snap *s, dc_replica *r, const char *space, const char *did) {
    snap_clear(s);
    int rc = dc__records_each_fields(r, space, TYPE_DRIVER, did, snap_cb, s);
    if (rc == DC_ENOMEM)
        return dc__model_fail(r, rc, "registry: out of memory reading driver %s", did);
    return rc;
}

static void reports_free(report *rp, size_t n) {
    for (size_t i = 0; i < n; i++)
        report_dispose(&rp[i]);
    dc__free(rp);
}

/* Parses the report members of a driver (unknown formats skipped). */
static int reports_parse(report **out, size_t *nout, const strs *members, const char *extra) {
    size_t cap = members->n + 1, n = 0;
    report *rp = dc__calloc(cap, sizeof *rp);
    if (!rp)
        return DC_ENOMEM;
    for (size_t i = 0; i <= members->n; i++) {
        const char *s = i < members->n ? members->v[i] : extra;
        int rc = s ? report_parse(&rp[n], s) : 0;
        if (rc < 0) {
            reports_free(rp, n);
            return rc;
        }
        n += rc == 1;
    }
    *out = rp;
    *nout = n;
    return 0;
}

/* ---- the value shown (docs/domain.md, "The value shown") ---- */

static int fact_of_reg(const char *field) {
    for (int f = 0; f < NFACT; f++)
        if (strcmp(FACTS[f].reg, field) == 0)
            return f;
    return -1;
}

/* Calls fn on every report member of rec, then on extra[]. */
typedef struct rep_iter {
    const dc__rec *rec;
    const char *const *extra;
    size_t extra_n, i, j;
} rep_iter;

static const char *rep_next(rep_iter *it) {
    while (it->i < it->rec->nf) {
        const dc__rfield *f = &it->rec->f[it->i++];
        if (f->member && f->v.kind == DC_STR && strcmp(f->name, F_REPORTS) == 0)
            return f->v.str;
    }
    return it->j < it->extra_n ? it->extra[it->j++] : NULL;
}

/* The value shown of fact f when its reports disagree: the full fold. */
static int shown_fold(const dc__rec *rec, int f, dc_buf *out, const char *const *extra,
                      size_t extra_n) {
    strs all = {NULL, 0, 0};
    rep_iter it = {rec, extra, extra_n, 0, 0};
    const char *s;
    int rc = 0;
    while (!rc && (s = rep_next(&it)) != NULL)
        rc = strs_push(&all, s, strlen(s));
    report *rp = NULL;
    size_t nr = 0;
    fold fo = {0};
    if (!rc)
        rc = reports_parse(&rp, &nr, &all, NULL);
    if (!rc)
        rc = fold_fact(&fo, rp, nr, f);
    if (!rc && fo.current)
        rc = dc__buf_puts(out, fo.current) ? DC_ENOMEM : 1;
    fold_dispose(&fo);
    reports_free(rp, nr);
    strs_dispose(&all);
    return rc;
}

int dc__registry_shown_n(const dc__rec *rec, const char *const *fields, size_t n, dc_buf *outs,
                         int *has, const char *const *extra, size_t extra_n) {
    enum { MAXN = 8 };
    int f[MAXN];
    const char *one[MAXN];
    size_t onen[MAXN];
    bool differ[MAXN], any = false;
    if (n > MAXN)
        return DC_EINVAL;
    for (size_t i = 0; i < n; i++) {
        dc__buf_clear(&outs[i]);
        has[i] = 0;
        f[i] = fact_of_reg(fields[i]);
        one[i] = NULL;
        onen[i] = 0;
        differ[i] = false;
        any |= f[i] >= 0;
    }
    /* The fold's value.  Almost always the reports agree: then it is their
     * one value, found without building the fold, every report read once
     * for all the fields asked. */
    rep_iter it = {rec, extra, extra_n, 0, 0};
    const char *s;
    while (any && (s = rep_next(&it)) != NULL) {
        rspan sp;
        if (!report_span(&sp, s))
            continue;
        for (size_t i = 0; i < n; i++) {
            if (f[i] < 0 || differ[i] || sp.flen[f[i]] == 0)
                continue;
            if (!one[i]) {
                one[i] = sp.fact[f[i]];
                onen[i] = sp.flen[f[i]];
            } else if (onen[i] != sp.flen[f[i]] || memcmp(one[i], sp.fact[f[i]], onen[i]) != 0) {
                differ[i] = true;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (differ[i]) {
            rc = shown_fold(rec, f[i], &outs[i], extra, extra_n);
        } else if (one[i]) {
            rc = dc__buf_put(&outs[i], one[i], onen[i]) ? DC_ENOMEM : 1;
        } else {
            const dc__value *v = dc__rec_value(rec, fields[i]);
            rc = !v || v->kind != DC_STR                 ? 0
                 : dc__buf_put(&outs[i], v->str, v->len) ? DC_ENOMEM
                                                         : 1;
        }
        if (rc < 0)
            return rc;
        has[i] = rc;
    }
    return 0;
}

int dc__registry_shown(const dc__rec *rec, const char *field, dc_buf *out, const char *const *extra,
                       size_t extra_n) {
    int has = 0;
    int rc = dc__registry_shown_n(rec, &field, 1, out, &has, extra, extra_n);
    return rc ? rc : has;
}

/* ---- a set of driver ids seen during one import ---- */

typedef struct idslot {
    uint8_t key[HASH_PREFIX];
    uint8_t used, flagged;
    uint32_t batch; /* the batch that last wrote this driver, +1 */
} idslot;

typedef struct idset {
    idslot *s;
    size_t n, cap; /* cap: a power of two */
} idset;

static idslot *idset_get(idset *set, const uint8_t key[HASH_PREFIX]) {
    if (2 * (set->n + 1) > set->cap) {
        size_t nc = set->cap ? set->cap * 2 : 1024;
        idslot *ns = dc__calloc(nc, sizeof *ns);
        if (!ns)
            return NULL;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->s[i].used)
                continue;
            size_t j = dc__load_be32(set->s[i].key) & (nc - 1);
            while (ns[j].used)
                j = (j + 1) & (nc - 1);
            ns[j] = set->s[i];
        }
        dc__free(set->s);
        set->s = ns;
        set->cap = nc;
    }
    /* The key is a slice of a keyed hash: already uniformly spread. */
    size_t j = dc__load_be32(key) & (set->cap - 1);
    while (set->s[j].used && memcmp(set->s[j].key, key, HASH_PREFIX) != 0)
        j = (j + 1) & (set->cap - 1);
    if (!set->s[j].used) {
        set->s[j].used = 1;
        memcpy(set->s[j].key, key, HASH_PREFIX);
        set->n++;
    }
    return &set->s[j];
}

/* ---- CSV (RFC 4180) ---- */

typedef struct csv {
    const char *p, *end;
    long line; /* the physical line p is on, from 1 */
} csv;

#define MAXF 32

typedef struct row {
    long line;   /* first physical line of the record */
    int n;       /* fields found (may exceed MAXF) */
    dc_buf text; /* field bytes, each followed by a NUL */
    size_t off[MAXF], len[MAXF];
    bool quoted_first; /* the first field was quoted */
    const char *error; /* a framing error, or NULL */
} row;

static int row_end_field(row *w, size_t start) {
    if (w->n < MAXF) {
        w->off[w->n] = start;
        w->len[w->n] = w->text.size - start;
    }
    w->n++;
    return dc__buf_putc(&w->text, 0);
}

/* Reads the next record; returns 1, 0 at the end, or DC_ENOMEM. */
static int csv_next(csv *c, row *w) {
    if (c->p >= c->end)
        return 0;
    w->line = c->line;
    w->n = 0;
    w->error = NULL;
    w->quoted_first = false;
    dc__buf_clear(&w->text);
    for (;;) {
        size_t start = w->text.size;
        if (c->p < c->end && *c->p == '"') {
            if (w->n == 0)
                w->quoted_first = true;
            c->p++;
            for (;;) {
                if (c->p >= c->end) {
                    w->error = "a quoted field is not closed (it runs to the end of the file)";
                    break;
                }
                char ch = *c->p++;
                if (ch == '"') {
                    if (c->p < c->end && *c->p == '"') {
                        c->p++;
                    } else {
                        break;
                    }
                } else if (ch == '\n') {
                    c->line++;
                }
                if (dc__buf_putc(&w->text, ch))
                    return DC_ENOMEM;
            }
            if (!w->error && c->p < c->end && *c->p != ',' && *c->p != '\r' && *c->p != '\n') {
                /* Text after a closing quote: the record's framing is lost, so
                 * skip to the end of this physical line. */
                w->error = "a quoted field is followed by text before the next comma "
                           "(write a quote inside quotes as \"\")";
                while (c->p < c->end && *c->p != '\n')
                    c->p++;
            }
        } else {
            const char *q = c->p;
            while (q < c->end && *q != ',' && *q != '\r' && *q != '\n')
                q++;
            if (dc__buf_put(&w->text, c->p, (size_t)(q - c->p)))
                return DC_ENOMEM;
            c->p = q;
        }
        if (row_end_field(w, start))
            return DC_ENOMEM;
        if (c->p >= c->end)
            return 1;
        char ch = *c->p++;
        if (ch == ',')
            continue;
        if (ch == '\r' && c->p < c->end && *c->p == '\n')
            c->p++;
        c->line++;
        return 1;
    }
}

/* Trims ASCII blanks and U+3000 (ideographic space) around a value. */
static void trim(const char **p, size_t *n) {
    const char *s = *p;
    size_t l = *n;
    for (;;) {
        if (l && (s[0] == ' ' || s[0] == '\t')) {
            s++, l--;
        } else if (l >= 3 && memcmp(s, "\xe3\x80\x80", 3) == 0) {
            s += 3, l -= 3;
        } else if (l && (s[l - 1] == ' ' || s[l - 1] == '\t')) {
            l--;
        } else if (l >= 3 && memcmp(s + l - 3, "\xe3\x80\x80", 3) == 0) {
            l -= 3;
        } else {
            break;
        }
    }
    *p = s;
    *n = l;
}

static void row_field(const row *w, int i, const char **p, size_t *n) {
    *p = (const char *)w->text.ptr + w->off[i];
    *n = w->len[i];
    trim(p, n);
}

static bool is_blank(const row *w) {
    if (w->n != 1 || w->quoted_first || w->error)
        return false;
    const char *p;
    size_t n;
    row_field(w, 0, &p, &n);
    return n == 0;
}

/* ---- validating and normalising one row ---- */

typedef struct good {
    char id[19];
    char phone[12];        /* "" when not given */
    const char *status;    /* code, or NULL when not given */
    const char *val[NCOL]; /* trimmed values (not NUL-terminated) */
    size_t len[NCOL];
    strs plates, routes, scope; /* normalised members */
} good;

static const struct {
    const char *code;
    const char *alias[4];
} STATUSES[] = {
    {"masses", {"群众", NULL}},
    {"applicant", {"入党申请人", NULL}},
    {"activist", {"积极分子", "入党积极分子", NULL}},
    {"candidate", {"发展对象", NULL}},
    {"probationary", {"预备党员", "中共预备党员", NULL}},
    {"member", {"正式党员", "中共党员", "党员", NULL}},
};

static bool eq_ci(const char *p, size_t n, const char *s) {
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = p[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != s[i])
            return false;
    }
    return true;
}

static const char *status_code(const char *p, size_t n) {
    for (size_t i = 0; i < sizeof STATUSES / sizeof STATUSES[0]; i++) {
        if (eq_ci(p, n, STATUSES[i].code))
            return STATUSES[i].code;
        for (int j = 0; STATUSES[i].alias[j]; j++)
            if (eq_ci(p, n, STATUSES[i].alias[j]))
                return STATUSES[i].code;
    }
    return NULL;
}

static const struct {
    const char *code;
    const char *alias[4];
} SCOPES[] = {
    {"cold_chain", {"冷链", "冷链运输", NULL}},
    {"construction_waste", {"渣土", "建筑垃圾", "渣土运输", NULL}},
    {"general_cargo", {"普货", "普通货物", "普通货运", NULL}},
    {"hazardous", {"危货", "危险货物", "危险品", NULL}},
};

typedef enum { L_PLAIN, L_PLATE, L_SCOPE } list_kind;

/* Splits a list on ';' or '；' (U+FF1B) into normalised, distinct members:
 * plates upper-cased without blanks, business scopes mapped to their codes
 * (an unknown scope is kept as written: the list of scopes is open). */
static int split_list(strs *out, const char *p, size_t n, list_kind kind) {
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != ';' && !(n - j >= 3 && memcmp(p + j, "\xef\xbc\x9b", 3) == 0))
            j++;
        const char *t = p + i;
        size_t tl = j - i;
        trim(&t, &tl);
        char tmp[FIELD_MAX + 1];
        size_t k = 0;
        for (size_t x = 0; x < tl; x++) {
            char ch = t[x];
            if (kind == L_PLATE) {
                if (ch == ' ' || ch == '\t')
                    continue;
                if (ch >= 'a' && ch <= 'z')
                    ch = (char)(ch - 'a' + 'A');
            }
            tmp[k++] = ch;
        }
        tmp[k] = 0;
        const char *v = tmp;
        if (kind == L_SCOPE)
            for (size_t s = 0; s < sizeof SCOPES / sizeof SCOPES[0]; s++) {
                if (eq_ci(tmp, k, SCOPES[s].code))
                    v = SCOPES[s].code;
                for (int a = 0; SCOPES[s].alias[a]; a++)
                    if (eq_ci(tmp, k, SCOPES[s].alias[a]))
                        v = SCOPES[s].code;
            }
        if (*v && !strs_has(out, v) && strs_push(out, v, strlen(v)))
            return DC_ENOMEM;
        if (j >= n)
            break;
        i = j + (p[j] == ';' ? 1 : 3);
    }
    return 0;
}

static const char OUT_OF_MEMORY[] = "out of memory";

/* Checks one record; returns NULL and fills g, or why the row is bad
 * (OUT_OF_MEMORY is not the row's fault: the import stops). */
static const char *validate(good *g, const row *w, char *why, size_t whyn) {
    strs_clear(&g->plates);
    strs_clear(&g->routes);
    strs_clear(&g->scope);
    if (w->error)
        return w->error;
    if (w->n != NCOL) {
        snprintf(why, whyn, "expected %d columns, found %d (a comma inside a value needs quotes)",
                 NCOL, w->n);
        return why;
    }
    for (int i = 0; i < NCOL; i++) {
        row_field(w, i, &g->val[i], &g->len[i]);
        if (!dc__utf8_valid((const uint8_t *)g->val[i], g->len[i])) {
            snprintf(why, whyn, "column %s is not valid UTF-8 (save the file as UTF-8)", COLS[i]);
            return why;
        }
        for (size_t k = 0; k < g->len[i]; k++)
            if ((unsigned char)g->val[i][k] < 0x20 || g->val[i][k] == 0x7f) {
                snprintf(why, whyn, "column %s contains a line break or control character",
                         COLS[i]);
                return why;
            }
        if (g->len[i] > FIELD_MAX) {
            snprintf(why, whyn, "column %s is longer than %d bytes", COLS[i], FIELD_MAX);
            return why;
        }
    }
    if (g->len[C_NAME] == 0)
        return "name is empty";
    if (g->len[C_ID] == 0)
        return "id_number is empty";
    const char *e = id_normalise(g->id, g->val[C_ID], g->len[C_ID]);
    if (e)
        return e;
    g->phone[0] = 0;
    if (g->len[C_PHONE]) {
        size_t k = 0;
        const char *p = g->val[C_PHONE];
        size_t n = g->len[C_PHONE];
        if (n > 3 && memcmp(p, "+86", 3) == 0)
            p += 3, n -= 3;
        for (size_t i = 0; i < n; i++) {
            if (p[i] == ' ' || p[i] == '-')
                continue;
            if (p[i] < '0' || p[i] > '9' || k == 11)
                return "phone must be 11 digits starting with 1";
            g->phone[k++] = p[i];
        }
        g->phone[k] = 0;
        if (k != 11 || g->phone[0] != '1')
            return "phone must be 11 digits starting with 1";
    }
    g->status = NULL;
    if (g->len[C_STATUS] && !(g->status = status_code(g->val[C_STATUS], g->len[C_STATUS]))) {
        snprintf(
            why, whyn,
            "political_status '%.*s' is not one of masses, applicant, activist, candidate, "
            "probationary, member (or 群众, 入党申请人, 积极分子, 发展对象, 预备党员, 正式党员)",
            (int)(g->len[C_STATUS] > 64 ? 64 : g->len[C_STATUS]), g->val[C_STATUS]);
        return why;
    }
    if (split_list(&g->plates, g->val[C_PLATE], g->len[C_PLATE], L_PLATE) ||
        split_list(&g->routes, g->val[C_ROUTE], g->len[C_ROUTE], L_PLAIN) ||
        split_list(&g->scope, g->val[C_SCOPE], g->len[C_SCOPE], L_SCOPE))
        return OUT_OF_MEMORY;
    return NULL;
}

/* ---- the import ---- */

/* A `moved` entry of the space imported into: the driver is kept elsewhere
 * (docs/domain.md, "Moves"). */
typedef struct fwd {
    char did[DID_LEN + 1];
    char space[33];
    char region[16];
    char branch[96];
} fwd;

typedef struct imp {
    dc_replica *r;
    const char *space;
    int source;
    int64_t round;
    int level, method;
    fwd *fw; /* sorted by driver id */
    size_t nfw, cfw;
    long forwarded;
    dc_buf moved_away;
    keys k;
    dc_txn *t;
    uint32_t batch;
    bool reading; /* in a read snapshot (records.h), ended before any commit */
    idset ids;
    long rows, imported, new_drivers, merged, unchanged, flagged;
    dc_buf errors;
    long nerrors;
    snap s;
    good g;
    dc_buf report, sealed, plain;
    char why[256];
} imp;

static int add_error(imp *m, long line, const char *msg) {
    m->nerrors++;
    if (m->errors.size && dc__buf_putc(&m->errors, ','))
        return DC_ENOMEM;
    if (dc__buf_printf(&m->errors, "{\"line\":%ld,\"error\":", line) ||
        dc__json_str(&m->errors, msg, strlen(msg)) || dc__buf_putc(&m->errors, '}'))
        return DC_ENOMEM;
    return 0;
}

/* The reads of one batch (between two commits: the rows' drivers) are
 * made in one read snapshot, begun at the first and ended before the
 * commit, rather than each folding and locking the file on its own; a
 * batch makes no write until its commit. */
static int reading_on(imp *m) {
    return m->reading ? 0 : dc__records_snapshot(m->r, &m->reading);
}

static void reading_off(imp *m) {
    dc__records_snapshot_end(m->r, m->reading);
    m->reading = false;
}

static int commit(imp *m) {
    reading_off(m);
    if (!m->t)
        return 0;
    dc_txn *t = m->t;
    m->t = NULL;
    m->batch++;
    return dc_txn_commit(t, NULL);
}

static int set_str(imp *m, const char *did, const char *field, const char *v) {
    return dc_txn_set(m->t, TYPE_DRIVER, did, field, DC_STR, 0, v);
}

static int add_members(imp *m, const char *did, const char *field, const strs *have,
                       const strs *add) {
    for (size_t i = 0; i < add->n; i++)
        if (!strs_has(have, add->v[i])) {
            int rc = dc_txn_add(m->t, TYPE_DRIVER, did, field, DC_STR, 0, add->v[i]);
            if (rc)
                return rc;
        }
    return 0;
}

/* The report member of the current row, into m->report. */
static int build_report(imp *m, const char *did) {
    good *g = &m->g;
    dc_buf *b = &m->report;
    dc__buf_clear(b);
    if (g->phone[0] && seal(&m->sealed, &m->k, did, "phone", g->phone, true))
        return DC_ENOMEM;
    const char *v[NFACT];
    size_t n[NFACT];
    for (int f = 0; f < NFACT; f++) {
        v[f] = g->val[FACTS[f].col];
        n[f] = g->len[FACTS[f].col];
    }
    v[F_PHONE] = g->phone[0] ? (const char *)m->sealed.ptr : "";
    n[F_PHONE] = g->phone[0] ? m->sealed.size : 0;
    v[F_STATUS] = g->status ? g->status : "";
    n[F_STATUS] = g->status ? strlen(g->status) : 0;
    if (m->level == 0 && m->method == 0
            ? dc__buf_printf(b, "1\t%s\t%lld", SOURCES[m->source], (long long)m->round)
            : dc__buf_printf(b, "2\t%s\t%lld\t%s\t%s", SOURCES[m->source], (long long)m->round,
                             LEVELS[m->level], METHODS[m->method]))
        return DC_ENOMEM;
    for (int f = 0; f < NFACT; f++)
        if (dc__buf_putc(b, '\t') || dc__buf_put(b, v[f], n[f]))
            return DC_ENOMEM;
    return 0;
}

static int import_row(imp *m) {
    dc_replica *r = m->r;
    good *g = &m->g;
    uint8_t h[32];
    char did[DID_LEN + 1];
    id_hash(h, &m->k, g->id);
    driver_id(did, h);
    idslot *slot = idset_get(&m->ids, h);
    if (!slot)
        return DC_ENOMEM;
    /* A transaction's writes are read back only after it commits: a driver
     * met twice in one batch commits the batch first. */
    int rc;
    if (slot->batch == m->batch + 1 && (rc = commit(m)))
        return rc;
    if ((rc = reading_on(m)) || (rc = snap_read(&m->s, r, m->space, did)))
        return rc;
    if ((rc = build_report(m, did)))
        return rc;
    snap *s = &m->s;
    bool new_report = !strs_has(&s->reports, (const char *)m->report.ptr);

    report *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    fold fb[NFACT] = {{0}}, fa[NFACT] = {{0}};
    if ((rc = reports_parse(&before, &nb, &s->reports, NULL)) ||
        (rc = reports_parse(&after, &na, &s->reports,
                            new_report ? (const char *)m->report.ptr : NULL)))
        goto out;
    for (int f = 0; f < NFACT; f++)
        if ((rc = fold_fact(&fb[f], before, nb, f)) || (rc = fold_fact(&fa[f], after, na, f)))
            goto out;

    if (!m->t && (rc = dc_txn_begin(&m->t, r, m->space)))
        goto out;
    size_t ops0 = dc_txn_op_count(m->t);
    char hex[65];
    if (!s->has_hash) {
        dc__hex(hex, h, 32);
        if ((rc = set_str(m, did, "id_hash", hex)))
            goto out;
    }
    if (!s->has_sealed_id) {
        if ((rc = seal(&m->sealed, &m->k, did, "id_number", g->id, false)) ||
            (rc = set_str(m, did, "id_sealed", (const char *)m->sealed.ptr)))
            goto out;
    }
    /* The registers of the facts are a copy of the value shown (the fold of
     * the reports, docs/domain.md "The value shown") for readers of the raw
     * dump: written whenever they differ from it after this row, so that a
     * sync of concurrent imports, which leaves whichever register was
     * written last, is repaired by the next import that meets the driver.
     * Nothing in the library reads them for a reported fact. */
    for (int f = 0; f < NFACT; f++) {
        const char *now = fa[f].current, *was = fb[f].current;
        if (!now)
            continue;
        bool changed = !was || strcmp(now, was) != 0;
        if (f == F_PHONE) {
            /* The register is sealed with a random nonce: compare opened
             * values, and only where reports could disagree with it. */
            bool write = !s->reg[f] || changed;
            if (!write && fa[f].n > 1) {
                if ((rc = unseal(&m->plain, &m->k, did, "phone", s->reg[f])) && rc != DC_ECORRUPT)
                    goto out;
                bool differs = rc != 0;
                if (!rc) {
                    dc_buf shown = DC_BUF_INIT;
                    if ((rc = unseal(&shown, &m->k, did, "phone", now)) && rc != DC_ECORRUPT) {
                        dc_buf_dispose(&shown);
                        goto out;
                    }
                    differs =
                        rc != 0 || strcmp((const char *)shown.ptr, (const char *)m->plain.ptr) != 0;
                    if (shown.ptr)
                        sodium_memzero(shown.ptr, shown.size);
                    dc_buf_dispose(&shown);
                }
                sodium_memzero(m->plain.ptr, m->plain.size);
                rc = 0;
                write = differs;
            }
            if (write) {
                if ((rc = unseal(&m->plain, &m->k, did, "phone", now)) ||
                    (rc = seal(&m->sealed, &m->k, did, "phone", (const char *)m->plain.ptr,
                               false)) ||
                    (rc = set_str(m, did, FACTS[f].reg, (const char *)m->sealed.ptr)))
                    goto out;
                sodium_memzero(m->plain.ptr, m->plain.size);
            }
        } else if (!s->reg[f] || strcmp(s->reg[f], now) != 0) {
            if ((rc = set_str(m, did, FACTS[f].reg, now)))
                goto out;
        }
    }
    if ((rc = add_members(m, did, "plates", &s->plates, &g->plates)) ||
        (rc = add_members(m, did, "routes", &s->routes, &g->routes)) ||
        (rc = add_members(m, did, "business_scope", &s->scope, &g->scope)))
        goto out;
    if (new_report && (rc = dc_txn_add(m->t, TYPE_DRIVER, did, F_REPORTS, DC_STR, 0,
                                       (const char *)m->report.ptr)))
        goto out;

    bool flagged = false;
    for (int f = 0; f < NFACT; f++)
        flagged |= fa[f].conflict;
    slot->flagged = flagged;
    m->imported++;
    if (!s->exists)
        m->new_drivers++;
    else
        m->merged++;
    if (dc_txn_op_count(m->t) == ops0)
        m->unchanged++;
    else
        slot->batch = m->batch + 1;
    if (dc_txn_op_count(m->t) >= BATCH_OPS)
        rc = commit(m);
out:
    for (int f = 0; f < NFACT; f++) {
        fold_dispose(&fb[f]);
        fold_dispose(&fa[f]);
    }
    reports_free(before, nb);
    reports_free(after, na);
    sodium_memzero(g->id, sizeof g->id);
    sodium_memzero(g->phone, sizeof g->phone);
    if (rc == DC_ENOMEM && dc_replica_errcode(r) == 0)
        dc__model_fail(r, rc, "registry import: out of memory");
    return rc;
}

/* Says where an import stopped.  The batches committed before it stay: an
 * import is idempotent (a row already imported changes nothing), so the
 * remedy is to fix the cause and import the same file again. */
static void stopped_at(dc_replica *r, int rc, long line) {
    char why[400];
    snprintf(why, sizeof why, "%s", dc_replica_errmsg(r));
    dc__model_fail(r, rc,
                   "registry import: stopped at line %ld: %s (rows before it may already be "
                   "imported; importing the file again is safe)",
                   line, why);
}

static int check_header(dc_replica *r, const row *w) {
    char got[160];
    if (w->error)
        return dc__model_fail(r, DC_EINVAL, "registry import: the header line is malformed: %s",
                              w->error);
    for (int i = 0; i < NCOL; i++) {
        const char *p = "";
        size_t n = 0;
        if (i < w->n && i < MAXF)
            row_field(w, i, &p, &n);
        if (i >= w->n || !eq_ci(p, n, COLS[i])) {
            snprintf(got, sizeof got, "%.*s", (int)(n > 60 ? 60 : n), p);
            if (!dc__utf8_valid((const uint8_t *)got, strlen(got)))
                strcpy(got, "(not UTF-8)");
            return dc__model_fail(
                r, DC_EINVAL,
                "registry import: the first line must be the header "
                "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
                "business_scope,political_status; column %d is %s%s%s, expected '%s'",
                i + 1, i < w->n ? "'" : "", i < w->n ? got : "missing", i < w->n ? "'" : "",
                COLS[i]);
        }
    }
    if (w->n != NCOL)
        return dc__model_fail(r, DC_EINVAL,
                              "registry import: the header has %d columns, expected %d "
                              "(name,...,political_status)",
                              w->n, NCOL);
    return 0;
}

/* ---- forwarding: rows of drivers kept elsewhere ---- */

static int fwd_cb(void *user, const dc__rec *rec) {
    imp *m = user;
    if (strlen(rec->id) != DID_LEN)
        return 0;
    if (m->nfw == m->cfw) {
        size_t nc = m->cfw ? m->cfw * 2 : 16;
        fwd *v = dc__realloc(m->fw, nc * sizeof *v);
        if (!v)
            return dc__model_fail(m->r, DC_ENOMEM, "registry import: out of memory");
        m->fw = v;
        m->cfw = nc;
    }
    fwd *f = &m->fw[m->nfw++];
    memcpy(f->did, rec->id, DID_LEN + 1);
    dc__org_rec_str(rec, "space", f->space, sizeof f->space);
    dc__org_rec_str(rec, "region", f->region, sizeof f->region);
    dc__org_rec_str(rec, "branch", f->branch, sizeof f->branch);
    return 0;
}

/* The space's `moved` entry for did, or NULL (the walk gives them in id
 * order, so a binary search finds one). */
static const fwd *fwd_find(const imp *m, const char *did) {
    size_t lo = 0, hi = m->nfw;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->fw[mid].did, did);
        if (c == 0)
            return &m->fw[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

typedef struct hop {
    bool kept, moved;
    char space[33];
} hop;

static int hop_driver(void *user, const dc__rec *rec) {
    (void)rec;
    ((hop *)user)->kept = true;
    return 0;
}

static int hop_moved(void *user, const dc__rec *rec) {
    hop *h = user;
    h->moved = true;
    dc__org_rec_str(rec, "space", h->space, sizeof h->space);
    return 0;
}

/* The row of a driver this space forwards: written where he is kept (a
 * move may have been followed by another: the entries are followed, a few
 * hops at most), in a transaction of its own, or listed as moved away when
 * this device cannot write there. */
static int forward_row(imp *m, const fwd *f, const char *did, long line) {
    char dest[33];
    snprintf(dest, sizeof dest, "%s", f->space);
    int rc = commit(m);
    for (int hops = 0; !rc && hops < 8 && strlen(dest) == 32; hops++) {
        hop h = {false, false, ""};
        rc = dc__records_each(m->r, dest, TYPE_DRIVER, did, hop_driver, &h);
        if (!rc && !h.kept)
            rc = dc__records_each(m->r, dest, "moved", did, hop_moved, &h);
        if (rc || h.kept || !h.moved || strcmp(h.space, dest) == 0)
            break;
        memcpy(dest, h.space, 33);
    }
    if (!rc && strlen(dest) == 32 && strcmp(dest, m->space) != 0 &&
        dc_txn_begin(&m->t, m->r, dest) == 0) {
        const char *home = m->space;
        m->space = dest;
        rc = import_row(m);
        if (!rc)
            rc = commit(m);
        m->space = home;
        if (!rc)
            m->forwarded++;
        return rc;
    }
    if (rc && rc != DC_ENOTFOUND && rc != DC_ENOKEY)
        return rc;
    /* Kept where this device may not write: the outflow side learns where
     * to send the row, and nothing is written. */
    sodium_memzero(m->g.id, sizeof m->g.id);
    sodium_memzero(m->g.phone, sizeof m->g.phone);
    dc_buf *b = &m->moved_away;
    if ((b->size && dc__buf_putc(b, ',')) ||
        dc__buf_printf(b, "{\"line\":%ld,\"driver\":\"%s\",\"region\":", line, did) ||
        dc__org_jstr(b, f->region[0] ? f->region : NULL) || dc__buf_puts(b, ",\"branch\":") ||
        dc__org_jstr(b, f->branch[0] ? f->branch : NULL) || dc__buf_putc(b, '}'))
        return DC_ENOMEM;
    return 0;
}

#define PROGRESS_ROWS 1000

int dc_registry_import(dc_buf *report, dc_replica *r, const char *space,
                       const dc_registry_import_options *o, const uint8_t *data, size_t n) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_import: the replica is NULL");
    if (!report || !space || !o || (!data && n))
        return dc__model_fail(r, DC_EMISUSE,
                              "registry import: report, space, options and data must not be NULL");
    if (o->version != DC_REGISTRY_IMPORT_OPTIONS_VERSION)
        return dc__model_fail(r, DC_EINVAL, "registry import: options version %u is not %d",
                              o->version, DC_REGISTRY_IMPORT_OPTIONS_VERSION);
    if (o->source != DC_SOURCE_ORGANISATION && o->source != DC_SOURCE_TRANSPORT)
        return dc__model_fail(r, DC_EINVAL,
                              "registry import: unknown source %d (organisation or transport)",
                              o->source);
    if (o->round < 1)
        return dc__model_fail(r, DC_EINVAL, "registry import: the round must be 1 or more, not %d",
                              o->round);
    int level = o->level && *o->level ? index_of(LEVELS, o->level, strlen(o->level)) : 0;
    int method = o->method ? index_of(METHODS, o->method, strlen(o->method)) : 0;
    if (level < 0)
        return dc__model_fail(r, DC_EINVAL,
                              "registry import: level '%.40s' is not one of province, city, "
                              "county, township, village, branch",
                              o->level);
    if (method < 0)
        return dc__model_fail(r, DC_EINVAL,
                              "registry import: method '%.40s' is not one of list, visit, phone",
                              o->method);
    imp m;
    memset(&m, 0, sizeof m);
    m.r = r;
    m.space = space;
    m.source = o->source;
    m.round = o->round;
    m.level = level;
    m.method = method;
    row w;
    memset(&w, 0, sizeof w);
    csv c = {(const char *)data, (const char *)data + n, 1};
    if (n >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        c.p += 3;
    int rc;
    /* Permission and key first: a reader gets one clear error, not a report
     * of rows that could not be written. */
    if ((rc = dc_txn_begin(&m.t, r, space)))
        goto out;
    if ((rc = keys_derive(&m.k, r, space)))
        goto out;
    if ((rc = dc__records_each(r, space, "moved", NULL, fwd_cb, &m)))
        goto out;
    for (;;) {
        rc = csv_next(&c, &w);
        if (rc < 0)
            goto out;
        if (rc == 0) {
            rc = dc__model_fail(r, DC_EINVAL,
                                "registry import: the file is empty; the first line must be "
                                "the header name,id_number,phone,hukou_region,plate,employer,"
                                "route,activity_area,business_scope,political_status");
            goto out;
        }
        if (!is_blank(&w))
            break;
    }
    if ((rc = check_header(r, &w)))
        goto out;
    for (;;) {
        rc = csv_next(&c, &w);
        if (rc < 0)
            goto out;
        if (rc == 0)
            break;
        if (is_blank(&w))
            continue;
        m.rows++;
        if (o->progress && m.rows % PROGRESS_ROWS == 0)
            reading_off(&m); /* the callback runs with no transaction open */
        if (o->progress && m.rows % PROGRESS_ROWS == 0 &&
            o->progress(o->progress_user, (uint64_t)m.rows, (uint64_t)(c.p - (const char *)data),
                        (uint64_t)n) != 0) {
            rc = dc__model_fail(r, DC_EUSER,
                                "registry import: stopped at line %ld by the progress callback "
                                "(rows before it may already be imported; importing the file "
                                "again is safe)",
                                w.line);
            goto out;
        }
        const char *why = validate(&m.g, &w, m.why, sizeof m.why);
        if (why == OUT_OF_MEMORY) {
            rc = dc__model_fail(r, DC_ENOMEM, "registry import: out of memory at line %ld", w.line);
            goto out;
        }
        if (why) {
            if ((rc = add_error(&m, w.line, why)))
                goto out;
            continue;
        }
        const fwd *f = NULL;
        char did[DID_LEN + 1];
        if (m.nfw) {
            uint8_t h[32];
            id_hash(h, &m.k, m.g.id);
            driver_id(did, h);
            f = fwd_find(&m, did);
        }
        if ((rc = f ? forward_row(&m, f, did, w.line) : import_row(&m))) {
            stopped_at(r, rc, w.line);
            goto out;
        }
    }
    if ((rc = commit(&m)))
        goto out;
    if (o->progress && o->progress(o->progress_user, (uint64_t)m.rows, (uint64_t)n, (uint64_t)n)) {
        rc = dc__model_fail(r, DC_EUSER,
                            "registry import: stopped by the progress callback at "
                            "the end (every row was imported)");
        goto out;
    }
    for (size_t i = 0; i < m.ids.cap; i++)
        m.flagged += m.ids.s[i].used && m.ids.s[i].flagged;
    dc__buf_clear(report);
    if (dc__buf_printf(report,
                       "{\"rows\":%ld,\"imported\":%ld,\"new_drivers\":%ld,\"merged\":%ld,"
                       "\"unchanged\":%ld,\"flagged\":%ld,\"errors\":[",
                       m.rows, m.imported, m.new_drivers, m.merged, m.unchanged, m.flagged) ||
        dc__buf_put(report, m.errors.ptr ? (const char *)m.errors.ptr : "", m.errors.size) ||
        dc__buf_printf(report, "],\"forwarded\":%ld,\"moved_away\":[", m.forwarded) ||
        dc__buf_put(report, m.moved_away.ptr ? (const char *)m.moved_away.ptr : "",
                    m.moved_away.size) ||
        dc__buf_puts(report, "]}")) {
        rc = dc__model_fail(r, DC_ENOMEM, "registry import: out of memory for the report");
        goto out;
    }
    rc = 0;
out:
    reading_off(&m);
    dc_txn_rollback(m.t);
    keys_free(&m.k);
    dc__free(m.ids.s);
    dc__free(m.fw);
    dc_buf_dispose(&m.errors);
    dc_buf_dispose(&m.moved_away);
    dc_buf_dispose(&m.report);
    dc_buf_dispose(&m.sealed);
    dc_buf_dispose(&m.plain);
    dc_buf_dispose(&w.text);
    snap_dispose(&m.s);
    strs_dispose(&m.g.plates);
    strs_dispose(&m.g.routes);
    strs_dispose(&m.g.scope);
    return rc;
}

int dc_registry_import_csv(dc_buf *report, dc_replica *r, const char *space, int source, int round,
                           const uint8_t *data, size_t n) {
    dc_registry_import_options o = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    o.source = source;
    o.round = round;
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_import_csv: the replica is NULL");
    return dc_registry_import(report, r, space, &o, data, n);
}

/* ---- reading: conflicts and lookups ---- */

static int put_value(dc_buf *b, const dc__value *v) {
    switch (v->kind) {
    case DC_BOOL: return dc__buf_puts(b, v->num ? "true" : "false");
    case DC_INT: return dc__buf_printf(b, "%lld", (long long)v->num);
    case DC_STR: return dc__json_str(b, v->str, v->len);
    default: return dc__buf_puts(b, "null");
    }
}

/* Appends {FIELD: [{"value", "source", "round"}, ...], ...} for the facts in
 * conflict among `rp`; *any tells whether there was one.  Phones are shown
 * opened: only a member holding the space key gets this far. */
static int conflicts_json(dc_buf *b, dc_replica *r, const keys *k, const char *did,
                          const report *rp, size_t nr, bool *any, dc_buf *plain) {
    int rc = 0;
    *any = false;
    if (dc__buf_putc(b, '{'))
        return DC_ENOMEM;
    for (int f = 0; f < NFACT && !rc; f++) {
        fold fo;
        if ((rc = fold_fact(&fo, rp, nr, f)))
            break;
        if (fo.conflict) {
            rc = dc__buf_printf(b, "%s\"%s\":[", *any ? "," : "", COLS[FACTS[f].col]);
            *any = true;
            for (size_t i = 0; i < fo.n && !rc; i++) {
                const char *v = fo.e[i].value;
                if (f == F_PHONE) {
                    if ((rc = unseal(plain, k, did, "phone", v))) {
                        if (rc == DC_ECORRUPT)
                            rc = dc__model_fail(r, rc,
                                                "registry: a sealed phone of driver %s does not "
                                                "open (damaged, or sealed under another key)",
                                                did);
                        break;
                    }
                    v = (const char *)plain->ptr;
                }
                rc = dc__buf_puts(b, i ? ",{\"value\":" : "{\"value\":") ||
                     dc__json_str(b, v, strlen(v)) ||
                     dc__buf_printf(b, ",\"source\":\"%s\",\"round\":%lld}",
                                    SOURCES[fo.e[i].source], (long long)fo.e[i].round);
                if (f == F_PHONE)
                    sodium_memzero(plain->ptr, plain->size);
            }
            if (!rc)
                rc = dc__buf_putc(b, ']');
        }
        fold_dispose(&fo);
    }
    if (!rc)
        rc = dc__buf_putc(b, '}');
    if (rc && rc != DC_ECORRUPT)
        rc = DC_ENOMEM;
    return rc;
}

typedef struct read_ctx {
    dc_replica *r;
    keys k;
    dc_buf *out;
    dc_buf plain, tmp, shown;
    strs reports;
    strs others; /* reports of other copies of the driver found (kept twice) */
    size_t count;
    const char *space;   /* the space being walked */
    char primary[33];    /* find: the first space found keeping him */
    char any[33];        /* find: the first space found holding a copy of him */
    bool left;           /* find: the space walked forwards him (a copy left behind) */
    strs moved;          /* conflicts: drivers the space walked forwards, sorted */
    dc__regextra extras; /* conflicts: reports left behind by moves */
} read_ctx;

static void read_ctx_dispose(read_ctx *c) {
    keys_free(&c->k);
    if (c->plain.ptr)
        sodium_memzero(c->plain.ptr, c->plain.asize);
    dc_buf_dispose(&c->plain);
    dc_buf_dispose(&c->tmp);
    dc_buf_dispose(&c->shown);
    strs_dispose(&c->reports);
    strs_dispose(&c->others);
    strs_dispose(&c->moved);
    dc__registry_extras_free(&c->extras);
}

static int moved_id(void *user, const dc__rec *rec) {
    return strs_push(user, rec->id, strlen(rec->id)) ? DC_ENOMEM : 0;
}

/* The drivers `space` forwards elsewhere (its `moved` entries), in id
 * order: copies of them there were left behind by a move. */
static int load_moved(dc_replica *r, const char *space, strs *out) {
    strs_clear(out);
    int rc = dc__records_each(r, space, "moved", NULL, moved_id, out);
    return rc == DC_ENOMEM ? dc__model_fail(r, rc, "registry: out of memory") : rc;
}

static bool in_sorted(const strs *s, const char *id) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->v[mid], id);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int collect_reports(strs *s, const dc__rec *rec) {
    strs_clear(s);
    for (size_t i = 0; i < rec->nf; i++)
        if (rec->f[i].member && rec->f[i].v.kind == DC_STR &&
            strcmp(rec->f[i].name, F_REPORTS) == 0 &&
            strs_push(s, rec->f[i].v.str, rec->f[i].v.len))
            return DC_ENOMEM;
    return 0;
}

static int conflicts_cb(void *user, const dc__rec *rec) {
    read_ctx *c = user;
    if (in_sorted(&c->moved, rec->id) && dc__registry_emptied(rec))
        return 0; /* left behind by a move: judged where he is kept */
    if (collect_reports(&c->reports, rec))
        return dc__model_fail(c->r, DC_ENOMEM, "registry conflicts: out of memory");
    size_t nx;
    const char *const *x = dc__registry_extras_of(&c->extras, rec->id, &nx);
    for (size_t i = 0; i < nx; i++)
        if (strs_push(&c->reports, x[i], strlen(x[i])))
            return dc__model_fail(c->r, DC_ENOMEM, "registry conflicts: out of memory");
    if (c->reports.n < 2)
        return 0; /* one report cannot disagree with itself */
    report *rp;
    size_t nr;
    if (reports_parse(&rp, &nr, &c->reports, NULL))
        return dc__model_fail(c->r, DC_ENOMEM, "registry conflicts: out of memory");
    bool any;
    dc__buf_clear(&c->tmp);
    int rc = conflicts_json(&c->tmp, c->r, &c->k, rec->id, rp, nr, &any, &c->plain);
    reports_free(rp, nr);
    if (rc || !any)
        goto out;
    /* One entry; the entries of several spaces are sorted by driver at the
     * end (each starts {"driver":"drv-...", so the text sorts by id). */
    dc_buf *e = &c->plain;
    dc__buf_clear(e);
    int has = dc__registry_shown(rec, "name", &c->shown, x, nx);
    if (has < 0 || dc__buf_puts(e, "{\"driver\":") || dc__json_str(e, rec->id, strlen(rec->id)) ||
        dc__buf_puts(e, ",\"name\":") ||
        (has ? dc__json_str(e, (const char *)c->shown.ptr, c->shown.size)
             : dc__buf_puts(e, "null")) ||
        dc__buf_puts(e, ",\"conflicts\":") || dc__buf_put(e, c->tmp.ptr, c->tmp.size) ||
        dc__buf_printf(e, ",\"space\":\"%s\"}", c->space) ||
        strs_push(&c->others, (const char *)e->ptr, e->size))
        rc = DC_ENOMEM;
    sodium_memzero(e->ptr, e->size); /* it held opened phones */
out:
    if (rc == DC_ENOMEM)
        return dc__model_fail(c->r, rc, "registry conflicts: out of memory");
    return rc;
}

int dc_registry_conflicts(dc_buf *out, dc_replica *r, const char *space) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_conflicts: the replica is NULL");
    if (!out || !space)
        return dc__model_fail(r, DC_EMISUSE, "registry conflicts: out and space must not be NULL");
    read_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    dc_buf b = DC_BUF_INIT;
    c.out = &b;
    char(*scope)[33] = NULL;
    size_t nscope = 0;
    int rc = keys_derive(&c.k, r, space);
    if (!rc)
        rc = dc__registry_scope(r, space, &scope, &nscope);
    if (!rc)
        rc = dc__registry_extras_load(r, scope, nscope, &c.extras);
    if (!rc && dc__buf_putc(&b, '['))
        rc = dc__model_fail(r, DC_ENOMEM, "registry conflicts: out of memory");
    /* Given a root, every part of it held: the province's view. */
    for (size_t i = 0; i < nscope && !rc; i++) {
        c.space = scope[i];
        if (!(rc = load_moved(r, scope[i], &c.moved)))
            rc = dc__records_each(r, scope[i], TYPE_DRIVER, NULL, conflicts_cb, &c);
    }
    dc__free(scope);
    if (!rc && c.others.n > 1)
        qsort(c.others.v, c.others.n, sizeof *c.others.v, str_cmp);
    for (size_t i = 0; i < c.others.n && !rc; i++)
        if ((i && dc__buf_putc(&b, ',')) || dc__buf_puts(&b, c.others.v[i]))
            rc = dc__model_fail(r, DC_ENOMEM, "registry conflicts: out of memory");
    for (size_t i = 0; i < c.others.n; i++)
        sodium_memzero(c.others.v[i], strlen(c.others.v[i]));
    if (!rc && dc__buf_putc(&b, ']'))
        rc = dc__model_fail(r, DC_ENOMEM, "registry conflicts: out of memory");
    if (!rc)
        dc__buf_move(out, &b);
    dc_buf_dispose(&b);
    read_ctx_dispose(&c);
    return rc;
}

/* Names the find output uses itself; record fields of these names (none
 * today) are left out rather than printed twice. */
static bool own_key(const char *name) {
    static const char *const OWN[] = {"driver",       "id_number", "phone",          "id_sealed",
                                      "phone_sealed", "flagged",   "verified_round", "sources",
                                      "conflicts",    "verified",  "space",          F_REPORTS};
    for (size_t i = 0; i < sizeof OWN / sizeof OWN[0]; i++)
        if (strcmp(name, OWN[i]) == 0)
            return true;
    return false;
}

static int put_sealed(read_ctx *c, const char *did, const char *key, const char *what,
                      const dc__value *v) {
    dc_buf *b = c->out;
    if (!v || v->kind != DC_STR)
        return 0;
    char *hex = dc__strndup(v->str, v->len);
    if (!hex)
        return DC_ENOMEM;
    int rc = unseal(&c->plain, &c->k, did, what, hex);
    dc__free(hex);
    if (rc == DC_ECORRUPT)
        return dc__model_fail(c->r, rc,
                              "registry: the sealed %s of driver %s does not open (damaged, or "
                              "sealed under another key)",
                              what, did);
    if (rc)
        return rc;
    rc = dc__buf_printf(b, ",\"%s\":", key) ||
         dc__json_str(b, (const char *)c->plain.ptr, c->plain.size);
    sodium_memzero(c->plain.ptr, c->plain.size);
    return rc ? DC_ENOMEM : 0;
}

/* The source entries of `find`: distinct (round, source, level, method),
 * sorted. */
static int src_cmp(const void *a, const void *b) {
    const report *x = a, *y = b;
    if (x->round != y->round)
        return x->round < y->round ? -1 : 1;
    if (x->source != y->source)
        return x->source < y->source ? -1 : 1;
    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return (x->method > y->method) - (x->method < y->method);
}

static int put_source(dc_buf *b, const report *p) {
    return dc__buf_printf(b, "{\"source\":\"%s\",\"round\":%lld,\"level\":", SOURCES[p->source],
                          (long long)p->round) ||
           dc__org_jstr(b, p->level ? LEVELS[p->level] : NULL) ||
           dc__buf_printf(b, ",\"method\":\"%s\"}", METHODS[p->method]);
}

static int find_cb(void *user, const dc__rec *rec) {
    read_ctx *c = user;
    dc_buf *b = c->out;
    const char *did = rec->id;
    int rc = 0;
    c->count++;
    if (dc__buf_puts(b, "{\"driver\":") || dc__json_str(b, did, strlen(did)))
        goto nomem;
    /* The phone shown is the fold's (sealed in the reports), not the
     * register's: docs/domain.md, "The value shown". */
    int hp = dc__registry_shown(rec, "phone_sealed", &c->shown, (const char *const *)c->others.v,
                                c->others.n);
    if (hp < 0)
        goto nomem;
    dc__value phone = {DC_STR, 0, (const char *)c->shown.ptr, (uint32_t)c->shown.size};
    if ((rc = put_sealed(c, did, "id_number", "id_number", dc__rec_value(rec, "id_sealed"))) ||
        (rc = put_sealed(c, did, "phone", "phone", hp ? &phone : NULL)))
        goto fail;
    for (size_t i = 0; i < rec->nf; i++) {
        const dc__rfield *fd = &rec->f[i];
        if (own_key(fd->name))
            continue;
        if (!fd->member) {
            if (dc__buf_putc(b, ',') || dc__json_str(b, fd->name, strlen(fd->name)) ||
                dc__buf_putc(b, ':'))
                goto nomem;
            int has = fact_of_reg(fd->name) >= 0
                          ? dc__registry_shown(rec, fd->name, &c->shown,
                                               (const char *const *)c->others.v, c->others.n)
                          : 0;
            if (has < 0 || (has ? dc__json_str(b, (const char *)c->shown.ptr, c->shown.size)
                                : put_value(b, &fd->v)))
                goto nomem;
            continue;
        }
        /* A set: print all its members at its first member. */
        bool first = true;
        for (size_t j = 0; j < i && first; j++)
            first = !(rec->f[j].member && strcmp(rec->f[j].name, fd->name) == 0);
        if (!first)
            continue;
        if (dc__buf_putc(b, ',') || dc__json_str(b, fd->name, strlen(fd->name)) ||
            dc__buf_puts(b, ":["))
            goto nomem;
        /* Members sorted by their JSON text, as in the canonical dump: the
         * store returns them in its own order, which differs by replica. */
        strs *m = &c->reports; /* reused as scratch before the reports */
        strs_clear(m);
        for (size_t j = i; j < rec->nf; j++) {
            if (!rec->f[j].member || strcmp(rec->f[j].name, fd->name) != 0)
                continue;
            dc__buf_clear(&c->tmp);
            if (put_value(&c->tmp, &rec->f[j].v) ||
                strs_push(m, (const char *)c->tmp.ptr, c->tmp.size))
                goto nomem;
        }
        qsort(m->v, m->n, sizeof *m->v, str_cmp);
        for (size_t j = 0; j < m->n; j++)
            if ((j && dc__buf_putc(b, ',')) || dc__buf_puts(b, m->v[j]))
                goto nomem;
        if (dc__buf_putc(b, ']'))
            goto nomem;
    }
    /* His reports: this record's and those of any other copy found. */
    if (collect_reports(&c->reports, rec))
        goto nomem;
    for (size_t i = 0; i < c->others.n; i++)
        if (strs_push(&c->reports, c->others.v[i], strlen(c->others.v[i])))
            goto nomem;
    report *rp;
    size_t nr;
    if (reports_parse(&rp, &nr, &c->reports, NULL))
        goto nomem;
    /* Sources: the distinct (round, source, level, method) of the reports. */
    report *src = nr ? dc__calloc(nr, sizeof *src) : NULL;
    if (nr && !src) {
        reports_free(rp, nr);
        goto nomem;
    }
    for (size_t i = 0; i < nr; i++) {
        src[i].source = rp[i].source;
        src[i].round = rp[i].round;
        src[i].level = rp[i].level;
        src[i].method = rp[i].method;
    }
    if (nr > 1)
        qsort(src, nr, sizeof *src, src_cmp);
    rc = dc__buf_puts(b, ",\"sources\":[");
    size_t ns = 0, latest = 0;
    for (size_t i = 0; i < nr && !rc; i++) {
        if (i && src_cmp(&src[i], &src[i - 1]) == 0)
            continue;
        rc = (ns++ && dc__buf_putc(b, ',')) || put_source(b, &src[i]);
        if (src[i].round != src[latest].round)
            latest = i;
    }
    int64_t maxround = nr ? src[nr - 1].round : 0;
    bool any = false;
    dc__buf_clear(&c->tmp);
    if (!rc)
        rc = dc__buf_printf(b, "],\"verified_round\":%lld,\"verified\":", (long long)maxround);
    if (!rc)
        rc = nr ? put_source(b, &src[latest]) : dc__buf_puts(b, "null");
    dc__free(src);
    if (rc) {
        reports_free(rp, nr);
        goto nomem;
    }
    rc = conflicts_json(&c->tmp, c->r, &c->k, did, rp, nr, &any, &c->plain);
    reports_free(rp, nr);
    if (rc == DC_ECORRUPT)
        goto fail;
    if (rc || dc__buf_printf(b, ",\"flagged\":%s,\"conflicts\":", any ? "true" : "false") ||
        dc__buf_put(b, c->tmp.ptr, c->tmp.size) || dc__buf_printf(b, ",\"space\":\"%s\"", c->space))
        goto nomem;
    if (rec->ne) {
        if (dc__buf_puts(b, ",\"@events\":["))
            goto nomem;
        for (size_t i = 0; i < rec->ne; i++)
            if ((i && dc__buf_putc(b, ',')) || dc__rev_json(b, &rec->events[i]))
                goto nomem;
        if (dc__buf_putc(b, ']'))
            goto nomem;
    }
    if (dc__buf_putc(b, '}'))
        goto nomem;
    return 0;
nomem:
    rc = DC_ENOMEM;
fail:
    if (rc == DC_ENOMEM)
        return dc__model_fail(c->r, rc, "registry find: out of memory");
    return rc;
}

/* Pass 1 of find: where he is kept; the reports of every copy after the
 * first (a driver kept twice is one person). */
static int locate_cb(void *user, const dc__rec *rec) {
    read_ctx *c = user;
    if (!c->any[0])
        snprintf(c->any, sizeof c->any, "%s", c->space);
    if (!c->primary[0] && !(c->left && dc__registry_emptied(rec))) {
        snprintf(c->primary, sizeof c->primary, "%s", c->space);
        return 0;
    }
    for (size_t i = 0; i < rec->nf; i++)
        if (rec->f[i].member && rec->f[i].v.kind == DC_STR &&
            strcmp(rec->f[i].name, F_REPORTS) == 0 &&
            strs_push(&c->others, rec->f[i].v.str, rec->f[i].v.len))
            return dc__model_fail(c->r, DC_ENOMEM, "registry find: out of memory");
    return 0;
}

/* The driver id for an identity number, with the lookup key of `space`. */
static int lookup_id(char did[DID_LEN + 1], dc_replica *r, const keys *k, const char *id_number,
                     const char *what) {
    char id[19];
    const char *why = id_normalise(id, id_number, strlen(id_number));
    if (why)
        return dc__model_fail(r, DC_EINVAL, "%s: %s", what, why);
    uint8_t h[32];
    id_hash(h, k, id);
    sodium_memzero(id, sizeof id);
    driver_id(did, h);
    return 0;
}

int dc_registry_find(dc_buf *out, dc_replica *r, const char *space, const char *id_number) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_find: the replica is NULL");
    if (!out || !space || !id_number)
        return dc__model_fail(r, DC_EMISUSE,
                              "registry find: out, space and id_number must not be NULL");
    read_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    dc_buf b = DC_BUF_INIT;
    c.out = &b;
    char did[DID_LEN + 1];
    char(*scope)[33] = NULL;
    size_t nscope = 0;
    int rc = keys_derive(&c.k, r, space);
    if (!rc)
        rc = lookup_id(did, r, &c.k, id_number, "registry find");
    if (!rc)
        rc = dc__registry_scope(r, space, &scope, &nscope);
    for (size_t i = 0; i < nscope && !rc; i++) {
        c.space = scope[i];
        int left = dc__registry_left_behind(r, scope[i], did);
        if (left < 0) {
            rc = left;
            break;
        }
        c.left = left;
        rc = dc__records_each(r, scope[i], TYPE_DRIVER, did, locate_cb, &c);
    }
    dc__free(scope);
    /* Only copies left behind.  Where they forward him is held here and
     * does not keep him either (two devices moved him at once, in opposite
     * directions): the first of them, with the reports of all.  Otherwise
     * he is kept where this device cannot read: say where, below. */
    if (!rc && !c.primary[0] && c.any[0]) {
        hop h = {false, false, ""};
        dc__records_each(r, c.any, "moved", did, hop_moved, &h);
        dc__regpart dest;
        if (h.moved && dc__registry_part(r, h.space, &dest) == 0 && dest.has)
            memcpy(c.primary, c.any, 33); /* its part is held: he is not there */
    }
    if (!rc && c.primary[0]) {
        c.space = c.primary;
        rc = dc__records_each(r, c.primary, TYPE_DRIVER, did, find_cb, &c);
    }
    if (!rc && c.count == 0) {
        /* Not kept here: say where he went, when this space knows. */
        hop h = {false, false, ""};
        dc__records_each(r, c.any[0] ? c.any : space, "moved", did, hop_moved, &h);
        rc = h.moved ? dc__model_fail(r, DC_ENOTFOUND,
                                      "registry find: this driver moved to registry space %s; "
                                      "this device does not hold it",
                                      h.space)
                     : dc__model_fail(r, DC_ENOTFOUND,
                                      "registry find: no driver with this identity number in "
                                      "space %s%s",
                                      space, nscope > 1 ? " or its parts held here" : "");
    }
    if (!rc)
        dc__buf_move(out, &b);
    dc_buf_dispose(&b);
    read_ctx_dispose(&c);
    return rc;
}

int dc_registry_driver_id(dc_buf *out, dc_replica *r, const char *space, const char *id_number) {
    if (!r)
        return dc__last_set(DC_EMISUSE, "dc_registry_driver_id: the replica is NULL");
    if (!out || !space || !id_number)
        return dc__model_fail(r, DC_EMISUSE,
                              "registry driver id: out, space and id_number must not be NULL");
    keys k = {NULL};
    char did[DID_LEN + 1];
    int rc = keys_derive_n(&k, r, space, 1); /* an id needs only the lookup key */
    if (!rc)
        rc = lookup_id(did, r, &k, id_number, "registry driver id");
    keys_free(&k);
    if (rc)
        return rc;
    dc__buf_clear(out);
    if (dc__buf_put(out, did, DID_LEN))
        return dc__model_fail(r, DC_ENOMEM, "registry driver id: out of memory");
    return 0;
}
