/*
 * `drivercore keygen` and `drivercore rekey`: making an at-rest key file
 * and putting a replica under a new key (docs/format/at-rest.md).  The
 * current key of a replica comes, as for every command, from --key-file or
 * DRIVERCORE_PASSPHRASE (tool.c); the new one from --new-key-file or
 * DRIVERCORE_NEW_PASSPHRASE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tool.h"

/* 32 bytes from the kernel's random generator. */
static int random_key(uint8_t key[32]) {
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f)
        return fail("keygen: cannot open /dev/urandom: %s", strerror(errno));
    size_t n = fread(key, 1, 32, f);
    fclose(f);
    if (n != 32)
        return fail("keygen: short read from /dev/urandom");
    return EXIT_OK;
}

int cmd_keygen(int argc, char **argv) {
    static const char *const opts[] = {NULL};
    tool_args a;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, opts, "keygen")) != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error("keygen: expected: drivercore keygen KEY_FILE");
    const char *path = a.pos[0];
    uint8_t key[32];
    char hex[66];
    if ((rc = random_key(key)) != EXIT_OK)
        return rc;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", key[i]);
    hex[64] = '\n';
    hex[65] = '\0';
    tool_wipe(key, sizeof key);
    /* Never over an existing file: it may be the only copy of a key. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? fail("keygen: '%s' already exists; not overwriting a key", path)
                             : fail("keygen: cannot create '%s': %s", path, strerror(errno));
        tool_wipe(hex, sizeof hex);
        return rc;
    }
    ssize_t w = write(fd, hex, 65);
    int sync_rc = fsync(fd);
    tool_wipe(hex, sizeof hex);
    if (close(fd) != 0 || w != 65 || sync_rc != 0) {
        unlink(path);
        return fail("keygen: writing '%s' failed", path);
    }
    return tool_print_json(json_pack("{s:s}", "key_file", path));
}

int cmd_rekey(int argc, char **argv) {
    static const char *const opts[] = {"new-key-file", NULL};
    tool_args a;
    tool_key nk;
    dc_replica *r = NULL;
    int rc;
    if ((rc = tool_parse(&a, argc, argv, 2, opts, "rekey")) != EXIT_OK)
        return rc;
    if (a.npos != 1)
        return usage_error("rekey: expected: drivercore rekey REPLICA [--new-key-file PATH] "
                           "(or the new passphrase in DRIVERCORE_NEW_PASSPHRASE)");
    memset(&nk, 0, sizeof nk);
    const char *file = tool_opt(&a, "new-key-file");
    const char *pass = getenv("DRIVERCORE_NEW_PASSPHRASE");
    if (pass && !*pass)
        pass = NULL;
    if (!file == !pass)
        return usage_error("rekey: give the new key either with --new-key-file or in "
                           "DRIVERCORE_NEW_PASSPHRASE (exactly one)");
    if (file) {
        if ((rc = tool_read_key_file(file, nk.key)) != EXIT_OK)
            return rc;
        nk.have_key = true;
    }
    nk.pass = pass;
    if ((rc = open_existing(&r, a.pos[0])) == EXIT_OK) {
        rc = dc_replica_rekey(r, tool_key_provider, &nk);
        rc = rc ? fail_r(r, rc, "rekey")
                : tool_print_json(json_pack("{s:s,s:b}", "replica", a.pos[0], "encrypted", 1));
        dc_replica_close(r);
    }
    tool_wipe(&nk, sizeof nk);
    return rc;
}
