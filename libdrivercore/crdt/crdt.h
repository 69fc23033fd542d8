/*
 * crdt — the total order every merge rule stands on.  An op's clock is
 * (hybrid logical timestamp, author device key); two ops never share both,
 * because one device's timestamps strictly increase.  The rules that use
 * it (register, set, event, delete) are documented in docs/data-model.md
 * and applied to the stored state by store/apply.c.
 */
#ifndef DC_CRDT_H
#define DC_CRDT_H

#include "base/base.h"

/* True when clock (h1, pk1) is later than (h2, pk2): by timestamp, ties
 * broken by the bytes of the device key. */
bool dc__clock_later(dc_hlc h1, const uint8_t pk1[32], dc_hlc h2, const uint8_t pk2[32]);

#endif
