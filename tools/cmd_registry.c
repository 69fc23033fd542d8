/*
 * `drivercore registry ...`: the driver registry (台账) from a terminal, for
 * the registry staff who receive the two lines' lists as CSV files.
 *
 *   registry import REPLICA --space S --source organisation|transport --round N FILE
 *                   [--level L] [--method list|visit|phone] [--quiet]
 *   registry conflicts REPLICA --space S
 *   registry find REPLICA --space S ID_NUMBER     (ID_NUMBER "-": read it from stdin)
 *   registry id REPLICA --space S ID_NUMBER       ({"driver": "drv-..."})
 *   registry create REPLICA [--region 520000] [--name N]    the province's root
 *   registry part REPLICA --root R --region CODE [--branch ORG] [--name N]
 *   registry enrol REPLICA --space PART CARD [--role member|reader|admin]
 *   registry spaces REPLICA
 *   registry move REPLICA --space FROM DRIVER --to PART [--branch ORG] [--no-cases]
 *                 [--date DATE]
 *
 * --space (and --root, --to) take a space's hex id or its name when one
 * space held has it.  An import of many rows shows a progress line on
 * stderr when stderr is a terminal (not with --quiet); stdout is the same
 * JSON either way.
 *
 * An import prints its report as JSON and exits 0 when the file was read,
 * even if some rows were bad: the good rows are imported and each bad row
 * is in the report's "errors" with its line number; a one-line summary of
 * the bad rows also goes to stderr so that a person running it notices.
 * An unreadable file, a wrong header, or a failure to write exits 1.  The
 * semantics are the library's (include/drivercore/registry.h,
 * docs/domain.md "The registry").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain_tool.h"
#include "tool.h"

static const char USAGE_IMPORT[] =
    "registry import REPLICA --space S --source organisation|transport --round N FILE "
    "[--level L] [--method list|visit|phone] [--quiet]";

/* Parses "registry <sub> REPLICA [ARG]" with --space required. */
static int parse_common(tool_args *a, int argc, char **argv, const char *const *allowed,
                        const char *cmd, const char *usage, int npos) {
    int rc = tool_parse(a, argc, argv, 3, allowed, cmd);
    if (rc != EXIT_OK)
        return rc;
    if (a->npos != npos)
        return usage_error("%s: expected %d argument%s: %s", cmd, npos, npos == 1 ? "" : "s",
                           usage);
    const char *space = tool_opt(a, "space");
    if (!space || !*space)
        return usage_error("%s: --space S is required (the registry space's id): %s", cmd, usage);
    return EXIT_OK;
}

static int registry_import(int argc, char **argv) {
    static const char *const allowed[] = {"space",  "source", "round", "level",
                                          "method", "quiet!", NULL};
    tool_args a;
    int rc = parse_common(&a, argc, argv, allowed, "registry import", USAGE_IMPORT, 2);
    if (rc != EXIT_OK)
        return rc;
    const char *src = tool_opt(&a, "source"), *rnd = tool_opt(&a, "round");
    int source;
    if (!src)
        return usage_error("registry import: --source organisation|transport is required");
    if (strcmp(src, "organisation") == 0)
        source = DC_SOURCE_ORGANISATION;
    else if (strcmp(src, "transport") == 0)
        source = DC_SOURCE_TRANSPORT;
    else
        return usage_error("registry import: unknown source '%s' (organisation or transport)", src);
    if (!rnd)
        return usage_error("registry import: --round N is required (1, 2, ...)");
    char *end;
    errno = 0;
    long round = strtol(rnd, &end, 10);
    if (errno || end == rnd || *end || round < 1 || round > 1000000)
        return usage_error("registry import: --round must be a whole number from 1, not '%s'", rnd);
    size_t n;
    int err;
    char *data = read_file(a.pos[1], &n, &err);
    if (!data)
        return fail("registry import: cannot read '%s': %s", a.pos[1], strerror(err));
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK) {
        free(data);
        return rc;
    }
    char space[33];
    if ((rc = domain_space(r, tool_opt(&a, "space"), space)) != EXIT_OK) {
        free(data);
        dc_replica_close(r);
        return rc;
    }
    progress pg;
    progress_init(&pg, tool_opt(&a, "quiet") != NULL);
    progress_stage(&pg, "registry import", "rows", 0);
    dc_registry_import_options o = DC_REGISTRY_IMPORT_OPTIONS_INIT;
    o.source = source;
    o.round = (int)round;
    o.level = tool_opt(&a, "level");
    o.method = tool_opt(&a, "method");
    o.progress = progress_callback;
    o.progress_user = &pg;
    dc_buf report = DC_BUF_INIT;
    int lrc = dc_registry_import(&report, r, space, &o, (const uint8_t *)data, n);
    progress_end(&pg);
    free(data);
    if (lrc == DC_EINVAL && (o.level || o.method) &&
        strstr(dc_replica_errmsg(r), "is not one of")) {
        rc = usage_error("%s", dc_replica_errmsg(r));
    } else if (lrc != 0) {
        rc = fail_r(r, lrc, "registry import");
    } else {
        print_buf(&report);
        /* The report holds "errors":[{"line":L,...},...]; count them for
         * stderr without a JSON parser: each error object has one "line". */
        long bad = 0;
        const char *p = strstr((const char *)report.ptr, "\"errors\":[");
        while (p && (p = strstr(p + 1, "{\"line\":")) != NULL)
            bad++;
        if (bad)
            fprintf(stderr,
                    "drivercore: registry import: %ld bad row%s skipped (see \"errors\" in the "
                    "report); the good rows were imported\n",
                    bad, bad == 1 ? " was" : "s were");
        long away = 0;
        p = strstr((const char *)report.ptr, "\"moved_away\":[");
        while (p && (p = strstr(p + 1, "{\"line\":")) != NULL)
            away++;
        if (away)
            fprintf(stderr,
                    "drivercore: registry import: %ld row%s for drivers who moved to a registry "
                    "space this device does not hold: not written (see \"moved_away\")\n",
                    away, away == 1 ? " is" : "s are");
        rc = EXIT_OK;
    }
    dc_buf_dispose(&report);
    dc_replica_close(r);
    return rc;
}

static int registry_conflicts(int argc, char **argv) {
    static const char *const allowed[] = {"space", NULL};
    tool_args a;
    int rc = parse_common(&a, argc, argv, allowed, "registry conflicts",
                          "registry conflicts REPLICA --space S", 1);
    if (rc != EXIT_OK)
        return rc;
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK)
        return rc;
    char space[33];
    if ((rc = domain_space(r, tool_opt(&a, "space"), space)) != EXIT_OK) {
        dc_replica_close(r);
        return rc;
    }
    dc_buf out = DC_BUF_INIT;
    int lrc = dc_registry_conflicts(&out, r, space);
    if (lrc != 0) {
        rc = fail_r(r, lrc, "registry conflicts");
    } else {
        print_buf(&out);
        rc = EXIT_OK;
    }
    dc_buf_dispose(&out);
    dc_replica_close(r);
    return rc;
}

/* An identity number from the command line, or from stdin for "-" (so it
 * need not appear in the shell history or the process list). */
static int read_id(char *id, size_t n, const char *arg) {
    if (strcmp(arg, "-") != 0) {
        if (strlen(arg) >= n)
            return fail("registry: the identity number is too long");
        strcpy(id, arg);
        return EXIT_OK;
    }
    if (!fgets(id, (int)n, stdin))
        return fail("registry: expected an identity number on stdin");
    id[strcspn(id, "\r\n")] = 0;
    return EXIT_OK;
}

/* registry find / registry id */
static int registry_lookup(int argc, char **argv, bool find) {
    static const char *const allowed[] = {"space", NULL};
    const char *cmd = find ? "registry find" : "registry id";
    tool_args a;
    int rc = parse_common(&a, argc, argv, allowed, cmd,
                          find ? "registry find REPLICA --space S ID_NUMBER"
                               : "registry id REPLICA --space S ID_NUMBER",
                          2);
    if (rc != EXIT_OK)
        return rc;
    char id[64];
    if ((rc = read_id(id, sizeof id, a.pos[1])) != EXIT_OK)
        return rc;
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK)
        return rc;
    char space[33];
    if ((rc = domain_space(r, tool_opt(&a, "space"), space)) != EXIT_OK) {
        memset(id, 0, sizeof id);
        dc_replica_close(r);
        return rc;
    }
    dc_buf out = DC_BUF_INIT;
    int lrc =
        find ? dc_registry_find(&out, r, space, id) : dc_registry_driver_id(&out, r, space, id);
    memset(id, 0, sizeof id);
    if (lrc != 0) {
        rc = fail_r(r, lrc, cmd);
    } else if (find) {
        print_buf(&out);
        rc = EXIT_OK;
    } else {
        printf("{\"driver\":\"%s\"}\n", (const char *)out.ptr);
        rc = EXIT_OK;
    }
    dc_buf_dispose(&out);
    dc_replica_close(r);
    return rc;
}

/* ---- registry spaces that follow the organisation ---- */

static int print_space(dc_replica *r, int lrc, dc_buf *b, const char *what) {
    if (lrc == DC_EINVAL)
        return usage_error("%s", dc_replica_errmsg(r));
    if (lrc != 0)
        return fail_r(r, lrc, what);
    printf("{\"space\":\"%s\"}\n", (const char *)b->ptr);
    return EXIT_OK;
}

static int registry_create(int argc, char **argv) {
    static const char *const allowed[] = {"region", "name", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, allowed, "registry create");
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error("registry create: expected REPLICA (registry create REPLICA "
                           "[--region 520000] [--name N])");
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK)
        return rc;
    dc_buf b = DC_BUF_INIT;
    const char *region = tool_opt(&a, "region");
    rc = print_space(r, dc_registry_create(&b, r, region ? region : "520000", tool_opt(&a, "name")),
                     &b, "registry create");
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

static int registry_part(int argc, char **argv) {
    static const char *const allowed[] = {"root", "region", "branch", "name", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 3, allowed, "registry part");
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1 || !tool_opt(&a, "root") || !tool_opt(&a, "region"))
        return usage_error("registry part: expected REPLICA --root R --region CODE "
                           "[--branch ORG] [--name N]");
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK)
        return rc;
    char root[33];
    if ((rc = domain_space(r, tool_opt(&a, "root"), root)) == EXIT_OK) {
        dc_registry_part_options o = DC_REGISTRY_PART_OPTIONS_INIT;
        o.root = root;
        o.region = tool_opt(&a, "region");
        o.branch = tool_opt(&a, "branch");
        o.name = tool_opt(&a, "name");
        dc_buf b = DC_BUF_INIT;
        rc = print_space(r, dc_registry_part_create(&b, r, &o), &b, "registry part");
        dc_buf_dispose(&b);
    }
    dc_replica_close(r);
    return rc;
}

static int registry_enrol(int argc, char **argv) {
    static const char *const allowed[] = {"space", "role", NULL};
    tool_args a;
    int rc =
        parse_common(&a, argc, argv, allowed, "registry enrol",
                     "registry enrol REPLICA --space PART CARD [--role member|reader|admin]", 2);
    if (rc != EXIT_OK)
        return rc;
    int role = DC_ROLE_MEMBER;
    if (tool_opt(&a, "role") && (role = dc_role_parse(tool_opt(&a, "role"))) < 0)
        return usage_error("registry enrol: unknown role '%s' (member, reader or admin)",
                           tool_opt(&a, "role"));
    size_t n;
    char *card;
    if (a.pos[1][0] == '@') {
        int err;
        if (!(card = read_file(a.pos[1] + 1, &n, &err)))
            return fail("registry enrol: cannot read the card from '%s': %s", a.pos[1] + 1,
                        strerror(err));
    } else if (!(card = strdup(a.pos[1]))) {
        return fail("out of memory");
    }
    n = strlen(card);
    while (n && (card[n - 1] == '\n' || card[n - 1] == '\r' || card[n - 1] == ' '))
        card[--n] = '\0';
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK) {
        free(card);
        return rc;
    }
    char space[33];
    if ((rc = domain_space(r, tool_opt(&a, "space"), space)) == EXIT_OK) {
        int lrc = dc_registry_enrol(r, space, card, role);
        if (lrc == DC_EINVAL)
            rc = usage_error("registry enrol: %s", dc_replica_errmsg(r));
        else if (lrc)
            rc = fail_r(r, lrc, "registry enrol");
        else
            printf("{\"space\":\"%s\",\"role\":\"%s\"}\n", space, dc_role_name(role));
    }
    free(card);
    dc_replica_close(r);
    return rc;
}

static int registry_spaces(int argc, char **argv) {
    tool_args a;
    static const char *const allowed[] = {NULL};
    int rc = tool_parse(&a, argc, argv, 3, allowed, "registry spaces");
    if (rc != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error("registry spaces: expected REPLICA");
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK)
        return rc;
    dc_buf b = DC_BUF_INIT;
    int lrc = dc_registry_spaces(&b, r);
    if (lrc)
        rc = fail_r(r, lrc, "registry spaces");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

static int registry_move(int argc, char **argv) {
    static const char *const allowed[] = {"space", "to", "branch", "no-cases!", "date", NULL};
    tool_args a;
    int rc = parse_common(&a, argc, argv, allowed, "registry move",
                          "registry move REPLICA --space FROM DRIVER --to PART [--branch ORG] "
                          "[--no-cases] [--date DATE]",
                          2);
    if (rc != EXIT_OK)
        return rc;
    if (!tool_opt(&a, "to") || !*tool_opt(&a, "to"))
        return usage_error("registry move: --to PART is required (the registry space that "
                           "keeps him from now on)");
    dc_replica *r;
    if ((rc = open_existing(&r, a.pos[0])) != EXIT_OK)
        return rc;
    char from[33], to[33];
    if ((rc = domain_space(r, tool_opt(&a, "space"), from)) == EXIT_OK &&
        (rc = domain_space(r, tool_opt(&a, "to"), to)) == EXIT_OK) {
        dc_registry_move_options o = DC_REGISTRY_MOVE_OPTIONS_INIT;
        o.branch = tool_opt(&a, "branch");
        o.keep_cases = tool_opt(&a, "no-cases") != NULL;
        o.date = tool_opt(&a, "date");
        dc_buf b = DC_BUF_INIT;
        int lrc = dc_registry_move(&b, r, from, a.pos[1], to, &o);
        if (lrc == DC_EINVAL)
            rc = usage_error("%s", dc_replica_errmsg(r));
        else if (lrc)
            rc = fail_r(r, lrc, "registry move");
        else
            print_buf(&b);
        dc_buf_dispose(&b);
    }
    dc_replica_close(r);
    return rc;
}

int cmd_registry(int argc, char **argv) {
    if (argc < 3)
        return usage_error("registry: expected a subcommand: import, conflicts, find, id, "
                           "create, part, enrol, spaces or move");
    const char *sub = argv[2];
    if (strcmp(sub, "create") == 0)
        return registry_create(argc, argv);
    if (strcmp(sub, "part") == 0)
        return registry_part(argc, argv);
    if (strcmp(sub, "enrol") == 0)
        return registry_enrol(argc, argv);
    if (strcmp(sub, "spaces") == 0)
        return registry_spaces(argc, argv);
    if (strcmp(sub, "move") == 0)
        return registry_move(argc, argv);
    if (strcmp(sub, "import") == 0)
        return registry_import(argc, argv);
    if (strcmp(sub, "conflicts") == 0)
        return registry_conflicts(argc, argv);
    if (strcmp(sub, "find") == 0)
        return registry_lookup(argc, argv, true);
    if (strcmp(sub, "id") == 0)
        return registry_lookup(argc, argv, false);
    return usage_error("registry: unknown subcommand '%s' (expected import, conflicts, find, "
                       "id, create, part, enrol, spaces or move)",
                       sub);
}
