/*
 * The device side of relay authentication: signing a relay's challenge
 * with the replica's device key.  It lives in relay/ beside the verifier
 * (admit.c) so the signed bytes are defined once, and signs through the
 * replica's port (replica/port.h): the secret key never leaves the
 * replica's sodium-guarded memory, and no API hands it out.
 */
#include <string.h>

#include "drivercore/relay.h"
#include "replica/port.h"

int dc_relay_sign_challenge(uint8_t sig[64], dc_replica *r, const uint8_t challenge[32]) {
    if (!sig || !challenge)
        return dc__last_set(DC_EMISUSE, "dc_relay_sign_challenge: NULL argument");
    uint8_t m[DC_RELAY_AUTH_PREFIX_LEN + 32];
    memcpy(m, DC_RELAY_AUTH_PREFIX, DC_RELAY_AUTH_PREFIX_LEN);
    memcpy(m + DC_RELAY_AUTH_PREFIX_LEN, challenge, 32);
    return dc__replica_sign(r, sig, m, sizeof m);
}
