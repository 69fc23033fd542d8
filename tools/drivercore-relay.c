/*
 * drivercore-relay: the relay daemon (docs/relay.md).  The relay core of
 * libdrivercore/relay/ (authentication, sync sessions, rate limits, change
 * notification, metrics) behind the HTTP endpoints of relay_http.c (on
 * libmicrohttpd, shared with `drivercore serve`), over a durable store.
 *
 * Shutdown: SIGTERM or SIGINT stops accepting, answers every long-poll
 * ("changed": false), lets requests in flight finish, closes the store
 * and exits 0.  SIGKILL loses nothing acknowledged: a sync reply is sent
 * only after the changes it answers are committed with synchronous=FULL.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "drivercore.h"
#include "drivercore/relay.h"
#include "relay_http.h"
#include "vec.h"
#ifdef DC_RELAY_PG
#include "relay/relay_int.h"
#include "relay_pg.h"

/* The default cache (a directory of its own) is removed at exit. */
static void remove_cache(const char *dir) {
    if (!dir[0])
        return;
    const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[160];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/cache.db%s", dir, suffix[i]);
        remove(path);
    }
    rmdir(dir);
}
#endif

/* ---- a clock for tests and demos ----
 * The relay's clock is authoritative for the devices (it corrects theirs),
 * so a story told at a fixed date needs the relay on the same calendar:
 * --clock-file maps a file whose first 8 bytes another process writes. */
static int64_t file_clock(void *user) {
    return *(volatile const int64_t *)user;
}

/* ---- main ---- */

static int usage(void) {
    fprintf(stderr, "usage: drivercore-relay --store PATH --listen HOST:PORT [options]\n"
                    "       drivercore-relay backup --store PATH --to DEST\n"
                    "  --threads N          MHD worker threads (default 8)\n"
                    "  --max-connections N  connections at once (default 10000)\n"
                    "  --per-ip N           connections per client address (default 1024; 0: no\n"
                    "                       limit)\n"
                    "  --max-body BYTES     sync request body cap (default 67108864)\n"
                    "  --max-waiters N      long-polling devices at once (default 20000)\n"
                    "  --rate R --burst B   per-device sync requests per second, burst (50, 200)\n"
                    "  --token-ttl SECONDS  session token lifetime (default 600)\n"
                    "  --challenge-ttl SECONDS  challenge lifetime (default 60)\n"
                    "  --quiet              log only refusals and lifecycle\n"
                    "  --log-format text|json  one JSON object a line with json (text)\n"
                    "  --mem-per-address BYTES  request bodies buffered per client address\n"
                    "                       (default 4 x --max-body)\n"
                    "  --mem-per-device BYTES   request bodies buffered per device (--max-body)\n"
                    "  --solo-quota BYTES   what a device may store in spaces where no other\n"
                    "                       device is a member (default 4194304; 0: no quota)\n"
                    "  --header-timeout S   every request's headers within S of the connect or\n"
                    "                       of the previous request's end (30)\n"
                    "  --idle-timeout S     a connection silent S seconds is closed (30)\n"
                    "  --body-grace S --body-min-rate BYTES  after S seconds a body must\n"
                    "                       average BYTES a second (10, 512)\n"
                    "  --store postgresql://...  several relays over one PostgreSQL (a libpq\n"
                    "                       URI); --cache PATH: this relay's SQLite cache of it\n"
                    "                       (default: a new file, removed at exit)\n"
                    "  --tls-cert PATH --tls-key PATH  serve HTTPS: the certificate chain and\n"
                    "                       its private key, PEM (GnuTLS)\n"
                    "  --config FILE        options from FILE, one `name = value` a line (the\n"
                    "                       long option without its dashes; `quiet = 1`; `#`\n"
                    "                       comments); flags on the command line win\n"
                    "  --clock-file PATH    tests and demos only: the wall clock is the native\n"
                    "                       int64 of ms since the epoch at the start of PATH\n"
                    "                       (mapped, so another process can move time)\n"
                    "backup: an online, consistent copy of the SQLite store into DEST (a relay\n"
                    "  may be serving from it); prints {\"backup\": DEST, \"bytes\": N}.  To\n"
                    "  restore: stop the relay, put DEST in place of the store, remove the\n"
                    "  store's -wal and -shm files, start the relay (docs/relay.md).\n");
    return 2;
}

/* drivercore-relay backup --store PATH --to DEST */
static int backup_main(int argc, char **argv) {
    const char *store = NULL, *dest = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--store") == 0)
            store = argv[i + 1];
        else if (strcmp(argv[i], "--to") == 0)
            dest = argv[i + 1];
        else
            return usage();
    }
    if (!store || !dest || argc % 2 != 0)
        return usage();
    if (dc_global_init(NULL) != 0) {
        fprintf(stderr, "drivercore-relay: %s\n", dc_error_last());
        return 1;
    }
    if (dc_relay_backup(store, dest) != 0) {
        fprintf(stderr, "drivercore-relay: backup failed: %s\n", dc_error_last());
        return 1;
    }
    struct stat st;
    long long bytes = stat(dest, &st) == 0 ? (long long)st.st_size : -1;
    json_t *out = json_pack("{s:s,s:I}", "backup", dest, "bytes", (json_int_t)bytes);
    char *s = out ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s)
        puts(s);
    free(s);
    json_decref(out);
    return s ? 0 : 1;
}

/* A whole file in memory, NUL-terminated (PEM is text); NULL on error. */
static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (VEC_RESERVE(buf, cap, len + 4097)) {
            free(buf);
            fclose(f);
            return NULL;
        }
        size_t k = fread(buf + len, 1, 4096, f);
        len += k;
        if (k < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    *n = len;
    return buf;
}

static void free_pem(char *cert, char *key, size_t key_n) {
    free(cert);
    if (key)
        explicit_bzero(key, key_n);
    free(key);
}

/* ---- the config file ----
 * `name = value` lines become `--name value` ahead of the command line's
 * own flags, so a flag given on the command line wins (it comes later). */
typedef struct args {
    char **v;
    int n;
    size_t cap;
} args;

static int args_add(args *a, const char *s, size_t n) {
    if (VEC_ROOM(a->v, a->n, a->cap))
        return -1;
    if (!(a->v[a->n] = strndup(s, n)))
        return -1;
    a->n++;
    return 0;
}

static char *trim(char *s, char **end) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    *end = e;
    return s;
}

static int read_config(args *a, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "drivercore-relay: cannot read the config file %s: %s\n", path,
                strerror(errno));
        return 2;
    }
    char line[4096];
    int no = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        no++;
        char *e, *s = trim(line, &e);
        if (s == e || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "drivercore-relay: %s:%d: want `name = value`\n", path, no);
            rc = 2;
            break;
        }
        *eq = 0;
        char *ke, *k = trim(s, &ke), *ve, *v = trim(eq + 1, &ve);
        *ke = 0;
        if (!*k || strcmp(k, "config") == 0) {
            fprintf(stderr, "drivercore-relay: %s:%d: no option name, or a nested config\n", path,
                    no);
            rc = 2;
            break;
        }
        char opt[128];
        size_t kl = (size_t)(ke - k);
        if (kl > sizeof opt - 3) {
            fprintf(stderr, "drivercore-relay: %s:%d: no such option\n", path, no);
            rc = 2;
            break;
        }
        opt[0] = opt[1] = '-';
        memcpy(opt + 2, k, kl);
        opt[kl + 2] = 0;
        if (strcmp(k, "quiet") == 0) {
            if (!(ve - v == 1 && *v == '0'))
                rc = args_add(a, opt, strlen(opt)) ? 1 : 0;
            continue;
        }
        if (args_add(a, opt, strlen(opt)) || args_add(a, v, (size_t)(ve - v)))
            rc = 1;
    }
    fclose(f);
    return rc;
}

static int serve_main(int argc, char **argv);

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "backup") == 0)
        return backup_main(argc, argv);
    const char *config = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
    if (!config)
        return serve_main(argc, argv);
    args a = {NULL, 0, 0};
    int rc = args_add(&a, argv[0], strlen(argv[0]));
    if (!rc)
        rc = read_config(&a, config);
    for (int i = 1; !rc && i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            i++;
            continue;
        }
        rc = args_add(&a, argv[i], strlen(argv[i]));
    }
    if (rc == 1)
        fprintf(stderr, "drivercore-relay: out of memory\n");
    if (!rc)
        rc = serve_main(a.n, a.v);
    for (int i = 0; i < a.n; i++)
        free(a.v[i]);
    free(a.v);
    return rc;
}

/* ---- serving: the relay's main, in its steps ---- */

/* What the command line asks for. */
typedef struct serve_cfg {
    const char *store, *tls_cert, *tls_key, *cache;
    relay_http_options ho;
    dc_relay_options ro;
} serve_cfg;

/* --clock-file FILE: the relay's clock read from FILE's first 8 bytes. */
static int map_clock_file(serve_cfg *c, const char *v) {
    int fd = open(v, O_RDONLY | O_CLOEXEC);
    void *m = fd >= 0 ? mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (fd >= 0)
        close(fd);
    if (m == MAP_FAILED) {
        fprintf(stderr, "drivercore-relay: cannot map the clock file %s\n", v);
        return 2;
    }
    c->ro.clock = file_clock;
    c->ro.clock_user = m;
    return 0;
}

/* One option that takes a value: 0, or the exit code (a usage error). */
static int parse_option(serve_cfg *c, const char *o, const char *v) {
    relay_http_options *ho = &c->ho;
    dc_relay_options *ro = &c->ro;
    if (strcmp(o, "--store") == 0)
        c->store = v;
    else if (strcmp(o, "--mem-per-address") == 0)
        ho->mem_per_address = (size_t)strtoull(v, NULL, 10);
    else if (strcmp(o, "--mem-per-device") == 0)
        ho->mem_per_device = (size_t)strtoull(v, NULL, 10);
    else if (strcmp(o, "--header-timeout") == 0)
        ho->header_s = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--idle-timeout") == 0)
        ho->idle_s = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--body-grace") == 0)
        ho->body_grace_s = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--body-min-rate") == 0)
        ho->body_min_rate = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--log-format") == 0) {
        if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
            return usage();
        relay_http_log_json(strcmp(v, "json") == 0);
    } else if (strcmp(o, "--cache") == 0)
        c->cache = v;
    else if (strcmp(o, "--tls-cert") == 0)
        c->tls_cert = v;
    else if (strcmp(o, "--tls-key") == 0)
        c->tls_key = v;
    else if (strcmp(o, "--listen") == 0)
        ho->listen = v;
    else if (strcmp(o, "--threads") == 0)
        ho->threads = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--max-connections") == 0)
        ho->max_conn = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--per-ip") == 0)
        ho->per_ip = strtoul(v, NULL, 10) ? (unsigned)strtoul(v, NULL, 10) : UINT_MAX;
    else if (strcmp(o, "--max-body") == 0)
        ho->sync_max = (size_t)strtoull(v, NULL, 10);
    else if (strcmp(o, "--max-waiters") == 0)
        ho->max_waiters = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(o, "--solo-quota") == 0)
        ro->solo_quota_bytes = strtoll(v, NULL, 10) ? strtoll(v, NULL, 10) : -1;
    else if (strcmp(o, "--rate") == 0)
        ro->rate_per_s = strtod(v, NULL);
    else if (strcmp(o, "--burst") == 0)
        ro->rate_burst = strtod(v, NULL);
    else if (strcmp(o, "--challenge-ttl") == 0)
        ro->challenge_ttl_ms = (int64_t)(strtod(v, NULL) * 1000);
    else if (strcmp(o, "--token-ttl") == 0)
        ro->token_ttl_ms = (int64_t)(strtod(v, NULL) * 1000);
    else if (strcmp(o, "--clock-file") == 0)
        return map_clock_file(c, v);
    else
        return usage();
    return 0;
}

/* The command line read into c and checked: -1 to go on, or the exit code
 * (0 after --help). */
static int parse_args(serve_cfg *c, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--quiet") == 0) {
            c->ho.quiet = 1;
            continue;
        }
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            usage();
            return 0;
        }
        if (!v)
            return usage();
        i++;
        int rc = parse_option(c, o, v);
        if (rc)
            return rc;
    }
#ifndef DC_RELAY_PG
    if (c->cache || (c->store && strstr(c->store, "://"))) {
        fprintf(stderr, "drivercore-relay: this relay was built without libpq: no "
                        "postgresql:// store\n");
        return 2;
    }
#endif
    if (c->ho.threads == 0)
        c->ho.threads = 8;
    if (!c->store || !c->ho.listen || c->ho.threads > 64)
        return usage();
    if (!strrchr(c->ho.listen, ':')) {
        fprintf(stderr, "drivercore-relay: --listen wants HOST:PORT, got %s\n", c->ho.listen);
        return 2;
    }
    if ((c->tls_cert != NULL) != (c->tls_key != NULL)) {
        fprintf(stderr, "drivercore-relay: --tls-cert and --tls-key go together\n");
        return 2;
    }
    return -1;
}

/* The TLS material, read before anything starts (into c->ho); the key is
 * wiped at exit (free_pem).  0 or the exit code. */
typedef struct pem {
    char *cert, *key;
    size_t cert_n, key_n;
} pem;

static int read_tls(serve_cfg *c, pem *t) {
    if (!c->tls_cert)
        return 0;
    if (!(t->cert = slurp(c->tls_cert, &t->cert_n)) || !(t->key = slurp(c->tls_key, &t->key_n))) {
        fprintf(stderr, "drivercore-relay: cannot read %s: %s\n",
                t->cert ? c->tls_key : c->tls_cert, strerror(errno));
        free(t->cert);
        t->cert = NULL;
        return 2;
    }
    c->ho.tls_cert_pem = t->cert;
    c->ho.tls_key_pem = t->key;
    return 0;
}

/* Room for the connection limit in file descriptors. */
static void raise_fd_limit(void) {
    struct rlimit rlim;
    if (getrlimit(RLIMIT_NOFILE, &rlim) == 0 && rlim.rlim_cur < rlim.rlim_max) {
        rlim.rlim_cur = rlim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rlim);
    }
}

/* The relay over its store: a SQLite file, or (with libpq) a PostgreSQL
 * log shared by several relays with a SQLite cache in front of it. */
typedef struct opened {
    dc_relay *rl;
#ifdef DC_RELAY_PG
    relay_pg *pg;
    char cache_dir[64]; /* the default cache's directory, removed at exit */
    char cache_path[128];
#endif
} opened;

/* Closes what open_store opened, in order: the shared log's reader stops
 * before the relay closes the store it writes to. */
static void close_store(opened *s) {
#ifdef DC_RELAY_PG
    relay_pg_stop(s->pg);
#endif
    dc_relay_close(s->rl);
#ifdef DC_RELAY_PG
    relay_pg_free(s->pg);
    remove_cache(s->cache_dir);
#endif
}

#ifdef DC_RELAY_PG
/* The shared store: 0, 1 when the database cannot be reached or a cache
 * directory made (logged), or a library error code (in dc_error_last). */
static int open_shared(opened *s, serve_cfg *c) {
    /* Several relays over one PostgreSQL: the database holds the shared
     * log, a SQLite file here the verified cache in front of it. */
    char perr[512];
    if (!(s->pg = relay_pg_open(c->store, perr, sizeof perr))) {
        relay_http_log("cannot open the store: %s", perr);
        return 1;
    }
    if (!c->cache) {
        snprintf(s->cache_dir, sizeof s->cache_dir, "/tmp/drivercore-relay-cache-XXXXXX");
        if (!mkdtemp(s->cache_dir)) {
            relay_http_log("cannot make a cache directory: %s", strerror(errno));
            s->cache_dir[0] = 0;
            relay_pg_free(s->pg);
            s->pg = NULL;
            return 1;
        }
        snprintf(s->cache_path, sizeof s->cache_path, "%s/cache.db", s->cache_dir);
        c->cache = s->cache_path;
    }
    dc__relay_shared sh = relay_pg_shared(s->pg);
    dc__relay_store *st = NULL;
    dc__err e = {0};
    int rc;
    if ((rc = dc_global_init(NULL)) == 0 &&
        (rc = dc__relay_store_open_shared(&st, c->cache, c->ro.clock, c->ro.clock_user, &sh, &e)) !=
            0)
        dc__last_from(&e);
    if (!rc && (rc = dc__relay_open_store(&s->rl, st, &c->ro)) == 0 &&
        relay_pg_start(s->pg, st) != 0)
        rc = dc__last_set(DC_ENOMEM, "cannot start the shared log's reader");
    relay_http_log("store %s (shared), cache %s", "postgresql", c->cache);
    return rc;
}
#endif

/* 0, or the exit code (1) with the reason logged and nothing left open. */
static int open_store(opened *s, serve_cfg *c) {
    int rc;
#ifdef DC_RELAY_PG
    if (strncmp(c->store, "postgresql://", 13) == 0 || strncmp(c->store, "postgres://", 11) == 0) {
        if ((rc = open_shared(s, c)) == 1)
            return 1;
    } else
#endif
        rc = dc_relay_open(&s->rl, c->store, &c->ro);
    if (rc) {
        relay_http_log("cannot open the store: %s", dc_error_last());
#ifdef DC_RELAY_PG
        relay_pg_free(s->pg);
        remove_cache(s->cache_dir);
#endif
        return 1;
    }
    return 0;
}

static int serve_main(int argc, char **argv) {
    serve_cfg c = {0};
    c.ho.name = "drivercore-relay";
    c.ro = (dc_relay_options)DC_RELAY_OPTIONS_INIT;
    int rc = parse_args(&c, argc, argv);
    if (rc >= 0)
        return rc;
    pem tls = {0};
    if ((rc = read_tls(&c, &tls)))
        return rc;
    relay_http_block_signals();
    raise_fd_limit();
    opened s = {0};
    if ((rc = open_store(&s, &c))) {
        free_pem(tls.cert, tls.key, tls.key_n);
        return rc;
    }
    char err[512];
    relay_http *h = relay_http_start(s.rl, &c.ho, err, sizeof err);
    if (!h) {
        relay_http_log("%s", err);
        close_store(&s);
        free_pem(tls.cert, tls.key, tls.key_n);
        return strstr(err, "resolve") || strstr(err, "HOST:PORT") ? 2 : 1;
    }
    if (strstr(c.store, "://") == NULL)
        relay_http_log("store %s", c.store);
    int sig = relay_http_wait_signal();
    relay_http_log("signal %d: stopping", sig);
    relay_http_stop(h);
    close_store(&s);
    relay_http_log("stopped; store closed");
    free_pem(tls.cert, tls.key, tls.key_n);
    return 0;
}
