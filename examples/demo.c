/*
 * demo — the story of `./dev demo`, told for a newcomer with real records,
 * real devices and a real relay: how Guizhou's truck drivers, their mobile
 * party branch and the offices behind them work with drivercore, after the
 * People's Daily report (../shared/seed, ../shared/DOMAIN.md).
 *
 * Five devices, each its own replica: the province office's desk, branch
 * secretary Xu Xin (许鑫)'s tablet, party-member driver Huang Hongxing
 * (黄红兴)'s phone, party-member driver Yang Fei (杨飞)'s phone, and the
 * desk of the Anshun Economic Development Zone's joint meeting (联席会议).
 * They sync through the real `drivercore-relay` daemon, started on
 * 127.0.0.1 and stopped with SIGTERM at the end; "no signal" simply means a
 * device does not sync.  The story follows the report: the secretary
 * verifies drivers at the Puyuan cold-chain market offline, a study item
 * pushed at night is read offline, Huang's unpaid-freight grievance (4,200
 * yuan for hauling construction waste) climbs from a Driver's Home to the
 * joint meeting and is settled within a day, a phone comes back after days
 * away with its clock hours wrong, and at the end every device agrees, the
 * relay holds no plaintext, and the statistics come out of the records.
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
static device g_huang = {"Huang Hongxing's phone", "huang-phone", 40 * SEC, NULL, ""};
static device g_yang = {"Yang Fei's phone", "yang-phone", 0, NULL, ""};
static device g_desk = {"the joint meeting's desk", "joint-meeting-desk", 0, NULL, ""};
static device *const g_all[] = {&g_office, &g_xu, &g_huang, &g_yang, &g_desk};
#define NDEV (sizeof g_all / sizeof g_all[0])

static char g_dir[256];
static demo_relay g_relay;
static dc_calendar *g_cal;
static int g_failed_checks;
static int g_quiet; /* sync_dev prints nothing */

/* Space ids. */
static char g_directory[40], g_registry[40], g_br_cold[40], g_br_haul[40];
static char g_case_space[40], g_personal[40];
/* Record ids the story refers to. */
#define BR_COLD "branch-520112-01"
#define BR_HAUL "branch-520112-02"
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

static void put_branch(const char *space, const char *code, const char *name,
                       const char *const *routes, size_t nr, const char *const *scope, size_t ns) {
    dc_branch_options o = DC_BRANCH_OPTIONS_INIT;
    o.code = code;
    o.name = name;
    o.region = "520112";
    o.hukou_region = "520112";
    o.activity_area = "520112";
    o.routes = routes;
    o.nroutes = nr;
    o.business_scope = scope;
    o.nbusiness_scope = ns;
    CHECK(&g_office, dc_branch_put(NULL, g_office.r, space, &o));
}

static void put_secretary(const char *branch) {
    dc_secretary_options o = DC_SECRETARY_OPTIONS_INIT;
    dc_buf id = DC_BUF_INIT;
    o.branch = branch;
    o.person = "xu-xin";
    o.name = "许鑫";
    o.from_dept = "transport_dept-520112";
    o.role = "secretary";
    CHECK(&g_office, dc_secretary_put(&id, g_office.r, g_registry, &o));
    dc_buf_dispose(&id);
}

static void setup(void) {
    section("1. Monday 21 September, 08:30 - the province office sets things up");
    set_time(sep(21, 8, 30));
    for (size_t i = 0; i < NDEV; i++)
        open_device(g_all[i]);
    say("Five devices, each with its own replica (one SQLite file): %s,", g_office.who);
    say("%s, %s, %s, and %s", g_xu.who, g_huang.who, g_yang.who, g_desk.who);
    say("(安顺经开区联席会议). They meet only through the relay, the drivercore-relay daemon");
    say("started at %s, which stores and forwards sealed changes and never", g_relay.url);
    say("holds a space key.");
    printf("\n");

    /* The directory: public facts every device may read. */
    create_space(&g_office, g_directory, sizeof g_directory, "directory");
    CHECK(&g_office, dc_region_put(g_office.r, g_directory, "520000", "贵州省", "province", NULL));
    CHECK(&g_office, dc_region_put(g_office.r, g_directory, "520100", "贵阳市", "city", "520000"));
    CHECK(&g_office,
          dc_region_put(g_office.r, g_directory, "520112", "乌当区", "county", "520100"));
    CHECK(&g_office,
          dc_region_put(g_office.r, g_directory, "520113", "白云区", "county", "520100"));
    CHECK(&g_office,
          dc_region_put(g_office.r, g_directory, "520112001", "新添寨街道", "township", "520112"));
    CHECK(&g_office, dc_region_put(g_office.r, g_directory, "520112001001", "新添社区", "village",
                                   "520112001"));
    CHECK(&g_office, dc_region_put(g_office.r, g_directory, "520400", "安顺市", "city", "520000"));
    CHECK(&g_office, dc_region_put(g_office.r, g_directory, "520471", "安顺经济技术开发区",
                                   "county", "520400"));
    put_org("org_dept", "520112", "乌当区委组织部", "county", "520112", NULL, NULL, 0);
    put_org("transport_dept", "520112", "乌当区交通运输局", "county", "520112", NULL, NULL, 0);
    put_org("committee", "520112", "乌当区道路货运行业党委", "county", "520112", NULL, NULL, 0);
    put_org("committee", "520471", "安顺经开区道路货运行业党委", "county", "520471", NULL, NULL, 0);
    put_org("branch", "520112-01", "乌当区货车司机流动党员党支部（冷链）", NULL, "520112",
            "committee-520112", NULL, 0);
    put_org("branch", "520112-02", "乌当区货车司机流动党员党支部（渣土·普货）", NULL, "520112",
            "committee-520112", NULL, 0);
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
    put_org("enterprise", "520112-002", "贵阳畅通渣土运输有限公司", NULL, "520112", NULL, NULL, 0);
    put_org("operator", "520112-0001", "乌当区个体货运经营户（杨飞）", NULL, "520112", NULL, NULL,
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
    say("five levels from 贵州省 down to 新添社区, the Wudang and Anshun ED industry committees,");
    say("the Anshun ED joint meeting with four member departments, two Driver's Homes - at");
    say("the 瀑布冷链 cold-chain market in Wudang and at the 贵州黔城智慧物流园 logistics park in");
    say("Anshun ED - and the 2026 holiday calendar the 12328 deadlines are counted in.");

    /* The registry (台账) and the two Wudang branches (红色黔线). */
    create_space(&g_office, g_registry, sizeof g_registry, "registry");
    create_space(&g_office, g_br_cold, sizeof g_br_cold, "branch 520112-01 (cold chain)");
    create_space(&g_office, g_br_haul, sizeof g_br_haul, "branch 520112-02 (construction waste)");
    static const char *const r_cold[] = {"贵阳—遵义", "贵阳—济南"};
    static const char *const s_cold[] = {"cold_chain"};
    static const char *const r_haul[] = {"贵阳—安顺"};
    static const char *const s_haul[] = {"construction_waste", "general_cargo"};
    put_branch(g_br_cold, "520112-01", "乌当区货车司机流动党员党支部（冷链）", r_cold, 2, s_cold,
               1);
    put_branch(g_br_haul, "520112-02", "乌当区货车司机流动党员党支部（渣土·普货）", r_haul, 1,
               s_haul, 2);
    put_secretary(BR_COLD);
    put_secretary(BR_HAUL);
    CHECK(&g_office, dc_secretary_task(g_office.r, g_registry, BR_COLD "/xu-xin",
                                       "核实瀑布冷链市场货车司机台账", "2026-09-21"));
    CHECK(&g_office, dc_secretary_task(g_office.r, g_registry, BR_COLD "/xu-xin",
                                       "推送本周学习资料", "2026-09-21"));
    say("It opens the registry (drivers' records, identity numbers and phones sealed) and");
    say("the spaces of two Wudang mobile branches, one per trade: cold chain, and construction");
    say("waste with general cargo. Secretary Xu Xin (许鑫), sent by the district transport");
    say("bureau, leads both (the report's 187 secretaries lead 209 branches) and gets a task");
    say("list: verify the drivers at the cold-chain market; push this week's study item.");

    add_to(&g_office, g_registry, &g_xu, DC_ROLE_MEMBER);
    add_to(&g_office, g_br_cold, &g_xu, DC_ROLE_ADMIN);
    add_to(&g_office, g_br_haul, &g_xu, DC_ROLE_ADMIN);
    for (size_t i = 1; i < NDEV; i++)
        add_to(&g_office, g_directory, g_all[i], DC_ROLE_READER);
    say("Each device shows the office its signed device card; the office adds them all to the");
    say("directory as readers, and Xu Xin's tablet to the registry and both branches.");
    printf("\n");
    sync_dev(&g_office);
    sync_dev(&g_xu);

    /* The secretary brings the drivers' phones into their branches. */
    set_time(sep(21, 8, 50));
    add_to(&g_xu, g_br_haul, &g_huang, DC_ROLE_MEMBER);
    add_to(&g_xu, g_br_cold, &g_yang, DC_ROLE_MEMBER);
    printf("\n");
    say("08:50 Xu Xin, now an admin of both branches, adds Huang Hongxing's phone to the");
    say("construction-waste branch and Yang Fei's phone to the cold-chain branch.");
    sync_dev(&g_xu);
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

static void import_list(const char *file, int source, const char *what, const char *csv) {
    char path[700];
    dc_buf rep = DC_BUF_INIT;
    snprintf(path, sizeof path, "%s/%s", g_dir, file);
    write_file(path, csv);
    CHECK(&g_xu, dc_registry_import_csv(&rep, g_xu.r, g_registry, source, 1, (const uint8_t *)csv,
                                        strlen(csv)));
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
    CHECK(&g_xu, dc_registry_driver_id(&b, g_xu.r, g_registry, idn));
    snprintf(out, n, "%s", (const char *)b.ptr);
    dc_buf_dispose(&b);
}

static void market(void) {
    char transport[2048], organisation[1024], bad[19];
    section("2. Monday 10:00 - at the 瀑布冷链 cold-chain market, no signal");
    set_time(sep(21, 10, 0));
    say("Trucks queue at the cold stores of the 瀑布冷链农产品交易中心. Xu Xin walks between");
    say("them with the tablet. There is no signal under the cold-store roofs, and none is");
    say("needed: everything below is written to the tablet's own replica.");

    id_number(g_idn_huang, "52011219790512031");
    id_number(g_idn_yang, "52011219830917052");
    id_number(g_idn_jiang, "52011219720304011");
    id_number(g_idn_xiao, "52011319921108073");
    id_number(g_idn_zhuang, "52011219880622034");
    id_number(bad, "52011219850101123");
    bad[17] = bad[17] == '0' ? '1' : '0'; /* a digit misread from the paper list */
    snprintf(transport, sizeof transport,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n"
             "黄红兴,%s," PHONE_HUANG ",520112,贵A5K721,贵阳畅通渣土运输有限公司,贵阳—安顺,"
             "520112,渣土;普货,\n"
             "杨飞,%s,13985022245,520112,贵A7L093,贵州瀑布冷链物流有限公司,贵阳—遵义;贵阳—济南,"
             "520112,冷链,\n"
             "蒋贤仁,%s,13985033318,520112,贵A2M556,贵阳畅通渣土运输有限公司,贵阳—安顺,520112,"
             "渣土;普货,\n"
             "肖鹏,%s,13985044461,520113,贵A9N330,贵阳畅通渣土运输有限公司,贵阳—安顺,520112,"
             "普货,\n"
             "庄科城,%s,13985055504,520112,贵A6P218,贵州瀑布冷链物流有限公司,贵阳—济南,520112,"
             "冷链,\n"
             "王强,%s,13985066637,520112,贵A3Q472,,,520112,冷链,\n",
             g_idn_huang, g_idn_yang, g_idn_jiang, g_idn_xiao, g_idn_zhuang, bad);
    snprintf(organisation, sizeof organisation,
             "name,id_number,phone,hukou_region,plate,employer,route,activity_area,"
             "business_scope,political_status\n"
             "黄红兴,%s," PHONE_HUANG ",520112,,安顺鑫达运输有限公司,,,,正式党员\n"
             "杨飞,%s,13985022245,520112,,贵州瀑布冷链物流有限公司,,,,正式党员\n"
             "蒋贤仁,%s,13985033318,520112,,,,,,正式党员\n"
             "肖鹏,%s,13985044461,520113,,,,,,入党申请人\n",
             g_idn_huang, g_idn_yang, g_idn_jiang, g_idn_xiao);
    say("Two lists reached the office beforehand (双线核查, dual-line check, round 1):");
    import_list("transport-line.csv", DC_SOURCE_TRANSPORT, "transport line", transport);
    import_list("organisation-line.csv", DC_SOURCE_ORGANISATION, "organisation line", organisation);
    say("The same person in both lists is one record: the record id comes from a keyed hash");
    say("of the identity number, which itself is stored only sealed.");

    /* The disagreement between the lines, kept visible. */
    dc_buf b = DC_BUF_INIT;
    CHECK(&g_xu, dc_registry_conflicts(&b, g_xu.r, g_registry));
    json_t *c = jparse(&b);
    say("`registry conflicts` - where the two lines disagree, both values are kept:");
    size_t i, k;
    json_t *d, *v;
    json_array_foreach(c, i, d) {
        const char *field;
        json_t *vals;
        json_object_foreach(json_object_get(d, "conflicts"), field, vals) {
            printf("    %s, %s:\n", jstr(d, "name"), field);
            json_array_foreach(vals, k, v) {
                printf("      ");
                pad(jstr(v, "value"), 28);
                printf("%s line, round %lld\n", jstr(v, "source"), jint(v, "round"));
            }
        }
    }
    expect(json_array_size(c) == 1 && strcmp(jstr(json_array_get(c, 0), "name"), "黄红兴") == 0,
           "one driver flagged (Huang Hongxing's employer); a later round will settle it");
    json_decref(c);
    say("Xu Xin rings Huang that evening: he changed companies in the spring. The flag stays");
    say("until the next round confirms one value; nothing was silently overwritten.");

    driver_id(g_id_huang, sizeof g_id_huang, g_idn_huang);
    driver_id(g_id_yang, sizeof g_id_yang, g_idn_yang);
    driver_id(g_id_jiang, sizeof g_id_jiang, g_idn_jiang);
    driver_id(g_id_xiao, sizeof g_id_xiao, g_idn_xiao);

    /* A branch for Jiang Xianren by the four principles. */
    printf("\n");
    say("Jiang Xianren (蒋贤仁), a party member for decades, has no branch yet. `branch suggest`");
    say("scores each branch on the four principles (户籍区域、运输路线、活动区域、业务范围):");
    CHECK(&g_xu, dc_branch_suggest(&b, g_xu.r, g_registry, g_id_jiang, 0));
    json_t *sg = jparse(&b);
    json_array_foreach(json_object_get(sg, "suggestions"), i, d) {
        json_t *p = json_object_get(d, "principles");
        const char *b_id = jstr(d, "branch");
        printf("    %zu. %s %-15s %3lld = %3lld hukou + %3lld routes + %3lld area + %3lld trade\n",
               i + 1, b_id, strcmp(b_id, BR_COLD) == 0 ? "(cold chain)" : "(waste, cargo)",
               jint(d, "score"), jint(p, "hukou_region"), jint(p, "routes"),
               jint(p, "activity_area"), jint(p, "business_scope"));
    }
    const char *best = jstr(json_array_get(json_object_get(sg, "suggestions"), 0), "branch");
    expect(strcmp(best, BR_HAUL) == 0, "the construction-waste branch comes first (%s)", best);
    json_decref(sg);

    CHECK(&g_xu, dc_branch_assign(g_xu.r, g_registry, g_id_jiang, BR_HAUL));
    CHECK(&g_xu, dc_branch_assign(g_xu.r, g_registry, g_id_huang, BR_HAUL));
    CHECK(&g_xu, dc_branch_assign(g_xu.r, g_registry, g_id_yang, BR_COLD));
    CHECK(&g_xu, dc_branch_member_add(g_xu.r, g_br_haul, BR_HAUL, g_id_jiang, "2026-09-21"));
    CHECK(&g_xu, dc_branch_member_add(g_xu.r, g_br_haul, BR_HAUL, g_id_huang, "2025-03-18"));
    CHECK(&g_xu, dc_branch_member_add(g_xu.r, g_br_cold, BR_COLD, g_id_yang, "2025-03-18"));
    dc_buf link = DC_BUF_INIT;
    CHECK(&g_xu, dc_liaison_link(&link, g_xu.r, g_registry, g_id_jiang, g_id_xiao, "party_member"));
    CHECK(&g_xu, dc_liaison_contact(g_xu.r, g_registry, (const char *)link.ptr, "call",
                                    "2026-09-21", "问肖鹏最近跑车情况和入党申请进度"));
    dc_buf_dispose(&link);
    CHECK(&g_xu, dc_secretary_done(g_xu.r, g_registry, BR_COLD "/xu-xin",
                                   "核实瀑布冷链市场货车司机台账", 1));
    say("Xu Xin assigns him there, confirms Huang's and Yang's branches, puts all three on the");
    say("rosters, links Jiang to Xiao Peng (肖鹏), who has applied to join the party and whom");
    say("Jiang looks after, logs Jiang's call to him, and ticks the task off the list.");
    CHECK(&g_xu, dc_branch_coverage(&b, g_xu.r, g_registry));
    json_t *cov = jparse(&b);
    expect(json_is_true(json_object_get(cov, "covered")) &&
               jint(cov, "party_member_drivers") == 3 && jint(cov, "assigned") == 3,
           "coverage (应管尽管): %lld party-member drivers, %lld in a branch, nobody left out",
           jint(cov, "party_member_drivers"), jint(cov, "assigned"));
    json_decref(cov);
    dc_buf_dispose(&b);

    set_time(sep(21, 12, 30));
    printf("\n");
    say("12:30 Back in the car, with signal, the tablet syncs the morning's work:");
    sync_dev(&g_xu);
    sync_dev(&g_office);
}

/* ==== 3. Night: the study item ==== */

static void study_night(void) {
    dc_buf b = DC_BUF_INIT;
    section("3. Monday night - a study item, read offline");
    set_time(sep(21, 21, 30));
    dc_study_options so = DC_STUDY_OPTIONS_INIT;
    so.id = "st-0921";
    so.title = "微党课：夜间行车安全与疲劳驾驶防范";
    so.kind = "micro_lesson";
    so.media = "夜里开车困了，一定进服务区休息。每连续驾驶4小时，停车休息不少于20分钟……";
    CHECK(&g_xu, dc_study_push(NULL, g_xu.r, g_br_cold, &so));
    CHECK(&g_xu, dc_secretary_done(g_xu.r, g_registry, BR_COLD "/xu-xin", "推送本周学习资料", 1));
    say("21:30 Xu Xin pushes a micro party lesson to the cold-chain branch, its text kept in");
    say("the item so a phone can read it with no network.");
    sync_dev(&g_xu);
    set_time(sep(21, 21, 40));
    say("21:40 Yang Fei stops at a service area on the G75 with one bar of signal:");
    sync_dev(&g_yang);

    set_time(sep(21, 23, 10));
    CHECK(&g_yang, dc_study_read(g_yang.r, g_br_cold, "st-0921", g_id_yang, 1));
    CHECK(&g_yang,
          dc_study_discuss(g_yang.r, g_br_cold, "st-0921", g_id_yang,
                           "白天忙着拉货，晚上看看。上个月在遵义就是困了进服务区睡了一觉。"));
    say("23:10 Parked for the night in the mountains, no signal. Yang reads the lesson from");
    say("his phone's replica, marks it done and writes a line under it (云讨论):");
    say("  \"白天忙着拉货，晚上看看。上个月在遵义就是困了进服务区睡了一觉。\"");

    set_time(sep(22, 7, 30));
    say("Tuesday 07:30 Signal again on the way down; the phone syncs on its own:");
    sync_dev(&g_yang);
    set_time(sep(22, 8, 0));
    sync_dev(&g_xu);
    CHECK(&g_xu, dc_study_show(&b, g_xu.r, g_br_cold, "st-0921"));
    json_t *j = jparse(&b);
    const char *st = jstr(json_object_get(j, "members"), g_id_yang);
    json_t *post = json_array_get(json_object_get(j, "discussion"), 0);
    expect(strcmp(st, "done") == 0 && post != NULL,
           "08:00 on Xu Xin's tablet: Yang Fei's state for the lesson is \"%s\", with his post",
           st);
    json_decref(j);
    dc_buf_dispose(&b);

    /* Yang leaves for Shandong: his phone stays offline until Saturday. */
    set_time(sep(22, 22, 15));
    CHECK(&g_yang, dc_study_discuss(g_yang.r, g_br_cold, "st-0921", g_id_yang,
                                    "今天到了济南，冷库排队四个小时，大家注意安排时间。"));
    say("Yang drives on to Shandong. On Tuesday night, with no signal, he writes another post:");
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
    say("14:10 Huang Hongxing has driven for hours. He stops at the Driver's Home of the");
    say("贵州黔城智慧物流园 in Anshun ED, takes a shower and sits in the massage chair. A firm");
    say("there has owed him 4,200 yuan for hauling construction waste (建筑渣土) for two months.");
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
    add_to(&g_huang, g_case_space, &g_xu, DC_ROLE_ADMIN);
    add_to(&g_huang, g_case_space, &g_office, DC_ROLE_READER);
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.driver = g_id_huang;
    o.channel = "station";
    o.category = "运费拖欠";
    o.text = "在安顺经开区运输建筑渣土，运费4200元被拖欠两个月，多次催要未果。";
    o.region = "520471";
    CHECK(&g_huang, dc_case_file(&b, g_huang.r, g_case_space, &o, g_cal));
    json_t *j = jparse(&b);
    snprintf(g_case, sizeof g_case, "%s", jstr(j, "case"));
    json_t *due = json_object_get(j, "due");
    say("14:20 From the Driver's Home (channel \"station\") he files the grievance: 运费拖欠,");
    say("\"%s\"", o.text);
    say("It gets a space of its own (%s), shared with his branch secretary", g_case);
    say("as an admin, who can bring in whoever must help; the province office reads along.");
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

    set_time(sep(23, 14, 35));
    sync_dev(&g_xu);
    step(&g_xu, "transfer", BR_HAUL, "支部接单，书记许鑫跟进", -1);
    say("14:35 Xu Xin answers at once and takes the case into the branch (transfer, on time).");
    set_time(sep(23, 15, 10));
    add_to(&g_xu, g_case_space, &g_desk, DC_ROLE_MEMBER);
    step(&g_xu, "transfer", JOINT_MEETING, "欠款企业在经开区，提请联席会议协调交通、市场监管部门",
         -1);
    say("15:10 The firm that owes him is in Anshun ED, so Xu Xin adds the joint meeting's desk");
    say("to the case and transfers it there: driver -> branch -> joint meeting.");
    sync_dev(&g_xu);
    set_time(sep(23, 15, 20));
    sync_dev(&g_desk);
    set_time(sep(23, 16, 0));
    step(&g_desk, "feedback", NULL, "已联系欠款企业和经开区交通运输局，明早上门协调", -1);
    say("16:00 The desk, which learnt of the case at its sync, tells Huang what happens next.");
    sync_dev(&g_desk);
    set_time(sep(23, 16, 30));
    sync_dev(&g_huang);
    print_case_line(&g_huang, "16:30 On");

    /* Thursday: two handlers, both offline, both act. */
    printf("\n");
    set_time(sep(24, 11, 30));
    step(&g_desk, "resolve", NULL, "经开区交通运输局、市场监管局现场协调，4200元当面结清", -1);
    set_time(sep(24, 11, 40));
    step(&g_xu, "feedback", NULL, "企业承诺今天付款，我在跟进", -1);
    say("Thursday 24 September. 11:30 In the firm's yard (no signal) the desk officer, with");
    say("the transport and market-regulation bureaus, sees the 4,200 yuan paid: resolve.");
    say("11:40 Xu Xin, at the market and offline too, has not heard yet and records a feedback");
    say("step: \"the firm promises to pay today\". Each device thinks its own step is news.");
    print_case_line(&g_desk, "  Before syncing, on");
    print_case_line(&g_xu, "  Before syncing, on");
    set_time(sep(24, 12, 0));
    sync_dev(&g_desk);
    sync_dev(&g_xu);
    sync_dev(&g_desk);
    json_t *a = show_case(&g_desk), *c = show_case(&g_xu);
    size_t n = 0;
    int same = same_dump(&g_desk, &g_xu, g_case_space, &n);
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
    step(&g_xu, "revisit", NULL, "回访：黄红兴满意，“拿回辛辛苦苦挣的钱，真高兴”", 1);
    say("15:00 Xu Xin calls Huang back for the return visit: \"拿回辛辛苦苦挣的钱，真高兴。\"");
    sync_dev(&g_xu);
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
    CHECK(&g_xu, dc_study_push(NULL, g_xu.r, g_br_cold, &so));
    say("Friday 20:00 Xu Xin pushes a news item to the cold-chain branch: the 12328 hotline's");
    say("\"3\" key for drivers' grievances.");
    sync_dev(&g_xu);
    set_time(sep(26, 9, 0));
    g_yang.skew = 3 * HOUR;
    say("Yang Fei's phone has been offline since Tuesday morning. On the way back its battery");
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
    CHECK(&g_yang, dc_study_read(g_yang.r, g_br_cold, "st-0923", g_id_yang, 1));
    CHECK(&g_yang, dc_record_get(&b, g_yang.r, g_br_cold, "study", "st-0923"));
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
    const char *const order[] = {g_directory, g_registry,   g_br_cold,
                                 g_br_haul,   g_case_space, g_personal};
    const char *const label[] = {"directory",
                                 "registry",
                                 "branch 520112-01 (cold chain)",
                                 "branch 520112-02 (construction waste)",
                                 "case: unpaid freight (黄红兴)",
                                 "driver (Huang Hongxing)"};
    static const char *const short_name[] = {"office", "Xu", "Huang", "Yang", "desk"};
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
    snprintf(csv, sizeof csv, "%s/transport-line.csv", g_dir);
    expect(file_has(csv, "黄红兴") == 1 && file_has(csv, PHONE_HUANG) == 1,
           "control: a byte search finds Huang's name and phone in the transport line's CSV");
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
    row("liaison: party-member drivers -> drivers", num(v, jint(li, "drivers")), "27,220");
    row("study items pushed", num(v, jint(j, "study_items")), "5,000+");
    row("Driver's Homes (司机之家)", num(v, jint(j, "stations")), "50");
    row("joint meetings (联席会议)", num(v, jint(j, "joint_meetings")), "108");
    snprintf(v, sizeof v, "%lld / %lld", jint(ca, "collected"), jint(ca, "resolved"));
    row("grievances collected / resolved", v, "3,794 / 3,731");
    row("resolution rate", jpct(ca, "resolution_rate", p1, sizeof p1), "98.34 %");
    row("settled inside the county (小事不出县)", jpct(ca, "inside_county", p1, sizeof p1), "");
    row("transferred within 2 hours", jpct(ot, "transfer", p1, sizeof p1), "");
    row("fed back within 2 working days", jpct(ot, "feedback", p1, sizeof p1), "");
    row("return visits satisfied", jpct(ca, "satisfaction_rate", p1, sizeof p1), "");
    json_t *mh = json_object_get(ca, "median_resolve_hours");
    snprintf(v, sizeof v, "%.2f",
             json_is_number(mh)   ? json_number_value(mh)
             : json_is_string(mh) ? atof(json_string_value(mh))
                                  : -1.0);
    row("median hours to resolve", v, "\"仅用一天时间\" (in one day)");
    expect(jint(j, "drivers") == 5 && jint(j, "party_member_drivers") == 3 &&
               jint(j, "branches") == 2 && jint(j, "secretaries") == 1 &&
               jint(ca, "collected") == 1 && jint(ca, "resolved") == 1,
           "the figures match what happened in this story (as of %s)", jstr(j, "as_of"));
    say("The same dc_stats over `drivercore demo-data province` (257,000 drivers, generated");
    say("through the same API) is what reproduces the right-hand column.");
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
    static const char *const files[] = {
        "relay.db",    "relay.db-wal",       "relay.db-shm",         "relay.log",
        "relay-clock", "transport-line.csv", "organisation-line.csv"};
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
    g_now = sep(21, 8, 30);
    if (relay_start(&g_relay, g_dir, g_now, err, sizeof err) != 0)
        die("cannot start the relay: %s", err);

    printf("drivercore %s demo: Guizhou's truck drivers, their mobile branch, and a grievance\n"
           "settled in a day - five devices, offline most of the time, syncing through a relay\n"
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
