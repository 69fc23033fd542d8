/*
 * JSON text.  Output: a string escaper that escapes exactly what RFC 8259
 * requires and passes valid UTF-8 through, so the same state always prints
 * as the same bytes.  Input: only flat objects of scalars — a device card,
 * and the events the library itself stored — so a small strict reader
 * suffices; anything else (nesting, floats, duplicate-free is not checked)
 * is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "base/base.h"

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static int hex4(const char *p, unsigned *v) {
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

const char *dc__json_read_string(const char *p, dc_buf *out) {
    dc__buf_clear(out);
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        unsigned cp;
        if (*p == 0 || (unsigned char)*p < 0x20)
            return NULL;
        if (*p != '\\') {
            if (dc__buf_putc(out, *p++))
                return NULL;
            continue;
        }
        p++;
        switch (*p) {
        case '"':
        case '\\':
        case '/': cp = (unsigned char)*p; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (hex4(p + 1, &cp))
                return NULL;
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p[1] != '\\' || p[2] != 'u' || hex4(p + 3, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return NULL;
            }
            break;
        default: return NULL;
        }
        p++;
        uint8_t u[4];
        size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (k == 1) {
            u[0] = (uint8_t)cp;
        } else if (k == 2) {
            u[0] = (uint8_t)(0xC0 | cp >> 6);
            u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        } else if (k == 3) {
            u[0] = (uint8_t)(0xE0 | cp >> 12);
            u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        } else {
            u[0] = (uint8_t)(0xF0 | cp >> 18);
            u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        }
        if (cp == 0 || dc__buf_put(out, u, k))
            return NULL;
    }
    /* An empty string still gets its NUL: callers read out->ptr as text. */
    if (!out->ptr && dc__buf_put(out, "", 0))
        return NULL;
    return dc__utf8_valid(out->ptr, out->size) ? p + 1 : NULL;
}

int dc__json_flat_each(const char *json, dc__json_field_fn fn, void *user) {
    dc_buf key = DC_BUF_INIT, val = DC_BUF_INIT;
    int rc = DC_ECORRUPT;
    const char *p = skip_ws(json);
    if (*p++ != '{')
        goto out;
    p = skip_ws(p);
    if (*p == '}') {
        rc = *skip_ws(p + 1) == 0 ? 0 : DC_ECORRUPT;
        goto out;
    }
    for (;;) {
        if (!(p = dc__json_read_string(skip_ws(p), &key)))
            goto out;
        p = skip_ws(p);
        if (*p++ != ':')
            goto out;
        p = skip_ws(p);
        dc__value v = {DC_NULL, 0, NULL, 0};
        if (*p == '"') {
            if (!(p = dc__json_read_string(p, &val)))
                goto out;
            v.kind = DC_STR;
            v.str = (const char *)val.ptr;
            v.len = (uint32_t)val.size;
        } else if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
            v.kind = DC_BOOL;
            v.num = *p == 't';
            p += v.num ? 4 : 5;
        } else if (strncmp(p, "null", 4) == 0) {
            p += 4;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end;
            long long n = strtoll(p, &end, 10);
            if (end == p || *end == '.' || *end == 'e' || *end == 'E')
                goto out;
            v.kind = DC_INT;
            v.num = n;
            p = end;
        } else {
            goto out;
        }
        if ((rc = fn(user, (const char *)key.ptr, &v)) != 0)
            goto out;
        rc = DC_ECORRUPT;
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p++ != '}')
            goto out;
        rc = *skip_ws(p) == 0 ? 0 : DC_ECORRUPT;
        goto out;
    }
out:
    dc_buf_dispose(&key);
    dc_buf_dispose(&val);
    return rc;
}

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

/* A float as its shortest decimal digits that read back as the same double
 * (the same digits on every replica), laid out as Python's repr lays them
 * out: positional for exponents -4 to 15 (always with a point, so that it
 * reads as a float: "3.0", "0.0001", "1100.0"), else scientific ("1e+21",
 * "1.5e-07"). */
static int json_real(dc_buf *b, double x) {
    char e[40];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    /* e is [-]d[.ddd]e(+|-)XX */
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1)
            digits[nd++] = *p;
    digits[nd] = 0;
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    /* Trailing zeros of the mantissa carry nothing. */
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = 0;
    int rc = neg ? dc__buf_putc(b, '-') : 0;
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            rc |= dc__buf_puts(b, "0.");
            for (int k = 0; k < -exp - 1; k++)
                rc |= dc__buf_putc(b, '0');
            rc |= dc__buf_put(b, digits, nd);
        } else {
            size_t whole = (size_t)exp + 1;
            for (size_t k = 0; k < whole; k++)
                rc |= dc__buf_putc(b, k < nd ? digits[k] : '0');
            rc |= dc__buf_putc(b, '.');
            if (nd > whole)
                rc |= dc__buf_put(b, digits + whole, nd - whole);
            else
                rc |= dc__buf_putc(b, '0');
        }
    } else {
        rc |= dc__buf_putc(b, digits[0]);
        if (nd > 1) {
            rc |= dc__buf_putc(b, '.');
            rc |= dc__buf_put(b, digits + 1, nd - 1);
        }
        rc |= dc__buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    return rc;
}

int dc__json_value(dc_buf *b, const dc__value *v) {
    if (!v)
        return dc__buf_puts(b, "null");
    switch (v->kind) {
    case DC_BOOL: return dc__buf_puts(b, v->num ? "true" : "false");
    case DC_INT: return dc__buf_printf(b, "%lld", (long long)v->num);
    case DC_STR: return dc__json_str(b, v->str, v->len);
    case DC_FLOAT: return json_real(b, dc__real(v));
    case DC_BYTES: {
        size_t n = sodium_base64_ENCODED_LEN(v->len, sodium_base64_VARIANT_ORIGINAL);
        int rc = dc__buf_puts(b, "{\"@bytes\":\"") || dc__buf_reserve(b, n);
        if (rc)
            return rc;
        sodium_bin2base64((char *)b->ptr + b->size, n, (const unsigned char *)v->str, v->len,
                          sodium_base64_VARIANT_ORIGINAL);
        b->size += n - 1;
        return dc__buf_puts(b, "\"}");
    }
    default: return dc__buf_puts(b, "null");
    }
}
