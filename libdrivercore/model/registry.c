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
 *
 * This file holds what the registry's calls share (registry_facts.h): the
 * keys and sealed values, the report members and their fold, and the value
 * shown (registry_int.h).  The import is registry_import.c; the reads that
 * answer in JSON (conflicts, find) are registry_find.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/base.h"
#include "drivercore/record.h"
#include "drivercore/registry.h"
#include "drivercore/txn.h"
#include "model/org_int.h"
#include "model/registry_facts.h"
#include "model/registry_int.h"
#include "model/read.h"

/* ---- the CSV columns and the reported facts ---- */

const char *const dc__reg_cols[NCOL] = {
    "name",     "id_number", "phone",         "hukou_region",   "plate",
    "employer", "route",     "activity_area", "business_scope", "political_status"};

const dc__reg_fact dc__reg_facts[NFACT] = {
    {C_NAME, "name"},         {C_PHONE, "phone_sealed"}, {C_HUKOU, "hukou_region"},
    {C_EMPLOYER, "employer"}, {C_AREA, "activity_area"}, {C_STATUS, "status"},
};

const char *const dc__reg_sources[] = {NULL, "organisation", "transport", NULL};

/* ---- small string lists ---- */

bool dc__reg_strs_has(const strs *s, const char *p) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], p) == 0)
            return true;
    return false;
}

int dc__reg_str_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void dc__reg_strs_clear(strs *s) {
    for (size_t i = 0; i < s->n; i++)
        dc__free(s->v[i]);
    s->n = 0;
}

/* ---- keys, hashes and sealed values ---- */

void dc__reg_keys_free(keys *k) {
    dc__secret_free(k->mem);
    k->mem = NULL;
}

/* The keys come from the registry's root (docs/domain.md, "Registry
 * spaces"): every part of one province derives the same ones, so a person
 * has one id and his sealed values open wherever he is kept.  `n` is how
 * many are needed: 1 (the lookup key only, for a driver id) or 3. */
int dc__reg_keys_derive_n(keys *k, dc_replica *r, const char *space, int n) {
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
            dc__reg_keys_free(k);
            return rc;
        }
    }
    return 0;
}

int dc__reg_keys_derive(keys *k, dc_replica *r, const char *space) {
    return dc__reg_keys_derive_n(k, r, space, 3);
}

/* Normalises an identity number (ASCII spaces removed, 'x' upper-cased)
 * into out[19] and checks it: 17 digits and a check character by GB 11643
 * (ISO 7064 MOD 11-2).  Returns NULL or why it is not one; the message
 * never repeats the number, which must not reach a log. */
const char *dc__reg_id_normalise(char out[19], const char *s, size_t n) {
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
void dc__reg_id_hash(uint8_t h[32], const keys *k, const char id[19]) {
    crypto_generichash(h, 32, (const uint8_t *)id, 18, K_LOOKUP(k), 32);
}

void dc__reg_driver_id(char did[DID_LEN + 1], const uint8_t h[32]) {
    memcpy(did, "drv-", 4);
    dc__hex(did + 4, h, HASH_PREFIX);
}

/* Seals `plain` for the field `what` of driver `did` into hex(nonce ||
 * ciphertext).  The associated data binds the value to its place, so a
 * sealed phone cannot be passed off as another driver's or as an identity
 * number.  With `deterministic` the nonce is a keyed hash of place and
 * value: equal values then seal equally, which the reports need to compare
 * phones without opening them (and which reveals only that equality). */
int dc__reg_seal(dc_buf *out, const keys *k, const char *did, const char *what, const char *plain,
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
int dc__reg_unseal(dc_buf *out, const keys *k, const char *did, const char *what, const char *hex) {
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

const char *const dc__reg_levels[] = {"",         "province", "city",   "county",
                                      "township", "village",  "branch", NULL};
const char *const dc__reg_methods[] = {"list", "visit", "phone", NULL};

void dc__reg_report_dispose(report *p) {
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

int dc__reg_index_of(const char *const *names, const char *p, size_t n) {
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
    if ((sp->source = dc__reg_index_of(dc__reg_sources + 1, part[1], len[1]) + 1) < 1)
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
    if (head == 5 && ((sp->level = dc__reg_index_of(dc__reg_levels, part[3], len[3])) < 0 ||
                      (sp->method = dc__reg_index_of(dc__reg_methods, part[4], len[4])) < 0))
        return 0;
    for (int f = 0; f < NFACT; f++) {
        sp->fact[f] = part[head + f];
        sp->flen[f] = len[head + f];
    }
    return 1;
}

/* Parses a report member: 1, 0 for one this version cannot read, or
 * DC_ENOMEM. */
int dc__reg_report_parse(report *p, const char *s) {
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
            dc__reg_report_dispose(p);
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

void dc__reg_fold_dispose(fold *fo) {
    dc__free(fo->e);
    memset(fo, 0, sizeof *fo);
}

size_t dc__reg_distinct(const entry *e, size_t n) {
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

int dc__reg_fold_fact(fold *fo, const report *rp, size_t nr, int f) {
    memset(fo, 0, sizeof *fo);
    if (nr == 0)
        return 0;
    entry *m = dc__calloc(nr, sizeof *m);
    fo->cap = 2 * nr;
    fo->e = dc__calloc(fo->cap, sizeof *fo->e);
    if (!m || !fo->e) {
        dc__free(m);
        dc__reg_fold_dispose(fo);
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
        bool conflict = dc__reg_distinct(fo->e, fo->n) > 1;
        bool settles = false;
        if (conflict && dc__reg_distinct(m, nm) == 1)
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
    fo->conflict = dc__reg_distinct(fo->e, fo->n) > 1;
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

static void snap_clear(snap *s) {
    s->exists = s->has_hash = s->has_sealed_id = false;
    for (int f = 0; f < NFACT; f++) {
        dc__free(s->reg[f]);
        s->reg[f] = NULL;
    }
    dc__reg_strs_clear(&s->plates);
    dc__reg_strs_clear(&s->routes);
    dc__reg_strs_clear(&s->scope);
    dc__reg_strs_clear(&s->reports);
}

void dc__reg_snap_dispose(snap *s) {
    snap_clear(s);
    dc__strs_free(&s->plates);
    dc__strs_free(&s->routes);
    dc__strs_free(&s->scope);
    dc__strs_free(&s->reports);
}

/* ---- reading one driver for an import ----
 * Typed, through dc__dom_each_fields (one indexed lookup): the registers of
 * the facts, whether the id is hashed and sealed yet, and the string
 * members of his sets. */

static strs *snap_set(snap *s, const char *name) {
    return strcmp(name, "plates") == 0           ? &s->plates
           : strcmp(name, "routes") == 0         ? &s->routes
           : strcmp(name, "business_scope") == 0 ? &s->scope
           : strcmp(name, F_REPORTS) == 0        ? &s->reports
                                                 : NULL;
}

static int snap_cb(void *user, const dc_record *rec) {
    snap *s = user;
    s->exists = true;
    size_t nf = dc_record_field_count(rec);
    for (size_t i = 0; i < nf; i++) {
        const char *name;
        int member;
        if (dc_record_field_at(rec, i, &name, &member))
            continue;
        if (member) {
            strs *set = snap_set(s, name);
            if (set && dc__strs_from_set(set, rec, name))
                return DC_ENOMEM;
            continue;
        }
        const dc_value *v = dc_record_value(rec, name);
        if (!v || v->kind != DC_STR)
            continue;
        if (strcmp(name, "id_hash") == 0) {
            s->has_hash = true;
        } else if (strcmp(name, "id_sealed") == 0) {
            s->has_sealed_id = true;
        } else {
            for (int k = 0; k < NFACT; k++)
                if (!s->reg[k] && strcmp(name, dc__reg_facts[k].reg) == 0 &&
                    !(s->reg[k] = dc__strndup(dc__vstr(v), v->len)))
                    return DC_ENOMEM;
        }
    }
    return 0;
}

/* Reads driver `did`; a missing record leaves s->exists false. */
int dc__reg_snap_read(snap *s, dc_replica *r, const char *space, const char *did) {
    snap_clear(s);
    int rc = dc__dom_each_fields(r, space, TYPE_DRIVER, did, snap_cb, s);
    if (rc == DC_ENOMEM)
        return dc__model_fail(r, rc, "registry: out of memory reading driver %s", did);
    return rc;
}

void dc__reg_reports_free(report *rp, size_t n) {
    for (size_t i = 0; i < n; i++)
        dc__reg_report_dispose(&rp[i]);
    dc__free(rp);
}

/* Parses the report members of a driver (unknown formats skipped). */
int dc__reg_reports_parse(report **out, size_t *nout, const strs *members, const char *extra) {
    size_t cap = members->n + 1, n = 0;
    report *rp = dc__calloc(cap, sizeof *rp);
    if (!rp)
        return DC_ENOMEM;
    for (size_t i = 0; i <= members->n; i++) {
        const char *s = i < members->n ? members->v[i] : extra;
        int rc = s ? dc__reg_report_parse(&rp[n], s) : 0;
        if (rc < 0) {
            dc__reg_reports_free(rp, n);
            return rc;
        }
        n += rc == 1;
    }
    *out = rp;
    *nout = n;
    return 0;
}

/* ---- the value shown (docs/domain.md, "The value shown") ---- */

int dc__reg_fact_of_reg(const char *field) {
    for (int f = 0; f < NFACT; f++)
        if (strcmp(dc__reg_facts[f].reg, field) == 0)
            return f;
    return -1;
}

/* Calls fn on every report member of rec, then on extra[]. */
typedef struct rep_iter {
    const dc_record *rec;
    const char *const *extra;
    size_t extra_n, i, j;
    const dc_value *vals; /* the reports, read at the first call */
    size_t n;
} rep_iter;

static const char *rep_next(rep_iter *it) {
    if (!it->vals && it->i == 0)
        it->vals = dc_record_set_values(it->rec, F_REPORTS, &it->n);
    while (it->i < it->n) {
        const dc_value *v = &it->vals[it->i++];
        if (v->kind == DC_STR)
            return dc__vstr(v);
    }
    return it->j < it->extra_n ? it->extra[it->j++] : NULL;
}

/* The value shown of fact f when its reports disagree: the full fold. */
static int shown_fold(const dc_record *rec, int f, dc_buf *out, const char *const *extra,
                      size_t extra_n) {
    strs all = {NULL, 0, 0};
    rep_iter it = {rec, extra, extra_n, 0, 0, NULL, 0};
    const char *s;
    int rc = 0;
    while (!rc && (s = rep_next(&it)) != NULL)
        rc = dc__strs_push(&all, s, strlen(s));
    report *rp = NULL;
    size_t nr = 0;
    fold fo = {0};
    if (!rc)
        rc = dc__reg_reports_parse(&rp, &nr, &all, NULL);
    if (!rc)
        rc = dc__reg_fold_fact(&fo, rp, nr, f);
    if (!rc && fo.current)
        rc = dc__buf_puts(out, fo.current) ? DC_ENOMEM : 1;
    dc__reg_fold_dispose(&fo);
    dc__reg_reports_free(rp, nr);
    dc__strs_free(&all);
    return rc;
}

int dc__registry_shown_n(const dc_record *rec, const char *const *fields, size_t n, dc_buf *outs,
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
        f[i] = dc__reg_fact_of_reg(fields[i]);
        one[i] = NULL;
        onen[i] = 0;
        differ[i] = false;
        any |= f[i] >= 0;
    }
    /* The fold's value.  Almost always the reports agree: then it is their
     * one value, found without building the fold, every report read once
     * for all the fields asked. */
    rep_iter it = {rec, extra, extra_n, 0, 0, NULL, 0};
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
            const dc_value *v = dc_record_value(rec, fields[i]);
            rc = !v || v->kind != DC_STR                      ? 0
                 : dc__buf_put(&outs[i], dc__vstr(v), v->len) ? DC_ENOMEM
                                                              : 1;
        }
        if (rc < 0)
            return rc;
        has[i] = rc;
    }
    return 0;
}

int dc__registry_shown(const dc_record *rec, const char *field, dc_buf *out,
                       const char *const *extra, size_t extra_n) {
    int has = 0;
    int rc = dc__registry_shown_n(rec, &field, 1, out, &has, extra, extra_n);
    return rc ? rc : has;
}

/* ---- following a driver from space to space ---- */

int dc__reg_hop_driver(void *user, const dc_record *rec) {
    (void)rec;
    ((hop *)user)->kept = true;
    return 0;
}

int dc__reg_hop_moved(void *user, const dc_record *rec) {
    hop *h = user;
    h->moved = true;
    dc__org_rec_str(rec, "space", h->space, sizeof h->space);
    return 0;
}
