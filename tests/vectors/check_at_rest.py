#!/usr/bin/env python3
"""A second implementation of docs/format/at-rest.md, from the text alone.

Reads the golden vectors at-rest-v1.bin and at-rest-v1-wal.bin (see
README.md for how they were made), derives the keys as the spec says,
checks the header's key check, decrypts both pages and the WAL frame, and
compares them with the plaintext the README describes.  Pure Python (the
standard library's BLAKE2b; ChaCha20, HChaCha20 and Poly1305 written out
here from RFC 8439 and the XChaCha draft), so that it depends on nothing
the C code uses.  Argon2id is not in the standard library: the passphrase
vector is checked by tests/unit/test_atrest_format.c only.

    check_at_rest.py DIR
"""
import hashlib
import hmac
import struct
import sys

P = 1024
RESERVE = 40


def blake2b(key, personal, msg, n):
    return hashlib.blake2b(msg, digest_size=n, key=key, salt=bytes(16), person=personal).digest()


def rotl(v, c):
    return ((v << c) & 0xffffffff) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff
    s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff
    s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff
    s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff
    s[b] = rotl(s[b] ^ s[c], 7)


def rounds(s):
    for _ in range(10):
        quarter(s, 0, 4, 8, 12)
        quarter(s, 1, 5, 9, 13)
        quarter(s, 2, 6, 10, 14)
        quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15)
        quarter(s, 1, 6, 11, 12)
        quarter(s, 2, 7, 8, 13)
        quarter(s, 3, 4, 9, 14)


CONST = list(struct.unpack("<4I", b"expand 32-byte k"))


def chacha_block(key, counter, nonce12):
    init = CONST + list(struct.unpack("<8I", key)) + [counter] + list(struct.unpack("<3I", nonce12))
    s = list(init)
    rounds(s)
    return struct.pack("<16I", *[(x + y) & 0xffffffff for x, y in zip(s, init)])


def hchacha(key, nonce16):
    s = CONST + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    rounds(s)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def chacha_xor(key, counter, nonce12, data):
    out = bytearray()
    for i in range(0, len(data), 64):
        block = chacha_block(key, counter + i // 64, nonce12)
        out += bytes(a ^ b for a, b in zip(data[i:i + 64], block))
    return bytes(out)


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0ffffffc0ffffffc0ffffffc0fffffff
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b"\x01", "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def pad16(b):
    return b + bytes(-len(b) % 16)


def xchacha_open(key, nonce24, ad, ct, tag):
    sub = hchacha(key, nonce24[:16])
    n12 = bytes(4) + nonce24[16:]
    otk = chacha_block(sub, 0, n12)[:32]
    mac = poly1305(otk, pad16(ad) + pad16(ct) + struct.pack("<QQ", len(ad), len(ct)))
    if not hmac.compare_digest(mac, tag):
        raise SystemExit("check_at_rest: a page does not authenticate")
    return chacha_xor(sub, 1, n12, ct)


def open_page(kp, salt, pgno, page):
    body, nonce, tag = page[:P - RESERVE], page[P - RESERVE:P - 16], page[P - 16:]
    plain = xchacha_open(kp, nonce, salt + struct.pack(">I", pgno), body, tag)
    return plain + bytes(RESERVE)


def golden_plain(pgno):
    # README: page bytes i = (7 i + 31 pgno) mod 256 before the reserve; page 1
    # starts with SQLite's header for 1024-byte pages and 40 reserved bytes.
    b = bytearray((i * 7 + pgno * 31) & 0xff for i in range(P - RESERVE)) + bytes(RESERVE)
    if pgno == 1:
        b[0:16] = b"SQLite format 3\x00"
        b[16:21] = bytes([P >> 8, P & 0xff, 2, 2, RESERVE])
    return bytes(b)


def main():
    d = sys.argv[1]
    data = open(d + "/at-rest-v1.bin", "rb").read()
    hdr = data[:P]
    assert hdr[0:8] == b"DCATREST" and hdr[8] == 1 and hdr[9] == 1 and hdr[10] == 0
    assert struct.unpack(">I", hdr[12:16])[0] == P and hdr[16] == RESERVE
    assert hdr[80:] == bytes(P - 80), "padding"
    master = bytes(range(0x80, 0xa0))
    salt = hdr[48:64]
    assert salt == bytes(range(0xa0, 0xb0))
    if blake2b(master, b"dc-at-rest-check", hdr[:64], 16) != hdr[64:80]:
        raise SystemExit("check_at_rest: the key check differs from the spec's")
    kp = blake2b(master, b"dc-at-rest-page1", salt, 32)
    km = blake2b(master, b"dc-at-rest-wmask", salt, 32)
    for pgno in (1, 2):
        page = data[P * pgno:P * (pgno + 1)]
        assert page[P - RESERVE:P - 16] == bytes((0xc0 + 24 * (pgno - 1) + i) & 0xff for i in range(24))
        if open_page(kp, salt, pgno, page) != golden_plain(pgno):
            raise SystemExit("check_at_rest: page %d decrypts to other bytes" % pgno)

    wal = open(d + "/at-rest-v1-wal.bin", "rb").read()
    fh = bytearray(wal[32:56])
    mask = blake2b(km, b"dc-at-rest-frame", bytes(fh[:16]) + struct.pack(">Q", 32), 8)
    for i in range(8):
        fh[16 + i] ^= mask[i]
    want = bytes([0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]) + b"\x11" * 4 + b"\x22" * 4
    if bytes(fh) != want:
        raise SystemExit("check_at_rest: the frame header unmasks to other bytes")
    pgno = struct.unpack(">I", fh[:4])[0]
    if open_page(kp, salt, pgno, wal[56:56 + P]) != golden_plain(2):
        raise SystemExit("check_at_rest: the WAL frame's page decrypts to other bytes")
    print("check_at_rest: at-rest-v1.bin and at-rest-v1-wal.bin match docs/format/at-rest.md")


if __name__ == "__main__":
    main()
