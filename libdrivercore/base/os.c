/*
 * The platform, in one place (STYLE.md): a monotonic clock and a sleep, for
 * the code that paces itself (a sync importing in short slices lets another
 * thread's write in between).  POSIX here; another platform replaces this
 * file only.
 */
#include <time.h>

#include "base/base.h"

int64_t dc__os_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dc__os_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int64_t dc__os_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
