/*
 * demo — the end-to-end story of `./dev demo`, told for a newcomer: three
 * devices of the Wudang district mobile branch (the secretary's tablet and
 * two drivers' phones) share one space, work offline on the same records,
 * and swap bundles on a "USB stick" in different orders, with duplicates,
 * until all three show the same state, byte for byte.
 *
 * It shows each merge rule at work: a register written on two devices at
 * once (last writer wins by hybrid logical clock), a tag removed on one
 * device and re-added on another (add wins), events appended on every
 * device (each kept exactly once), and a record deleted on one device while
 * another edits it.  Clocks are pinned, and set a few seconds apart as real
 * phones are, so every run tells the same story.  Exits 0 only if the three
 * replicas converge.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "drivercore.h"

/* ---- the three devices ---- */

typedef struct device {
    const char *who;   /* "Xu Xin's tablet" */
    const char *short_name;
    dc_replica *r;
    int64_t now;       /* this device's wall clock, in ms, pinned */
    char path[256];
    int touched;       /* records the observer saw in the last commit/merge */
    char touched_list[512];
} device;

static char g_dir[128];
static char g_space[64];
static device g_tab = {"Xu Xin's tablet", "tablet", NULL, 0, "", 0, ""};
static device g_huang = {"Huang Hongxing's phone", "Huang", NULL, 0, "", 0, ""};
static device g_yang = {"Yang Fei's phone", "Yang", NULL, 0, "", 0, ""};
static device *const g_all[3] = {&g_tab, &g_huang, &g_yang};
static int64_t g_edit_tab, g_edit_huang, g_edit_yang; /* when the offline edits were made */

/* 2025-03-14 09:00:00 in Guizhou (UTC+8), in ms since the epoch. */
#define T0 INT64_C(1741914000000)
#define SEC INT64_C(1000)
#define MIN (60 * SEC)

static void fail(const device *d, const char *what, int rc)
{
    fprintf(stderr, "\ndemo: %s failed on %s: %s: %s\n", what, d ? d->who : "-",
            dc_error_name(rc), d && d->r ? dc_replica_errmsg(d->r) : dc_error_last());
    exit(1);
}

#define CHECK(d, call)                                                         \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != 0)                                                          \
            fail((d), #call, rc_);                                             \
    } while (0)

static int64_t device_clock(void *user)
{
    return ((const device *)user)->now;
}

/* Observer: collects the records a commit or a merge touched, to say in
 * plain words what an import changed on a device. */
static int observe(void *user, const char *space, const char *type, const char *id,
                   const char *origin)
{
    device *d = user;
    size_t len = strlen(d->touched_list);
    (void)space;
    (void)origin;
    if (type[0] == '@')
        return 0; /* the space's own bookkeeping, not a record of the story */
    d->touched++;
    if (len < sizeof d->touched_list - 80)
        snprintf(d->touched_list + len, sizeof d->touched_list - len, "%s%s/%s",
                 len ? ", " : "", type, id);
    return 0;
}

static void open_device(device *d, int64_t now)
{
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = d->who;
    o.clock = device_clock;
    o.clock_user = d;
    d->now = now;
    snprintf(d->path, sizeof d->path, "%s/%s.db", g_dir, d->short_name);
    int rc = dc_replica_open(&d->r, d->path, &o);
    if (rc != 0)
        fail(d, "dc_replica_open", rc);
    CHECK(d, dc_replica_observe(d->r, observe, d));
}

/* ---- small output helpers ---- */

static void section(const char *title)
{
    printf("\n== %s ==\n", title);
}

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static const char *clock_str(int64_t ms)
{
    static char buf[4][32];
    static int k;
    int64_t s = (ms / 1000 + 8 * 3600) % 86400; /* Guizhou local time */
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60),
             (int)(s % 60));
    return buf[k];
}

/* Copies the JSON value of top-level `key` in a flat-ish object (a string,
 * number, literal or a bracketed list) into out; "(none)" if absent.  Just
 * enough JSON reading for a demo's one-line summaries. */
static const char *json_field(const char *json, const char *key, char *out, size_t n)
{
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p) {
        snprintf(out, n, "(none)");
        return out;
    }
    p += strlen(pat);
    const char *e = p;
    int depth = 0, in_str = 0;
    for (; *e; e++) {
        if (in_str) {
            if (*e == '\\' && e[1])
                e++;
            else if (*e == '"')
                in_str = 0;
            continue;
        }
        if (*e == '"')
            in_str = 1;
        else if (*e == '[' || *e == '{')
            depth++;
        else if (*e == ']' || *e == '}') {
            if (depth == 0)
                break;
            depth--;
        } else if (*e == ',' && depth == 0)
            break;
    }
    size_t len = (size_t)(e - p);
    if (len >= n)
        len = n - 1;
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

/* Counts the events of a record, i.e. the objects inside its "@events". */
static int count_events(const char *json)
{
    const char *p = json ? strstr(json, "\"@events\":[") : NULL;
    int n = 0, depth = 0, in_str = 0;
    if (!p)
        return 0;
    for (p += strlen("\"@events\":["); *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
            continue;
        }
        if (*p == '"')
            in_str = 1;
        else if (*p == '{' && depth++ == 0)
            n++;
        else if (*p == '}')
            depth--;
        else if (*p == ']' && depth == 0)
            break;
    }
    return n;
}

/* Drops the quotes of JSON strings, for one-line summaries. */
static char *unquote(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++)
        if (*r != '"')
            *w++ = *r;
    *w = '\0';
    return s;
}

/* One line: what device d shows for the records the story is about. */
static void show_view(device *d)
{
    dc_buf b = DC_BUF_INIT;
    char phone[64], scope[160], status[64];
    int rc = dc_record_get(&b, d->r, g_space, "driver", "d-huang");
    printf("    %-7s| ", d->short_name);
    if (rc == 0) {
        json_field((const char *)b.ptr, "phone", phone, sizeof phone);
        json_field((const char *)b.ptr, "scope", scope, sizeof scope);
        json_field((const char *)b.ptr, "status", status, sizeof status);
        printf("Huang: %s, %s, tags %s", unquote(phone), unquote(status), unquote(scope));
    } else {
        printf("Huang's record: %s", dc_error_name(rc));
    }
    rc = dc_record_get(&b, d->r, g_space, "driver", "d-0417");
    printf(" | d-0417 %s", rc == 0 ? "present" : "gone");
    int ev = 0;
    if (dc_record_get(&b, d->r, g_space, "home", "dh-wudang") == 0)
        ev += count_events((const char *)b.ptr);
    if (dc_record_get(&b, d->r, g_space, "study", "s-0312") == 0)
        ev += count_events((const char *)b.ptr);
    if (dc_record_get(&b, d->r, g_space, "driver", "d-yang") == 0)
        ev += count_events((const char *)b.ptr);
    printf(" | %d events\n", ev);
    dc_buf_dispose(&b);
}

static void show_all(void)
{
    for (int i = 0; i < 3; i++)
        show_view(g_all[i]);
}

/* ---- the USB stick ---- */

typedef struct stick {
    char label[64];
    dc_buf data;
} stick;

static void export_to(stick *s, device *from, const char *label)
{
    snprintf(s->label, sizeof s->label, "%s", label);
    CHECK(from, dc_bundle_export(&s->data, from->r, NULL));
    say("%s writes a bundle to the USB stick: %s (%zu bytes).", from->who, label, s->data.size);
}

static long report_num(const dc_buf *rep, const char *key)
{
    char v[32];
    json_field((const char *)rep->ptr, key, v, sizeof v);
    return strtol(v, NULL, 10);
}

static void import_from(device *to, const stick *s)
{
    dc_buf rep = DC_BUF_INIT;
    to->touched = 0;
    to->touched_list[0] = '\0';
    CHECK(to, dc_bundle_import(to->r, s->data.ptr, s->data.size, &rep));
    long n = report_num(&rep, "envelopes"), fresh = report_num(&rep, "new"),
         dup = report_num(&rep, "duplicate"), held = report_num(&rep, "held");
    say("%s imports %s: %ld changes, %ld new, %ld already known, %ld held aside.",
        to->who, s->label, n, fresh, dup, held);
    if (to->touched)
        say("  updated on %s: %s", to->short_name, to->touched_list);
    else if (held > 0)
        say("  nothing applied on %s yet: the held change waits for the clock.", to->short_name);
    else if (fresh == 0)
        say("  nothing new for %s: importing twice changes nothing.", to->short_name);
    dc_buf_dispose(&rep);
}

/* ---- pretty printing of the final dump ---- */

/* Device and space ids are 64 and 32 hex digits; in the printout they are
 * replaced by names a reader can follow. */
static const char *name_for(const char *s, size_t n)
{
    if (n == strlen(g_space) && memcmp(s, g_space, n) == 0)
        return "<Wudang district mobile branch>";
    for (int i = 0; i < 3; i++) {
        const char *id = dc_replica_device_id(g_all[i]->r);
        if (n == strlen(id) && memcmp(s, id, n) == 0)
            return g_all[i]->who;
    }
    return NULL;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* Prints one JSON string token at p and returns the end of it. */
static const char *print_string(const char *p)
{
    const char *e = p + 1;
    while (*e && *e != '"') {
        if (*e == '\\' && e[1])
            e++;
        e++;
    }
    const char *nm = name_for(p + 1, (size_t)(e - p - 1));
    if (nm)
        printf("\"%s\"", nm);
    else
        printf("%.*s", (int)(e - p + 1), p);
    return *e ? e + 1 : e;
}

/* True if the container at p holds only scalars (printed on one line). */
static int flat(const char *p)
{
    int in_str = 0;
    for (p++; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            return 0;
        } else if (*p == '}' || *p == ']') {
            return 1;
        }
    }
    return 1;
}

static const char *pretty(const char *p, int indent);

static const char *pretty_container(const char *p, int indent)
{
    char open = *p, close = open == '{' ? '}' : ']';
    int one_line = flat(p);
    int first = 1;
    putchar(open);
    p = skip_ws(p + 1);
    while (*p && *p != close) {
        if (!first)
            putchar(',');
        if (one_line)
            printf(first ? "" : " ");
        else
            printf("\n%*s", indent + 2, "");
        first = 0;
        int is_time = 0;
        if (open == '{') {
            p = skip_ws(p);
            is_time = strncmp(p, "\"@time\"", 7) == 0;
            p = print_string(p);
            p = skip_ws(p);
            if (*p == ':')
                p++;
            printf(": ");
        }
        if (is_time) {
            char *e;
            p = skip_ws(p);
            printf("\"%s\"", clock_str(strtoll(p, &e, 10)));
            p = e;
        } else {
            p = pretty(skip_ws(p), indent + 2);
        }
        p = skip_ws(p);
        if (*p == ',')
            p = skip_ws(p + 1);
    }
    if (!one_line && !first)
        printf("\n%*s", indent, "");
    putchar(close);
    return *p ? p + 1 : p;
}

static const char *pretty(const char *p, int indent)
{
    p = skip_ws(p);
    if (*p == '{' || *p == '[')
        return pretty_container(p, indent);
    if (*p == '"')
        return print_string(p);
    const char *e = p;
    while (*e && *e != ',' && *e != '}' && *e != ']' && *e != ' ' && *e != '\n')
        e++;
    printf("%.*s", (int)(e - p), p);
    return e;
}

/* ---- the story ---- */

static void txn_begin(device *d, dc_txn **t)
{
    d->touched = 0;
    d->touched_list[0] = '\0';
    CHECK(d, dc_txn_begin(t, d->r, g_space));
}

static void setup(void)
{
    dc_buf b = DC_BUF_INIT, card = DC_BUF_INIT;
    dc_txn *t;
    section("1. Setting up the branch (all devices together, 09:00)");
    open_device(&g_tab, T0);
    open_device(&g_huang, T0);
    open_device(&g_yang, T0);
    CHECK(&g_tab, dc_space_create(&b, g_tab.r, "Wudang district mobile branch"));
    snprintf(g_space, sizeof g_space, "%s", (const char *)b.ptr);
    say("Xu Xin, secretary of the Wudang district mobile branch, creates the branch's space");
    say("on her tablet (space id %.8s...). She is its admin; its key never leaves the devices.",
        g_space);
    CHECK(&g_huang, dc_replica_card(&card, g_huang.r));
    CHECK(&g_tab, dc_space_add(g_tab.r, g_space, (const char *)card.ptr, DC_ROLE_MEMBER));
    CHECK(&g_yang, dc_replica_card(&card, g_yang.r));
    CHECK(&g_tab, dc_space_add(g_tab.r, g_space, (const char *)card.ptr, DC_ROLE_MEMBER));
    say("She adds the phones of drivers Huang Hongxing and Yang Fei as members: each phone");
    say("shows her its signed device card, and the space key is sealed to that phone.");

    txn_begin(&g_tab, &t);
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-huang", "name", DC_STR, 0, "Huang Hongxing"));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-huang", "phone", DC_STR, 0, "139-8500-1111"));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-huang", "status", DC_STR, 0, "unverified"));
    CHECK(&g_tab, dc_txn_add(t, "driver", "d-huang", "scope", DC_STR, 0, "general cargo"));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-yang", "name", DC_STR, 0, "Yang Fei"));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-yang", "status", DC_STR, 0, "unverified"));
    CHECK(&g_tab, dc_txn_add(t, "driver", "d-yang", "scope", DC_STR, 0, "construction waste"));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-0417", "name", DC_STR, 0, "Huang H."));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-0417", "source", DC_STR, 0, "transport line"));
    CHECK(&g_tab, dc_txn_set(t, "home", "dh-wudang", "name", DC_STR, 0,
                             "Driver's Home, Wudang logistics park"));
    CHECK(&g_tab, dc_txn_add(t, "home", "dh-wudang", "facilities", DC_STR, 0, "showers"));
    CHECK(&g_tab, dc_txn_add(t, "home", "dh-wudang", "facilities", DC_STR, 0, "kitchen"));
    CHECK(&g_tab, dc_txn_set(t, "study", "s-0312", "title", DC_STR, 0,
                             "Micro party lesson: safe driving in the mountains"));
    CHECK(&g_tab, dc_txn_commit(t, NULL));
    say("She enters the registry as it stands: two drivers, a stale entry d-0417 (\"Huang H.\",");
    say("from the transport line's list, a duplicate of Huang), a Driver's Home, a study item.");

    stick s = {"", DC_BUF_INIT};
    export_to(&s, &g_tab, "\"branch-setup\"");
    import_from(&g_huang, &s);
    import_from(&g_yang, &s);
    say("The first bundle carries the membership too, so each phone learns it is a member");
    say("and opens the space key sealed to it. What each device shows now (Huang's phone,");
    say("status and tags; whether the stale entry d-0417 is there; events logged so far):");
    show_all();
    dc_buf_dispose(&s.data);
    dc_buf_dispose(&b);
    dc_buf_dispose(&card);
}

static void offline_edits(void)
{
    dc_txn *t;
    section("2. An hour later, offline: everyone edits the same records");
    /* Real phones disagree by seconds: Huang's runs 5 s fast, Yang's 3 s slow. */
    g_tab.now = T0 + 60 * MIN;
    g_huang.now = T0 + 60 * MIN + 5 * SEC;
    g_yang.now = T0 + 60 * MIN - 3 * SEC;
    g_edit_tab = g_tab.now;
    g_edit_huang = g_huang.now;
    g_edit_yang = g_yang.now;
    say("No signal anywhere. Clocks read: tablet %s, Huang's phone %s (5 s fast),",
        clock_str(g_tab.now), clock_str(g_huang.now));
    say("Yang's phone %s (3 s slow). All three act within the same second.",
        clock_str(g_yang.now));

    txn_begin(&g_tab, &t);
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-huang", "status", DC_STR, 0, "verified"));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-huang", "verified_by", DC_STR, 0, "Xu Xin"));
    CHECK(&g_tab, dc_txn_set(t, "driver", "d-huang", "phone", DC_STR, 0, "139-8500-2222"));
    CHECK(&g_tab, dc_txn_remove(t, "driver", "d-huang", "scope", DC_STR, 0, "general cargo"));
    CHECK(&g_tab, dc_txn_add(t, "driver", "d-huang", "scope", DC_STR, 0, "cold chain"));
    CHECK(&g_tab, dc_txn_delete(t, "driver", "d-0417"));
    CHECK(&g_tab, dc_txn_event(t, "driver", "d-yang"));
    CHECK(&g_tab, dc_txn_event_field(t, "contact", DC_STR, 0, "visit"));
    CHECK(&g_tab, dc_txn_event_field(t, "note", DC_STR, 0, "met at the cold-chain market"));
    CHECK(&g_tab, dc_txn_commit(t, NULL));
    say("Tablet (Xu Xin, %s): verifies Huang door to door; copies his phone number",
        clock_str(g_tab.now));
    say("  139-8500-2222 from the transport line's list; replaces tag 'general cargo' by");
    say("  'cold chain'; deletes the stale duplicate d-0417; logs a visit to Yang.");

    txn_begin(&g_huang, &t);
    CHECK(&g_huang, dc_txn_set(t, "driver", "d-huang", "phone", DC_STR, 0, "139-8500-3333"));
    CHECK(&g_huang, dc_txn_add(t, "driver", "d-huang", "scope", DC_STR, 0, "general cargo"));
    CHECK(&g_huang, dc_txn_event(t, "home", "dh-wudang"));
    CHECK(&g_huang, dc_txn_event_field(t, "check_in", DC_STR, 0, "d-huang"));
    CHECK(&g_huang, dc_txn_event_field(t, "used", DC_STR, 0, "showers"));
    CHECK(&g_huang, dc_txn_commit(t, NULL));
    say("Huang's phone (%s): Huang corrects his own phone number to 139-8500-3333,",
        clock_str(g_huang.now));
    say("  tags himself 'general cargo' again (he still hauls it), and checks in at the");
    say("  Driver's Home.");

    txn_begin(&g_yang, &t);
    CHECK(&g_yang, dc_txn_set(t, "driver", "d-0417", "note", DC_STR, 0,
                              "this looks like Huang's old entry"));
    CHECK(&g_yang, dc_txn_set(t, "driver", "d-yang", "route", DC_STR, 0, "Guiyang-Zunyi"));
    CHECK(&g_yang, dc_txn_event(t, "study", "s-0312"));
    CHECK(&g_yang, dc_txn_event_field(t, "read_by", DC_STR, 0, "d-yang"));
    CHECK(&g_yang, dc_txn_event_field(t, "completed", DC_BOOL, 1, NULL));
    CHECK(&g_yang, dc_txn_commit(t, NULL));
    say("Yang's phone (%s): Yang adds a note to d-0417 (not knowing it was just deleted),",
        clock_str(g_yang.now));
    say("  sets his route, and finishes the study item (a read receipt).");
    say("Each device sees only its own edits:");
    show_all();
}

static void exchange(void)
{
    stick s1 = {"", DC_BUF_INIT}, s2 = {"", DC_BUF_INIT}, s3 = {"", DC_BUF_INIT};
    section("3. Meeting up: bundles on a USB stick, in no particular order");
    g_tab.now += 30 * MIN;
    g_huang.now += 30 * MIN;
    g_yang.now += 30 * MIN;
    say("Huang and Yang meet at the Driver's Home first.");
    export_to(&s1, &g_huang, "\"huang-1\"");
    import_from(&g_yang, &s1);
    show_all();

    say("");
    say("Yang drives on to the branch office and hands Xu Xin a bundle of all he holds,");
    say("his changes and the ones he got from Huang.");
    export_to(&s2, &g_yang, "\"yang-1\"");
    import_from(&g_tab, &s2);
    show_all();

    say("");
    say("Xu Xin copies everything her tablet holds back to both phones; Huang's stick is");
    say("plugged in twice by mistake, and Yang also re-imports Huang's old bundle.");
    export_to(&s3, &g_tab, "\"tablet-all\"");
    import_from(&g_huang, &s3);
    import_from(&g_huang, &s3);
    import_from(&g_yang, &s1);
    import_from(&g_yang, &s3);
    show_all();
    dc_buf_dispose(&s1.data);
    dc_buf_dispose(&s2.data);
    dc_buf_dispose(&s3.data);
}

static void explain(void)
{
    dc_buf b = DC_BUF_INIT;
    char v[160];
    section("4. How the conflicts were settled (the same on every device)");
    if (dc_record_get(&b, g_tab.r, g_space, "driver", "d-huang") != 0)
        fail(&g_tab, "reading Huang's record", DC_ENOTFOUND);
    json_field((const char *)b.ptr, "phone", v, sizeof v);
    say("Phone number (a register: last writer wins): both wrote it at once. The tablet");
    say("stamped its write %s, Huang's phone %s. The later hybrid-logical-clock stamp",
        clock_str(g_edit_tab), clock_str(g_edit_huang));
    say("wins on every device, whatever order the bundles came in; an exact tie would be");
    say("broken by device id. Result: %s %s", v,
        strstr(v, "3333") ? "(Huang's own correction won)"
                          : strstr(v, "2222") ? "(the tablet's copy won)" : "");
    say("(A phone whose clock runs hours ahead would win every conflict for ever, so a change");
    say("stamped more than an hour ahead of the receiver is held aside until time catches up.)");
    json_field((const char *)b.ptr, "scope", v, sizeof v);
    say("");
    say("Tags (a set: add wins): Xu Xin removed 'general cargo' - the add she had seen -");
    say("while Huang added it again. His add was not one she removed, so it stays:");
    say("  %s", v);
    say("");
    int rc = dc_record_get(&b, g_tab.r, g_space, "driver", "d-0417");
    say("Delete vs edit: Xu Xin deleted d-0417 at %s; Yang's note on it is stamped %s.",
        clock_str(g_edit_tab), clock_str(g_edit_yang));
    if (rc == DC_ENOTFOUND) {
        say("A delete hides everything written at or before it, and Yang's note is older,");
        say("so the record stays deleted everywhere.");
    } else {
        say("The record is still visible: %s", (const char *)b.ptr);
    }
    say("");
    say("Events (append-only): the check-in, the read receipt and the visit log are kept");
    say("exactly once each, although some bundles were imported twice.");
    dc_buf_dispose(&b);
}

static void wrong_clock(void)
{
    dc_txn *t;
    dc_buf b = DC_BUF_INIT;
    char v[96];
    uint64_t applied = 0;
    stick s = {"", DC_BUF_INIT};
    section("5. A phone with a wrong clock");
    /* Yang's phone jumps three hours ahead (a bad manual setting); the
     * others are right.  His change must neither win by cheating nor be lost. */
    g_yang.now = g_tab.now + 3 * 60 * MIN;
    say("Yang's phone clock is set wrong: it reads %s while the real time is %s.",
        clock_str(g_yang.now), clock_str(g_tab.now));
    txn_begin(&g_yang, &t);
    CHECK(&g_yang, dc_txn_set(t, "driver", "d-yang", "route", DC_STR, 0, "Guiyang-Kaili"));
    CHECK(&g_yang, dc_txn_commit(t, NULL));
    say("He changes his route to Guiyang-Kaili; the change is stamped %s.",
        clock_str(g_yang.now));
    export_to(&s, &g_yang, "\"yang-2\"");
    import_from(&g_tab, &s);
    import_from(&g_huang, &s);
    CHECK(&g_tab, dc_record_get(&b, g_tab.r, g_space, "driver", "d-yang"));
    say("The change is more than an hour ahead of the tablet's clock, so it is kept but held");
    say("aside, not applied: the tablet still shows Yang's route as %s.",
        json_field((const char *)b.ptr, "route", v, sizeof v));

    g_tab.now += 3 * 60 * MIN + MIN;
    g_huang.now += 3 * 60 * MIN + MIN;
    g_yang.now += MIN;
    say("");
    say("Three hours later (%s) the real clocks have caught up with the stamp.",
        clock_str(g_tab.now));
    for (int i = 0; i < 2; i++) {
        device *d = g_all[i];
        d->touched = 0;
        d->touched_list[0] = '\0';
        CHECK(d, dc_replica_release_held(&applied, d->r));
        say("%s releases held changes: %llu applied%s%s", d->who, (unsigned long long)applied,
            d->touched ? " - records updated: " : "", d->touched_list);
    }
    CHECK(&g_tab, dc_record_get(&b, g_tab.r, g_space, "driver", "d-yang"));
    say("Now the tablet shows Yang's route as %s.",
        json_field((const char *)b.ptr, "route", v, sizeof v));
    show_all();
    dc_buf_dispose(&b);
    dc_buf_dispose(&s.data);
}

static int converge(void)
{
    dc_buf d[3] = {DC_BUF_INIT, DC_BUF_INIT, DC_BUF_INIT};
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    section("6. Do all three devices agree?");
    for (int i = 0; i < 3; i++) {
        CHECK(g_all[i], dc_replica_dump(&d[i], g_all[i]->r, NULL));
        crypto_hash_sha256(h, d[i].ptr, d[i].size);
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
        say("%-24s dump: %5zu bytes, SHA-256 %.16s...", g_all[i]->who, d[i].size, hex);
    }
    int same = d[0].size == d[1].size && d[0].size == d[2].size &&
               memcmp(d[0].ptr, d[1].ptr, d[0].size) == 0 &&
               memcmp(d[0].ptr, d[2].ptr, d[0].size) == 0;
    if (same) {
        say("All three dumps are byte-identical. The common state (ids shown as names,");
        say("times as the local clock):");
        printf("\n  ");
        pretty((const char *)d[0].ptr, 2);
        printf("\n\n  Converged: %zu bytes, SHA-256 %s\n", d[0].size, hex);
    } else {
        say("The dumps DIFFER - the replicas did not converge:");
        for (int i = 0; i < 3; i++)
            printf("\n  %s:\n  %s\n", g_all[i]->who, (const char *)d[i].ptr);
    }
    for (int i = 0; i < 3; i++)
        dc_buf_dispose(&d[i]);
    return same;
}

static void cleanup(void)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char p[300];
    for (int i = 0; i < 3; i++) {
        dc_replica_close(g_all[i]->r);
        g_all[i]->r = NULL;
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof p, "%s%s", g_all[i]->path, sfx[j]);
            unlink(p);
        }
    }
    rmdir(g_dir);
}

int main(void)
{
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
    printf("drivercore %s demo: three devices of one mobile branch, offline, syncing by "
           "USB stick.\nReplicas live in %s (removed at the end).\n",
           dc_version(), g_dir);
    setup();
    offline_edits();
    exchange();
    explain();
    wrong_clock();
    int ok = converge();
    cleanup();
    return ok ? 0 : 1;
}
