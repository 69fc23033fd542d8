/*
 * drivercore-relay over a PostgreSQL database shared by several relays
 * (relay_pg.c; docs/relay.md, "Several relays").
 */
#ifndef DC_TOOLS_RELAY_PG_H
#define DC_TOOLS_RELAY_PG_H

#include <stddef.h>

#include "relay/relay_store.h"

typedef struct relay_pg relay_pg;

/* Connects to `url` (a libpq URI: postgresql://...) and creates or
 * migrates the schema; NULL with the reason in err. */
relay_pg *relay_pg_open(const char *url, char *err, size_t errcap);
/* The shared log for dc__relay_store_open_shared (valid while p lives). */
dc__relay_shared relay_pg_shared(relay_pg *p);
/* Starts tailing the log into `st` (the store opened with it). */
int relay_pg_start(relay_pg *p, dc__relay_store *st);
/* Stops the tail (before the store closes). */
void relay_pg_stop(relay_pg *p);
/* Stops and frees; NULL is a no-op.  Call after the store is closed. */
void relay_pg_free(relay_pg *p);

#endif
