/*
 * demo_net — the network half of the demo: it starts the real
 * `drivercore-relay` daemon on 127.0.0.1 (a free port chosen by the
 * kernel), sets the relay's clock to the story's time, stops it with
 * SIGTERM, and syncs a device with it over HTTP exactly as
 * `drivercore sync --relay` does: through the library's sync client
 * (include/drivercore/client.h).
 */
#ifndef DEMO_NET_H
#define DEMO_NET_H

#include <stdint.h>
#include <sys/types.h>

#include "drivercore.h"

typedef struct demo_relay {
    pid_t pid; /* 0 when not running */
    int port;
    char url[64];            /* "http://127.0.0.1:PORT" */
    char store[512];         /* the relay's SQLite store */
    char log[512];           /* its stderr */
    char clock_file[512];    /* read by relay_clock.so inside the relay */
    volatile int64_t *clock; /* the same page, mapped here */
} demo_relay;

/*
 * Starts the relay with its store and log in `dir`, its wall clock at
 * `now_ms`, and waits until it listens.  Returns 0, or -1 with a message in
 * err.
 */
int relay_start(demo_relay *rl, const char *dir, int64_t now_ms, char *err, size_t errcap);

/* Sets the relay's wall clock (it reads it at its next request). */
void relay_set_clock(demo_relay *rl, int64_t now_ms);

/* SIGTERM, then waits for the exit (up to 10 s, then SIGKILL).  Returns the
 * relay's exit status (0: a clean stop), or -1. */
int relay_stop(demo_relay *rl);

/* The figures of one sync (dc_sync_report). */
typedef struct sync_figures {
    long bytes_sent, bytes_received, round_trips, changes_sent, changes_received;
    long long clock_offset_ms; /* the relay's clock minus ours, before correction */
    int sessions;              /* sync sessions it took (dc_client_stats) */
} sync_figures;

/*
 * One sync of `r` with the relay at `url`: authenticate with the device
 * key, run an initiator session to the end, then record the relay sync
 * (dc_sync_note_relay: clock offset, time of sync, what the relay now
 * durably holds).  Returns 0, or -1 with a message in err.
 */
int relay_sync(sync_figures *fig, dc_replica *r, const char *url, char *err, size_t errcap);

#endif
