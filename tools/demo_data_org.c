/*
 * tools/demo_data_org.c — demo-data's organised side: the directory
 * (regions, organisations, Driver's Homes, through org.h), the branches
 * planned per county, and each branch's own space with its roster, study
 * items and activities.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo_data.h"
#include "vec.h"

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

/* Regions: five levels. */
static int dir_regions(gen *g, batch *bt) {
    char parent[64];
    BT(bt, dc_region_put_txn(g->r, t, "520000", "贵州省", "province", NULL), "region");
    for (int i = 0; i < NCITY; i++)
        BT(bt, dc_region_put_txn(g->r, t, CITIES[i].code, CITIES[i].name, "city", "520000"),
           "region");
    for (int i = 0; i < NCOUNTY; i++)
        BT(bt,
           dc_region_put_txn(g->r, t, COUNTIES[i].code, COUNTIES[i].name, "county",
                             CITIES[COUNTIES[i].city].code),
           "region");
    for (size_t i = 0; i < sizeof WUDANG_TOWNS / sizeof WUDANG_TOWNS[0]; i++)
        BT(bt,
           dc_region_put_txn(g->r, t, WUDANG_TOWNS[i][0], WUDANG_TOWNS[i][1], "township", "520112"),
           "region");
    for (size_t i = 0; i < sizeof WUDANG_VILLAGES / sizeof WUDANG_VILLAGES[0]; i++) {
        snprintf(parent, sizeof parent, "%.9s", WUDANG_VILLAGES[i][0]);
        BT(bt,
           dc_region_put_txn(g->r, t, WUDANG_VILLAGES[i][0], WUDANG_VILLAGES[i][1], "village",
                             parent),
           "region");
    }
    return EXIT_OK;
}

/* Organisation and transport departments at every level. */
static int dir_departments(batch *bt) {
    char name[160], parent[64];
    for (int i = 0; i < 1 + NCITY + NCOUNTY; i++) {
        const char *c, *n, *lv, *pc;
        unit_of(i, &c, &n, &lv, &pc);
        snprintf(name, sizeof name, "%s委组织部", n);
        snprintf(parent, sizeof parent, "org_dept-%s", pc ? pc : "");
        if (put_org(bt, "org_dept", c, name, NULL, c, pc ? parent : NULL, NULL, 0))
            return EXIT_FAIL;
        snprintf(name, sizeof name, "%s交通运输%s", n, i == 0 ? "厅" : "局");
        snprintf(parent, sizeof parent, "transport_dept-%s", pc ? pc : "");
        if (put_org(bt, "transport_dept", c, name, NULL, c, pc ? parent : NULL, NULL, 0))
            return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* Industry committees: the province, the cities, then the county-level
 * units that have their own, as many as the (scaled) figure. */
static int dir_committees(gen *g, batch *bt) {
    char name[160], parent[64];
    long made = 0;
    for (int i = 0; i < 1 + NCITY + NCOUNTY && made < g->f.committees; i++) {
        const char *c, *n, *lv, *pc;
        unit_of(i, &c, &n, &lv, &pc);
        if (i > NCITY && !COUNTIES[i - 1 - NCITY].committee)
            continue;
        snprintf(name, sizeof name, "%s道路货运（交通运输）行业党委", n);
        snprintf(parent, sizeof parent, "committee-%s", pc ? pc : "");
        if (put_org(bt, "committee", c, name, lv, c, pc ? parent : NULL, NULL, 0))
            return EXIT_FAIL;
        made++;
    }
    return EXIT_OK;
}

/* Joint meetings, each with 20+ member departments of its region. */
static int dir_joint_meetings(gen *g, batch *bt) {
    char code[64], name[160];
    for (int i = 0; i < 1 + NCITY + NCOUNTY && i < g->f.joint_meetings; i++) {
        const char *c, *n, *lv, *pc;
        const char *ids[NDEPT];
        char idbuf[NDEPT][96];
        int nd = 20 + (int)demo_rn(NDEPT - 20 + 1);
        unit_of(i, &c, &n, &lv, &pc);
        for (int k = 0; k < nd; k++) {
            snprintf(code, sizeof code, "%s-%s", c, DEPTS[k][0]);
            snprintf(name, sizeof name, "%s%s", n, DEPTS[k][1]);
            if (put_org(bt, "department", code, name, NULL, c, NULL, NULL, 0))
                return EXIT_FAIL;
            snprintf(idbuf[k], sizeof idbuf[k], "department-%s", code);
            ids[k] = idbuf[k];
        }
        snprintf(name, sizeof name, "%s推动道路货运行业高质量发展和党的建设工作联席会议", n);
        if (put_org(bt, "joint_meeting", c, name, lv, c, NULL, ids, (size_t)nd))
            return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* Freight enterprises: Wudang's 27, about a dozen elsewhere. */
static int dir_enterprises(gen *g, batch *bt) {
    char code[64], name[160];
    for (int i = 0; i < NCOUNTY; i++) {
        long n = i == WUDANG ? g->f.wudang_enterprises
                             : demo_round_pos(COUNTIES[i].weight / 3.0 * g->scale) + 1;
        for (long k = 0; k < n; k++) {
            const char *short_name = COUNTIES[i].name;
            snprintf(code, sizeof code, "%s-%03ld", COUNTIES[i].code, k + 1);
            snprintf(name, sizeof name, "贵州%s%s物流有限公司", ENT_WORDS[demo_rn(NENT)],
                     k < 4 ? short_name : "");
            if (k < 4)
                snprintf(g->enterprise[i][k], sizeof g->enterprise[i][k], "%s", name);
            if (put_org(bt, "enterprise", code, name, NULL, COUNTIES[i].code, NULL, NULL, 0))
                return EXIT_FAIL;
        }
        for (long k = n; k < 4; k++)
            snprintf(g->enterprise[i][k], sizeof g->enterprise[i][k], "%s", g->enterprise[i][0]);
    }
    return EXIT_OK;
}

/* Road freight operators (经营户), spread by the drivers' weights. */
static int dir_operators(gen *g, batch *bt) {
    char code[64], name[160];
    long total_w = 0, done = 0;
    for (int i = 0; i < NCOUNTY; i++)
        total_w += COUNTIES[i].weight + (i == WUDANG ? 20 : 0);
    for (int i = 0; i < NCOUNTY; i++) {
        long w = COUNTIES[i].weight + (i == WUDANG ? 20 : 0);
        long n = i == NCOUNTY - 1 ? g->f.operators - done : g->f.operators * w / total_w;
        for (long k = 0; k < n; k++) {
            char who[32];
            demo_person_name(who, sizeof who);
            snprintf(code, sizeof code, "%s-%04ld", COUNTIES[i].code, k + 1);
            snprintf(name, sizeof name, "%s%s货运部", COUNTIES[i].name, who);
            if (put_org(bt, "operator", code, name, NULL, COUNTIES[i].code, NULL, NULL, 0))
                return EXIT_FAIL;
        }
        done += n;
    }
    return EXIT_OK;
}

/* Driver's Homes with their operators: Wudang's at the cold-chain
 * market, Anshun's at the Qiancheng logistics park, then service areas,
 * trunk roads, parks, hubs and enterprises across the province. */
static int dir_stations(gen *g, batch *bt) {
    char code[64];
    static const char *const SITES[] = {"service_area", "trunk_road", "logistics_park",
                                        "freight_hub", "enterprise"};
    static const char *const SITE_NAMES[] = {"高速公路服务区", "国道服务站", "物流园",
                                             "货运集散中心", "物流企业"};
    static const char *const FAC[] = {"study_room", "kitchen", "showers", "massage_chairs",
                                      "parking",    "rest",    "meals"};
    for (long s = 0; s < g->f.stations; s++) {
        int ci = s == 0 ? WUDANG : s == 1 ? ANSHUN_ED : (int)demo_rn(NCOUNTY);
        int site = s < 2 ? 2 : (int)demo_rn(5);
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
                     ENT_WORDS[demo_rn(NENT)]);
            snprintf(st_name, sizeof st_name, "%s%s“司机之家”", COUNTIES[ci].name,
                     SITE_NAMES[site]);
            snprintf(addr, sizeof addr, "%s%s%s", CITIES[COUNTIES[ci].city].name, COUNTIES[ci].name,
                     SITE_NAMES[site]);
        }
        snprintf(op_code, sizeof op_code, "%s", code);
        if (put_org(bt, "station_operator", op_code, op_name, NULL, COUNTIES[ci].code, NULL, NULL,
                    0))
            return EXIT_FAIL;
        snprintf(op_id, sizeof op_id, "station_operator-%s", op_code);
        for (int k = 0; k < 7; k++)
            if (s == 0 || k >= 4 || demo_chance(0.6))
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
        BT(bt, dc_station_put_txn(NULL, g->r, t, &so), "station");
    }
    return EXIT_OK;
}

int demo_gen_directory(gen *g) {
    batch bt = {g, g->directory, NULL};
    if (g->cal)
        CK(g, dc_calendar_publish(g->r, g->directory, g->cal), "calendar publish");
    int rc;
    if ((rc = dir_regions(g, &bt)) || (rc = dir_departments(&bt)) ||
        (rc = dir_committees(g, &bt)) || (rc = dir_joint_meetings(g, &bt)) ||
        (rc = dir_enterprises(g, &bt)) || (rc = dir_operators(g, &bt)) ||
        (rc = dir_stations(g, &bt)))
        return rc;
    CK(g, demo_batch_flush(&bt), "directory commit");
    return EXIT_OK;
}

/* ---- branches (their directory entries; spaces come later) ---- */

int demo_plan_branches(gen *g) {
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
        if (VEC_ROOM(b->members, b->nmembers, b->cap))
            return fail("demo-data: out of memory");
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
    CK(g, demo_batch_flush(&bt), "branches commit");
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

int demo_gen_branches(gen *g) {
    long items_done = 0;
    progress_stage(&g->pg, "demo-data: branches (rosters, study items, activities)", "branches",
                   (uint64_t)g->nb);
    for (int i = 0; i < g->nb; i++) {
        progress_update(&g->pg, (uint64_t)i, -1);
        branch *b = &g->b[i];
        const county *c = &COUNTIES[b->county];
        char r1[64], r2[64], name[200];
        if (demo_new_space(g, b->space, "branch %s", b->code))
            return EXIT_FAIL;
        batch bt = {g, b->space, NULL};
        demo_route(r1, sizeof r1, c->city);
        demo_route(r2, sizeof r2, c->city);
        const char *routes[2] = {r1, r2};
        const char *scopes[2] = {demo_chance(0.3) ? "cold_chain" : "construction_waste",
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
            demo_date_of(joined, demo_cst(2025, 3 + (int)demo_rn(9), 1 + (int)demo_rn(28), 10, 0));
            BT(&bt, dc_branch_member_add_txn(g->r, t, b->org, did, joined), "roster");
        }
        /* Study items pushed at night, read (often done) by most members. */
        long n = g->f.study / g->nb + (i < g->f.study % g->nb ? 1 : 0);
        for (long k = 0; k < n; k++) {
            char id[24], title[200], media[200];
            int kind = (int)demo_rn(4);
            int64_t pushed = demo_cst(2026, 1, 5, 20, 0) + (int64_t)demo_rn(300) * DAY_MS +
                             (int64_t)demo_rn(150) * MIN_MS;
            snprintf(id, sizeof id, "st-%ld", k + 1);
            snprintf(title, sizeof title, "%s（第%ld期）", STUDY_TITLES[kind][demo_rn(4)], k + 1);
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
                if (!demo_chance(0.75))
                    continue;
                const char *did;
                DID(g, b->members[m], did);
                BT(&bt, dc_study_read_txn(g->r, t, id, did, demo_chance(0.6)), "study read");
            }
            items_done++;
        }
        /* Two theme activities with who took part. */
        for (int a = 0; a < 2; a++) {
            char aid[16], date[11];
            snprintf(aid, sizeof aid, "act-%d", a + 1);
            demo_date_of(date, demo_cst(2026, 4 + a * 3, 1 + (int)demo_rn(28), 10, 0));
            BT(&bt,
               dc_study_activity_txn(NULL, g->r, t, aid,
                                     a ? "主题党日：重温入党誓词" : "主题活动：安全行车我承诺",
                                     date),
               "activity");
            for (int m = 0; m < b->nmembers; m++) {
                const char *did;
                if (!demo_chance(0.5))
                    continue;
                DID(g, b->members[m], did);
                BT(&bt, dc_study_join_txn(g->r, t, aid, did), "activity join");
            }
        }
        CK(g, demo_batch_flush(&bt), "branch commit");
        /* A few discussions (云讨论), each a post of its own. */
        for (long k = 0; k < n && b->nmembers; k++) {
            if (!demo_chance(0.08))
                continue;
            char id[24];
            const char *did;
            static const char *const POSTS[] = {
                "学习了，跑车路上也要守规矩。", "这期讲得实在，晚上休息时又看了一遍。",
                "建议多讲讲运费结算维权的办法。", "支部书记辛苦了！"};
            snprintf(id, sizeof id, "st-%ld", k + 1);
            DID(g, b->members[demo_rn((uint32_t)b->nmembers)], did);
            CK(g, dc_study_discuss(g->r, b->space, id, did, POSTS[demo_rn(4)]), "study discuss");
        }
    }
    (void)items_done;
    return EXIT_OK;
}
