/*
 * versions_tool — one program built twice: against this library, and
 * against a test build of a *future* one (DC_TEST_FUTURE: it reads change
 * body version 3, which adds op kind 6, and has one more schema step).
 * test_versions.py drives both to show what docs/data-model.md ("Versions")
 * promises: an older library keeps, passes on and shows around what a newer
 * one wrote, and applies it once upgraded; a newer library opens and
 * migrates an older replica; an older one refuses a newer replica's file
 * without touching it.
 *
 *   versions_tool version                      {"body": N, "schema": N}
 *   versions_tool init DB NAME                 a replica; prints its card
 *   versions_tool create DB NAME               a space; prints its id
 *   versions_tool add DB SPACE CARD_FILE       grants the card's device
 *   versions_tool accept DB SPACE
 *   versions_tool write DB SPACE ID            a v1 change and a v2 one (a float)
 *   versions_tool write-future DB SPACE ID     a v3 change (future build only)
 *   versions_tool export DB FILE | import DB FILE
 *   versions_tool dump DB | status DB
 *
 * Every command prints one JSON object (or the dump) on stdout; a failure
 * prints the error on stderr and exits 1 — with the error's name, so that
 * the driver can tell DC_EVERSION from the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivercore.h"
#include "replica/replica_int.h"
#include "store/store_int.h"

static int fail(dc_replica *r, const char *what, int rc) {
    fprintf(stderr, "versions_tool: %s: %s: %s\n", what, dc_error_name(rc),
            r ? dc_replica_errmsg(r) : dc_error_last());
    return 1;
}

static int open_db(dc_replica **r, const char *path, const char *name, int must_exist) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.must_exist = must_exist;
    o.device_name = name;
    return dc_replica_open(r, path, &o);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Writes one change of kind DC_OP_FUTURE_SET through the internal commit
 * path (the public API of the future build has no call for it). */
#ifdef DC_TEST_FUTURE
static int write_future(dc_replica *r, const char *space, const char *id) {
    uint8_t sid[16];
    dc__space sp;
    dc__err e = {0};
    if (dc__space_id_parse(r, space, sid) || dc__store_space_get(r->st, sid, &sp, &r->err))
        return fail(r, "space", r->err.code);
    if (dc__store_begin(r->st, &e))
        return fail(r, "begin", e.code);
    dc__op op;
    memset(&op, 0, sizeof op);
    op.kind = DC_OP_FUTURE_SET;
    op.type = (dc__str){"note", 4};
    op.id = (dc__str){id, (uint32_t)strlen(id)};
    op.field = (dc__str){"from_the_future", 15};
    op.val = (dc__value){DC_STR, 0, "written by a newer app", 22};
    dc_hlc h = dc__clock_tick(&r->clock);
    uint8_t cid[32];
    dc__buf_clear(&r->body);
    int rc = dc__body_encode(&r->body, &op, 1, &e);
    if (!rc)
        rc = dc__envelope_new(r, &sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, h, h, NULL,
                              cid, &e);
    if (rc || (rc = dc__store_hlc_save(r->st, r->clock.last, &e)) ||
        (rc = dc__store_commit(r->st, &e))) {
        dc__store_rollback(r->st);
        fprintf(stderr, "versions_tool: write-future: %s\n", e.msg);
        return 1;
    }
    printf("{\"written\":1}\n");
    return 0;
}
#endif

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "version") == 0) {
        printf("{\"body\":%d,\"schema\":%d}\n", DC_BODY_VERSION_MAX, dc__store_schema_latest());
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: versions_tool COMMAND DB ...\n");
        return 2;
    }
    const char *cmd = argv[1], *db = argv[2];
    dc_replica *r = NULL;
    int rc = open_db(&r, db, argc > 3 ? argv[3] : "dev", strcmp(cmd, "init") != 0);
    if (rc)
        return fail(NULL, "open", rc);
    dc_buf out = DC_BUF_INIT;
    int ret = 0;
    if (strcmp(cmd, "init") == 0) {
        rc = dc_replica_card(&out, r);
    } else if (strcmp(cmd, "create") == 0 && argc == 4) {
        rc = dc_space_create(&out, r, argv[3]);
    } else if (strcmp(cmd, "add") == 0 && argc == 5) {
        const char *card = slurp(argv[4]);
        rc = card ? dc_space_add(r, argv[3], card, DC_ROLE_MEMBER) : DC_EIO;
    } else if (strcmp(cmd, "accept") == 0 && argc == 4) {
        rc = dc_space_accept(r, argv[3], 0);
    } else if (strcmp(cmd, "write") == 0 && argc == 5) {
        dc_txn *t;
        dc_value f = {DC_FLOAT, 0, 106.7135, NULL, 0};
        if (!(rc = dc_txn_begin(&t, r, argv[3])) &&
            !(rc = dc_txn_set(t, "note", argv[4], "text", DC_STR, 0, "body version 1")))
            rc = dc_txn_commit(t, NULL);
        if (!rc && !(rc = dc_txn_begin(&t, r, argv[3])) &&
            !(rc = dc_txn_set_value(t, "note", argv[4], "lon", &f)))
            rc = dc_txn_commit(t, NULL);
    } else if (strcmp(cmd, "write-future") == 0 && argc == 5) {
#ifdef DC_TEST_FUTURE
        ret = write_future(r, argv[3], argv[4]);
#else
        fprintf(stderr, "versions_tool: write-future: only the future build writes version 3\n");
        ret = 2;
#endif
    } else if (strcmp(cmd, "export") == 0 && argc == 4) {
        rc = dc_bundle_export_file(r, argv[3], NULL);
    } else if (strcmp(cmd, "import") == 0 && argc == 4) {
        rc = dc_bundle_import_file(r, argv[3], &out);
    } else if (strcmp(cmd, "dump") == 0) {
        rc = dc_replica_dump(&out, r, NULL);
    } else if (strcmp(cmd, "status") == 0) {
        rc = dc_replica_status(&out, r);
    } else {
        fprintf(stderr, "versions_tool: unknown command or arguments\n");
        ret = 2;
    }
    if (rc)
        ret = fail(r, cmd, rc);
    else if (strcmp(cmd, "create") == 0)
        printf("{\"space\":\"%s\"}\n", (const char *)out.ptr);
    else if (out.size)
        printf("%s\n", (const char *)out.ptr);
    dc_buf_dispose(&out);
    dc_replica_close(r);
    return ret;
}
