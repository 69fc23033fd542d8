/*
 * codec — byte formats: the change envelope (docs/format/envelope.md), the
 * msgpack change body and membership body (docs/format/body.md), bounded
 * zstd framing, and the bundle file (docs/format/bundle.md).  Pure
 * functions over bytes; depends only on base.  Every decoder here treats
 * its input as hostile and has a fuzz target in fuzz/.
 */
#ifndef DC_CODEC_H
#define DC_CODEC_H

#include "base/base.h"

/* ---- limits (docs/format/) ---- */
#define DC_ENV_MAX_SIZE (16u << 20)  /* one envelope */
#define DC_BODY_MAX_SIZE (32u << 20) /* a decompressed body */
#define DC_BODY_MAX_OPS 100000u      /* ops in one change */
/* The newest change and membership body versions this library reads
 * (docs/format/body.md).  A body of a newer version is not refused: its
 * change is kept and carried, and applied once the library is upgraded
 * (docs/data-model.md, "Versions").  A test build (DC_TEST_FUTURE) reads
 * one version more: version 3 adds op kind 6, a SET under a new number. */
#ifdef DC_TEST_FUTURE
#define DC_BODY_VERSION_MAX 3
#define DC_OP_FUTURE_SET 6
#else
#define DC_BODY_VERSION_MAX 2
#endif
/* Membership body 3 adds the clear compaction point (op 7); bodies without
 * one are still written as version 2. */
#define DC_MEMBER_VERSION_MAX 3
/* msgpack objects in one body: msgpack-c allocates ~24 bytes for each
 * before we look at them, so this bounds a hostile body's memory (~48 MB)
 * where the byte limit alone would not (a body of nils is all objects). */
#define DC_BODY_MAX_OBJECTS 2000000u
#define DC_MEMBER_MAX_SIZE (256u << 10) /* a membership body */
#define DC_MEMBER_MAX_OBJECTS 16384u
#define DC_STR_MAX (1u << 20)     /* one string */
#define DC_EVENT_MAX_FIELDS 256u  /* keys in one event */
#define DC_REMOVE_MAX_TAGS 65536u /* tags one remove op names */
#define DC_BUNDLE_MAX_ENVELOPES 100000000u

/* ---- envelope ---- */
#define DC_ENV_VERSION 1
#define DC_ENV_HEADER_SIZE 112
#define DC_ENV_NONCE_OFFSET 88
#define DC_ENV_SIG_SIZE 64
#define DC_ENV_MAC_SIZE 16

enum { DC_ENV_KIND_CHANGE = 1, DC_ENV_KIND_MEMBERSHIP = 2 };
enum { DC_CIPHER_NONE = 0, DC_CIPHER_XCHACHA20POLY1305 = 1 };
enum { DC_COMP_NONE = 0, DC_COMP_ZSTD = 1 };

typedef struct dc__envelope {
    uint8_t version, flags, cipher, comp, kind;
    uint8_t space[16];
    uint32_t epoch;
    uint8_t author[32];
    uint64_t seq;
    uint64_t hlc_min, hlc_max;
    const uint8_t *nonce;   /* 24 bytes, inside raw */
    const uint8_t *payload; /* ciphertext (with MAC) or plaintext body */
    uint32_t payload_len;
    const uint8_t *sig; /* 64 bytes, inside raw */
    const uint8_t *raw; /* the whole envelope (borrowed) */
    size_t raw_len;
} dc__envelope;

/* Checks the framing of an envelope (magic, version, reserved bits, ids,
 * lengths) and fills `out` with pointers into p.  No cryptography. */
int dc__envelope_parse(dc__envelope *out, const uint8_t *p, size_t n, dc__err *err);

/* Writes the 112-byte header for the fields of `e` (payload_len included). */
void dc__envelope_write_header(uint8_t hdr[DC_ENV_HEADER_SIZE], const dc__envelope *e);

/* ---- values and ops of a change body ---- */

typedef struct dc__tag { /* identifies one set add: (author, seq, op index) */
    uint8_t dev[32];
    uint64_t seq;
    uint32_t op;
} dc__tag;

enum { DC_OP_SET = 1, DC_OP_ADD = 2, DC_OP_REMOVE = 3, DC_OP_EVENT = 4, DC_OP_DELETE = 5 };

typedef struct dc__str {
    const char *p;
    uint32_t n;
} dc__str;

typedef struct dc__op {
    int kind;
    dc__str type, id, field; /* field unused for EVENT and DELETE */
    dc__value val;           /* SET, ADD, REMOVE */
    uint32_t ntags;          /* REMOVE: the observed adds it removes */
    dc__tag *tags;
    uint32_t nfields; /* EVENT */
    dc__str *keys;
    dc__value *vals;
} dc__op;

/* ---- the stored forms of a record's state (stored.c, docs/storage.md) ---- */

/* Field names are stored as small integers (the replica's `names` table):
 * `fid`.  A clock's author is its device row (`did`).  Strings are
 * borrowed. */
typedef struct dc__reg { /* a register: the value of the op with the greatest clock */
    uint32_t fid;
    dc__value val;
    dc_hlc hlc;
    int64_t did;
} dc__reg;

typedef struct dc__sadd { /* a set add present, tagged (did, seq, op) */
    uint32_t fid;
    dc__value val;
    int64_t did;
    uint64_t seq;
    uint32_t op;
    dc_hlc hlc;
} dc__sadd;

typedef struct dc__stag { /* the tag of an add a remove named */
    uint32_t fid;
    int64_t did;
    uint64_t seq;
    uint32_t op;
} dc__stag;

/* A record's registers (by fid), present set adds and removed tags (by
 * fid, then tag): the `state` column. */
typedef struct dc__recdata {
    dc__reg *regs;
    size_t nregs;
    dc__sadd *adds;
    size_t nadds;
    dc__stag *rm;
    size_t nrm;
} dc__recdata;

int dc__recdata_encode(dc_buf *out, const dc__recdata *d, dc__err *err);
/* Decodes a `state` column (an empty one is an empty state); strings point
 * into `p`, which must outlive them.  Free with dc__recdata_free. */
int dc__recdata_decode(const uint8_t *p, size_t n, dc__recdata *d, dc__err *err);
void dc__recdata_free(dc__recdata *d);

/* The `body` column of an event: its fields, key, value, key, value ...
 * with keys sorted bytewise. */
int dc__event_encode(dc_buf *out, const dc__str *keys, const dc__value *vals, uint32_t n,
                     dc__err *err);
/* Decodes an event body; *vals and *keys are one dc__malloc'd block (free
 * *vals only) whose strings point into `p`. */
int dc__event_decode(const uint8_t *p, size_t n, dc__str **keys, dc__value **vals, uint32_t *nf,
                     dc__err *err);

/* msgpack-c's unpack of `p` (into a msgpack_unpacked), after a walk that
 * refuses counts larger than the bytes left, nesting deeper than the
 * formats use, more than max_objects objects and trailing bytes. */
int dc__msgpack_unpack_checked(void *unpacked, const uint8_t *p, size_t n, uint64_t max_objects,
                               const char *what, dc__err *err);

typedef struct dc__body {
    uint32_t nops;
    dc__op *ops;
    void *mem; /* owned allocations (msgpack zone, arrays) */
} dc__body;

/* The limits the decoder applies to a body's bytes and msgpack objects,
 * checked on an encoded body so a writer never commits what its peers
 * would refuse.  0 or DC_ETOOBIG / DC_ECORRUPT. */
int dc__body_check_limits(const uint8_t *p, size_t n, dc__err *err);

/* Encodes ops into the msgpack change body. */
int dc__body_encode(dc_buf *out, const dc__op *ops, size_t nops, dc__err *err);
/* Decodes and validates a change body; strings point into `p`, the ops
 * arrays are owned by out->mem: valid until dc__body_free and while p
 * lives. */
int dc__body_decode(dc__body *out, const uint8_t *p, size_t n, dc__err *err);
void dc__body_free(dc__body *b);

/* ---- membership body ---- */
enum {
    DC_MOP_GENESIS = 1, /* creates the space; its creator is admin */
    DC_MOP_GRANT = 2,   /* adds a device or changes its role; seals it the key */
    DC_MOP_REMOVE = 3,  /* (v2) removes a device */
    DC_MOP_ROTATE = 4,  /* (v2) a new key epoch, with the older keys in a lockbox */
    DC_MOP_KEY = 5,     /* (v2) the key of an epoch sealed to one member */
    DC_MOP_LOCKBOX = 6, /* (v2) keys sealed with a key members hold (repair) */
    DC_MOP_COMPACT = 7  /* (v3) the compaction point in clear, for relays */
};

#define DC_MEMBER_MAX_OPS 1024u
#define DC_MEMBER_MAX_SEQ ((uint64_t)INT64_MAX)
#define DC_KEY_ID 8                /* bytes of a key id (crypto/lockbox.c) */
#define DC_LOCKBOX_MIN (24 + 16)   /* nonce and tag around no keys */
#define DC_LOCKBOX_MAX (64u << 10) /* ~1,800 older keys */

typedef struct dc__member_op {
    int kind;
    int version;            /* the body version it was decoded from (1 or 2) */
    uint8_t device[32];     /* GENESIS: the creator; GRANT, REMOVE, KEY: the device */
    uint8_t box_pk[32];     /* GENESIS, GRANT: the device's X25519 key */
    uint8_t nonce[16];      /* GENESIS: space id = H(creator || nonce) */
    int role;               /* GRANT (GENESIS: admin) */
    char name[128];         /* v1 GENESIS and GRANT: the device's name, in clear */
    uint8_t sealed[80];     /* GRANT, KEY: the key of `epoch` sealed to the device */
    uint32_t epoch;         /* GRANT, KEY: the epoch of the sealed key; ROTATE: the new epoch;
                             * LOCKBOX: the epoch of the key that seals it */
    uint64_t upto;          /* v2 GRANT, REMOVE: the device's envelopes with a higher seq
                             * are judged by this op (see docs/data-model.md) */
    uint8_t kid[DC_KEY_ID]; /* ROTATE: the id of the new key; LOCKBOX: of the sealing
                             * key; v2 GRANT, KEY: of the sealed key */
    const uint8_t *lockbox; /* ROTATE: the older keys sealed with the new one;
                             * LOCKBOX: keys sealed with key (epoch, kid);
                             * borrowed from the decoded bytes */
    uint32_t lockbox_len;
    const uint8_t *point; /* COMPACT: the point, a vector (docs/format/body.md);
                           * borrowed from the decoded bytes */
    uint32_t point_len;
    const uint8_t *dead; /* COMPACT: attachment object ids no record references,
                          * 32 bytes each; borrowed */
    uint32_t ndead;
} dc__member_op;

/* Encodes ops as a membership body: version 3 when they hold a COMPACT op,
 * else version 2 (so that libraries reading version 2 apply them). */
int dc__member_encode(dc_buf *out, const dc__member_op *ops, size_t nops, dc__err *err);
/* The same in a given body version (1: GENESIS and GRANT only, with names;
 * kept for the golden vectors of version 1). */
int dc__member_encode_version(dc_buf *out, const dc__member_op *ops, size_t nops, int version,
                              dc__err *err);
/* Checks the shape of a compaction vector (docs/format/body.md, "Compaction
 * records"): version 1, the count matching the length, keys sorted and
 * distinct, every seq at least 1. */
bool dc__vector_valid(const uint8_t *p, size_t n);
/* Decodes a body of version 1, 2 or 3 into a dc__member_op array allocated with
 * dc__malloc (*ops).  A ROTATE's lockbox points into p. */
int dc__member_decode(dc__member_op **ops, size_t *nops, const uint8_t *p, size_t n, dc__err *err);

/* ---- zstd framing ---- */
/* Compresses p; out receives the frame. */
int dc__zstd_compress(dc_buf *out, const uint8_t *p, size_t n, int level, dc__err *err);
/* Decompresses one frame whose content must not exceed max_out bytes; the
 * window is limited too, so a hostile frame cannot make us allocate more. */
int dc__zstd_decompress(dc_buf *out, const uint8_t *p, size_t n, size_t max_out, dc__err *err);

/* The same with reusable contexts (*ctx NULL on first use; free with
 * dc__zstd_free_ctx), for the hot paths of commit and merge. */
int dc__zstd_compress_with(void **cctx, dc_buf *out, const uint8_t *p, size_t n, int level,
                           dc__err *err);
int dc__zstd_decompress_with(void **dctx, dc_buf *out, const uint8_t *p, size_t n, size_t max_out,
                             dc__err *err);
void dc__zstd_free_ctx(void *cctx, void *dctx);

/* ---- bundle ---- */
#define DC_BUNDLE_HEADER_SIZE 16
#define DC_BUNDLE_TRAILER_SIZE 32

/* Begins a bundle in out (header with count 0). */
int dc__bundle_begin(dc_buf *out);
int dc__bundle_add(dc_buf *out, const uint8_t *env, size_t n);
/* Writes the count and the trailing hash. */
int dc__bundle_finish(dc_buf *out);

typedef int (*dc__bundle_each_fn)(void *user, uint64_t index, const uint8_t *env, size_t n);
/* Checks a bundle's framing and hash, then calls `each` for every envelope
 * (borrowed bytes).  *count receives the number of envelopes. */
int dc__bundle_parse(const uint8_t *p, size_t n, uint64_t *count, dc__bundle_each_fn each,
                     void *user, dc__err *err);
/* The same without the hash: the framing alone, for an import that checks
 * the hash with dc__bundle_checksum while other threads already verify the
 * envelopes (which has no effect until the hash is found good). */
int dc__bundle_frame(const uint8_t *p, size_t n, uint64_t *count, dc__bundle_each_fn each,
                     void *user, dc__err *err);
/* The bundle's trailing BLAKE2b-256 checked: 0 or DC_ECORRUPT. */
int dc__bundle_checksum(const uint8_t *p, size_t n, dc__err *err);

/* ---- attachments (attach.c, docs/format/attachment.md) ---- */
/* An attachment object: a chunk of a file or the manifest listing them,
 * encrypted under a space key.  44-byte header, then the ciphertext and
 * its 16-byte tag; the header, the space id and the object's id are the
 * associated data. */
#define DC_ATT_HEADER_SIZE 44
#define DC_ATT_VERSION 1
#define DC_ATT_CHUNK 262144u        /* bytes of file per chunk */
#define DC_ATT_CHUNK_MIN 4096u      /* the smallest chunk size a manifest may name */
#define DC_ATT_CHUNK_MAX (1u << 20) /* ... and the largest */
#define DC_ATT_MAX_CHUNKS 16384u    /* chunks in one attachment (4 GiB at 256 KiB) */
#define DC_ATT_MEDIA_MAX 127u       /* bytes of a media type */
#define DC_ATT_MANIFEST_MAX (16u + DC_ATT_MEDIA_MAX + 32u * DC_ATT_MAX_CHUNKS)
#define DC_ATT_OBJECT_MAX (DC_ATT_HEADER_SIZE + DC_ATT_MANIFEST_MAX + 16u)
enum { DC_ATT_KIND_CHUNK = 1, DC_ATT_KIND_MANIFEST = 2 };

typedef struct dc__att_hdr {
    uint8_t kind;
    uint32_t epoch;
    uint8_t kid[8];
    const uint8_t *nonce; /* 24 bytes, inside the object */
    const uint8_t *ct;    /* ciphertext with its tag */
    size_t ct_len;
} dc__att_hdr;

/* Checks an object's framing (magic, version, kind, cipher, reserved
 * bytes, its size against the kind's limit) and points `out` into p. */
int dc__att_parse(dc__att_hdr *out, const uint8_t *p, size_t n, dc__err *err);
/* Writes the 44-byte header of an object of `kind`. */
void dc__att_write_header(uint8_t hdr[DC_ATT_HEADER_SIZE], uint8_t kind, uint32_t epoch,
                          const uint8_t kid[8], const uint8_t nonce[24]);

/* A decoded manifest; `cids` points into the bytes decoded. */
typedef struct dc__manifest {
    uint64_t size;
    uint32_t chunk;   /* bytes per chunk (the last may be shorter) */
    uint32_t nchunks; /* ceil(size / chunk) */
    char media[DC_ATT_MEDIA_MAX + 1];
    const uint8_t *cids; /* nchunks x 32 bytes */
} dc__manifest;

int dc__manifest_encode(dc_buf *out, uint64_t size, uint32_t chunk, const char *media,
                        const uint8_t *cids, uint32_t nchunks, dc__err *err);
int dc__manifest_decode(dc__manifest *out, const uint8_t *p, size_t n, dc__err *err);
/* A media type a manifest may carry: 1..127 bytes of printable ASCII
 * without spaces. */
bool dc__media_valid(const char *s);

#endif
