/*
 * sync/recon_read — a reconciliation message read: the header, the
 * opening, and each range's bound and payload, decoded and checked whole
 * before the session (recon.c) acts on any of it (docs/protocol.md).
 */
#include <string.h>

#include "sync/recon_int.h"

/* A reader over a received message; every take checks the length first. */
typedef struct reader {
    const uint8_t *p;
    size_t n, off;
} reader;

static bool get_varint(reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->off >= r->n)
            return false;
        uint8_t byte = r->p[r->off++];
        if (i == 9 && byte > 1)
            return false; /* more than 64 bits */
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            if (byte == 0 && i > 0)
                return false; /* overlong: one encoding per value */
            *out = v;
            return true;
        }
    }
    return false;
}

static const uint8_t *get_bytes(reader *r, size_t n) {
    if (n > r->n - r->off)
        return NULL;
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static int get_bound(dc__recon *s, reader *r, const dc__recon_bound *prev, dc__recon_bound *out,
                     int *mode) {
    uint64_t v;
    memset(out, 0, sizeof *out);
    if (!get_varint(r, &v))
        return dc__recon_fail(s, DC_ECORRUPT, "truncated or malformed bound at byte %zu", r->off);
    bool inf = v == 0;
    if (!inf) {
        uint64_t m = (v - 1) >> 6, delta;
        unsigned shift = (unsigned)((v - 1) & 63);
        if (shift == 63) {
            if (m != 0 || !get_varint(r, &delta))
                return dc__recon_fail(s, DC_ECORRUPT, "malformed escaped bound at byte %zu",
                                      r->off);
        } else {
            if (shift && (m << shift) >> shift != m)
                return dc__recon_fail(s, DC_ECORRUPT, "bound overflows 64 bits at byte %zu",
                                      r->off);
            delta = m << shift;
        }
        if (delta >= DC_RECON_TS_INF - prev->ts)
            return dc__recon_fail(s, DC_ECORRUPT, "bound beyond the last timestamp at byte %zu",
                                  r->off);
        out->ts = prev->ts + delta;
    } else {
        out->ts = DC_RECON_TS_INF;
    }
    const uint8_t *mb = get_bytes(r, 1);
    if (!mb)
        return dc__recon_fail(s, DC_ECORRUPT, "truncated range: no mode byte");
    *mode = mb[0] & 3;
    unsigned idl = mb[0] >> 2;
    if (idl > DC_RECON_ID_SIZE || (inf && idl))
        return dc__recon_fail(s, DC_ECORRUPT, "bound id prefix of %u bytes at byte %zu", idl,
                              r->off);
    const uint8_t *id = get_bytes(r, idl);
    if (!id)
        return dc__recon_fail(s, DC_ECORRUPT, "truncated bound id prefix");
    memcpy(out->id, id, idl);
    out->id_len = (uint8_t)idl;
    return 0;
}

static int in_add(dc__recon *s, const in_range *x) {
    if (DC__VEC_ROOM(s->in, s->nin, s->capin))
        return dc__recon_fail(s, DC_ENOMEM, "out of memory reading a message");
    s->in[s->nin++] = *x;
    return 0;
}

/* recon_int.h */
int dc__recon_parse(dc__recon *s, const uint8_t *p, size_t n, bool *asks) {
    *asks = false;
    s->nin = 0;
    if (n > s->o.max_message)
        return dc__recon_fail(s, DC_ETOOBIG, "message of %zu bytes exceeds the cap of %zu", n,
                              s->o.max_message);
    if (n < HEADER_SIZE)
        return dc__recon_fail(s, DC_ECORRUPT, "message of %zu bytes is shorter than its header", n);
    if (p[0] != MAGIC0 || p[1] != MAGIC1)
        return dc__recon_fail(s, DC_ECORRUPT, "not a reconciliation message (magic %02x%02x)", p[0],
                              p[1]);
    if (p[2] == 0)
        return dc__recon_fail(s, DC_ECORRUPT, "message version 0 is not valid");
    if (p[2] > VERSION)
        return dc__recon_fail(
            s, DC_EVERSION,
            "message version %u is newer than this library's %u; upgrade drivercore", p[2],
            VERSION);
    if (p[3] & ~FLAG_OPENING)
        return dc__recon_fail(s, DC_ECORRUPT, "reserved flag bits 0x%02x are set",
                              p[3] & ~FLAG_OPENING);
    bool opening = p[3] & FLAG_OPENING;
    reader r = {p, n, HEADER_SIZE};
    bool want_opening = s->role == DC_RECON_RESPONDER && s->state == S_NEW;
    if (opening != want_opening)
        return dc__recon_fail(s, DC_ECORRUPT,
                              want_opening ? "the first message lacks the opening"
                                           : "an opening arrived mid-session");
    if (opening) {
        const uint8_t *o = get_bytes(&r, OPENING_SIZE);
        if (!o)
            return dc__recon_fail(s, DC_ECORRUPT, "truncated opening");
        if (o[0] < 8 || o[0] > 32 || o[1] < 8 || o[1] > 16)
            return dc__recon_fail(s, DC_ECORRUPT,
                                  "opening asks for %u-byte ids and %u-byte fingerprints "
                                  "(allowed: 8..32 and 8..16)",
                                  o[0], o[1]);
        s->id_bytes = o[0];
        s->fp_bytes = o[1];
        memcpy(s->salt, o + 2, 16);
    }
    dc__recon_bound prev = dc__recon_bound_zero;
    while (r.off < r.n) {
        in_range x;
        memset(&x, 0, sizeof x);
        if (prev.ts == DC_RECON_TS_INF)
            return dc__recon_fail(s, DC_ECORRUPT, "%zu trailing bytes after the last range",
                                  r.n - r.off);
        int rc = get_bound(s, &r, &prev, &x.hi, &x.mode);
        if (rc != 0)
            return rc;
        if (dc__recon_bound_cmp(&x.hi, &prev) <= 0)
            return dc__recon_fail(s, DC_ECORRUPT, "range %zu does not end above the previous one",
                                  s->nin);
        switch (x.mode) {
        case MODE_SKIP: break;
        case MODE_FP:
            if (!(x.fp = get_bytes(&r, s->fp_bytes)))
                return dc__recon_fail(s, DC_ECORRUPT, "truncated fingerprint in range %zu", s->nin);
            break;
        case MODE_IDLIST:
            if (!get_varint(&r, &x.count) || x.count > (r.n - r.off) / s->id_bytes)
                return dc__recon_fail(s, DC_ECORRUPT,
                                      "id list of range %zu is truncated or malformed", s->nin);
            x.data = get_bytes(&r, (size_t)x.count * s->id_bytes);
            break;
        case MODE_REPLY: {
            if (!get_varint(&r, &x.count) || x.count > (uint64_t)(r.n - r.off) * 8)
                return dc__recon_fail(s, DC_ECORRUPT,
                                      "reply of range %zu is truncated or malformed", s->nin);
            size_t bm = (size_t)((x.count + 7) / 8);
            x.data = get_bytes(&r, bm);
            if (!x.data)
                return dc__recon_fail(s, DC_ECORRUPT, "truncated bitmap in range %zu", s->nin);
            if ((x.count & 7) && (x.data[bm - 1] >> (x.count & 7)))
                return dc__recon_fail(s, DC_ECORRUPT, "bitmap of range %zu has bits past its end",
                                      s->nin);
            if (!get_varint(&r, &x.extras))
                return dc__recon_fail(s, DC_ECORRUPT, "truncated extras count in range %zu",
                                      s->nin);
            if (s->id_bytes == DC_RECON_ID_SIZE) {
                if (x.extras > (r.n - r.off) / DC_RECON_ID_SIZE)
                    return dc__recon_fail(s, DC_ECORRUPT, "extras of range %zu are truncated",
                                          s->nin);
                x.extra_ids = get_bytes(&r, (size_t)x.extras * DC_RECON_ID_SIZE);
            } else if (x.extras > ((uint64_t)1 << 48)) {
                return dc__recon_fail(s, DC_ECORRUPT, "implausible extras count in range %zu",
                                      s->nin);
            }
            break;
        }
        }
        if (x.mode == MODE_FP || x.mode == MODE_IDLIST)
            *asks = true;
        prev = x.hi;
        rc = in_add(s, &x);
        if (rc != 0)
            return rc;
    }
    if (prev.ts != DC_RECON_TS_INF)
        return dc__recon_fail(s, DC_ECORRUPT,
                              "message ends before its last range reaches the top "
                              "bound: truncated? (%zu bytes)",
                              n);
    return 0;
}
