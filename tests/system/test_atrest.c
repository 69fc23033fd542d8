/*
 * The replica file at rest (docs/format/at-rest.md), tried as the finder
 * of a lost phone and as bad luck would try it:
 *
 *   search     a byte search (like `grep -c`) of the replica, its WAL and
 *              its SHM, while open and after close, for the names, the
 *              identity number, the phone number, the device's private keys
 *              and the space key: none found with encryption, every one
 *              found without (which proves the search works);
 *   modes      every file the replica makes is 0600, also under umask 022;
 *   keys       no key, a wrong key, a wrong passphrase, a key for a
 *              passphrase file, a provider that refuses or gives nothing:
 *              each a clear error that changes nothing; version 1 and 2
 *              options never see the key fields;
 *   tamper     a flipped byte in every page of the file (ciphertext, nonce
 *              and tag) is DC_ECORRUPT naming the page, never garbage; in
 *              the header, DC_EKEY or DC_ECORRUPT; in a committed WAL frame
 *              read by another handle, DC_ECORRUPT; in the WAL at recovery,
 *              the log ends before the frame (as SQLite ends it at a torn
 *              frame) and the file is sound;
 *   journal    a rollback journal made hot by a kill -9 (encrypted page
 *              images, no plaintext in it) rolls back correctly;
 *   kill       kill -9 at every I/O step of a migration and of a rekey of a
 *              crash image (a file and a WAL of committed transactions):
 *              afterwards the replica opens with the old key (or in clear)
 *              or the new one and its dump is unchanged, and a new attempt
 *              completes;
 *   faults     every I/O of an encrypted file failing in turn during a
 *              scenario: an error code, never a crash; every transaction
 *              whole or absent when the file is opened again.
 *
 *   test_atrest [STRIDE]    STRIDE > 1 tests every STRIDE-th kill and fault
 *                           point beyond the first 40 (for sanitizer builds)
 *
 * Links the internal archive for the device's private keys (to search for
 * them), the store's integrity check (which reads every page), the VFS
 * (for the journal case) and the fault seams of the VFS and of os.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "systest.h"
#include "replica/replica_int.h"
#include "store/store_int.h"

static long g_stride = 1;
static const char *g_dir;

/* ---- keys ---- */

typedef struct keyspec {
    uint8_t fill;     /* raw key: 32 bytes of this value */
    const char *pass; /* or a passphrase */
    int calls, last_purpose, refuse, give_nothing;
} keyspec;

static int provider(void *user, dc_key *k, int purpose) {
    keyspec *ks = user;
    ks->calls++;
    ks->last_purpose = purpose;
    if (ks->refuse)
        return 7;
    if (ks->give_nothing)
        return 0;
    if (ks->pass)
        return dc_key_set_passphrase(k, ks->pass, strlen(ks->pass));
    uint8_t key[32];
    memset(key, ks->fill, sizeof key);
    return dc_key_set(k, key, sizeof key);
}

static int must_not_be_called(void *user, dc_key *k, int purpose) {
    (void)user;
    (void)k;
    (void)purpose;
    ST_FAIL("a key provider was called through options of a version without one");
    return 1;
}

static int open_with(dc_replica **r, const char *path, keyspec *ks) {
    dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
    o.device_name = "Huang Hongxing";
    if (ks) {
        o.key_provider = provider;
        o.key_user = ks;
    }
    return dc_replica_open(r, path, &o);
}

static dc_replica *must_open(const char *path, keyspec *ks) {
    dc_replica *r = NULL;
    int rc = open_with(&r, path, ks);
    if (rc)
        ST_FAIL("open %s: %s: %s", path, dc_error_name(rc), dc_error_last());
    return r;
}

/* ---- files ---- */

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f)
        return NULL;
    size_t cap = 1 << 16;
    uint8_t *p = malloc(cap);
    ST_CHECK(p != NULL);
    size_t got;
    while ((got = fread(p + *n, 1, cap - *n, f)) > 0) {
        *n += got;
        if (*n == cap) {
            cap *= 2;
            p = realloc(p, cap);
            ST_CHECK(p != NULL);
        }
    }
    fclose(f);
    return p;
}

static void spit(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    ST_CHECK(f != NULL);
    ST_CHECK(fwrite(p, 1, n, f) == n);
    ST_CHECK(fclose(f) == 0);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    uint8_t *p = slurp(from, &n);
    ST_CHECK(p != NULL);
    spit(to, p, n);
    free(p);
}

static void remove_replica(const char *path) {
    static const char *const sfx[] = {"",       "-wal",           "-shm",      "-journal",
                                      "-rekey", "-rekey-journal", "-rekey-wal"};
    char p[4200];
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

static void flip_byte(const char *path, long off, uint8_t bits) {
    int fd = open(path, O_RDWR);
    ST_CHECK(fd >= 0);
    uint8_t b;
    ST_CHECK(pread(fd, &b, 1, off) == 1);
    b ^= bits;
    ST_CHECK(pwrite(fd, &b, 1, off) == 1);
    close(fd);
}

/* How often `needle` occurs in the file (0 if the file is absent). */
static long count_in(const char *path, const uint8_t *needle, size_t nn) {
    size_t n;
    uint8_t *p = slurp(path, &n);
    long hits = 0;
    for (size_t i = 0; p && i + nn <= n; i++)
        if (p[i] == needle[0] && memcmp(p + i, needle, nn) == 0)
            hits++;
    free(p);
    return hits;
}

/* The page size in an encrypted file's clear header (bytes 12..15). */
static long page_size_of(const char *path) {
    uint8_t h[16];
    FILE *f = fopen(path, "rb");
    ST_CHECK(f != NULL && fread(h, 1, sizeof h, f) == sizeof h);
    fclose(f);
    ST_CHECK(memcmp(h, "DCATREST", 8) == 0);
    return (long)h[12] << 24 | (long)h[13] << 16 | (long)h[14] << 8 | h[15];
}

/* ---- a replica with people in it ---- */

static const char *const NAMES[] = {"Huang Hongxing", "\xe9\xbb\x84\xe7\xba\xa2\xe6\x98\x9f",
                                    "Li Xiaoyun"};
static const char ID_NUMBER[] = "520102198403154321";
static const char PHONE[] = "13812345678";

/* A space with a member, and n drivers with names, identity numbers and
 * phones.  Returns the space id (static storage). */
static const char *fill(dc_replica *r, const char *member_path, int n) {
    static char space[64];
    dc_buf b = DC_BUF_INIT;
    ST_OK(r, dc_space_create(&b, r, "Wudang mobile branch"));
    snprintf(space, sizeof space, "%s", (char *)b.ptr);
    if (member_path) {
        dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
        o.device_name = NAMES[2];
        dc_replica *m = NULL;
        ST_OK(NULL, dc_replica_open(&m, member_path, &o));
        ST_OK(m, dc_replica_card(&b, m));
        ST_OK(r, dc_space_add(r, space, (const char *)b.ptr, DC_ROLE_MEMBER));
        dc_replica_close(m);
    }
    for (int i = 0; i < n; i++) {
        dc_txn *t = NULL;
        char id[32];
        snprintf(id, sizeof id, "drv-%d", i);
        ST_OK(r, dc_txn_begin(&t, r, space));
        ST_OK(r, dc_txn_set(t, "driver", id, "name", DC_STR, 0, NAMES[i % 2]));
        ST_OK(r, dc_txn_set(t, "driver", id, "id_number", DC_STR, 0, ID_NUMBER));
        ST_OK(r, dc_txn_set(t, "driver", id, "phone", DC_STR, 0, PHONE));
        ST_OK(r, dc_txn_add(t, "driver", id, "routes", DC_STR, 0, "Guiyang-Zunyi"));
        ST_OK(r, dc_txn_commit(t, NULL));
    }
    dc_buf_dispose(&b);
    return space;
}

/* ---- search ---- */

typedef struct needle {
    const char *what;
    uint8_t bytes[64];
    size_t n;
} needle;

static size_t needles(needle *v, dc_replica *r, const char *space_hex) {
    size_t k = 0;
    for (size_t i = 0; i < 3; i++, k++) {
        v[k].what = NAMES[i];
        v[k].n = strlen(NAMES[i]);
        memcpy(v[k].bytes, NAMES[i], v[k].n);
    }
    v[k] = (needle){"the identity number", {0}, strlen(ID_NUMBER)};
    memcpy(v[k++].bytes, ID_NUMBER, strlen(ID_NUMBER));
    v[k] = (needle){"the phone number", {0}, strlen(PHONE)};
    memcpy(v[k++].bytes, PHONE, strlen(PHONE));
    /* The Ed25519 secret key is seed || public key: search for the seed. */
    v[k] = (needle){"the signing key", {0}, 32};
    memcpy(v[k++].bytes, r->id->sign_sk, 32);
    v[k] = (needle){"the X25519 key", {0}, 32};
    memcpy(v[k++].bytes, r->id->box_sk, 32);
    uint8_t sid[16];
    dc__space sp;
    dc__err err = {0};
    ST_CHECK(dc__unhex(sid, 16, space_hex) == 0);
    ST_CHECK(dc__store_space_get(r->st, sid, &sp, &err) == 0);
    v[k] = (needle){"the space key", {0}, 32};
    ST_CHECK(dc__store_key_get(r->st, sp.sid, sp.epoch, NULL, v[k++].bytes, &err) == 0);
    return k;
}

/* Hits of each needle over the files of the replica (db, WAL, SHM). */
static void search(const char *path, const needle *v, size_t nv, long *hits) {
    char wal[4200], shm[4200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    for (size_t i = 0; i < nv; i++)
        hits[i] = count_in(path, v[i].bytes, v[i].n) + count_in(wal, v[i].bytes, v[i].n) +
                  count_in(shm, v[i].bytes, v[i].n);
}

static int cmp_nonce(const void *a, const void *b) {
    return memcmp(a, b, 24);
}

/* Every page image in the database and the WAL has its own nonce. */
static void check_nonces(const char *path) {
    const size_t P = (size_t)page_size_of(path);
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", path);
    size_t nd, nw;
    uint8_t *d = slurp(path, &nd), *w = slurp(wal, &nw);
    size_t cap = nd / P + (w ? nw / (24 + P) : 0) + 1, k = 0;
    uint8_t(*v)[24] = malloc(cap * 24);
    ST_CHECK(v != NULL && d != NULL);
    for (size_t off = P; off + P <= nd; off += P)
        memcpy(v[k++], d + off + P - 40, 24);
    for (size_t off = 32; w && off + 24 + P <= nw; off += 24 + P)
        memcpy(v[k++], w + off + 24 + P - 40, 24);
    qsort(v, k, 24, cmp_nonce);
    for (size_t i = 1; i < k; i++)
        if (memcmp(v[i - 1], v[i], 24) == 0)
            ST_FAIL("two page images of %s share a nonce", path);
    printf("search: %zu page images in the database and the WAL, %zu distinct nonces\n", k, k);
    ST_CHECK(k > 20);
    free(v);
    free(d);
    free(w);
}

static void test_search(void) {
    for (int enc = 0; enc < 2; enc++) {
        char *path = st_path(g_dir, enc ? "search-enc.dcr" : "search-clear.dcr");
        char *member = st_path(g_dir, enc ? "member-enc.dcr" : "member-clear.dcr");
        keyspec ks = {.fill = 0x5a};
        dc_replica *r = must_open(path, enc ? &ks : NULL);
        const char *space = fill(r, member, 40);
        /* A read folds the changes into the state (docs/storage.md): the
         * plaintext of the records is then in the file's pages too. */
        dc_buf dump = DC_BUF_INIT;
        ST_CHECK(dc_replica_dump(&dump, r, NULL) == 0 && dump.size > 2);
        dc_buf_dispose(&dump);
        needle v[16];
        long open_hits[16], closed_hits[16];
        size_t nv = needles(v, r, space);
        struct stat st;
        char wal[4200];
        snprintf(wal, sizeof wal, "%s-wal", path);
        ST_CHECK(stat(wal, &st) == 0 && st.st_size > 32); /* the WAL holds the writes */
        search(path, v, nv, open_hits);
        if (enc)
            check_nonces(path);
        dc_replica_close(r);
        search(path, v, nv, closed_hits);
        ST_CHECK(stat(wal, &st) != 0); /* the last close removes the WAL */
        for (size_t i = 0; i < nv; i++) {
            printf("search %s: %-22s %4ld hits while open, %4ld after close\n",
                   enc ? "encrypted" : "in clear ", v[i].what, open_hits[i], closed_hits[i]);
            if (enc && (open_hits[i] || closed_hits[i]))
                ST_FAIL("%s is readable in the encrypted replica's files", v[i].what);
            if (!enc && (!open_hits[i] || !closed_hits[i]))
                ST_FAIL("%s was not found in the replica kept in clear: the search is broken",
                        v[i].what);
        }
        free(path);
        free(member);
    }
}

/* ---- modes ---- */

static void expect_mode(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0)
        ST_FAIL("%s is missing: %s", path, strerror(errno));
    if ((st.st_mode & 0777) != 0600)
        ST_FAIL("%s has mode %o, expected 600", path, (unsigned)(st.st_mode & 0777));
}

static void test_modes(void) {
    mode_t old = umask(022);
    for (int enc = 0; enc < 2; enc++) {
        char *path = st_path(g_dir, enc ? "modes-enc.dcr" : "modes-clear.dcr");
        char *bundle = st_path(g_dir, "modes.dcb");
        char wal[4200], shm[4200];
        snprintf(wal, sizeof wal, "%s-wal", path);
        snprintf(shm, sizeof shm, "%s-shm", path);
        keyspec ks = {.fill = 1};
        dc_replica *r = must_open(path, enc ? &ks : NULL);
        fill(r, NULL, 2);
        expect_mode(path);
        expect_mode(wal);
        expect_mode(shm);
        ST_OK(r, dc_bundle_export_file(r, bundle, NULL));
        expect_mode(bundle);
        dc_replica_close(r);
        if (enc) {
            /* A rekey's copy, renamed into place. */
            keyspec ks2 = {.fill = 2};
            r = must_open(path, &ks);
            ST_OK(r, dc_replica_rekey(r, provider, &ks2));
            dc_replica_close(r);
            expect_mode(path);
        }
        unlink(bundle);
        free(bundle);
        free(path);
    }
    umask(old);
}

/* ---- keys ---- */

static void test_keys(void) {
    char *path = st_path(g_dir, "keys.dcr");
    char *ppath = st_path(g_dir, "keys-pass.dcr");
    dc_replica *r = NULL;
    keyspec right = {.fill = 0x11}, wrong = {.fill = 0x12};
    r = must_open(path, &right);
    ST_CHECK(right.calls == 1 && right.last_purpose == DC_KEY_NEW);
    ST_CHECK(dc_replica_encrypted(r) == 1);
    fill(r, NULL, 3);
    char *before = st_dump(r);
    char *status = st_status(r);
    ST_CHECK(strstr(status, "\"encrypted\":true") != NULL);
    free(status);
    dc_replica_close(r);

    /* Reopening asks for the key of an existing file. */
    right.calls = 0;
    r = must_open(path, &right);
    ST_CHECK(right.calls == 1 && right.last_purpose == DC_KEY_OPEN);
    dc_replica_close(r);

    /* No key: a clear error naming what to do, not "file is not a
     * database". */
    ST_EXPECT(DC_EKEY, open_with(&r, path, NULL));
    ST_CHECK(r == NULL);
    ST_CHECK(strstr(dc_error_last(), "encrypted") != NULL);
    ST_EXPECT(DC_EKEY, open_with(&r, path, &wrong));
    ST_CHECK(strstr(dc_error_last(), "wrong key") != NULL);
    printf("keys: a wrong key: %s\n", dc_error_last());
    keyspec pass_for_key = {.pass = "a passphrase"};
    ST_EXPECT(DC_EKEY, open_with(&r, path, &pass_for_key));
    keyspec refuse = {.refuse = 1}, nothing = {.give_nothing = 1};
    ST_EXPECT(DC_EUSER, open_with(&r, path, &refuse));
    ST_EXPECT(DC_EKEY, open_with(&r, path, &nothing));

    /* Options of versions 1 and 2 have no key fields: whatever follows
     * them is never read, and an encrypted file is refused. */
    for (unsigned ver = 1; ver <= 2; ver++) {
        dc_replica_options o = DC_REPLICA_OPTIONS_INIT;
        o.version = ver;
        o.key_provider = must_not_be_called;
        ST_EXPECT(DC_EKEY, dc_replica_open(&r, path, &o));
        char *clear = st_path(g_dir, ver == 1 ? "keys-v1.dcr" : "keys-v2.dcr");
        ST_OK(NULL, dc_replica_open(&r, clear, &o));
        ST_CHECK(dc_replica_encrypted(r) == 0);
        dc_replica_close(r);
        free(clear);
    }

    /* Nothing above changed the file. */
    r = must_open(path, &right);
    char *after = st_dump(r);
    ST_CHECK(strcmp(before, after) == 0);
    dc_replica_close(r);
    free(after);

    /* A passphrase: Argon2id under the salt in the file's header. */
    keyspec pass = {.pass = "correct horse battery staple"};
    keyspec bad_pass = {.pass = "correct horse battery stapler"};
    r = must_open(ppath, &pass);
    fill(r, NULL, 1);
    dc_replica_close(r);
    r = must_open(ppath, &pass);
    dc_replica_close(r);
    ST_EXPECT(DC_EKEY, open_with(&r, ppath, &bad_pass));
    ST_CHECK(strstr(dc_error_last(), "wrong passphrase") != NULL);
    ST_EXPECT(DC_EKEY, open_with(&r, ppath, &right));

    /* An empty file (what `touch` makes) is an empty replica: a key makes
     * it an encrypted one. */
    char *empty = st_path(g_dir, "keys-empty.dcr");
    spit(empty, (const uint8_t *)"", 0);
    keyspec ek = {.fill = 0x21};
    r = must_open(empty, &ek);
    ST_CHECK(ek.last_purpose == DC_KEY_NEW && dc_replica_encrypted(r) == 1);
    dc_replica_close(r);
    ST_EXPECT(DC_EKEY, open_with(&r, empty, NULL));
    free(empty);

    /* ":memory:" has nothing at rest to encrypt. */
    ST_EXPECT(DC_EINVAL, open_with(&r, ":memory:", &right));

    /* The key-setting calls check their arguments. */
    ST_EXPECT(DC_EMISUSE, dc_key_set(NULL, (const uint8_t *)"x", 1));
    ST_CHECK(dc_key_bytes() == 32);
    free(before);
    free(path);
    free(ppath);
}

/* ---- two handles on one encrypted file ---- */

/* An app keeps a UI handle and a sync handle on one replica: both write
 * the one encrypted file and its WAL (each with its own nonces), and each
 * reads what the other wrote. */
static void test_two_writers(void) {
    char *path = st_path(g_dir, "two.dcr");
    keyspec ks = {.fill = 0x2b};
    dc_replica *a = must_open(path, &ks), *b = NULL;
    const char *sp = fill(a, NULL, 1);
    char space[40];
    snprintf(space, sizeof space, "%s", sp);
    b = must_open(path, &ks);
    for (int i = 0; i < 300; i++) {
        dc_replica *w = i % 2 ? b : a;
        char id[32];
        snprintf(id, sizeof id, "two-%d", i);
        dc_txn *t = NULL;
        ST_OK(w, dc_txn_begin(&t, w, space));
        ST_OK(w, dc_txn_set(t, "driver", id, "phone", DC_STR, 0, PHONE));
        ST_OK(w, dc_txn_commit(t, NULL));
    }
    char *da = st_dump(a), *db = st_dump(b);
    ST_CHECK(strcmp(da, db) == 0);
    dc_replica_close(a);
    dc_replica_close(b);
    dc__err err = {0};
    dc__store *s = NULL;
    ST_OK(NULL, dc__store_open(&s, path, true, false, provider, &ks, &err));
    ST_OK(NULL, dc__store_integrity_check(s, &err));
    dc__store_close(s);
    a = must_open(path, &ks);
    char *again = st_dump(a);
    ST_CHECK(strcmp(da, again) == 0);
    int n = 0;
    for (const char *q = strstr(again, "\"two-"); q; q = strstr(q + 1, "\"two-"))
        n++;
    ST_CHECK(n == 300);
    dc_replica_close(a);
    printf("two writers: 300 transactions from two handles on one encrypted file, all there\n");
    free(da);
    free(db);
    free(again);
    remove_replica(path);
    free(path);
}

/* ---- tamper ---- */

/* Opens the replica through the store and checks every page: 0, or the
 * error (with its message in err). */
static int check_all_pages(const char *path, keyspec *ks, dc__err *err) {
    dc__store *s = NULL;
    int rc = dc__store_open(&s, path, true, false, provider, ks, err);
    if (!rc)
        rc = dc__store_integrity_check(s, err);
    dc__store_close(s);
    return rc;
}

/* An attachment of the tamper test: 5000 bytes, read back through the API
 * (so the pages of the attachment tables are read too). */
static int att_read(void *user, uint8_t *buf, size_t cap, size_t *got) {
    size_t *left = user;
    *got = *left < cap ? *left : cap;
    for (size_t i = 0; i < *got; i++)
        buf[i] = (uint8_t)('A' + (*left - i) % 26);
    *left -= *got;
    return 0;
}

static int att_count(void *user, const uint8_t *p, size_t n) {
    (void)p;
    *(size_t *)user += n;
    return 0;
}

/* The attachments through the API: 0, or the first error. */
static int att_check(dc_replica *r, const char *space, const char *id) {
    dc_buf b = DC_BUF_INIT;
    size_t got = 0;
    int rc = dc_attach_ls(&b, r, NULL);
    dc_buf_dispose(&b);
    if (!rc)
        rc = dc_attach_get(r, space, id, att_count, &got);
    if (!rc && got != 5000)
        ST_FAIL("the attachment read back %zu bytes, not 5000, without an error", got);
    return rc;
}

static void test_tamper(void) {
    char *path = st_path(g_dir, "tamper.dcr");
    char *copy = st_path(g_dir, "tamper-copy.dcr");
    keyspec ks = {.fill = 0x33};
    dc_replica *r = must_open(path, &ks);
    char tspace[64];
    snprintf(tspace, sizeof tspace, "%s", fill(r, NULL, 120));
    char att[DC_ATTACH_ID_SIZE];
    size_t left = 5000;
    ST_OK(r, dc_attach_put(att, r, tspace, "text/plain", att_read, &left));
    char *full = st_dump(r);
    dc_replica_close(r);
    dc__err err = {0};
    ST_OK(NULL, check_all_pages(path, &ks, &err));

    struct stat st;
    ST_CHECK(stat(path, &st) == 0);
    const long P = page_size_of(path);
    long pages = (long)st.st_size / P - 1; /* after the header block */
    ST_CHECK(pages > 10 && (long)st.st_size % P == 0);
    long by_api = 0;
    /* In each page: a ciphertext byte, a nonce byte, a tag byte. */
    const long where[3] = {17, P - 40 + 5, P - 3};
    for (long pg = 1; pg <= pages; pg++) {
        for (int w = 0; w < 3; w++) {
            remove_replica(copy);
            copy_file(path, copy);
            flip_byte(copy, P * pg + where[w], 0x04);
            char want[64];
            snprintf(want, sizeof want, "page %ld ", pg);
            memset(&err, 0, sizeof err);
            int rc = check_all_pages(copy, &ks, &err);
            if (rc != DC_ECORRUPT || !strstr(err.msg, want))
                ST_FAIL("a flipped byte at offset %ld of page %ld: %s: %s", where[w], pg,
                        dc_error_name(rc), err.msg);
            /* Through the public API: an error naming the page, or (for a
             * page these calls never read) the right answer. */
            rc = open_with(&r, copy, &ks);
            if (rc == 0) {
                dc_buf b = DC_BUF_INIT;
                rc = dc_replica_dump(&b, r, NULL);
                if (rc == 0 && strcmp((char *)b.ptr, full) != 0)
                    ST_FAIL("page %ld flipped: the dump changed without an error", pg);
                if (rc == 0)
                    rc = att_check(r, tspace, att);
                if (rc && (rc != DC_ECORRUPT || !strstr(dc_replica_errmsg(r), want)))
                    ST_FAIL("page %ld flipped: dump: %s: %s", pg, dc_error_name(rc),
                            dc_replica_errmsg(r));
                by_api += rc != 0;
                dc_buf_dispose(&b);
                dc_replica_close(r);
            } else if (rc != DC_ECORRUPT || !strstr(dc_error_last(), want)) {
                ST_FAIL("page %ld flipped: open: %s: %s", pg, dc_error_name(rc), dc_error_last());
            } else {
                by_api++;
            }
        }
    }
    printf("tamper: %ld pages x 3 flips all refused by the integrity check; %ld of them by "
           "open or dump\n",
           pages, by_api);
    ST_CHECK(by_api > pages);
    printf("tamper: e.g. %s\n", err.msg);

    /* The header: a wrong-key error or a corrupt header, never an open. */
    for (long off = 0; off < DC__AR_HEADER + 8; off += 3) {
        remove_replica(copy);
        copy_file(path, copy);
        flip_byte(copy, off, 0x01);
        int rc = open_with(&r, copy, &ks);
        if (rc != DC_EKEY && rc != DC_ECORRUPT && rc != DC_EVERSION)
            ST_FAIL("a flipped header byte at %ld: %s: %s", off, dc_error_name(rc),
                    dc_error_last());
    }

    /* A committed frame in the WAL, read by a second handle (the first
     * keeps the WAL index, so there is no recovery). */
    remove_replica(copy);
    copy_file(path, copy);
    dc_replica *a = must_open(copy, &ks);
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", copy);
    const char *space = NULL;
    {
        dc_buf b = DC_BUF_INIT;
        ST_OK(a, dc_space_list(&b, a));
        static char sp[40];
        const char *q = strstr((char *)b.ptr, "\"space\":\"");
        ST_CHECK(q != NULL);
        memcpy(sp, q + 9, 32);
        sp[32] = 0;
        space = sp;
        dc_buf_dispose(&b);
    }
    dc_txn *t = NULL;
    ST_OK(a, dc_txn_begin(&t, a, space));
    ST_OK(a, dc_txn_set(t, "driver", "drv-new", "name", DC_STR, 0, NAMES[0]));
    ST_OK(a, dc_txn_commit(t, NULL));
    ST_CHECK(stat(wal, &st) == 0 && st.st_size > 32 + 24 + P);
    long frames = (st.st_size - 32) / (24 + P);
    /* The last frame's page image: the newest version of its page. */
    flip_byte(wal, 32 + (frames - 1) * (24 + P) + 24 + 100, 0x80);
    memset(&err, 0, sizeof err);
    int rc = check_all_pages(copy, &ks, &err);
    if (rc != DC_ECORRUPT || !strstr(err.msg, "in the WAL of"))
        ST_FAIL("a flipped byte in a committed WAL frame: %s: %s", dc_error_name(rc), err.msg);
    printf("tamper: %s\n", err.msg);
    dc_replica_close(a);

    /* The same WAL at recovery (a crash image: database and WAL, no SHM):
     * the log ends before the damaged frame, as at a torn write. */
    char *image = st_path(g_dir, "tamper-image.dcr");
    for (int which = 0; which < 2; which++) {
        remove_replica(copy);
        remove_replica(image);
        copy_file(path, copy);
        a = must_open(copy, &ks);
        for (int i = 0; i < 3; i++) {
            char id[32];
            snprintf(id, sizeof id, "drv-late-%d", i);
            ST_OK(a, dc_txn_begin(&t, a, space));
            ST_OK(a, dc_txn_set(t, "driver", id, "name", DC_STR, 0, NAMES[1]));
            ST_OK(a, dc_txn_commit(t, NULL));
        }
        char img_wal[4200];
        snprintf(img_wal, sizeof img_wal, "%s-wal", image);
        copy_file(copy, image);
        copy_file(wal, img_wal);
        dc_replica_close(a);
        ST_CHECK(stat(img_wal, &st) == 0);
        frames = (st.st_size - 32) / (24 + P);
        /* which 0: the first frame; 1: the last. */
        long k = which ? frames - 1 : 0;
        flip_byte(img_wal, 32 + k * (24 + P) + 24 + 7, 0x10);
        r = must_open(image, &ks);
        char *d = st_dump(r);
        int late = 0;
        for (const char *q = strstr(d, "drv-late-"); q; q = strstr(q + 1, "drv-late-"))
            late++;
        dc_replica_close(r);
        memset(&err, 0, sizeof err);
        ST_OK(NULL, check_all_pages(image, &ks, &err));
        printf("tamper: WAL frame %ld of %ld flipped before recovery: %d of 3 later "
               "transactions kept, the file is sound\n",
               k + 1, frames, late);
        ST_CHECK(late < 3);
        if (which == 0)
            ST_CHECK(late == 0);
        free(d);
    }
    remove_replica(copy);
    remove_replica(image);
    free(image);
    free(full);
    free(copy);
    free(path);
}

/* ---- a hot rollback journal ---- */

static long g_kill_at, g_calls;

static int kill_vfs(int op) {
    (void)op;
    if (++g_calls == g_kill_at)
        raise(SIGKILL);
    return 0;
}

static int kill_os(const char *step) {
    (void)step;
    if (++g_calls == g_kill_at)
        raise(SIGKILL);
    return 0;
}

static int fail_vfs(int op) {
    (void)op;
    return ++g_calls == g_kill_at;
}

static int fail_os(const char *step) {
    (void)step;
    return ++g_calls == g_kill_at;
}

static int fail_sync_dir(const char *step) {
    return strcmp(step, "sync_dir") == 0;
}

static void sql(sqlite3 *db, const char *q) {
    char *msg = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
        ST_FAIL("%s: %s", q, msg ? msg : sqlite3_errmsg(db));
}

static sqlite3 *journal_db(dc__vfs **v, const char *path, const dc__ar_header *h,
                           const uint8_t *master) {
    dc__err err = {0};
    ST_CHECK(dc__vfs_new(v, &err) == 0);
    ST_CHECK(dc__vfs_add(*v, path, h, master, &err) == 0);
    sqlite3 *db = NULL;
    ST_CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, dc__vfs_name(*v)) == SQLITE_OK);
    int reserve = DC__AR_RESERVE;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    /* A tiny cache, so a big update spills pages into the file before it
     * commits: the journal is then needed to undo them. */
    sql(db, "PRAGMA journal_mode=DELETE; PRAGMA cache_size=10; PRAGMA temp_store=MEMORY;");
    return db;
}

static void test_journal(void) {
    char *path = st_path(g_dir, "journal.db");
    char journal[4200];
    snprintf(journal, sizeof journal, "%s-journal", path);
    uint8_t master[32];
    memset(master, 0x77, sizeof master);
    dc__ar_header h;
    dc__ar_header_new(&h, 4096, DC__AR_KDF_RAW);
    dc__ar_header_seal(&h, master);
    uint8_t block[4096] = {0};
    dc__ar_header_encode(block, &h);
    spit(path, block, sizeof block);

    dc__vfs *v;
    sqlite3 *db = journal_db(&v, path, &h, master);
    sql(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
    sql(db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) "
            "INSERT INTO t SELECT i, 'before Huang Hongxing ' || i FROM c");
    sqlite3_close(db);
    dc__vfs_free(v);

    fflush(NULL);
    pid_t pid = fork();
    ST_CHECK(pid >= 0);
    if (pid == 0) {
        db = journal_db(&v, path, &h, master);
        sql(db, "BEGIN");
        sql(db, "UPDATE t SET v = 'after ' || k");
        /* Killed at the first write of the commit that follows the
         * spills: the journal is synced and hot. */
        g_calls = 0;
        g_kill_at = 3;
        dc__vfs_fault = kill_vfs;
        sql(db, "COMMIT");
        _exit(0);
    }
    int status;
    ST_CHECK(waitpid(pid, &status, 0) == pid);
    ST_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    struct stat st;
    ST_CHECK(stat(journal, &st) == 0 && st.st_size > 4096 * 2);
    ST_CHECK(count_in(journal, (const uint8_t *)"Huang", 5) == 0);
    ST_CHECK(count_in(journal, (const uint8_t *)"before", 6) == 0);
    printf("journal: a hot journal of %lld bytes, no plaintext in it\n", (long long)st.st_size);

    db = journal_db(&v, path, &h, master);
    sqlite3_stmt *q;
    ST_CHECK(sqlite3_prepare_v2(db, "SELECT count(*), sum(v LIKE 'before Huang Hongxing %') FROM t",
                                -1, &q, NULL) == SQLITE_OK);
    ST_CHECK(sqlite3_step(q) == SQLITE_ROW);
    int n = sqlite3_column_int(q, 0), before = sqlite3_column_int(q, 1);
    sqlite3_finalize(q);
    ST_CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK);
    ST_CHECK(sqlite3_step(q) == SQLITE_ROW);
    ST_CHECK(strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    dc__vfs_free(v);
    if (n != 2000 || before != 2000)
        ST_FAIL("after rolling back the hot journal: %d rows, %d as before", n, before);
    ST_CHECK(stat(journal, &st) != 0 || st.st_size == 0);
    printf("journal: rolled back: all 2000 rows as before the transaction\n");
    free(path);
}

/* ---- kill -9 during migration and rekey ---- */

/* Runs op (in a child) with a kill at I/O step `at`; true if it was
 * killed, false if it ran to the end. */
static bool run_killed(long at, void (*op)(const char *, keyspec *, keyspec *), const char *path,
                       keyspec *from, keyspec *to) {
    fflush(NULL);
    pid_t pid = fork();
    ST_CHECK(pid >= 0);
    if (pid == 0) {
        g_calls = 0;
        g_kill_at = at;
        op(path, from, to);
        _exit(0);
    }
    int status;
    ST_CHECK(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        return true;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        ST_FAIL("the child failed (status 0x%x) at kill point %ld", status, at);
    return false;
}

static void op_migrate(const char *path, keyspec *from, keyspec *to) {
    (void)from;
    dc__vfs_fault = kill_vfs;
    dc__os_fault = kill_os;
    dc_replica *r = must_open(path, to);
    dc__vfs_fault = NULL;
    dc__os_fault = NULL;
    dc_replica_close(r);
}

static void op_rekey(const char *path, keyspec *from, keyspec *to) {
    dc_replica *r = must_open(path, from);
    dc__vfs_fault = kill_vfs;
    dc__os_fault = kill_os;
    int rc = dc_replica_rekey(r, provider, to);
    dc__vfs_fault = NULL;
    dc__os_fault = NULL;
    if (rc)
        ST_FAIL("rekey: %s: %s", dc_error_name(rc), dc_replica_errmsg(r));
    dc_replica_close(r);
}

/* After a kill: the replica opens with the old key or the new one (and
 * only one of them) and holds exactly what it held.  Returns 1 if it has
 * the new key. */
static int check_after(const char *path, keyspec *from, keyspec *to, const char *want) {
    dc_replica *r = NULL;
    int rc = open_with(&r, path, from);
    int now_new = 0;
    if (from == NULL && rc == DC_EKEY) {
        /* from NULL is a replica in clear: opened with no key it is
         * refused once it is encrypted. */
        now_new = 1;
    } else if (from && rc == DC_EKEY) {
        now_new = 1;
    } else if (rc) {
        ST_FAIL("after a kill: open with the old key: %s: %s", dc_error_name(rc), dc_error_last());
    }
    if (now_new) {
        rc = open_with(&r, path, to);
        if (rc)
            ST_FAIL("after a kill: the replica opens with neither key: %s: %s", dc_error_name(rc),
                    dc_error_last());
        ST_CHECK(dc_replica_encrypted(r) == 1);
    } else {
        ST_CHECK(dc_replica_encrypted(r) == (from ? 1 : 0));
    }
    char *d = st_dump(r);
    if (strcmp(d, want) != 0) {
        st_show_diff("before", want, "after the kill", d);
        ST_FAIL("the replica lost or changed data in a killed %s", from ? "rekey" : "migration");
    }
    free(d);
    dc_replica_close(r);
    return now_new;
}

/* Copies a replica and its WAL (if any) to `to`, removing what was there. */
static void copy_replica(const char *from, const char *to) {
    char fw[4200], tw[4200];
    struct stat st;
    remove_replica(to);
    copy_file(from, to);
    snprintf(fw, sizeof fw, "%s-wal", from);
    snprintf(tw, sizeof tw, "%s-wal", to);
    if (stat(fw, &st) == 0)
        copy_file(fw, tw);
}

static void test_kill(void) {
    char *src = st_path(g_dir, "kill-source.dcr");
    char *tmpl = st_path(g_dir, "kill-template.dcr");
    char *path = st_path(g_dir, "kill.dcr");
    keyspec A = {.fill = 0xa1}, B = {.fill = 0xb2};
    for (int rekey = 0; rekey < 2; rekey++) {
        /* The replica to migrate or rekey is the image a crash would leave:
         * its file and a WAL of committed transactions not yet
         * checkpointed, which the copy must carry over. */
        remove_replica(src);
        dc_replica *r = must_open(src, rekey ? &A : NULL);
        fill(r, NULL, 60);
        char *want = st_dump(r);
        copy_replica(src, tmpl);
        char tw[4200];
        struct stat st;
        snprintf(tw, sizeof tw, "%s-wal", tmpl);
        ST_CHECK(stat(tw, &st) == 0 && st.st_size > 32);
        dc_replica_close(r);
        long at, tried = 0, old_key = 0, new_key = 0;
        for (at = 1;; at += at < 40 ? 1 : g_stride) {
            copy_replica(tmpl, path);
            if (!run_killed(at, rekey ? op_rekey : op_migrate, path, rekey ? &A : NULL, &B))
                break;
            tried++;
            if (check_after(path, rekey ? &A : NULL, &B, want))
                new_key++;
            else
                old_key++;
            if (at > 5000)
                ST_FAIL("the %s did not finish within 5000 I/O steps",
                        rekey ? "rekey" : "migration");
        }
        /* It ran to the end: the new key, everything kept. */
        ST_CHECK(check_after(path, rekey ? &A : NULL, &B, want) == 1);
        /* And after a kill that left a copy behind, a new attempt works. */
        copy_replica(tmpl, path);
        ST_CHECK(
            run_killed(at / 2 + 1, rekey ? op_rekey : op_migrate, path, rekey ? &A : NULL, &B));
        if (rekey) {
            r = must_open(path, &A);
            if (r)
                ST_OK(r, dc_replica_rekey(r, provider, &B));
            dc_replica_close(r);
        } else {
            r = must_open(path, &B);
            dc_replica_close(r);
        }
        ST_CHECK(check_after(path, rekey ? &A : NULL, &B, want) == 1);
        printf("kill: %s killed at %ld I/O steps (of %ld): %ld times it opened %s, %ld with "
               "the new key, never a loss\n",
               rekey ? "rekey" : "migration", tried, at, old_key,
               rekey ? "with the old key" : "in clear", new_key);
        ST_CHECK(old_key > 0 && new_key > 0);
        free(want);
    }
    remove_replica(src);
    remove_replica(tmpl);
    remove_replica(path);
    free(src);
    free(tmpl);
    free(path);
}

/* ---- I/O faults ---- */

/* Commits three transactions on an encrypted replica, then closes it;
 * returns how far it got (0: open failed, 1..3 commits, 4 closed). */
static int fault_scenario(const char *path, keyspec *ks, const char *space) {
    dc_replica *r = NULL;
    if (open_with(&r, path, ks))
        return 0;
    int done = 1;
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "fault-%d", i);
        dc_txn *t = NULL;
        int rc = dc_txn_begin(&t, r, space);
        if (!rc)
            rc = dc_txn_set(t, "driver", id, "phone", DC_STR, 0, PHONE);
        if (!rc)
            rc = dc_txn_commit(t, NULL);
        else
            dc_txn_rollback(t);
        if (rc) {
            if (rc != DC_EIO && rc != DC_ECORRUPT && rc != DC_ENOMEM)
                ST_FAIL("an I/O fault gave %s: %s", dc_error_name(rc), dc_replica_errmsg(r));
            break;
        }
        done++;
    }
    dc_replica_close(r);
    return done;
}

static void test_faults(void) {
    char *tmpl = st_path(g_dir, "fault-template.dcr");
    char *path = st_path(g_dir, "fault.dcr");
    keyspec ks = {.fill = 0x44}, B = {.fill = 0x45};
    dc_replica *r = must_open(tmpl, &ks);
    const char *sp = fill(r, NULL, 5);
    char space[40];
    snprintf(space, sizeof space, "%s", sp);
    dc_replica_close(r);
    long at, failed_runs = 0;
    for (at = 1;; at += at < 40 ? 1 : g_stride) {
        remove_replica(path);
        copy_file(tmpl, path);
        g_calls = 0;
        g_kill_at = at;
        dc__vfs_fault = fail_vfs;
        dc__os_fault = fail_os;
        int done = fault_scenario(path, &ks, space);
        /* A rekey too, failing at its own steps. */
        if (done == 4) {
            dc_replica *rr = NULL;
            if (!open_with(&rr, path, &ks)) {
                int rc = dc_replica_rekey(rr, provider, &B);
                if (rc && rc != DC_EIO && rc != DC_ECORRUPT && rc != DC_EBUSY)
                    ST_FAIL("an I/O fault in a rekey gave %s: %s", dc_error_name(rc),
                            dc_replica_errmsg(rr));
                done += rc == 0;
                dc_replica_close(rr);
            }
        }
        dc__vfs_fault = NULL;
        dc__os_fault = NULL;
        bool hit = g_calls >= at;
        /* Whatever failed, the file opens (under one of the keys) and every
         * transaction is whole: fault-i present for a prefix of i. */
        keyspec *k = &ks;
        if (open_with(&r, path, k) == DC_EKEY)
            r = must_open(path, k = &B);
        int present = 0;
        for (int i = 0; i < 3; i++) {
            char id[32];
            snprintf(id, sizeof id, "fault-%d", i);
            dc_buf b = DC_BUF_INIT;
            int rc = dc_record_get(&b, r, space, "driver", id);
            if (rc == 0) {
                if (present != i)
                    ST_FAIL("fault at %ld: %s present after a missing one", at, id);
                present++;
            } else if (rc != DC_ENOTFOUND) {
                ST_FAIL("fault at %ld: reading %s: %s: %s", at, id, dc_error_name(rc),
                        dc_replica_errmsg(r));
            }
            dc_buf_dispose(&b);
        }
        dc_replica_close(r);
        dc__err err = {0};
        if (check_all_pages(path, k, &err))
            ST_FAIL("fault at %ld: %s", at, err.msg);
        if (!hit)
            break;
        failed_runs++;
        if (at > 20000)
            ST_FAIL("the fault scenario did not finish within 20000 I/O steps");
    }
    printf("faults: an I/O error at each of %ld steps: always an error code, the replica always "
           "sound\n",
           failed_runs);

    /* The one failure after which the new key is in place: the directory
     * cannot be synced after the rename.  The handle goes on under the new
     * key, and the error says to keep the old one too. */
    copy_replica(tmpl, path);
    r = must_open(path, &ks);
    char *before = st_dump(r);
    dc__os_fault = fail_sync_dir;
    ST_EXPECT(DC_EIO, dc_replica_rekey(r, provider, &B));
    dc__os_fault = NULL;
    ST_CHECK(strstr(dc_replica_errmsg(r), "keep the old key") != NULL);
    char *after = st_dump(r);
    ST_CHECK(strcmp(before, after) == 0);
    dc_replica_close(r);
    ST_EXPECT(DC_EKEY, open_with(&r, path, &ks));
    r = must_open(path, &B);
    dc_replica_close(r);
    free(before);
    free(after);
    ST_CHECK(failed_runs > 20);
    remove_replica(tmpl);
    remove_replica(path);
    free(tmpl);
    free(path);
}

int main(int argc, char **argv) {
    g_stride = argc > 1 ? atol(argv[1]) : 1;
    if (g_stride < 1)
        g_stride = 1;
    ST_OK(NULL, dc_global_init(NULL));
    g_dir = strdup(st_tmpdir("atrest"));
    test_search();
    test_modes();
    test_keys();
    test_two_writers();
    test_tamper();
    test_journal();
    test_kill();
    test_faults();
    st_rmtree(g_dir);
    printf("test_atrest: OK\n");
    return 0;
}
