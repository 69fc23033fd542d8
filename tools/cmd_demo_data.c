/*
 * tools/cmd_demo_data.c — `drivercore demo-data province REPLICA --seed N
 * [--scale F] [--calendar FILE]`: generates a realistic Guizhou province
 * with the figures of the report (docs/domain.md, "Province-scale data")
 * into one replica, the province office's, which holds every space.
 *
 * Everything is written through the typed API of the domain layer, as an
 * office would: regions, organisations, Driver's Homes, branches, rosters,
 * secretaries, study items, cadres and liaison links through org.h (the
 * bulk `_txn` forms, thousands of records per change); drivers through
 * dc_registry_import_csv, fed generated CSV of both lines in rounds, in
 * chunks; grievances through dc_case_file and dc_case_step, each at its own
 * instant on a simulated clock (the replica is opened with a clock hook
 * this file advances), so receipts, steps and deadlines fall on real 2026
 * working days.  Only the stage dates of party membership and one driver's
 * profile are written with the generic transaction API, since no typed call
 * sets them.
 *
 * The content is a pure function of the seed and the scale: names, numbers,
 * plates, routes, every count and every instant.  What the library itself
 * draws at random (device keys, space and case ids, sealing nonces) differs
 * between runs, so two runs give the same `stats`, not the same bytes.
 * --scale F multiplies every figure of the report by F (rounded half away
 * from zero, at least 1); the regions stay whole.
 *
 * This file holds the command, the generator's state and what every phase
 * uses (demo_data.h); the phases are demo_data_org.c, demo_data_registry.c
 * and demo_data_cases.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "demo_data.h"
#include "vec.h"

/* ---- the simulated clock and the random numbers ---- */

int64_t demo_sim_ms;

static int64_t sim_clock(void *user) {
    (void)user;
    return demo_sim_ms;
}

uint64_t demo_rng;

uint64_t demo_rnd(void) {
    uint64_t z = (demo_rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The splitmix64 finaliser: seeds derived from (seed, index) pairs through
 * it give unrelated streams (seed N + 1 is not seed N shifted by a draw). */
uint64_t demo_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
uint32_t demo_rn(uint32_t n) {
    return n ? (uint32_t)(demo_rnd() % n) : 0;
}

/* True with probability p (0..1). */
bool demo_chance(double p) {
    return (double)(demo_rnd() >> 11) / 9007199254740992.0 < p;
}

double demo_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An instant given in China Standard Time. */
int64_t demo_cst(int y, int mo, int d, int h, int mi) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    return ((int64_t)timegm(&tm) - 8 * 3600) * 1000;
}

/* "YYYY-MM-DD" of an instant, in CST. */
void demo_date_of(char out[11], int64_t ms) {
    time_t t = (time_t)((ms + 8 * HOUR_MS) / 1000);
    struct tm tm;
    char tmp[32];
    gmtime_r(&t, &tm);
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

/* ---- the regions of Guizhou (GB/T 2260 codes) ---- */

const city CITIES[] = {
    {"520100", "贵阳市", "贵阳", "贵A"},
    {"520200", "六盘水市", "六盘水", "贵B"},
    {"520300", "遵义市", "遵义", "贵C"},
    {"520400", "安顺市", "安顺", "贵G"},
    {"520500", "毕节市", "毕节", "贵F"},
    {"520600", "铜仁市", "铜仁", "贵D"},
    {"522300", "黔西南布依族苗族自治州", "兴义", "贵E"},
    {"522600", "黔东南苗族侗族自治州", "凯里", "贵H"},
    {"522700", "黔南布依族苗族自治州", "都匀", "贵J"},
};

/* 88 counties, districts and county-level cities, then 10 development
 * zones that keep their own joint meeting; 98 county-level units in all.
 * Committees: 1 province + 9 cities + 95 county-level = 105; joint
 * meetings: 1 + 9 + 98 = 108, the report's figures. */
const county COUNTIES[] = {
    {"520102", "南明区", 0, 60, 1},
    {"520103", "云岩区", 0, 55, 1},
    {"520111", "花溪区", 0, 45, 1},
    {"520112", "乌当区", 0, 0, 1},
    {"520113", "白云区", 0, 40, 1},
    {"520115", "观山湖区", 0, 45, 1},
    {"520121", "开阳县", 0, 25, 1},
    {"520122", "息烽县", 0, 20, 1},
    {"520123", "修文县", 0, 25, 1},
    {"520181", "清镇市", 0, 35, 1},
    {"520201", "钟山区", 1, 40, 1},
    {"520203", "六枝特区", 1, 25, 1},
    {"520204", "水城区", 1, 30, 1},
    {"520281", "盘州市", 1, 45, 1},
    {"520302", "红花岗区", 2, 45, 1},
    {"520303", "汇川区", 2, 45, 1},
    {"520304", "播州区", 2, 40, 1},
    {"520322", "桐梓县", 2, 30, 1},
    {"520323", "绥阳县", 2, 22, 1},
    {"520324", "正安县", 2, 20, 1},
    {"520325", "道真仡佬族苗族自治县", 2, 14, 1},
    {"520326", "务川仡佬族苗族自治县", 2, 15, 1},
    {"520327", "凤冈县", 2, 16, 1},
    {"520328", "湄潭县", 2, 20, 1},
    {"520329", "余庆县", 2, 14, 1},
    {"520330", "习水县", 2, 25, 1},
    {"520381", "赤水市", 2, 15, 1},
    {"520382", "仁怀市", 2, 35, 1},
    {"520402", "西秀区", 3, 40, 1},
    {"520403", "平坝区", 3, 22, 1},
    {"520422", "普定县", 3, 18, 1},
    {"520423", "镇宁布依族苗族自治县", 3, 16, 1},
    {"520424", "关岭布依族苗族自治县", 3, 14, 1},
    {"520425", "紫云苗族布依族自治县", 3, 12, 1},
    {"520502", "七星关区", 4, 50, 1},
    {"520521", "大方县", 4, 30, 1},
    {"520523", "金沙县", 4, 28, 1},
    {"520524", "织金县", 4, 30, 1},
    {"520525", "纳雍县", 4, 26, 1},
    {"520526", "威宁彝族回族苗族自治县", 4, 40, 1},
    {"520527", "赫章县", 4, 24, 1},
    {"520581", "黔西市", 4, 30, 1},
    {"520602", "碧江区", 5, 30, 1},
    {"520603", "万山区", 5, 14, 1},
    {"520621", "江口县", 5, 12, 1},
    {"520622", "玉屏侗族自治县", 5, 12, 1},
    {"520623", "石阡县", 5, 14, 1},
    {"520624", "思南县", 5, 20, 1},
    {"520625", "印江土家族苗族自治县", 5, 14, 1},
    {"520626", "德江县", 5, 16, 1},
    {"520627", "沿河土家族自治县", 5, 16, 1},
    {"520628", "松桃苗族自治县", 5, 20, 1},
    {"522301", "兴义市", 6, 45, 1},
    {"522302", "兴仁市", 6, 22, 1},
    {"522323", "普安县", 6, 14, 1},
    {"522324", "晴隆县", 6, 12, 1},
    {"522325", "贞丰县", 6, 15, 1},
    {"522326", "望谟县", 6, 10, 1},
    {"522327", "册亨县", 6, 10, 1},
    {"522328", "安龙县", 6, 18, 1},
    {"522601", "凯里市", 7, 40, 1},
    {"522622", "黄平县", 7, 12, 1},
    {"522623", "施秉县", 7, 9, 1},
    {"522624", "三穗县", 7, 10, 1},
    {"522625", "镇远县", 7, 12, 1},
    {"522626", "岑巩县", 7, 9, 1},
    {"522627", "天柱县", 7, 14, 1},
    {"522628", "锦屏县", 7, 10, 1},
    {"522629", "剑河县", 7, 10, 1},
    {"522630", "台江县", 7, 8, 1},
    {"522631", "黎平县", 7, 18, 1},
    {"522632", "榕江县", 7, 14, 1},
    {"522633", "从江县", 7, 12, 1},
    {"522634", "雷山县", 7, 7, 1},
    {"522635", "麻江县", 7, 8, 1},
    {"522636", "丹寨县", 7, 7, 1},
    {"522701", "都匀市", 8, 35, 1},
    {"522702", "福泉市", 8, 18, 1},
    {"522722", "荔波县", 8, 9, 1},
    {"522723", "贵定县", 8, 14, 1},
    {"522725", "瓮安县", 8, 18, 1},
    {"522726", "独山县", 8, 14, 1},
    {"522727", "平塘县", 8, 10, 1},
    {"522728", "罗甸县", 8, 11, 1},
    {"522729", "长顺县", 8, 10, 1},
    {"522730", "龙里县", 8, 18, 1},
    {"522731", "惠水县", 8, 16, 1},
    {"522732", "三都水族自治县", 8, 10, 1},
    /* development zones */
    {"520171", "贵阳经济技术开发区", 0, 30, 1},
    {"520172", "贵阳高新技术产业开发区", 0, 15, 1},
    {"520173", "贵安新区", 0, 20, 1},
    {"520174", "双龙航空港经济区", 0, 20, 1},
    {"520371", "遵义新蒲新区", 2, 15, 1},
    {"520471", "安顺经济技术开发区", 3, 18, 1},
    {"520571", "百里杜鹃管理区", 4, 8, 1},
    {"520271", "六盘水红桥新区", 1, 6, 0},
    {"520671", "铜仁高新技术产业开发区", 5, 6, 0},
    {"522771", "黔南经济开发区", 8, 6, 0},
};

/* Townships and villages of Wudang, so the directory has all five levels. */
const char *const WUDANG_TOWNS[][2] = {
    {"520112001", "新添寨街道"}, {"520112002", "高新街道"}, {"520112100", "东风镇"},
    {"520112101", "水田镇"},     {"520112102", "羊昌镇"},   {"520112103", "新场镇"},
    {"520112104", "百宜镇"},
};
const char *const WUDANG_VILLAGES[][2] = {
    {"520112100201", "东风镇洛坝村"},
    {"520112100202", "东风镇云锦村"},
    {"520112001001", "新添寨街道新添社区"},
};

/* ---- the report's figures, scaled ---- */

/* Rounded half away from zero (the values are positive), without libm,
 * which the tool does not link. */
long demo_round_pos(double x) {
    return (long)(x + 0.5);
}

long demo_scaled(long v, double f) {
    long x = demo_round_pos((double)v * f);
    return x < 1 ? 1 : x;
}

static void figures_at(figures *g, double f) {
    g->drivers = demo_scaled(257000, f);
    g->pm = demo_scaled(5867, f);
    g->operators = demo_scaled(7447, f);
    g->committees = demo_scaled(105, f);
    g->branches = demo_scaled(209, f);
    g->secretaries = demo_scaled(187, f);
    g->cadres = demo_scaled(3588, f);
    g->liaison_pm = demo_scaled(5179, f);
    g->liaison_drivers = demo_scaled(27220, f);
    g->stations = demo_scaled(50, f);
    g->joint_meetings = demo_scaled(108, f);
    g->study = demo_scaled(5000, f);
    g->cases = demo_scaled(3794, f);
    g->resolved = demo_scaled(3731, f);
    g->wudang_enterprises = demo_scaled(27, f);
    g->wudang_drivers = demo_scaled(1576, f);
    g->wudang_pm = demo_scaled(70, f);
}

/* ---- names, numbers, plates ---- */

static const char *const SURNAMES[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
    "胡", "郭", "何", "罗", "高", "林", "龙", "田", "石", "蒋", "谢", "许", "袁", "冉",
    "韦", "潘", "邓", "曾", "彭", "肖", "付", "熊", "宋", "唐", "姚", "汪", "陆", "简"};
static const char *const GIVEN[] = {
    "伟", "强", "军", "勇", "杰", "涛", "明", "超", "平", "刚", "兵", "辉", "鹏", "飞",
    "红", "兴", "贤", "仁", "科", "城", "鑫", "林", "海", "波", "华", "俊", "峰", "磊",
    "建", "国", "志", "文", "德", "福", "江", "山", "成", "武", "斌", "亮", "昌", "荣"};
#define NSUR (sizeof SURNAMES / sizeof SURNAMES[0])
#define NGIV (sizeof GIVEN / sizeof GIVEN[0])

void demo_person_name(char *out, size_t cap) {
    const char *s = SURNAMES[demo_rn(NSUR)];
    if (demo_chance(0.7))
        snprintf(out, cap, "%s%s%s", s, GIVEN[demo_rn(NGIV)], GIVEN[demo_rn(NGIV)]);
    else
        snprintf(out, cap, "%s%s", s, GIVEN[demo_rn(NGIV)]);
}

/* An 18-character resident identity number: region, birth date, sequence
 * (odd for men) and the ISO 7064 MOD 11-2 check character. */
void demo_id_number(char out[19], const char *region, bool male) {
    static const int W[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int y = 1962 + (int)demo_rn(40), m = 1 + (int)demo_rn(12), d = 1 + (int)demo_rn(28);
    int seq = (int)demo_rn(500) * 2 + (male ? 1 : 0);
    snprintf(out, 19, "%.6s%04d%02d%02d%03d", region, y % 10000, m % 100, d % 100, seq % 1000);
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * W[i];
    out[17] = "10X98765432"[sum % 11];
    out[18] = '\0';
}

void demo_phone_number(char out[12]) {
    static const char *const P[] = {"13", "15", "17", "18", "19"};
    snprintf(out, 12, "%s%09u", P[demo_rn(5)], (unsigned)(demo_rnd() % 1000000000u));
}

void demo_plate(char *out, size_t cap, int city, bool trailer) {
    static const char L[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    if (trailer)
        snprintf(out, cap, "%s%04u挂", CITIES[city].plate, (unsigned)demo_rn(10000));
    else
        snprintf(out, cap, "%s%c%04u", CITIES[city].plate, L[demo_rn(24)],
                 (unsigned)demo_rn(10000));
}

static const char *const FAR[] = {"重庆", "成都", "昆明", "广州", "长沙", "南宁", "桂林",
                                  "深圳", "武汉", "杭州", "上海", "西安", "柳州", "怀化"};

void demo_route(char *out, size_t cap, int city) {
    if (demo_chance(0.25))
        snprintf(out, cap, "%s—%s", CITIES[city].seat, CITIES[demo_rn(NCITY)].seat);
    else
        snprintf(out, cap, "%s—%s", CITIES[city].seat, FAR[demo_rn(sizeof FAR / sizeof FAR[0])]);
}

const char *demo_scope_of(void) {
    uint32_t x = demo_rn(100);
    return x < 12 ? "冷链" : x < 27 ? "渣土" : x < 92 ? "普货" : "危货";
}

/* ---- a growable text buffer (the tool has only the public API) ---- */

int demo_sb_printf(sbuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (k < 0)
            return -1;
        if ((size_t)k < room) {
            b->n += (size_t)k;
            return 0;
        }
        if (VEC_RESERVE(b->p, b->cap, b->n + (size_t)k + 1))
            return -1;
    }
}

/* ---- the generator's state ---- */

const char *const STATUS_CODES[] = {"masses",    "applicant",    "activist",
                                    "candidate", "probationary", "member"};

int demo_die(gen *g, int rc, const char *what) {
    return fail_r(g->r, rc, what);
}

int demo_batch_flush(batch *b) {
    if (!b->t)
        return 0;
    dc_txn *t = b->t;
    b->t = NULL;
    return dc_txn_commit(t, NULL);
}

dc_txn *demo_batch_txn(batch *b, int *rc) {
    *rc = 0;
    if (b->t && dc_txn_op_count(b->t) >= 20000 && (*rc = demo_batch_flush(b)) != 0)
        return NULL;
    if (!b->t && (*rc = dc_txn_begin(&b->t, b->g->r, b->space)) != 0)
        return NULL;
    return b->t;
}

int demo_new_space(gen *g, char out[33], const char *fmt, ...) {
    char name[96];
    va_list ap;
    dc_buf b = DC_BUF_INIT;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int rc = dc_space_create(&b, g->r, name);
    if (rc == 0)
        snprintf(out, 33, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
    return rc ? demo_die(g, rc, "space create") : 0;
}

/* ---- the command ---- */

static long long file_bytes(const char *path) {
    struct stat st;
    char p[1100];
    long long n = 0;
    if (stat(path, &st) == 0)
        n += (long long)st.st_size;
    snprintf(p, sizeof p, "%s-wal", path);
    if (stat(p, &st) == 0)
        n += (long long)st.st_size;
    return n;
}

static int check_figures(const figures *f) {
    if (f->wudang_drivers > f->drivers || f->wudang_pm > f->wudang_drivers ||
        f->wudang_pm > f->pm || f->pm - f->wudang_pm > f->drivers - f->wudang_drivers ||
        f->secretaries > f->branches || f->liaison_pm > f->pm || f->cadres > f->liaison_pm ||
        f->liaison_pm > f->liaison_drivers || f->liaison_drivers > f->drivers - f->pm ||
        f->resolved > f->cases || f->drivers > 4000000)
        return -1;
    return 0;
}

static int load_cal(dc_calendar **out, const char *file) {
    *out = NULL;
    if (file) {
        if (dc_calendar_load_file(out, file) != 0)
            return fail("demo-data: cannot load the calendar '%s': %s", file, dc_error_last());
        return EXIT_OK;
    }
    if (dc_calendar_load_file(out, DRIVERCORE_CALENDAR_INSTALLED) == 0 ||
        dc_calendar_load_file(out, DRIVERCORE_CALENDAR_SOURCE) == 0)
        return EXIT_OK;
    return fail("demo-data: no holiday calendar found; give --calendar FILE "
                "(data/cn-holidays-2026.tsv)");
}

static void print_figures(const figures *f) {
    printf("\"figures\":{\"drivers\":%ld,\"party_member_drivers\":%ld,\"operators\":%ld,"
           "\"committees\":%ld,\"branches\":%ld,\"secretaries\":%ld,\"stations\":%ld,"
           "\"joint_meetings\":%ld,\"study_items\":%ld,\"liaison\":{\"cadres\":%ld,"
           "\"party_member_drivers\":%ld,\"drivers\":%ld},\"cases\":{\"collected\":%ld,"
           "\"resolved\":%ld}},\"wudang\":{\"region\":\"520112\",\"enterprises\":%ld,"
           "\"drivers\":%ld,\"party_member_drivers\":%ld}",
           f->drivers, f->pm, f->operators, f->committees, f->branches, f->secretaries, f->stations,
           f->joint_meetings, f->study, f->cadres, f->liaison_pm, f->liaison_drivers, f->cases,
           f->resolved, f->wudang_enterprises, f->wudang_drivers, f->wudang_pm);
}

int cmd_demo_data(int argc, char **argv) {
    static const char *const allowed[] = {"seed", "scale", "calendar", "quiet!", NULL};
    tool_args a;
    gen g;
    dc_calendar *cal = NULL;
    char *end = NULL;
    int rc;
    if (argc < 3 || strcmp(argv[2], "province") != 0)
        return usage_error("demo-data: expected `demo-data province REPLICA --seed N "
                           "[--scale F] [--calendar FILE] [--quiet]`");
    if ((rc = tool_parse(&a, argc, argv, 3, allowed, "demo-data province")) != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error("demo-data province: expected one REPLICA (a new file)");
    const char *seed_s = tool_opt(&a, "seed"), *scale_s = tool_opt(&a, "scale");
    if (!seed_s)
        return usage_error("demo-data province: --seed N is required (the same seed gives "
                           "the same province)");
    memset(&g, 0, sizeof g);
    g.seed = strtoull(seed_s, &end, 10);
    if (!*seed_s || *end || *seed_s == '-')
        return usage_error("demo-data province: --seed '%s' is not a non-negative integer", seed_s);
    g.scale = 1.0;
    if (scale_s) {
        g.scale = strtod(scale_s, &end);
        if (!*scale_s || *end || !(g.scale >= 0.001 && g.scale <= 4.0))
            return usage_error("demo-data province: --scale '%s' must be a number from 0.001 "
                               "to 4 (1: the report's figures)",
                               scale_s);
    }
    figures_at(&g.f, g.scale);
    if (check_figures(&g.f))
        return usage_error("demo-data province: at --scale %s the figures do not fit "
                           "together; use a larger scale",
                           scale_s);
    if (path_exists(a.pos[0]))
        return fail("demo-data: '%s' already exists; the province is generated into a new "
                    "replica (remove it or choose another path)",
                    a.pos[0]);
    if ((rc = load_cal(&cal, tool_opt(&a, "calendar"))) != EXIT_OK)
        return rc;
    g.cal = cal;
    demo_rng = demo_mix64(g.seed ^ 0x2545f4914f6cdd1dull);
    demo_sim_ms = demo_cst(2026, 1, 5, 9, 0);

    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = "贵州省货车司机党建工作办公室";
    o.clock = sim_clock;
    tool_key_options(&o);
    if ((rc = dc_replica_open(&g.r, a.pos[0], &o)) != 0) {
        dc_calendar_free(cal);
        return fail("demo-data: cannot create replica '%s': %s", a.pos[0], dc_error_last());
    }
    double t0 = demo_now_s(), t;
    rc = EXIT_OK;
#define PHASE(k, call)                                                                             \
    if (rc == EXIT_OK) {                                                                           \
        t = demo_now_s();                                                                          \
        rc = (call);                                                                               \
        g.secs[k] += demo_now_s() - t;                                                             \
    }
    progress_init(&g.pg, tool_opt(&a, "quiet") != NULL);
    progress_stage(&g.pg, "demo-data: the directory", "steps", 0);
    PHASE(0, demo_new_space(&g, g.directory, "directory"));
    PHASE(0, demo_gen_directory(&g));
    PHASE(1, demo_plan_drivers(&g));
    PHASE(1, demo_plan_branches(&g));
    PHASE(1, demo_gen_parts(&g));
    PHASE(1, demo_gen_registry(&g));
    PHASE(1, demo_gen_moves(&g));
    PHASE(2, demo_gen_branches(&g));
    demo_sim_ms = demo_cst(2026, 1, 5, 23, 0);
    PHASE(3, demo_gen_cases(&g));
    PHASE(4, demo_gen_personal(&g));
#undef PHASE
    progress_end(&g.pg);
    double total = demo_now_s() - t0;
    dc_replica_close(g.r);
    dc_calendar_free(cal);
    for (int i = 0; i < g.nb; i++)
        free(g.b[i].members);
    for (int c = 0; c < NCOUNTY; c++)
        free(g.cdrv[c]);
    free(g.b);
    free(g.d);
    if (rc != EXIT_OK)
        return rc;
    printf("{\"replica\":\"%s\",\"seed\":%llu,\"scale\":%g,", a.pos[0], g.seed, g.scale);
    print_figures(&g.f);
    printf(",\"spaces\":{\"directory\":1,\"registry\":%d,\"registry_county\":%d,"
           "\"registry_branch\":%d,\"branch\":%d,\"desk\":%d,\"personal\":1},"
           "\"registry_rows\":%ld,\"registry_flagged\":%ld,\"moves\":%ld,"
           "\"seconds\":{\"directory\":%.2f,\"registry\":%.2f,\"branches\":%.2f,"
           "\"cases\":%.2f,\"total\":%.2f},\"db_bytes\":%lld}\n",
           1 + NCOUNTY + g.nb, NCOUNTY, g.nb, g.nb, g.ndesks, g.csv_rows, g.flagged, g.moves,
           g.secs[0], g.secs[1], g.secs[2], g.secs[3], total, file_bytes(a.pos[0]));
    return EXIT_OK;
}
