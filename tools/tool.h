/*
 * The pieces every `drivercore` subcommand shares: exit codes, messages in
 * the tool's one format, the pinned clock (DRIVERCORE_NOW_MS), opening
 * replicas without ever creating one by mistake, reading whole files, and
 * a small option parser.  Subcommands in other files (the domain commands)
 * use these so that every command behaves and reports alike.
 */
#ifndef DRIVERCORE_TOOL_H
#define DRIVERCORE_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivercore.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#if defined(__GNUC__)
#define TOOL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TOOL_PRINTF(a, b)
#endif

/* The HLC keeps 48 bits of milliseconds (year 10889); a pinned clock beyond
 * that could not be represented, so it is refused with a clear message. */
#define NOW_MS_MAX ((int64_t)0xFFFFFFFFFFFFLL)

/* "drivercore: <message>" on stderr; returns EXIT_FAIL. */
int fail(const char *fmt, ...) TOOL_PRINTF(1, 2);
/* A usage error: the message, a pointer to --help; returns EXIT_USAGE. */
int usage_error(const char *fmt, ...) TOOL_PRINTF(1, 2);
/* The handle's message, or the code's default message when there is none. */
const char *replica_why(const dc_replica *r, int rc);
/* "<what>: <why>", without saying <what> twice. Returns EXIT_FAIL. */
int fail_r(const dc_replica *r, int rc, const char *what);
/* Library JSON exactly as produced, then one newline. */
void print_buf(const dc_buf *b);
/* JSON the tool builds (a jansson json_t, reference stolen), then a newline. */
struct json_t;
int tool_print_json(struct json_t *j);

/* Reads DRIVERCORE_NOW_MS (unset or empty: the system clock). */
int read_clock_env(void);
/* Sets the pinned clock, if any, on replica options. */
void tool_clock_options(dc_replica_options *o);
/* The clock the tool runs on, in ms since the epoch (pinned or system). */
int64_t tool_now_ms(void);

/* ---- the at-rest key (docs/format/at-rest.md) ----
 * `--key-file PATH` (anywhere before `--`, for every command) or
 * DRIVERCORE_PASSPHRASE gives the key of every replica a command opens.
 * tool_key_setup takes `--key-file` out of argv (so that subcommands never
 * see it) and reads the key; it returns EXIT_OK or prints why not. */
int tool_key_setup(int *argc, char **argv);
/* Sets the key provider on replica options when a key was given. */
void tool_key_options(dc_replica_options *o);
/* True when a key was given. */
bool tool_key_given(void);
/* Reads a key file: 32 raw bytes, or 64 hex digits and an optional newline;
 * refuses a file others may read.  Returns EXIT_OK or prints why not. */
int tool_read_key_file(const char *path, uint8_t key[32]);
/* A key provider over a key file or a passphrase, for rekey's new key. */
typedef struct tool_key {
    bool have_key;
    uint8_t key[32];
    const char *pass;
    int purpose; /* the last purpose asked, 0 if never */
} tool_key;
int tool_key_provider(void *user, dc_key *k, int purpose);
/* Overwrites memory in a way the compiler cannot drop. */
void tool_wipe(void *p, size_t n);

bool path_exists(const char *path);
/* Opens an existing replica; never creates a file. */
int open_existing(dc_replica **out, const char *path);
/* A whole file (or stdin for "-"), NUL-terminated, malloc'd. */
char *read_file(const char *path, size_t *len_out, int *err);

/* ---- a small option parser for subcommands ----
 * `allowed` lists option names; a name ending in '!' is a flag without a
 * value.  `--opt VALUE`, `--opt=VALUE`; `--` ends options. */
typedef struct tool_args {
    const char *pos[16];
    int npos;
    const char *names[16];
    const char *vals[16];
    int nopt;
} tool_args;

int tool_parse(tool_args *a, int argc, char **argv, int start, const char *const *allowed,
               const char *cmd);
/* The option's value; "" for a flag that is present; NULL when absent. */
const char *tool_opt(const tool_args *a, const char *name);

/* ---- subcommands in their own files, dispatched by drivercore.c ---- */
int cmd_sync(int argc, char **argv);      /* sync REPLICA PEER_REPLICA | --relay URL */
int cmd_serve(int argc, char **argv);     /* serve REPLICA --listen HOST:PORT */
int cmd_registry(int argc, char **argv);  /* registry import|conflicts|find */
int cmd_case(int argc, char **argv);      /* case file|step|show, calendar ... */
int cmd_org(int argc, char **argv);       /* region, org, station, checkin, branch, ... */
int cmd_stats(int argc, char **argv);     /* stats */
int cmd_demo_data(int argc, char **argv); /* demo-data province */
int cmd_keygen(int argc, char **argv);    /* keygen KEY_FILE */
int cmd_rekey(int argc, char **argv);     /* rekey REPLICA */
int cmd_attach(int argc, char **argv);    /* attach put|get|ls|policy|gc */

#endif
