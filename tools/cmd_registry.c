/*
 * `drivercore registry ...`: the driver registry (台账) from a terminal, for
 * the registry staff who receive the two lines' lists as CSV files.
 *
 *   registry import REPLICA --space S --source organisation|transport --round N FILE
 *   registry conflicts REPLICA --space S
 *   registry find REPLICA --space S ID_NUMBER     (ID_NUMBER "-": read it from stdin)
 *   registry id REPLICA --space S ID_NUMBER       ({"driver": "drv-..."})
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

#include "tool.h"

static const char USAGE_IMPORT[] =
    "registry import REPLICA --space S --source organisation|transport --round N FILE";

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
    static const char *const allowed[] = {"space", "source", "round", NULL};
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
    dc_buf report = DC_BUF_INIT;
    int lrc = dc_registry_import_csv(&report, r, tool_opt(&a, "space"), source, (int)round,
                                     (const uint8_t *)data, n);
    free(data);
    if (lrc != 0) {
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
    dc_buf out = DC_BUF_INIT;
    int lrc = dc_registry_conflicts(&out, r, tool_opt(&a, "space"));
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
    dc_buf out = DC_BUF_INIT;
    int lrc = find ? dc_registry_find(&out, r, tool_opt(&a, "space"), id)
                   : dc_registry_driver_id(&out, r, tool_opt(&a, "space"), id);
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

int cmd_registry(int argc, char **argv) {
    if (argc < 3)
        return usage_error("registry: expected a subcommand: import, conflicts, find or id");
    const char *sub = argv[2];
    if (strcmp(sub, "import") == 0)
        return registry_import(argc, argv);
    if (strcmp(sub, "conflicts") == 0)
        return registry_conflicts(argc, argv);
    if (strcmp(sub, "find") == 0)
        return registry_lookup(argc, argv, true);
    if (strcmp(sub, "id") == 0)
        return registry_lookup(argc, argv, false);
    return usage_error("registry: unknown subcommand '%s' (expected import, conflicts, find or "
                       "id)",
                       sub);
}
