/*
 * Small byte helpers: hex text for ids, a strict UTF-8 validator (every
 * string the library stores or prints must be valid UTF-8, so that dumps
 * are valid JSON and two replicas compare bytes, not interpretations), and
 * big-endian integer access for the binary formats.
 */
#include <string.h>

#include "base/base.h"

void dc__hex(char *out, const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int dc__unhex(uint8_t *out, size_t n, const char *hex) {
    if (!hex)
        return DC_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!hex[2 * i] || !hex[2 * i + 1])
            return DC_EINVAL;
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return DC_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * n] == 0 ? 0 : DC_EINVAL;
}

bool dc__utf8_valid(const uint8_t *s, size_t n) {
    const uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
    size_t i = 0;
    while (i < n) {
        /* Eight bytes at a time while they are ASCII and none is NUL (the
         * usual case: ids, field names): a byte with its high bit set, or
         * a zero byte (whose w - ones borrows into its high bit), sends
         * the word to the byte-wise checks below. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (((w | (w - ones)) & high) != 0)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == 0)
                return false; /* embedded NUL: strings cross a C API */
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

void dc__store_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t dc__load_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void dc__store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

uint32_t dc__load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

const char *dc__role_name(int role) {
    static const char *const NAMES[] = {NULL, "reader", "member", "admin"};
    return role >= DC_ROLE_READER && role <= DC_ROLE_ADMIN ? NAMES[role] : NULL;
}

bool dc__value_eq(const dc__value *a, const dc__value *b) {
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case DC_BOOL:
    case DC_INT: return a->num == b->num;
    case DC_FLOAT: return dc__real(a) == dc__real(b);
    case DC_STR:
    case DC_BYTES: return a->len == b->len && (!a->len || memcmp(a->str, b->str, a->len) == 0);
    default: return true;
    }
}
