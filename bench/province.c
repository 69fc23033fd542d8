/*
 * bench_province — the province-scale rows of issue 4: how long it takes to
 * generate Guizhou with the report's figures (257,000 drivers, 209
 * branches, 3,794 grievances, ...) into a fresh replica through the real
 * API, how large that replica is on disk, and how long `stats` takes to
 * reproduce the report's table from its records.
 *
 * It measures the `drivercore` tool end to end, as an office would run it:
 * `drivercore demo-data province DB --seed N --scale F` (wall time of the
 * whole process: replica creation, every write, every commit and fsync),
 * then `drivercore stats DB --json` several times (the median of the runs;
 * the first run is not discarded, so a cold page cache counts).  db_bytes is
 * the database file plus its WAL after the generator has closed it.  Each
 * stats run is checked against the figures the generator aimed for
 * ("reproduced"), so a fast wrong answer cannot pass for a good figure.
 *
 * There is no baseline for these rows (no other system generates this data
 * set), so "baseline" is null and "note" says what is measured.  Each row
 * also gives cpu_seconds, the processor time (user + system) of the
 * process measured (for stats, the median over the runs): on a machine
 * shared with other work the wall time grows with the load, the processor
 * time much less, so the two together say what the figure is worth.
 *
 *   bench_province [--scale F] [--seed N] [--runs R] [--dir DIR] [--keep]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vec.h"

#ifndef DC_BENCH_TOOL
#define DC_BENCH_TOOL "drivercore"
#endif

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv, returns its stdout (malloc'd) or NULL; *secs gets the wall
 * time of the process, *cpu its processor time (user + system). */
static char *run(char *const argv[], double *secs, double *cpu) {
    int fd[2];
    if (pipe(fd) != 0)
        return NULL;
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0, cap = 0;
    char *out = NULL;
    ssize_t k;
    bool oom = false;
    while (!(oom = VEC_RESERVE(out, cap, n + 4096)) && (k = read(fd[0], out + n, cap - n - 1)) > 0)
        n += (size_t)k;
    if (oom) {
        free(out);
        out = NULL;
    }
    close(fd[0]);
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    wait4(pid, &st, 0, &ru);
    *secs = now_s() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (!out)
        return NULL;
    out[n] = '\0';
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_province: %s exited with status %d\n", argv[1],
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        free(out);
        return NULL;
    }
    return out;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every number under `want` equals the number at the same path in `got`. */
static int same_figures(json_t *want, json_t *got, const char *path) {
    const char *k;
    json_t *v;
    json_object_foreach(want, k, v) {
        json_t *g = json_object_get(got, k);
        if (json_is_object(v)) {
            if (!same_figures(v, g, k))
                return 0;
        } else if (!json_is_integer(g) || json_integer_value(g) != json_integer_value(v)) {
            fprintf(stderr, "bench_province: %s.%s: stats says %lld, the generator made %lld\n",
                    path, k, g ? (long long)json_integer_value(g) : -1LL,
                    (long long)json_integer_value(v));
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *scale = "1", *seed = "1", *dir_opt = NULL;
    int runs = 3, keep = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc)
            scale = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir_opt = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: bench_province [--scale F] [--seed N] [--runs R] "
                            "[--dir DIR] [--keep]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 15)
        runs = 3;
    char dir[512], db[600];
    if (dir_opt) {
        snprintf(dir, sizeof dir, "%s", dir_opt);
        mkdir(dir, 0700);
    } else {
        snprintf(dir, sizeof dir, "/tmp/dc-bench-province-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("bench_province: mkdtemp");
            return 1;
        }
    }
    snprintf(db, sizeof db, "%s/province.db", dir);
    unlink(db);

    fprintf(stderr, "bench_province: generating the province at scale %s into %s ...\n", scale, db);
    char *gen_argv[] = {DC_BENCH_TOOL, "demo-data", "province",    db,  "--seed",
                        (char *)seed,  "--scale",   (char *)scale, NULL};
    double gen_s = 0, gen_cpu = 0;
    char *gen_out = run(gen_argv, &gen_s, &gen_cpu);
    if (!gen_out)
        return 1;
    json_error_t e;
    json_t *gen = json_loads(gen_out, 0, &e);
    free(gen_out);
    json_t *figures = json_object_get(gen, "figures");
    if (!json_is_object(figures)) {
        fprintf(stderr, "bench_province: the generator's output has no figures\n");
        return 1;
    }
    long long db_bytes = file_size(db);
    char wal[640];
    snprintf(wal, sizeof wal, "%s-wal", db);
    db_bytes += file_size(wal);
    long long drivers = json_integer_value(json_object_get(figures, "drivers"));
    json_t *secs = json_object_get(gen, "seconds");

    printf("{\"bench\":\"province_generate\",\"drivers\":%lld,\"scale\":%s,\"seconds\":%.2f,"
           "\"db_bytes\":%lld,\"bytes_per_driver\":%.0f,\"phases\":{\"directory\":%.2f,"
           "\"registry\":%.2f,\"branches\":%.2f,\"cases\":%.2f},\"cpu_seconds\":%.2f,"
           "\"baseline\":null,"
           "\"note\":\"wall time of `drivercore demo-data province` in a fresh replica: every "
           "record of the report's figures written through the typed API (registry CSV "
           "import in 5,000-row chunks, org/branch/study/liaison bulk transactions, each "
           "grievance filed and stepped one transaction at a time), commits and fsyncs "
           "included; db_bytes is the database plus WAL after close (change log + "
           "materialised state); no baseline exists for this data set\"}\n",
           drivers, scale, gen_s, db_bytes, drivers ? (double)db_bytes / (double)drivers : 0.0,
           json_number_value(json_object_get(secs, "directory")),
           json_number_value(json_object_get(secs, "registry")),
           json_number_value(json_object_get(secs, "branches")),
           json_number_value(json_object_get(secs, "cases")), gen_cpu);
    fflush(stdout);

    double t[15], c[15];
    int reproduced = 1;
    json_t *last = NULL;
    char *stats_argv[] = {DC_BENCH_TOOL, "stats", db, "--json", NULL};
    for (int i = 0; i < runs; i++) {
        char *out = run(stats_argv, &t[i], &c[i]);
        json_t *st = out ? json_loads(out, 0, &e) : NULL;
        free(out);
        if (!st) {
            fprintf(stderr, "bench_province: stats failed\n");
            return 1;
        }
        reproduced &= same_figures(figures, st, "");
        json_decref(last);
        last = st;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    qsort(c, (size_t)runs, sizeof c[0], cmp_double);
    json_t *cases = json_object_get(last, "cases");
    printf("{\"bench\":\"province_stats\",\"drivers\":%lld,\"scale\":%s,\"seconds\":%.3f,"
           "\"runs\":%d,\"min_seconds\":%.3f,\"reproduced\":%s,\"resolution_rate\":%.2f,"
           "\"cpu_seconds\":%.3f,"
           "\"baseline\":null,\"note\":\"median wall time of `drivercore stats DB --json` "
           "over the generated province (every record type of every space walked once; "
           "each case folded by the grievance code), process start included; reproduced: "
           "every figure the generator aimed for equals the one stats computed from the "
           "records; no baseline exists for this data set\"}\n",
           drivers, scale, runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2, runs, t[0],
           reproduced ? "true" : "false",
           json_number_value(json_object_get(cases, "resolution_rate")),
           runs % 2 ? c[runs / 2] : (c[runs / 2 - 1] + c[runs / 2]) / 2);
    json_decref(last);
    json_decref(gen);
    if (!keep) {
        unlink(db);
        unlink(wal);
        char shm[640];
        snprintf(shm, sizeof shm, "%s-shm", db);
        unlink(shm);
        if (!dir_opt)
            rmdir(dir);
    }
    return reproduced ? 0 : 1;
}
