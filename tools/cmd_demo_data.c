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
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "domain_tool.h"
#include "tool.h"

/* ---- the simulated clock and the random numbers ---- */

static int64_t g_sim_ms;

static int64_t sim_clock(void *user) {
    (void)user;
    return g_sim_ms;
}

static uint64_t g_rng;

static uint64_t rnd(void) {
    uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The splitmix64 finaliser: seeds derived from (seed, index) pairs through
 * it give unrelated streams (seed N + 1 is not seed N shifted by a draw). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rn(uint32_t n) {
    return n ? (uint32_t)(rnd() % n) : 0;
}

/* True with probability p (0..1). */
static bool chance(double p) {
    return (double)(rnd() >> 11) / 9007199254740992.0 < p;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define MIN_MS ((int64_t)60000)
#define HOUR_MS ((int64_t)3600000)
#define DAY_MS ((int64_t)86400000)

/* An instant given in China Standard Time. */
static int64_t cst(int y, int mo, int d, int h, int mi) {
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
static void date_of(char out[11], int64_t ms) {
    time_t t = (time_t)((ms + 8 * HOUR_MS) / 1000);
    struct tm tm;
    char tmp[32];
    gmtime_r(&t, &tm);
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    memcpy(out, tmp, 10);
    out[10] = '\0';
}

/* ---- the regions of Guizhou (GB/T 2260 codes) ---- */

typedef struct city {
    const char *code, *name, *seat; /* seat: the short name used in routes */
    const char *plate;              /* licence-plate prefix */
} city;

static const city CITIES[] = {
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
#define NCITY 9

typedef struct county {
    const char *code, *name;
    int city;       /* index into CITIES */
    int weight;     /* relative number of drivers */
    bool committee; /* has its own industry committee (3 small zones share the host's) */
} county;

/* 88 counties, districts and county-level cities, then 10 development
 * zones that keep their own joint meeting; 98 county-level units in all.
 * Committees: 1 province + 9 cities + 95 county-level = 105; joint
 * meetings: 1 + 9 + 98 = 108, the report's figures. */
static const county COUNTIES[] = {
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
#define NCOUNTY ((int)(sizeof COUNTIES / sizeof COUNTIES[0]))
#define WUDANG 3     /* index of 乌当区 */
#define WANSHAN 43   /* 万山区 */
#define ANSHUN_ED 93 /* 安顺经济技术开发区 */

/* Townships and villages of Wudang, so the directory has all five levels. */
static const char *const WUDANG_TOWNS[][2] = {
    {"520112001", "新添寨街道"}, {"520112002", "高新街道"}, {"520112100", "东风镇"},
    {"520112101", "水田镇"},     {"520112102", "羊昌镇"},   {"520112103", "新场镇"},
    {"520112104", "百宜镇"},
};
static const char *const WUDANG_VILLAGES[][2] = {
    {"520112100201", "东风镇洛坝村"},
    {"520112100202", "东风镇云锦村"},
    {"520112001001", "新添寨街道新添社区"},
};

/* ---- the report's figures, scaled ---- */

typedef struct figures {
    long drivers, pm, operators, committees, branches, secretaries, cadres, liaison_pm,
        liaison_drivers, stations, joint_meetings, study, cases, resolved;
    long wudang_enterprises, wudang_drivers, wudang_pm;
} figures;

/* Rounded half away from zero (the values are positive), without libm,
 * which the tool does not link. */
static long round_pos(double x) {
    return (long)(x + 0.5);
}

static long scaled(long v, double f) {
    long x = round_pos((double)v * f);
    return x < 1 ? 1 : x;
}

static void figures_at(figures *g, double f) {
    g->drivers = scaled(257000, f);
    g->pm = scaled(5867, f);
    g->operators = scaled(7447, f);
    g->committees = scaled(105, f);
    g->branches = scaled(209, f);
    g->secretaries = scaled(187, f);
    g->cadres = scaled(3588, f);
    g->liaison_pm = scaled(5179, f);
    g->liaison_drivers = scaled(27220, f);
    g->stations = scaled(50, f);
    g->joint_meetings = scaled(108, f);
    g->study = scaled(5000, f);
    g->cases = scaled(3794, f);
    g->resolved = scaled(3731, f);
    g->wudang_enterprises = scaled(27, f);
    g->wudang_drivers = scaled(1576, f);
    g->wudang_pm = scaled(70, f);
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

static void person_name(char *out, size_t cap) {
    const char *s = SURNAMES[rn(NSUR)];
    if (chance(0.7))
        snprintf(out, cap, "%s%s%s", s, GIVEN[rn(NGIV)], GIVEN[rn(NGIV)]);
    else
        snprintf(out, cap, "%s%s", s, GIVEN[rn(NGIV)]);
}

/* An 18-character resident identity number: region, birth date, sequence
 * (odd for men) and the ISO 7064 MOD 11-2 check character. */
static void id_number(char out[19], const char *region, bool male) {
    static const int W[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int y = 1962 + (int)rn(40), m = 1 + (int)rn(12), d = 1 + (int)rn(28);
    int seq = (int)rn(500) * 2 + (male ? 1 : 0);
    snprintf(out, 19, "%.6s%04d%02d%02d%03d", region, y % 10000, m % 100, d % 100, seq % 1000);
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (out[i] - '0') * W[i];
    out[17] = "10X98765432"[sum % 11];
    out[18] = '\0';
}

static void phone_number(char out[12]) {
    static const char *const P[] = {"13", "15", "17", "18", "19"};
    snprintf(out, 12, "%s%09u", P[rn(5)], (unsigned)(rnd() % 1000000000u));
}

static void plate(char *out, size_t cap, int city, bool trailer) {
    static const char L[] = "ABCDEFGHJKLMNPQRSTUVWXYZ";
    if (trailer)
        snprintf(out, cap, "%s%04u挂", CITIES[city].plate, (unsigned)rn(10000));
    else
        snprintf(out, cap, "%s%c%04u", CITIES[city].plate, L[rn(24)], (unsigned)rn(10000));
}

static const char *const FAR[] = {"重庆", "成都", "昆明", "广州", "长沙", "南宁", "桂林",
                                  "深圳", "武汉", "杭州", "上海", "西安", "柳州", "怀化"};

static void route(char *out, size_t cap, int city) {
    if (chance(0.25))
        snprintf(out, cap, "%s—%s", CITIES[city].seat, CITIES[rn(NCITY)].seat);
    else
        snprintf(out, cap, "%s—%s", CITIES[city].seat, FAR[rn(sizeof FAR / sizeof FAR[0])]);
}

static const char *scope_of(void) {
    uint32_t x = rn(100);
    return x < 12 ? "冷链" : x < 27 ? "渣土" : x < 92 ? "普货" : "危货";
}

/* ---- a growable text buffer (the tool has only the public API) ---- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_printf(sbuf *b, const char *fmt, ...) TOOL_PRINTF(2, 3);
static int sb_printf(sbuf *b, const char *fmt, ...) {
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
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc - b->n <= (size_t)k)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return -1;
        b->p = np;
        b->cap = nc;
    }
}

/* ---- the generator's state ---- */

typedef struct drv {
    char idn[19];
    uint8_t county, status; /* status: index into STATUS_CODES */
    uint8_t male;
    char did[25]; /* "drv-..." once asked of the registry, else "" */
    int branch;   /* index of his branch, or -1 */
} drv;

enum { S_MASSES, S_APPLICANT, S_ACTIVIST, S_CANDIDATE, S_PROBATIONARY, S_MEMBER };
static const char *const STATUS_CODES[] = {"masses",    "applicant",    "activist",
                                           "candidate", "probationary", "member"};

typedef struct branch {
    int county;
    char code[16];  /* "<county>-<nn>" */
    char org[32];   /* "branch-<code>" */
    char space[33]; /* the branch's own space (roster, study) */
    char rpart[33]; /* its registry part (its party members' records) */
    int *members;   /* driver indices */
    int nmembers, cap;
} branch;

typedef struct gen {
    dc_replica *r;
    const dc_calendar *cal;
    figures f;
    double scale;
    unsigned long long seed;
    char directory[33], registry[33]; /* registry: the root */
    char cpart[NCOUNTY][33];          /* county registry parts */
    long *cdrv[NCOUNTY];              /* drivers each county part keeps (not in a branch) */
    long ncdrv[NCOUNTY];
    long moves;
    progress pg;
    drv *d;
    long nd;
    branch *b;
    int nb;
    int county_branch[NCOUNTY]; /* first branch of a county, or -1 */
    char desk[NCOUNTY][33];     /* desk space of a county ("" until its first case) */
    int ndesks;
    long csv_rows, flagged;
    double secs[8];
    char enterprise[NCOUNTY][4][160]; /* a few enterprise names per county, for employers */
} gen;

static int die(gen *g, int rc, const char *what) {
    return fail_r(g->r, rc, what);
}

#define CK(g, call, what)                                                                          \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            return die((g), rc_, (what));                                                          \
    } while (0)

/* A transaction on `space`, committed when it grows past `limit` ops. */
typedef struct batch {
    gen *g;
    const char *space;
    dc_txn *t;
} batch;

static int batch_flush(batch *b) {
    if (!b->t)
        return 0;
    dc_txn *t = b->t;
    b->t = NULL;
    return dc_txn_commit(t, NULL);
}

static dc_txn *batch_txn(batch *b, int *rc) {
    *rc = 0;
    if (b->t && dc_txn_op_count(b->t) >= 20000 && (*rc = batch_flush(b)) != 0)
        return NULL;
    if (!b->t && (*rc = dc_txn_begin(&b->t, b->g->r, b->space)) != 0)
        return NULL;
    return b->t;
}

#define BT(bt, call, what)                                                                         \
    do {                                                                                           \
        int rc_;                                                                                   \
        dc_txn *t = batch_txn((bt), &rc_);                                                         \
        if (!t || (rc_ = (call)) != 0) {                                                           \
            dc_txn_rollback((bt)->t);                                                              \
            (bt)->t = NULL;                                                                        \
            return die((bt)->g, rc_, (what));                                                      \
        }                                                                                          \
    } while (0)

static int new_space(gen *g, char out[33], const char *fmt, ...) TOOL_PRINTF(3, 4);
static int new_space(gen *g, char out[33], const char *fmt, ...) {
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
    return rc ? die(g, rc, "space create") : 0;
}

/* ---- the directory: regions, organisations, Driver's Homes ---- */

static const char *const DEPTS[][2] = {
    {"cac", "网信办"},
    {"transport", "交通运输局"},
    {"police", "公安局"},
    {"market", "市场监管局"},
    {"union", "总工会"},
    {"hrss", "人力资源和社会保障局"},
    {"justice", "司法局"},
    {"emergency", "应急管理局"},
    {"tax", "税务局"},
    {"commerce", "商务局"},
    {"ndrc", "发展和改革局"},
    {"finance", "财政局"},
    {"housing", "住房和城乡建设局"},
    {"urban", "综合行政执法局"},
    {"health", "卫生健康局"},
    {"petition", "信访局"},
    {"youth", "团委"},
    {"women", "妇联"},
    {"court", "人民法院"},
    {"procuratorate", "人民检察院"},
    {"finreg", "金融监管分局"},
    {"ecology", "生态环境分局"},
    {"resources", "自然资源局"},
    {"post", "邮政管理局"},
};
#define NDEPT ((int)(sizeof DEPTS / sizeof DEPTS[0]))

/* Region i of the 108 with committees/joint meetings: 0 the province, 1..9
 * the cities, then the county-level units. */
static void unit_of(int i, const char **code, const char **name, const char **level,
                    const char **parent_code) {
    if (i == 0) {
        *code = "520000", *name = "贵州省", *level = "province", *parent_code = NULL;
    } else if (i <= NCITY) {
        *code = CITIES[i - 1].code, *name = CITIES[i - 1].name, *level = "city";
        *parent_code = "520000";
    } else {
        const county *c = &COUNTIES[i - 1 - NCITY];
        *code = c->code, *name = c->name, *level = "county";
        *parent_code = CITIES[c->city].code;
    }
}

static int put_org(batch *bt, const char *kind, const char *code, const char *name,
                   const char *level, const char *region, const char *parent,
                   const char *const *depts, size_t ndepts) {
    dc_org_options o = DC_ORG_OPTIONS_INIT;
    o.kind = kind;
    o.code = code;
    o.name = name;
    o.level = level;
    o.region = region;
    o.parent = parent;
    o.departments = depts;
    o.ndepartments = ndepts;
    BT(bt, dc_org_put_txn(NULL, bt->g->r, t, &o), "org");
    return 0;
}

static const char *const ENT_WORDS[] = {"顺达", "黔通", "远航", "安运", "宏运",
                                        "鑫达", "畅通", "捷运", "恒通", "瀑布冷链",
                                        "黔城", "山海", "盛隆", "金桥", "众联"};
#define NENT (sizeof ENT_WORDS / sizeof ENT_WORDS[0])

static int gen_directory(gen *g) {
    batch bt = {g, g->directory, NULL};
    char code[64], name[160], parent[64];
    if (g->cal)
        CK(g, dc_calendar_publish(g->r, g->directory, g->cal), "calendar publish");

    /* Regions: five levels. */
    BT(&bt, dc_region_put_txn(g->r, t, "520000", "贵州省", "province", NULL), "region");
    for (int i = 0; i < NCITY; i++)
        BT(&bt, dc_region_put_txn(g->r, t, CITIES[i].code, CITIES[i].name, "city", "520000"),
           "region");
    for (int i = 0; i < NCOUNTY; i++)
        BT(&bt,
           dc_region_put_txn(g->r, t, COUNTIES[i].code, COUNTIES[i].name, "county",
                             CITIES[COUNTIES[i].city].code),
           "region");
    for (size_t i = 0; i < sizeof WUDANG_TOWNS / sizeof WUDANG_TOWNS[0]; i++)
        BT(&bt,
           dc_region_put_txn(g->r, t, WUDANG_TOWNS[i][0], WUDANG_TOWNS[i][1], "township", "520112"),
           "region");
    for (size_t i = 0; i < sizeof WUDANG_VILLAGES / sizeof WUDANG_VILLAGES[0]; i++) {
        snprintf(parent, sizeof parent, "%.9s", WUDANG_VILLAGES[i][0]);
        BT(&bt,
           dc_region_put_txn(g->r, t, WUDANG_VILLAGES[i][0], WUDANG_VILLAGES[i][1], "village",
                             parent),
           "region");
    }

    /* Organisation and transport departments at every level. */
    for (int i = 0; i < 1 + NCITY + NCOUNTY; i++) {
        const char *c, *n, *lv, *pc;
        unit_of(i, &c, &n, &lv, &pc);
        snprintf(name, sizeof name, "%s委组织部", n);
        snprintf(parent, sizeof parent, "org_dept-%s", pc ? pc : "");
        if (put_org(&bt, "org_dept", c, name, NULL, c, pc ? parent : NULL, NULL, 0))
            return EXIT_FAIL;
        snprintf(name, sizeof name, "%s交通运输%s", n, i == 0 ? "厅" : "局");
        snprintf(parent, sizeof parent, "transport_dept-%s", pc ? pc : "");
        if (put_org(&bt, "transport_dept", c, name, NULL, c, pc ? parent : NULL, NULL, 0))
            return EXIT_FAIL;
    }
    /* Industry committees: the province, the cities, then the county-level
     * units that have their own, as many as the (scaled) figure. */
    long made = 0;
    for (int i = 0; i < 1 + NCITY + NCOUNTY && made < g->f.committees; i++) {
        const char *c, *n, *lv, *pc;
        unit_of(i, &c, &n, &lv, &pc);
        if (i > NCITY && !COUNTIES[i - 1 - NCITY].committee)
            continue;
        snprintf(name, sizeof name, "%s道路货运（交通运输）行业党委", n);
        snprintf(parent, sizeof parent, "committee-%s", pc ? pc : "");
        if (put_org(&bt, "committee", c, name, lv, c, pc ? parent : NULL, NULL, 0))
            return EXIT_FAIL;
        made++;
    }
    /* Joint meetings, each with 20+ member departments of its region. */
    for (int i = 0; i < 1 + NCITY + NCOUNTY && i < g->f.joint_meetings; i++) {
        const char *c, *n, *lv, *pc;
        const char *ids[NDEPT];
        char idbuf[NDEPT][96];
        int nd = 20 + (int)rn(NDEPT - 20 + 1);
        unit_of(i, &c, &n, &lv, &pc);
        for (int k = 0; k < nd; k++) {
            snprintf(code, sizeof code, "%s-%s", c, DEPTS[k][0]);
            snprintf(name, sizeof name, "%s%s", n, DEPTS[k][1]);
            if (put_org(&bt, "department", code, name, NULL, c, NULL, NULL, 0))
                return EXIT_FAIL;
            snprintf(idbuf[k], sizeof idbuf[k], "department-%s", code);
            ids[k] = idbuf[k];
        }
        snprintf(name, sizeof name, "%s推动道路货运行业高质量发展和党的建设工作联席会议", n);
        if (put_org(&bt, "joint_meeting", c, name, lv, c, NULL, ids, (size_t)nd))
            return EXIT_FAIL;
    }
    /* Freight enterprises: Wudang's 27, about a dozen elsewhere. */
    for (int i = 0; i < NCOUNTY; i++) {
        long n = i == WUDANG ? g->f.wudang_enterprises
                             : round_pos(COUNTIES[i].weight / 3.0 * g->scale) + 1;
        for (long k = 0; k < n; k++) {
            const char *short_name = COUNTIES[i].name;
            snprintf(code, sizeof code, "%s-%03ld", COUNTIES[i].code, k + 1);
            snprintf(name, sizeof name, "贵州%s%s物流有限公司", ENT_WORDS[rn(NENT)],
                     k < 4 ? short_name : "");
            if (k < 4)
                snprintf(g->enterprise[i][k], sizeof g->enterprise[i][k], "%s", name);
            if (put_org(&bt, "enterprise", code, name, NULL, COUNTIES[i].code, NULL, NULL, 0))
                return EXIT_FAIL;
        }
        for (long k = n; k < 4; k++)
            snprintf(g->enterprise[i][k], sizeof g->enterprise[i][k], "%s", g->enterprise[i][0]);
    }
    /* Road freight operators (经营户), spread by the drivers' weights. */
    {
        long total_w = 0, done = 0;
        for (int i = 0; i < NCOUNTY; i++)
            total_w += COUNTIES[i].weight + (i == WUDANG ? 20 : 0);
        for (int i = 0; i < NCOUNTY; i++) {
            long w = COUNTIES[i].weight + (i == WUDANG ? 20 : 0);
            long n = i == NCOUNTY - 1 ? g->f.operators - done : g->f.operators * w / total_w;
            for (long k = 0; k < n; k++) {
                char who[32];
                person_name(who, sizeof who);
                snprintf(code, sizeof code, "%s-%04ld", COUNTIES[i].code, k + 1);
                snprintf(name, sizeof name, "%s%s货运部", COUNTIES[i].name, who);
                if (put_org(&bt, "operator", code, name, NULL, COUNTIES[i].code, NULL, NULL, 0))
                    return EXIT_FAIL;
            }
            done += n;
        }
    }
    /* Driver's Homes with their operators: Wudang's at the cold-chain
     * market, Anshun's at the Qiancheng logistics park, then service areas,
     * trunk roads, parks, hubs and enterprises across the province. */
    static const char *const SITES[] = {"service_area", "trunk_road", "logistics_park",
                                        "freight_hub", "enterprise"};
    static const char *const SITE_NAMES[] = {"高速公路服务区", "国道服务站", "物流园",
                                             "货运集散中心", "物流企业"};
    static const char *const FAC[] = {"study_room", "kitchen", "showers", "massage_chairs",
                                      "parking",    "rest",    "meals"};
    for (long s = 0; s < g->f.stations; s++) {
        int ci = s == 0 ? WUDANG : s == 1 ? ANSHUN_ED : (int)rn(NCOUNTY);
        int site = s < 2 ? 2 : (int)rn(5);
        const char *fac[7];
        size_t nf = 0;
        char op_name[160], st_name[200], addr[200], op_code[64], op_id[96];
        snprintf(code, sizeof code, "%s-%02ld", COUNTIES[ci].code, s + 1);
        if (s == 0) {
            snprintf(op_name, sizeof op_name, "贵州瀑布冷链食品投资有限公司");
            snprintf(st_name, sizeof st_name, "乌当区“司机之家”（党群服务阵地）");
            snprintf(addr, sizeof addr, "贵阳市乌当区瀑布冷链农产品交易中心");
        } else if (s == 1) {
            snprintf(op_name, sizeof op_name, "贵州黔城智慧物流园有限公司");
            snprintf(st_name, sizeof st_name, "安顺经开区“司机之家”");
            snprintf(addr, sizeof addr, "安顺经济技术开发区贵州黔城智慧物流园");
        } else {
            snprintf(op_name, sizeof op_name, "%s%s运营管理有限公司", COUNTIES[ci].name,
                     ENT_WORDS[rn(NENT)]);
            snprintf(st_name, sizeof st_name, "%s%s“司机之家”", COUNTIES[ci].name,
                     SITE_NAMES[site]);
            snprintf(addr, sizeof addr, "%s%s%s", CITIES[COUNTIES[ci].city].name, COUNTIES[ci].name,
                     SITE_NAMES[site]);
        }
        snprintf(op_code, sizeof op_code, "%s", code);
        if (put_org(&bt, "station_operator", op_code, op_name, NULL, COUNTIES[ci].code, NULL, NULL,
                    0))
            return EXIT_FAIL;
        snprintf(op_id, sizeof op_id, "station_operator-%s", op_code);
        for (int k = 0; k < 7; k++)
            if (s == 0 || k >= 4 || chance(0.6))
                fac[nf++] = FAC[k];
        dc_station_options so = DC_STATION_OPTIONS_INIT;
        so.code = code;
        so.name = st_name;
        so.site = SITES[site];
        so.region = COUNTIES[ci].code;
        so.address = addr;
        so.operator_org = op_id;
        so.agreement = s == 0 ? "区交通运输局、区总工会与贵州瀑布冷链食品投资有限公司共建共管协议"
                              : "县交通运输局、县总工会与运营单位共建共管协议";
        so.facilities = fac;
        so.nfacilities = nf;
        BT(&bt, dc_station_put_txn(NULL, g->r, t, &so), "station");
    }
    CK(g, batch_flush(&bt), "directory commit");
    return EXIT_OK;
}

/* ---- branches (their directory entries; spaces come later) ---- */

static int plan_branches(gen *g) {
    long pm_in[NCOUNTY] = {0};
    int nb_in[NCOUNTY] = {0};
    for (long i = 0; i < g->nd; i++)
        if (g->d[i].status >= S_PROBATIONARY)
            pm_in[g->d[i].county]++;
    g->nb = (int)g->f.branches;
    g->b = calloc((size_t)g->nb, sizeof *g->b);
    if (!g->b)
        return fail("demo-data: out of memory");
    /* The report's three named branches first, then one per county by
     * party members, then second and third branches where most members are. */
    int fixed[3] = {WUDANG, WANSHAN, ANSHUN_ED};
    int k = 0;
    for (; k < 3 && k < g->nb; k++)
        nb_in[fixed[k]]++, g->b[k].county = fixed[k];
    while (k < g->nb) {
        int best = -1;
        double best_load = -1;
        for (int c = 0; c < NCOUNTY; c++) {
            if (c == WUDANG)
                continue; /* one branch for Wudang's 70, as in the report */
            double load = (double)pm_in[c] / (nb_in[c] + 1) + (nb_in[c] == 0 ? 1e6 : 0);
            if (load > best_load)
                best_load = load, best = c;
        }
        nb_in[best]++;
        g->b[k++].county = best;
    }
    for (int c = 0; c < NCOUNTY; c++)
        g->county_branch[c] = -1;
    int seq[NCOUNTY] = {0};
    for (int i = 0; i < g->nb; i++) {
        branch *b = &g->b[i];
        snprintf(b->code, sizeof b->code, "%s-%02d", COUNTIES[b->county].code,
                 ++seq[b->county] % 100);
        snprintf(b->org, sizeof b->org, "branch-%s", b->code);
        if (g->county_branch[b->county] < 0)
            g->county_branch[b->county] = i;
    }
    /* Every party-member driver in exactly one branch: one of his activity
     * county's, else one of his city's, else the nearest by index. */
    int rr[NCOUNTY] = {0};
    for (long i = 0; i < g->nd; i++) {
        drv *d = &g->d[i];
        d->branch = -1;
        if (d->status < S_PROBATIONARY)
            continue;
        int c = d->county, pick = -1;
        if (nb_in[c]) {
            int want = rr[c]++ % nb_in[c], seen = 0;
            for (int j = 0; j < g->nb && pick < 0; j++)
                if (g->b[j].county == c && seen++ == want)
                    pick = j;
        } else {
            for (int j = 0; j < g->nb && pick < 0; j++)
                if (COUNTIES[g->b[j].county].city == COUNTIES[c].city)
                    pick = j;
            if (pick < 0)
                pick = (int)(i % g->nb);
        }
        d->branch = pick;
        branch *b = &g->b[pick];
        if (b->nmembers == b->cap) {
            int nc = b->cap ? b->cap * 2 : 32;
            int *p = realloc(b->members, (size_t)nc * sizeof *p);
            if (!p)
                return fail("demo-data: out of memory");
            b->members = p;
            b->cap = nc;
        }
        b->members[b->nmembers++] = (int)i;
    }
    batch bt = {g, g->directory, NULL};
    for (int i = 0; i < g->nb; i++) {
        char name[200], parent[48];
        const county *c = &COUNTIES[g->b[i].county];
        snprintf(name, sizeof name, "%s货车司机“红色黔线”流动党员党支部%s", c->name,
                 g->b[i].code + 7);
        snprintf(parent, sizeof parent, "committee-%s", c->code);
        if (put_org(&bt, "branch", g->b[i].code, name, NULL, c->code, parent, NULL, 0))
            return EXIT_FAIL;
    }
    CK(g, batch_flush(&bt), "branches commit");
    return EXIT_OK;
}

/* ---- drivers: both lines, three rounds, through the registry import ---- */

static int pick_county(const long *cum, long total) {
    long x = (long)(rnd() % (uint64_t)total);
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

static int plan_drivers(gen *g) {
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
        d->male = chance(0.97);
        /* Household registration: mostly where he works, else elsewhere in
         * the province (drivers move between outflow and inflow areas). */
        int hk = chance(0.8) ? d->county : (int)rn(NCOUNTY);
        for (;;) {
            id_number(d->idn, COUNTIES[hk].code, d->male);
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
        long j = i + (long)rn((uint32_t)(nw - i));
        long t = order[i];
        order[i] = order[j], order[j] = t;
        g->d[order[i]].status = chance(0.93) ? S_MEMBER : S_PROBATIONARY;
    }
    for (long i = 0; i < op; i++) {
        long lo = nw + i, j = lo + (long)rn((uint32_t)(g->nd - lo));
        long t = order[lo];
        order[lo] = order[j], order[j] = t;
        g->d[order[lo]].status = chance(0.93) ? S_MEMBER : S_PROBATIONARY;
    }
    free(order);
    /* Those on the way: applicants, activists, development targets. */
    for (long i = 0; i < g->nd; i++) {
        drv *d = &g->d[i];
        if (d->status >= S_PROBATIONARY)
            continue;
        uint32_t x = rn(1000);
        d->status = x < 5 ? S_APPLICANT : x < 8 ? S_ACTIVIST : x < 9 ? S_CANDIDATE : S_MASSES;
    }
    return EXIT_OK;
}

static int csv_row(sbuf *b, gen *g, long i, bool org_line, int variant) {
    drv *d = &g->d[i];
    uint64_t saved = g_rng;
    int city = COUNTIES[d->county].city;
    char name[32], phone[12], p1[32], p2[32], r1[64], r2[64];
    /* The facts of a driver are drawn from a generator seeded by the seed
     * and his index, so both lines describe the same person. */
    g_rng = mix64(mix64(g->seed) + (uint64_t)i);
    person_name(name, sizeof name);
    phone_number(phone);
    plate(p1, sizeof p1, city, false);
    plate(p2, sizeof p2, city, true);
    route(r1, sizeof r1, city);
    route(r2, sizeof r2, city);
    bool two_routes = chance(0.4), trailer = chance(0.3);
    const char *scope = scope_of();
    const char *employer = chance(0.45) ? g->enterprise[d->county][rn(4)] : "个体经营";
    const char *hukou = NULL;
    char hk[8];
    snprintf(hk, sizeof hk, "%.6s", d->idn);
    hukou = hk;
    g_rng = saved;
    /* Where the lines disagree (about 4% of the organisation line's rows):
     * an old phone number or a former employer. */
    if (variant == 1)
        phone_number(phone);
    if (variant == 2)
        employer = "原单位（已离职）";
    int rc = sb_printf(b, "%s,%s,%s,%s,%s%s%s,%s,%s%s%s,%s,%s,%s\n", name, d->idn, phone, hukou, p1,
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
        return die(g, rc, "registry import");
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
    return sb_printf(b, "%s", CSV_HEADER) ? fail("demo-data: out of memory") : EXIT_OK;
}

/* One list: the rows of drivers i for which want(g, i) holds. */
typedef bool (*want_fn)(const gen *g, long i, int *variant);

/* The rows of the drivers `idx[0..n)` kept by `part` that the list has. */
static int import_part(gen *g, sbuf *b, const char *part, const long *idx, long n,
                       const list_spec *ls, want_fn want, long *flagged, long *done) {
    long rows = 0;
    int rc = EXIT_OK;
    b->n = 0;
    if (sb_printf(b, "%s", CSV_HEADER))
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
    int rc = EXIT_OK;
    for (int c = 0; c < NCOUNTY && rc == EXIT_OK; c++)
        if (g->ncdrv[c])
            rc = import_part(g, &b, g->cpart[c], g->cdrv[c], g->ncdrv[c], ls, want, flagged, &done);
    for (int i = 0; i < g->nb && rc == EXIT_OK; i++) {
        branch *br = &g->b[i];
        long *p = realloc(idx, (size_t)(br->nmembers ? br->nmembers : 1) * sizeof *idx);
        if (!p) {
            rc = fail("demo-data: out of memory");
            break;
        }
        idx = p;
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
    uint64_t h = mix64(mix64(g->seed ^ 0x0f0f0f0full) + (uint64_t)i);
    *variant = h % 100 < 2 ? 1 : h % 100 < 4 ? 2 : 0;
    return true;
}

/* Round 2, transport line (completing information): a 3% sample. */
static bool want_sample(const gen *g, long i, int *variant) {
    (void)variant;
    return mix64(mix64(g->seed ^ 0xa5a5a5a5ull) + (uint64_t)i) % 100 < 3;
}

/* Round 3, organisation line (re-verification): Wudang's party members,
 * found again door to door. */
static bool want_wudang_pm(const gen *g, long i, int *variant) {
    (void)variant;
    return g->d[i].county == WUDANG && g->d[i].status >= S_PROBATIONARY;
}

/* The registry id of driver i (asked of the registry once). */
static const char *did_of(gen *g, long i) {
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

#define DID(g, i, out)                                                                             \
    do {                                                                                           \
        if (!((out) = did_of((g), (i))))                                                           \
            return die((g), dc_replica_errcode((g)->r), "registry driver id");                     \
    } while (0)

/* The dates of the stages of membership of driver i (no typed call sets
 * them: the generic API, as docs/domain.md lays the field out), and a
 * party member's branch. */
static int stage_dates(gen *g, batch *bt, long i) {
    drv *d = &g->d[i];
    const char *did;
    if (d->status == S_MASSES)
        return EXIT_OK;
    DID(g, i, did);
    int64_t at = cst(2015 + (int)rn(11), 1 + (int)rn(12), 1 + (int)rn(28), 10, 0);
    if (at > cst(2025, 12, 20, 10, 0))
        at = cst(2025, 12, 20, 10, 0);
    for (int s = d->status; s >= S_APPLICANT; s--) {
        char field[32], date[11];
        snprintf(field, sizeof field, "stage_%s", STATUS_CODES[s]);
        date_of(date, at);
        BT(bt, dc_txn_set(t, "driver", did, field, DC_STR, 0, date), "stage date");
        at -= (int64_t)(90 + rn(400)) * DAY_MS;
    }
    if (d->branch >= 0)
        BT(bt, dc_branch_assign_txn(g->r, t, did, g->b[d->branch].org), "branch assign");
    return EXIT_OK;
}

/* Points a batch at another space (committing what it holds). */
static int batch_to(batch *bt, const char *space) {
    if (bt->space && strcmp(bt->space, space) == 0)
        return EXIT_OK;
    CK(bt->g, batch_flush(bt), "registry commit");
    bt->space = space;
    return EXIT_OK;
}

/* The registry in parts (docs/domain.md, "Registry spaces"): the root, a
 * county registry per county-level unit, a branch registry per branch. */
static int gen_parts(gen *g) {
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
            return die(g, rc, "registry part");
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
            return die(g, rc, "registry part");
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

static int gen_registry(gen *g) {
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

    progress_stage(&g->pg, "demo-data: registry, stages, secretaries, liaison", "drivers",
                   (uint64_t)g->nd);
    batch bt = {g, NULL, NULL};
    long seen = 0;
    for (int c = 0; c < NCOUNTY; c++) {
        if ((rc = batch_to(&bt, g->cpart[c])))
            return rc;
        for (long k = 0; k < g->ncdrv[c]; k++)
            if ((rc = stage_dates(g, &bt, g->cdrv[c][k])))
                return rc;
        seen += g->ncdrv[c];
        progress_update(&g->pg, (uint64_t)seen, -1);
    }
    for (int i = 0; i < g->nb; i++) {
        if ((rc = batch_to(&bt, g->b[i].rpart)))
            return rc;
        for (int m = 0; m < g->b[i].nmembers; m++)
            if (kept_in_branch(g, g->b[i].members[m]) &&
                (rc = stage_dates(g, &bt, g->b[i].members[m])))
                return rc;
    }

    /* Secretaries sent from the transport departments: 187 persons for 209
     * branches, so some lead two; an instructor for each branch. */
    static const char *const TASKS[] = {
        "走访冷链市场、物流园，核实台账信息", "每日推送学习资料到支部微信群",
        "收集货车司机诉求并按级转办", "联系流动党员，跟进入党申请人进度"};
    static const char *const NAMED[] = {"许鑫", "成万莎", "谢朝典"};
    for (int i = 0; i < g->nb; i++) {
        branch *b = &g->b[i];
        long person = i < g->f.secretaries ? i : (i - g->f.secretaries) % g->f.secretaries;
        char pid[32], name[32], dept[48], sid[96];
        snprintf(pid, sizeof pid, "sec-%04ld", person + 1);
        if (person < 3)
            snprintf(name, sizeof name, "%s", NAMED[person]);
        else {
            uint64_t saved = g_rng;
            g_rng = mix64(mix64(g->seed ^ 0x5ec5ec5ec5ull) + (uint64_t)person);
            person_name(name, sizeof name);
            g_rng = saved;
        }
        snprintf(dept, sizeof dept, "transport_dept-%s", COUNTIES[b->county].code);
        if ((rc = batch_to(&bt, b->rpart)))
            return rc;
        dc_secretary_options so = DC_SECRETARY_OPTIONS_INIT;
        so.branch = b->org;
        so.person = pid;
        so.name = name;
        so.from_dept = dept;
        so.role = "secretary";
        BT(&bt, dc_secretary_put_txn(NULL, g->r, t, &so), "secretary");
        snprintf(sid, sizeof sid, "%s/%s", b->org, pid);
        for (int k = 0; k < 4; k++) {
            char due[11];
            date_of(due, cst(2026, 1 + k * 3, 15, 12, 0));
            BT(&bt, dc_secretary_task_txn(g->r, t, sid, TASKS[k], due), "task");
        }
        char iid[32], iname[32];
        snprintf(iid, sizeof iid, "ins-%04d", i + 1);
        person_name(iname, sizeof iname);
        so.person = iid;
        so.name = iname;
        so.role = "instructor";
        BT(&bt, dc_secretary_put_txn(NULL, g->r, t, &so), "instructor");
    }

    /* Liaison chains: cadres -> party-member drivers -> drivers, nearby
     * where possible (both lists sorted by county). */
    long npm = 0, nl = g->f.liaison_pm, nc = g->f.cadres, nld = g->f.liaison_drivers;
    long *pm = malloc((size_t)g->f.pm * sizeof *pm);
    long *pool = malloc((size_t)g->nd * sizeof *pool);
    unsigned char *used = calloc((size_t)g->nd, 1);
    long start[NCOUNTY + 1] = {0}, cur[NCOUNTY];
    if (!pm || !pool || !used) {
        free(pm), free(pool), free(used);
        return fail("demo-data: out of memory");
    }
    for (long i = 0; i < g->nd; i++)
        if (g->d[i].status >= S_PROBATIONARY)
            pm[npm++] = i;
    for (long i = 0; i < nl; i++) { /* a random nl of them, kept in county order */
        long j = i + (long)rn((uint32_t)(npm - i));
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
            long j = i + (long)rn((uint32_t)(start[c + 1] - i));
            long t = pool[i];
            pool[i] = pool[j], pool[j] = t;
        }
        cur[c] = start[c];
    }
    long any = 0; /* fallback cursor over the whole pool */
    static const char *const HOW[] = {"call", "visit", "message"};
    static const char *const NOTES[] = {"询问近期出车情况", "了解运费结算情况", "关注入党申请进度",
                                        "提醒冬季行车安全", "转达支部学习安排"};
    rc = EXIT_OK;
    for (long k = 0, j = 0; k < nc && rc == EXIT_OK; k++) {
        char cid[32], name[32];
        long first = k * nl / nc, last = (k + 1) * nl / nc;
        int c = g->d[pm[first]].county;
        snprintf(cid, sizeof cid, "cad-%s-%04ld", COUNTIES[c].code, k + 1);
        person_name(name, sizeof name);
        if ((rc = batch_to(&bt, g->cpart[c])))
            return rc;
        BT(&bt,
           dc_liaison_cadre_txn(g->r, t, cid, name, COUNTIES[c].code,
                                chance(0.6) ? "township_org_member" : "village_secretary"),
           "cadre");
        for (j = first; j < last; j++) {
            const char *pdid;
            char link[96];
            DID(g, pm[j], pdid);
            BT(&bt, dc_liaison_link_txn(NULL, g->r, t, cid, pdid, "cadre"), "liaison");
            snprintf(link, sizeof link, "%s/%s", cid, pdid);
            if (chance(0.2)) {
                char date[11];
                date_of(date, cst(2026, 1 + (int)rn(10), 1 + (int)rn(28), 10, 0));
                BT(&bt, dc_liaison_contact_txn(g->r, t, link, HOW[rn(3)], date, NOTES[rn(5)]),
                   "contact");
            }
            /* This party member's own drivers. */
            long dfirst = j * nld / nl, dlast = (j + 1) * nld / nl;
            int pc = g->d[pm[j]].county;
            char pdid_copy[25];
            snprintf(pdid_copy, sizeof pdid_copy, "%s", pdid);
            for (long x = dfirst; x < dlast; x++) {
                long di = -1;
                while (cur[pc] < start[pc + 1] && di < 0) {
                    long cand = pool[cur[pc]++];
                    if (!used[cand])
                        di = cand;
                }
                while (di < 0 && any < start[NCOUNTY]) {
                    long cand = pool[any++];
                    if (!used[cand])
                        di = cand;
                }
                if (di < 0)
                    break; /* cannot happen: figures are checked first */
                used[di] = 1;
                const char *ddid;
                DID(g, di, ddid);
                BT(&bt, dc_liaison_link_txn(NULL, g->r, t, pdid_copy, ddid, "party_member"),
                   "liaison");
                if (chance(0.1)) {
                    char date[11];
                    snprintf(link, sizeof link, "%s/%s", pdid_copy, ddid);
                    date_of(date, cst(2026, 1 + (int)rn(10), 1 + (int)rn(28), 19, 0));
                    BT(&bt, dc_liaison_contact_txn(g->r, t, link, HOW[rn(3)], date, NOTES[rn(5)]),
                       "contact");
                }
            }
        }
    }
    free(pm), free(pool), free(used);
    CK(g, batch_flush(&bt), "registry commit");
    return rc;
}

/* ---- moves: drivers who went to work in another county (流出地/流入地) ---- */

/* 0.1 % of the drivers outside branches and outside Wudang (whose figures
 * are the report's) move to another county's registry during 2026: their
 * records follow them (dc_registry_move), the county they leave keeps a
 * forwarding entry, and their later grievances are the new county's. */
static int gen_moves(gen *g) {
    long want = round_pos((double)g->nd * 0.001);
    progress_stage(&g->pg, "demo-data: moves between counties", "drivers", (uint64_t)want);
    for (long tries = 0; g->moves < want && tries < want * 50; tries++) {
        long i = (long)rn((uint32_t)g->nd);
        drv *d = &g->d[i];
        int to = (int)rn(NCOUNTY);
        if (d->branch >= 0 || d->county == WUDANG || to == WUDANG || to == d->county)
            continue;
        const char *did;
        char date[11];
        DID(g, i, did);
        date_of(date, cst(2026, 2 + (int)rn(7), 1 + (int)rn(28), 10, 0));
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

/* ---- branch spaces: roster, study, activities ---- */

static const char *const STUDY_KINDS[] = {"micro_video", "micro_lesson", "article", "news"};
static const char *const STUDY_TITLES[][4] = {
    {"微视频：货车司机安全驾驶要点", "微视频：“司机之家”里的暖心服务", "微视频：冬季山区道路行车",
     "微视频：党员司机的一天"},
    {"微党课：学习贯彻党的二十大精神", "微党课：流动党员的责任与担当", "微党课：党建引领社建",
     "微党课：发挥先锋模范作用"},
    {"文章：道路运输安全生产法规解读", "文章：运费结算与合同权益保护",
     "文章：新就业群体党建工作经验", "文章：货车司机职业健康指南"},
    {"新闻：全省建成“司机之家”50个", "新闻：12328热线“3”号键专线开通",
     "新闻：联席会议“诉求共解”机制", "新闻：“红色黔线”支部活动掠影"},
};

static int gen_branches(gen *g) {
    long items_done = 0;
    progress_stage(&g->pg, "demo-data: branches (rosters, study items, activities)", "branches",
                   (uint64_t)g->nb);
    for (int i = 0; i < g->nb; i++) {
        progress_update(&g->pg, (uint64_t)i, -1);
        branch *b = &g->b[i];
        const county *c = &COUNTIES[b->county];
        char r1[64], r2[64], name[200];
        if (new_space(g, b->space, "branch %s", b->code))
            return EXIT_FAIL;
        batch bt = {g, b->space, NULL};
        route(r1, sizeof r1, c->city);
        route(r2, sizeof r2, c->city);
        const char *routes[2] = {r1, r2};
        const char *scopes[2] = {chance(0.3) ? "cold_chain" : "construction_waste",
                                 "general_cargo"};
        snprintf(name, sizeof name, "%s货车司机“红色黔线”流动党员党支部%s", c->name, b->code + 7);
        dc_branch_options bo = DC_BRANCH_OPTIONS_INIT;
        bo.code = b->code;
        bo.name = name;
        bo.region = c->code;
        bo.hukou_region = c->code;
        bo.routes = routes;
        bo.nroutes = 2;
        bo.activity_area = c->code;
        bo.business_scope = scopes;
        bo.nbusiness_scope = 2;
        BT(&bt, dc_branch_put_txn(NULL, g->r, t, &bo), "branch");
        for (int m = 0; m < b->nmembers; m++) {
            const char *did;
            char joined[11];
            DID(g, b->members[m], did);
            date_of(joined, cst(2025, 3 + (int)rn(9), 1 + (int)rn(28), 10, 0));
            BT(&bt, dc_branch_member_add_txn(g->r, t, b->org, did, joined), "roster");
        }
        /* Study items pushed at night, read (often done) by most members. */
        long n = g->f.study / g->nb + (i < g->f.study % g->nb ? 1 : 0);
        for (long k = 0; k < n; k++) {
            char id[24], title[200], media[200];
            int kind = (int)rn(4);
            int64_t pushed =
                cst(2026, 1, 5, 20, 0) + (int64_t)rn(300) * DAY_MS + (int64_t)rn(150) * MIN_MS;
            snprintf(id, sizeof id, "st-%ld", k + 1);
            snprintf(title, sizeof title, "%s（第%ld期）", STUDY_TITLES[kind][rn(4)], k + 1);
            snprintf(media, sizeof media, "https://www.gzdysx.gov.cn/hsqx/%s/%ld.html", b->code,
                     k + 1);
            dc_study_options so = DC_STUDY_OPTIONS_INIT;
            so.id = id;
            so.title = title;
            so.kind = STUDY_KINDS[kind];
            so.media = media;
            so.pushed_ms = pushed;
            BT(&bt, dc_study_push_txn(NULL, g->r, t, &so), "study");
            for (int m = 0; m < b->nmembers; m++) {
                if (!chance(0.75))
                    continue;
                const char *did;
                DID(g, b->members[m], did);
                BT(&bt, dc_study_read_txn(g->r, t, id, did, chance(0.6)), "study read");
            }
            items_done++;
        }
        /* Two theme activities with who took part. */
        for (int a = 0; a < 2; a++) {
            char aid[16], date[11];
            snprintf(aid, sizeof aid, "act-%d", a + 1);
            date_of(date, cst(2026, 4 + a * 3, 1 + (int)rn(28), 10, 0));
            BT(&bt,
               dc_study_activity_txn(NULL, g->r, t, aid,
                                     a ? "主题党日：重温入党誓词" : "主题活动：安全行车我承诺",
                                     date),
               "activity");
            for (int m = 0; m < b->nmembers; m++) {
                const char *did;
                if (!chance(0.5))
                    continue;
                DID(g, b->members[m], did);
                BT(&bt, dc_study_join_txn(g->r, t, aid, did), "activity join");
            }
        }
        CK(g, batch_flush(&bt), "branch commit");
        /* A few discussions (云讨论), each a post of its own. */
        for (long k = 0; k < n && b->nmembers; k++) {
            if (!chance(0.08))
                continue;
            char id[24];
            const char *did;
            static const char *const POSTS[] = {
                "学习了，跑车路上也要守规矩。", "这期讲得实在，晚上休息时又看了一遍。",
                "建议多讲讲运费结算维权的办法。", "支部书记辛苦了！"};
            snprintf(id, sizeof id, "st-%ld", k + 1);
            DID(g, b->members[rn((uint32_t)b->nmembers)], did);
            CK(g, dc_study_discuss(g->r, b->space, id, did, POSTS[rn(4)]), "study discuss");
        }
    }
    (void)items_done;
    return EXIT_OK;
}

/* ---- grievances: filed and handled on the simulated clock ---- */

enum { A_FILE, A_TRANSFER, A_FEEDBACK, A_REPLY, A_RESOLVE, A_REVISIT, A_CLOSE };
static const char *const ACTIONS[] = {"file",    "transfer", "feedback", "reply",
                                      "resolve", "revisit",  "close"};
enum { TO_BRANCH, TO_COMMITTEE, TO_JM_COUNTY, TO_JM_CITY };

typedef struct cstep {
    int64_t t;
    uint32_t seq; /* order of planning: keeps a case's steps in order on ties */
    int kase;
    uint8_t action, to;
    int8_t satisfied;
} cstep;

typedef struct kase {
    long driver;     /* index, or -1: an unregistered hotline caller */
    char caller[19]; /* his identity number */
    int county;
    int channel, category;
    bool emergency;
    long amount; /* yuan, for freight arrears */
    char id[20]; /* "gr-..." once filed */
} kase;

static const char *const CHANNELS[] = {"12328", "group", "12345", "station", "app"};
static const int CHANNEL_W[] = {35, 30, 15, 10, 10};
static const char *const CATEGORIES[] = {"freight_arrears", "road_passage", "enforcement",
                                         "services",        "insurance",    "contract",
                                         "consultation",    "help",         "suggestion"};
static const int CATEGORY_W[] = {30, 15, 12, 10, 6, 6, 12, 6, 3};

static int weighted(const int *w, int n) {
    int total = 0, x;
    for (int i = 0; i < n; i++)
        total += w[i];
    x = (int)rn((uint32_t)total);
    for (int i = 0; i < n; i++)
        if ((x -= w[i]) < 0)
            return i;
    return n - 1;
}

static void case_text(char *out, size_t cap, const kase *k) {
    const char *where = COUNTIES[k->county].name;
    switch (k->category) {
    case 0: snprintf(out, cap, "货主拖欠运费%ld元，多次催要未果，请求帮助追讨", k->amount); break;
    case 1: snprintf(out, cap, "%s城区货车限行时段调整，装卸货车辆通行困难", where); break;
    case 2: snprintf(out, cap, "对%s超限检测站的处罚有异议，请求复核", where); break;
    case 3: snprintf(out, cap, "%s附近服务区夜间停车位不足，无法正常休息", where); break;
    case 4: snprintf(out, cap, "车辆事故后保险理赔迟迟未到账"); break;
    case 5: snprintf(out, cap, "物流平台单方面下调运价，运输合同发生纠纷"); break;
    case 6: snprintf(out, cap, "咨询道路运输从业资格证年审和异地转籍办理"); break;
    case 7:
        snprintf(out, cap,
                 k->emergency ? "车辆在%s境内高速遇恶劣天气被困，请求紧急救援"
                              : "车辆在%s抛锚，请求协调拖车",
                 where);
        break;
    default: snprintf(out, cap, "建议在%s物流园增设货车司机休息室和淋浴间", where); break;
    }
}

static int cmp_step(const void *a, const void *b) {
    const cstep *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

typedef struct plan {
    cstep *s;
    size_t n, cap;
    uint32_t seq;
    int64_t last; /* time of the case's previous step */
    bool at_once; /* an emergency's step: may share the previous step's instant */
} plan;

static int push(plan *p, int k, int action, int64_t t, int to, int satisfied) {
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4096;
        cstep *ns = realloc(p->s, nc * sizeof *ns);
        if (!ns)
            return -1;
        p->s = ns;
        p->cap = nc;
    }
    /* A case's steps are strictly in order (a minute apart at least), but
     * an emergency's may come at the very instant of the step before (the
     * receipt, the resolution): "at once". */
    if (action != A_FILE && !(p->at_once && t == p->last) && t <= p->last)
        t = p->last + MIN_MS;
    p->last = t;
    cstep *c = &p->s[p->n++];
    c->t = t;
    c->seq = p->seq++;
    c->kase = k;
    c->action = (uint8_t)action;
    c->to = (uint8_t)to;
    c->satisfied = (int8_t)satisfied;
    return 0;
}

/* A moment before `due` (on time), or after it (late), at least a minute
 * after the previous step. */
static int64_t around(const plan *p, int64_t due, bool on_time, int64_t late_span) {
    if (on_time) {
        int64_t lo = p->last + 30 * MIN_MS, hi = due - 30 * MIN_MS;
        if (hi <= lo)
            return p->last + MIN_MS < due ? p->last + MIN_MS : due;
        return lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
    }
    return due + HOUR_MS + (int64_t)(rnd() % (uint64_t)late_span);
}

/* A receipt between day0 and day0 + span days, between 07:00 and 22:00 CST. */
static int64_t receipt(int64_t day0, int span) {
    return day0 + (int64_t)rn((uint32_t)span) * DAY_MS + 7 * HOUR_MS +
           (int64_t)rn(15 * 60) * MIN_MS + (int64_t)rn(60) * 1000;
}

static int plan_case(gen *g, plan *p, int k, bool resolved, const kase *c) {
    const dc_calendar *cal = g->cal;
    int64_t t0 =
        resolved ? receipt(cst(2026, 1, 6, 0, 0), 298) : receipt(cst(2026, 9, 15, 0, 0), 51);
    p->last = t0;
    if (push(p, k, A_FILE, t0, 0, -1))
        return -1;
    /* An emergency is transferred, fed back and answered at once (mostly:
     * some a quarter of an hour late); an ordinary case is transferred
     * within 2 hours, mostly. */
    bool at_once = c->emergency && chance(0.85);
    int64_t tr = c->emergency   ? (at_once ? t0 : t0 + 15 * MIN_MS)
                 : chance(0.94) ? t0 + (5 + (int64_t)rn(105)) * MIN_MS
                                : t0 + (130 + (int64_t)rn(270)) * MIN_MS;
    p->at_once = c->emergency;
    if (push(p, k, A_TRANSFER, tr, TO_BRANCH, -1))
        return -1;
    if (c->emergency && (push(p, k, A_FEEDBACK, tr, 0, -1) || push(p, k, A_REPLY, tr, 0, -1)))
        return -1;
    p->at_once = false;
    /* Climbing the chain: a third to the committee, some on to the joint
     * meeting, a few to the city's (the only ones that leave the county). */
    if (chance(0.35)) {
        if (push(p, k, A_TRANSFER, p->last + (1 + (int64_t)rn(20)) * HOUR_MS, TO_COMMITTEE, -1))
            return -1;
        if (chance(0.3) && push(p, k, A_TRANSFER, p->last + (1 + (int64_t)rn(24)) * HOUR_MS,
                                chance(0.25) ? TO_JM_CITY : TO_JM_COUNTY, -1))
            return -1;
    }
    int stop = resolved ? 9 : (int)rn(100); /* where an open case stands now */
    if (!resolved && stop < 30)
        return 0;
    bool quick = resolved && chance(0.3); /* settled within a day, like the 4,200 yuan */
    if (!quick && !c->emergency) {
        int64_t fb = dc_calendar_end_of_workdays(cal, t0, 2);
        if (push(p, k, A_FEEDBACK, around(p, fb, chance(0.93), 40 * HOUR_MS), 0, -1))
            return -1;
        if (!resolved && stop < 65)
            return 0;
        int64_t rp = dc_calendar_end_of_workdays(cal, t0, 5);
        if (push(p, k, A_REPLY, around(p, rp, chance(0.9), 72 * HOUR_MS), 0, -1))
            return -1;
        if (!resolved && stop < 85)
            return 0;
    }
    int64_t rs =
        p->last + (quick ? (2 + (int64_t)rn(18)) * HOUR_MS : (2 + (int64_t)rn(94)) * HOUR_MS);
    if (push(p, k, A_RESOLVE, rs, 0, -1))
        return -1;
    if (!resolved) /* resolved, then the driver was not satisfied: open again */
        return push(p, k, A_REVISIT, p->last + (4 + (int64_t)rn(30)) * HOUR_MS, 0, 0);
    if (!chance(0.9))
        return 0; /* not revisited (yet) */
    int64_t rv = dc_calendar_end_of_workdays(cal, p->last, 2);
    bool happy = chance(0.96);
    /* An emergency's return visit is at once too: the call that confirms
     * the driver is safe, at the resolution. */
    p->at_once = at_once;
    if (push(p, k, A_REVISIT, at_once ? p->last : around(p, rv, chance(0.95), 48 * HOUR_MS), 0,
             happy))
        return -1;
    p->at_once = false;
    if (!happy) { /* reopened by the fold; resolved again and revisited */
        if (push(p, k, A_RESOLVE, p->last + (1 + (int64_t)rn(5)) * DAY_MS, 0, -1))
            return -1;
        rv = dc_calendar_end_of_workdays(cal, p->last, 2);
        if (push(p, k, A_REVISIT, around(p, rv, true, HOUR_MS), 0, 1))
            return -1;
    }
    if (chance(0.6) && push(p, k, A_CLOSE, p->last + (1 + (int64_t)rn(3)) * DAY_MS, 0, -1))
        return -1;
    return 0;
}

static void transfer_target(char *out, size_t cap, const gen *g, const kase *c, int to) {
    const county *co = &COUNTIES[c->county];
    switch (to) {
    case TO_BRANCH:
        if (g->county_branch[c->county] >= 0)
            snprintf(out, cap, "%s", g->b[g->county_branch[c->county]].org);
        else /* no branch in the county (small scales): its committee */
            snprintf(out, cap, "committee-%s", co->committee ? co->code : CITIES[co->city].code);
        break;
    case TO_COMMITTEE:
        snprintf(out, cap, "committee-%s", co->committee ? co->code : CITIES[co->city].code);
        break;
    case TO_JM_COUNTY: snprintf(out, cap, "joint_meeting-%s", co->code); break;
    default: snprintf(out, cap, "joint_meeting-%s", CITIES[co->city].code); break;
    }
}

static int gen_cases(gen *g) {
    long n = g->f.cases;
    kase *ks = calloc((size_t)n, sizeof *ks);
    long *order = malloc((size_t)n * sizeof *order);
    plan p = {NULL, 0, 0, 0, 0, false};
    int rc = EXIT_OK;
    if (!ks || !order) {
        free(ks), free(order);
        return fail("demo-data: out of memory");
    }
    for (long k = 0; k < n; k++)
        order[k] = k;
    for (long k = 0; k + 1 < n; k++) { /* which cases end resolved */
        long j = k + (long)rn((uint32_t)(n - k));
        long t = order[k];
        order[k] = order[j], order[j] = t;
    }
    for (long k = 0; k < n; k++) {
        kase *c = &ks[k];
        c->driver = chance(0.95) ? (long)rn((uint32_t)g->nd) : -1;
        if (c->driver >= 0) {
            c->county = g->d[c->driver].county;
        } else {
            c->county = (int)rn(NCOUNTY);
            id_number(c->caller, COUNTIES[c->county].code, true);
        }
        c->channel = weighted(CHANNEL_W, 5);
        c->category = weighted(CATEGORY_W, 9);
        c->emergency = c->category == 7 && chance(0.35);
        c->amount = k == 0 ? 4200 : 500 + (long)rn(120) * 100;
        if (k == 0)
            c->category = 0; /* the report's: 4,200 yuan of freight */
    }
    for (long r = 0; r < n && rc == EXIT_OK; r++) {
        long k = order[r];
        if (plan_case(g, &p, (int)k, r < g->f.resolved, &ks[k]))
            rc = fail("demo-data: out of memory");
    }
    free(order);
    if (rc == EXIT_OK)
        qsort(p.s, p.n, sizeof *p.s, cmp_step);
    static const char *const NOTE[] = {NULL,
                                       NULL,
                                       "已联系相关单位，正在协调处理",
                                       "经协调，已形成处理意见并答复司机",
                                       "诉求已办结",
                                       NULL,
                                       "办结归档"};
    progress_stage(&g->pg, "demo-data: grievances", "steps", (uint64_t)p.n);
    for (size_t i = 0; i < p.n && rc == EXIT_OK; i++) {
        const cstep *s = &p.s[i];
        kase *c = &ks[s->kase];
        int drc;
        progress_update(&g->pg, (uint64_t)i, -1);
        g_sim_ms = s->t;
        if (s->action == A_FILE) {
            char text[300];
            dc_buf out = DC_BUF_INIT;
            if (!g->desk[c->county][0]) {
                if (new_space(g, g->desk[c->county], "desk %s", COUNTIES[c->county].code)) {
                    rc = EXIT_FAIL;
                    break;
                }
                g->ndesks++;
            }
            case_text(text, sizeof text, c);
            dc_case_options o = DC_CASE_OPTIONS_INIT;
            if (c->driver >= 0) {
                if (!(o.driver = did_of(g, c->driver))) {
                    rc = die(g, dc_replica_errcode(g->r), "registry driver id");
                    break;
                }
            } else {
                o.caller_id_number = c->caller;
                o.registry = g->registry;
            }
            o.channel = CHANNELS[c->channel];
            o.category = CATEGORIES[c->category];
            o.text = text;
            o.emergency = c->emergency;
            o.region = COUNTIES[c->county].code;
            /* Money owed (freight arrears, contract disputes) carries its
             * amount, as the report's 4,200 yuan. */
            if (c->category == 0 || c->category == 5)
                o.amount = c->amount;
            drc = dc_case_file(&out, g->r, g->desk[c->county], &o, g->cal);
            if (drc == 0) {
                const char *q = strstr((const char *)out.ptr, "\"case\":\"");
                if (q)
                    snprintf(c->id, sizeof c->id, "%.15s", q + 8);
                char *quote = strchr(c->id, '"');
                if (quote)
                    *quote = '\0';
            }
            dc_buf_dispose(&out);
        } else {
            char to[64];
            const char *note = NOTE[s->action];
            if (s->action == A_REVISIT)
                note = s->satisfied ? "回访：司机表示满意" : "回访：司机表示不满意，要求重新办理";
            if (s->action == A_TRANSFER)
                transfer_target(to, sizeof to, g, c, s->to);
            drc = dc_case_step_in(NULL, g->r, g->desk[c->county], c->id, ACTIONS[s->action],
                                  s->action == A_TRANSFER ? to : NULL, note,
                                  s->action == A_REVISIT ? s->satisfied : -1, g->cal);
        }
        if (drc)
            rc = die(g, drc, s->action == A_FILE ? "case file" : "case step");
    }
    free(p.s);
    free(ks);
    return rc;
}

/* ---- one driver's phone: his profile and check-ins at Wudang's Home ---- */

static int gen_personal(gen *g) {
    char sp[33], at_date[11];
    const char *did;
    DID(g, 0, did); /* driver 0 works in Wudang */
    if (new_space(g, sp, "driver %s", did))
        return EXIT_FAIL;
    dc_txn *t = NULL;
    CK(g, dc_txn_begin(&t, g->r, sp), "profile");
    date_of(at_date, g_sim_ms);
    if (dc_txn_set(t, "profile", did, "activity_area", DC_STR, 0, "520112") ||
        dc_txn_set(t, "profile", did, "business_scope", DC_STR, 0, "cold_chain")) {
        dc_txn_rollback(t);
        return die(g, dc_replica_errcode(g->r), "profile");
    }
    CK(g, dc_txn_commit(t, NULL), "profile");
    static const char *const USED[] = {"massage_chairs", "showers", "meals"};
    static const char *const SAID[] = {"刚从山东拉货回来，按摩椅很解乏", "能洗上热水澡，真方便",
                                       "吃上了热乎饭"};
    char station[32];
    snprintf(station, sizeof station, "dh-%s-01", COUNTIES[WUDANG].code);
    for (int k = 0; k < 3; k++) {
        dc_checkin_options o = DC_CHECKIN_OPTIONS_INIT;
        o.station = station;
        o.at_ms = cst(2026, 6 + k, 10 + k, 18, 30);
        o.used = USED[k];
        o.feedback = SAID[k];
        o.rating = 5;
        CK(g, dc_checkin(g->r, sp, &o), "check-in");
    }
    return EXIT_OK;
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
    g_rng = mix64(g.seed ^ 0x2545f4914f6cdd1dull);
    g_sim_ms = cst(2026, 1, 5, 9, 0);

    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = "贵州省货车司机党建工作办公室";
    o.clock = sim_clock;
    tool_key_options(&o);
    if ((rc = dc_replica_open(&g.r, a.pos[0], &o)) != 0) {
        dc_calendar_free(cal);
        return fail("demo-data: cannot create replica '%s': %s", a.pos[0], dc_error_last());
    }
    double t0 = now_s(), t;
    rc = EXIT_OK;
#define PHASE(k, call)                                                                             \
    if (rc == EXIT_OK) {                                                                           \
        t = now_s();                                                                               \
        rc = (call);                                                                               \
        g.secs[k] += now_s() - t;                                                                  \
    }
    progress_init(&g.pg, tool_opt(&a, "quiet") != NULL);
    progress_stage(&g.pg, "demo-data: the directory", "steps", 0);
    PHASE(0, new_space(&g, g.directory, "directory"));
    PHASE(0, gen_directory(&g));
    PHASE(1, plan_drivers(&g));
    PHASE(1, plan_branches(&g));
    PHASE(1, gen_parts(&g));
    PHASE(1, gen_registry(&g));
    PHASE(1, gen_moves(&g));
    PHASE(2, gen_branches(&g));
    g_sim_ms = cst(2026, 1, 5, 23, 0);
    PHASE(3, gen_cases(&g));
    PHASE(4, gen_personal(&g));
#undef PHASE
    progress_end(&g.pg);
    double total = now_s() - t0;
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
