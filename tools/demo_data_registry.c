/*
 * tools/demo_data_registry.c — demo-data's drivers: planned from the
 * seed, written through dc_registry_import_csv as generated CSV of both
 * lines in rounds and chunks, into the registry root, its county parts and
 * the branches' parts; the stage dates of party membership; and the
 * drivers who moved to another county.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_data.h"
#include "vec.h"

/* ---- drivers: both lines, three rounds, through the registry import ---- */

static int pick_county(const long *cum, long total) {
    long x = (long)(demo_rnd() % (uint64_t)total);
    int lo = 0, hi = NCOUNTY - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A 64-bit key of an identity number's first 17 digits, for uniqueness. */
static uint64_t idkey(const char *idn) {
    uint64_t v = 0;
    for (int i = 0; i < 17; i++)
        v = v * 10 + (uint64_t)(idn[i] - '0');
    return v;
}

int demo_plan_drivers(gen *g) {
    long cum[NCOUNTY], total = 0;
    for (int i = 0; i < NCOUNTY; i++)
        cum[i] = (total += COUNTIES[i].weight);
    g->nd = g->f.drivers;
    g->d = calloc((size_t)g->nd, sizeof *g->d);
    size_t hcap = 1;
    while (hcap < (size_t)g->nd * 2)
        hcap <<= 1;
    uint64_t *seen = calloc(hcap, sizeof *seen);
    long *order = malloc((size_t)g->nd * sizeof *order);
    if (!g->d || !seen || !order) {
        free(seen);
        free(order);
        return fail("demo-data: out of memory");
    }
    for (long i = 0; i < g->nd; i++) {
        drv *d = &g->d[i];
        d->county = (uint8_t)(i < g->f.wudang_drivers ? WUDANG : pick_county(cum, total));
        d->male = demo_chance(0.97);
        /* Household registration: mostly where he works, else elsewhere in
         * the province (drivers move between outflow and inflow areas). */
        int hk = demo_chance(0.8) ? d->county : (int)demo_rn(NCOUNTY);
        for (;;) {
            demo_id_number(d->idn, COUNTIES[hk].code, d->male);
            uint64_t key = idkey(d->idn) + 1;
            size_t j = (size_t)(key * 0x9e3779b97f4a7c15ull) & (hcap - 1);
            while (seen[j] && seen[j] != key)
                j = (j + 1) & (hcap - 1);
            if (!seen[j]) {
                seen[j] = key;
                break;
            }
        }
        order[i] = i;
    }
    free(seen);
    /* Party members: Wudang's 70 among its drivers, the rest elsewhere. */
    long wp = g->f.wudang_pm, op = g->f.pm - wp, nw = g->f.wudang_drivers;
    for (long i = 0; i < wp; i++) {
        long j = i + (long)demo_rn((uint32_t)(nw - i));
        long t = order[i];
        order[i] = order[j], order[j] = t;
        g->d[order[i]].status = demo_chance(0.93) ? S_MEMBER : S_PROBATIONARY;
    }
    for (long i = 0; i < op; i++) {
        long lo = nw + i, j = lo + (long)demo_rn((uint32_t)(g->nd - lo));
        long t = order[lo];
        order[lo] = order[j], order[j] = t;
        g->d[order[lo]].status = demo_chance(0.93) ? S_MEMBER : S_PROBATIONARY;
    }
    free(order);
    /* Those on the way: applicants, activists, development targets. */
    for (long i = 0; i < g->nd; i++) {
        drv *d = &g->d[i];
        if (d->status >= S_PROBATIONARY)
            continue;
        uint32_t x = demo_rn(1000);
        d->status = x < 5 ? S_APPLICANT : x < 8 ? S_ACTIVIST : x < 9 ? S_CANDIDATE : S_MASSES;
    }
    return EXIT_OK;
}

static int csv_row(sbuf *b, gen *g, long i, bool org_line, int variant) {
    drv *d = &g->d[i];
    uint64_t saved = demo_rng;
    int city = COUNTIES[d->county].city;
    char name[32], phone[12], p1[32], p2[32], r1[64], r2[64];
    /* The facts of a driver are drawn from a generator seeded by the seed
     * and his index, so both lines describe the same person. */
    demo_rng = demo_mix64(demo_mix64(g->seed) + (uint64_t)i);
    demo_person_name(name, sizeof name);
    demo_phone_number(phone);
    demo_plate(p1, sizeof p1, city, false);
    demo_plate(p2, sizeof p2, city, true);
    demo_route(r1, sizeof r1, city);
    demo_route(r2, sizeof r2, city);
    bool two_routes = demo_chance(0.4), trailer = demo_chance(0.3);
    const char *scope = demo_scope_of();
    const char *employer = demo_chance(0.45) ? g->enterprise[d->county][demo_rn(4)] : "个体经营";
    const char *hukou = NULL;
    char hk[8];
    snprintf(hk, sizeof hk, "%.6s", d->idn);
    hukou = hk;
    demo_rng = saved;
    /* Where the lines disagree (about 4% of the organisation line's rows):
     * an old phone number or a former employer. */
    if (variant == 1)
        demo_phone_number(phone);
    if (variant == 2)
        employer = "原单位（已离职）";
    int rc =
        demo_sb_printf(b, "%s,%s,%s,%s,%s%s%s,%s,%s%s%s,%s,%s,%s\n", name, d->idn, phone, hukou, p1,
                       (trailer && !org_line) ? ";" : "", (trailer && !org_line) ? p2 : "",
                       employer, r1, two_routes ? ";" : "", two_routes ? r2 : "",
                       COUNTIES[d->county].code, scope, org_line ? STATUS_CODES[d->status] : "");
    return rc;
}

static const char CSV_HEADER[] = "name,id_number,phone,hukou_region,plate,employer,route,"
                                 "activity_area,business_scope,political_status\n";
#define CSV_CHUNK 5000 /* rows per dc_registry_import_csv call */

/* Whether driver i is kept in his branch's registry: when the branch is in
 * the county where he works (docs/domain.md, "Registry spaces"); at small
 * scales a county without a branch sends its party members to another
 * county's branch, and they stay in their own county's registry. */
static bool kept_in_branch(const gen *g, long i) {
    const drv *d = &g->d[i];
    return d->branch >= 0 && g->b[d->branch].county == d->county;
}

/* One import of a list into a registry part: its source, round, and who
 * verified it how. */
typedef struct list_spec {
    int source, round;
    const char *level, *method, *label;
} list_spec;

/* Imports the rows in b (after the header) into `part` and starts a new
 * chunk. */
static int import_chunk(gen *g, sbuf *b, const char *part, const list_spec *ls, long *flagged) {
    dc_buf rep = DC_BUF_INIT;
    dc_registry_import_options o = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    o.source = ls->source;
    o.round = ls->round;
    o.level = ls->level;
    o.method = ls->method;
    int rc = dc_registry_import(&rep, g->r, part, &o, (const uint8_t *)b->p, b->n);
    if (rc) {
        dc_buf_dispose(&rep);
        return demo_die(g, rc, "registry import");
    }
    const char *j = (const char *)rep.ptr;
    if (!strstr(j, "\"errors\":[]")) {
        fail("demo-data: the registry refused generated rows: %.300s", j);
        dc_buf_dispose(&rep);
        return EXIT_FAIL;
    }
    const char *f = strstr(j, "\"flagged\":");
    if (f && flagged)
        *flagged += strtol(f + 10, NULL, 10);
    dc_buf_dispose(&rep);
    b->n = 0;
    return demo_sb_printf(b, "%s", CSV_HEADER) ? fail("demo-data: out of memory") : EXIT_OK;
}

/* One list: the rows of drivers i for which want(g, i) holds. */
typedef bool (*want_fn)(const gen *g, long i, int *variant);

/* The rows of the drivers `idx[0..n)` kept by `part` that the list has. */
static int import_part(gen *g, sbuf *b, const char *part, const long *idx, long n,
                       const list_spec *ls, want_fn want, long *flagged, long *done) {
    long rows = 0;
    int rc = EXIT_OK;
    b->n = 0;
    if (demo_sb_printf(b, "%s", CSV_HEADER))
        return fail("demo-data: out of memory");
    for (long k = 0; k < n && rc == EXIT_OK; k++) {
        int variant = 0;
        if (!want(g, idx[k], &variant))
            continue;
        if (csv_row(b, g, idx[k], ls->source == DC_SOURCE_ORGANISATION, variant))
            return fail("demo-data: out of memory");
        g->csv_rows++;
        if (++rows % CSV_CHUNK == 0) {
            rc = import_chunk(g, b, part, ls, flagged);
            progress_update(&g->pg, (uint64_t)(*done + rows), -1);
        }
    }
    if (rc == EXIT_OK && rows % CSV_CHUNK)
        rc = import_chunk(g, b, part, ls, flagged);
    *done += rows;
    progress_update(&g->pg, (uint64_t)*done, -1);
    return rc;
}

/* A list is imported per registry part, as the counties and branches
 * would: each county's drivers outside branches into its county registry,
 * each branch's party members into its branch registry. */
static int import_list(gen *g, const list_spec *ls, want_fn want, long *flagged) {
    long total = 0, done = 0;
    for (long i = 0; i < g->nd; i++) {
        int variant = 0;
        total += want(g, i, &variant);
    }
    char stage[96];
    snprintf(stage, sizeof stage, "demo-data: registry, %s", ls->label);
    progress_stage(&g->pg, stage, "rows", (uint64_t)total);
    sbuf b = {NULL, 0, 0};
    long *idx = NULL;
    size_t cidx = 0;
    int rc = EXIT_OK;
    for (int c = 0; c < NCOUNTY && rc == EXIT_OK; c++)
        if (g->ncdrv[c])
            rc = import_part(g, &b, g->cpart[c], g->cdrv[c], g->ncdrv[c], ls, want, flagged, &done);
    for (int i = 0; i < g->nb && rc == EXIT_OK; i++) {
        branch *br = &g->b[i];
        if (VEC_RESERVE(idx, cidx, (size_t)br->nmembers)) {
            rc = fail("demo-data: out of memory");
            break;
        }
        long n = 0;
        for (int m = 0; m < br->nmembers; m++)
            if (kept_in_branch(g, br->members[m]))
                idx[n++] = br->members[m];
        if (n)
            rc = import_part(g, &b, br->rpart, idx, n, ls, want, flagged, &done);
    }
    free(idx);
    free(b.p);
    return rc;
}

/* Round 1, transport line: every driver the road-transport administration
 * system lists (it knows no political status). */
static bool want_all(const gen *g, long i, int *variant) {
    (void)g, (void)i, (void)variant;
    return true;
}

/* Round 1, organisation line: the party members and those on the way;
 * about 4% of its rows disagree with the transport line. */
static bool want_org(const gen *g, long i, int *variant) {
    if (g->d[i].status == S_MASSES)
        return false;
    uint64_t h = demo_mix64(demo_mix64(g->seed ^ 0x0f0f0f0full) + (uint64_t)i);
    *variant = h % 100 < 2 ? 1 : h % 100 < 4 ? 2 : 0;
    return true;
}

/* Round 2, transport line (completing information): a 3% sample. */
static bool want_sample(const gen *g, long i, int *variant) {
    (void)variant;
    return demo_mix64(demo_mix64(g->seed ^ 0xa5a5a5a5ull) + (uint64_t)i) % 100 < 3;
}

/* Round 3, organisation line (re-verification): Wudang's party members,
 * found again door to door. */
static bool want_wudang_pm(const gen *g, long i, int *variant) {
    (void)variant;
    return g->d[i].county == WUDANG && g->d[i].status >= S_PROBATIONARY;
}

/* The registry id of driver i (asked of the registry once). */
const char *demo_did_of(gen *g, long i) {
    drv *d = &g->d[i];
    if (!d->did[0]) {
        dc_buf b = DC_BUF_INIT;
        if (dc_registry_driver_id(&b, g->r, g->registry, d->idn) != 0) {
            dc_buf_dispose(&b);
            return NULL;
        }
        snprintf(d->did, sizeof d->did, "%s", (const char *)b.ptr);
        dc_buf_dispose(&b);
    }
    return d->did;
}

/* The dates of the stages of membership of driver i (no typed call sets
 * them: the generic API, as docs/domain.md lays the field out), and a
 * party member's branch. */
static int stage_dates(gen *g, batch *bt, long i) {
    drv *d = &g->d[i];
    const char *did;
    if (d->status == S_MASSES)
        return EXIT_OK;
    DID(g, i, did);
    int64_t at =
        demo_cst(2015 + (int)demo_rn(11), 1 + (int)demo_rn(12), 1 + (int)demo_rn(28), 10, 0);
    if (at > demo_cst(2025, 12, 20, 10, 0))
        at = demo_cst(2025, 12, 20, 10, 0);
    for (int s = d->status; s >= S_APPLICANT; s--) {
        char field[32], date[11];
        snprintf(field, sizeof field, "stage_%s", STATUS_CODES[s]);
        demo_date_of(date, at);
        BT(bt, dc_txn_set(t, "driver", did, field, DC_STR, 0, date), "stage date");
        at -= (int64_t)(90 + demo_rn(400)) * DAY_MS;
    }
    if (d->branch >= 0)
        BT(bt, dc_branch_assign_txn(g->r, t, did, g->b[d->branch].org), "branch assign");
    return EXIT_OK;
}

/* Points a batch at another space (committing what it holds). */
static int batch_to(batch *bt, const char *space) {
    if (bt->space && strcmp(bt->space, space) == 0)
        return EXIT_OK;
    CK(bt->g, demo_batch_flush(bt), "registry commit");
    bt->space = space;
    return EXIT_OK;
}

/* The registry in parts (docs/domain.md, "Registry spaces"): the root, a
 * county registry per county-level unit, a branch registry per branch. */
int demo_gen_parts(gen *g) {
    dc_buf b = DC_BUF_INIT;
    CK(g, dc_registry_create(&b, g->r, "520000", "registry"), "registry create");
    snprintf(g->registry, sizeof g->registry, "%s", (const char *)b.ptr);
    for (int c = 0; c < NCOUNTY; c++) {
        dc_registry_part_options o = DC_REGISTRY_PART_OPTIONS_INIT;
        o.root = g->registry;
        o.region = COUNTIES[c].code;
        int rc = dc_registry_part_create(&b, g->r, &o);
        if (rc) {
            dc_buf_dispose(&b);
            return demo_die(g, rc, "registry part");
        }
        snprintf(g->cpart[c], sizeof g->cpart[c], "%s", (const char *)b.ptr);
    }
    for (int i = 0; i < g->nb; i++) {
        dc_registry_part_options o = DC_REGISTRY_PART_OPTIONS_INIT;
        o.root = g->registry;
        o.region = COUNTIES[g->b[i].county].code;
        o.branch = g->b[i].org;
        int rc = dc_registry_part_create(&b, g->r, &o);
        if (rc) {
            dc_buf_dispose(&b);
            return demo_die(g, rc, "registry part");
        }
        snprintf(g->b[i].rpart, sizeof g->b[i].rpart, "%s", (const char *)b.ptr);
    }
    dc_buf_dispose(&b);
    /* Who each county registry keeps: its drivers not kept by a branch. */
    for (long i = 0; i < g->nd; i++)
        if (!kept_in_branch(g, i))
            g->ncdrv[g->d[i].county]++;
    for (int c = 0; c < NCOUNTY; c++) {
        if (!(g->cdrv[c] = malloc((size_t)(g->ncdrv[c] ? g->ncdrv[c] : 1) * sizeof(long))))
            return fail("demo-data: out of memory");
        g->ncdrv[c] = 0;
    }
    for (long i = 0; i < g->nd; i++)
        if (!kept_in_branch(g, i))
            g->cdrv[g->d[i].county][g->ncdrv[g->d[i].county]++] = i;
    return EXIT_OK;
}

/* The four lists the registry is imported from, in the order the counties
 * received them. */
static int import_lists(gen *g) {
    static const list_spec T1 = {DC_SOURCE_TRANSPORT, 1, "county", "list",
                                 "transport line, round 1"};
    static const list_spec O1 = {DC_SOURCE_ORGANISATION, 1, "county", "list",
                                 "organisation line, round 1"};
    static const list_spec T2 = {DC_SOURCE_TRANSPORT, 2, "county", "phone",
                                 "transport line, round 2 (phone checks)"};
    static const list_spec O3 = {DC_SOURCE_ORGANISATION, 3, "branch", "visit",
                                 "organisation line, round 3 (Wudang, door to door)"};
    int rc;
    if ((rc = import_list(g, &T1, want_all, NULL)) ||
        (rc = import_list(g, &O1, want_org, &g->flagged)) ||
        (rc = import_list(g, &T2, want_sample, NULL)) ||
        (rc = import_list(g, &O3, want_wudang_pm, NULL)))
        return rc;
    return EXIT_OK;
}

/* Each driver's stage dates, in the registry part that holds the driver: a
 * county's, or (for a branch's party members) the branch's. */
static int registry_stages(gen *g, batch *bt) {
    int rc;
    long seen = 0;
    for (int c = 0; c < NCOUNTY; c++) {
        if ((rc = batch_to(bt, g->cpart[c])))
            return rc;
        for (long k = 0; k < g->ncdrv[c]; k++)
            if ((rc = stage_dates(g, bt, g->cdrv[c][k])))
                return rc;
        seen += g->ncdrv[c];
        progress_update(&g->pg, (uint64_t)seen, -1);
    }
    for (int i = 0; i < g->nb; i++) {
        if ((rc = batch_to(bt, g->b[i].rpart)))
            return rc;
        for (int m = 0; m < g->b[i].nmembers; m++)
            if (kept_in_branch(g, g->b[i].members[m]) &&
                (rc = stage_dates(g, bt, g->b[i].members[m])))
                return rc;
    }
    return EXIT_OK;
}

/* Secretaries sent from the transport departments: 187 persons for 209
 * branches, so some lead two; an instructor for each branch. */
static int registry_secretaries(gen *g, batch *bt) {
    static const char *const TASKS[] = {
        "走访冷链市场、物流园，核实台账信息", "每日推送学习资料到支部微信群",
        "收集货车司机诉求并按级转办", "联系流动党员，跟进入党申请人进度"};
    static const char *const NAMED[] = {"许鑫", "成万莎", "谢朝典"};
    int rc;
    for (int i = 0; i < g->nb; i++) {
        branch *b = &g->b[i];
        long person = i < g->f.secretaries ? i : (i - g->f.secretaries) % g->f.secretaries;
        char pid[32], name[32], dept[48], sid[96];
        snprintf(pid, sizeof pid, "sec-%04ld", person + 1);
        if (person < 3)
            snprintf(name, sizeof name, "%s", NAMED[person]);
        else {
            uint64_t saved = demo_rng;
            demo_rng = demo_mix64(demo_mix64(g->seed ^ 0x5ec5ec5ec5ull) + (uint64_t)person);
            demo_person_name(name, sizeof name);
            demo_rng = saved;
        }
        snprintf(dept, sizeof dept, "transport_dept-%s", COUNTIES[b->county].code);
        if ((rc = batch_to(bt, b->rpart)))
            return rc;
        dc_secretary_options so = DC_SECRETARY_OPTIONS_INIT;
        so.branch = b->org;
        so.person = pid;
        so.name = name;
        so.from_dept = dept;
        so.role = "secretary";
        BT(bt, dc_secretary_put_txn(NULL, g->r, t, &so), "secretary");
        snprintf(sid, sizeof sid, "%s/%s", b->org, pid);
        for (int k = 0; k < 4; k++) {
            char due[11];
            demo_date_of(due, demo_cst(2026, 1 + k * 3, 15, 12, 0));
            BT(bt, dc_secretary_task_txn(g->r, t, sid, TASKS[k], due), "task");
        }
        char iid[32], iname[32];
        snprintf(iid, sizeof iid, "ins-%04d", i + 1);
        demo_person_name(iname, sizeof iname);
        so.person = iid;
        so.name = iname;
        so.role = "instructor";
        BT(bt, dc_secretary_put_txn(NULL, g->r, t, &so), "instructor");
    }
    return EXIT_OK;
}

/* The people of the liaison chains (cadres -> party-member drivers ->
 * drivers, nearby where possible: both lists sorted by county). */
typedef struct liaison {
    long *pm;            /* party members; the first nl liaise, in county order */
    long *pool;          /* the other drivers, grouped by county, shuffled inside */
    unsigned char *used; /* drivers given a liaison already */
    long start[NCOUNTY + 1], cur[NCOUNTY]; /* each county's run of pool, and its cursor */
    long any;                              /* fallback cursor over the whole pool */
    long nl, nc, nld; /* liaising party members, cadres, drivers with a liaison */
} liaison;

static const char *const HOW[] = {"call", "visit", "message"};
static const char *const NOTES[] = {"询问近期出车情况", "了解运费结算情况", "关注入党申请进度",
                                    "提醒冬季行车安全", "转达支部学习安排"};

static void liaison_free(liaison *l) {
    free(l->pm), free(l->pool), free(l->used);
}

/* Draws the liaising party members and groups the other drivers. */
static int liaison_pools(gen *g, liaison *l) {
    long npm = 0, nl = l->nl;
    long *pm = l->pm = malloc((size_t)g->f.pm * sizeof *pm);
    long *pool = l->pool = malloc((size_t)g->nd * sizeof *pool);
    l->used = calloc((size_t)g->nd, 1);
    if (!pm || !pool || !l->used)
        return fail("demo-data: out of memory");
    for (long i = 0; i < g->nd; i++)
        if (g->d[i].status >= S_PROBATIONARY)
            pm[npm++] = i;
    for (long i = 0; i < nl; i++) { /* a random nl of them, kept in county order */
        long j = i + (long)demo_rn((uint32_t)(npm - i));
        long t = pm[i];
        pm[i] = pm[j], pm[j] = t;
    }
    for (long i = 1; i < nl; i++) { /* insertion sort by county (stable enough) */
        long v = pm[i], j = i - 1;
        while (j >= 0 && g->d[pm[j]].county > g->d[v].county)
            pm[j + 1] = pm[j], j--;
        pm[j + 1] = v;
    }
    /* Drivers (not party members) grouped by county, shuffled inside. */
    long *start = l->start, *cur = l->cur;
    for (long i = 0; i < g->nd; i++)
        if (g->d[i].status < S_PROBATIONARY)
            start[g->d[i].county + 1]++;
    for (int c = 0; c < NCOUNTY; c++)
        start[c + 1] += start[c];
    for (int c = 0; c < NCOUNTY; c++)
        cur[c] = start[c];
    for (long i = 0; i < g->nd; i++)
        if (g->d[i].status < S_PROBATIONARY)
            pool[cur[g->d[i].county]++] = i;
    for (int c = 0; c < NCOUNTY; c++) {
        for (long i = start[c]; i + 1 < start[c + 1]; i++) {
            long j = i + (long)demo_rn((uint32_t)(start[c + 1] - i));
            long t = pool[i];
            pool[i] = pool[j], pool[j] = t;
        }
        cur[c] = start[c];
    }
    return EXIT_OK;
}

/* The drivers the j-th liaising party member (pdid) keeps in touch with:
 * from the member's county while it has any left, then from anywhere. */
static int liaison_drivers(gen *g, batch *bt, liaison *l, long j, const char *pdid) {
    long dfirst = j * l->nld / l->nl, dlast = (j + 1) * l->nld / l->nl;
    int pc = g->d[l->pm[j]].county;
    char link[96];
    for (long x = dfirst; x < dlast; x++) {
        long di = -1;
        while (l->cur[pc] < l->start[pc + 1] && di < 0) {
            long cand = l->pool[l->cur[pc]++];
            if (!l->used[cand])
                di = cand;
        }
        while (di < 0 && l->any < l->start[NCOUNTY]) {
            long cand = l->pool[l->any++];
            if (!l->used[cand])
                di = cand;
        }
        if (di < 0)
            break; /* cannot happen: figures are checked first */
        l->used[di] = 1;
        const char *ddid;
        DID(g, di, ddid);
        BT(bt, dc_liaison_link_txn(NULL, g->r, t, pdid, ddid, "party_member"), "liaison");
        if (demo_chance(0.1)) {
            char date[11];
            snprintf(link, sizeof link, "%s/%s", pdid, ddid);
            demo_date_of(date, demo_cst(2026, 1 + (int)demo_rn(10), 1 + (int)demo_rn(28), 19, 0));
            BT(bt, dc_liaison_contact_txn(g->r, t, link, HOW[demo_rn(3)], date, NOTES[demo_rn(5)]),
               "contact");
        }
    }
    return EXIT_OK;
}

/* The k-th cadre, in the county of the first party member it liaises with,
 * and that cadre's party members with their own drivers. */
static int liaison_cadre(gen *g, batch *bt, liaison *l, long k) {
    char cid[32], name[32];
    long first = k * l->nl / l->nc, last = (k + 1) * l->nl / l->nc;
    int c = g->d[l->pm[first]].county;
    int rc;
    snprintf(cid, sizeof cid, "cad-%s-%04ld", COUNTIES[c].code, k + 1);
    demo_person_name(name, sizeof name);
    if ((rc = batch_to(bt, g->cpart[c])))
        return rc;
    BT(bt,
       dc_liaison_cadre_txn(g->r, t, cid, name, COUNTIES[c].code,
                            demo_chance(0.6) ? "township_org_member" : "village_secretary"),
       "cadre");
    for (long j = first; j < last; j++) {
        const char *pdid;
        char link[96];
        DID(g, l->pm[j], pdid);
        BT(bt, dc_liaison_link_txn(NULL, g->r, t, cid, pdid, "cadre"), "liaison");
        snprintf(link, sizeof link, "%s/%s", cid, pdid);
        if (demo_chance(0.2)) {
            char date[11];
            demo_date_of(date, demo_cst(2026, 1 + (int)demo_rn(10), 1 + (int)demo_rn(28), 10, 0));
            BT(bt, dc_liaison_contact_txn(g->r, t, link, HOW[demo_rn(3)], date, NOTES[demo_rn(5)]),
               "contact");
        }
        /* pdid points into a buffer the next id overwrites. */
        char pdid_copy[25];
        snprintf(pdid_copy, sizeof pdid_copy, "%s", pdid);
        if ((rc = liaison_drivers(g, bt, l, j, pdid_copy)))
            return rc;
    }
    return EXIT_OK;
}

static int registry_liaison(gen *g, batch *bt) {
    liaison l = {0};
    l.nl = g->f.liaison_pm;
    l.nc = g->f.cadres;
    l.nld = g->f.liaison_drivers;
    int rc = liaison_pools(g, &l);
    for (long k = 0; k < l.nc && rc == EXIT_OK; k++)
        rc = liaison_cadre(g, bt, &l, k);
    liaison_free(&l);
    return rc;
}

int demo_gen_registry(gen *g) {
    int rc;
    if ((rc = import_lists(g)))
        return rc;
    progress_stage(&g->pg, "demo-data: registry, stages, secretaries, liaison", "drivers",
                   (uint64_t)g->nd);
    batch bt = {g, NULL, NULL};
    if ((rc = registry_stages(g, &bt)) || (rc = registry_secretaries(g, &bt)) ||
        (rc = registry_liaison(g, &bt)))
        return rc;
    CK(g, demo_batch_flush(&bt), "registry commit");
    return EXIT_OK;
}

/* ---- moves: drivers who went to work in another county (流出地/流入地) ---- */

/* 0.1 % of the drivers outside branches and outside Wudang (whose figures
 * are the report's) move to another county's registry during 2026: their
 * records follow them (dc_registry_move), the county they leave keeps a
 * forwarding entry, and their later grievances are the new county's. */
int demo_gen_moves(gen *g) {
    long want = demo_round_pos((double)g->nd * 0.001);
    progress_stage(&g->pg, "demo-data: moves between counties", "drivers", (uint64_t)want);
    for (long tries = 0; g->moves < want && tries < want * 50; tries++) {
        long i = (long)demo_rn((uint32_t)g->nd);
        drv *d = &g->d[i];
        int to = (int)demo_rn(NCOUNTY);
        if (d->branch >= 0 || d->county == WUDANG || to == WUDANG || to == d->county)
            continue;
        const char *did;
        char date[11];
        DID(g, i, did);
        demo_date_of(date, demo_cst(2026, 2 + (int)demo_rn(7), 1 + (int)demo_rn(28), 10, 0));
        dc_registry_move_options o = DC_REGISTRY_MOVE_OPTIONS_INIT;
        o.keep_cases = 1; /* none filed yet */
        o.date = date;
        CK(g, dc_registry_move(NULL, g->r, g->cpart[d->county], did, g->cpart[to], &o),
           "registry move");
        d->county = (uint8_t)to;
        g->moves++;
        progress_update(&g->pg, (uint64_t)g->moves, -1);
    }
    return EXIT_OK;
}
