/*
 * Private to the relay: opening a relay core over a store opened apart
 * (a store that the library itself does not link, such as a shared
 * database's, opened by the daemon).
 */
#ifndef DC_RELAY_INT_H
#define DC_RELAY_INT_H

#include "drivercore/relay.h"
#include "relay/relay_store.h"

/* A relay core over `st`, which it takes over (closed by dc_relay_close,
 * or at once if the relay cannot be opened).  Errors as dc_relay_open. */
int dc__relay_open_store(dc_relay **out, dc__relay_store *st, const dc_relay_options *opts);

#endif
