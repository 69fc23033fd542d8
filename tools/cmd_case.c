/*
 * `drivercore case ...` and `drivercore calendar ...`: grievances under the
 * 12328 rule and the holiday calendar their deadlines are counted in
 * (docs/domain.md, "Grievance rules").  An office user files a case taken
 * on the hotline, records each step, and reads the case with its status
 * and deadlines; `calendar` publishes the year's schedule into the public
 * directory and lets a person check a deadline by hand.  The commands and
 * their JSON are the stable interface of issue 4.
 *
 * Deadlines need a calendar, found in this order: --calendar FILE, the
 * DRIVERCORE_CALENDAR environment variable, the `holiday` records of any
 * space the replica holds, the installed file, the source tree's file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "drivercore.h"
#include "domain_tool.h"
#include "tool.h"

#ifndef DRIVERCORE_CALENDAR_INSTALLED
#define DRIVERCORE_CALENDAR_INSTALLED ""
#endif
#ifndef DRIVERCORE_CALENDAR_SOURCE
#define DRIVERCORE_CALENDAR_SOURCE ""
#endif

static const char case_usage[] =
    "  case file REPLICA --space S --driver ID --channel 12328|12345|group|station|app\n"
    "            --category CATEGORY --text TEXT [--emergency] [--region CODE]\n"
    "            [--amount YUAN] [--route] [--id-number NUMBER --registry S] [--calendar FILE]\n"
    "  case step REPLICA CASE transfer|feedback|reply|resolve|revisit|reopen|close\n"
    "            [--to ORG] [--note TEXT] [--satisfied yes|no] [--calendar FILE]\n"
    "  case show REPLICA CASE [--summary] [--calendar FILE]\n"
    "  case list REPLICA [--space S] [--status S,...] [--overdue] [--due-before T]\n"
    "            [--level L,...] [--calendar FILE]\n"
    "  case route REPLICA --category CATEGORY [--amount YUAN] [--emergency] [--region CODE]\n"
    "            [--driver ID]\n"
    "  case amount REPLICA CASE YUAN [--calendar FILE]\n";
static const char calendar_usage[] =
    "  calendar publish REPLICA --space S [FILE] [--calendar FILE]\n"
    "  calendar show [REPLICA] [--calendar FILE]\n"
    "  calendar due --from RFC3339|MS --days N [--calendar FILE]\n";

static int usage_case(const char *msg) {
    usage_error("%s", msg);
    fprintf(stderr, "usage:\n%s", case_usage);
    return EXIT_USAGE;
}

static int usage_calendar(const char *msg) {
    usage_error("%s", msg);
    fprintf(stderr, "usage:\n%s", calendar_usage);
    return EXIT_USAGE;
}

/* ---- finding the calendar ---- */

/* The calendar of the device's directory space (`space accept
 * --directory`), and only of it when one is set (a stranger's space full of
 * holidays must not move a deadline); else of the first accepted space (by
 * id) that has holiday records.  rc EXIT_OK with *out NULL when none has. */
static int calendar_from_spaces(dc_replica *r, dc_calendar **out, char *src, size_t nsrc) {
    dc_buf b = DC_BUF_INIT;
    json_t *list = NULL;
    *out = NULL;
    int rc = dc_space_directory(&b, r);
    if (rc == 0) {
        char dir[33];
        snprintf(dir, sizeof dir, "%s", (const char *)b.ptr);
        dc_buf_dispose(&b);
        rc = dc_calendar_from_space(out, r, dir);
        if (rc != 0 && rc != DC_ENOTFOUND)
            return fail_r(r, rc, "calendar");
        if (rc == 0)
            snprintf(src, nsrc, "space %s", dir);
        return EXIT_OK;
    }
    if (rc != DC_ENOTFOUND) {
        dc_buf_dispose(&b);
        return fail_r(r, rc, "calendar: the directory space");
    }
    rc = dc_space_list(&b, r);
    if (rc != 0) {
        dc_buf_dispose(&b);
        return fail_r(r, rc, "calendar: listing spaces");
    }
    list = json_loadb((const char *)b.ptr, b.size, 0, NULL);
    dc_buf_dispose(&b);
    if (!json_is_array(list)) {
        json_decref(list);
        return fail("calendar: the space list is not JSON");
    }
    int ret = EXIT_OK;
    for (size_t i = 0; i < json_array_size(list) && !*out; i++) {
        json_t *sp = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(sp, "space"));
        if (!id || !json_is_true(json_object_get(sp, "has_key")))
            continue;
        rc = dc_calendar_from_space(out, r, id);
        if (rc == DC_ENOTFOUND)
            continue;
        if (rc != 0) {
            ret = fail_r(r, rc, "calendar");
            break;
        }
        snprintf(src, nsrc, "space %s", id);
    }
    json_decref(list);
    return ret;
}

/* Loads the calendar by the documented order; `r` may be NULL (no spaces
 * to look in), `from_spaces` false to skip them (publish). */
static int find_calendar(dc_calendar **out, dc_replica *r, const char *opt, bool from_spaces,
                         char *src, size_t nsrc) {
    const char *env = getenv("DRIVERCORE_CALENDAR");
    const char *path = opt ? opt : (env && *env ? env : NULL);
    *out = NULL;
    if (path) {
        if (dc_calendar_load_file(out, path) != 0)
            return fail("%s%s", dc_error_last(),
                        opt ? "" : " (from the environment variable DRIVERCORE_CALENDAR)");
        snprintf(src, nsrc, "%s", path);
        return EXIT_OK;
    }
    if (r && from_spaces) {
        int rc = calendar_from_spaces(r, out, src, nsrc);
        if (rc != EXIT_OK || *out)
            return rc;
    }
    const char *files[] = {DRIVERCORE_CALENDAR_INSTALLED, DRIVERCORE_CALENDAR_SOURCE};
    for (size_t i = 0; i < 2; i++) {
        if (!*files[i] || !path_exists(files[i]))
            continue;
        if (dc_calendar_load_file(out, files[i]) != 0)
            return fail("%s", dc_error_last());
        snprintf(src, nsrc, "%s", files[i]);
        return EXIT_OK;
    }
    return fail("no holiday calendar: pass --calendar FILE, set DRIVERCORE_CALENDAR, or "
                "publish one into a space with `drivercore calendar publish`");
}

/* ---- case ---- */

/* A case's "warnings" (deadlines counted past the calendar's years) also go
 * to stderr, so a person sees them; stdout keeps the JSON. */
static void warn_case(const dc_buf *b) {
    json_t *j = json_loadb((const char *)b->ptr, b->size, 0, NULL);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(j, "warnings"), i, w) {
        fprintf(stderr, "drivercore: warning: %s\n", json_string_value(w));
    }
    json_decref(j);
}

static int print_result(dc_replica *r, int rc, dc_buf *b, const char *what) {
    if (rc != 0)
        return fail_r(r, rc, what);
    print_buf(b);
    warn_case(b);
    return EXIT_OK;
}

/* Whole yuan, 0 or more. */
static int parse_yuan(int64_t *out, const char *s) {
    char *end = NULL;
    errno = 0;
    long long v = s && *s ? strtoll(s, &end, 10) : -1;
    if (!s || !*s || errno || *end || v < 0 || v > 1000000000000LL)
        return usage_case("case: the amount must be whole yuan, 0 or more");
    *out = (int64_t)v;
    return EXIT_OK;
}

/* A comma-separated list into v[] (pointers into `text`, a copy the caller
 * frees); at most `cap` items. */
static int split_list(char *text, const char **v, size_t cap, size_t *n) {
    *n = 0;
    for (char *p = text, *next; p && *p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = '\0';
        if (!*p)
            continue;
        if (*n == cap)
            return -1;
        v[(*n)++] = p;
    }
    return 0;
}

static int case_file(int argc, char **argv) {
    static const char *const opts[] = {"space",      "driver", "channel",   "category", "text",
                                       "emergency!", "region", "id-number", "registry", "calendar",
                                       "amount",     "route!", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "case file");
    if (rc)
        return rc;
    if (a.npos != 1)
        return usage_case("case file: expected exactly one REPLICA");
    const char *space = tool_opt(&a, "space"), *driver = tool_opt(&a, "driver");
    const char *channel = tool_opt(&a, "channel"), *category = tool_opt(&a, "category");
    const char *text = tool_opt(&a, "text"), *idnum = tool_opt(&a, "id-number");
    const char *registry = tool_opt(&a, "registry");
    if (!space || !channel || !category || !text || (!driver && !idnum))
        return usage_case("case file: --space, --driver, --channel, --category and --text are "
                          "required");
    static const char *const channels[] = {"12328", "12345", "group", "station", "app"};
    bool ok = false;
    for (size_t i = 0; i < 5; i++)
        ok |= strcmp(channel, channels[i]) == 0;
    if (!ok)
        return usage_case("case file: --channel must be 12328, 12345, group, station or app");
    if (!*category || !*text || (driver && !*driver))
        return usage_case("case file: --driver, --category and --text must not be empty");
    if (idnum && !registry)
        return usage_case("case file: --id-number needs --registry S (the registry space "
                          "whose key hashes it)");
    int64_t amount = 0;
    if (tool_opt(&a, "amount") && (rc = parse_yuan(&amount, tool_opt(&a, "amount"))))
        return rc;
    if (tool_opt(&a, "route") && !tool_opt(&a, "region"))
        return usage_case("case file: --route needs --region CODE (the county whose "
                          "organisations take the case)");

    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    char hex[33], reg[33], src[512];
    dc_calendar *cal = NULL;
    if ((rc = domain_space(r, space, hex)) == 0 &&
        (!registry || (rc = domain_space(r, registry, reg)) == 0))
        rc = find_calendar(&cal, r, tool_opt(&a, "calendar"), true, src, sizeof src);
    if (rc == 0) {
        dc_case_options o = DC_CASE_OPTIONS_INIT;
        dc_buf b = DC_BUF_INIT;
        o.driver = driver;
        o.caller_id_number = idnum;
        o.registry = registry ? reg : NULL;
        o.channel = channel;
        o.category = category;
        o.text = text;
        o.emergency = tool_opt(&a, "emergency") != NULL;
        o.region = tool_opt(&a, "region");
        o.amount = amount;
        o.route = tool_opt(&a, "route") != NULL;
        rc = print_result(r, dc_case_file(&b, r, hex, &o, cal), &b, "case file");
        dc_buf_dispose(&b);
    }
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}

static int case_step(int argc, char **argv) {
    static const char *const opts[] = {"to", "note", "satisfied", "calendar", NULL};
    static const char *const actions[] = {"transfer", "feedback", "reply", "resolve",
                                          "revisit",  "reopen",   "close"};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "case step");
    if (rc)
        return rc;
    if (a.npos != 3)
        return usage_case("case step: expected REPLICA CASE ACTION");
    const char *action = a.pos[2], *to = tool_opt(&a, "to"), *sat = tool_opt(&a, "satisfied");
    bool ok = false;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        ok |= strcmp(action, actions[i]) == 0;
    if (!ok) {
        usage_error("case step: unknown action '%s'", action);
        fprintf(stderr, "ACTION is one of: transfer, feedback, reply, resolve, revisit, "
                        "reopen, close\n");
        return EXIT_USAGE;
    }
    bool transfer = strcmp(action, "transfer") == 0, revisit = strcmp(action, "revisit") == 0;
    if (transfer && (!to || !*to))
        return usage_case("case step: a transfer needs --to ORG (the organisation it goes to)");
    if (!transfer && to)
        return usage_case("case step: --to goes only with transfer");
    int satisfied = -1;
    if (sat) {
        if (!revisit)
            return usage_case("case step: --satisfied goes only with revisit");
        if (strcmp(sat, "yes") == 0)
            satisfied = 1;
        else if (strcmp(sat, "no") == 0)
            satisfied = 0;
        else
            return usage_case("case step: --satisfied must be yes or no");
    } else if (revisit) {
        return usage_case("case step: a revisit needs --satisfied yes|no (the driver's answer)");
    }

    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    char src[512];
    dc_calendar *cal = NULL;
    if ((rc = find_calendar(&cal, r, tool_opt(&a, "calendar"), true, src, sizeof src)) == 0) {
        dc_buf b = DC_BUF_INIT;
        rc = print_result(
            r, dc_case_step(&b, r, a.pos[1], action, to, tool_opt(&a, "note"), satisfied, cal), &b,
            "case step");
        dc_buf_dispose(&b);
    }
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}

static int case_show(int argc, char **argv) {
    static const char *const opts[] = {"calendar", "summary!", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "case show");
    if (rc)
        return rc;
    if (a.npos != 2)
        return usage_case("case show: expected REPLICA CASE");
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    char src[512];
    dc_calendar *cal = NULL;
    if ((rc = find_calendar(&cal, r, tool_opt(&a, "calendar"), true, src, sizeof src)) == 0) {
        dc_buf b = DC_BUF_INIT;
        rc = tool_opt(&a, "summary") ? dc_case_summary(&b, r, NULL, a.pos[1], cal)
                                     : dc_case_show(&b, r, a.pos[1], cal);
        rc = print_result(r, rc, &b, "case show");
        dc_buf_dispose(&b);
    }
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}

static int case_list(int argc, char **argv) {
    static const char *const opts[] = {"space", "status",   "overdue!", "due-before",
                                       "level", "calendar", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "case list");
    if (rc)
        return rc;
    if (a.npos != 1)
        return usage_case("case list: expected exactly one REPLICA");
    dc_case_list_options o = DC_CASE_LIST_OPTIONS_INIT;
    const char *statuses[16], *levels[16];
    char *st_text = NULL, *lv_text = NULL;
    if (tool_opt(&a, "status")) {
        st_text = strdup(tool_opt(&a, "status"));
        if (!st_text || split_list(st_text, statuses, 16, &o.nstatuses) || !o.nstatuses) {
            free(st_text);
            return usage_case("case list: --status takes one to 16 statuses, comma-separated "
                              "(open, received, transferred, in_progress, resolved, revisited, "
                              "closed)");
        }
        o.statuses = statuses;
    }
    if (tool_opt(&a, "level")) {
        lv_text = strdup(tool_opt(&a, "level"));
        if (!lv_text || split_list(lv_text, levels, 16, &o.nlevels) || !o.nlevels) {
            free(st_text);
            free(lv_text);
            return usage_case("case list: --level takes one to 16 levels, comma-separated "
                              "(branch, committee, joint_meeting, party_member_driver, "
                              "department, none, ...)");
        }
        o.levels = levels;
    }
    const char *before = tool_opt(&a, "due-before");
    if (before) {
        int64_t ms;
        if (*before >= '0' && *before <= '9' && strspn(before, "0123456789") == strlen(before)) {
            ms = (int64_t)strtoll(before, NULL, 10);
        } else if (dc_time_parse(&ms, before) != 0) {
            free(st_text);
            free(lv_text);
            return usage_case(dc_error_last());
        }
        o.due_before_ms = ms ? ms : 1;
    }
    o.overdue = tool_opt(&a, "overdue") != NULL;
    o.now_ms = tool_now_ms();
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != 0) {
        free(st_text);
        free(lv_text);
        return rc;
    }
    char hex[33], src[512];
    dc_calendar *cal = NULL;
    if (tool_opt(&a, "space") && (rc = domain_space(r, tool_opt(&a, "space"), hex)) == 0)
        o.space = hex;
    if (rc == 0)
        rc = find_calendar(&cal, r, tool_opt(&a, "calendar"), true, src, sizeof src);
    if (rc == 0) {
        dc_buf b = DC_BUF_INIT;
        int e = dc_case_list(&b, r, &o, cal);
        if (e == DC_EINVAL)
            rc = usage_case(dc_replica_errmsg(r));
        else if (e != 0)
            rc = fail_r(r, e, "case list");
        else
            print_buf(&b);
        dc_buf_dispose(&b);
    }
    free(st_text);
    free(lv_text);
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}

static int case_route(int argc, char **argv) {
    static const char *const opts[] = {"category", "amount", "emergency!",
                                       "region",   "driver", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "case route");
    if (rc)
        return rc;
    if (a.npos != 1 || !tool_opt(&a, "category") || !*tool_opt(&a, "category"))
        return usage_case("case route: expected REPLICA --category CATEGORY");
    int64_t amount = 0;
    if (tool_opt(&a, "amount") && (rc = parse_yuan(&amount, tool_opt(&a, "amount"))))
        return rc;
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    dc_case_options o = DC_CASE_OPTIONS_INIT;
    o.category = tool_opt(&a, "category");
    o.amount = amount;
    o.emergency = tool_opt(&a, "emergency") != NULL;
    o.region = tool_opt(&a, "region");
    o.driver = tool_opt(&a, "driver");
    dc_buf b = DC_BUF_INIT;
    int e = dc_case_route(&b, r, &o);
    if (e == DC_EINVAL)
        rc = usage_case(dc_replica_errmsg(r));
    else if (e != 0)
        rc = fail_r(r, e, "case route");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

static int case_amount(int argc, char **argv) {
    static const char *const opts[] = {"calendar", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "case amount");
    if (rc)
        return rc;
    if (a.npos != 3)
        return usage_case("case amount: expected REPLICA CASE YUAN (0 clears it)");
    int64_t yuan;
    if ((rc = parse_yuan(&yuan, a.pos[2])))
        return rc;
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    char src[512];
    dc_calendar *cal = NULL;
    if ((rc = find_calendar(&cal, r, tool_opt(&a, "calendar"), true, src, sizeof src)) == 0) {
        dc_buf b = DC_BUF_INIT;
        rc = print_result(r, dc_case_amount(&b, r, a.pos[1], yuan, cal), &b, "case amount");
        dc_buf_dispose(&b);
    }
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}

/* ---- calendar ---- */

static int calendar_publish(int argc, char **argv) {
    static const char *const opts[] = {"space", "calendar", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "calendar publish");
    if (rc)
        return rc;
    if (a.npos < 1 || a.npos > 2 || !tool_opt(&a, "space"))
        return usage_calendar("calendar publish: expected REPLICA --space S [FILE]");
    if (a.npos == 2 && tool_opt(&a, "calendar"))
        return usage_calendar("calendar publish: give the file once, as FILE or --calendar");
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    char hex[33], src[512];
    dc_calendar *cal = NULL;
    if ((rc = domain_space(r, tool_opt(&a, "space"), hex)) == 0)
        rc = find_calendar(&cal, r, a.npos == 2 ? a.pos[1] : tool_opt(&a, "calendar"), false, src,
                           sizeof src);
    if (rc == 0) {
        int e = dc_calendar_publish(r, hex, cal);
        if (e != 0) {
            rc = fail_r(r, e, "calendar publish");
        } else {
            dc_buf j = DC_BUF_INIT;
            json_t *v = NULL;
            if (dc_calendar_json(&j, cal) == 0)
                v = json_loadb((const char *)j.ptr, j.size, 0, NULL);
            dc_buf_dispose(&j);
            json_t *o = json_pack("{s:s,s:s,s:O,s:O,s:O}", "space", hex, "source", src, "years",
                                  json_object_get(v, "years"), "off", json_object_get(v, "off"),
                                  "work", json_object_get(v, "work"));
            json_decref(v);
            char *s = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
            json_decref(o);
            if (!s)
                rc = fail("calendar publish: out of memory");
            else
                puts(s);
            free(s);
        }
    }
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}

static int calendar_show(int argc, char **argv) {
    static const char *const opts[] = {"calendar", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "calendar show");
    if (rc)
        return rc;
    if (a.npos > 1)
        return usage_calendar("calendar show: expected at most one REPLICA");
    dc_replica *r = NULL;
    if (a.npos == 1 && (rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    char src[512];
    dc_calendar *cal = NULL;
    if ((rc = find_calendar(&cal, r, tool_opt(&a, "calendar"), true, src, sizeof src)) == 0) {
        dc_buf j = DC_BUF_INIT;
        json_t *v = dc_calendar_json(&j, cal) == 0
                        ? json_loadb((const char *)j.ptr, j.size, 0, NULL)
                        : NULL;
        dc_buf_dispose(&j);
        json_t *o = json_object();
        if (o && v && json_object_set_new(o, "source", json_string(src)) == 0 &&
            json_object_update(o, v) == 0) {
            char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
            if (s)
                puts(s);
            else
                rc = fail("calendar show: out of memory");
            free(s);
        } else {
            rc = fail("calendar show: out of memory");
        }
        json_decref(o);
        json_decref(v);
    }
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}

static int calendar_due(int argc, char **argv) {
    static const char *const opts[] = {"from", "days", "calendar", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, opts, "calendar due");
    if (rc)
        return rc;
    const char *from = tool_opt(&a, "from"), *days = tool_opt(&a, "days");
    if (a.npos != 0 || !from || !days)
        return usage_calendar("calendar due: expected --from RFC3339|MS --days N");
    int64_t ms;
    char *end = NULL;
    if (*from >= '0' && *from <= '9' && strspn(from, "0123456789") == strlen(from)) {
        errno = 0;
        long long v = strtoll(from, &end, 10);
        if (errno == ERANGE || v > NOW_MS_MAX)
            return usage_calendar("calendar due: --from is too large");
        ms = (int64_t)v;
    } else if (dc_time_parse(&ms, from) != 0) {
        return usage_calendar(dc_error_last());
    }
    errno = 0;
    long n = strtol(days, &end, 10);
    if (errno || *end || end == days || n < 1 || n > 100000)
        return usage_calendar("calendar due: --days must be a whole number from 1 to 100000");
    char src[512];
    dc_calendar *cal = NULL;
    if ((rc = find_calendar(&cal, NULL, tool_opt(&a, "calendar"), false, src, sizeof src)) != 0)
        return rc;
    int64_t due = 0;
    int estimated = 0;
    dc_calendar_due(&due, &estimated, cal, ms, (int)n);
    dc_buf f = DC_BUF_INIT, d = DC_BUF_INIT;
    if (dc_time_cst(&f, ms) || dc_time_cst(&d, due)) {
        rc = fail("calendar due: out of memory");
    } else {
        int first = 0, last = 0;
        dc_calendar_years(cal, &first, &last);
        if (estimated)
            fprintf(stderr,
                    "drivercore: warning: calendar due: the count runs past the years the "
                    "calendar covers (%d-%d), counted as plain weekdays: %.10s is an estimate "
                    "until that year's schedule is published (calendar publish)\n",
                    first, last, (const char *)d.ptr);
        json_t *o =
            json_pack("{s:s,s:I,s:s,s:I,s:i,s:s,s:b}", "from", (const char *)f.ptr, "from_ms",
                      (json_int_t)ms, "due", (const char *)d.ptr, "due_ms", (json_int_t)due, "days",
                      (int)n, "calendar", src, "estimated", estimated);
        char *s = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
        json_decref(o);
        if (s)
            puts(s);
        else
            rc = fail("calendar due: out of memory");
        free(s);
    }
    dc_buf_dispose(&f);
    dc_buf_dispose(&d);
    dc_calendar_free(cal);
    return rc;
}

int cmd_case(int argc, char **argv) {
    bool calendar = strcmp(argv[1], "calendar") == 0;
    const char *sub = argc > 2 ? argv[2] : "";
    if (calendar) {
        if (strcmp(sub, "publish") == 0)
            return calendar_publish(argc, argv);
        if (strcmp(sub, "show") == 0)
            return calendar_show(argc, argv);
        if (strcmp(sub, "due") == 0)
            return calendar_due(argc, argv);
        return usage_calendar(*sub ? "calendar: unknown subcommand (publish, show or due)"
                                   : "calendar: expected a subcommand: publish, show or due");
    }
    if (strcmp(sub, "file") == 0)
        return case_file(argc, argv);
    if (strcmp(sub, "step") == 0)
        return case_step(argc, argv);
    if (strcmp(sub, "show") == 0)
        return case_show(argc, argv);
    if (strcmp(sub, "list") == 0)
        return case_list(argc, argv);
    if (strcmp(sub, "route") == 0)
        return case_route(argc, argv);
    if (strcmp(sub, "amount") == 0)
        return case_amount(argc, argv);
    return usage_case(*sub ? "case: unknown subcommand (file, step, show, list, route or amount)"
                           : "case: expected a subcommand: file, step, show, list, route or "
                             "amount");
}
