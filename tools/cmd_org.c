/*
 * The organised side of the domain from a terminal: `region`, `org`,
 * `station`, `checkin`, `branch`, `secretary`, `study` and `liaison`
 * (include/drivercore/org.h, docs/domain.md).  drivercore.c hands every
 * one of these command names to cmd_org, which dispatches on argv[1] and
 * the subcommand through one table, so every subcommand parses, opens the
 * replica and reports errors alike: data as JSON on stdout, errors on
 * stderr, exit 1 when an operation fails and 2 for a usage error —
 * including a value the library refuses as invalid (DC_EINVAL: a bad
 * level, kind, date, region code, ...), which is a mistake in the command
 * line rather than a failure of the replica.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hex.h"
#include "tool.h"

static const char org_usage[] =
    "  region put REPLICA --space S CODE --name N --level province|city|county|township|village\n"
    "             [--parent CODE]\n"
    "  region list REPLICA --space S\n"
    "  org put REPLICA --space S KIND CODE --name N [--level province|city|county]\n"
    "          [--region CODE] [--parent ORG] [--departments ORG,ORG,...]\n"
    "  org list REPLICA --space S [--kind KIND]\n"
    "  station put REPLICA --space S CODE --name N --site SITE --region CODE [--address A]\n"
    "              [--operator ORG] [--agreement TEXT] [--facilities F,F,...]\n"
    "  station facility REPLICA --space S STATION FACILITY [--remove]\n"
    "  station show REPLICA --space S [STATION] [--region PREFIX] [--facility F]\n"
    "  checkin REPLICA --space PERSONAL STATION [--used F] [--feedback T] [--rating 1-5]\n"
    "  checkin REPLICA --space PERSONAL               (lists his check-ins)\n"
    "  branch put REPLICA --space S CODE --name N --region CODE [--hukou CODE]\n"
    "             [--activity CODE] [--routes R,R,...] [--scope B,B,...]\n"
    "  branch member REPLICA --space S BRANCH DRIVER [--joined DATE] [--remove]\n"
    "  branch assign REPLICA --space REGISTRY DRIVER BRANCH|none\n"
    "  branch suggest REPLICA --space REGISTRY DRIVER [--limit N]\n"
    "  branch coverage REPLICA --space REGISTRY\n"
    "  secretary put REPLICA --space S BRANCH PERSON --name N [--from ORG]\n"
    "                [--role secretary|instructor]\n"
    "  secretary task REPLICA --space S SECRETARY TASK [--due DATE]\n"
    "  secretary done REPLICA --space S SECRETARY TASK [--undo]\n"
    "  secretary show REPLICA --space S [SECRETARY]\n"
    "  study push REPLICA --space S --title T --kind micro_video|micro_lesson|article|news\n"
    "             [--media M] [--id st-N] [--pushed MS]\n"
    "  study read REPLICA --space S ITEM --driver D [--done]\n"
    "  study discuss REPLICA --space S ITEM --driver D --text T\n"
    "  study activity REPLICA --space S --title T --date DATE [--id act-N]\n"
    "  study join REPLICA --space S ACTIVITY --driver D\n"
    "  study show REPLICA --space S [ITEM]\n"
    "  liaison cadre REPLICA --space S ID --name N --region CODE\n"
    "                --title township_org_member|village_secretary\n"
    "  liaison link REPLICA --space S FROM TO --level cadre|party_member\n"
    "  liaison contact REPLICA --space S LINK --how call|visit|message [--date DATE]\n"
    "                [--note T]\n"
    "  liaison show REPLICA --space S [--from ID]\n";

/* ---- shared pieces ---- */

/* A library failure: DC_EINVAL is a bad value on the command line (exit
 * 2), anything else a failed operation (exit 1). */
static int lib_fail(const dc_replica *r, int rc, const char *what) {
    if (rc == DC_EINVAL)
        return usage_error("%s: %s", what, replica_why(r, rc));
    return fail_r(r, rc, what);
}

static int print_json(json_t *j) {
    char *s;
    if (!j)
        return fail("out of memory");
    s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s)
        return fail("out of memory");
    puts(s);
    free(s);
    return EXIT_OK;
}

/* A comma-separated list split into malloc'd items (empty items and
 * spaces around items dropped).  The list owns one copy of the text. */
typedef struct list {
    char *text;
    const char *v[64];
    size_t n;
} list;

static int split(list *l, const char *s, const char *what, const char *cmd) {
    memset(l, 0, sizeof *l);
    if (!s)
        return EXIT_OK;
    if (!(l->text = strdup(s)))
        return fail("out of memory");
    for (char *p = l->text, *next; p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = '\0';
        while (*p == ' ')
            p++;
        size_t n = strlen(p);
        while (n && p[n - 1] == ' ')
            p[--n] = '\0';
        if (!*p)
            continue;
        if (l->n == sizeof l->v / sizeof l->v[0]) {
            free(l->text);
            l->text = NULL;
            return usage_error("%s: too many %s (at most 64)", cmd, what);
        }
        l->v[l->n++] = p;
    }
    return EXIT_OK;
}

/* A whole decimal number in [lo, hi]. */
static int parse_int(long long *out, const char *s, long long lo, long long hi, const char *what,
                     const char *cmd) {
    char *end = NULL;
    errno = 0;
    long long v = s && *s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || errno || *end || v < lo || v > hi)
        return usage_error("%s: %s '%s' is not a number from %lld to %lld", cmd, what, s ? s : "",
                           lo, hi);
    *out = v;
    return EXIT_OK;
}

static int print_lib(dc_buf *b, const dc_replica *r, int rc, const char *what) {
    if (rc)
        return lib_fail(r, rc, what);
    print_buf(b);
    return EXIT_OK;
}

/* ---- the subcommands: (replica, args, space) -> exit status ---- */

typedef int (*handler)(dc_replica *r, const tool_args *a, const char *space, const char *cmd);

static int region_put(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc = dc_region_put(r, space, a->pos[1], tool_opt(a, "name"), tool_opt(a, "level"),
                           tool_opt(a, "parent"));
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:s}", "region", a->pos[1], "level", tool_opt(a, "level")));
}

static int record_list(dc_replica *r, const char *space, const char *type, const char *field,
                       const char *value, const char *cmd) {
    dc_buf b = DC_BUF_INIT;
    int rc = value ? dc_record_find(&b, r, space, type, field, DC_STR, 0, value)
                   : dc_record_list(&b, r, space, type);
    rc = print_lib(&b, r, rc, cmd);
    dc_buf_dispose(&b);
    return rc;
}

static int region_list(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    (void)a;
    return record_list(r, space, "region", NULL, NULL, cmd);
}

static int org_put(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_org_options o = DC_ORG_OPTIONS_INIT;
    list deps;
    dc_buf id = DC_BUF_INIT;
    int rc = split(&deps, tool_opt(a, "departments"), "departments", cmd);
    if (rc)
        return rc;
    o.kind = a->pos[1];
    o.code = a->pos[2];
    o.name = tool_opt(a, "name");
    o.level = tool_opt(a, "level");
    o.region = tool_opt(a, "region");
    o.parent = tool_opt(a, "parent");
    o.departments = deps.v;
    o.ndepartments = deps.n;
    rc = dc_org_put(&id, r, space, &o);
    rc = rc ? lib_fail(r, rc, cmd)
            : print_json(
                  json_pack("{s:s%,s:s}", "org", (const char *)id.ptr, id.size, "kind", o.kind));
    free(deps.text);
    dc_buf_dispose(&id);
    return rc;
}

static int org_list(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    return record_list(r, space, "org", "kind", tool_opt(a, "kind"), cmd);
}

static int station_put(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_station_options o = DC_STATION_OPTIONS_INIT;
    list fac;
    dc_buf id = DC_BUF_INIT;
    int rc = split(&fac, tool_opt(a, "facilities"), "facilities", cmd);
    if (rc)
        return rc;
    o.code = a->pos[1];
    o.name = tool_opt(a, "name");
    o.site = tool_opt(a, "site");
    o.region = tool_opt(a, "region");
    o.address = tool_opt(a, "address");
    o.operator_org = tool_opt(a, "operator");
    o.agreement = tool_opt(a, "agreement");
    o.facilities = fac.v;
    o.nfacilities = fac.n;
    rc = dc_station_put(&id, r, space, &o);
    rc = rc ? lib_fail(r, rc, cmd)
            : print_json(json_pack("{s:s%}", "station", (const char *)id.ptr, id.size));
    free(fac.text);
    dc_buf_dispose(&id);
    return rc;
}

static int station_facility(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int present = tool_opt(a, "remove") == NULL;
    int rc = dc_station_facility(r, space, a->pos[1], a->pos[2], present);
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:s,s:b}", "station", a->pos[1], "facility", a->pos[2],
                                "present", present));
}

static int station_show(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_buf b = DC_BUF_INIT;
    int rc;
    if (a->npos > 1) {
        rc = dc_record_get(&b, r, space, "station", a->pos[1]);
        if (rc == DC_ENOTFOUND) {
            dc_buf_dispose(&b);
            return fail("%s: no station %s in space %s", cmd, a->pos[1], space);
        }
    } else {
        rc = dc_station_list(&b, r, space, tool_opt(a, "region"), tool_opt(a, "facility"));
    }
    rc = print_lib(&b, r, rc, cmd);
    dc_buf_dispose(&b);
    return rc;
}

static int checkin(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_buf b = DC_BUF_INIT;
    int rc;
    if (a->npos == 1) {
        if (tool_opt(a, "used") || tool_opt(a, "feedback") || tool_opt(a, "rating"))
            return usage_error("%s: --used, --feedback and --rating need a STATION", cmd);
        rc = print_lib(&b, r, dc_checkin_list(&b, r, space), cmd);
        dc_buf_dispose(&b);
        return rc;
    }
    dc_checkin_options o = DC_CHECKIN_OPTIONS_INIT;
    long long rating = 0;
    if (tool_opt(a, "rating") &&
        (rc = parse_int(&rating, tool_opt(a, "rating"), 1, 5, "the rating", cmd)))
        return rc;
    o.station = a->pos[1];
    o.at_ms = tool_now_ms();
    o.used = tool_opt(a, "used");
    o.feedback = tool_opt(a, "feedback");
    o.rating = (int)rating;
    if ((rc = dc_checkin(r, space, &o)))
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:I}", "checkin", o.station, "at", (json_int_t)o.at_ms));
}

static int branch_put(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_branch_options o = DC_BRANCH_OPTIONS_INIT;
    list routes, scope;
    dc_buf id = DC_BUF_INIT;
    int rc = split(&routes, tool_opt(a, "routes"), "routes", cmd);
    if (rc)
        return rc;
    if ((rc = split(&scope, tool_opt(a, "scope"), "business scopes", cmd))) {
        free(routes.text);
        return rc;
    }
    o.code = a->pos[1];
    o.name = tool_opt(a, "name");
    o.region = tool_opt(a, "region");
    o.hukou_region = tool_opt(a, "hukou");
    o.activity_area = tool_opt(a, "activity");
    o.routes = routes.v;
    o.nroutes = routes.n;
    o.business_scope = scope.v;
    o.nbusiness_scope = scope.n;
    rc = dc_branch_put(&id, r, space, &o);
    rc = rc ? lib_fail(r, rc, cmd)
            : print_json(
                  json_pack("{s:s%,s:s}", "branch", (const char *)id.ptr, id.size, "space", space));
    free(routes.text);
    free(scope.text);
    dc_buf_dispose(&id);
    return rc;
}

static int branch_member(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc;
    bool remove = tool_opt(a, "remove") != NULL;
    if (remove && tool_opt(a, "joined"))
        return usage_error("%s: --joined and --remove do not go together", cmd);
    rc = remove ? dc_branch_member_remove(r, space, a->pos[2])
                : dc_branch_member_add(r, space, a->pos[1], a->pos[2], tool_opt(a, "joined"));
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(
        json_pack("{s:s,s:s,s:b}", "branch", a->pos[1], "driver", a->pos[2], "member", !remove));
}

static int branch_assign(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    const char *branch = strcmp(a->pos[2], "none") == 0 ? NULL : a->pos[2];
    int rc = dc_branch_assign(r, space, a->pos[1], branch);
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:s?}", "driver", a->pos[1], "branch", branch));
}

static int branch_suggest(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    long long limit = 5;
    dc_buf b = DC_BUF_INIT;
    int rc;
    if (tool_opt(a, "limit") &&
        (rc = parse_int(&limit, tool_opt(a, "limit"), 1, 10000, "the limit", cmd)))
        return rc;
    rc = print_lib(&b, r, dc_branch_suggest(&b, r, space, a->pos[1], (size_t)limit), cmd);
    dc_buf_dispose(&b);
    return rc;
}

static int branch_coverage(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    (void)a;
    dc_buf b = DC_BUF_INIT;
    int rc = print_lib(&b, r, dc_branch_coverage(&b, r, space), cmd);
    dc_buf_dispose(&b);
    return rc;
}

static int secretary_put(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_secretary_options o = DC_SECRETARY_OPTIONS_INIT;
    dc_buf id = DC_BUF_INIT;
    o.branch = a->pos[1];
    o.person = a->pos[2];
    o.name = tool_opt(a, "name");
    o.from_dept = tool_opt(a, "from");
    o.role = tool_opt(a, "role");
    int rc = dc_secretary_put(&id, r, space, &o);
    rc = rc ? lib_fail(r, rc, cmd)
            : print_json(json_pack("{s:s%}", "secretary", (const char *)id.ptr, id.size));
    dc_buf_dispose(&id);
    return rc;
}

static int secretary_task(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc = dc_secretary_task(r, space, a->pos[1], a->pos[2], tool_opt(a, "due"));
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:s,s:s?,s:b}", "secretary", a->pos[1], "task", a->pos[2],
                                "due", tool_opt(a, "due"), "done", 0));
}

static int secretary_done(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int done = tool_opt(a, "undo") == NULL;
    int rc = dc_secretary_done(r, space, a->pos[1], a->pos[2], done);
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(
        json_pack("{s:s,s:s,s:b}", "secretary", a->pos[1], "task", a->pos[2], "done", done));
}

static int secretary_show(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_buf b = DC_BUF_INIT;
    int rc = dc_secretary_show(&b, r, space, a->npos > 1 ? a->pos[1] : NULL);
    rc = print_lib(&b, r, rc, cmd);
    dc_buf_dispose(&b);
    return rc;
}

static int study_push(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_study_options o = DC_STUDY_OPTIONS_INIT;
    dc_buf id = DC_BUF_INIT;
    long long pushed = 0;
    int rc;
    if (tool_opt(a, "pushed") &&
        (rc = parse_int(&pushed, tool_opt(a, "pushed"), 1, NOW_MS_MAX, "--pushed", cmd)))
        return rc;
    o.id = tool_opt(a, "id");
    o.title = tool_opt(a, "title");
    o.kind = tool_opt(a, "kind");
    o.media = tool_opt(a, "media");
    o.pushed_ms = pushed ? pushed : tool_now_ms();
    rc = dc_study_push(&id, r, space, &o);
    rc = rc ? lib_fail(r, rc, cmd)
            : print_json(json_pack("{s:s%,s:I}", "study", (const char *)id.ptr, id.size, "pushed",
                                   (json_int_t)o.pushed_ms));
    dc_buf_dispose(&id);
    return rc;
}

static int need_opt(const tool_args *a, const char *name, const char *cmd) {
    if (!tool_opt(a, name) || !*tool_opt(a, name))
        return usage_error("%s: --%s is required", cmd, name);
    return EXIT_OK;
}

static int study_read(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc = need_opt(a, "driver", cmd);
    if (rc)
        return rc;
    int done = tool_opt(a, "done") != NULL;
    if ((rc = dc_study_read(r, space, a->pos[1], tool_opt(a, "driver"), done)))
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:s,s:b}", "study", a->pos[1], "driver",
                                tool_opt(a, "driver"), "done", done));
}

static int study_discuss(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc;
    if ((rc = need_opt(a, "driver", cmd)) || (rc = need_opt(a, "text", cmd)))
        return rc;
    if ((rc = dc_study_discuss(r, space, a->pos[1], tool_opt(a, "driver"), tool_opt(a, "text"))))
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:s}", "study", a->pos[1], "driver", tool_opt(a, "driver")));
}

static int study_activity(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_buf id = DC_BUF_INIT;
    int rc = dc_study_activity(&id, r, space, tool_opt(a, "id"), tool_opt(a, "title"),
                               tool_opt(a, "date"));
    rc = rc ? lib_fail(r, rc, cmd)
            : print_json(json_pack("{s:s%}", "activity", (const char *)id.ptr, id.size));
    dc_buf_dispose(&id);
    return rc;
}

static int study_join(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc = need_opt(a, "driver", cmd);
    if (rc)
        return rc;
    if ((rc = dc_study_join(r, space, a->pos[1], tool_opt(a, "driver"))))
        return lib_fail(r, rc, cmd);
    return print_json(
        json_pack("{s:s,s:s}", "activity", a->pos[1], "driver", tool_opt(a, "driver")));
}

static int study_show(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_buf b = DC_BUF_INIT;
    int rc = dc_study_show(&b, r, space, a->npos > 1 ? a->pos[1] : NULL);
    rc = print_lib(&b, r, rc, cmd);
    dc_buf_dispose(&b);
    return rc;
}

static int liaison_cadre(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc = dc_liaison_cadre(r, space, a->pos[1], tool_opt(a, "name"), tool_opt(a, "region"),
                              tool_opt(a, "title"));
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s}", "cadre", a->pos[1]));
}

static int liaison_link(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_buf id = DC_BUF_INIT;
    int rc = dc_liaison_link(&id, r, space, a->pos[1], a->pos[2], tool_opt(a, "level"));
    rc = rc ? lib_fail(r, rc, cmd)
            : print_json(json_pack("{s:s%,s:s}", "link", (const char *)id.ptr, id.size, "level",
                                   tool_opt(a, "level")));
    dc_buf_dispose(&id);
    return rc;
}

static int liaison_contact(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    int rc = dc_liaison_contact(r, space, a->pos[1], tool_opt(a, "how"), tool_opt(a, "date"),
                                tool_opt(a, "note"));
    if (rc)
        return lib_fail(r, rc, cmd);
    return print_json(json_pack("{s:s,s:s}", "link", a->pos[1], "how", tool_opt(a, "how")));
}

static int liaison_show(dc_replica *r, const tool_args *a, const char *space, const char *cmd) {
    dc_buf b = DC_BUF_INIT;
    int rc = print_lib(&b, r, dc_liaison_show(&b, r, space, tool_opt(a, "from")), cmd);
    dc_buf_dispose(&b);
    return rc;
}

/* ---- the table ---- */

#define OPTS(...) ((const char *const[]){"space", __VA_ARGS__, NULL})

typedef struct spec {
    const char *group, *sub; /* sub NULL: the group is the whole command (checkin) */
    handler fn;
    const char *const *opts;
    int minpos, maxpos; /* positionals including REPLICA */
    const char *synopsis;
} spec;

static const spec specs[] = {
    {"region", "put", region_put, OPTS("name", "level", "parent"), 2, 2,
     "region put REPLICA --space S CODE --name N --level L [--parent CODE]"},
    {"region", "list", region_list, OPTS("space"), 1, 1, "region list REPLICA --space S"},
    {"org", "put", org_put, OPTS("name", "level", "region", "parent", "departments"), 3, 3,
     "org put REPLICA --space S KIND CODE --name N [--level L] [--region CODE] [--parent ORG] "
     "[--departments ORG,...]"},
    {"org", "list", org_list, OPTS("kind"), 1, 1, "org list REPLICA --space S [--kind KIND]"},
    {"station", "put", station_put,
     OPTS("name", "site", "region", "address", "operator", "agreement", "facilities"), 2, 2,
     "station put REPLICA --space S CODE --name N --site SITE --region CODE [...]"},
    {"station", "facility", station_facility, OPTS("remove!"), 3, 3,
     "station facility REPLICA --space S STATION FACILITY [--remove]"},
    {"station", "show", station_show, OPTS("region", "facility"), 1, 2,
     "station show REPLICA --space S [STATION] [--region PREFIX] [--facility F]"},
    {"checkin", NULL, checkin, OPTS("used", "feedback", "rating"), 1, 2,
     "checkin REPLICA --space PERSONAL [STATION [--used F] [--feedback T] [--rating 1-5]]"},
    {"branch", "put", branch_put, OPTS("name", "region", "hukou", "activity", "routes", "scope"), 2,
     2,
     "branch put REPLICA --space S CODE --name N --region CODE [--hukou CODE] "
     "[--activity CODE] [--routes R,...] [--scope B,...]"},
    {"branch", "member", branch_member, OPTS("joined", "remove!"), 3, 3,
     "branch member REPLICA --space S BRANCH DRIVER [--joined DATE] [--remove]"},
    {"branch", "assign", branch_assign, OPTS("space"), 3, 3,
     "branch assign REPLICA --space REGISTRY DRIVER BRANCH|none"},
    {"branch", "suggest", branch_suggest, OPTS("limit"), 2, 2,
     "branch suggest REPLICA --space REGISTRY DRIVER [--limit N]"},
    {"branch", "coverage", branch_coverage, OPTS("space"), 1, 1,
     "branch coverage REPLICA --space REGISTRY"},
    {"secretary", "put", secretary_put, OPTS("name", "from", "role"), 3, 3,
     "secretary put REPLICA --space S BRANCH PERSON --name N [--from ORG] [--role R]"},
    {"secretary", "task", secretary_task, OPTS("due"), 3, 3,
     "secretary task REPLICA --space S SECRETARY TASK [--due DATE]"},
    {"secretary", "done", secretary_done, OPTS("undo!"), 3, 3,
     "secretary done REPLICA --space S SECRETARY TASK [--undo]"},
    {"secretary", "show", secretary_show, OPTS("space"), 1, 2,
     "secretary show REPLICA --space S [SECRETARY]"},
    {"study", "push", study_push, OPTS("title", "kind", "media", "id", "pushed"), 1, 1,
     "study push REPLICA --space S --title T --kind K [--media M] [--id st-N] [--pushed MS]"},
    {"study", "read", study_read, OPTS("driver", "done!"), 2, 2,
     "study read REPLICA --space S ITEM --driver D [--done]"},
    {"study", "discuss", study_discuss, OPTS("driver", "text"), 2, 2,
     "study discuss REPLICA --space S ITEM --driver D --text T"},
    {"study", "activity", study_activity, OPTS("title", "date", "id"), 1, 1,
     "study activity REPLICA --space S --title T --date DATE [--id act-N]"},
    {"study", "join", study_join, OPTS("driver"), 2, 2,
     "study join REPLICA --space S ACTIVITY --driver D"},
    {"study", "show", study_show, OPTS("space"), 1, 2, "study show REPLICA --space S [ITEM]"},
    {"liaison", "cadre", liaison_cadre, OPTS("name", "region", "title"), 2, 2,
     "liaison cadre REPLICA --space S ID --name N --region CODE --title T"},
    {"liaison", "link", liaison_link, OPTS("level"), 3, 3,
     "liaison link REPLICA --space S FROM TO --level cadre|party_member"},
    {"liaison", "contact", liaison_contact, OPTS("how", "date", "note"), 2, 2,
     "liaison contact REPLICA --space S LINK --how call|visit|message [--date D] [--note T]"},
    {"liaison", "show", liaison_show, OPTS("from"), 1, 1,
     "liaison show REPLICA --space S [--from ID]"},
};

/* --space takes a hex id, or the name of exactly one space the replica
 * holds ("registry", "branch wudang"), as `stats --space` does. */
static int resolve_space(char hex[33], dc_replica *r, const char *arg, const char *cmd) {
    if (hex_is(arg, 32, false)) {
        memcpy(hex, arg, 33);
        return EXIT_OK;
    }
    dc_buf b = DC_BUF_INIT;
    int rc = dc_space_list(&b, r);
    if (rc) {
        dc_buf_dispose(&b);
        return fail_r(r, rc, cmd);
    }
    json_t *list = json_loads((const char *)b.ptr, 0, NULL);
    dc_buf_dispose(&b);
    size_t found = 0, i;
    json_t *e;
    json_array_foreach(list, i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *id = json_string_value(json_object_get(e, "space"));
        if (name && id && strcmp(name, arg) == 0 && strlen(id) == 32 && found++ == 0)
            memcpy(hex, id, 33);
    }
    json_decref(list);
    if (found == 1)
        return EXIT_OK;
    if (found > 1)
        return usage_error("%s: %zu spaces are named '%s'; give the space id", cmd, found, arg);
    return fail("%s: no space '%s' on this replica (give a space id or the name of a space it "
                "holds)",
                cmd, arg);
}

static int run(const spec *s, int argc, char **argv, int start) {
    char hex[33];
    char cmd[64];
    tool_args a;
    dc_replica *r = NULL;
    int rc;
    snprintf(cmd, sizeof cmd, "%s%s%s", s->group, s->sub ? " " : "", s->sub ? s->sub : "");
    if ((rc = tool_parse(&a, argc, argv, start, s->opts, cmd)) != 0)
        return rc;
    if (a.npos < s->minpos || a.npos > s->maxpos)
        return usage_error("%s: expected `%s`", cmd, s->synopsis);
    const char *space = tool_opt(&a, "space");
    if (!space || !*space)
        return usage_error("%s: --space is required (`%s`)", cmd, s->synopsis);
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    if ((rc = resolve_space(hex, r, space, cmd)) == 0)
        rc = s->fn(r, &a, hex, cmd);
    dc_replica_close(r);
    return rc;
}

int cmd_org(int argc, char **argv) {
    const char *group = argv[1];
    const char *sub = argc > 2 ? argv[2] : NULL;
    bool group_known = false;
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        const spec *s = &specs[i];
        if (strcmp(s->group, group) != 0)
            continue;
        group_known = true;
        if (!s->sub)
            return run(s, argc, argv, 2);
        if (sub && strcmp(s->sub, sub) == 0)
            return run(s, argc, argv, 3);
    }
    if (!group_known)
        return usage_error("unknown command '%s'", group);
    if (sub)
        fprintf(stderr, "drivercore: %s: unknown subcommand '%s'; the %s commands are:\n", group,
                sub, group);
    else
        fprintf(stderr, "drivercore: %s: expected a subcommand; the %s commands are:\n", group,
                group);
    /* The lines of the usage text for this group. */
    size_t gl = strlen(group);
    bool in_group = false;
    for (const char *p = org_usage; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p + 1) : strlen(p);
        if (p[0] == ' ' && p[1] == ' ' && p[2] != ' ')
            in_group = strncmp(p + 2, group, gl) == 0 && p[2 + gl] == ' ';
        if (in_group)
            fwrite(p, 1, n, stderr);
        p += n;
    }
    return EXIT_USAGE;
}
