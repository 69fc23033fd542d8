/*
 * demo — the story of `./dev demo`, told for a newcomer with real records,
 * real devices and a real relay: how Guizhou's truck drivers, their mobile
 * party branch and the offices behind them work with drivercore, after the
 * People's Daily report (../shared/seed, ../shared/DOMAIN.md).
 *
 * Seven devices, each its own replica: the province office's desk; the
 * tablets of three mobile-branch secretaries, Xu Xin (许鑫) of Wudang, Cheng
 * Wansha (成万莎) of Wanshan and Xie Chaodian (谢朝典) of the Anshun Economic
 * Development Zone; party-member driver Huang Hongxing (黄红兴)'s phone and
 * party-member driver Yang Fei (杨飞)'s phone; and the desk of Anshun ED's
 * joint meeting (联席会议).  They sync through the real `drivercore-relay`
 * daemon, started on 127.0.0.1 and stopped with SIGTERM at the end; "no
 * signal" simply means a device does not sync.  The story follows the
 * report: the registry is kept in spaces that follow the organisation (a
 * county's, a branch's); the two lines disagree about a driver and a later
 * round, a visit door to door, settles it on every device; Cheng Wansha
 * pushes the morning's study item to the Wanshan branch and Yang Fei reads
 * it at night, offline; Huang asks in the Anshun ED branch's group about
 * 4,200 yuan of unpaid freight, Xie Chaodian answers at once and the joint
 * meeting settles it within a day; a phone comes back after days away with
 * its clock hours wrong; and at the end every device agrees, the relay holds
 * no plaintext, and the statistics - cadres and the reply on-time rate
 * among them - come out of the records.
 *
 * Time: every device's clock, and the relay's, is pinned to the story
 * (Monday 21 to Saturday 26 September 2026, China Standard Time, the week
 * of the Mid-Autumn holiday), so the 12328 deadlines printed are the same
 * on every run.  Exits 0 only if everything converges and every check
 * passes; the first failure ends the demo with the reason.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "demo_net.h"
#include "drivercore.h"

#ifndef DEMO_CALENDAR
#error "DEMO_CALENDAR: the path of data/cn-holidays-2026.tsv (examples/meson.build)"
#endif

/* ---- time: the story's clock ---- */

#define SEC INT64_C(1000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* Monday 2026-09-21 00:00 China Standard Time, in ms since the epoch. */
#define MON_21_SEP INT64_C(1789920000000)

static int64_t g_now; /* the true time of the story */

/* The instant of day 2026-09-DD at HH:MM, CST. */
static int64_t sep(int dd, int hh, int mm) {
    return MON_21_SEP + (dd - 21) * DAY + hh * HOUR + mm * MIN;
}

/* "Wed 23 Sep 14:20" (CST), from a small ring of buffers. */
static const char *when(int64_t ms) {
    static char buf[8][40];
    static int k;
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)((ms + 8 * HOUR) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s %d %s %02d:%02d", wd[tm.tm_wday], tm.tm_mday, mo[tm.tm_mon],
             tm.tm_hour, tm.tm_min);
    return buf[k];
}

/* "14:20" (CST). */
static const char *hhmm(int64_t ms) {
    const char *w = when(ms);
    return w + strlen(w) - 5;
}

/* ---- the devices ---- */

typedef struct device {
    const char *who;  /* "Xu Xin's tablet" */
    const char *file; /* replica file name */
    int64_t skew;     /* how far this device's own clock is from the truth */
    dc_replica *r;
    char path[600];
} device;

static device g_office = {"the province office", "province-office", 0, NULL, ""};
static device g_xu = {"Xu Xin's tablet", "xu-xin-tablet", -25 * SEC, NULL, ""};
static device g_cheng = {"Cheng Wansha's tablet", "cheng-wansha-tablet", 10 * SEC, NULL, ""};
static device g_xie = {"Xie Chaodian's tablet", "xie-chaodian-tablet", -5 * SEC, NULL, ""};
static device g_huang = {"Huang Hongxing's phone", "huang-phone", 40 * SEC, NULL, ""};
static device g_yang = {"Yang Fei's phone", "yang-phone", 0, NULL, ""};
static device g_desk = {"the joint meeting's desk", "joint-meeting-desk", 0, NULL, ""};
static device *const g_all[] = {&g_office, &g_xu, &g_cheng, &g_xie, &g_huang, &g_yang, &g_desk};
#define NDEV (sizeof g_all / sizeof g_all[0])

static char g_dir[256];
static demo_relay g_relay;
static dc_calendar *g_cal;
static int g_failed_checks;
static int g_quiet; /* sync_dev prints nothing */

/* Space ids. */
static char g_directory[40], g_registry[40], g_reg_wd[40], g_reg_ws[40], g_reg_jk[40];
static char g_reg_br_wd[40], g_reg_br_ws[40], g_reg_br_jk[40];
static char g_br_wd[40], g_br_ws[40], g_br_jk[40];
static char g_case_space[40], g_personal[40];
/* Record ids the story refers to. */
#define BR_WD "branch-520112-01"
#define BR_WS "branch-520603-01"
#define BR_JK "branch-520471-01"
#define JOINT_MEETING "joint_meeting-520471"
#define DH_WUDANG "dh-520112-01"
#define DH_ANSHUN "dh-520471-01"
static char g_id_huang[32], g_id_yang[32], g_id_jiang[32], g_id_xiao[32];
static char g_case[64];

static int64_t device_clock(void *user) {
    return g_now + ((const device *)user)->skew;
}

static void cleanup_relay(void) {
    if (g_relay.pid > 0)
        relay_stop(&g_relay);
}

/* Interrupted: the relay must not outlive the demo (kill and _exit are
 * async-signal-safe). */
static void on_signal(int sig) {
    if (g_relay.pid > 0)
        kill(g_relay.pid, SIGTERM);
    _exit(128 + sig);
}

static void die(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "\ndemo: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(the demo's files are kept in %s)\n", g_dir);
    exit(1);
}

static void fail(const device *d, const char *what, int rc) {
    die("%s failed on %s: %s: %s", what, d ? d->who : "-", dc_error_name(rc),
        d && d->r ? dc_replica_errmsg(d->r) : dc_error_last());
}

#define CHECK(d, call)                                                                             \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            fail((d), #call, rc_);                                                                 \
    } while (0)

/* A check of the story's outcome: printed, and counted when it fails. */
static void expect(int ok, const char *fmt, ...) {
    va_list ap;
    printf("  %s ", ok ? "[ok]  " : "[FAIL]");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok)
        g_failed_checks++;
}

static void open_device(device *d) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = d->who;
    o.clock = device_clock;
    o.clock_user = d;
    snprintf(d->path, sizeof d->path, "%s/%s.db", g_dir, d->file);
    int rc = dc_replica_open(&d->r, d->path, &o);
    if (rc != 0)
        fail(d, "dc_replica_open", rc);
}

/* ---- output ---- */

static void section(const char *title) {
    printf("\n== %s ==\n", title);
}

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* Terminal columns of a UTF-8 string: Chinese characters and full-width
 * forms take two, so tables with names in them still line up. */
static int cols(const char *s) {
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp = *p;
        int n = 0;
        if (cp >= 0xF0)
            cp &= 0x07, n = 3;
        else if (cp >= 0xE0)
            cp &= 0x0F, n = 2;
        else if (cp >= 0xC0)
            cp &= 0x1F, n = 1;
        p++;
        for (int i = 0; i < n && *p; i++, p++)
            cp = (cp << 6) | (*p & 0x3F);
        w += (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                     (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
                     (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6)
                 ? 2
                 : 1;
    }
    return w;
}

/* Prints s padded with blanks to `width` columns. */
static void pad(const char *s, int width) {
    int w = cols(s);
    printf("%s%*s", s, width > w ? width - w : 0, "");
}

static void set_time(int64_t t) {
    g_now = t;
    relay_set_clock(&g_relay, t);
}

/* ---- JSON from the library ---- */

static json_t *jparse(const dc_buf *b) {
    json_error_t e;
    json_t *j = json_loadb((const char *)b->ptr, b->size, 0, &e);
    if (!j)
        die("the library printed JSON that does not parse (%s): %.300s", e.text,
            (const char *)b->ptr);
    return j;
}

static const char *jstr(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "null";
}

static long long jint(json_t *o, const char *k) {
    return (long long)json_integer_value(json_object_get(o, k));
}

/* A percent figure of the statistics ("100.00") or "-" for null. */
static const char *jpct(json_t *o, const char *k, char *buf, size_t n) {
    json_t *v = json_object_get(o, k);
    if (json_is_number(v))
        snprintf(buf, n, "%.2f %%", json_number_value(v));
    else if (json_is_string(v))
        snprintf(buf, n, "%s %%", json_string_value(v));
    else
        snprintf(buf, n, "-");
    return buf;
}

/* Who a device id (hex) is, for the case history. */
static const char *device_name(const char *hex) {
    for (size_t i = 0; i < NDEV; i++)
        if (g_all[i]->r && strcmp(dc_replica_device_id(g_all[i]->r), hex) == 0)
            return g_all[i]->who;
    return hex;
}

/* ---- syncing through the relay ---- */

/* Spaces whose key a device holds, as a JSON array from dc_space_list. */
static json_t *spaces_of(device *d) {
    dc_buf b = DC_BUF_INIT;
    CHECK(d, dc_space_list(&b, d->r));
    json_t *j = jparse(&b);
    dc_buf_dispose(&b);
    return j;
}

static int holds_key(json_t *list, const char *space) {
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        if (strcmp(jstr(s, "space"), space) == 0 && json_is_true(json_object_get(s, "has_key")))
            return 1;
    }
    return 0;
}

static const char *human_bytes(long n, char *buf, size_t cap) {
    if (n < 10000)
        snprintf(buf, cap, "%ld B", n);
    else
        snprintf(buf, cap, "%.1f kB", n / 1000.0);
    return buf;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(a, b);
}

/* One sync of device d with the relay: prints its figures, the spaces it
 * has just learnt it belongs to, and a clock correction if there was one. */
static sync_figures sync_dev(device *d) {
    sync_figures f;
    char err[600], b1[32], b2[32];
    json_t *before = spaces_of(d);
    if (relay_sync(&f, d->r, g_relay.url, err, sizeof err) != 0)
        die("%s could not sync with the relay: %s", d->who, err);
    /* A device joins a space only with its consent: the person accepts the
     * invitations the sync brought (docs/security.md).  Invitations from a
     * member of a space it has already accepted are accepted by the device
     * itself. */
    json_t *now = spaces_of(d);
    size_t k;
    json_t *sp;
    int accepted = 0;
    json_array_foreach(now, k, sp) {
        if (strcmp(jstr(sp, "state"), "invited") == 0) {
            CHECK(d, dc_space_accept(d->r, jstr(sp, "space"), 0));
            accepted++;
        }
    }
    json_decref(now);
    /* The province's public directory is the device's directory: its
     * holiday calendar is the one the device's deadlines count by. */
    now = spaces_of(d);
    json_array_foreach(now, k, sp) {
        json_t *nm = json_object_get(sp, "name");
        if (accepted && json_is_string(nm) && strcmp(json_string_value(nm), "directory") == 0)
            CHECK(d, dc_space_accept(d->r, jstr(sp, "space"), DC_ACCEPT_DIRECTORY));
    }
    json_decref(now);
    if (g_quiet) {
        json_decref(before);
        return f;
    }
    printf("  [sync] ");
    pad(d->who, 25);
    printf("sent %2ld change%s (%s), received %2ld (%s), %ld round trip%s\n", f.changes_sent,
           f.changes_sent == 1 ? " " : "s", human_bytes(f.bytes_sent, b1, sizeof b1),
           f.changes_received, human_bytes(f.bytes_received, b2, sizeof b2), f.round_trips,
           f.round_trips == 1 ? "" : "s");
    if (f.clock_offset_ms != 0) {
        long long a = llabs(f.clock_offset_ms) / 1000;
        char amount[40];
        if (a >= 3600)
            snprintf(amount, sizeof amount, "%lld h %02lld min", a / 3600, a / 60 % 60);
        else
            snprintf(amount, sizeof amount, "%lld s", a);
        printf("         its clock was %s %s the relay's: corrected from now on\n", amount,
               f.clock_offset_ms < 0 ? "ahead of" : "behind");
    }
    /* The spaces it has just learnt it belongs to, by name (ids are random). */
    json_t *after = spaces_of(d);
    char learnt[16][160];
    size_t nl = 0, i;
    json_t *s;
    json_array_foreach(after, i, s) {
        if (nl < 16 && json_is_true(json_object_get(s, "has_key")) &&
            !holds_key(before, jstr(s, "space")))
            snprintf(learnt[nl++], sizeof learnt[0], "%s\" (%s)", jstr(s, "name"), jstr(s, "role"));
    }
    qsort(learnt, nl, sizeof learnt[0], cmp_str);
    for (i = 0; i < nl; i++)
        printf("         learns it is in \"%s\n", learnt[i]);
    if (accepted)
        printf("         (accepted %d invitation%s: a device joins a space only with consent)\n",
               accepted, accepted == 1 ? "" : "s");
    json_decref(before);
    json_decref(after);
    return f;
}

/* ---- spaces and membership ---- */

static void create_space(device *d, char *out, size_t n, const char *name) {
    dc_buf b = DC_BUF_INIT;
    CHECK(d, dc_space_create(&b, d->r, name));
    snprintf(out, n, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
}

/* Admin `by` adds device `who` to `space`: `who` shows its signed device
 * card (a QR code, in real life) and the space key is sealed to it. */
static void add_to(device *by, const char *space, device *who, int role) {
    dc_buf card = DC_BUF_INIT;
    CHECK(who, dc_replica_card(&card, who->r));
    CHECK(by, dc_space_add(by->r, space, (const char *)card.ptr, role));
    dc_buf_dispose(&card);
}

/* ---- identity numbers (GB 11643) for the lists ---- */

static void id_number(char out[19], const char *first17) {
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    int s = 0;
    for (int i = 0; i < 17; i++)
        s += (first17[i] - '0') * w[i];
    memcpy(out, first17, 17);
    out[17] = "10X98765432"[s % 11];
    out[18] = '\0';
}

static char g_idn_huang[19], g_idn_yang[19], g_idn_jiang[19], g_idn_xiao[19], g_idn_zhuang[19];
#define PHONE_HUANG "13985011172"

/* ==== 1. Setup ==== */

static void put_org(const char *kind, const char *code, const char *name, const char *level,
                    const char *region, const char *parent, const char *const *deps, size_t nd) {
    dc_org_options o = DC_ORG_OPTIONS_INIT;
    o.kind = kind;
    o.code = code;
    o.name = name;
    o.level = level;
    o.region = region;
    o.parent = parent;
    o.departments = deps;
    o.ndepartments = nd;
    CHECK(&g_office, dc_org_put(NULL, g_office.r, g_directory, &o));
}

static void put_station(const char *code, const char *name, const char *site, const char *region,
                        const char *address, const char *op, const char *agreement,
                        const char *const *fac, size_t nf) {
    dc_station_options o = DC_STATION_OPTIONS_INIT;
    o.code = code;
    o.name = name;
    o.site = site;
    o.region = region;
    o.address = address;
    o.operator_org = op;
    o.agreement = agreement;
    o.facilities = fac;
    o.nfacilities = nf;
    CHECK(&g_office, dc_station_put(NULL, g_office.r, g_directory, &o));
}

static void put_branch(const char *space, const char *code, const char *name, const char *region,
                       const char *const *routes, size_t nr, const char *const *scope, size_t ns) {
    dc_branch_options o = DC_BRANCH_OPTIONS_INIT;
    o.code = code;
    o.name = name;
    o.region = region;
    o.hukou_region = region;
    o.activity_area = region;
    o.routes = routes;
    o.nroutes = nr;
    o.business_scope = scope;
    o.nbusiness_scope = ns;
    CHECK(&g_office, dc_branch_put(NULL, g_office.r, space, &o));
}

static void put_secretary(const char *space, const char *branch, const char *person,
                          const char *name, const char *dept) {
    dc_secretary_options o = DC_SECRETARY_OPTIONS_INIT;
    o.branch = branch;
    o.person = person;
    o.name = name;
    o.from_dept = dept;
    o.role = "secretary";
    CHECK(&g_office, dc_secretary_put(NULL, g_office.r, space, &o));
}

/* A registry part (county or branch) of the root: its space, named
 * "registry <region|branch>", with the record saying what it is. */
static void registry_part(char *out, size_t n, const char *region, const char *branch) {
    dc_registry_part_options o = DC_REGISTRY_PART_OPTIONS_INIT;
    dc_buf b = DC_BUF_INIT;
    o.root = g_registry;
    o.region = region;
    o.branch = branch;
    CHECK(&g_office, dc_registry_part_create(&b, g_office.r, &o));
    snprintf(out, n, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
}

/* The office enrols a secretary's tablet into a registry part: the part
 * with `role`, and the registry's root as a reader (its keys). */
static void enrol(const char *part, device *who, int role) {
    dc_buf card = DC_BUF_INIT;
    CHECK(who, dc_replica_card(&card, who->r));
    CHECK(&g_office, dc_registry_enrol(g_office.r, part, (const char *)card.ptr, role));
    dc_buf_dispose(&card);
}

static void setup(void) {
    section("1. Monday 21 September, 08:30 - the province office sets things up");
    set_time(sep(21, 8, 30));
    for (size_t i = 0; i < NDEV; i++)
        open_device(g_all[i]);
    say("Seven devices, each with its own replica (one SQLite file): %s; the", g_office.who);
    say("tablets of three branch secretaries - %s (乌当区), %s", g_xu.who, g_cheng.who);
    say("(万山区) and %s (安顺经开区); %s and %s;", g_xie.who, g_huang.who, g_yang.who);
    say("and %s (安顺经开区联席会议). They meet only through the relay,", g_desk.who);
    say("the drivercore-relay daemon started at %s, which stores and", g_relay.url);
    say("forwards sealed changes and never holds a space key.");
    printf("\n");

    /* The directory: public facts every device may read. */
    create_space(&g_office, g_directory, sizeof g_directory, "directory");
    static const char *const regions[][4] = {
        {"520000", "贵州省", "province", NULL},
        {"520100", "贵阳市", "city", "520000"},
        {"520112", "乌当区", "county", "520100"},
        {"520112001", "新添寨街道", "township", "520112"},
        {"520112001001", "新添社区", "village", "520112001"},
        {"520400", "安顺市", "city", "520000"},
        {"520471", "安顺经济技术开发区", "county", "520400"},
        {"520600", "铜仁市", "city", "520000"},
        {"520603", "万山区", "county", "520600"},
    };
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++)
        CHECK(&g_office, dc_region_put(g_office.r, g_directory, regions[i][0], regions[i][1],
                                       regions[i][2], regions[i][3]));
    put_org("org_dept", "520112", "乌当区委组织部", "county", "520112", NULL, NULL, 0);
    put_org("transport_dept", "520112", "乌当区交通运输局", "county", "520112", NULL, NULL, 0);
    put_org("transport_dept", "520603", "万山区交通运输局", "county", "520603", NULL, NULL, 0);
    put_org("transport_dept", "520471", "安顺经开区交通运输局", "county", "520471", NULL, NULL, 0);
    put_org("committee", "520112", "乌当区道路货运行业党委", "county", "520112", NULL, NULL, 0);
    put_org("committee", "520603", "万山区道路货运行业党委", "county", "520603", NULL, NULL, 0);
    put_org("committee", "520471", "安顺经开区道路货运行业党委", "county", "520471", NULL, NULL, 0);
    put_org("branch", "520112-01", "乌当区货车司机“红色黔线”流动党员党支部", NULL, "520112",
            "committee-520112", NULL, 0);
    put_org("branch", "520603-01", "万山区货车司机“红色黔线”流动党员党支部", NULL, "520603",
            "committee-520603", NULL, 0);
    put_org("branch", "520471-01", "经开区货车司机“红色黔线”流动党员党支部", NULL, "520471",
            "committee-520471", NULL, 0);
    static const char *const deps[] = {"department-520471-01", "department-520471-02",
                                       "department-520471-03", "department-520471-04"};
    put_org("department", "520471-01", "经开区交通运输局", "county", "520471", NULL, NULL, 0);
    put_org("department", "520471-02", "经开区公安分局", "county", "520471", NULL, NULL, 0);
    put_org("department", "520471-03", "经开区市场监管局", "county", "520471", NULL, NULL, 0);
    put_org("department", "520471-04", "经开区网信办", "county", "520471", NULL, NULL, 0);
    put_org("joint_meeting", "520471", "安顺经开区推动道路货运行业高质量发展和党的建设工作联席会议",
            "county", "520471", NULL, deps, 4);
    put_org("station_operator", "520112-01", "贵州瀑布冷链食品投资有限公司", NULL, "520112", NULL,
            NULL, 0);
    put_org("station_operator", "520471-01", "贵州黔城智慧物流园有限公司", NULL, "520471", NULL,
            NULL, 0);
    put_org("enterprise", "520112-001", "贵州瀑布冷链物流有限公司", NULL, "520112", NULL, NULL, 0);
    put_org("enterprise", "520471-001", "安顺畅通渣土运输有限公司", NULL, "520471", NULL, NULL, 0);
    put_org("operator", "520603-0001", "万山区个体货运经营户（杨飞）", NULL, "520603", NULL, NULL,
            0);
    static const char *const fac_wd[] = {"study_room", "kitchen", "showers", "massage_chairs",
                                         "rest",       "meals",   "parking"};
    static const char *const fac_as[] = {"rest", "showers", "meals", "parking", "study_room"};
    put_station("520112-01", "乌当区“司机之家”", "freight_hub", "520112",
                "贵阳市乌当区瀑布冷链农产品交易中心", "station_operator-520112-01",
                "区交通运输局、区总工会与贵州瀑布冷链食品投资有限公司共建共管协议", fac_wd, 7);
    put_station("520471-01", "安顺经开区“司机之家”", "logistics_park", "520471",
                "安顺经济技术开发区贵州黔城智慧物流园", "station_operator-520471-01", NULL, fac_as,
                5);
    CHECK(&g_office, dc_calendar_publish(g_office.r, g_directory, g_cal));
    say("The office fills the directory (public, readable by every device): regions on all");
    say("five levels from 贵州省 down to 新添社区, three counties' industry committees and");
    say("mobile branches - Wudang has one, for its 70 party-member drivers, and so do Wanshan");
    say("and Anshun ED - the Anshun ED joint meeting with four member departments, two");
    say("Driver's Homes, and the 2026 holiday calendar the 12328 deadlines are counted in.");

    /* The registry (台账), in spaces that follow the organisation. */
    dc_buf b = DC_BUF_INIT;
    CHECK(&g_office, dc_registry_create(&b, g_office.r, "520000", NULL));
    snprintf(g_registry, sizeof g_registry, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
    registry_part(g_reg_wd, sizeof g_reg_wd, "520112", NULL);
    registry_part(g_reg_ws, sizeof g_reg_ws, "520603", NULL);
    registry_part(g_reg_jk, sizeof g_reg_jk, "520471", NULL);
    registry_part(g_reg_br_wd, sizeof g_reg_br_wd, "520112", BR_WD);
    registry_part(g_reg_br_ws, sizeof g_reg_br_ws, "520603", BR_WS);
    registry_part(g_reg_br_jk, sizeof g_reg_br_jk, "520471", BR_JK);
    say("The registry is not one space every tablet carries: a root (whose key gives every");
    say("part the same keys for identity numbers and phones), a registry per county and one");
    say("per branch. A lost branch tablet exposes that branch, not 257,000 people.");

    /* The three branches' spaces: their four principles, study, rosters. */
    create_space(&g_office, g_br_wd, sizeof g_br_wd, "branch 520112-01 (乌当)");
    create_space(&g_office, g_br_ws, sizeof g_br_ws, "branch 520603-01 (万山)");
    create_space(&g_office, g_br_jk, sizeof g_br_jk, "branch 520471-01 (安顺经开区)");
    static const char *const r_wd[] = {"贵阳—遵义", "贵阳—济南"};
    static const char *const s_wd[] = {"cold_chain", "general_cargo"};
    static const char *const r_ws[] = {"铜仁—济南", "铜仁—长沙"};
    static const char *const s_ws[] = {"cold_chain"};
    static const char *const r_jk[] = {"安顺—贵阳"};
    static const char *const s_jk[] = {"construction_waste", "general_cargo"};
    put_branch(g_br_wd, "520112-01", "乌当区货车司机“红色黔线”流动党员党支部", "520112", r_wd, 2,
               s_wd, 2);
    put_branch(g_br_ws, "520603-01", "万山区货车司机“红色黔线”流动党员党支部", "520603", r_ws, 2,
               s_ws, 1);
    put_branch(g_br_jk, "520471-01", "经开区货车司机“红色黔线”流动党员党支部", "520471", r_jk, 1,
               s_jk, 2);
    put_secretary(g_reg_br_wd, BR_WD, "xu-xin", "许鑫", "transport_dept-520112");
    put_secretary(g_reg_br_ws, BR_WS, "cheng-wansha", "成万莎", "transport_dept-520603");
    put_secretary(g_reg_br_jk, BR_JK, "xie-chaodian", "谢朝典", "transport_dept-520471");
    CHECK(&g_office, dc_secretary_task(g_office.r, g_reg_br_wd, BR_WD "/xu-xin",
                                       "核实瀑布冷链市场货车司机台账", "2026-09-21"));
    CHECK(&g_office, dc_secretary_task(g_office.r, g_reg_br_ws, BR_WS "/cheng-wansha",
                                       "每天早晨推送学习资料到支部微信群", "2026-09-22"));
    say("Each branch has a secretary sent by its county's transport bureau, with a task");
    say("list: Xu Xin (许鑫) in Wudang, Cheng Wansha (成万莎) in Wanshan, Xie Chaodian (谢朝典)");
    say("in Anshun ED.");

    enrol(g_reg_wd, &g_xu, DC_ROLE_MEMBER);
    enrol(g_reg_br_wd, &g_xu, DC_ROLE_MEMBER);
    enrol(g_reg_br_ws, &g_cheng, DC_ROLE_MEMBER);
    enrol(g_reg_br_jk, &g_xie, DC_ROLE_MEMBER);
    add_to(&g_office, g_br_wd, &g_xu, DC_ROLE_ADMIN);
    add_to(&g_office, g_br_ws, &g_cheng, DC_ROLE_ADMIN);
    add_to(&g_office, g_br_jk, &g_xie, DC_ROLE_ADMIN);
    for (size_t i = 1; i < NDEV; i++)
        add_to(&g_office, g_directory, g_all[i], DC_ROLE_READER);
    say("Each device shows the office its signed device card; the office adds them all to the");
    say("directory as readers, enrols Xu Xin in Wudang's county and branch registries, the");
    say("other two secretaries in their branch's, and makes each the admin of its branch.");
    printf("\n");
    sync_dev(&g_office);
    for (size_t i = 1; i < 4; i++)
        sync_dev(g_all[i]);

    /* The secretaries bring the drivers' phones into their branches. */
    set_time(sep(21, 8, 50));
    add_to(&g_xie, g_br_jk, &g_huang, DC_ROLE_MEMBER);
    add_to(&g_cheng, g_br_ws, &g_yang, DC_ROLE_MEMBER);
    printf("\n");
    say("08:50 Xie Chaodian adds Huang Hongxing's phone to the Anshun ED branch, Cheng Wansha");
    say("Yang Fei's to the Wanshan branch.");
    sync_dev(&g_xie);
    sync_dev(&g_cheng);
    sync_dev(&g_huang);
    sync_dev(&g_yang);
    sync_dev(&g_desk);
    say("Nobody sent the phones an invitation: each learnt its spaces at its next sync.");
}

/* ==== 2. The cold-chain market, offline ==== */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die("cannot write %s: %s", path, strerror(errno));
}

static void import_list(device *d, const char *space, const char *file, int source, int round,
                        const char *level, const char *method, const char *what, const char *csv) {
    char path[700];
    dc_buf rep = DC_BUF_INIT;
    snprintf(path, sizeof path, "%s/%s", g_dir, file);
    write_file(path, csv);
    dc_registry_import_options o = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    o.source = source;
    o.round = round;
    o.level = level;
    o.method = method;
    CHECK(d, dc_registry_import(&rep, d->r, space, &o, (const uint8_t *)csv, strlen(csv)));
    json_t *j = jparse(&rep);
    say("%s (%s): %lld rows, %lld imported: %lld new drivers, %lld merged", what, file,
        jint(j, "rows"), jint(j, "imported"), jint(j, "new_drivers"), jint(j, "merged"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "errors"), i, e) {
        say("  line %lld refused: %s", jint(e, "line"), jstr(e, "error"));
    }
    json_decref(j);
    dc_buf_dispose(&rep);
}

static void driver_id(char *out, size_t n, const char *idn) {
    dc_buf b = DC_BUF_INIT;
    CHECK(&g_office, dc_registry_driver_id(&b, g_office.r, g_registry, idn));
    snprintf(out, n, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
}

/* `registry find` of Jiang Xianren through the root, on device d. */
static json_t *find_jiang(device *d) {
    dc_buf b = DC_BUF_INIT;
    CHECK(d, dc_registry_find(&b, d->r, g_registry, g_idn_jiang));
    json_t *j = jparse(&b);
    dc_buf_dispose(&b);
    return j;
}

static void print_conflicts(device *d, const char *space) {
    dc_buf b = DC_BUF_INIT;
    CHECK(d, dc_registry_conflicts(&b, d->r, space));
    json_t *c = jparse(&b);
    size_t i, k;
    json_t *x, *v;
    if (json_array_size(c) == 0)
        say("  (none: no fact is in conflict)");
    json_array_foreach(c, i, x) {
        const char *field;
        json_t *vals;
        json_object_foreach(json_object_get(x, "conflicts"), field, vals) {
            printf("    %s, %s:\n", jstr(x, "name"), field);
            json_array_foreach(vals, k, v) {
                printf("      ");
                pad(jstr(v, "value"), 16);
                printf("%s line, round %lld\n", jstr(v, "source"), jint(v, "round"));
            }
        }
    }
    json_decref(c);
    dc_buf_dispose(&b);
}

static void market(void) {
    char transport[2048], org_wd[512], org_ws[512], org_jk[512], visit[512], bad[19];
    section("2. Monday 10:00 - at the 瀑布冷链 cold-chain market, no signal");
    id_number(g_idn_huang, "52040219790512031");
    id_number(g_idn_yang, "52060319830917052");
    id_number(g_idn_jiang, "52011219720304011");
    id_number(g_idn_xiao, "52011319921108073");
    id_number(g_idn_zhuang, "52011219880622034");
    id_number(bad, "52011219850101123");
    bad[17] = bad[17] == '0' ? '1' : '0'; /* a digit misread from the paper list */

    /* The organisation line reaches the office: each county's list. */
    set_time(sep(21, 9, 30));
    snprintf(org_wd, sizeof org_wd,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n"
             "蒋贤仁,%s,13985033318,520112,,,,,,正式党员\n"
             "肖鹏,%s,13985044461,520113,,,,,,入党申请人\n",
             g_idn_jiang, g_idn_xiao);
    snprintf(org_ws, sizeof org_ws,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n"
             "杨飞,%s,13985022245,520603,贵D7L093,个体经营,铜仁—济南,520603,冷链,正式党员\n",
             g_idn_yang);
    snprintf(org_jk, sizeof org_jk,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n"
             "黄红兴,%s," PHONE_HUANG ",520402,贵G5K721,安顺畅通渣土运输有限公司,安顺—贵阳,"
             "520471,渣土;普货,正式党员\n",
             g_idn_huang);
    say("09:30 The organisation line's lists reach the office (双线核查, round 1), each into");
    say("the registry that keeps those drivers: Wudang's into its county registry, the party");
    say("members of Wanshan and Anshun ED into their branches' registries:");
    import_list(&g_office, g_reg_wd, "organisation-wudang.csv", DC_SOURCE_ORGANISATION, 1, "county",
                "list", "organisation line, Wudang", org_wd);
    import_list(&g_office, g_reg_br_ws, "organisation-wanshan.csv", DC_SOURCE_ORGANISATION, 1,
                "county", "list", "organisation line, Wanshan", org_ws);
    import_list(&g_office, g_reg_br_jk, "organisation-anshun-ed.csv", DC_SOURCE_ORGANISATION, 1,
                "county", "list", "organisation line, Anshun ED", org_jk);
    driver_id(g_id_huang, sizeof g_id_huang, g_idn_huang);
    driver_id(g_id_yang, sizeof g_id_yang, g_idn_yang);
    driver_id(g_id_jiang, sizeof g_id_jiang, g_idn_jiang);
    driver_id(g_id_xiao, sizeof g_id_xiao, g_idn_xiao);
    CHECK(&g_office, dc_branch_assign(g_office.r, g_reg_br_ws, g_id_yang, BR_WS));
    CHECK(&g_office, dc_branch_assign(g_office.r, g_reg_br_jk, g_id_huang, BR_JK));
    CHECK(&g_office, dc_branch_member_add(g_office.r, g_br_ws, BR_WS, g_id_yang, "2025-03-18"));
    CHECK(&g_office, dc_branch_member_add(g_office.r, g_br_jk, BR_JK, g_id_huang, "2025-03-18"));
    say("Yang Fei is a member of the Wanshan branch, Huang Hongxing of Anshun ED's.");

    set_time(sep(21, 10, 0));
    printf("\n");
    say("10:00 Trucks queue at the cold stores of the 瀑布冷链农产品交易中心. Xu Xin walks");
    say("between them with the tablet, under cold-store roofs with no signal. The transport");
    say("line's list for Wudang (the road-transport system, street and community visits) is");
    say("on his tablet; he imports it there, offline:");
    snprintf(transport, sizeof transport,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n"
             "蒋贤仁,%s,13985033318,520112,贵A2M556,贵州瀑布冷链物流有限公司,贵阳—遵义,520112,"
             "冷链,群众\n"
             "肖鹏,%s,13985044461,520113,贵A9N330,贵州瀑布冷链物流有限公司,贵阳—遵义,520112,"
             "普货,\n"
             "庄科城,%s,13985055504,520112,贵A6P218,贵州瀑布冷链物流有限公司,贵阳—济南,520112,"
             "冷链,\n"
             "王强,%s,13985066637,520112,贵A3Q472,,,520112,冷链,\n",
             g_idn_jiang, g_idn_xiao, g_idn_zhuang, bad);
    import_list(&g_xu, g_reg_wd, "transport-line.csv", DC_SOURCE_TRANSPORT, 1, "county", "list",
                "transport line, Wudang", transport);
    say("The same person in both lines is one record: its id comes from a keyed hash of the");
    say("identity number, which itself is stored only sealed.");

    set_time(sep(21, 12, 30));
    printf("\n");
    say("12:30 Back in the car, with signal, the tablet syncs; so does the office:");
    sync_dev(&g_xu);
    sync_dev(&g_office);
    sync_dev(&g_xu);
    say("`registry conflicts` on Xu Xin's tablet - the two lines disagree, both kept:");
    print_conflicts(&g_xu, g_reg_wd);
    json_t *a = find_jiang(&g_xu), *b = find_jiang(&g_office);
    say("`registry find` shows the value the reports give - in conflict, the organisation");
    say("line's - on both devices, whichever imported last: \"%s\" on the tablet, \"%s\"",
        jstr(a, "status"), jstr(b, "status"));
    say("at the office, flagged.");
    expect(
        strcmp(jstr(a, "status"), jstr(b, "status")) == 0 &&
            json_is_true(json_object_get(a, "flagged")) &&
            json_is_true(json_object_get(b, "flagged")),
        "the same value and the same flag on both devices, whatever the order of import and sync");
    json_decref(a);
    json_decref(b);

    /* A later round settles it: a visit, door to door. */
    set_time(sep(21, 15, 0));
    snprintf(visit, sizeof visit,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n"
             "蒋贤仁,%s,,,,,,,,正式党员\n",
             g_idn_jiang);
    printf("\n");
    say("15:00 Xu Xin finds Jiang Xianren (蒋贤仁) at his truck: a party member for decades;");
    say("the community's list had it wrong. He records the visit as round 2, verified by the");
    say("branch, door to door (再次核实):");
    import_list(&g_xu, g_reg_wd, "visit.csv", DC_SOURCE_TRANSPORT, 2, "branch", "visit",
                "re-verification", visit);
    say("`registry conflicts` now:");
    print_conflicts(&g_xu, g_reg_wd);

    /* A branch for Jiang by the four principles. */
    printf("\n");
    say("Jiang has no branch yet. At the office, `branch suggest` scores the three branches on");
    say("the four principles (户籍区域、运输路线、活动区域、业务范围):");
    dc_buf buf = DC_BUF_INIT;
    CHECK(&g_office, dc_branch_suggest(&buf, g_office.r, g_registry, g_id_jiang, 0));
    json_t *sg = jparse(&buf);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(sg, "suggestions"), i, d) {
        json_t *p = json_object_get(d, "principles");
        printf("    %zu. %-17s %3lld = %3lld hukou + %3lld routes + %3lld area + %3lld trade\n",
               i + 1, jstr(d, "branch"), jint(d, "score"), jint(p, "hukou_region"),
               jint(p, "routes"), jint(p, "activity_area"), jint(p, "business_scope"));
    }
    const char *best = jstr(json_array_get(json_object_get(sg, "suggestions"), 0), "branch");
    expect(strcmp(best, BR_WD) == 0, "Wudang's branch comes first (%s)", best);
    json_decref(sg);

    dc_registry_move_options mo = DC_REGISTRY_MOVE_OPTIONS_INIT;
    mo.date = "2026-09-21";
    CHECK(&g_xu, dc_registry_move(&buf, g_xu.r, g_reg_wd, g_id_jiang, g_reg_br_wd, &mo));
    CHECK(&g_xu, dc_liaison_cadre(g_xu.r, g_reg_wd, "cad-520112001-01", "龙建国", "520112001",
                                  "township_org_member"));
    CHECK(&g_xu, dc_liaison_link(NULL, g_xu.r, g_reg_wd, "cad-520112001-01", g_id_jiang, "cadre"));
    dc_buf link = DC_BUF_INIT;
    CHECK(&g_xu, dc_liaison_link(&link, g_xu.r, g_reg_wd, g_id_jiang, g_id_xiao, "party_member"));
    CHECK(&g_xu, dc_liaison_contact(g_xu.r, g_reg_wd, (const char *)link.ptr, "call", "2026-09-21",
                                    "问肖鹏最近跑车情况和入党申请进度"));
    dc_buf_dispose(&link);
    CHECK(&g_xu, dc_secretary_done(g_xu.r, g_reg_br_wd, BR_WD "/xu-xin",
                                   "核实瀑布冷链市场货车司机台账", 1));
    say("Xu Xin moves Jiang's record from Wudang's county registry into the branch's: his");
    say("record, his branch and his place on the roster follow in one step (registry move).");
    say("He records that 龙建国, organisation member of 新添寨街道, looks after Jiang, and that");
    say("Jiang looks after Xiao Peng (肖鹏), who has applied to join the party; logs Jiang's call");
    say("to him, and ticks the verification off his task list.");
    CHECK(&g_xu, dc_branch_coverage(&buf, g_xu.r, g_registry));
    json_t *cov = jparse(&buf);
    expect(json_is_true(json_object_get(cov, "covered")) &&
               jint(cov, "party_member_drivers") == 1 && jint(cov, "assigned") == 1,
           "coverage (应管尽管) on the tablet: %lld party-member driver of Wudang, in the branch",
           jint(cov, "party_member_drivers"));
    json_decref(cov);
    dc_buf_dispose(&buf);

    set_time(sep(21, 16, 30));
    printf("\n");
    say("16:30 The tablet syncs; the office sees the conflict settled:");
    sync_dev(&g_xu);
    sync_dev(&g_office);
    a = find_jiang(&g_office);
    b = find_jiang(&g_xu);
    json_t *v = json_object_get(a, "verified");
    say("  Jiang Xianren: status \"%s\", flagged %s, verified in round %lld by the %s (%s),",
        jstr(a, "status"), json_is_true(json_object_get(a, "flagged")) ? "yes" : "no",
        jint(v, "round"), jstr(v, "level"), jstr(v, "method"));
    say("  kept in the branch's registry. The register written last (the transport line's");
    say("  \"masses\", imported after the office's list) does not decide what is shown: the");
    say("  reports do, so the confirmation settles the value, not just the flag.");
    expect(strcmp(jstr(a, "status"), "member") == 0 && strcmp(jstr(b, "status"), "member") == 0 &&
               !json_is_true(json_object_get(a, "flagged")) &&
               strcmp(jstr(a, "space"), g_reg_br_wd) == 0,
           "the later round settled the value on every device: a party member, not flagged");
    json_decref(a);
    json_decref(b);
}

/* ==== 3. A study item in the morning, read at night ==== */

static void study_night(void) {
    dc_buf b = DC_BUF_INIT;
    section("3. Tuesday - a study item pushed at dawn, read at night, offline");
    set_time(sep(22, 6, 30));
    dc_study_options so = DC_STUDY_OPTIONS_INIT;
    so.id = "st-0922";
    so.title = "微党课：夜间行车安全与疲劳驾驶防范";
    so.kind = "micro_lesson";
    so.media = "夜里开车困了，一定进服务区休息。每连续驾驶4小时，停车休息不少于20分钟……";
    CHECK(&g_cheng, dc_study_push(NULL, g_cheng.r, g_br_ws, &so));
    CHECK(&g_cheng, dc_secretary_done(g_cheng.r, g_reg_br_ws, BR_WS "/cheng-wansha",
                                      "每天早晨推送学习资料到支部微信群", 1));
    say("06:30 The first thing Cheng Wansha does each morning: push the day's material to the");
    say("Wanshan branch's group - a micro party lesson, its text kept in the item so a phone");
    say("can read it with no network.");
    sync_dev(&g_cheng);
    set_time(sep(22, 12, 10));
    say("12:10 Yang Fei stops at a service area on the G56 with one bar of signal:");
    sync_dev(&g_yang);

    set_time(sep(22, 23, 10));
    CHECK(&g_yang, dc_study_read(g_yang.r, g_br_ws, "st-0922", g_id_yang, 1));
    CHECK(&g_yang,
          dc_study_discuss(g_yang.r, g_br_ws, "st-0922", g_id_yang,
                           "白天忙着拉货，晚上看看。上个月在遵义就是困了进服务区睡了一觉。"));
    say("23:10 \"白天忙着拉货，晚上我会看看支部微信群里的消息\": parked in the mountains, no");
    say("signal, Yang reads the lesson from his phone's replica, marks it done and writes a line");
    say("under it (云讨论): \"白天忙着拉货，晚上看看。上个月在遵义就是困了进服务区睡了一觉。\"");

    set_time(sep(23, 7, 30));
    say("Wednesday 07:30 Signal again on the way down; the phone syncs on its own:");
    sync_dev(&g_yang);
    set_time(sep(23, 8, 0));
    sync_dev(&g_cheng);
    CHECK(&g_cheng, dc_study_show(&b, g_cheng.r, g_br_ws, "st-0922"));
    json_t *j = jparse(&b);
    const char *st = jstr(json_object_get(j, "members"), g_id_yang);
    json_t *post = json_array_get(json_object_get(j, "discussion"), 0);
    expect(strcmp(st, "done") == 0 && post != NULL,
           "08:00 on Cheng Wansha's tablet: Yang Fei's state for the lesson is \"%s\", with his "
           "post",
           st);
    json_decref(j);
    dc_buf_dispose(&b);

    /* Yang leaves for Shandong: his phone stays offline until Saturday. */
    set_time(sep(23, 22, 15));
    CHECK(&g_yang, dc_study_discuss(g_yang.r, g_br_ws, "st-0922", g_id_yang,
                                    "今天到了济南，冷库排队四个小时，大家注意安排时间。"));
    say("Yang drives on to Shandong. On Wednesday night, with no signal, he writes another post:");
    say("  \"今天到了济南，冷库排队四个小时，大家注意安排时间。\"");
    say("It waits on his phone; we will meet it again on Saturday (section 5).");
}

/* ==== 4. The grievance ==== */

static void print_case_line(device *d, const char *label) {
    dc_buf b = DC_BUF_INIT;
    CHECK(d, dc_case_show(&b, d->r, g_case, g_cal));
    json_t *j = jparse(&b);
    say("%s %-24s status %-11s at %s", label, d->who, jstr(j, "status"), jstr(j, "at"));
    json_decref(j);
    dc_buf_dispose(&b);
}

static json_t *show_case(device *d) {
    dc_buf b = DC_BUF_INIT;
    CHECK(d, dc_case_show(&b, d->r, g_case, g_cal));
    json_t *j = jparse(&b);
    dc_buf_dispose(&b);
    return j;
}

static void step(device *d, const char *action, const char *to, const char *note, int satisfied) {
    CHECK(d, dc_case_step(NULL, d->r, g_case, action, to, note, satisfied, g_cal));
}

static int same_dump(device *a, device *b, const char *space, size_t *size) {
    dc_buf x = DC_BUF_INIT, y = DC_BUF_INIT;
    CHECK(a, dc_replica_dump(&x, a->r, space));
    CHECK(b, dc_replica_dump(&y, b->r, space));
    int same = x.size == y.size && memcmp(x.ptr, y.ptr, x.size) == 0;
    if (size)
        *size = x.size;
    dc_buf_dispose(&x);
    dc_buf_dispose(&y);
    return same;
}

static void grievance(void) {
    dc_buf b = DC_BUF_INIT;
    section("4. Wednesday 23 September - \"运费要不到，咋办？\"");
    set_time(sep(23, 14, 10));
    say("14:10 Huang Hongxing has driven for hours. He stops to rest at the Driver's Home of");
    say("the 贵州黔城智慧物流园 in Anshun ED and takes a shower. A firm there has owed him 4,200");
    say("yuan for hauling construction waste (建筑渣土) for two months.");
    create_space(&g_huang, g_personal, sizeof g_personal, "driver (Huang Hongxing)");
    dc_checkin_options co = DC_CHECKIN_OPTIONS_INIT;
    co.station = DH_ANSHUN;
    co.used = "showers";
    co.rating = 5;
    co.feedback = "热水澡，热乎饭";
    CHECK(&g_huang, dc_checkin(g_huang.r, g_personal, &co));
    say("His check-in goes to his personal space: where he has been stays on his phone.");

    set_time(sep(23, 14, 20));
    create_space(&g_huang, g_case_space, sizeof g_case_space, "case: unpaid freight (黄红兴)");
    add_to(&g_huang, g_case_space, &g_xie, DC_ROLE_ADMIN);
    add_to(&g_huang, g_case_space, &g_office, DC_ROLE_READER);
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.driver = g_id_huang;
    o.channel = "group";
    o.category = "freight_arrears";
    o.text = "运费要不到，咋办？在经开区运输建筑渣土，运费4200元被拖欠两个月。";
    o.region = "520471";
    o.amount = 4200;
    CHECK(&g_huang, dc_case_file(&b, g_huang.r, g_case_space, &o, g_cal));
    json_t *j = jparse(&b);
    snprintf(g_case, sizeof g_case, "%s", jstr(j, "case"));
    json_t *due = json_object_get(j, "due");
    say("14:20 Trying his luck, he asks in the Anshun ED branch's WeChat group (channel");
    say("\"group\"): \"%s\"", o.text);
    say("The question becomes a case with a space of its own (%s), shared", g_case);
    say("with his branch secretary Xie Chaodian as an admin, who can bring in whoever must help;");
    say("the province office reads along. Amount at stake: %lld yuan.", jint(j, "amount"));
    say("`case show` - the 12328 deadlines, counted from the receipt at %s:", when(g_now));
    printf("    transfer  by %s   (2 hours)\n", jstr(due, "transfer"));
    printf("    feedback  by %s   (end of the 2nd working day after receipt)\n",
           jstr(due, "feedback"));
    printf("    reply     by %s   (end of the 5th working day)\n", jstr(due, "reply"));
    say("The Mid-Autumn holiday (Fri 25 - Sun 27) and the National Day week (1 - 7 Oct) are");
    say("not working days, so the feedback is due Monday night and the reply on 8 October.");
    expect(strcmp(jstr(due, "transfer"), "2026-09-23T16:20:00+08:00") == 0 &&
               strcmp(jstr(due, "feedback"), "2026-09-29T00:00:00+08:00") == 0 &&
               strcmp(jstr(due, "reply"), "2026-10-09T00:00:00+08:00") == 0,
           "deadlines as the 2026 calendar gives them");
    json_decref(j);
    sync_dev(&g_huang);

    set_time(sep(23, 14, 25));
    sync_dev(&g_xie);
    step(&g_xie, "transfer", BR_JK, "支部接单，书记谢朝典跟进", -1);
    set_time(sep(23, 14, 26));
    step(&g_xie, "feedback", NULL, "将立即启动货车司机诉求办理机制，想办法帮你处理", -1);
    say("14:25 Xie Chaodian answers at once (第一时间答复): the branch takes the case and will");
    say("start the grievance mechanism at once (transfer and feedback, both on time).");
    set_time(sep(23, 15, 10));
    add_to(&g_xie, g_case_space, &g_desk, DC_ROLE_MEMBER);
    step(&g_xie, "transfer", JOINT_MEETING, "欠款企业在经开区，提请联席会议协调交通、市场监管部门",
         -1);
    say("15:10 He adds the desk of Anshun ED's joint meeting to the case and transfers it");
    say("there: driver -> branch -> joint meeting (诉求直通机制).");
    sync_dev(&g_xie);
    set_time(sep(23, 15, 20));
    sync_dev(&g_desk);
    set_time(sep(23, 16, 0));
    step(&g_desk, "feedback", NULL, "已联系欠款企业和经开区交通运输局，明早上门协调", -1);
    say("16:00 The desk, which learnt of the case at its sync, tells Huang what happens next.");
    sync_dev(&g_desk);
    set_time(sep(23, 16, 30));
    sync_dev(&g_huang);
    print_case_line(&g_huang, "16:30 On");

    /* Thursday morning: the desk's daily view. */
    printf("\n");
    set_time(sep(24, 8, 30));
    dc_case_list_options lo = DC_CASE_LIST_OPTIONS_INIT;
    const char *open[] = {"open"};
    lo.statuses = open;
    lo.nstatuses = 1;
    lo.now_ms = g_now;
    CHECK(&g_desk, dc_case_list(&b, g_desk.r, &lo, g_cal));
    json_t *lst = jparse(&b);
    json_t *first = json_array_get(json_object_get(lst, "cases"), 0);
    json_t *nx = json_object_get(first, "next");
    say("Thursday 24 September, 08:30 The desk opens its daily view (`case list --status open`):");
    say("  %lld open case; next: %s, %s deadline %s, at %s (%s), %lld yuan", jint(lst, "count"),
        jstr(first, "case"), jstr(nx, "deadline"), jstr(nx, "due"), jstr(first, "at"),
        jstr(first, "level"), jint(first, "amount"));
    expect(jint(lst, "count") == 1 && strcmp(jstr(nx, "deadline"), "reply") == 0 &&
               !json_is_true(json_object_get(nx, "overdue")),
           "one open case for the desk; the reply is the next deadline, not yet passed");
    json_decref(lst);

    /* Thursday: two handlers, both offline, both act. */
    printf("\n");
    set_time(sep(24, 11, 30));
    step(&g_desk, "resolve", NULL, "经开区交通运输局、市场监管局现场协调，4200元当面结清", -1);
    set_time(sep(24, 11, 35));
    CHECK(&g_desk, dc_case_amount(NULL, g_desk.r, g_case, 4200, g_cal));
    set_time(sep(24, 11, 40));
    step(&g_xie, "feedback", NULL, "企业承诺今天付款，我在跟进", -1);
    say("11:30 In the firm's yard (no signal) the desk officer, with the transport and");
    say("market-regulation bureaus, sees the 4,200 yuan paid: resolve, 4,200 yuan recovered.");
    say("11:40 Xie Chaodian, offline too, has not heard yet and records a feedback step: \"the");
    say("firm promises to pay today\". Each device thinks its own step is news.");
    print_case_line(&g_desk, "  Before syncing, on");
    print_case_line(&g_xie, "  Before syncing, on");
    set_time(sep(24, 12, 0));
    sync_dev(&g_desk);
    sync_dev(&g_xie);
    sync_dev(&g_desk);
    json_t *a = show_case(&g_desk), *c = show_case(&g_xie);
    size_t n = 0;
    int same = same_dump(&g_desk, &g_xie, g_case_space, &n);
    expect(same && strcmp(jstr(a, "status"), jstr(c, "status")) == 0 &&
               strcmp(jstr(a, "status"), "resolved") == 0,
           "after syncing both show \"%s\"; their case spaces are byte-identical (%zu bytes)",
           jstr(c, "status"), n);
    say("The steps are events; both replicas fold the same events in clock order: the feedback");
    say("came after the resolution, so it stays in the history (applied: false) and changes");
    say("nothing. Nobody's step was lost, and nobody's view disagrees.");
    json_decref(a);
    json_decref(c);

    set_time(sep(24, 15, 0));
    step(&g_xie, "revisit", NULL, "回访：黄红兴满意，“拿回辛辛苦苦挣的钱，真高兴”", 1);
    say("15:00 Xie Chaodian calls Huang back: \"拿回辛辛苦苦挣的钱，真高兴。\"");
    sync_dev(&g_xie);
    set_time(sep(24, 18, 0));
    sync_dev(&g_huang);
    sync_dev(&g_desk);

    j = show_case(&g_huang);
    printf("\n");
    say("`case show` on Huang's phone, 18:00 - received %s, resolved %s:", when(sep(23, 14, 20)),
        when(sep(24, 11, 30)));
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "steps"), i, s) {
        char tm[64];
        snprintf(tm, sizeof tm, "%s", jstr(s, "time"));
        char line[400];
        snprintf(line, sizeof line, "    %-25s %-9s by %-24s%s%s%s", tm, jstr(s, "action"),
                 device_name(jstr(s, "author")),
                 json_is_string(json_object_get(s, "to")) ? " -> " : "",
                 json_is_string(json_object_get(s, "to")) ? jstr(s, "to") : "",
                 json_is_false(json_object_get(s, "applied")) ? "   (history: not applied)" : "");
        size_t len = strlen(line);
        while (len && line[len - 1] == ' ')
            line[--len] = '\0';
        puts(line);
    }
    due = json_object_get(j, "due");
    json_t *ot = json_object_get(j, "on_time");
    say("status %s, satisfied %s; return visit due by %s", jstr(j, "status"),
        json_is_true(json_object_get(j, "satisfied")) ? "yes" : "no", jstr(due, "revisit"));
    say("on time: transfer %s, feedback %s, reply %s, return visit %s",
        json_is_true(json_object_get(ot, "transfer")) ? "yes" : "no",
        json_is_true(json_object_get(ot, "feedback")) ? "yes" : "no",
        json_is_true(json_object_get(ot, "reply")) ? "yes" : "no",
        json_is_true(json_object_get(ot, "revisit")) ? "yes" : "no");
    expect(strcmp(jstr(j, "status"), "revisited") == 0 &&
               json_is_true(json_object_get(j, "satisfied")) &&
               strcmp(jstr(due, "revisit"), "2026-09-30T00:00:00+08:00") == 0 &&
               json_is_true(json_object_get(ot, "transfer")) &&
               json_is_true(json_object_get(ot, "feedback")) &&
               json_is_true(json_object_get(ot, "reply")) &&
               json_is_true(json_object_get(ot, "revisit")),
           "settled in 21 hours, revisited, every deadline met - as the report tells it");
    expect(jint(j, "amount") == 4200, "4,200 yuan recovered (仅用一天时间)");
    json_decref(j);
    dc_buf_dispose(&b);
}

/* ==== 5. Days offline, and a clock hours fast ==== */

static json_t *status_of(device *d) {
    dc_buf b = DC_BUF_INIT;
    CHECK(d, dc_replica_status(&b, d->r));
    json_t *j = jparse(&b);
    dc_buf_dispose(&b);
    return j;
}

/* Changes this device wrote that no relay has acknowledged, over all spaces. */
static long long total_unacked(json_t *status) {
    long long n = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(status, "spaces"), i, s) {
        n += jint(s, "unacked");
    }
    return n;
}

static void print_status(device *d, const char *label) {
    json_t *j = status_of(d);
    long long unacked = total_unacked(j);
    json_t *last = json_object_get(j, "last_relay_sync_ms");
    long long off = jint(j, "clock_offset_ms");
    say("%-7s %lld change%s not yet held by the relay, last sync %s, clock offset %s%lld ms%s",
        label, unacked, unacked == 1 ? "" : "s",
        json_is_integer(last) ? when(json_integer_value(last)) : "never", off > 0 ? "+" : "", off,
        off == -3 * HOUR ? " (-3 h)" : "");
    json_decref(j);
}

static void back_online(void) {
    dc_buf b = DC_BUF_INIT;
    section("5. Saturday 26 September - back from Shandong, clock wrong");
    dc_study_options so = DC_STUDY_OPTIONS_INIT;
    set_time(sep(25, 20, 0));
    so.id = "st-0923";
    so.title = "新闻：12328热线“3”号键货车司机诉求专线";
    so.kind = "news";
    so.media = "拨打12328按“3”号键，货车司机诉求直通专线：2小时内转办，2个工作日内反馈……";
    CHECK(&g_cheng, dc_study_push(NULL, g_cheng.r, g_br_ws, &so));
    say("Friday 20:00 Cheng Wansha pushes a news item to the Wanshan branch: the 12328");
    say("hotline's \"3\" key for drivers' grievances.");
    sync_dev(&g_cheng);
    set_time(sep(26, 9, 0));
    g_yang.skew = 3 * HOUR;
    say("Yang Fei's phone has been offline since Wednesday morning. On the way back its battery");
    say("died, and after the restart its clock reads %s when it is really %s.",
        hhmm(g_now + g_yang.skew), hhmm(g_now));
    say("`status` shows what users of other sync systems cannot see:");
    print_status(&g_yang, "Before:");
    sync_dev(&g_yang);
    print_status(&g_yang, "After: ");
    json_t *st = status_of(&g_yang);
    expect(total_unacked(st) == 0 && jint(st, "clock_offset_ms") == -3 * HOUR &&
               jint(st, "last_relay_sync_ms") == g_now,
           "everything he wrote offline is durably on the relay; his clock is corrected by -3 h");
    json_decref(st);

    set_time(sep(26, 9, 5));
    CHECK(&g_yang, dc_study_read(g_yang.r, g_br_ws, "st-0923", g_id_yang, 1));
    CHECK(&g_yang, dc_record_get(&b, g_yang.r, g_br_ws, "study", "st-0923"));
    json_t *rec = jparse(&b);
    json_t *evs = json_object_get(rec, "@events");
    int64_t stamp =
        json_integer_value(json_object_get(json_array_get(evs, json_array_size(evs) - 1), "@time"));
    say("He reads Friday's news item. His phone's clock says %s, but the receipt is stamped",
        hhmm(g_now + g_yang.skew));
    say("%s: the relay's clock is the reference, so his stamps neither win every", hhmm(stamp));
    say("conflict for the next three hours nor wait aside on the other devices.");
    expect(stamp == g_now, "the read receipt carries the true time");
    json_decref(rec);
    sync_dev(&g_yang);
    dc_buf_dispose(&b);
}

/* ==== 6. The end ==== */

/* Does `needle` occur in the file at `path`?  -1 if it cannot be read. */
static int file_has(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0, k, m = strlen(needle);
    char *buf = malloc(cap);
    if (!buf)
        die("out of memory");
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                die("out of memory");
            buf = nb;
        }
    }
    fclose(f);
    int found = 0;
    for (size_t i = 0; !found && i + m <= n; i++)
        found = memcmp(buf + i, needle, m) == 0;
    free(buf);
    return found;
}

static void the_end(void) {
    section("6. Saturday noon - does everyone agree?");
    set_time(sep(26, 12, 0));
    say("Every device syncs once more:");
    for (size_t i = 0; i < NDEV; i++)
        sync_dev(g_all[i]);
    /* A second round must find nothing left to move anywhere. */
    long moved = 0;
    g_quiet = 1;
    for (size_t i = 0; i < NDEV; i++) {
        sync_figures f = sync_dev(g_all[i]);
        moved += f.changes_sent + f.changes_received;
    }
    g_quiet = 0;
    expect(moved == 0, "a second round moves nothing: every device has every change it may read");

    /* Every space, dumped on every device holding its key. */
    printf("\n");
    say("`dump` of each space on every device that holds its key (the relay holds none):");
    const char *const order[] = {g_directory, g_registry,   g_reg_wd,  g_reg_br_wd,
                                 g_reg_br_ws, g_reg_br_jk,  g_br_wd,   g_br_ws,
                                 g_br_jk,     g_case_space, g_personal};
    const char *const label[] = {"directory",
                                 "registry (root)",
                                 "registry 520112 (乌当)",
                                 "registry " BR_WD,
                                 "registry " BR_WS,
                                 "registry " BR_JK,
                                 "branch 520112-01 (乌当)",
                                 "branch 520603-01 (万山)",
                                 "branch 520471-01 (安顺经开区)",
                                 "case: unpaid freight (黄红兴)",
                                 "driver (Huang Hongxing)"};
    static const char *const short_name[] = {"office", "Xu",   "Cheng", "Xie",
                                             "Huang",  "Yang", "desk"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        device *first = NULL;
        int n = 0, same = 1;
        size_t size = 0;
        char who[128] = "";
        for (size_t k = 0; k < NDEV; k++) {
            json_t *l = spaces_of(g_all[k]);
            if (holds_key(l, order[i])) {
                if (!first)
                    first = g_all[k];
                else if (!same_dump(first, g_all[k], order[i], &size))
                    same = 0;
                n++;
                size_t len = strlen(who);
                snprintf(who + len, sizeof who - len, "%s%s", len ? ", " : "", short_name[k]);
            }
            json_decref(l);
        }
        printf("  %s ", n == 1 ? "      " : same ? "[ok]  " : "[FAIL]");
        pad(label[i], 38);
        if (n == 1) {
            printf("only on %s's phone: his whereabouts stay his\n", who);
        } else {
            printf("%5zu bytes, identical on %s\n", size, who);
            if (!same)
                g_failed_checks++;
        }
    }

    /* The relay: stopped cleanly, and nothing readable in its store. */
    printf("\n");
    int rc = relay_stop(&g_relay);
    expect(rc == 0, "the relay stops on SIGTERM and exits 0");
    static const char *const secrets[][2] = {
        {"黄红兴", "Huang's name"},
        {"杨飞", "Yang's name"},
        {PHONE_HUANG, "Huang's phone number"},
        {"建筑渣土", "the words of his grievance"},
        {"夜间行车安全", "the study item's title"},
        {"乌当区", "the directory's region names"},
    };
    char csv[700], store[700], missing[600] = "";
    snprintf(csv, sizeof csv, "%s/organisation-anshun-ed.csv", g_dir);
    expect(file_has(csv, "黄红兴") == 1 && file_has(csv, PHONE_HUANG) == 1,
           "control: a byte search finds Huang's name and phone in the organisation line's CSV");
    int clean = 1;
    for (size_t j = 0; j < sizeof secrets / sizeof secrets[0]; j++) {
        static const char *const sfx[] = {"", "-wal", "-shm"};
        for (size_t k = 0; k < 3; k++) {
            snprintf(store, sizeof store, "%s%s", g_relay.store, sfx[k]);
            if (file_has(store, secrets[j][0]) == 1) {
                clean = 0;
                size_t len = strlen(missing);
                if (len + 200 < sizeof missing)
                    snprintf(missing + len, sizeof missing - len, " [%.40s found in %.140s]",
                             secrets[j][1], store);
            }
        }
    }
    expect(clean, "the same search over the relay's store (relay.db, its WAL) finds none of:%s",
           missing);
    say("  Huang's name, Yang's name, Huang's phone number, the words of the grievance, the");
    say("  study item's title, or even the public region names: for five days it stored and");
    say("  forwarded sealed changes it could not read.");
}

/* One line of the statistics table. */
static void row(const char *what, const char *demo, const char *report) {
    printf("  ");
    pad(what, 44);
    printf("%*s%s%s%s\n", 14 - cols(demo) > 0 ? 14 - cols(demo) : 0, "", demo, *report ? "   " : "",
           report);
}

static const char *num(char *buf, long long n) {
    snprintf(buf, 64, "%lld", n);
    return buf;
}

static void statistics(void) {
    dc_buf b = DC_BUF_INIT;
    char p1[32];
    section("7. The statistics, computed from the records on the province office's replica");
    CHECK(&g_office, dc_stats_at(&b, g_office.r, NULL, g_cal, g_now));
    json_t *j = jparse(&b);
    json_t *li = json_object_get(j, "liaison"), *ca = json_object_get(j, "cases"),
           *ot = json_object_get(ca, "on_time");
    char v[64];
    row("", "this demo", "Guizhou, in the report");
    row("road freight operators (道路货运经营户)", num(v, jint(j, "operators")), "7,447");
    row("truck drivers", num(v, jint(j, "drivers")), "257,000");
    row("party-member truck drivers", num(v, jint(j, "party_member_drivers")), "5,867");
    row("industry party committees (行业党委)", num(v, jint(j, "committees")), "105");
    row("mobile branches (红色黔线流动党员党支部)", num(v, jint(j, "branches")), "209");
    row("branch secretaries", num(v, jint(j, "secretaries")), "187");
    row("liaison cadres (乡镇组织委员、村党组织书记)", num(v, jint(li, "cadres")), "3,588");
    row("  -> party-member drivers they look after", num(v, jint(li, "party_member_drivers")),
        "5,179");
    row("  -> drivers those look after", num(v, jint(li, "drivers")), "27,220");
    row("study items pushed", num(v, jint(j, "study_items")), "5,000+");
    row("Driver's Homes (司机之家)", num(v, jint(j, "stations")), "50");
    row("joint meetings (联席会议)", num(v, jint(j, "joint_meetings")), "108");
    snprintf(v, sizeof v, "%lld / %lld", jint(ca, "collected"), jint(ca, "resolved"));
    row("grievances collected / resolved", v, "3,794 / 3,731");
    row("resolution rate", jpct(ca, "resolution_rate", p1, sizeof p1), "98.34 %");
    row("settled inside the county (小事不出县)", jpct(ca, "inside_county", p1, sizeof p1), "");
    row("transferred within 2 hours", jpct(ot, "transfer", p1, sizeof p1), "");
    row("fed back within 2 working days", jpct(ot, "feedback", p1, sizeof p1), "");
    row("replied within 5 working days", jpct(ot, "reply", p1, sizeof p1), "");
    row("return visits satisfied", jpct(ca, "satisfaction_rate", p1, sizeof p1), "");
    json_t *mh = json_object_get(ca, "median_resolve_hours");
    snprintf(v, sizeof v, "%.2f",
             json_is_number(mh)   ? json_number_value(mh)
             : json_is_string(mh) ? atof(json_string_value(mh))
                                  : -1.0);
    row("median hours to resolve", v, "\"仅用一天时间\" (in one day)");
    snprintf(v, sizeof v, "%lld", jint(ca, "recovered_yuan"));
    row("yuan recovered", v, "4,200 (黄红兴)");
    json_t *wd = json_object_get(json_object_get(j, "by_region"), "520112");
    snprintf(v, sizeof v, "%lld / %lld", jint(wd, "drivers"), jint(wd, "party_member_drivers"));
    row("乌当区: drivers / party-member drivers", v, "1,576 / 70");
    expect(jint(j, "drivers") == 5 && jint(j, "party_member_drivers") == 3 &&
               jint(j, "branches") == 3 && jint(j, "secretaries") == 3 && jint(li, "cadres") == 1 &&
               jint(ca, "collected") == 1 && jint(ca, "resolved") == 1 &&
               jint(ca, "recovered_yuan") == 4200 &&
               json_number_value(json_object_get(ot, "reply")) == 100.0 &&
               jint(wd, "drivers") == 3 && jint(wd, "party_member_drivers") == 1,
           "the figures match what happened in this story (as of %s)", jstr(j, "as_of"));
    say("The same dc_stats over `drivercore demo-data province` (257,000 drivers, generated");
    say("through the same API) is what reproduces the right-hand column; its by_region row");
    say("for 乌当区 is the report's Wudang figures.");
    json_decref(j);
    dc_buf_dispose(&b);
}

static void remove_dir(void) {
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char p[800];
    for (size_t i = 0; i < NDEV; i++) {
        dc_replica_close(g_all[i]->r);
        g_all[i]->r = NULL;
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof p, "%s%s", g_all[i]->path, sfx[j]);
            unlink(p);
        }
    }
    static const char *const files[] = {"relay.db",
                                        "relay.db-wal",
                                        "relay.db-shm",
                                        "relay.log",
                                        "relay-clock",
                                        "transport-line.csv",
                                        "organisation-wudang.csv",
                                        "organisation-wanshan.csv",
                                        "organisation-anshun-ed.csv",
                                        "visit.csv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", g_dir, files[i]);
        unlink(p);
    }
    rmdir(g_dir);
}

int main(void) {
    char err[600];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (dc_global_init(NULL) != 0) {
        fprintf(stderr, "demo: %s\n", dc_error_last());
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/dc-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "demo: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (dc_calendar_load_file(&g_cal, DEMO_CALENDAR) != 0)
        die("cannot load the holiday calendar: %s", dc_error_last());
    atexit(cleanup_relay);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, on_signal); /* `demo | head`: the relay must not outlive a closed pipe */
    g_now = sep(21, 8, 30);
    if (relay_start(&g_relay, g_dir, g_now, err, sizeof err) != 0)
        die("cannot start the relay: %s", err);

    printf("drivercore %s demo: Guizhou's truck drivers, their mobile branches, and a grievance\n"
           "settled in a day - seven devices, offline most of the time, syncing through a relay\n"
           "that cannot read what it carries. Files: %s (removed at the end).\n",
           dc_version(), g_dir);
    setup();
    market();
    study_night();
    grievance();
    back_online();
    the_end();
    statistics();

    printf("\n");
    if (g_failed_checks) {
        printf("  %d check%s FAILED (files kept in %s).\n", g_failed_checks,
               g_failed_checks == 1 ? "" : "s", g_dir);
        return 1;
    }
    printf("  Every check passed: all devices converged, and the relay never saw plaintext.\n");
    dc_calendar_free(g_cal);
    remove_dir();
    return 0;
}
