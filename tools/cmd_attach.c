/*
 * `drivercore attach put|get|ls|policy|gc`: files in a space
 * (docs/attachments.md) from the command line, over include/drivercore/
 * attach.h.  A put prints the attachment's id, the text a record field
 * holds to reference the file; chunks travel at the next `drivercore
 * sync --relay`.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static int put(const tool_args *a) {
    if (a->npos != 4)
        return usage_error("attach put: expected: drivercore attach put REPLICA SPACE FILE "
                           "[--type MEDIA_TYPE]");
    dc_replica *r = NULL;
    int rc = open_existing(&r, a->pos[1]);
    if (rc)
        return rc;
    char id[DC_ATTACH_ID_SIZE];
    int64_t size = 0;
    uint32_t total = 0;
    rc = dc_attach_put_file(id, r, a->pos[2], tool_opt(a, "type"), a->pos[3]);
    if (!rc)
        rc = dc_attach_stat(&size, NULL, &total, r, a->pos[2], id);
    if (rc)
        rc = fail_r(r, rc, "attach put");
    else
        rc = tool_print_json(json_pack("{s:s,s:I,s:I}", "id", id, "size", (json_int_t)size,
                                       "chunks", (json_int_t)total));
    dc_replica_close(r);
    return rc;
}

static int get(const tool_args *a) {
    if (a->npos != 5)
        return usage_error("attach get: expected: drivercore attach get REPLICA SPACE ID OUT");
    dc_replica *r = NULL;
    int rc = open_existing(&r, a->pos[1]);
    if (rc)
        return rc;
    int64_t size = 0;
    rc = dc_attach_get_file(r, a->pos[2], a->pos[3], a->pos[4]);
    if (!rc)
        rc = dc_attach_stat(&size, NULL, NULL, r, a->pos[2], a->pos[3]);
    if (rc)
        rc = fail_r(r, rc, "attach get");
    else
        rc = tool_print_json(json_pack("{s:s,s:I,s:s}", "id", a->pos[3], "size", (json_int_t)size,
                                       "path", a->pos[4]));
    dc_replica_close(r);
    return rc;
}

static int ls(const tool_args *a) {
    if (a->npos != 2 && a->npos != 3)
        return usage_error("attach ls: expected: drivercore attach ls REPLICA [SPACE]");
    dc_replica *r = NULL;
    int rc = open_existing(&r, a->pos[1]);
    if (rc)
        return rc;
    dc_buf b = DC_BUF_INIT;
    rc = dc_attach_ls(&b, r, a->npos == 3 ? a->pos[2] : NULL);
    if (rc)
        rc = fail_r(r, rc, "attach ls");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

static int policy(const tool_args *a) {
    static const char use[] =
        "attach policy: expected: drivercore attach policy REPLICA SPACE all|on-demand|under "
        "[--max-bytes N]";
    if (a->npos != 4)
        return usage_error("%s", use);
    const char *m = a->pos[3], *mb = tool_opt(a, "max-bytes");
    int mode = strcmp(m, "all") == 0         ? DC_ATTACH_FETCH_ALL
               : strcmp(m, "on-demand") == 0 ? DC_ATTACH_FETCH_ON_DEMAND
               : strcmp(m, "under") == 0     ? DC_ATTACH_FETCH_UNDER
                                             : 0;
    char *end = NULL;
    long long max = mb ? strtoll(mb, &end, 10) : 0;
    if (!mode || (mode == DC_ATTACH_FETCH_UNDER) != (mb != NULL) || (mb && (*end || max < 0)))
        return usage_error("%s (--max-bytes with `under` only)", use);
    dc_replica *r = NULL;
    int rc = open_existing(&r, a->pos[1]);
    if (rc)
        return rc;
    rc = dc_attach_policy_set(r, a->pos[2], mode, (uint64_t)max);
    if (rc)
        rc = fail_r(r, rc, "attach policy");
    else
        rc = tool_print_json(json_pack("{s:s,s:s,s:I}", "space", a->pos[2], "policy", m,
                                       "max_bytes", (json_int_t)max));
    dc_replica_close(r);
    return rc;
}

static int gc(const tool_args *a) {
    if (a->npos != 2 && a->npos != 3)
        return usage_error(
            "attach gc: expected: drivercore attach gc REPLICA [SPACE] [--min-age SECONDS]");
    const char *ma = tool_opt(a, "min-age");
    char *end = NULL;
    long long age = ma ? strtoll(ma, &end, 10) : 86400;
    if ((ma && *end) || age < 0 || age > 100LL * 365 * 86400)
        return usage_error("attach gc: --min-age takes seconds (default 86400)");
    dc_replica *r = NULL;
    int rc = open_existing(&r, a->pos[1]);
    if (rc)
        return rc;
    uint64_t removed = 0;
    rc = dc_attach_gc(&removed, r, a->npos == 3 ? a->pos[2] : NULL, age * 1000);
    if (rc)
        rc = fail_r(r, rc, "attach gc");
    else
        rc = tool_print_json(json_pack("{s:I}", "removed", (json_int_t)removed));
    dc_replica_close(r);
    return rc;
}

int cmd_attach(int argc, char **argv) {
    static const char *const opts[] = {"type", "max-bytes", "min-age", NULL};
    tool_args a;
    int rc = tool_parse(&a, argc, argv, 2, opts, "attach");
    if (rc)
        return rc;
    const char *sub = a.npos ? a.pos[0] : "";
    if (strcmp(sub, "put") == 0)
        return put(&a);
    if (strcmp(sub, "get") == 0)
        return get(&a);
    if (strcmp(sub, "ls") == 0)
        return ls(&a);
    if (strcmp(sub, "policy") == 0)
        return policy(&a);
    if (strcmp(sub, "gc") == 0)
        return gc(&a);
    return usage_error("attach: unknown subcommand '%s' (expected put, get, ls, policy or gc)",
                       sub);
}
