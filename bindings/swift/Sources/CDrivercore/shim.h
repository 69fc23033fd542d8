/*
 * The umbrella of the CDrivercore module: the public C API of drivercore,
 * exactly as C programs see it (include/drivercore.h).
 */
#ifndef DRIVERCORE_SWIFT_SHIM_H
#define DRIVERCORE_SWIFT_SHIM_H
#include <drivercore.h>
#endif
