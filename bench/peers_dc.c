/*
 * bench_peers_dc — drivercore's side of the peer comparison (issue 11,
 * bench/peers.py).  peers.py runs each phase of each engine in a fresh
 * process, so that what /proc/self/io and the resident set say belongs to
 * that engine alone; this program is the drivercore engine, as Yrs and Loro
 * are peers.py's own `engine yrs|loro` subcommands.  Each subcommand prints
 * one JSON object on stdout for peers.py to read (progress and errors go to
 * stderr):
 *
 *   write WORKLOAD DIR    a fresh writer replica (and an enrolled, empty
 *                         receiver) in DIR; the workload's population, then
 *                         its assignments timed; the bytes the process
 *                         wrote meanwhile; the file's size; the bundle bytes
 *                         of the assignments; the full bundle in
 *                         DIR/full.dcb and the records in DIR/state.json
 *   merge DIR SPACE       DIR/full.dcb imported into the receiver, timed;
 *                         the receiver's records in DIR/merged.json
 *   memory DIR SPACE ID   the resident memory it takes to open the writer's
 *                         replica and read one record
 *
 * Only the public API is used, and the storage is measured from outside (file
 * sizes, the process's I/O counters and resident set), never through its
 * tables, so that these figures stay comparable across a storage redesign.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "drivercore.h"

#define PATH_LEN 1024

static void die(const char *what, int rc, const char *msg) {
    fprintf(stderr, "bench_peers_dc: %s failed: %s (%d) %s\n", what, dc_error_name(rc), rc,
            msg ? msg : "");
    exit(1);
}

#define CHECK(r, call)                                                                             \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            die(#call, rc_, dc_replica_errmsg(r));                                                 \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- what the process itself reports ---- */

/* The number after "KEY:" in the /proc file at `path`, times `unit`; -1
 * where the kernel does not provide it.  /proc/self/io's "wchar" counts the
 * bytes passed to write(2) and its kin, whatever the file system then does
 * with them; its "write_bytes" the bytes the block layer was asked to
 * write, counted when a page first becomes dirty.  /proc/self/status's
 * VmRSS and VmHWM are in KiB. */
static long long proc_field(const char *path, const char *key, long long unit) {
    FILE *f = fopen(path, "r");
    char line[128];
    size_t n = strlen(key);
    long long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            v = strtoll(line + n + 1, NULL, 10) * unit;
    fclose(f);
    return v;
}

static long long proc_io(const char *key) {
    return proc_field("/proc/self/io", key, 1);
}

static long long proc_mem(const char *key) {
    return proc_field("/proc/self/status", key, 1024);
}

/* Resets VmHWM to the current resident set (Linux 4.0+), so that the peak
 * read afterwards is the peak of what follows.  Returns 0 on success. */
static int reset_peak(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* The replica file and whatever WAL is beside it. */
static long long db_size(const char *path) {
    char p[PATH_LEN + 8];
    snprintf(p, sizeof p, "%s-wal", path);
    return file_size(path) + file_size(p);
}

/* The whole file, NUL-terminated, in malloc'd memory; exits on failure. */
static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    long n;
    char *p;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
        !(p = malloc((size_t)n + 1)) || fread(p, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "bench_peers_dc: cannot read %s: %s\n", path, strerror(errno));
        exit(1);
    }
    p[n] = 0;
    *size = (size_t)n;
    fclose(f);
    return p;
}

static void write_file(const char *path, const dc_buf *b) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->ptr, 1, b->size, f) != b->size || fclose(f) != 0) {
        fprintf(stderr, "bench_peers_dc: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* ---- the workload file (written by peers.py; its format is there) ---- */

typedef struct op {
    char verb; /* 's' set a register, 'a' add to a set */
    char kind; /* 's' string, 'i' int, 'b' bool, 'n' null */
    char *id, *field, *str;
    int64_t num;
} op;

typedef struct workload {
    char *text; /* the file, cut into fields in place */
    op *ops;
    long nops;
    long *txn_end; /* txn i is ops [txn_end[i-1], txn_end[i]) */
    long ntxn;
    long first_assign_txn; /* the population is txns [0, first_assign_txn) */
} workload;

static char *next_field(char **p) {
    char *s = *p, *t = strchr(s, '\t');
    if (t) {
        *t = 0;
        *p = t + 1;
    } else {
        *p = s + strlen(s);
    }
    return s;
}

static void load_workload(workload *w, const char *path) {
    size_t size;
    memset(w, 0, sizeof *w);
    w->text = read_file(path, &size);
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += w->text[i] == '\n';
    w->ops = calloc((size_t)lines, sizeof *w->ops);
    w->txn_end = calloc((size_t)lines, sizeof *w->txn_end);
    if (!w->ops || !w->txn_end) {
        fprintf(stderr, "bench_peers_dc: out of memory\n");
        exit(1);
    }
    w->first_assign_txn = -1;
    char *line = w->text, *nl;
    long lineno = 0;
    for (; *line; line = nl ? nl + 1 : line + strlen(line)) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "drivercore-peers-workload 1") != 0) {
                fprintf(stderr, "bench_peers_dc: %s is not a workload file\n", path);
                exit(1);
            }
            continue;
        }
        if (strcmp(line, "c") == 0) {
            w->txn_end[w->ntxn++] = w->nops;
            continue;
        }
        if (strcmp(line, "--") == 0) {
            w->first_assign_txn = w->ntxn;
            continue;
        }
        char *p = line;
        op *o = &w->ops[w->nops];
        char *verb = next_field(&p), *kind;
        o->id = next_field(&p);
        o->field = next_field(&p);
        kind = next_field(&p);
        o->str = next_field(&p);
        o->verb = verb[0];
        o->kind = kind[0];
        if ((o->verb != 's' && o->verb != 'a') || !strchr("sibn", o->kind) || !*o->id ||
            !*o->field) {
            fprintf(stderr, "bench_peers_dc: %s:%ld: bad line\n", path, lineno);
            exit(1);
        }
        if (o->kind == 'i' || o->kind == 'b')
            o->num = strtoll(o->str, NULL, 10);
        w->nops++;
    }
    if (w->first_assign_txn < 0) {
        fprintf(stderr, "bench_peers_dc: %s has no assignments\n", path);
        exit(1);
    }
}

static int dc_kind_of(char kind) {
    switch (kind) {
    case 'i': return DC_INT;
    case 'b': return DC_BOOL;
    case 'n': return DC_NULL;
    default: return DC_STR;
    }
}

/* Commits transactions [from, to) of the workload, one dc_txn each. */
static void run_txns(dc_replica *r, const char *space, const workload *w, long from, long to) {
    for (long t = from; t < to; t++) {
        dc_txn *txn = NULL;
        CHECK(r, dc_txn_begin(&txn, r, space));
        for (long i = t ? w->txn_end[t - 1] : 0; i < w->txn_end[t]; i++) {
            const op *o = &w->ops[i];
            int kind = dc_kind_of(o->kind);
            const char *str = kind == DC_STR ? o->str : NULL;
            int rc = o->verb == 's' ? dc_txn_set(txn, "driver", o->id, o->field, kind, o->num, str)
                                    : dc_txn_add(txn, "driver", o->id, o->field, kind, o->num, str);
            if (rc != 0)
                die(o->verb == 's' ? "dc_txn_set" : "dc_txn_add", rc, dc_replica_errmsg(r));
        }
        CHECK(r, dc_txn_commit(txn, NULL));
    }
}

static dc_replica *open_replica(const char *path) {
    dc_replica *r = NULL;
    int rc = dc_replica_open(&r, path, NULL);
    if (rc != 0)
        die("dc_replica_open", rc, dc_error_last());
    return r;
}

/* The live records of the space as JSON, for peers.py to compare with the
 * state the workload implies. */
static void save_records(dc_replica *r, const char *space, const char *path) {
    dc_buf out = DC_BUF_INIT;
    CHECK(r, dc_record_list(&out, r, space, "driver"));
    write_file(path, &out);
    dc_buf_dispose(&out);
}

/* ---- write ---- */

static int cmd_write(const char *wpath, const char *dir) {
    workload w;
    char pw[PATH_LEN], pr[PATH_LEN], pf[PATH_LEN], ps[PATH_LEN];
    dc_buf space = DC_BUF_INIT, card = DC_BUF_INIT, members = DC_BUF_INIT, b = DC_BUF_INIT;
    load_workload(&w, wpath);
    snprintf(pw, sizeof pw, "%s/writer.db", dir);
    snprintf(pr, sizeof pr, "%s/receiver.db", dir);
    snprintf(pf, sizeof pf, "%s/full.dcb", dir);
    snprintf(ps, sizeof ps, "%s/state.json", dir);

    /* The receiver is enrolled before anything is written (as in bench.c),
     * so the merge phase finds a replica that holds the key and nothing
     * else. */
    dc_replica *wr = open_replica(pw), *rc = open_replica(pr);
    CHECK(wr, dc_space_create(&space, wr, "peers branch"));
    const char *sp = (const char *)space.ptr;
    CHECK(rc, dc_replica_card(&card, rc));
    CHECK(wr, dc_space_add(wr, sp, (const char *)card.ptr, DC_ROLE_MEMBER));
    CHECK(wr, dc_bundle_export(&members, wr, sp));
    CHECK(rc, dc_bundle_import(rc, members.ptr, members.size, NULL));
    CHECK(rc, dc_space_accept(rc, sp, 0));
    dc_replica_close(rc);

    run_txns(wr, sp, &w, 0, w.first_assign_txn);
    CHECK(wr, dc_bundle_export(&b, wr, sp));
    size_t bundle_before = b.size;
    /* Closing checkpoints the WAL into the file and removes it, so the
     * timed part starts from the same place for every engine: the
     * population on disk, an empty WAL. */
    dc_replica_close(wr);
    wr = open_replica(pw);

    long assignments = w.nops - w.txn_end[w.first_assign_txn - 1];
    long long wchar0 = proc_io("wchar"), wb0 = proc_io("write_bytes");
    double t0 = now_s();
    run_txns(wr, sp, &w, w.first_assign_txn, w.ntxn);
    /* Timed until the writes are readable, not only durable: a commit
     * appends to the change log and the state takes it at the next read
     * (docs/storage.md, "Folding"), so one read ends the timed part. */
    dc_buf one = DC_BUF_INIT;
    CHECK(wr, dc_record_get(&one, wr, sp, "driver", w.ops[w.txn_end[w.ntxn - 2]].id));
    double t = now_s() - t0;
    dc_buf_dispose(&one);
    dc_replica_close(wr);
    long long wchar1 = proc_io("wchar"), wb1 = proc_io("write_bytes");
    long long size = db_size(pw);

    wr = open_replica(pw);
    CHECK(wr, dc_bundle_export(&b, wr, sp));
    write_file(pf, &b);
    save_records(wr, sp, ps);
    dc_replica_close(wr);

    printf("{\"engine\":\"drivercore\",\"space\":\"%s\",\"ops\":%ld,\"txns\":%ld,"
           "\"write_s\":%.6f,\"wchar\":%lld,\"write_bytes\":%lld,\"file_bytes\":%lld,"
           "\"wire_bytes\":%zu,\"full_sync_bytes\":%zu,\"sqlite\":\"%s\"}\n",
           sp, assignments, w.ntxn - w.first_assign_txn, t, wchar1 - wchar0,
           wb0 < 0 ? -1 : wb1 - wb0, size, b.size - bundle_before, b.size, sqlite3_libversion());
    dc_buf_dispose(&space);
    dc_buf_dispose(&card);
    dc_buf_dispose(&members);
    dc_buf_dispose(&b);
    free(w.text);
    free(w.ops);
    free(w.txn_end);
    return 0;
}

/* ---- merge ---- */

/* Reads an integer member of the flat JSON object an import reports. */
static long report_field(const dc_buf *report, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = report->ptr ? strstr((const char *)report->ptr, pat) : NULL;
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static int cmd_merge(const char *dir, const char *space) {
    char pr[PATH_LEN], pf[PATH_LEN], pm[PATH_LEN];
    dc_buf rep = DC_BUF_INIT;
    size_t size;
    snprintf(pr, sizeof pr, "%s/receiver.db", dir);
    snprintf(pf, sizeof pf, "%s/full.dcb", dir);
    snprintf(pm, sizeof pm, "%s/merged.json", dir);
    uint8_t *bundle = (uint8_t *)read_file(pf, &size);
    dc_replica *r = open_replica(pr);
    long long wchar0 = proc_io("wchar");
    double t0 = now_s();
    CHECK(r, dc_bundle_import(r, bundle, size, &rep));
    double t = now_s() - t0;
    long long wchar1 = proc_io("wchar");
    if (report_field(&rep, "held") != 0 || report_field(&rep, "opaque") != 0 ||
        report_field(&rep, "new") <= 0) {
        fprintf(stderr, "bench_peers_dc: the receiver did not apply the bundle: %s\n",
                (const char *)rep.ptr);
        return 1;
    }
    save_records(r, space, pm);
    dc_replica_close(r);
    printf("{\"engine\":\"drivercore\",\"merge_s\":%.6f,\"envelopes\":%ld,\"wchar\":%lld}\n", t,
           report_field(&rep, "envelopes"), wchar1 - wchar0);
    free(bundle);
    dc_buf_dispose(&rep);
    return 0;
}

/* ---- memory ---- */

static int cmd_memory(const char *dir, const char *space, const char *id) {
    char pw[PATH_LEN];
    dc_buf rec = DC_BUF_INIT;
    snprintf(pw, sizeof pw, "%s/writer.db", dir);
    /* The library is loaded and initialised (dc_global_init in main), as
     * the peers' modules are imported, before the baseline is taken. */
    int peak_reset = reset_peak() == 0;
    long long rss0 = proc_mem("VmRSS");
    dc_replica *r = open_replica(pw);
    CHECK(r, dc_record_get(&rec, r, space, "driver", id));
    long long rss1 = proc_mem("VmRSS"), hwm1 = proc_mem("VmHWM");
    if (rec.size < 2) {
        fprintf(stderr, "bench_peers_dc: record %s read empty\n", id);
        return 1;
    }
    dc_replica_close(r);
    printf("{\"engine\":\"drivercore\",\"rss_bytes\":%lld,\"peak_bytes\":%lld,"
           "\"peak_reset\":%s,\"record_bytes\":%zu}\n",
           rss1 - rss0, hwm1 - rss0, peak_reset ? "true" : "false", rec.size);
    dc_buf_dispose(&rec);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_peers_dc write WORKLOAD DIR\n"
                    "       bench_peers_dc merge DIR SPACE\n"
                    "       bench_peers_dc memory DIR SPACE RECORD_ID\n"
                    "  drivercore's side of bench/peers.py; one JSON object on stdout\n");
}

int main(int argc, char **argv) {
    int rc = dc_global_init(NULL);
    if (rc != 0)
        die("dc_global_init", rc, dc_error_last());
    if (argc == 4 && strcmp(argv[1], "write") == 0)
        return cmd_write(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "merge") == 0)
        return cmd_merge(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "memory") == 0)
        return cmd_memory(argv[2], argv[3], argv[4]);
    usage();
    return 2;
}
