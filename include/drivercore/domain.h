/*
 * drivercore — the domain: the people of DOMAIN.md served on the record
 * layer (docs/domain.md), as a unit of its own beside the sync core.
 *
 *   calendar.h   the official holiday calendar and working-day arithmetic
 *   registry.h   the driver registry: import in rounds, merging, lookups
 *                by identity number without the number in clear
 *   grievance.h  grievances under the 12328 rule: filing, steps, deadlines
 *   org.h        regions, organisations, Driver's Homes, mobile branches,
 *                secretaries, online study, liaison chains
 *   stats.h      statistics folded from the records held
 *
 * An app that uses only the sync core includes the core headers (or
 * <drivercore.h>, which carries this one too); the domain's functions are
 * in the same libdrivercore and are built on the core's public record and
 * transaction API (libdrivercore/README.md, `model/`).
 */
#ifndef DRIVERCORE_DOMAIN_H
#define DRIVERCORE_DOMAIN_H

#include "drivercore/calendar.h"
#include "drivercore/registry.h"
#include "drivercore/grievance.h"
#include "drivercore/org.h"
#include "drivercore/stats.h"

#endif
