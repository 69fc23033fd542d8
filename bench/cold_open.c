/*
 * bench_cold_open — the `cold_open` row (issue 9, "Small phones"): how long
 * an app waits, from a cold start, to open its replica and read one record.
 *
 *   bench_cold_open REPLICA SPACE TYPE ID [--runs N]
 *
 * Each run is a fresh process (fork), as an app launch is: the library is
 * initialised (libsodium included), the replica opened and one record read
 * (dc_record_get), timed from before dc_global_init to after the read.
 * "Cold": before each run the replica's pages are dropped from the page
 * cache with posix_fadvise(POSIX_FADV_DONTNEED) on the file and its WAL, so
 * the open reads from the disk as after a reboot — for this file only,
 * without disturbing the rest of the machine.  Compared, in the same run,
 * with warm runs (pages cached).  Prints one JSON line:
 *
 *   {"bench":"cold_open","ms":{"median","p90","max"},"warm_ms":{"median"},
 *    "replica_bytes":N,"runs":N,"target_ms":50,"note":...}
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivercore.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void drop_cache(const char *path) {
    const char *sfx[] = {"", "-wal", "-shm"};
    char p[1100];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        int fd = open(p, O_RDONLY);
        if (fd < 0)
            continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
}

/* One launch in a child; its time in ms, or -1. */
static double launch(const char *path, const char *space, const char *type, const char *id) {
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        double t0 = now_ms();
        dc_replica *r = NULL;
        dc_buf b = DC_BUF_INIT;
        dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
        o.must_exist = 1;
        double ms = -1;
        if (dc_global_init(NULL) == 0 && dc_replica_open(&r, path, &o) == 0 &&
            dc_record_get(&b, r, space, type, id) == 0 && b.size > 0)
            ms = now_ms() - t0;
        else
            fprintf(stderr, "bench_cold_open: %s\n", r ? dc_replica_errmsg(r) : dc_error_last());
        if (write(pfd[1], &ms, sizeof ms) != (ssize_t)sizeof ms)
            _exit(1);
        dc_buf_dispose(&b);
        dc_replica_close(r);
        _exit(ms < 0);
    }
    close(pfd[1]);
    double ms = -1;
    if (pid < 0 || read(pfd[0], &ms, sizeof ms) != (ssize_t)sizeof ms)
        ms = -1;
    close(pfd[0]);
    int st;
    if (pid > 0)
        waitpid(pid, &st, 0);
    return ms;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_cold_open REPLICA SPACE TYPE ID [--runs N]\n");
        return 2;
    }
    int runs = argc >= 7 && strcmp(argv[5], "--runs") == 0 ? atoi(argv[6]) : 15;
    if (runs < 1 || runs > 1000)
        runs = 15;
    double *cold = calloc((size_t)runs, sizeof *cold), *warm = calloc((size_t)runs, sizeof *warm);
    if (!cold || !warm)
        return 1;
    for (int i = 0; i < runs; i++) {
        drop_cache(argv[1]);
        if ((cold[i] = launch(argv[1], argv[2], argv[3], argv[4])) < 0)
            return 1;
        if ((warm[i] = launch(argv[1], argv[2], argv[3], argv[4])) < 0)
            return 1;
    }
    qsort(cold, (size_t)runs, sizeof *cold, cmp);
    qsort(warm, (size_t)runs, sizeof *warm, cmp);
    struct stat sb;
    long long bytes = stat(argv[1], &sb) == 0 ? (long long)sb.st_size : -1;
    printf("{\"bench\":\"cold_open\",\"ms\":{\"median\":%.2f,\"p90\":%.2f,\"max\":%.2f},"
           "\"warm_ms\":{\"median\":%.2f},\"replica_bytes\":%lld,\"runs\":%d,\"target_ms\":50,"
           "\"note\":\"a fresh process initialises the library, opens the replica and reads one "
           "record (%s %s); cold: the file's pages dropped from the page cache first "
           "(posix_fadvise DONTNEED), warm: the same launch with them cached, same run\"}\n",
           cold[runs / 2], cold[(runs * 9) / 10 < runs ? (runs * 9) / 10 : runs - 1],
           cold[runs - 1], warm[runs / 2], bytes, runs, argv[3], argv[4]);
    free(cold);
    free(warm);
    return 0;
}
