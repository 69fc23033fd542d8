/*
 * A test fixture shared by the C tests: a device accepts the invitations it
 * has received, as its user would (a device joins a space only with its
 * consent: docs/security.md, "Consent").  Header-only; returns 0 or the
 * failing call's code, with the replica's message left on it.
 */
#ifndef DC_TEST_CONSENT_H
#define DC_TEST_CONSENT_H

#include <string.h>

#include "drivercore.h"

static inline int dc_test_accept_invitations(dc_replica *r) {
    dc_buf b = DC_BUF_INIT;
    int rc = dc_space_list(&b, r);
    for (const char *p = rc ? NULL : (const char *)b.ptr; p && !rc;) {
        p = strstr(p, "{\"space\":\"");
        if (!p)
            break;
        char id[33];
        memcpy(id, p + 10, 32);
        id[32] = 0;
        const char *end = strchr(p, '}');
        const char *inv = strstr(p, "\"state\":\"invited\"");
        if (inv && end && inv < end)
            rc = dc_space_accept(r, id, 0);
        p += 10;
    }
    dc_buf_dispose(&b);
    return rc;
}

#endif
