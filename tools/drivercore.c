/*
 * drivercore — the command-line tool over the public C API.  It exists so
 * that shell scripts, the demo and tests written outside this repository
 * can drive a replica without writing C: create one, manage spaces, apply
 * transactions given as JSON lines, dump the canonical state, and carry
 * changes between replicas as bundle files.  Its command names, arguments,
 * JSON output and exit codes are a stable interface (issue 2, "The
 * `drivercore` tool"): data goes to stdout as JSON, errors go to stderr as
 * "drivercore: <what failed>: <why>", the exit code is 0 on success, 1 when
 * an operation failed and 2 for a usage error.  The tool only uses the
 * public headers, so it also proves that the API is enough to build on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>
#include <sodium.h>

#include "drivercore.h"
#include "tool.h"

#ifndef DRIVERCORE_TOOL_VERSION
#define DRIVERCORE_TOOL_VERSION "unknown"
#endif

static const char usage_text[] =
    "usage: drivercore COMMAND ...\n"
    "\n"
    "  init REPLICA [--name NAME]          create a replica; print its device card\n"
    "  whoami REPLICA                      print the device card\n"
    "  space create REPLICA NAME           create a space; print {\"space\": ID}\n"
    "  space add REPLICA SPACE CARD [--role admin|member|reader]\n"
    "                                      add a device (CARD: JSON or @file);\n"
    "                                      default role: member\n"
    "  space remove REPLICA SPACE DEVICE   remove a member and rotate the key\n"
    "  space role REPLICA SPACE DEVICE ROLE  change a member's role\n"
    "  space rotate REPLICA SPACE          rotate the space key (a suspected leak)\n"
    "  space accept REPLICA SPACE [--directory]\n"
    "                                      accept an invitation (the device's directory)\n"
    "  space decline REPLICA SPACE         decline a space: its keys and data go\n"
    "  space list REPLICA                  the spaces this replica knows\n"
    "  space members REPLICA SPACE         the members of a space\n"
    "  space ack REPLICA SPACE             state what this device holds (for compaction)\n"
    "  space compact REPLICA SPACE [--horizon-days N]\n"
    "                                      compact the history (docs/data-model.md)\n"
    "  space snapshot REPLICA SPACE FILE   write the compacted space's signed snapshot\n"
    "  space load REPLICA FILE             start a space from a snapshot, then sync\n"
    "  apply REPLICA [FILE]                apply JSON lines (FILE or stdin), one\n"
    "                                      transaction per line:\n"
    "                                      {\"space\": S, \"ops\": [OP, ...]}\n"
    "                                      values: strings, integers, floats (1.5),\n"
    "                                      booleans, null, {\"@bytes\": BASE64}\n"
    "  dump REPLICA [--space S]            the canonical live state\n"
    "  status REPLICA                      clock, changes and held changes\n"
    "  bundle export REPLICA FILE [--space S]\n"
    "  bundle import REPLICA FILE [--set-aside]\n"
    "                                      all or nothing (or set bad items aside)\n"
    "  sync REPLICA PEER_REPLICA           two-way sync of two local replicas\n"
    "  sync REPLICA --relay URL [--wait S] [--attempts N] [--timeout S] [--metered]\n"
    "                                      sync through a relay (drivercore-relay)\n"
    "                                      or a tablet (serve); up to N attempts;\n"
    "                                      a request stalled S seconds is retried\n"
    "      [--ca-file PEM] [--pin-key sha256//BASE64]\n"
    "                                      an https:// relay checked against these\n"
    "                                      CAs and/or its public key (pinned)\n"
    "                                      (after the records, the attachments: pushed,\n"
    "                                      and fetched by each space's policy; --metered:\n"
    "                                      the link costs money)\n"
    "  serve REPLICA --listen HOST:PORT    be the sync peer of phones (no relay)\n"
    "  vacuum REPLICA                      give the pages compaction freed back to the\n"
    "                                      file system: {bytes_before, bytes_after, ...}\n"
    "  recover REPLICA                     a cloned replica (a restored backup) takes a\n"
    "                                      new identity, keeping its data; print the new\n"
    "                                      card for an admin to add (docs/recovery.md)\n"
    "  attach put REPLICA SPACE FILE [--type MEDIA_TYPE]\n"
    "                                      store a file in a space; print {\"id\": ...},\n"
    "                                      the text a record field holds to reference it\n"
    "  attach get REPLICA SPACE ID OUT     write the file to OUT (all chunks checked)\n"
    "  attach ls REPLICA [SPACE]           the attachments known, chunks held of each\n"
    "  attach policy REPLICA SPACE all|on-demand|under [--max-bytes N]\n"
    "                                      what a sync fetches (under: on --metered\n"
    "                                      links only files up to N bytes)\n"
    "  attach gc REPLICA [SPACE] [--min-age S]\n"
    "                                      drop attachments no record references\n"
    "                                      (known for at least S seconds; 86400)\n"
    "  keygen KEY_FILE                     a new random at-rest key (0600, 64 hex digits)\n"
    "  rekey REPLICA [--new-key-file PATH] encrypt the replica under a new key (or the\n"
    "                                      passphrase in DRIVERCORE_NEW_PASSPHRASE)\n"
    "\n"
    "The domain (docs/domain.md); `drivercore COMMAND` alone lists its subcommands:\n"
    "  registry import|conflicts|find|id   the driver registry, two lines, rounds\n"
    "  case file|step|show                 grievances under the 12328 rule\n"
    "  calendar publish|show|due           the holiday calendar, working days\n"
    "  region, org, station, checkin       regions, organisations, Driver's Homes\n"
    "  branch, secretary, study, liaison   branches (four principles), task lists,\n"
    "                                      online study, liaison chains\n"
    "  stats REPLICA [--space S] --json    the report's table, from the records\n"
    "  demo-data province REPLICA --seed N [--scale F]\n"
    "                                      a generated province (257,000 drivers)\n"
    "  help, --help                        this text\n"
    "  --version                           the tool and library versions\n"
    "\n"
    "OP is one of:\n"
    "  {\"type\": T, \"id\": I, \"set\": {FIELD: VALUE, ...}}\n"
    "  {\"type\": T, \"id\": I, \"add\": {FIELD: [VALUE, ...], ...}}\n"
    "  {\"type\": T, \"id\": I, \"remove\": {FIELD: [VALUE, ...], ...}}\n"
    "  {\"type\": T, \"id\": I, \"event\": {KEY: VALUE, ...}}\n"
    "  {\"type\": T, \"id\": I, \"delete\": true}\n"
    "VALUE is a JSON string, integer (64-bit), boolean or null.\n"
    "\n"
    "Encryption at rest (docs/format/at-rest.md), for every command that opens a replica:\n"
    "  --key-file PATH                     the key: 32 bytes or 64 hex digits, mode 0600\n"
    "  DRIVERCORE_PASSPHRASE               or a passphrase (Argon2id)\n"
    "A replica in clear opened with a key is encrypted, once; without a key a replica\n"
    "stays in clear, and an encrypted one is refused.\n"
    "\n"
    "Environment: DRIVERCORE_NOW_MS pins the wall clock (ms since the epoch);\n"
    "DRIVERCORE_INSTALL_ID names this installation (a replica last opened under\n"
    "another is marked cloned: docs/recovery.md).\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

/* ---- output ---- */

/* JSON the tool builds itself (steals the reference). */
static int print_json(json_t *j) {
    return tool_print_json(j);
}

/* ---- command-line arguments (tool_parse, in tool.c) ---- */

static const char *const OPTS_NONE[] = {NULL};
static const char *const OPTS_NAME[] = {"name", NULL};
static const char *const OPTS_ROLE[] = {"role", NULL};
static const char *const OPTS_SPACE[] = {"space", NULL};

static int want_pos(const tool_args *a, int min, int max, const char *cmd, const char *synopsis) {
    if (a->npos < min || a->npos > max)
        return usage_error("%s: expected: drivercore %s", cmd, synopsis);
    return EXIT_OK;
}

/* ---- commands: identity ---- */

static int print_card(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    int rc = dc_replica_card(&b, r);
    if (rc != 0) {
        dc_buf_dispose(&b);
        return fail_r(r, rc, "device card");
    }
    print_buf(&b);
    dc_buf_dispose(&b);
    return EXIT_OK;
}

static int cmd_init(int argc, char **argv) {
    tool_args a;
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    dc_replica *r = NULL;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, OPTS_NAME, "init")) != 0 ||
        (rc = want_pos(&a, 1, 1, "init", "init REPLICA [--name NAME]")) != 0)
        return rc;
    /* dc_replica_open would happily open an existing replica; creating one
     * must never silently reuse somebody's identity, so refuse here. */
    if (path_exists(a.pos[0]))
        return fail("init: '%s' already exists; not overwriting it (use `drivercore whoami "
                    "%s` to see its card)",
                    a.pos[0], a.pos[0]);
    o.device_name = tool_opt(&a, "name");
    o.must_exist = 0;
    tool_clock_options(&o);
    tool_key_options(&o);
    rc = dc_replica_open(&r, a.pos[0], &o);
    if (rc != 0)
        return fail("init: cannot create replica '%s': %s", a.pos[0],
                    *dc_error_last() ? dc_error_last() : dc_strerror(rc));
    rc = print_card(r);
    dc_replica_close(r);
    return rc;
}

static int cmd_whoami(int argc, char **argv) {
    tool_args a;
    dc_replica *r;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, OPTS_NONE, "whoami")) != 0 ||
        (rc = want_pos(&a, 1, 1, "whoami", "whoami REPLICA")) != 0)
        return rc;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    rc = print_card(r);
    dc_replica_close(r);
    return rc;
}

/* ---- commands: spaces ---- */

static int space_create(const tool_args *a) {
    dc_replica *r;
    dc_buf id = DC_BUF_INIT;
    int rc;
    if ((rc = want_pos(a, 2, 2, "space create", "space create REPLICA NAME")) != 0)
        return rc;
    if ((rc = open_existing(&r, a->pos[0])) != 0)
        return rc;
    rc = dc_space_create(&id, r, a->pos[1]);
    if (rc != 0) {
        rc = fail_r(r, rc, "space create");
    } else {
        rc = print_json(json_pack("{s:s%}", "space", (const char *)id.ptr, id.size));
    }
    dc_buf_dispose(&id);
    dc_replica_close(r);
    return rc;
}

static int space_add(const tool_args *a) {
    dc_replica *r = NULL;
    char *card = NULL;
    json_t *cj = NULL, *dev;
    json_error_t jerr;
    int role = DC_ROLE_MEMBER, rc;
    size_t n;
    if ((rc = want_pos(a, 3, 3, "space add",
                       "space add REPLICA SPACE CARD [--role admin|member|reader]")) != 0)
        return rc;
    if (tool_opt(a, "role")) {
        role = dc_role_parse(tool_opt(a, "role"));
        if (role < 0 || dc_role_name(role) == NULL)
            return usage_error("space add: unknown role '%s' (expected admin, member or "
                               "reader)",
                               tool_opt(a, "role"));
    }
    if (a->pos[2][0] == '@') {
        int err;
        card = read_file(a->pos[2] + 1, &n, &err);
        if (!card)
            return fail("space add: cannot read the card from '%s': %s", a->pos[2] + 1,
                        strerror(err));
    } else {
        n = strlen(a->pos[2]);
        card = malloc(n + 1);
        if (!card)
            return fail("out of memory");
        memcpy(card, a->pos[2], n + 1);
    }
    /* A card saved with `whoami > card.json` ends in a newline; trim it so
     * the library sees exactly the JSON object. */
    while (n > 0 && (card[n - 1] == '\n' || card[n - 1] == '\r' || card[n - 1] == ' ' ||
                     card[n - 1] == '\t'))
        card[--n] = '\0';
    /* The tool reads the card only to report which device was added; the
     * library checks everything that matters (shape, keys, signature). */
    cj = json_loadb(card, n, JSON_REJECT_DUPLICATES, &jerr);
    dev = cj ? json_object_get(cj, "device") : NULL;
    if (!cj || !json_is_string(dev)) {
        rc = fail("space add: the card is not a device card (a JSON object with \"device\", "
                  "as printed by `drivercore whoami`)%s%s",
                  cj ? "" : ": ", cj ? "" : jerr.text);
        goto out;
    }
    if ((rc = open_existing(&r, a->pos[0])) != 0)
        goto out;
    rc = dc_space_add(r, a->pos[1], card, role);
    if (rc != 0) {
        rc = fail_r(r, rc, "space add");
        goto out;
    }
    rc = print_json(
        json_pack("{s:s,s:O,s:s}", "space", a->pos[1], "device", dev, "role", dc_role_name(role)));
out:
    json_decref(cj);
    free(card);
    dc_replica_close(r);
    return rc;
}

/* space list / space members: both print library JSON as is. */
static int space_show(const tool_args *a, bool members) {
    dc_replica *r;
    dc_buf b = DC_BUF_INIT;
    int rc;
    if (members)
        rc = want_pos(a, 2, 2, "space members", "space members REPLICA SPACE");
    else
        rc = want_pos(a, 1, 1, "space list", "space list REPLICA");
    if (rc != 0)
        return rc;
    if ((rc = open_existing(&r, a->pos[0])) != 0)
        return rc;
    rc = members ? dc_space_members(&b, r, a->pos[1]) : dc_space_list(&b, r);
    if (rc != 0)
        rc = fail_r(r, rc, members ? "space members" : "space list");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

/* A device as the membership commands take it: a hex id, a card, or
 * @FILE holding a card.  Returns a malloc'd string or NULL (message
 * printed, *rc set). */
static char *device_arg(const char *arg, const char *what, int *rc) {
    size_t n;
    char *d;
    if (arg[0] == '@') {
        int err;
        d = read_file(arg + 1, &n, &err);
        if (!d) {
            *rc = fail("%s: cannot read the card from '%s': %s", what, arg + 1, strerror(err));
            return NULL;
        }
        while (n > 0 && (d[n - 1] == '\n' || d[n - 1] == '\r' || d[n - 1] == ' '))
            d[--n] = '\0';
        return d;
    }
    if (!(d = strdup(arg)))
        *rc = fail("out of memory");
    return d;
}

/* The space's current epoch, for the JSON of rotate and remove. */
static json_int_t space_epoch(dc_replica *r, const char *space) {
    dc_buf b = DC_BUF_INIT;
    json_int_t epoch = -1;
    if (dc_space_list(&b, r) == 0) {
        json_t *l = json_loadb((const char *)b.ptr, b.size, 0, NULL);
        for (size_t i = 0; i < json_array_size(l); i++) {
            json_t *sp = json_array_get(l, i);
            const char *id = json_string_value(json_object_get(sp, "space"));
            if (id && strcmp(id, space) == 0)
                epoch = json_integer_value(json_object_get(sp, "epoch"));
        }
        json_decref(l);
    }
    dc_buf_dispose(&b);
    return epoch;
}

/* space remove | role | rotate | accept | decline */
static int space_member_cmd(const char *sub, const tool_args *a) {
    static const struct {
        const char *sub;
        int npos;
        const char *synopsis;
    } forms[] = {
        {"remove", 3, "space remove REPLICA SPACE DEVICE"},
        {"role", 4, "space role REPLICA SPACE DEVICE ROLE"},
        {"rotate", 2, "space rotate REPLICA SPACE"},
        {"accept", 2, "space accept REPLICA SPACE [--directory]"},
        {"decline", 2, "space decline REPLICA SPACE"},
    };
    size_t f = 0;
    while (strcmp(forms[f].sub, sub) != 0)
        f++;
    char what[32];
    snprintf(what, sizeof what, "space %s", sub);
    int rc = want_pos(a, forms[f].npos, forms[f].npos, what, forms[f].synopsis);
    if (rc)
        return rc;
    int role = 0;
    if (f == 1) {
        role = dc_role_parse(a->pos[3]);
        if (role < 0)
            return usage_error("space role: unknown role '%s' (expected admin, member or reader)",
                               a->pos[3]);
    }
    char *device = NULL;
    if (forms[f].npos >= 3 && !(device = device_arg(a->pos[2], what, &rc)))
        return rc;
    dc_replica *r;
    if ((rc = open_existing(&r, a->pos[0])) != 0) {
        free(device);
        return rc;
    }
    const char *space = a->pos[1];
    bool dir = tool_opt(a, "directory") != NULL;
    switch (f) {
    case 0: rc = dc_space_remove(r, space, device); break;
    case 1: rc = dc_space_set_role(r, space, device, role); break;
    case 2: rc = dc_space_rotate(r, space); break;
    case 3: rc = dc_space_accept(r, space, dir ? DC_ACCEPT_DIRECTORY : 0); break;
    default: rc = dc_space_decline(r, space); break;
    }
    if (rc != 0) {
        rc = fail_r(r, rc, what);
    } else {
        json_t *o = json_pack("{s:s}", "space", space);
        if (device && device[0] != '{')
            json_object_set_new(o, "device", json_string(device));
        if (f == 0)
            json_object_set_new(o, "removed", json_true());
        if (f == 1)
            json_object_set_new(o, "role", json_string(dc_role_name(role)));
        if (f == 0 || f == 2)
            json_object_set_new(o, "epoch", json_integer(space_epoch(r, space)));
        if (f == 3 || f == 4)
            json_object_set_new(o, "state", json_string(f == 3 ? "accepted" : "declined"));
        if (f == 3)
            json_object_set_new(o, "directory", json_boolean(dir));
        rc = print_json(o);
    }
    free(device);
    dc_replica_close(r);
    return rc;
}

/* space ack | compact (docs/data-model.md, "Compaction") */
static int space_compact_cmd(bool compact, const tool_args *a) {
    const char *what = compact ? "space compact" : "space ack";
    int rc = want_pos(a, 2, 2, what,
                      compact ? "space compact REPLICA SPACE [--horizon-days N]"
                              : "space ack REPLICA SPACE");
    if (rc)
        return rc;
    dc_compact_options o = {1, 0};
    const char *h = compact ? tool_opt(a, "horizon-days") : NULL;
    if (h) {
        char *end;
        long long d = strtoll(h, &end, 10);
        if (!*h || *end || d < 1 || d > 36500)
            return usage_error("space compact: --horizon-days wants a number of days, 1 to 36500");
        o.horizon_ms = (int64_t)d * 86400000LL;
    }
    dc_replica *r;
    if ((rc = open_existing(&r, a->pos[0])) != 0)
        return rc;
    dc_buf b = DC_BUF_INIT;
    rc = compact ? dc_space_compact(&b, r, a->pos[1], &o) : dc_space_ack(r, a->pos[1]);
    if (rc != 0) {
        rc = fail_r(r, rc, what);
    } else if (compact) {
        print_buf(&b);
    } else {
        json_t *o2 = json_pack("{s:s,s:b}", "space", a->pos[1], "acked", 1);
        rc = print_json(o2);
    }
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

/* space snapshot | load (docs/data-model.md, "Compaction") */
static int space_snapshot_cmd(bool load, const tool_args *a) {
    const char *what = load ? "space load" : "space snapshot";
    int rc = want_pos(a, load ? 2 : 3, load ? 2 : 3, what,
                      load ? "space load REPLICA FILE" : "space snapshot REPLICA SPACE FILE");
    if (rc)
        return rc;
    const char *file = a->pos[load ? 1 : 2];
    char *data = NULL;
    size_t n = 0;
    if (load) {
        int err;
        if (!(data = read_file(file, &n, &err)))
            return fail("space load: cannot read '%s': %s", file, strerror(err));
    }
    dc_replica *r;
    if ((rc = open_existing(&r, a->pos[0])) != 0) {
        free(data);
        return rc;
    }
    dc_buf b = DC_BUF_INIT;
    if (load) {
        rc = dc_space_snapshot_load(r, (const uint8_t *)data, n, &b);
        if (rc != 0)
            rc = fail_r(r, rc, what);
        else
            print_buf(&b);
    } else if ((rc = dc_space_snapshot(&b, r, a->pos[1])) != 0) {
        rc = fail_r(r, rc, what);
    } else {
        FILE *f = fopen(file, "wb");
        bool ok = f && fwrite(b.ptr, 1, b.size, f) == b.size;
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok) {
            rc = fail("space snapshot: cannot write '%s': %s", file, strerror(errno));
        } else {
            json_t *o = json_pack("{s:s,s:s,s:I}", "space", a->pos[1], "file", file, "bytes",
                                  (json_int_t)b.size);
            rc = print_json(o);
        }
    }
    free(data);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

static int cmd_space(int argc, char **argv) {
    static const char *const OPTS_ACCEPT[] = {"directory!", NULL};
    tool_args a;
    const char *sub = argc > 2 ? argv[2] : NULL;
    int rc;
    if (!sub)
        return usage_error("space: expected a subcommand: create, add, remove, role, rotate, "
                           "accept, decline, list or members");
    if (strcmp(sub, "create") == 0) {
        if ((rc = tool_parse(&a, argc, argv, 3, OPTS_NONE, "space create")) != 0)
            return rc;
        return space_create(&a);
    }
    if (strcmp(sub, "add") == 0) {
        if ((rc = tool_parse(&a, argc, argv, 3, OPTS_ROLE, "space add")) != 0)
            return rc;
        return space_add(&a);
    }
    if (strcmp(sub, "list") == 0 || strcmp(sub, "members") == 0) {
        bool members = sub[0] == 'm';
        if ((rc = tool_parse(&a, argc, argv, 3, OPTS_NONE,
                             members ? "space members" : "space list")) != 0)
            return rc;
        return space_show(&a, members);
    }
    if (strcmp(sub, "snapshot") == 0 || strcmp(sub, "load") == 0) {
        bool load = sub[0] == 'l';
        if ((rc = tool_parse(&a, argc, argv, 3, OPTS_NONE,
                             load ? "space load" : "space snapshot")) != 0)
            return rc;
        return space_snapshot_cmd(load, &a);
    }
    if (strcmp(sub, "ack") == 0 || strcmp(sub, "compact") == 0) {
        static const char *const OPTS_COMPACT[] = {"horizon-days", NULL};
        bool compact = sub[0] == 'c';
        if ((rc = tool_parse(&a, argc, argv, 3, compact ? OPTS_COMPACT : OPTS_NONE,
                             compact ? "space compact" : "space ack")) != 0)
            return rc;
        return space_compact_cmd(compact, &a);
    }
    if (strcmp(sub, "remove") == 0 || strcmp(sub, "role") == 0 || strcmp(sub, "rotate") == 0 ||
        strcmp(sub, "accept") == 0 || strcmp(sub, "decline") == 0) {
        char what[32];
        snprintf(what, sizeof what, "space %s", sub);
        if ((rc = tool_parse(&a, argc, argv, 3,
                             strcmp(sub, "accept") == 0 ? OPTS_ACCEPT : OPTS_NONE, what)) != 0)
            return rc;
        return space_member_cmd(sub, &a);
    }
    return usage_error("space: unknown subcommand '%s' (expected create, add, remove, role, "
                       "rotate, accept, decline, list, members, ack, compact, snapshot or load)",
                       sub);
}

/* ---- apply ---- */

/* Where an apply error is reported: "apply: line N: <msg>". */
typedef struct line_err {
    char msg[1024];
} line_err;

static int lerr(line_err *e, const char *fmt, ...) TOOL_PRINTF(2, 3);
static int lerr(line_err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* A value read from the JSON of `apply`: bytes come base64-encoded, in an
 * object {"@bytes": "..."}, and are decoded into memory the value owns. */
typedef struct value {
    dc_value v;
    uint8_t *bytes;
} value;

static void value_free(value *v) {
    free(v->bytes);
    v->bytes = NULL;
}

/* Converts a JSON scalar (or a {"@bytes": base64} object) to a drivercore
 * value.  A JSON number with a point or an exponent is a float (DC_FLOAT);
 * one without is an integer. */
static int to_value(value *v, const json_t *j, line_err *e, const char *where) {
    memset(v, 0, sizeof *v);
    switch (json_typeof(j)) {
    case JSON_STRING:
        /* jansson refuses \u0000 on load (no JSON_ALLOW_NUL), so the value
         * is a whole C string. */
        v->v.kind = DC_STR;
        v->v.ptr = json_string_value(j);
        v->v.len = json_string_length(j);
        return 0;
    case JSON_INTEGER:
        v->v.kind = DC_INT;
        v->v.num = (int64_t)json_integer_value(j);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        v->v.kind = DC_BOOL;
        v->v.num = json_is_true(j) ? 1 : 0;
        return 0;
    case JSON_NULL: v->v.kind = DC_NULL; return 0;
    case JSON_REAL:
        v->v.kind = DC_FLOAT;
        v->v.real = json_real_value(j);
        return 0;
    case JSON_ARRAY:
        return lerr(e,
                    "%s: an array is not a value (values are strings, numbers, booleans, "
                    "null or {\"@bytes\": base64})",
                    where);
    case JSON_OBJECT: {
        const json_t *b = json_object_get(j, "@bytes");
        if (json_object_size(j) != 1 || !json_is_string(b))
            return lerr(e,
                        "%s: an object is not a value, except {\"@bytes\": base64} "
                        "(values are strings, numbers, booleans or null)",
                        where);
        const char *b64 = json_string_value(b);
        size_t n = json_string_length(b), got = 0;
        v->bytes = malloc(n / 4 * 3 + 3);
        if (!v->bytes)
            return lerr(e, "%s: out of memory", where);
        if (sodium_base642bin(v->bytes, n / 4 * 3 + 3, b64, n, NULL, &got, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0) {
            value_free(v);
            return lerr(e, "%s: \"@bytes\" is not base64 (the standard alphabet, padded)", where);
        }
        v->v.kind = DC_BYTES;
        v->v.ptr = v->bytes;
        v->v.len = got;
        return 0;
    }
    }
    return lerr(e, "%s: unsupported JSON value", where);
}

enum op_kind { OP_SET, OP_ADD, OP_REMOVE, OP_EVENT, OP_DELETE };
static const char *const op_names[] = {"set", "add", "remove", "event", "delete"};

/* The operation an op object carries, after checking its shape. */
typedef struct op_view {
    const char *type, *id;
    int kind;
    json_t *body;
} op_view;

static int check_op(op_view *ov, json_t *op, size_t idx, line_err *e) {
    const char *key;
    json_t *val;
    int found = -1;
    char where[160];
    if (!json_is_object(op))
        return lerr(e, "op %zu: not a JSON object", idx + 1);
    ov->type = ov->id = NULL;
    ov->body = NULL;
    json_object_foreach(op, key, val) {
        int k;
        if (strcmp(key, "type") == 0 || strcmp(key, "id") == 0) {
            if (!json_is_string(val) || json_string_length(val) == 0)
                return lerr(e, "op %zu: \"%s\" must be a non-empty string", idx + 1, key);
            if (key[0] == 't')
                ov->type = json_string_value(val);
            else
                ov->id = json_string_value(val);
            continue;
        }
        for (k = 0; k < 5; k++)
            if (strcmp(key, op_names[k]) == 0)
                break;
        if (k == 5)
            return lerr(e,
                        "op %zu: unknown key \"%s\" (expected type, id and one of set, "
                        "add, remove, event, delete)",
                        idx + 1, key);
        if (found >= 0)
            return lerr(e, "op %zu: both \"%s\" and \"%s\"; put each in its own op", idx + 1,
                        op_names[found], key);
        found = k;
        ov->body = val;
    }
    if (!ov->type)
        return lerr(e, "op %zu: missing \"type\" (a non-empty string)", idx + 1);
    if (!ov->id)
        return lerr(e, "op %zu: missing \"id\" (a non-empty string)", idx + 1);
    if (found < 0)
        return lerr(e,
                    "op %zu: no operation (expected one of set, add, remove, event, "
                    "delete)",
                    idx + 1);
    ov->kind = found;
    if (found == OP_DELETE) {
        if (!json_is_true(ov->body))
            return lerr(e, "op %zu: \"delete\" must be true", idx + 1);
        return 0;
    }
    if (!json_is_object(ov->body))
        return lerr(e, "op %zu: \"%s\" must be an object of %s", idx + 1, op_names[found],
                    found == OP_EVENT ? "key: value"
                    : found == OP_SET ? "field: value"
                                      : "field: [values]");
    json_object_foreach(ov->body, key, val) {
        value v;
        if (key[0] == '\0')
            return lerr(e, "op %zu: %s: empty field name", idx + 1, op_names[found]);
        if (found == OP_ADD || found == OP_REMOVE) {
            size_t i;
            json_t *item;
            if (!json_is_array(val))
                return lerr(e, "op %zu: %s \"%s\": expected an array of values", idx + 1,
                            op_names[found], key);
            json_array_foreach(val, i, item) {
                snprintf(where, sizeof where, "op %zu: %s \"%.64s\"[%zu]", idx + 1, op_names[found],
                         key, i);
                if (to_value(&v, item, e, where) != 0)
                    return -1;
                value_free(&v);
            }
        } else {
            snprintf(where, sizeof where, "op %zu: %s \"%.64s\"", idx + 1, op_names[found], key);
            if (to_value(&v, val, e, where) != 0)
                return -1;
            value_free(&v);
        }
    }
    return 0;
}

/* Feeds one checked op to the transaction. */
static int build_op(dc_txn *t, const op_view *ov, size_t idx, dc_replica *r, line_err *e) {
    const char *key;
    json_t *val;
    value v;
    int rc = 0;
    switch (ov->kind) {
    case OP_DELETE: rc = dc_txn_delete(t, ov->type, ov->id); break;
    case OP_EVENT:
        rc = dc_txn_event(t, ov->type, ov->id);
        if (rc != 0)
            break;
        json_object_foreach(ov->body, key, val) {
            to_value(&v, val, e, ""); /* checked already */
            rc = dc_txn_event_field_value(t, key, &v.v);
            value_free(&v);
            if (rc != 0)
                return lerr(e, "op %zu: event \"%s\": %s", idx + 1, key, replica_why(r, rc));
        }
        break;
    case OP_SET:
        json_object_foreach(ov->body, key, val) {
            to_value(&v, val, e, "");
            rc = dc_txn_set_value(t, ov->type, ov->id, key, &v.v);
            value_free(&v);
            if (rc != 0)
                return lerr(e, "op %zu: set \"%s\": %s", idx + 1, key, replica_why(r, rc));
        }
        break;
    case OP_ADD:
    case OP_REMOVE:
        json_object_foreach(ov->body, key, val) {
            size_t i;
            json_t *item;
            json_array_foreach(val, i, item) {
                to_value(&v, item, e, "");
                rc = ov->kind == OP_ADD ? dc_txn_add_value(t, ov->type, ov->id, key, &v.v)
                                        : dc_txn_remove_value(t, ov->type, ov->id, key, &v.v);
                value_free(&v);
                if (rc != 0)
                    return lerr(e, "op %zu: %s \"%s\": %s", idx + 1, op_names[ov->kind], key,
                                replica_why(r, rc));
            }
        }
        break;
    }
    if (rc != 0)
        return lerr(e, "op %zu: %s: %s", idx + 1, op_names[ov->kind], replica_why(r, rc));
    return 0;
}

/* Applies one line as one transaction.  The whole line is checked before
 * the transaction begins, and any library error while building it rolls
 * it back, so a bad line commits nothing.  *nops receives the number of op
 * objects committed. */
static int apply_line(dc_replica *r, const char *line, size_t len, size_t *nops, line_err *e) {
    json_error_t jerr;
    json_t *root, *space, *ops, *op;
    const char *key;
    json_t *val;
    dc_txn *t = NULL;
    size_t i;
    int rc, ret = -1;

    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lerr(e, "invalid JSON at column %d: %s", jerr.column, jerr.text);
    if (!json_is_object(root)) {
        lerr(e, "expected a JSON object {\"space\": S, \"ops\": [...]}");
        goto out;
    }
    json_object_foreach(root, key, val) {
        if (strcmp(key, "space") != 0 && strcmp(key, "ops") != 0) {
            lerr(e, "unknown key \"%s\" (a line is {\"space\": S, \"ops\": [...]})", key);
            goto out;
        }
    }
    space = json_object_get(root, "space");
    ops = json_object_get(root, "ops");
    if (!space || !json_is_string(space) || json_string_length(space) == 0) {
        lerr(e, "missing or empty \"space\" (the space id, a string)");
        goto out;
    }
    if (!ops || !json_is_array(ops)) {
        lerr(e, "missing \"ops\" (an array of operations)");
        goto out;
    }
    json_array_foreach(ops, i, op) {
        op_view ov;
        if (check_op(&ov, op, i, e) != 0)
            goto out;
    }

    rc = dc_txn_begin(&t, r, json_string_value(space));
    if (rc != 0) {
        const char *why = replica_why(r, rc);
        /* The library's message usually names the space already. */
        if (strstr(why, json_string_value(space)))
            lerr(e, "%s", why);
        else
            lerr(e, "space %s: %s", json_string_value(space), why);
        goto out;
    }
    json_array_foreach(ops, i, op) {
        op_view ov;
        check_op(&ov, op, i, e);
        if (build_op(t, &ov, i, r, e) != 0) {
            dc_txn_rollback(t);
            goto out;
        }
    }
    rc = dc_txn_commit(t, NULL);
    if (rc != 0) {
        lerr(e, "commit: %s", replica_why(r, rc));
        goto out;
    }
    *nops = json_array_size(ops);
    ret = 0;
out:
    json_decref(root);
    return ret;
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int cmd_apply(int argc, char **argv) {
    tool_args a;
    dc_replica *r = NULL;
    FILE *in = stdin;
    const char *src = "stdin";
    char *line = NULL;
    size_t cap = 0, lineno = 0, ntx = 0, nops = 0;
    ssize_t len;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, OPTS_NONE, "apply")) != 0 ||
        (rc = want_pos(&a, 1, 2, "apply", "apply REPLICA [FILE]")) != 0)
        return rc;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    if (a.npos == 2 && strcmp(a.pos[1], "-") != 0) {
        src = a.pos[1];
        in = fopen(src, "rb");
        if (!in) {
            rc = fail("apply: cannot open '%s': %s", src, strerror(errno));
            dc_replica_close(r);
            return rc;
        }
    }
    rc = EXIT_OK;
    errno = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        line_err e;
        size_t n = 0;
        lineno++;
        if (blank(line, (size_t)len))
            continue;
        if (apply_line(r, line, (size_t)len, &n, &e) != 0) {
            rc = fail("apply: line %zu: %s (%zu earlier transaction%s committed; this line "
                      "committed nothing)",
                      lineno, e.msg, ntx, ntx == 1 ? "" : "s");
            break;
        }
        ntx++;
        nops += n;
    }
    if (rc == EXIT_OK && ferror(in))
        rc = fail("apply: reading %s after line %zu: %s", src, lineno, strerror(errno));
    free(line);
    if (in != stdin)
        fclose(in);
    dc_replica_close(r);
    if (rc == EXIT_OK)
        rc = print_json(
            json_pack("{s:I,s:I}", "transactions", (json_int_t)ntx, "ops", (json_int_t)nops));
    return rc;
}

/* ---- dump, status ---- */

static int cmd_dump(int argc, char **argv) {
    tool_args a;
    dc_replica *r;
    dc_buf b = DC_BUF_INIT;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, OPTS_SPACE, "dump")) != 0 ||
        (rc = want_pos(&a, 1, 1, "dump", "dump REPLICA [--space S]")) != 0)
        return rc;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    rc = dc_replica_dump(&b, r, tool_opt(&a, "space"));
    if (rc != 0)
        rc = fail_r(r, rc, "dump");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

static int cmd_status(int argc, char **argv) {
    tool_args a;
    dc_replica *r;
    dc_buf b = DC_BUF_INIT;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, OPTS_NONE, "status")) != 0 ||
        (rc = want_pos(&a, 1, 1, "status", "status REPLICA")) != 0)
        return rc;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    rc = dc_replica_status(&b, r);
    if (rc != 0)
        rc = fail_r(r, rc, "status");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

/* A cloned replica (docs/recovery.md) takes a new identity; prints
 * dc_replica_recover's JSON: the new card, what was re-signed, the spaces
 * to re-enrol in. */
static int cmd_recover(int argc, char **argv) {
    tool_args a;
    dc_replica *r;
    dc_buf b = DC_BUF_INIT;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, OPTS_NONE, "recover")) != 0 ||
        (rc = want_pos(&a, 1, 1, "recover", "recover REPLICA")) != 0)
        return rc;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    rc = dc_replica_recover(&b, r);
    if (rc != 0)
        rc = fail_r(r, rc, "recover");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

/* vacuum REPLICA: gives the pages compaction freed back to the file
 * system (dc_replica_vacuum). */
static int cmd_vacuum(int argc, char **argv) {
    tool_args a;
    dc_replica *r;
    dc_buf b = DC_BUF_INIT;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, OPTS_NONE, "vacuum")) != 0 ||
        (rc = want_pos(&a, 1, 1, "vacuum", "vacuum REPLICA")) != 0)
        return rc;
    if ((rc = open_existing(&r, a.pos[0])) != 0)
        return rc;
    rc = dc_replica_vacuum(&b, r);
    if (rc != 0)
        rc = fail_r(r, rc, "vacuum");
    else
        print_buf(&b);
    dc_buf_dispose(&b);
    dc_replica_close(r);
    return rc;
}

/* ---- bundles ---- */

static int cmd_bundle(int argc, char **argv) {
    tool_args a;
    dc_replica *r;
    dc_buf b = DC_BUF_INIT;
    const char *sub = argc > 2 ? argv[2] : NULL;
    int rc;
    if (!sub)
        return usage_error("bundle: expected a subcommand: export or import");
    if (strcmp(sub, "export") == 0) {
        struct stat st;
        if ((rc = tool_parse(&a, argc, argv, 3, OPTS_SPACE, "bundle export")) != 0 ||
            (rc = want_pos(&a, 2, 2, "bundle export", "bundle export REPLICA FILE [--space S]")) !=
                0)
            return rc;
        if ((rc = open_existing(&r, a.pos[0])) != 0)
            return rc;
        rc = dc_bundle_export_file(r, a.pos[1], tool_opt(&a, "space"));
        if (rc != 0) {
            rc = fail_r(r, rc, "bundle export");
        } else if (stat(a.pos[1], &st) != 0) {
            rc = fail("bundle export: '%s' is missing after export: %s", a.pos[1], strerror(errno));
        } else {
            rc = print_json(
                json_pack("{s:s,s:I}", "file", a.pos[1], "bytes", (json_int_t)st.st_size));
        }
        dc_replica_close(r);
        return rc;
    }
    if (strcmp(sub, "import") == 0) {
        static const char *const OPTS_IMPORT[] = {"set-aside!", NULL};
        if ((rc = tool_parse(&a, argc, argv, 3, OPTS_IMPORT, "bundle import")) != 0 ||
            (rc = want_pos(&a, 2, 2, "bundle import",
                           "bundle import REPLICA FILE [--set-aside]")) != 0)
            return rc;
        if ((rc = open_existing(&r, a.pos[0])) != 0)
            return rc;
        rc = dc_bundle_import_file_with(r, a.pos[1],
                                        tool_opt(&a, "set-aside") ? DC_IMPORT_SET_ASIDE : 0, &b);
        if (rc != 0)
            rc = fail("bundle import: '%s': %s", a.pos[1], replica_why(r, rc));
        else
            print_buf(&b);
        dc_buf_dispose(&b);
        dc_replica_close(r);
        return rc;
    }
    return usage_error("bundle: unknown subcommand '%s' (expected export or import)", sub);
}

/* ---- main ---- */

static int print_usage(void) {
    fputs(usage_text, stdout);
    return EXIT_OK;
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"init", cmd_init},
        {"whoami", cmd_whoami},
        {"space", cmd_space},
        {"apply", cmd_apply},
        {"dump", cmd_dump},
        {"status", cmd_status},
        {"recover", cmd_recover},
        {"vacuum", cmd_vacuum},
        {"bundle", cmd_bundle},
        {"registry", cmd_registry},
        {"case", cmd_case},
        {"stats", cmd_stats},
        {"demo-data", cmd_demo_data},
        {"sync", cmd_sync},
        {"serve", cmd_serve},
        /* cmd_org dispatches on argv[1] itself */
        {"org", cmd_org},
        {"region", cmd_org},
        {"station", cmd_org},
        {"branch", cmd_org},
        {"secretary", cmd_org},
        {"study", cmd_org},
        {"liaison", cmd_org},
        {"checkin", cmd_org},
        {"calendar", cmd_case}, /* cmd_case also serves `calendar ...` */
        {"keygen", cmd_keygen},
        {"rekey", cmd_rekey},
        {"attach", cmd_attach},
    };
    /* --key-file is for every command: taken out of argv before any of
     * them parses its options. */
    int rc = tool_key_setup(&argc, argv);
    if (rc != EXIT_OK)
        return rc;
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (!cmd) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return print_usage();
    if (strcmp(cmd, "--version") == 0) {
        printf("drivercore %s (libdrivercore %s)\n", DRIVERCORE_TOOL_VERSION, dc_version());
        return EXIT_OK;
    }
    /* `drivercore CMD --help` anywhere before a `--` prints usage too. */
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return print_usage();

    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        if (strcmp(cmd, cmds[k].name) != 0)
            continue;
        if ((rc = read_clock_env()) != 0)
            return rc;
        if (dc_global_init(NULL) != 0)
            return fail("cannot initialise the library: %s", dc_error_last());
        rc = cmds[k].fn(argc, argv);
        /* Data that never reached stdout (a full disk, a closed pipe) is a
         * failure the caller must see in the exit status. */
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fail("writing to stdout: %s", strerror(errno));
            return EXIT_FAIL;
        }
        return rc;
    }
    return usage_error("unknown command '%s'", cmd);
}
