/*
 * drivercore — error codes.
 *
 * One table, DC_ERRNO_MAP, is the single source of every error code: the
 * enum below, dc_error_name(), the default messages, and the Java and Swift
 * error types are all generated from it, so the copies never drift.  Values
 * are fixed forever; new codes are only ever appended.
 */
#ifndef DRIVERCORE_ERRORS_H
#define DRIVERCORE_ERRORS_H

#include "drivercore/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, default message) */
#define DC_ERRNO_MAP(XX)                                                                           \
    XX(ERROR, -1, "unspecified error")                                                             \
    XX(EMISUSE, -2, "library misuse (closed handle, NULL argument, wrong order)")                  \
    XX(ENOMEM, -3, "out of memory")                                                                \
    XX(EINVAL, -4, "invalid argument")                                                             \
    XX(ENOTFOUND, -5, "not found")                                                                 \
    XX(EIO, -6, "input/output error")                                                              \
    XX(ECORRUPT, -7, "malformed or corrupt data")                                                  \
    XX(EVERSION, -8, "format version newer than this library understands")                         \
    XX(ETOOBIG, -9, "input exceeds a size limit")                                                  \
    XX(EBADSIG, -10, "signature or authentication check failed")                                   \
    XX(EDENIED, -11, "not allowed: the device lacks the role for this")                            \
    XX(ENOKEY, -12, "no key for this space on this device")                                        \
    XX(EEXISTS, -13, "already exists")                                                             \
    XX(EUSER, -14, "a callback returned non-zero")                                                 \
    XX(ECLOCK, -15, "timestamp too far in the future")                                             \
    XX(EBUSY, -16, "the replica file is locked by another connection")                             \
    XX(ECONFLICT, -17, "two different changes claim the same author and sequence number")          \
    XX(EKEY, -18, "the replica is encrypted and its key is missing or wrong")                      \
    XX(ECLONED, -19, "this device identity is used by another copy of the replica: recover it")

typedef enum dc_error_code {
    DC_OK = 0,
#define DC__ERR_ENUM(name, val, msg) DC_##name = val,
    DC_ERRNO_MAP(DC__ERR_ENUM)
#undef DC__ERR_ENUM
        DC__ERR_LAST_PLACEHOLDER = -1000
} dc_error_code;

/* The symbolic name of an error code ("DC_EINVAL"), or "DC_UNKNOWN". Never NULL. */
DC_EXTERN const char *dc_error_name(int code);

/* The default one-line message for an error code. Never NULL. */
DC_EXTERN const char *dc_strerror(int code);

/*
 * The message of the last error raised on this thread by a call that has no
 * handle to keep it on (dc_global_init, dc_replica_open, ...).  Never NULL;
 * "" when there has been no error.  Valid until the next drivercore call on
 * this thread.
 */
DC_EXTERN const char *dc_error_last(void);

/* The code matching dc_error_last(); DC_OK when there has been no error. */
DC_EXTERN int dc_error_last_code(void);

#ifdef __cplusplus
}
#endif
#endif
