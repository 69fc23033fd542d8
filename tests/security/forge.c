/*
 * forge: what a modified (hostile) client would write, for the security
 * tests (tests/security/test_security.py).  Each subcommand opens a replica
 * with the real library and puts into its change log, signed by its own
 * device key, an envelope the public API would never write; the device's
 * next sync then pushes it as if a modified app had.  Nothing here is part
 * of the library: it links the internal archive only to reach the sealing
 * code (dc__envelope_new) without the API's checks.
 *
 *   forge change REPLICA SPACE TYPE ID FIELD VALUE
 *       a change setting TYPE/ID.FIELD = VALUE, whatever the device's role
 *       (a reader's or a removed member's write; TYPE may begin with '@')
 *   forge malformed REPLICA SPACE
 *       a change whose body is not a change body, under the space's key
 *   forge badgrant REPLICA SPACE CARDFILE
 *       a grant naming the device of CARDFILE whose sealed key opens for
 *       nobody (the stranger's lock-out attempt)
 *
 * Prints {"forged": "<change id>"} and exits 0, or a message and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/replica_int.h"

static int die(dc_replica *r, const char *what) {
    fprintf(stderr, "forge: %s: %s\n", what, r ? dc_replica_errmsg(r) : dc_error_last());
    return 1;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* The field value of a flat JSON card, hex-decoded into out. */
static int card_hex(const char *card, const char *key, uint8_t *out, size_t n) {
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(card, pat);
    if (!p || strlen(p + strlen(pat)) < 2 * n)
        return -1;
    char hex[129];
    memcpy(hex, p + strlen(pat), 2 * n);
    hex[2 * n] = 0;
    return dc__unhex(out, n, hex);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: forge change|malformed|badgrant REPLICA SPACE ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.must_exist = 1;
    dc_replica *r;
    if (dc_replica_open(&r, argv[2], &o))
        return die(NULL, "open");
    uint8_t sid[16];
    dc__space sp;
    if (dc__space_id_parse(r, argv[3], sid) || dc__store_space_get(r->st, sid, &sp, &r->err))
        return die(r, "space");
    dc__err e = {0};
    uint8_t cid[32];
    int rc;
    if (dc__store_begin(r->st, &e))
        return die(r, "begin");
    dc_hlc h = dc__clock_tick(&r->clock);
    if (strcmp(cmd, "change") == 0 && argc == 8) {
        dc__op op;
        memset(&op, 0, sizeof op);
        op.kind = DC_OP_SET;
        op.type = (dc__str){argv[4], (uint32_t)strlen(argv[4])};
        op.id = (dc__str){argv[5], (uint32_t)strlen(argv[5])};
        op.field = (dc__str){argv[6], (uint32_t)strlen(argv[6])};
        op.val = (dc__value){DC_STR, 0, argv[7], (uint32_t)strlen(argv[7])};
        dc__buf_clear(&r->body);
        rc = dc__body_encode(&r->body, &op, 1, &e);
        if (!rc)
            rc = dc__envelope_new(r, &sp, DC_ENV_KIND_CHANGE, r->body.ptr, r->body.size, h, h, NULL,
                                  cid, &e);
    } else if (strcmp(cmd, "malformed") == 0 && argc == 4) {
        static const uint8_t junk[] = "\xc1 this is not a change body, but it is sealed";
        rc = dc__envelope_new(r, &sp, DC_ENV_KIND_CHANGE, junk, sizeof junk, h, h, NULL, cid, &e);
    } else if (strcmp(cmd, "badgrant") == 0 && argc == 5) {
        const char *card = slurp(argv[4]);
        dc__member_op g;
        memset(&g, 0, sizeof g);
        g.kind = DC_MOP_GRANT;
        g.role = DC_ROLE_MEMBER;
        g.epoch = sp.epoch;
        if (!card || card_hex(card, "device", g.device, 32) ||
            card_hex(card, "box", g.box_pk, 32)) {
            fprintf(stderr, "forge: %s is not a card\n", argv[4]);
            return 1;
        }
        /* 80 random bytes: a sealed box that opens for no key. */
        dc__random(g.sealed, sizeof g.sealed);
        dc__buf_clear(&r->body);
        rc = dc__member_encode(&r->body, &g, 1, &e);
        if (!rc)
            rc = dc__envelope_new(r, &sp, DC_ENV_KIND_MEMBERSHIP, r->body.ptr, r->body.size, h, h,
                                  NULL, cid, &e);
    } else {
        fprintf(stderr, "forge: unknown or malformed command\n");
        return 2;
    }
    if (rc || (rc = dc__store_hlc_save(r->st, r->clock.last, &e)) ||
        (rc = dc__store_commit(r->st, &e))) {
        dc__store_rollback(r->st);
        fprintf(stderr, "forge: %s\n", e.msg);
        return 1;
    }
    char hex[65];
    dc__hex(hex, cid, 32);
    printf("{\"forged\": \"%s\"}\n", hex);
    dc_replica_close(r);
    return 0;
}
