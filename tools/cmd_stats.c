/*
 * tools/cmd_stats.c — `drivercore stats REPLICA [--space S] [--calendar F]
 * --json`: the report's table computed from the records the replica holds
 * (dc_stats_at, docs/domain.md "Statistics"), as one JSON object.
 *
 * The figures are as of the tool's clock (DRIVERCORE_NOW_MS pins it, so
 * scripts and tests get the same on-time figures every run).  The holiday
 * calendar behind the deadlines comes from --calendar, else from the
 * `holiday` records of a held space named "directory" (the public
 * directory carries it), else from the installed data file.  A space may
 * be named by its hex id or by its name when that name is unique.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "hex.h"
#include "tool.h"

/* The hex ids of held spaces whose name is `name` (at most `cap`), or -1. */
static int spaces_named(dc_replica *r, const char *name, char ids[][33], int cap) {
    dc_buf b = DC_BUF_INIT;
    json_t *list, *it;
    size_t i;
    int n = 0;
    if (dc_space_list(&b, r) != 0) {
        dc_buf_dispose(&b);
        return -1;
    }
    list = json_loadb((const char *)b.ptr, b.size, 0, NULL);
    dc_buf_dispose(&b);
    if (!json_is_array(list)) {
        json_decref(list);
        return -1;
    }
    json_array_foreach(list, i, it) {
        const char *nm = json_string_value(json_object_get(it, "name"));
        const char *id = json_string_value(json_object_get(it, "space"));
        if (nm && id && strlen(id) == 32 && json_is_true(json_object_get(it, "has_key")) &&
            strcmp(nm, name) == 0) {
            if (n < cap)
                memcpy(ids[n], id, 33);
            n++;
        }
    }
    json_decref(list);
    return n;
}

/* The calendar: --calendar, else the directory's holiday records, else the
 * installed (or, in a build tree, the source) data file.  NULL with a
 * message printed when an explicit file cannot be read. */
static int load_calendar(dc_calendar **out, dc_replica *r, const char *file) {
    char ids[4][33];
    *out = NULL;
    if (file) {
        if (dc_calendar_load_file(out, file) != 0)
            return fail("stats: cannot load the calendar '%s': %s", file, dc_error_last());
        return EXIT_OK;
    }
    /* The device's directory space when it has one (and only it), else
     * the accepted spaces named "directory". */
    dc_buf dir = DC_BUF_INIT;
    int n;
    if (dc_space_directory(&dir, r) == 0) {
        snprintf(ids[0], sizeof ids[0], "%s", (const char *)dir.ptr);
        n = 1;
    } else {
        n = spaces_named(r, "directory", ids, 4);
    }
    dc_buf_dispose(&dir);
    for (int i = 0; i < n && i < 4 && !*out; i++)
        if (dc_calendar_from_space(out, r, ids[i]) != 0)
            *out = NULL;
    if (!*out && dc_calendar_load_file(out, DRIVERCORE_CALENDAR_INSTALLED) != 0)
        *out = NULL;
    if (!*out && dc_calendar_load_file(out, DRIVERCORE_CALENDAR_SOURCE) != 0)
        *out = NULL;
    if (!*out)
        fprintf(stderr, "drivercore: stats: no holiday calendar found (give --calendar FILE); "
                        "the on-time figures are null\n");
    return EXIT_OK;
}

int cmd_stats(int argc, char **argv) {
    static const char *const allowed[] = {"space", "calendar", "json!", NULL};
    tool_args a;
    dc_replica *r = NULL;
    dc_calendar *cal = NULL;
    dc_buf out = DC_BUF_INIT;
    char space[33];
    const char *sp;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, allowed, "stats")) != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error("stats: expected REPLICA (drivercore stats REPLICA [--space S] "
                           "[--calendar FILE] --json)");
    sp = tool_opt(&a, "space");
    if (sp && !*sp)
        return usage_error("stats: --space needs a space id or name");
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK)
        return rc;
    if (sp && !hex_is(sp, 32, false)) {
        char ids[2][33];
        int n = spaces_named(r, sp, ids, 2);
        if (n != 1) {
            dc_replica_close(r);
            return n > 1 ? usage_error("stats: more than one space is named '%s'; give its "
                                       "hex id (see `drivercore space list`)",
                                       sp)
                         : fail("stats: this replica holds no space named '%s' (see "
                                "`drivercore space list`)",
                                sp);
        }
        memcpy(space, ids[0], 33);
        sp = space;
    }
    if ((rc = load_calendar(&cal, r, tool_opt(&a, "calendar"))) != EXIT_OK) {
        dc_replica_close(r);
        return rc;
    }
    int drc = dc_stats_at(&out, r, sp, cal, tool_now_ms());
    if (drc != 0)
        rc = fail_r(r, drc, "stats");
    else
        print_buf(&out);
    dc_buf_dispose(&out);
    dc_calendar_free(cal);
    dc_replica_close(r);
    return rc;
}
