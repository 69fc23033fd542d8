/*
 * The helpers every `drivercore` subcommand shares (see tool.h): one
 * message format, the pinned clock, opening replicas without creating
 * them by mistake, whole-file reads and a small option parser.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "hex.h"
#include "tool.h"
#include "vec.h"

/* "drivercore: <message>" on stderr; returns EXIT_FAIL so callers can
 * `return fail(...)`. */
int fail(const char *fmt, ...) {
    va_list ap;
    fputs("drivercore: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

/* A usage error: the message, a pointer to --help, exit status 2. */
int usage_error(const char *fmt, ...) {
    va_list ap;
    fputs("drivercore: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(run `drivercore --help` for usage)\n", stderr);
    return EXIT_USAGE;
}

/* The handle's message, or the code's default message when the library
 * left none, so the user always learns something. */
const char *replica_why(const dc_replica *r, int rc) {
    const char *m = dc_replica_errmsg(r);
    return (m && *m) ? m : dc_strerror(rc);
}

/* "<what>: <why>", without saying <what> twice when the library's message
 * already starts with it. */
int fail_r(const dc_replica *r, int rc, const char *what) {
    const char *why = replica_why(r, rc);
    size_t n = strlen(what);
    if (strncmp(why, what, n) == 0 && why[n] == ':')
        return fail("%s", why);
    return fail("%s: %s", what, why);
}

/* JSON the tool builds itself (steals the reference), then one newline. */
int tool_print_json(json_t *j) {
    char *s;
    if (!j)
        return fail("out of memory");
    s = json_dumps(j, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s)
        return fail("out of memory");
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return EXIT_OK;
}

/* Library JSON goes out exactly as produced (dump must stay byte-identical
 * across replicas), followed by one newline. */
void print_buf(const dc_buf *b) {
    if (b->size > 0)
        fwrite(b->ptr, 1, b->size, stdout);
    fputc('\n', stdout);
}

/* ---- the clock ---- */

static int64_t pinned_now;
static bool clock_pinned;

static int64_t pinned_clock(void *user) {
    return *(const int64_t *)user;
}

/* Reads DRIVERCORE_NOW_MS: unset or empty means the system clock. */
int read_clock_env(void) {
    const char *s = getenv("DRIVERCORE_NOW_MS");
    char *end = NULL;
    long long v;
    if (!s || !*s)
        return EXIT_OK;
    if (*s < '0' || *s > '9')
        return usage_error("DRIVERCORE_NOW_MS='%s' is not a number of milliseconds since "
                           "the epoch (digits only)",
                           s);
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || v < 0 || v > NOW_MS_MAX)
        return usage_error("DRIVERCORE_NOW_MS='%s' is not a number of milliseconds since "
                           "the epoch between 0 and %lld",
                           s, (long long)NOW_MS_MAX);
    pinned_now = (int64_t)v;
    clock_pinned = true;
    return EXIT_OK;
}

void tool_clock_options(dc_replica_options *o) {
    if (clock_pinned) {
        o->clock = pinned_clock;
        o->clock_user = &pinned_now;
    }
    /* The installation's id (docs/recovery.md): a replica opened under
     * another one than it recorded is marked cloned ("copied"). */
    const char *install = getenv("DRIVERCORE_INSTALL_ID");
    if (install && *install)
        o->install_id = install;
}

int64_t tool_now_ms(void) {
    struct timespec ts;
    if (clock_pinned)
        return pinned_now;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- opening replicas ---- */

static tool_key g_key; /* the at-rest key given on the command line, if any */

bool path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Opens an existing replica.  The existence check here comes before the
 * library's must_exist, so that a mistyped path never leaves a stray file
 * behind whatever the storage layer does on open. */
int open_existing(dc_replica **out, const char *path) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    int rc;
    *out = NULL;
    if (!path_exists(path))
        return fail("no replica at '%s' (create one with `drivercore init %s`)", path, path);
    o.must_exist = 1;
    tool_clock_options(&o);
    tool_key_options(&o);
    rc = dc_replica_open(out, path, &o);
    if (rc != 0)
        return fail("cannot open replica '%s': %s", path,
                    *dc_error_last() ? dc_error_last() : dc_strerror(rc));
    /* An existing file asked for a new key: it was in clear, and is now
     * encrypted.  Say so once, on stderr (stdout stays the command's). */
    if (g_key.purpose == DC_KEY_NEW)
        fprintf(stderr, "drivercore: note: '%s' was not encrypted; it is now, with the %s\n", path,
                g_key.have_key ? "key from --key-file" : "passphrase from DRIVERCORE_PASSPHRASE");
    g_key.purpose = 0;
    return EXIT_OK;
}

/* ---- the at-rest key ---- */

void tool_wipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static void wipe_key(void) {
    tool_wipe(g_key.key, sizeof g_key.key);
}

int tool_read_key_file(const char *path, uint8_t key[32]) {
    struct stat st;
    unsigned char buf[80];
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail("cannot read the key file '%s': %s", path, strerror(errno));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fail("the key file '%s' is not a regular file", path);
    }
    /* Like ssh with a private key: a key others can read is no secret. */
    if (st.st_mode & 077) {
        fclose(f);
        return fail("the key file '%s' can be read by other users (mode %03o); make it private "
                    "with `chmod 600 %s`",
                    path, (unsigned)(st.st_mode & 0777), path);
    }
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (n == 32) {
        memcpy(key, buf, 32);
        tool_wipe(buf, sizeof buf);
        return EXIT_OK;
    }
    /* 64 hex digits, then at most a line end. */
    size_t end = n;
    while (end > 64 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
        end--;
    int ok = hex_decode_span(key, 32, (const char *)buf, end) == 0;
    tool_wipe(buf, sizeof buf);
    if (!ok) {
        tool_wipe(key, 32);
        return fail("the key file '%s' holds neither 32 bytes nor 64 hex digits (make one with "
                    "`drivercore keygen %s`)",
                    path, path);
    }
    return EXIT_OK;
}

int tool_key_provider(void *user, dc_key *k, int purpose) {
    tool_key *tk = user;
    tk->purpose = purpose;
    if (tk->have_key)
        return dc_key_set(k, tk->key, sizeof tk->key);
    return dc_key_set_passphrase(k, tk->pass, strlen(tk->pass));
}

int tool_key_setup(int *argc, char **argv) {
    const char *file = NULL;
    int out = 1;
    bool rest = false;
    for (int i = 1; i < *argc; i++) {
        const char *s = argv[i];
        if (!rest && strcmp(s, "--") == 0)
            rest = true;
        if (!rest && strcmp(s, "--key-file") == 0) {
            if (i + 1 >= *argc)
                return usage_error("option '--key-file' needs a value");
            file = argv[++i];
            continue;
        }
        if (!rest && strncmp(s, "--key-file=", 11) == 0) {
            file = s + 11;
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    const char *pass = getenv("DRIVERCORE_PASSPHRASE");
    if (pass && !*pass)
        pass = NULL;
    if (file && pass)
        return usage_error("give the replica's key either with --key-file or in "
                           "DRIVERCORE_PASSPHRASE, not both");
    atexit(wipe_key);
    if (file) {
        if (tool_read_key_file(file, g_key.key) != EXIT_OK)
            return EXIT_FAIL;
        g_key.have_key = true;
    }
    g_key.pass = pass;
    return EXIT_OK;
}

bool tool_key_given(void) {
    return g_key.have_key || g_key.pass != NULL;
}

void tool_key_options(dc_replica_options *o) {
    if (tool_key_given()) {
        o->key_provider = tool_key_provider;
        o->key_user = &g_key;
    }
}

/* ---- reading whole files ---- */

/* Reads a whole file (or stdin for "-") into a NUL-terminated malloc'd
 * string. */
char *read_file(const char *path, size_t *len_out, int *err) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    *err = 0;
    if (!f) {
        *err = errno;
        return NULL;
    }
    for (;;) {
        size_t n;
        if (VEC_RESERVE(buf, cap, len + 4096)) {
            *err = ENOMEM;
            goto fail;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                *err = errno ? errno : EIO;
                goto fail;
            }
            break;
        }
    }
    buf[len] = '\0';
    if (f != stdin)
        fclose(f);
    if (len_out)
        *len_out = len;
    return buf;
fail:
    free(buf);
    if (f != stdin)
        fclose(f);
    return NULL;
}

/* ---- options ---- */

int tool_parse(tool_args *a, int argc, char **argv, int start, const char *const *allowed,
               const char *cmd) {
    bool only_pos = false;
    memset(a, 0, sizeof *a);
    for (int i = start; i < argc; i++) {
        const char *s = argv[i];
        if (!only_pos && strcmp(s, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (!only_pos && s[0] == '-' && s[1] == '-') {
            const char *key = s + 2, *eq = strchr(key, '=');
            size_t klen = eq ? (size_t)(eq - key) : strlen(key);
            const char *name = NULL;
            bool flag = false;
            for (size_t k = 0; allowed && allowed[k]; k++) {
                size_t n = strlen(allowed[k]);
                bool f = n > 0 && allowed[k][n - 1] == '!';
                if ((f ? n - 1 : n) == klen && strncmp(allowed[k], key, klen) == 0) {
                    name = allowed[k];
                    flag = f;
                    break;
                }
            }
            if (!name)
                return usage_error("%s: unknown option '%s'", cmd, s);
            if (a->nopt == (int)(sizeof a->names / sizeof a->names[0]))
                return usage_error("%s: too many options", cmd);
            const char *val;
            if (flag) {
                if (eq)
                    return usage_error("%s: option '--%.*s' takes no value", cmd, (int)klen, key);
                val = "";
            } else if (eq) {
                val = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return usage_error("%s: option '--%.*s' needs a value", cmd, (int)klen, key);
                val = argv[++i];
            }
            a->names[a->nopt] = name;
            a->vals[a->nopt++] = val;
            continue;
        }
        if (!only_pos && s[0] == '-' && s[1] != '\0')
            return usage_error("%s: unknown option '%s'", cmd, s);
        if (a->npos == (int)(sizeof a->pos / sizeof a->pos[0]))
            return usage_error("%s: too many arguments", cmd);
        a->pos[a->npos++] = s;
    }
    return EXIT_OK;
}

const char *tool_opt(const tool_args *a, const char *name) {
    size_t n = strlen(name);
    for (int i = a->nopt - 1; i >= 0; i--) {
        const char *k = a->names[i];
        size_t kn = strlen(k);
        if (kn && k[kn - 1] == '!')
            kn--;
        if (kn == n && strncmp(k, name, n) == 0)
            return a->vals[i];
    }
    return NULL;
}
