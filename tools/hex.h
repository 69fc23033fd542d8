/*
 * Hex for the programs around the library (the tool, the relay daemon, the
 * benchmarks), on libsodium's constant-time codec: they link the shared
 * libdrivercore, whose exports hide its own dc__hex and dc__unhex, and had
 * grown a copy each.  Header-only.
 */
#ifndef DRIVERCORE_TOOLS_HEX_H
#define DRIVERCORE_TOOLS_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

/* The n bytes at p as 2n lowercase hex digits and a NUL, into out. */
static inline void hex_encode(char *out, const uint8_t *p, size_t n) {
    sodium_bin2hex(out, 2 * n + 1, p, n);
}

/* The len characters at hex, exactly 2n hex digits (either case), into
 * the n bytes at out; 0, or -1 (another length, a character that is no
 * digit).  Constant-time: fit for keys. */
static inline int hex_decode_span(uint8_t *out, size_t n, const char *hex, size_t len) {
    size_t got = 0;
    if (len != 2 * n || sodium_hex2bin(out, n, hex, len, NULL, &got, NULL) != 0 || got != n)
        return -1;
    return 0;
}

/* The string hex, as hex_decode_span; -1 for NULL too. */
static inline int hex_decode(uint8_t *out, size_t n, const char *hex) {
    return hex ? hex_decode_span(out, n, hex, strlen(hex)) : -1;
}

/* Whether s is exactly n hex digits: lowercase only (an id as the tool
 * prints it), or with either_case also uppercase ones. */
static inline bool hex_is(const char *s, size_t n, bool either_case) {
    const char *digits = either_case ? "0123456789abcdefABCDEF" : "0123456789abcdef";
    return strlen(s) == n && strspn(s, digits) == n;
}

#endif
