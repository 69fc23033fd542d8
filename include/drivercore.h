/*
 * drivercore — an offline-first sync core: the public API.
 *
 * Only the headers included here are API, with the stability promises of
 * docs/stability.md.  Headers under drivercore/sys/ (none yet) are extension
 * points with a weaker promise.  All of them compile as C and C++.
 */
#ifndef DRIVERCORE_H
#define DRIVERCORE_H

#include "drivercore/common.h"
#include "drivercore/errors.h"
#include "drivercore/replica.h"
#include "drivercore/space.h"
#include "drivercore/txn.h"
#include "drivercore/record.h"
#include "drivercore/bundle.h"
#include "drivercore/sync.h"
#include "drivercore/client.h"
#include "drivercore/attach.h"
#include "drivercore/domain.h"
#include "drivercore/relay.h"

#endif
