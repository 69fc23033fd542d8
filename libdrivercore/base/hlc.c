/*
 * The hybrid logical clock.  Phones on trucks have wrong clocks, so a
 * timestamp is the wall clock in ms joined with a logical counter: it never
 * goes backwards, stays close to real time, and orders every change a
 * device makes after every change it has seen.  A remote timestamp too far
 * ahead of our wall clock is not merged (the caller holds that change aside)
 * because a far-future stamp would otherwise win every conflict for ever.
 */
#include <time.h>

#include "base/base.h"

#define HLC_MAX_MS ((int64_t)((UINT64_C(1) << 48) - 1))

/* The wall clock with the learnt correction, unclamped; *ok false when it
 * lies outside what a timestamp can hold. */
static int64_t raw_ms(const dc__clock *c, bool *ok) {
    int64_t ms;
    if (c->now) {
        ms = c->now(c->now_user);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    *ok = ms >= 0 && ms <= HLC_MAX_MS;
    /* A phone's clock may be wrong by hours; the relay's is authoritative,
     * and the offset learnt from it corrects every timestamp we issue (the
     * offset is bounded when learnt, so this cannot overflow). */
    ms += c->offset_ms;
    *ok = *ok && ms >= 0 && ms <= HLC_MAX_MS;
    return ms;
}

int64_t dc__clock_wall_ms(const dc__clock *c) {
    bool ok;
    int64_t ms = raw_ms(c, &ok);
    if (ms < 0)
        ms = 0;
    if (ms > HLC_MAX_MS)
        ms = HLC_MAX_MS;
    return ms;
}

int dc__clock_check(const dc__clock *c, dc__err *err) {
    bool ok;
    int64_t ms = raw_ms(c, &ok);
    if (ok)
        return 0;
    return dc__err_set(err, DC_ECLOCK,
                       "the device clock reads %lld ms since 1970, which a timestamp cannot hold "
                       "(0 to %lld, the year 10889); set the clock right",
                       (long long)ms, (long long)HLC_MAX_MS);
}

bool dc__clock_ms_valid(int64_t ms) {
    return ms >= 0 && ms <= HLC_MAX_MS;
}

dc_hlc dc__clock_tick(dc__clock *c) {
    dc_hlc wall = DC_HLC_MAKE(dc__clock_wall_ms(c), 0);
    /* Either the wall clock has moved past everything seen, or we count on
     * from the last stamp; a full counter simply carries into the ms part,
     * which stays monotonic and only runs ahead by a millisecond. */
    c->last = wall > c->last ? wall : c->last + 1;
    return c->last;
}

int64_t dc__clock_limit_ms(const dc__clock *c) {
    /* max_skew_ms is at most HLC_MAX_MS (checked at open) and lead_ms at
     * most DC_PEER_LEAD_MAX_MS: no overflow.  A stamp no later than one
     * already accepted cannot move anything further ahead. */
    int64_t limit = dc__clock_wall_ms(c) + c->max_skew_ms + c->lead_ms;
    if (DC_HLC_MS(c->last) > limit)
        limit = DC_HLC_MS(c->last);
    return limit > HLC_MAX_MS ? HLC_MAX_MS : limit;
}

bool dc__clock_acceptable(const dc__clock *c, dc_hlc remote) {
    return DC_HLC_MS(remote) <= dc__clock_limit_ms(c);
}

void dc__clock_observe(dc__clock *c, dc_hlc remote) {
    if (remote > c->last)
        c->last = remote;
}
