/*
 * Randomised convergence of the registry (issue 14): the value the registry
 * shows for a fact in conflict, and once a later round settles it, must be a
 * pure function of the reports, the same on every replica whatever the order
 * in which the lists were imported and the replicas synced.
 *
 *   test_registry_converge [STEPS] [SEED]     (defaults: 240 steps, seeds 1..4)
 *
 * Four replicas hold a registry root and two county registries: the province
 * office (r0, admin of all) and three desks enrolled as members.  A random
 * script imports small lists (the two lines, rounds 1 to 3, every fact drawn
 * from small pools so that lines disagree and later rounds settle), on random
 * replicas into the part each believes keeps the driver; syncs random pairs
 * by bundles, one way or both; and has the office move drivers between the
 * parts while the desks import offline (so rows land on copies a move left
 * behind and on moved entries that forward them).  After healing, for every
 * driver: `registry find` through the root prints the same bytes on every
 * replica; the values it shows and its flag equal those a reference fold,
 * written here from docs/domain.md and fed only the rows the script
 * imported, computes; every row imported is among its sources (nothing
 * lost); and `stats` and `registry conflicts` agree on every replica, with
 * the party members the reference counts.  The seed is printed, so a failure
 * replays exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "drivercore.h"
#include "../../common/replica_fixture.h"
#include "../../common/rng.h"

#define NREP 4
#define NDRV 6
#define NPART 2
#define MAXREP 512 /* distinct rows remembered per driver */

static dc_test_dir g_d;
static int g_steps = 240;
static uint64_t g_seed0 = 0;           /* 0: the default seeds */
static int64_t g_true = 1767225600000; /* 2026-01-01 UTC */
static const int64_t OFFSET[NREP] = {0, 90000, -45000, 30000};

static int64_t clock_of(void *user) {
    return g_true + *(const int64_t *)user;
}

static uint64_t g_rng;

static unsigned below(unsigned n) {
    return (unsigned)(dc_test_rnd(&g_rng) % n);
}

/* ---- the pools of facts, and the rows imported ---- */

enum { F_NAME, F_PHONE, F_EMPLOYER, F_STATUS, NF };
static const char *const NAMES[] = {"张三", "张叁"};
static const char *const PHONES[] = {"13800138000", "13912345678"};
static const char *const EMPLOYERS[] = {"顺丰冷链", "满帮平台", "个体经营"};
/* As written in the lists, and as the registry codes them. */
static const char *const STATUSES[] = {"正式党员", "群众", "预备党员"};
static const char *const STATUS_CODES[] = {"member", "masses", "probationary"};
static const char *const *const POOL[NF] = {NAMES, PHONES, EMPLOYERS, STATUSES};
static const unsigned POOLN[NF] = {2, 2, 3, 3};
static const char *const LEVELS[] = {NULL, "county", "branch", "township"};
static const char *const METHODS[] = {NULL, "visit", "phone"};

typedef struct row {
    int source, round, level, method;
    int v[NF]; /* index into POOL, -1: not reported */
} row;

typedef struct driver {
    char idn[19];
    row rows[MAXREP];
    int nrows;
} driver;

static driver g_drv[NDRV];

static void make_id(char out[19], const char *d17) {
    static const int W[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (d17[i] - '0') * W[i];
    memcpy(out, d17, 17);
    out[17] = "10X98765432"[sum % 11];
    out[18] = 0;
}

static void remember(driver *d, const row *w) {
    for (int i = 0; i < d->nrows; i++)
        if (memcmp(&d->rows[i], w, sizeof *w) == 0)
            return; /* the same row twice is the same report */
    if (d->nrows == MAXREP)
        fail_msg("more distinct rows than the test remembers");
    d->rows[d->nrows++] = *w;
}

/* ---- the reference fold (docs/domain.md, "Reports and conflicts" and
 * "The value shown"), written independently of model/registry.c ---- */

typedef struct ent {
    int value, source, round;
} ent;

static int ent_cmp(const void *a, const void *b) {
    const ent *x = a, *y = b;
    if (x->round != y->round)
        return x->round - y->round;
    if (x->source != y->source)
        return x->source - y->source;
    /* Values compare as the registry stores them: the status code, the
     * sealed phone (a keyed hash decides, so only equality is compared
     * here: ties are broken below), other facts as text. */
    return x->value - y->value;
}

static int distinct_values(const ent *e, int n) {
    int d = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < i && e[j].value != e[i].value)
            j++;
        d += j == i;
    }
    return d;
}

/* The fold of fact f over d's rows: *conflict, and the value shown as an
 * index into the pool (-1: never reported); for a conflict the caller
 * checks membership only where the registry's order depends on sealing. */
static int ref_fold(const driver *d, int f, bool *conflict, int *latest_values, int *nlatest) {
    ent cur[MAXREP], m[MAXREP];
    int ncur = 0, last = 0;
    for (;;) {
        int round = 0;
        for (int i = 0; i < d->nrows; i++)
            if (d->rows[i].v[f] >= 0 && d->rows[i].round > last &&
                (!round || d->rows[i].round < round))
                round = d->rows[i].round;
        if (!round)
            break;
        last = round;
        int nm = 0;
        for (int i = 0; i < d->nrows; i++) {
            const row *w = &d->rows[i];
            if (w->v[f] < 0 || w->round != round)
                continue;
            ent x = {w->v[f], w->source, round};
            int j = 0;
            while (j < nm && !(m[j].value == x.value && m[j].source == x.source))
                j++;
            if (j == nm)
                m[nm++] = x;
        }
        bool conf = distinct_values(cur, ncur) > 1;
        bool settles = false;
        if (conf && distinct_values(m, nm) == 1)
            for (int i = 0; i < ncur && !settles; i++)
                settles = cur[i].value == m[0].value;
        if (settles) {
            ncur = 0;
        } else {
            int k = 0;
            for (int i = 0; i < ncur; i++) {
                bool replaced = false;
                for (int j = 0; j < nm && !replaced; j++)
                    replaced = m[j].source == cur[i].source;
                if (!replaced)
                    cur[k++] = cur[i];
            }
            ncur = k;
        }
        for (int j = 0; j < nm; j++)
            cur[ncur++] = m[j];
    }
    *conflict = distinct_values(cur, ncur) > 1;
    *nlatest = 0;
    if (!ncur)
        return -1;
    qsort(cur, (size_t)ncur, sizeof *cur, ent_cmp);
    /* The value shown: the latest round's first entry, organisation line
     * first.  Within one source, the registry orders values bytewise as
     * it stores them; the candidates are returned for the caller. */
    int lr = cur[ncur - 1].round, src = 3;
    for (int i = 0; i < ncur; i++)
        if (cur[i].round == lr && cur[i].source < src)
            src = cur[i].source;
    for (int i = 0; i < ncur; i++)
        if (cur[i].round == lr && cur[i].source == src)
            latest_values[(*nlatest)++] = cur[i].value;
    return latest_values[0];
}

/* ---- the replicas ---- */

typedef struct world {
    dc_replica *r[NREP];
    int64_t off[NREP];
    char root[33], part[NPART][33];
} world;

static dc_replica *open_rep(world *w, int i) {
    char path[512];
    snprintf(path, sizeof path, "%s/r%d.db", g_d.path, i);
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    w->off[i] = OFFSET[i];
    o.clock = clock_of;
    o.clock_user = &w->off[i];
    dc_replica *r = NULL;
    if (dc_replica_open(&r, path, &o) != 0)
        fail_msg("open %s: %s", path, dc_error_last());
    return r;
}

static void sync_one(world *w, int from, int to) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(w->r[from], dc_bundle_export(&b, w->r[from], NULL));
    dc_test_ok(w->r[to], dc_bundle_import(w->r[to], b.ptr, b.size, NULL));
    dc_test_ok(w->r[to], dc_test_accept_invitations(w->r[to]));
    dc_buf_dispose(&b);
}

static void heal(world *w) {
    for (int round = 0; round < 2; round++)
        for (int a = 0; a < NREP; a++)
            for (int b = 0; b < NREP; b++)
                if (a != b)
                    sync_one(w, a, b);
}

static int holds(dc_replica *r, const char *space, const char *did, bool *emptied) {
    dc_buf b = DC_BUF_INIT;
    int rc = dc_record_get(&b, r, space, "driver", did);
    if (rc == 0 && emptied)
        *emptied = strstr((const char *)b.ptr, "\"id_hash\":\"") == NULL;
    dc_buf_dispose(&b);
    return rc == 0;
}

static int forwards(dc_replica *r, const char *space, const char *did) {
    dc_buf b = DC_BUF_INIT;
    int rc = dc_record_get(&b, r, space, "moved", did);
    dc_buf_dispose(&b);
    return rc == 0;
}

/* The part replica i believes keeps driver k: where it holds a kept copy,
 * else his first part. */
static int part_of(world *w, int i, int k, const char *did) {
    for (int p = 0; p < NPART; p++) {
        bool emptied = false;
        if (did && holds(w->r[i], w->part[p], did, &emptied) &&
            !(emptied && forwards(w->r[i], w->part[p], did)))
            return p;
    }
    return k % NPART;
}

static char g_did[NDRV][32];

static void import_rows(world *w, int i) {
    char csv[4096] = "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
                     "business_scope,political_status\n";
    int source = 1 + (int)below(2), round = 1 + (int)below(3);
    int level = (int)below(4), method = (int)below(3);
    int k = (int)below(NDRV), n = 1 + (int)below(2), p = part_of(w, i, k, g_did[k]);
    for (int j = 0; j < n; j++) {
        int d = (k + j) % NDRV;
        if (part_of(w, i, d, g_did[d]) != p)
            continue; /* a list is a part's: rows of other parts' drivers go there */
        row x = {source, round, level, method, {0}};
        x.v[F_NAME] = (int)below(POOLN[F_NAME]);
        for (int f = 1; f < NF; f++)
            x.v[f] = below(4) == 0 ? -1 : (int)below(POOLN[f]);
        size_t len = strlen(csv);
        snprintf(csv + len, sizeof csv - len, "%s,%s,%s,,,%s,,,,%s\n", NAMES[x.v[F_NAME]],
                 g_drv[d].idn, x.v[F_PHONE] >= 0 ? PHONES[x.v[F_PHONE]] : "",
                 x.v[F_EMPLOYER] >= 0 ? EMPLOYERS[x.v[F_EMPLOYER]] : "",
                 x.v[F_STATUS] >= 0 ? STATUSES[x.v[F_STATUS]] : "");
        remember(&g_drv[d], &x);
    }
    dc_registry_import_options o = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    o.source = source;
    o.round = round;
    o.level = LEVELS[level];
    o.method = METHODS[method];
    dc_buf rep = DC_BUF_INIT;
    dc_test_ok(w->r[i], dc_registry_import(&rep, w->r[i], w->part[p], &o, (const uint8_t *)csv,
                                           strlen(csv)));
    if (!strstr((const char *)rep.ptr, "\"errors\":[]") ||
        !strstr((const char *)rep.ptr, "\"moved_away\":[]"))
        fail_msg("import on r%d: %s", i, (const char *)rep.ptr);
    dc_buf_dispose(&rep);
}

/* The office moves a driver it keeps to the other part. */
static void move_one(world *w) {
    int k = (int)below(NDRV);
    int from = part_of(w, 0, k, g_did[k]);
    if (!holds(w->r[0], w->part[from], g_did[k], NULL))
        return;
    dc_registry_move_options o = DC_REGISTRY_MOVE_OPTIONS_INIT;
    o.date = "2026-03-01";
    dc_test_ok(w->r[0],
               dc_registry_move(NULL, w->r[0], w->part[from], g_did[k], w->part[1 - from], &o));
}

static char *find_text(dc_replica *r, const char *space, const char *idn) {
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(r, dc_registry_find(&b, r, space, idn));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

static char *text_of(dc_replica *r, int which, const char *space) {
    dc_buf b = DC_BUF_INIT;
    if (which == 0)
        dc_test_ok(r, dc_registry_conflicts(&b, r, space));
    else
        dc_test_ok(r, dc_stats_at(&b, r, NULL, NULL, g_true));
    char *s = strdup((const char *)b.ptr);
    dc_buf_dispose(&b);
    return s;
}

static void check(world *w, uint64_t seed) {
    int pm = 0;
    for (int k = 0; k < NDRV; k++) {
        driver *d = &g_drv[k];
        char *first = find_text(w->r[0], w->root, d->idn);
        for (int i = 1; i < NREP; i++) {
            char *other = find_text(w->r[i], w->root, d->idn);
            if (strcmp(first, other) != 0)
                fail_msg("seed %llu: driver %d reads differently on r0 and r%d:\n%s\n%s",
                         (unsigned long long)seed, k, i, first, other);
            free(other);
        }
        json_t *j = json_loads(first, 0, NULL);
        bool any_conflict = false;
        static const char *const KEY[NF] = {"name", "phone", "employer", "status"};
        for (int f = 0; f < NF; f++) {
            bool conflict;
            int cand[MAXREP], nc;
            int v = ref_fold(d, f, &conflict, cand, &nc);
            any_conflict |= conflict;
            const char *shown = json_string_value(json_object_get(j, KEY[f]));
            if (v < 0)
                continue;
            /* The shown value: of the latest round's values of the first
             * source, the bytewise smallest as stored (a phone is stored
             * sealed, in an order no one can predict: any of them). */
            const char *want = NULL;
            bool match = false;
            for (int c = 0; c < nc; c++) {
                const char *x = f == F_STATUS ? STATUS_CODES[cand[c]] : POOL[f][cand[c]];
                if (f == F_PHONE)
                    match |= shown && strcmp(shown, x) == 0;
                else if (!want || strcmp(x, want) < 0)
                    want = x;
            }
            if (f != F_PHONE)
                match = shown && strcmp(shown, want) == 0;
            if (!match)
                fail_msg("seed %llu: driver %d %s shows %s, the reports say otherwise:\n%s",
                         (unsigned long long)seed, k, KEY[f], shown ? shown : "(none)", first);
            if (f == F_STATUS && nc >= 1) {
                const char *code = shown;
                pm += code && (strcmp(code, "member") == 0 || strcmp(code, "probationary") == 0);
            }
        }
        if (json_is_true(json_object_get(j, "flagged")) != any_conflict)
            fail_msg("seed %llu: driver %d flagged %s, the reference says %s:\n%s",
                     (unsigned long long)seed, k,
                     json_is_true(json_object_get(j, "flagged")) ? "yes" : "no",
                     any_conflict ? "yes" : "no", first);
        /* Nothing lost: every (source, round, level, method) imported is a
         * source of his record. */
        json_t *src = json_object_get(j, "sources");
        for (int i = 0; i < d->nrows; i++) {
            const row *x = &d->rows[i];
            bool found = false;
            size_t s;
            json_t *e;
            json_array_foreach(src, s, e) {
                const char *lv = json_string_value(json_object_get(e, "level"));
                const char *me = json_string_value(json_object_get(e, "method"));
                found |= (int)json_integer_value(json_object_get(e, "round")) == x->round &&
                         strcmp(json_string_value(json_object_get(e, "source")),
                                x->source == 1 ? "organisation" : "transport") == 0 &&
                         ((!lv && !LEVELS[x->level]) ||
                          (lv && LEVELS[x->level] && strcmp(lv, LEVELS[x->level]) == 0)) &&
                         me && strcmp(me, METHODS[x->method] ? METHODS[x->method] : "list") == 0;
            }
            if (!found)
                fail_msg("seed %llu: driver %d lost a row of round %d:\n%s",
                         (unsigned long long)seed, k, x->round, first);
        }
        json_decref(j);
        free(first);
    }
    for (int which = 0; which < 2; which++) {
        char *a = text_of(w->r[0], which, w->root);
        for (int i = 1; i < NREP; i++) {
            char *b = text_of(w->r[i], which, w->root);
            if (strcmp(a, b) != 0)
                fail_msg("seed %llu: %s differ on r0 and r%d:\n%s\n%s", (unsigned long long)seed,
                         which ? "stats" : "conflicts", i, a, b);
            free(b);
        }
        if (which == 1) {
            json_t *j = json_loads(a, 0, NULL);
            assert_int_equal(json_integer_value(json_object_get(j, "drivers")), NDRV);
            assert_int_equal(json_integer_value(json_object_get(j, "party_member_drivers")), pm);
            json_decref(j);
        }
        free(a);
    }
}

static void run(uint64_t seed) {
    printf("registry convergence: seed %llu, %d steps\n", (unsigned long long)seed, g_steps);
    g_rng = seed;
    memset(g_drv, 0, sizeof g_drv);
    for (int k = 0; k < NDRV; k++) {
        char d17[18];
        snprintf(d17, sizeof d17, "52010219800101%03d", 100 + k + (int)(seed % 500));
        make_id(g_drv[k].idn, d17);
    }
    world w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < NREP; i++)
        w.r[i] = open_rep(&w, i);
    dc_buf b = DC_BUF_INIT;
    dc_test_ok(w.r[0], dc_registry_create(&b, w.r[0], "520000", NULL));
    memcpy(w.root, b.ptr, 33);
    static const char *const REGION[NPART] = {"520102", "520112"};
    for (int p = 0; p < NPART; p++) {
        dc_registry_part_options o = DC_REGISTRY_PART_OPTIONS_INIT;
        o.root = w.root;
        o.region = REGION[p];
        dc_test_ok(w.r[0], dc_registry_part_create(&b, w.r[0], &o));
        memcpy(w.part[p], b.ptr, 33);
        for (int i = 1; i < NREP; i++) {
            dc_buf card = DC_BUF_INIT;
            dc_test_ok(w.r[i], dc_replica_card(&card, w.r[i]));
            dc_test_ok(w.r[0], dc_registry_enrol(w.r[0], w.part[p], (const char *)card.ptr,
                                                 DC_ROLE_MEMBER));
            dc_buf_dispose(&card);
        }
    }
    dc_buf_dispose(&b);
    heal(&w);
    for (int k = 0; k < NDRV; k++) {
        dc_buf id = DC_BUF_INIT;
        dc_test_ok(w.r[0], dc_registry_driver_id(&id, w.r[0], w.part[0], g_drv[k].idn));
        snprintf(g_did[k], sizeof g_did[k], "%s", (const char *)id.ptr);
        dc_buf_dispose(&id);
    }
    for (int s = 0; s < g_steps; s++) {
        g_true += 1000 * (1 + (int64_t)below(60));
        unsigned x = below(100);
        if (x < 55) {
            import_rows(&w, (int)below(NREP));
        } else if (x < 63) {
            move_one(&w);
        } else {
            int a = (int)below(NREP), c = (int)below(NREP - 1);
            c += c >= a;
            sync_one(&w, a, c);
            if (below(2))
                sync_one(&w, c, a);
        }
    }
    heal(&w);
    check(&w, seed);
    for (int i = 0; i < NREP; i++)
        dc_replica_close(w.r[i]);
    /* A fresh directory per seed. */
    for (int i = 0; i < NREP; i++) {
        static const char *const sfx[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            char p[600];
            snprintf(p, sizeof p, "%s/r%d.db%s", g_d.path, i, sfx[k]);
            unlink(p);
        }
    }
}

/* The issue's case, step by step: two offices import the two lines offline
 * (the organisation line says 正式党员, the transport line 群众), sync, and
 * a later round confirms one value.  Every replica then shows the confirmed
 * value, unflagged, and counts the party members alike, whichever office
 * imported last and whichever way the confirmation came. */
static void issue_case(int confirm, int last_office, int confirmer) {
    world w;
    memset(&w, 0, sizeof w);
    for (int i = 0; i < 2; i++)
        w.r[i] = open_rep(&w, i);
    dc_buf b = DC_BUF_INIT, card = DC_BUF_INIT;
    dc_test_ok(w.r[0], dc_registry_create(&b, w.r[0], "520000", NULL));
    memcpy(w.root, b.ptr, 33);
    dc_registry_part_options o = DC_REGISTRY_PART_OPTIONS_INIT;
    o.root = w.root;
    o.region = "520112";
    dc_test_ok(w.r[0], dc_registry_part_create(&b, w.r[0], &o));
    memcpy(w.part[0], b.ptr, 33);
    dc_test_ok(w.r[1], dc_replica_card(&card, w.r[1]));
    dc_test_ok(w.r[0],
               dc_registry_enrol(w.r[0], w.part[0], (const char *)card.ptr, DC_ROLE_MEMBER));
    dc_buf_dispose(&card);
    dc_buf_dispose(&b);
    sync_one(&w, 0, 1);
    char idn[19], csv[512];
    make_id(idn, "52011219790512031");
    static const char *const LINE[2] = {"正式党员", "群众"};
    for (int k = 0; k < 2; k++) {
        int office = k == last_office ? 1 : 0; /* office 1 imports second */
        g_true += 60000;
        snprintf(csv, sizeof csv,
                 "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
                 "business_scope,political_status\n黄红兴,%s,,,,,,,,%s\n",
                 idn, LINE[k]);
        dc_registry_import_options io = DC_REGISTRY_IMPORT_OPTIONS_INIT;
        io.source = k == 0 ? DC_SOURCE_ORGANISATION : DC_SOURCE_TRANSPORT;
        io.round = 1;
        dc_buf rep = DC_BUF_INIT;
        dc_test_ok(w.r[office], dc_registry_import(&rep, w.r[office], w.part[0], &io,
                                                   (const uint8_t *)csv, strlen(csv)));
        dc_buf_dispose(&rep);
    }
    sync_one(&w, 0, 1);
    sync_one(&w, 1, 0);
    for (int i = 0; i < 2; i++) {
        char *t = find_text(w.r[i], w.root, idn);
        json_t *j = json_loads(t, 0, NULL);
        assert_true(json_is_true(json_object_get(j, "flagged")));
        /* In conflict: the organisation line's value, on both. */
        assert_string_equal(json_string_value(json_object_get(j, "status")), "member");
        json_decref(j);
        free(t);
    }
    /* Round 2 confirms one value, on one office, offline; then they sync. */
    g_true += 60000;
    snprintf(csv, sizeof csv,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n黄红兴,%s,,,,,,,,%s\n",
             idn, LINE[confirm]);
    dc_registry_import_options io = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    io.source = DC_SOURCE_TRANSPORT;
    io.round = 2;
    io.level = "branch";
    io.method = "visit";
    dc_buf rep = DC_BUF_INIT;
    dc_test_ok(w.r[confirmer], dc_registry_import(&rep, w.r[confirmer], w.part[0], &io,
                                                  (const uint8_t *)csv, strlen(csv)));
    dc_buf_dispose(&rep);
    sync_one(&w, confirmer, 1 - confirmer);
    const char *want = confirm == 0 ? "member" : "masses";
    char *texts[2];
    for (int i = 0; i < 2; i++) {
        texts[i] = find_text(w.r[i], w.root, idn);
        json_t *j = json_loads(texts[i], 0, NULL);
        assert_false(json_is_true(json_object_get(j, "flagged")));
        assert_string_equal(json_string_value(json_object_get(j, "status")), want);
        json_t *v = json_object_get(j, "verified");
        assert_string_equal(json_string_value(json_object_get(v, "method")), "visit");
        assert_string_equal(json_string_value(json_object_get(v, "level")), "branch");
        json_decref(j);
        dc_buf s = DC_BUF_INIT;
        dc_test_ok(w.r[i], dc_stats_at(&s, w.r[i], NULL, NULL, g_true));
        json_t *st = json_loads((const char *)s.ptr, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(st, "party_member_drivers")),
                         confirm == 0 ? 1 : 0);
        json_decref(st);
        dc_buf_dispose(&s);
    }
    assert_string_equal(texts[0], texts[1]);
    free(texts[0]);
    free(texts[1]);
    for (int i = 0; i < 2; i++)
        dc_replica_close(w.r[i]);
    for (int i = 0; i < 2; i++) {
        static const char *const sfx[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            char p[600];
            snprintf(p, sizeof p, "%s/r%d.db%s", g_d.path, i, sfx[k]);
            unlink(p);
        }
    }
}

static void test_issue_case(void **state) {
    (void)state;
    for (int confirm = 0; confirm < 2; confirm++)
        for (int last = 0; last < 2; last++)
            for (int who = 0; who < 2; who++)
                issue_case(confirm, last, who);
}

static void test_random_scripts(void **state) {
    (void)state;
    if (g_seed0) {
        run(g_seed0);
        return;
    }
    for (uint64_t seed = 1; seed <= 4; seed++)
        run(seed);
}

static int setup(void **state) {
    (void)state;
    return dc_test_dir_make(&g_d, "regconv");
}

static int teardown(void **state) {
    (void)state;
    return dc_test_dir_remove(&g_d);
}

int main(int argc, char **argv) {
    if (argc > 1)
        g_steps = atoi(argv[1]);
    if (argc > 2)
        g_seed0 = strtoull(argv[2], NULL, 10);
    if (g_steps < 1)
        g_steps = 240;
    if (dc_global_init(NULL) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_issue_case, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_scripts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
