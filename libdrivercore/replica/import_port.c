/*
 * The parts of replica/import_port.h beyond the import itself
 * (bundle_io.c): what a relay's store asks of the replica it keeps its log
 * in, without reaching into the handle.
 */
#include "replica/replica_int.h"

int dc__replica_fp_enable(dc_replica *r, dc__err *err) {
    return dc__store_fp_enable(r->st, err);
}

int dc__replica_space_log(dc_replica *r, const uint8_t space[16], int64_t *envelopes,
                          int64_t *covered, dc__err *err) {
    dc__space sp;
    int rc = dc__store_space_get(r->st, space, &sp, err);
    return rc ? rc : dc__store_space_log(r->st, sp.sid, envelopes, covered, err);
}
