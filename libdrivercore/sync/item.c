/*
 * sync/item — the items reconciliation is over, (timestamp, change id),
 * their order, their hashes and the additive sums of hashes a range's
 * fingerprint is made of (docs/protocol.md).  Shared by the session
 * (recon.c), the item sets (memset.c, bucketset.c) and the sums a store
 * keeps (store/fingerprint.c).
 */
#include <sodium.h>
#include <string.h>

#include "sync/recon.h"

void dc__recon_item_hash(uint8_t out[32], const uint8_t id[DC_RECON_ID_SIZE]) {
    crypto_generichash(out, 32, id, DC_RECON_ID_SIZE, NULL, 0);
}

void dc__recon_sum_add(uint8_t acc[32], const uint8_t x[32]) {
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = (unsigned)acc[i] + x[i] + carry;
        acc[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

void dc__recon_sum_sub(uint8_t acc[32], const uint8_t x[32]) {
    int borrow = 0;
    for (int i = 0; i < 32; i++) {
        int v = (int)acc[i] - x[i] - borrow;
        borrow = v < 0;
        acc[i] = (uint8_t)(v + (borrow ? 256 : 0));
    }
}

int dc__recon_item_cmp(const dc__recon_item *a, const dc__recon_item *b) {
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    int c = memcmp(a->id, b->id, DC_RECON_ID_SIZE);
    return (c > 0) - (c < 0);
}

bool dc__recon_item_ge_bound(const dc__recon_item *it, const dc__recon_bound *b) {
    if (it->ts != b->ts)
        return it->ts > b->ts;
    /* b->id is zero-padded beyond id_len, so a whole-id compare is right. */
    return memcmp(it->id, b->id, DC_RECON_ID_SIZE) >= 0;
}
