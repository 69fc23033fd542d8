/*
 * test_migrate — the schema migrates forward step by step, and a process
 * killed at any point of a migration loses nothing (docs/storage.md,
 * "Migrations").  The replica file written by the schema-1 library
 * (tests/vectors/replica-schema1.dcr) is migrated to the current schema by
 * child processes that die (_exit, as a kill would leave the file) at the
 * 1st, 2nd, ... k-th point of the migration; after each death the file
 * opens, migrates and prints exactly the dump the schema-1 library printed,
 * until a child gets through the whole migration.
 *
 *   test_migrate VECTORS_DIR [STRIDE]
 *
 * STRIDE k > 1 kills at every k-th point (1, 1+k, 1+2k, ...), then at
 * each of the last k-1 points before the end, where the migration's last
 * step and its commit lie: the qemu runs of the cross builds
 * (tests/system/meson.build), where every point costs two emulated opens;
 * the native and ASan builds kill at each point.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivercore.h"
#include "store/store_int.h"

static long g_at, g_seen;

static void die_here(void) {
    if (++g_seen == g_at)
        _exit(9);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)sz + 1);
    *n = p ? fread(p, 1, (size_t)sz, f) : 0;
    fclose(f);
    return p;
}

static void put(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) {
        fprintf(stderr, "test_migrate: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void clean(const char *path) {
    char sub[600];
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s%s", path, suffix[i]);
        remove(sub);
    }
}

int main(int argc, char **argv) {
    long stride = argc == 3 ? atol(argv[2]) : 1;
    if (argc < 2 || argc > 3 || stride < 1) {
        fprintf(stderr, "usage: test_migrate VECTORS_DIR [STRIDE]\n");
        return 2;
    }
    char src[512], want_path[512];
    snprintf(src, sizeof src, "%s/replica-schema1.dcr", argv[1]);
    snprintf(want_path, sizeof want_path, "%s/replica-schema1.dump", argv[1]);
    size_t n, wn;
    unsigned char *file = slurp(src, &n), *want = slurp(want_path, &wn);
    if (!file || !want) {
        fprintf(stderr, "test_migrate: cannot read the vectors in %s\n", argv[1]);
        return 1;
    }
    /* Under $TMPDIR (./dev test: tmpfs): each point of the migration is a
     * child's death and a full open, and on a disk their fsyncs were most
     * of the run's wall time. */
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/dc-migrate-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    char path[600];
    snprintf(path, sizeof path, "%s/r.dcr", dir);
    long killed = 0, sampled = 0;
    for (g_at = 1;; g_at += stride) {
        clean(path);
        put(path, file, n);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            dc__store_migrate_step = die_here;
            dc_replica *r;
            dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
            o.must_exist = 1;
            _exit(dc_replica_open(&r, path, &o) == 0 ? 0 : 3);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
            fprintf(stderr, "test_migrate: the child did not end normally\n");
            return 1;
        }
        int code = WEXITSTATUS(status);
        if (code != 9 && code != 0) {
            fprintf(stderr, "test_migrate: the migration failed (exit %d) at point %ld\n", code,
                    g_at);
            return 1;
        }
        /* Killed or not: the file opens, migrates, and shows what it did. */
        dc_replica *r;
        dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
        o.must_exist = 1;
        if (dc_replica_open(&r, path, &o) != 0) {
            fprintf(stderr, "test_migrate: after a kill at point %ld: %s\n", g_at, dc_error_last());
            return 1;
        }
        dc_buf d = DC_BUF_INIT;
        if (dc_replica_dump(&d, r, NULL) != 0 || d.size != wn || memcmp(d.ptr, want, wn) != 0) {
            fprintf(stderr, "test_migrate: after a kill at point %ld the dump differs\n", g_at);
            return 1;
        }
        dc_buf_dispose(&d);
        dc_replica_close(r);
        if (code == 0 && stride > 1) { /* the points since the last kill, one by one */
            g_at -= stride;
            stride = 1;
            sampled = 1;
            continue;
        }
        if (code == 0)
            break;
        killed++;
    }
    printf("test_migrate: schema 1 to %d: killed at %s %ld points of the migration (of %ld), "
           "nothing lost\n",
           dc__store_schema_latest(), sampled ? "a sample of" : "each of", killed, g_at - 1);
    clean(path);
    remove(dir);
    free(file);
    free(want);
    return killed >= 10 ? 0 : 1;
}
