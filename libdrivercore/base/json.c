/*
 * JSON text output.  The library prints JSON (dumps, cards, reports) but
 * never parses it except for a device card, so only a string escaper lives
 * here; it escapes exactly what RFC 8259 requires and passes valid UTF-8
 * through, so the same state always prints as the same bytes.
 */
#include "base/base.h"

int dc__json_str(dc_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (dc__buf_putc(b, '"'))
        return DC_ENOMEM;
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (dc__buf_put(b, s + run, i - run))
            return DC_ENOMEM;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        if (dc__buf_put(b, esc, el))
            return DC_ENOMEM;
        run = i + 1;
    }
    if (dc__buf_put(b, s + run, n - run))
        return DC_ENOMEM;
    return dc__buf_putc(b, '"');
}
