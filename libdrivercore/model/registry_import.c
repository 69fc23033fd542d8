/*
 * model/registry_import.c — importing a registry list: a CSV (RFC 4180) of
 * one source and round, each row checked and normalised, then written as a
 * report into the `driver` record of its person (keyed by the hash of the
 * identity number, registry_facts.h) in batches of transactions; rows of
 * drivers the space forwards elsewhere are written where they are kept.
 * The report says what was read, added and refused, row by row
 * (docs/domain.md, "The registry").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "drivercore/record.h"
#include "drivercore/registry.h"
#include "drivercore/txn.h"
#include "model/org_int.h"
#include "model/registry_facts.h"
#include "model/registry_int.h"
#include "model/read.h"

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
        if (*v && !dc__reg_strs_has(out, v) && dc__strs_push(out, v, strlen(v)))
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
    dc__reg_strs_clear(&g->plates);
    dc__reg_strs_clear(&g->routes);
    dc__reg_strs_clear(&g->scope);
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
            snprintf(why, whyn, "column %s is not valid UTF-8 (save the file as UTF-8)",
                     dc__reg_cols[i]);
            return why;
        }
        for (size_t k = 0; k < g->len[i]; k++)
            if ((unsigned char)g->val[i][k] < 0x20 || g->val[i][k] == 0x7f) {
                snprintf(why, whyn, "column %s contains a line break or control character",
                         dc__reg_cols[i]);
                return why;
            }
        if (g->len[i] > FIELD_MAX) {
            snprintf(why, whyn, "column %s is longer than %d bytes", dc__reg_cols[i], FIELD_MAX);
            return why;
        }
    }
    if (g->len[C_NAME] == 0)
        return "name is empty";
    if (g->len[C_ID] == 0)
        return "id_number is empty";
    const char *e = dc__reg_id_normalise(g->id, g->val[C_ID], g->len[C_ID]);
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
    bool reading; /* in a read snapshot (dc_replica_read_begin), ended before any commit */
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
    return m->reading ? 0 : dc__dom_read_begin(m->r, &m->reading);
}

static void reading_off(imp *m) {
    dc__dom_read_end(m->r, m->reading);
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
        if (!dc__reg_strs_has(have, add->v[i])) {
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
    if (g->phone[0] && dc__reg_seal(&m->sealed, &m->k, did, "phone", g->phone, true))
        return DC_ENOMEM;
    const char *v[NFACT];
    size_t n[NFACT];
    for (int f = 0; f < NFACT; f++) {
        v[f] = g->val[dc__reg_facts[f].col];
        n[f] = g->len[dc__reg_facts[f].col];
    }
    v[F_PHONE] = g->phone[0] ? (const char *)m->sealed.ptr : "";
    n[F_PHONE] = g->phone[0] ? m->sealed.size : 0;
    v[F_STATUS] = g->status ? g->status : "";
    n[F_STATUS] = g->status ? strlen(g->status) : 0;
    if (m->level == 0 && m->method == 0
            ? dc__buf_printf(b, "1\t%s\t%lld", dc__reg_sources[m->source], (long long)m->round)
            : dc__buf_printf(b, "2\t%s\t%lld\t%s\t%s", dc__reg_sources[m->source],
                             (long long)m->round, dc__reg_levels[m->level],
                             dc__reg_methods[m->method]))
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
    dc__reg_id_hash(h, &m->k, g->id);
    dc__reg_driver_id(did, h);
    idslot *slot = idset_get(&m->ids, h);
    if (!slot)
        return DC_ENOMEM;
    /* A transaction's writes are read back only after it commits: a driver
     * met twice in one batch commits the batch first. */
    int rc;
    if (slot->batch == m->batch + 1 && (rc = commit(m)))
        return rc;
    if ((rc = reading_on(m)) || (rc = dc__reg_snap_read(&m->s, r, m->space, did)))
        return rc;
    if ((rc = build_report(m, did)))
        return rc;
    snap *s = &m->s;
    bool new_report = !dc__reg_strs_has(&s->reports, (const char *)m->report.ptr);

    report *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    fold fb[NFACT] = {{0}}, fa[NFACT] = {{0}};
    if ((rc = dc__reg_reports_parse(&before, &nb, &s->reports, NULL)) ||
        (rc = dc__reg_reports_parse(&after, &na, &s->reports,
                                    new_report ? (const char *)m->report.ptr : NULL)))
        goto out;
    for (int f = 0; f < NFACT; f++)
        if ((rc = dc__reg_fold_fact(&fb[f], before, nb, f)) ||
            (rc = dc__reg_fold_fact(&fa[f], after, na, f)))
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
        if ((rc = dc__reg_seal(&m->sealed, &m->k, did, "id_number", g->id, false)) ||
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
                if ((rc = dc__reg_unseal(&m->plain, &m->k, did, "phone", s->reg[f])) &&
                    rc != DC_ECORRUPT)
                    goto out;
                bool differs = rc != 0;
                if (!rc) {
                    dc_buf shown = DC_BUF_INIT;
                    if ((rc = dc__reg_unseal(&shown, &m->k, did, "phone", now)) &&
                        rc != DC_ECORRUPT) {
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
                if ((rc = dc__reg_unseal(&m->plain, &m->k, did, "phone", now)) ||
                    (rc = dc__reg_seal(&m->sealed, &m->k, did, "phone", (const char *)m->plain.ptr,
                                       false)) ||
                    (rc = set_str(m, did, dc__reg_facts[f].reg, (const char *)m->sealed.ptr)))
                    goto out;
                sodium_memzero(m->plain.ptr, m->plain.size);
            }
        } else if (!s->reg[f] || strcmp(s->reg[f], now) != 0) {
            if ((rc = set_str(m, did, dc__reg_facts[f].reg, now)))
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
        dc__reg_fold_dispose(&fb[f]);
        dc__reg_fold_dispose(&fa[f]);
    }
    dc__reg_reports_free(before, nb);
    dc__reg_reports_free(after, na);
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
        if (i >= w->n || !eq_ci(p, n, dc__reg_cols[i])) {
            snprintf(got, sizeof got, "%.*s", (int)(n > 60 ? 60 : n), p);
            if (!dc__utf8_valid((const uint8_t *)got, strlen(got)))
                strcpy(got, "(not UTF-8)");
            return dc__model_fail(
                r, DC_EINVAL,
                "registry import: the first line must be the header "
                "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
                "business_scope,political_status; column %d is %s%s%s, expected '%s'",
                i + 1, i < w->n ? "'" : "", i < w->n ? got : "missing", i < w->n ? "'" : "",
                dc__reg_cols[i]);
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

static int fwd_cb(void *user, const dc_record *rec) {
    imp *m = user;
    if (strlen(dc_record_id(rec)) != DID_LEN)
        return 0;
    if (DC__VEC_ROOM(m->fw, m->nfw, m->cfw))
        return dc__model_fail(m->r, DC_ENOMEM, "registry import: out of memory");
    fwd *f = &m->fw[m->nfw++];
    memcpy(f->did, dc_record_id(rec), DID_LEN + 1);
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
        rc = dc__dom_each(m->r, dest, TYPE_DRIVER, did, dc__reg_hop_driver, &h);
        if (!rc && !h.kept)
            rc = dc__dom_each(m->r, dest, "moved", did, dc__reg_hop_moved, &h);
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
    int level =
        o->level && *o->level ? dc__reg_index_of(dc__reg_levels, o->level, strlen(o->level)) : 0;
    int method = o->method ? dc__reg_index_of(dc__reg_methods, o->method, strlen(o->method)) : 0;
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
    if ((rc = dc__reg_keys_derive(&m.k, r, space)))
        goto out;
    if ((rc = dc__dom_each(r, space, "moved", NULL, fwd_cb, &m)))
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
            dc__reg_id_hash(h, &m.k, m.g.id);
            dc__reg_driver_id(did, h);
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
    dc__reg_keys_free(&m.k);
    dc__free(m.ids.s);
    dc__free(m.fw);
    dc_buf_dispose(&m.errors);
    dc_buf_dispose(&m.moved_away);
    dc_buf_dispose(&m.report);
    dc_buf_dispose(&m.sealed);
    dc_buf_dispose(&m.plain);
    dc_buf_dispose(&w.text);
    dc__reg_snap_dispose(&m.s);
    dc__strs_free(&m.g.plates);
    dc__strs_free(&m.g.routes);
    dc__strs_free(&m.g.scope);
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
