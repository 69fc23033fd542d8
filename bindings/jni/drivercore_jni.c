/*
 * drivercore_jni.c — the JNI glue between the Java classes of org.drivercore
 * (bindings/jni/java) and the C API.  It only marshals: each native method of
 * org.drivercore.Native converts its arguments, calls one dc_* function, and
 * either returns the result or throws a DriverCoreException carrying the
 * library's error code and message.  Lifecycle rules (one open transaction,
 * no use after close) are enforced in Java, where they can be reported with
 * a clear message; the glue still refuses a zero handle so that a bug in the
 * Java layer is an exception, never a crash.
 *
 * Strings travel as NUL-terminated UTF-8 byte arrays in both directions
 * rather than as jstrings, because JNI's string functions use "modified
 * UTF-8", which differs from real UTF-8 for NUL and for characters outside
 * the BMP (see Native.java).
 *
 * The methods are bound with RegisterNatives in JNI_OnLoad, so that the only
 * exported symbol is JNI_OnLoad and a mismatch between this table and
 * Native.java fails when the library loads, not at the first call.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivercore.h"

#if defined(__GNUC__)
#define EXPORT __attribute__((visibility("default")))
#else
#define EXPORT
#endif

/* Cached at load: classes are global references, so they stay valid on any
 * thread, and looking them up once keeps FindClass (which depends on the
 * calling thread's class loader on Android) off the hot path. */
static jclass exc_class;         /* org/drivercore/DriverCoreException */
static jmethodID exc_ctor;       /* (I[B)V */
static jclass native_class;      /* org/drivercore/Native */
static jmethodID native_ask_key; /* Native.askKey(KeyProvider, int): AtRestKey */
static jmethodID native_live;    /* Native.liveDeliver(Object, long): void */
static jmethodID native_http;    /* Native.httpExecute(...): Object[] */
static jmethodID native_cancel;  /* Native.httpCancel(HttpTransport): void */
static JavaVM *the_vm;
static jfieldID key_passphrase; /* AtRestKey.passphrase: Z */
static jfieldID key_bytes;      /* AtRestKey.bytes: [B */

#define H(x) ((jlong)(intptr_t)(x))
#define R(x) ((dc_replica *)(intptr_t)(x))
#define T(x) ((dc_txn *)(intptr_t)(x))
#define S(x) ((dc_sync *)(intptr_t)(x))

/* ---- errors ---- */

/* Throws DriverCoreException(code, msg).  msg is UTF-8 and may be NULL or
 * empty, in which case the Java side uses the code's default message. */
static void throw_code(JNIEnv *env, int code, const char *msg) {
    jbyteArray jmsg = NULL;
    jthrowable exc;

    if ((*env)->ExceptionCheck(env)) {
        return; /* keep the first exception: it is the cause */
    }
    if (msg != NULL && msg[0] != '\0') {
        jsize n = (jsize)strlen(msg);
        jmsg = (*env)->NewByteArray(env, n);
        if (jmsg == NULL) {
            return; /* OutOfMemoryError is pending */
        }
        (*env)->SetByteArrayRegion(env, jmsg, 0, n, (const jbyte *)msg);
    }
    exc = (jthrowable)(*env)->NewObject(env, exc_class, exc_ctor, (jint)code, jmsg);
    if (exc != NULL) {
        (*env)->Throw(env, exc);
        (*env)->DeleteLocalRef(env, exc);
    }
    if (jmsg != NULL) {
        (*env)->DeleteLocalRef(env, jmsg);
    }
}

/*
 * Throws for a failed call on replica r.  The handle's message belongs to
 * the last failed call on it; it is used only when its code matches rc, so
 * a stale message from an earlier failure is never attached to this one.
 */
static void throw_rc(JNIEnv *env, dc_replica *r, int rc) {
    const char *msg = NULL;

    if (r != NULL && dc_replica_errcode(r) == rc) {
        msg = dc_replica_errmsg(r);
    } else if (dc_error_last_code() == rc) {
        msg = dc_error_last();
    }
    throw_code(env, rc, msg);
}

/* ---- one call ---- */

/*
 * The state of one native call: the replica whose last error explains a
 * failure (0 before there is one), the string arguments copied so far, freed
 * together when the call finishes, and whether everything so far succeeded.
 * Once ok is 0 an exception is pending and the dc_* function is not called.
 */
typedef struct {
    JNIEnv *env;
    jlong r;
    int ok;
    int n;
    char *s[8]; /* the most a call takes: a position query (7) */
} call;

static void call_init(call *c, JNIEnv *env, jlong r) {
    c->env = env;
    c->r = r;
    c->ok = 1;
    c->n = 0;
}

/* Refuses a zero handle: a bug in the Java layer, reported not crashed on. */
static int live(JNIEnv *env, jlong h) {
    if (h == 0) {
        throw_code(env, DC_EMISUSE, "jni: closed or null handle");
        return 0;
    }
    return 1;
}

/*
 * begin(), begin_txn() and arg() return c->ok, so that a method chains them
 * with && and calls its dc_* function only when all succeeded; whatever
 * failed first has left its exception pending, and finish() then only frees.
 */

/* Starts a call on replica handle r, refusing a zero handle. */
static int begin(call *c, JNIEnv *env, jlong r) {
    call_init(c, env, r);
    c->ok = live(env, r);
    return c->ok;
}

/* Starts a call on transaction handle t of replica handle r. */
static int begin_txn(call *c, JNIEnv *env, jlong r, jlong t) {
    if (begin(c, env, r)) {
        c->ok = live(env, t);
    }
    return c->ok;
}

/* Sets *out to the C string of a NUL-terminated UTF-8 byte array from
 * Native.utf8z, or to NULL for a null array.  Fails (with an exception
 * pending) when the copy fails or the array is not NUL-terminated. */
static int arg(call *c, const char **out, jbyteArray b) {
    JNIEnv *env = c->env;
    const char *why = "jni: string argument not NUL-terminated";
    int code = DC_EMISUSE;
    jsize n;
    char *s;

    *out = NULL;
    if (!c->ok || b == NULL) {
        return c->ok;
    }
    if (c->n >= (int)(sizeof c->s / sizeof c->s[0])) {
        why = "jni: too many string arguments (glue bug)";
        goto fail;
    }
    n = (*env)->GetArrayLength(env, b);
    if (n < 1) {
        goto fail;
    }
    s = malloc((size_t)n);
    if (s == NULL) {
        code = DC_ENOMEM;
        why = "jni: out of memory copying a string argument";
        goto fail;
    }
    (*env)->GetByteArrayRegion(env, b, 0, n, (jbyte *)s);
    if (s[n - 1] != '\0') {
        free(s);
        goto fail;
    }
    c->s[c->n++] = s;
    *out = s;
    return 1;

fail:
    c->ok = 0;
    throw_code(env, code, why);
    return 0;
}

/*
 * Finishes a call whose dc_* function returned rc; rc is ignored when an
 * argument failed, since the function was then not called and the exception
 * explaining why is already pending.  Throws for a failure, frees the
 * arguments, and returns 1 when the call succeeded.
 */
static int finish(call *c, int rc) {
    if (c->ok && rc != 0) {
        throw_rc(c->env, R(c->r), rc);
        c->ok = 0;
    }
    for (int i = 0; i < c->n; i++) {
        free(c->s[i]);
    }
    c->n = 0;
    return c->ok;
}

/*
 * A value argument: (kind, num, real, b) from Values.java.  A string's or
 * bytes' content travels in b as its raw bytes (no NUL: a value may hold
 * NULs), copied and freed with the call's strings.
 */
static int value_arg(call *c, dc_value *v, jint kind, jlong num, jdouble real, jbyteArray b) {
    JNIEnv *env = c->env;
    memset(v, 0, sizeof *v);
    v->kind = kind;
    v->num = num;
    v->real = real;
    if (!c->ok || b == NULL || (kind != DC_STR && kind != DC_BYTES)) {
        return c->ok;
    }
    if (c->n >= (int)(sizeof c->s / sizeof c->s[0])) {
        c->ok = 0;
        throw_code(env, DC_EMISUSE, "jni: too many string arguments (glue bug)");
        return 0;
    }
    jsize n = (*env)->GetArrayLength(env, b);
    char *p = malloc((size_t)n + 1);
    if (p == NULL) {
        c->ok = 0;
        throw_code(env, DC_ENOMEM, "jni: out of memory copying a value");
        return 0;
    }
    (*env)->GetByteArrayRegion(env, b, 0, n, (jbyte *)p);
    p[n] = '\0';
    c->s[c->n++] = p;
    v->ptr = p;
    v->len = (size_t)n;
    return 1;
}

/* ---- results ---- */

static jbyteArray bytes(JNIEnv *env, const void *p, size_t n) {
    jbyteArray out;

    if (n > (size_t)INT32_MAX) {
        throw_code(env, DC_ETOOBIG, "jni: result larger than a Java array can hold");
        return NULL;
    }
    out = (*env)->NewByteArray(env, (jsize)n);
    if (out != NULL && n > 0) {
        (*env)->SetByteArrayRegion(env, out, 0, (jsize)n, (const jbyte *)p);
    }
    return out;
}

/* finish() for a call that fills *out: the buffer's content as a byte[] on
 * success, else NULL with an exception pending; *out is disposed either way. */
static jbyteArray finish_buf(call *c, int rc, dc_buf *out) {
    jbyteArray res = finish(c, rc) ? bytes(c->env, out->ptr, out->size) : NULL;
    dc_buf_dispose(out);
    return res;
}

/* finish_buf() for a call on replica r that took no string arguments. */
static jbyteArray buf_result(JNIEnv *env, jlong r, int rc, dc_buf *out) {
    call c;
    call_init(&c, env, r);
    return finish_buf(&c, rc, out);
}

/* ---- shared shapes ---- */

/* The entry points that several native methods wrap alike, each wrapped once
 * here and handed the dc_* function to call. */
typedef int (*replica_fn)(dc_buf *out, dc_replica *r);
typedef int (*replica_str_fn)(dc_buf *out, dc_replica *r, const char *s);
typedef int (*txn_record_fn)(dc_txn *t, const char *type, const char *id);
typedef int (*txn_value_fn)(dc_txn *t, const char *type, const char *id, const char *field,
                            const dc_value *v);

static jbyteArray replica_buf(JNIEnv *env, jlong r, replica_fn fn) {
    dc_buf out = DC_BUF_INIT;

    if (!live(env, r)) {
        return NULL;
    }
    return buf_result(env, r, fn(&out, R(r)), &out);
}

static jbyteArray replica_str_buf(JNIEnv *env, jlong r, jbyteArray js, replica_str_fn fn) {
    call c;
    dc_buf out = DC_BUF_INIT;
    const char *s;
    int rc = 0;

    if (begin(&c, env, r) && arg(&c, &s, js)) {
        rc = fn(&out, R(r), s);
    }
    return finish_buf(&c, rc, &out);
}

static void txn_record(JNIEnv *env, jlong r, jlong t, jbyteArray jtype, jbyteArray jid,
                       txn_record_fn fn) {
    call c;
    const char *type, *id;
    int rc = 0;

    if (begin_txn(&c, env, r, t) && arg(&c, &type, jtype) && arg(&c, &id, jid)) {
        rc = fn(T(t), type, id);
    }
    finish(&c, rc);
}

/* ---- library ---- */

static jstring n_version(JNIEnv *env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, dc_version());
}

/* Error names, messages and role names are ASCII, so NewStringUTF is exact. */
static jstring n_error_name(JNIEnv *env, jclass cls, jint code) {
    (void)cls;
    return (*env)->NewStringUTF(env, dc_error_name(code));
}

static jstring n_strerror(JNIEnv *env, jclass cls, jint code) {
    (void)cls;
    return (*env)->NewStringUTF(env, dc_strerror(code));
}

static jstring n_role_name(JNIEnv *env, jclass cls, jint role) {
    const char *name = dc_role_name(role);
    (void)cls;
    return name == NULL ? NULL : (*env)->NewStringUTF(env, name);
}

/* ---- replica ---- */

/*
 * The key provider behind Replica.open(..., KeyProvider) and rekey: asks
 * the Java provider (through Native.askKey) and hands its AtRestKey to the
 * library, then zeroes the Java array, which the provider gave up.  Runs on
 * the calling thread, inside dc_replica_open or dc_replica_rekey.  An
 * exception the provider throws stays pending (it is the cause) and the
 * library call fails with DC_EUSER; the exception is what Java sees.
 */
typedef struct jkey {
    JNIEnv *env;
    jobject provider;
} jkey;

static int jni_key(void *user, dc_key *k, int purpose) {
    jkey *jk = user;
    JNIEnv *env = jk->env;
    jobject key = (*env)->CallStaticObjectMethod(env, native_class, native_ask_key, jk->provider,
                                                 (jint)purpose);
    if ((*env)->ExceptionCheck(env) || key == NULL) {
        if (!(*env)->ExceptionCheck(env))
            throw_code(env, DC_EINVAL, "KeyProvider.key returned null");
        return 1;
    }
    jboolean pass = (*env)->GetBooleanField(env, key, key_passphrase);
    jbyteArray b = (jbyteArray)(*env)->GetObjectField(env, key, key_bytes);
    jsize n = b ? (*env)->GetArrayLength(env, b) : 0;
    int rc = 1;
    jbyte *p = b ? (*env)->GetByteArrayElements(env, b, NULL) : NULL;
    if (p != NULL) {
        rc = pass ? dc_key_set_passphrase(k, (const char *)p, (size_t)n)
                  : dc_key_set(k, (const uint8_t *)p, (size_t)n);
        /* Zero the array (and a copy the VM may have made) before release. */
        volatile jbyte *v = p;
        for (jsize i = 0; i < n; i++)
            v[i] = 0;
        (*env)->ReleaseByteArrayElements(env, b, p, 0);
    }
    if (rc != 0)
        throw_code(env, rc < 0 ? rc : DC_EINVAL, dc_error_last());
    (*env)->DeleteLocalRef(env, b);
    (*env)->DeleteLocalRef(env, key);
    return rc;
}

/* jinstall: the app's installation id (docs/recovery.md), or NULL. */
static jlong n_open_installed(JNIEnv *env, jclass cls, jbyteArray jpath, jbyteArray jname,
                              jboolean must_exist, jobject provider, jbyteArray jinstall) {
    call c;
    dc_replica *r = NULL;
    dc_replica_options opts = DC_REPLICA_OPTIONS_INIT;
    const char *path, *name, *install;
    jkey jk = {env, provider};
    int rc = 0;
    (void)cls;

    /* No replica yet: a failure is explained by dc_error_last(). */
    call_init(&c, env, 0);
    if (arg(&c, &path, jpath) && arg(&c, &name, jname) && arg(&c, &install, jinstall)) {
        opts.device_name = name;
        opts.install_id = install;
        opts.must_exist = must_exist ? 1 : 0;
        if (provider != NULL) {
            opts.key_provider = jni_key;
            opts.key_user = &jk;
        }
        rc = dc_replica_open(&r, path, &opts);
    }
    return finish(&c, rc) ? H(r) : 0;
}

static jlong n_open_keyed(JNIEnv *env, jclass cls, jbyteArray jpath, jbyteArray jname,
                          jboolean must_exist, jobject provider) {
    return n_open_installed(env, cls, jpath, jname, must_exist, provider, NULL);
}

static jlong n_open(JNIEnv *env, jclass cls, jbyteArray jpath, jbyteArray jname,
                    jboolean must_exist) {
    return n_open_installed(env, cls, jpath, jname, must_exist, NULL, NULL);
}

static void n_rekey(JNIEnv *env, jclass cls, jlong r, jobject provider) {
    call c;
    jkey jk = {env, provider};
    (void)cls;
    if (begin(&c, env, r))
        finish(&c, dc_replica_rekey(R(r), jni_key, &jk));
}

static jboolean n_encrypted(JNIEnv *env, jclass cls, jlong r) {
    (void)env;
    (void)cls;
    return dc_replica_encrypted(R(r)) ? JNI_TRUE : JNI_FALSE;
}

/* Cloned replicas (docs/recovery.md). */
static jboolean n_cloned(JNIEnv *env, jclass cls, jlong r) {
    call c;
    int rc;
    (void)cls;
    if (!begin(&c, env, r))
        return JNI_FALSE;
    rc = dc_replica_cloned(R(r));
    if (rc < 0) {
        finish(&c, rc);
        return JNI_FALSE;
    }
    return rc ? JNI_TRUE : JNI_FALSE;
}

static jbyteArray n_recover(JNIEnv *env, jclass cls, jlong r) {
    (void)cls;
    return replica_buf(env, r, dc_replica_recover);
}

static void n_close(JNIEnv *env, jclass cls, jlong r) {
    (void)env;
    (void)cls;
    dc_replica_close(R(r));
}

static jbyteArray n_device_id(JNIEnv *env, jclass cls, jlong r) {
    const char *id;
    (void)cls;
    if (!live(env, r)) {
        return NULL;
    }
    id = dc_replica_device_id(R(r));
    return bytes(env, id, strlen(id));
}

static jbyteArray n_card(JNIEnv *env, jclass cls, jlong r) {
    (void)cls;
    return replica_buf(env, r, dc_replica_card);
}

static jbyteArray n_dump(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace) {
    (void)cls;
    return replica_str_buf(env, r, jspace, dc_replica_dump);
}

static jbyteArray n_status(JNIEnv *env, jclass cls, jlong r) {
    (void)cls;
    return replica_buf(env, r, dc_replica_status);
}

/* ---- spaces ---- */

static jbyteArray n_space_create(JNIEnv *env, jclass cls, jlong r, jbyteArray jname) {
    (void)cls;
    return replica_str_buf(env, r, jname, dc_space_create);
}

static void n_space_add(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jcard,
                        jint role) {
    call c;
    const char *space, *card;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &card, jcard)) {
        rc = dc_space_add(R(r), space, card, role);
    }
    finish(&c, rc);
}

/* spaceMember: op 0 remove, 1 set role, 2 rotate, 3 accept (role = flags),
 * 4 decline; device may be null where the call takes none. */
static void n_space_member(JNIEnv *env, jclass cls, jlong r, jint op, jbyteArray jspace,
                           jbyteArray jdevice, jint role) {
    call c;
    const char *space, *device = NULL;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && (op > 1 || arg(&c, &device, jdevice))) {
        switch (op) {
        case 0: rc = dc_space_remove(R(r), space, device); break;
        case 1: rc = dc_space_set_role(R(r), space, device, role); break;
        case 2: rc = dc_space_rotate(R(r), space); break;
        case 3: rc = dc_space_accept(R(r), space, (unsigned)role); break;
        case 4: rc = dc_space_decline(R(r), space); break;
        default: rc = DC_EMISUSE; /* the Java side passes only the ops above */
        }
    }
    finish(&c, rc);
}

static jbyteArray n_space_list(JNIEnv *env, jclass cls, jlong r) {
    (void)cls;
    return replica_buf(env, r, dc_space_list);
}

static jbyteArray n_space_members(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace) {
    (void)cls;
    return replica_str_buf(env, r, jspace, dc_space_members);
}

/* dc_space_compact with the default options (a 30-day horizon). */
static int space_compact(dc_buf *out, dc_replica *r, const char *space) {
    return dc_space_compact(out, r, space, NULL);
}

static jbyteArray n_space_compact(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace) {
    (void)cls;
    return replica_str_buf(env, r, jspace, space_compact);
}

/* dc_replica_vacuum_typed: long[]{bytes before, bytes after, free pages
 * before}. */
static jlongArray n_vacuum(JNIEnv *env, jclass cls, jlong r) {
    call c;
    dc_vacuum_result v = {.version = DC_VACUUM_RESULT_VERSION};
    (void)cls;
    if (!begin(&c, env, r) || !finish(&c, dc_replica_vacuum_typed(R(r), &v))) {
        return NULL;
    }
    jlong a[3] = {v.bytes_before, v.bytes_after, v.free_pages_before};
    jlongArray out = (*env)->NewLongArray(env, 3);
    if (out) {
        (*env)->SetLongArrayRegion(env, out, 0, 3, a);
    }
    return out;
}

/* ---- transactions ---- */

static jlong n_txn_begin(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace) {
    call c;
    dc_txn *t = NULL;
    const char *space;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace)) {
        rc = dc_txn_begin(&t, R(r), space);
    }
    return finish(&c, rc) ? H(t) : 0;
}

/* The function of each op code shared with Native.OP_SET / OP_ADD / OP_REMOVE. */
enum { OP_SET = 0, OP_ADD = 1, OP_REMOVE = 2 };
static const txn_value_fn txn_value_ops[] = {
    [OP_SET] = dc_txn_set_value,
    [OP_ADD] = dc_txn_add_value,
    [OP_REMOVE] = dc_txn_remove_value,
};

static void n_txn_field(JNIEnv *env, jclass cls, jlong r, jlong t, jint op, jbyteArray jtype,
                        jbyteArray jid, jbyteArray jfield, jint kind, jlong num, jdouble real,
                        jbyteArray jstr) {
    call c;
    const char *type, *id, *field;
    dc_value v;
    int rc = 0;
    (void)cls;

    if (begin_txn(&c, env, r, t) && arg(&c, &type, jtype) && arg(&c, &id, jid) &&
        arg(&c, &field, jfield) && value_arg(&c, &v, kind, num, real, jstr)) {
        int known = op >= 0 && op < (jint)(sizeof txn_value_ops / sizeof txn_value_ops[0]);
        rc = known ? txn_value_ops[op](T(t), type, id, field, &v) : DC_EMISUSE;
    }
    finish(&c, rc);
}

static void n_txn_event(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jtype,
                        jbyteArray jid) {
    (void)cls;
    txn_record(env, r, t, jtype, jid, dc_txn_event);
}

static void n_txn_event_field(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jkey, jint kind,
                              jlong num, jdouble real, jbyteArray jstr) {
    call c;
    const char *key;
    dc_value v;
    int rc = 0;
    (void)cls;

    if (begin_txn(&c, env, r, t) && arg(&c, &key, jkey) &&
        value_arg(&c, &v, kind, num, real, jstr)) {
        rc = dc_txn_event_field_value(T(t), key, &v);
    }
    finish(&c, rc);
}

static void n_txn_delete(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jtype,
                         jbyteArray jid) {
    (void)cls;
    txn_record(env, r, t, jtype, jid, dc_txn_delete);
}

static jlong n_txn_op_count(JNIEnv *env, jclass cls, jlong t) {
    (void)cls;
    if (!live(env, t)) {
        return 0;
    }
    return (jlong)dc_txn_op_count(T(t));
}

static jbyteArray n_txn_commit(JNIEnv *env, jclass cls, jlong r, jlong t) {
    dc_buf id = DC_BUF_INIT;
    (void)cls;

    if (!live(env, r) || !live(env, t)) {
        return NULL;
    }
    /* Frees the transaction on every path; the Java side has already
     * forgotten the handle. */
    return buf_result(env, r, dc_txn_commit(T(t), &id), &id);
}

static void n_txn_rollback(JNIEnv *env, jclass cls, jlong t) {
    (void)env;
    (void)cls;
    dc_txn_rollback(T(t));
}

/* ---- records ---- */

static jbyteArray n_record_get(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace,
                               jbyteArray jtype, jbyteArray jid) {
    call c;
    dc_buf out = DC_BUF_INIT;
    const char *space, *type, *id;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &type, jtype) &&
        arg(&c, &id, jid)) {
        rc = dc_record_get(&out, R(r), space, type, id);
    }
    return finish_buf(&c, rc, &out);
}

static jbyteArray n_record_list(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace,
                                jbyteArray jtype) {
    call c;
    dc_buf out = DC_BUF_INIT;
    const char *space, *type;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &type, jtype)) {
        rc = dc_record_list(&out, R(r), space, type);
    }
    return finish_buf(&c, rc, &out);
}

static jbyteArray n_record_find(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace,
                                jbyteArray jtype, jbyteArray jfield, jint kind, jlong num,
                                jbyteArray jstr) {
    call c;
    dc_buf out = DC_BUF_INIT;
    const char *space, *type, *field, *str;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &type, jtype) &&
        arg(&c, &field, jfield) && arg(&c, &str, jstr)) {
        rc = dc_record_find(&out, R(r), space, type, field, kind, num, str);
    }
    return finish_buf(&c, rc, &out);
}

/*
 * Typed reads.  A dc_record or dc_records is a native handle the Java side
 * owns for as long as it takes to copy the record into Java objects
 * (Record.java): recordDecode hands the whole record over in one call, as
 * arrays, so that no Java object is built field by field from C.
 */
#define REC(x) ((dc_record *)(intptr_t)(x))
#define RECS(x) ((dc_records *)(intptr_t)(x))

static jlong n_record_read(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jtype,
                           jbyteArray jid) {
    call c;
    const char *space, *type, *id;
    dc_record *rec = NULL;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &type, jtype) &&
        arg(&c, &id, jid)) {
        rc = dc_record_read(&rec, R(r), space, type, id);
        if (rc == DC_ENOTFOUND) {
            rc = 0; /* absent: 0, which Java returns as null */
        }
    }
    finish(&c, rc);
    return H(rec);
}

/* The arguments every query call shares (Native.recordQuery, liveOpen):
 * the space, the type, the filter and its value, the order and the page,
 * the record id and whether an unaccepted space reads as empty (options
 * version 2), into q->o (which points into q: keep q where it is).  0 with
 * an exception pending when one is bad. */
typedef struct qargs {
    const char *space, *type, *field, *order, *id;
    dc_value v;
    dc_query_options o;
} qargs;

static int query_args(call *c, qargs *q, jbyteArray jspace, jbyteArray jtype, jbyteArray jfield,
                      jint kind, jlong num, jdouble real, jbyteArray jstr, jbyteArray jorder,
                      jboolean desc, jlong offset, jlong limit, jboolean events, jbyteArray jid,
                      jboolean unaccepted_empty) {
    if (!(arg(c, &q->space, jspace) && arg(c, &q->type, jtype) && arg(c, &q->field, jfield) &&
          arg(c, &q->order, jorder) && arg(c, &q->id, jid) &&
          value_arg(c, &q->v, kind, num, real, jstr)))
        return 0;
    if (offset < 0 || limit < 0) {
        throw_code(c->env, DC_EINVAL, "query: the page's offset and limit must not be negative");
        c->ok = 0;
        return 0;
    }
    dc_query_options o = {DC_QUERY_OPTIONS_VERSION,
                          q->field,
                          q->field ? &q->v : NULL,
                          q->order,
                          desc,
                          (size_t)offset,
                          (size_t)limit,
                          events,
                          q->id,
                          unaccepted_empty};
    q->o = o;
    return 1;
}

static jlong n_record_query(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jtype,
                            jbyteArray jfield, jint kind, jlong num, jdouble real, jbyteArray jstr,
                            jbyteArray jorder, jboolean desc, jlong offset, jlong limit,
                            jboolean events, jbyteArray jid, jboolean unaccepted_empty) {
    call c;
    qargs q;
    dc_records *rs = NULL;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) &&
        query_args(&c, &q, jspace, jtype, jfield, kind, num, real, jstr, jorder, desc, offset,
                   limit, events, jid, unaccepted_empty)) {
        rc = dc_record_query(&rs, R(r), q.space, q.type, &q.o);
    }
    finish(&c, rc);
    return H(rs);
}

/* A record's row in the query's list (dc_record_position): -1 when the
 * record is absent, deleted or left out by the filter, as locate's null. */
static jlong n_record_position(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace,
                               jbyteArray jtype, jbyteArray jfield, jint kind, jlong num,
                               jdouble real, jbyteArray jstr, jbyteArray jorder, jboolean desc,
                               jbyteArray jqid, jboolean unaccepted_empty, jbyteArray jid) {
    call c;
    qargs q;
    const char *id;
    uint64_t pos = 0;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) &&
        query_args(&c, &q, jspace, jtype, jfield, kind, num, real, jstr, jorder, desc, 0, 0,
                   JNI_FALSE, jqid, unaccepted_empty) &&
        arg(&c, &id, jid)) {
        rc = dc_record_position(R(r), q.space, q.type, &q.o, id, &pos);
        if (rc == DC_ENOTFOUND) {
            finish(&c, 0);
            return -1;
        }
    }
    if (!finish(&c, rc))
        return -1;
    return pos > (uint64_t)INT64_MAX ? INT64_MAX : (jlong)pos;
}

static void n_index_declare(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jtype,
                            jbyteArray jfield) {
    call c;
    const char *space, *type, *field;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &type, jtype) &&
        arg(&c, &field, jfield)) {
        rc = dc_index_declare(R(r), space, type, field);
    }
    finish(&c, rc);
}

static jboolean n_replica_refresh(JNIEnv *env, jclass cls, jlong r) {
    call c;
    int changed = 0;
    (void)cls;
    if (begin(&c, env, r)) {
        finish(&c, dc_replica_refresh(R(r), &changed));
    }
    return changed ? JNI_TRUE : JNI_FALSE;
}

static jlong n_records_total(JNIEnv *env, jclass cls, jlong rs) {
    (void)env;
    (void)cls;
    return (jlong)dc_records_total(RECS(rs));
}

static jint n_records_count(JNIEnv *env, jclass cls, jlong rs) {
    (void)env;
    (void)cls;
    return (jint)dc_records_count(RECS(rs));
}

static jlong n_records_at(JNIEnv *env, jclass cls, jlong rs, jint i) {
    (void)env;
    (void)cls;
    return i < 0 ? 0 : H(dc_records_at(RECS(rs), (size_t)i));
}

static void n_records_free(JNIEnv *env, jclass cls, jlong rs) {
    (void)env;
    (void)cls;
    dc_records_free(RECS(rs));
}

static void n_record_free(JNIEnv *env, jclass cls, jlong rec) {
    (void)env;
    (void)cls;
    dc_record_free(REC(rec));
}

static jclass object_class, bytes_class; /* java/lang/Object, [B */

/* n values as Object[]{int[] kinds, long[] nums, double[] reals, byte[][]
 * contents}: a string's or bytes' content as its bytes, null otherwise. */
static jobjectArray java_values(JNIEnv *env, const dc_value *v, size_t n) {
    jobjectArray out = (*env)->NewObjectArray(env, 4, object_class, NULL);
    jintArray kinds = (*env)->NewIntArray(env, (jsize)n);
    jlongArray nums = (*env)->NewLongArray(env, (jsize)n);
    jdoubleArray reals = (*env)->NewDoubleArray(env, (jsize)n);
    jobjectArray strs = (*env)->NewObjectArray(env, (jsize)n, bytes_class, NULL);
    if (!out || !kinds || !nums || !reals || !strs) {
        return NULL; /* OutOfMemoryError pending */
    }
    for (size_t i = 0; i < n; i++) {
        jint k = v[i].kind;
        jlong x = v[i].num;
        jdouble d = v[i].real;
        (*env)->SetIntArrayRegion(env, kinds, (jsize)i, 1, &k);
        (*env)->SetLongArrayRegion(env, nums, (jsize)i, 1, &x);
        (*env)->SetDoubleArrayRegion(env, reals, (jsize)i, 1, &d);
        if (v[i].kind == DC_STR || v[i].kind == DC_BYTES) {
            jbyteArray b = bytes(env, v[i].ptr, v[i].len);
            if (!b) {
                return NULL;
            }
            (*env)->SetObjectArrayElement(env, strs, (jsize)i, b);
            (*env)->DeleteLocalRef(env, b);
        }
    }
    (*env)->SetObjectArrayElement(env, out, 0, kinds);
    (*env)->SetObjectArrayElement(env, out, 1, nums);
    (*env)->SetObjectArrayElement(env, out, 2, reals);
    (*env)->SetObjectArrayElement(env, out, 3, strs);
    (*env)->DeleteLocalRef(env, kinds);
    (*env)->DeleteLocalRef(env, nums);
    (*env)->DeleteLocalRef(env, reals);
    (*env)->DeleteLocalRef(env, strs);
    return out;
}

static jbyteArray cstr_bytes(JNIEnv *env, const char *s) {
    return bytes(env, s, strlen(s));
}

/* Sets out[i] to obj (a local reference, dropped); 0 when obj is NULL (an
 * exception is pending). */
static int put(JNIEnv *env, jobjectArray out, jsize i, jobject obj) {
    if (obj == NULL) {
        return 0;
    }
    (*env)->SetObjectArrayElement(env, out, i, obj);
    (*env)->DeleteLocalRef(env, obj);
    return 1;
}

/*
 * Counts, where a record lives, the spaces read, and a read snapshot
 * (dc_record_count, dc_record_locate, dc_space_each,
 * dc_replica_read_begin/_end).
 */
static jlong n_record_count(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jtype) {
    call c;
    const char *space, *type;
    uint64_t n = 0;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &type, jtype)) {
        rc = dc_record_count(R(r), space, type, &n);
    }
    finish(&c, rc);
    return n > (uint64_t)INT64_MAX ? INT64_MAX : (jlong)n;
}

/* The space's hex id, or null when no space read holds the record. */
static jbyteArray n_record_locate(JNIEnv *env, jclass cls, jlong r, jbyteArray jtype,
                                  jbyteArray jid) {
    call c;
    const char *type, *id;
    char space[33] = "";
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &type, jtype) && arg(&c, &id, jid)) {
        rc = dc_record_locate(R(r), type, id, space);
        if (rc == DC_ENOTFOUND) {
            finish(&c, 0);
            return NULL; /* held by no space read: null */
        }
    }
    return finish(&c, rc) ? cstr_bytes(env, space) : NULL;
}

/* The hex ids dc_space_each gives, gathered in C (the walk holds the
 * replica; no Java runs inside it). */
typedef struct ids {
    char (*id)[33];
    size_t n, cap;
} ids;

static int gather_id(void *user, const char *space) {
    ids *s = user;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char(*p)[33] = realloc(s->id, cap * sizeof *p);
        if (p == NULL) {
            return DC_ENOMEM;
        }
        s->id = p;
        s->cap = cap;
    }
    size_t len = strlen(space);
    len = len < 32 ? len : 32;
    memcpy(s->id[s->n], space, len);
    s->id[s->n++][len] = '\0';
    return 0;
}

static jobjectArray n_space_ids(JNIEnv *env, jclass cls, jlong r) {
    call c;
    ids s = {NULL, 0, 0};
    jobjectArray out = NULL;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r)) {
        rc = dc_space_each(R(r), gather_id, &s);
        if (rc == DC_ENOMEM && dc_replica_errcode(R(r)) != DC_ENOMEM) {
            throw_code(env, DC_ENOMEM, "jni: out of memory listing the spaces");
            c.ok = 0;
        }
    }
    if (finish(&c, rc) && s.n <= (size_t)INT32_MAX) {
        out = (*env)->NewObjectArray(env, (jsize)s.n, bytes_class, NULL);
        for (size_t i = 0; out != NULL && i < s.n; i++) {
            if (!put(env, out, (jsize)i, cstr_bytes(env, s.id[i]))) {
                out = NULL;
            }
        }
    }
    free(s.id);
    return out;
}

static void n_read_begin(JNIEnv *env, jclass cls, jlong r) {
    call c;
    (void)cls;
    if (begin(&c, env, r)) {
        finish(&c, dc_replica_read_begin(R(r)));
    }
}

static void n_read_end(JNIEnv *env, jclass cls, jlong r) {
    call c;
    (void)cls;
    if (begin(&c, env, r)) {
        finish(&c, dc_replica_read_end(R(r)));
    }
}

/*
 * The whole record: Object[]{type, id, field names (byte[][]), which are
 * sets (boolean[]), field values (Object[] of java_values, one per field),
 * event times (long[]), event authors in hex (byte[][]), event keys
 * (Object[] of byte[][]), event values (Object[] of java_values)}.
 */
static jobjectArray n_record_decode(JNIEnv *env, jclass cls, jlong h) {
    const dc_record *rec = REC(h);
    (void)cls;
    if (!live(env, h)) {
        return NULL;
    }
    size_t nf = dc_record_field_count(rec), ne = dc_record_event_count(rec);
    jobjectArray out = (*env)->NewObjectArray(env, 9, object_class, NULL);
    jobjectArray names = (*env)->NewObjectArray(env, (jsize)nf, bytes_class, NULL);
    jbooleanArray sets = (*env)->NewBooleanArray(env, (jsize)nf);
    jobjectArray fvals = (*env)->NewObjectArray(env, (jsize)nf, object_class, NULL);
    jlongArray times = (*env)->NewLongArray(env, (jsize)ne);
    jobjectArray authors = (*env)->NewObjectArray(env, (jsize)ne, bytes_class, NULL);
    jobjectArray ekeys = (*env)->NewObjectArray(env, (jsize)ne, object_class, NULL);
    jobjectArray evals = (*env)->NewObjectArray(env, (jsize)ne, object_class, NULL);
    if (!out || !names || !sets || !fvals || !times || !authors || !ekeys || !evals ||
        !put(env, out, 0, cstr_bytes(env, dc_record_type(rec))) ||
        !put(env, out, 1, cstr_bytes(env, dc_record_id(rec)))) {
        return NULL;
    }
    /* The cheap accessors (dc_record_value, dc_record_set_values,
     * dc_record_event): the record's own arrays, no copy and no lookup
     * error recorded. */
    int ok = 1;
    for (size_t i = 0; i < nf && ok; i++) {
        const char *name;
        int set;
        size_t n = 0;
        const dc_value *vals;
        dc_record_field_at(rec, i, &name, &set);
        if (set) {
            vals = dc_record_set_values(rec, name, &n);
        } else {
            vals = dc_record_value(rec, name);
            n = vals != NULL;
        }
        jboolean js = (jboolean)(set != 0);
        (*env)->SetBooleanArrayRegion(env, sets, (jsize)i, 1, &js);
        ok = put(env, names, (jsize)i, cstr_bytes(env, name)) &&
             put(env, fvals, (jsize)i, java_values(env, vals, n));
    }
    for (size_t i = 0; i < ne && ok; i++) {
        const dc_event *e = dc_record_event(rec, i);
        dc_event_info info; /* the author in hex, as Java shows it */
        dc_record_event_at(rec, i, &info);
        jlong t = e->time_ms;
        (*env)->SetLongArrayRegion(env, times, (jsize)i, 1, &t);
        jobjectArray keys = (*env)->NewObjectArray(env, (jsize)e->nfields, bytes_class, NULL);
        if (!keys) {
            ok = 0;
            break;
        }
        for (size_t k = 0; k < e->nfields && ok; k++) {
            ok = put(env, keys, (jsize)k, cstr_bytes(env, e->keys[k]));
        }
        ok = ok && put(env, authors, (jsize)i, cstr_bytes(env, info.author_hex)) &&
             put(env, ekeys, (jsize)i, keys) &&
             put(env, evals, (jsize)i, java_values(env, e->values, e->nfields));
    }
    if (!ok || !put(env, out, 2, names) || !put(env, out, 3, sets) || !put(env, out, 4, fvals) ||
        !put(env, out, 5, times) || !put(env, out, 6, authors) || !put(env, out, 7, ekeys) ||
        !put(env, out, 8, evals)) {
        return NULL;
    }
    return out;
}

/* The typed sync status: Object[]{long[]{clock offset, last relay sync,
 * unacked, held, opaque, rejected, unauthorised, future, has last, ok,
 * attempt ms, ok ms, failures, attempts}, reason, error, peer}. */
static jobjectArray n_sync_status(JNIEnv *env, jclass cls, jlong r) {
    call c;
    dc_sync_status st;
    memset(&st, 0, sizeof st);
    st.version = DC_SYNC_STATUS_VERSION;
    (void)cls;
    if (!begin(&c, env, r) || !finish(&c, dc_replica_sync_status(R(r), &st))) {
        return NULL;
    }
    jlong v[14] = {st.clock_offset_ms,
                   st.last_relay_sync_ms,
                   (jlong)st.unacked,
                   (jlong)st.held,
                   (jlong)st.opaque,
                   (jlong)st.rejected,
                   (jlong)st.unauthorised,
                   (jlong)st.future,
                   st.has_last,
                   st.ok,
                   st.attempt_ms,
                   st.ok_ms,
                   st.failures,
                   st.attempts};
    jobjectArray out = (*env)->NewObjectArray(env, 4, object_class, NULL);
    jlongArray nums = (*env)->NewLongArray(env, 14);
    if (!out || !nums) {
        return NULL;
    }
    (*env)->SetLongArrayRegion(env, nums, 0, 14, v);
    if (!put(env, out, 0, nums) || !put(env, out, 1, cstr_bytes(env, st.reason)) ||
        !put(env, out, 2, cstr_bytes(env, st.error)) ||
        !put(env, out, 3, cstr_bytes(env, st.peer))) {
        return NULL;
    }
    return out;
}

/*
 * The domain: grievances (include/drivercore/grievance.h) and the holiday
 * calendar their deadlines count in.  A filing's strings come as an array
 * (driver, channel, category, text, region; null where absent).
 */
#define CAL(x) ((dc_calendar *)(intptr_t)(x))

static jlong n_calendar_from_space(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace) {
    call c;
    const char *space;
    dc_calendar *cal = NULL;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace)) {
        rc = dc_calendar_from_space(&cal, R(r), space);
    }
    finish(&c, rc);
    return H(cal);
}

static jlong n_calendar_parse(JNIEnv *env, jclass cls, jbyteArray tsv) {
    dc_calendar *cal = NULL;
    (void)cls;
    jsize n = tsv ? (*env)->GetArrayLength(env, tsv) : 0;
    jbyte *p = n ? (*env)->GetByteArrayElements(env, tsv, NULL) : NULL;
    int rc = dc_calendar_parse(&cal, (const uint8_t *)p, (size_t)n);
    if (p) {
        (*env)->ReleaseByteArrayElements(env, tsv, p, JNI_ABORT);
    }
    if (rc) {
        throw_code(env, rc, dc_error_last());
        return 0;
    }
    return H(cal);
}

static void n_calendar_free(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    dc_calendar_free(CAL(h));
}

/* A case typed, as Java's CaseInfo reads it: Object[]{long[]{emergency,
 * has amount, amount, received, resolved, due x4, done x4, estimated x4,
 * revisits, satisfied revisits, reopened, open}, byte[][]{id, space,
 * driver, channel, category, region, at, level, routed, status}}. */
static jobjectArray case_info_array(JNIEnv *env, const dc_case_info *ci) {
    jlong v[21] = {ci->emergency, ci->has_amount, ci->amount, ci->received_ms, ci->resolved_ms};
    for (int k = 0; k < DC_CASE_DEADLINES; k++) {
        v[5 + k] = ci->due_ms[k];
        v[9 + k] = ci->done_ms[k];
        v[13 + k] = ci->estimated[k];
    }
    v[17] = ci->revisits;
    v[18] = ci->satisfied_revisits;
    v[19] = ci->reopened;
    v[20] = ci->open;
    const char *t[10] = {ci->id,     ci->space, ci->driver, ci->channel, ci->category,
                         ci->region, ci->at,    ci->level,  ci->routed,  ci->status};
    jobjectArray out = (*env)->NewObjectArray(env, 2, object_class, NULL);
    jlongArray nums = (*env)->NewLongArray(env, 21);
    jobjectArray texts = (*env)->NewObjectArray(env, 10, bytes_class, NULL);
    if (!out || !nums || !texts) {
        return NULL;
    }
    (*env)->SetLongArrayRegion(env, nums, 0, 21, v);
    for (int i = 0; i < 10; i++) {
        if (!put(env, texts, i, cstr_bytes(env, t[i]))) {
            return NULL;
        }
    }
    if (!put(env, out, 0, nums) || !put(env, out, 1, texts)) {
        return NULL;
    }
    return out;
}

/* Files a case and hands it back typed (dc_case_file_info). */
static jobjectArray n_case_file(JNIEnv *env, jclass cls, jlong r, jlong cal, jbyteArray jspace,
                                jobjectArray texts, jboolean emergency, jlong amount,
                                jboolean route) {
    call c;
    const char *space, *t[5] = {NULL, NULL, NULL, NULL, NULL};
    dc_case_info ci;
    memset(&ci, 0, sizeof ci);
    ci.version = DC_CASE_INFO_VERSION;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace)) {
        for (int i = 0; i < 5 && c.ok; i++) {
            jbyteArray b = (jbyteArray)(*env)->GetObjectArrayElement(env, texts, i);
            arg(&c, &t[i], b);
        }
    }
    if (c.ok) {
        dc_case_options o = DC_CASE_OPTIONS_INIT;
        o.driver = t[0];
        o.channel = t[1];
        o.category = t[2];
        o.text = t[3];
        o.region = t[4];
        o.emergency = emergency;
        o.amount = amount;
        o.route = route;
        rc = dc_case_file_info(&ci, R(r), space, &o, CAL(cal));
    }
    return finish(&c, rc) ? case_info_array(env, &ci) : NULL;
}

static void n_case_step(JNIEnv *env, jclass cls, jlong r, jlong cal, jbyteArray jid,
                        jbyteArray jaction, jbyteArray jto, jbyteArray jnote, jint satisfied) {
    call c;
    const char *id, *action, *to, *note;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &id, jid) && arg(&c, &action, jaction) && arg(&c, &to, jto) &&
        arg(&c, &note, jnote)) {
        rc = dc_case_step(NULL, R(r), id, action, to, note, satisfied, CAL(cal));
    }
    finish(&c, rc);
}

/* A case typed (case_info_array): null when no space held has it. */
static jobjectArray n_case_get(JNIEnv *env, jclass cls, jlong r, jlong cal, jbyteArray jspace,
                               jbyteArray jid) {
    call c;
    const char *space, *id;
    dc_case_info ci;
    memset(&ci, 0, sizeof ci);
    ci.version = DC_CASE_INFO_VERSION;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &id, jid)) {
        rc = dc_case_get(R(r), space, id, CAL(cal), &ci);
        if (rc == DC_ENOTFOUND) {
            finish(&c, 0);
            return NULL;
        }
    }
    if (!finish(&c, rc)) {
        return NULL;
    }
    return case_info_array(env, &ci);
}

/*
 * Live queries.  The C callback runs inside the native call that made the
 * change (a commit, an import, a sync step), on its thread, so the JNIEnv
 * comes from the VM; it hands the result handle to Native.liveDeliver,
 * which builds the Java page while the handle is valid and calls the
 * listener.  The listener is held by a global reference until liveClose.
 */
typedef struct jlive {
    dc_live *q;
    jobject listener;
} jlive;

static void live_deliver(void *user, const dc_records *rs) {
    jlive *l = user;
    JNIEnv *env;
    if ((*the_vm)->GetEnv(the_vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK ||
        (*env)->ExceptionCheck(env)) {
        return; /* not on a Java thread, or an exception is already on its way */
    }
    /* liveDeliver catches what the listener throws (Native.java). */
    (*env)->CallStaticVoidMethod(env, native_class, native_live, l->listener, H(rs));
    if ((*env)->ExceptionCheck(env)) {
        /* (An Error liveDeliver could not handle, an OutOfMemoryError: it
         * surfaces from the call that made the change, whose data stays
         * committed.) */
        return;
    }
}

static jlong n_live_open(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jtype,
                         jbyteArray jfield, jint kind, jlong num, jdouble real, jbyteArray jstr,
                         jbyteArray jorder, jboolean desc, jlong offset, jlong limit,
                         jboolean events, jbyteArray jid, jboolean unaccepted_empty,
                         jobject listener) {
    call c;
    qargs q;
    int rc = 0;
    jlive *l = NULL;
    (void)cls;

    if (begin(&c, env, r) &&
        query_args(&c, &q, jspace, jtype, jfield, kind, num, real, jstr, jorder, desc, offset,
                   limit, events, jid, unaccepted_empty)) {
        l = calloc(1, sizeof *l);
        if (listener == NULL) {
            throw_code(env, DC_EINVAL, "live query: the listener is null");
            c.ok = 0;
        } else if (l == NULL || (l->listener = (*env)->NewGlobalRef(env, listener)) == NULL) {
            throw_code(env, DC_ENOMEM, "jni: out of memory opening a live query");
            c.ok = 0;
        } else {
            rc = dc_live_open(&l->q, R(r), q.space, q.type, &q.o, live_deliver, l);
        }
    }
    if (!finish(&c, rc) || l->q == NULL) {
        if (l != NULL && l->listener != NULL) {
            (*env)->DeleteGlobalRef(env, l->listener);
        }
        free(l);
        return 0;
    }
    return H(l);
}

static void n_live_close(JNIEnv *env, jclass cls, jlong h) {
    jlive *l = (jlive *)(intptr_t)h;
    (void)cls;
    if (l == NULL) {
        return;
    }
    dc_live_close(l->q);
    (*env)->DeleteGlobalRef(env, l->listener);
    free(l);
}

/*
 * The sync client over the app's HttpTransport.  The transport's calls
 * come on the thread of the JNI call that runs the sync (request, release)
 * or that cancels (cancel), so the JNIEnv comes from the VM each time.
 */
typedef struct jtransport {
    jobject transport; /* global reference */
} jtransport;

static JNIEnv *vm_env(void) {
    JNIEnv *env = NULL;
    if ((*the_vm)->GetEnv(the_vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK) {
        return NULL;
    }
    return env;
}

/* One request through HttpTransport.execute (Native.httpExecute). */
static int http_request_in(JNIEnv *env, jtransport *t, const dc_http_request *q,
                           dc_http_response *r) {
    size_t nh = dc_http_request_header_count(q), nb = 0;
    const uint8_t *body = dc_http_request_body(q, &nb);
    jobjectArray names = (*env)->NewObjectArray(env, (jsize)nh, bytes_class, NULL);
    jobjectArray values = (*env)->NewObjectArray(env, (jsize)nh, bytes_class, NULL);
    jbyteArray jm = cstr_bytes(env, dc_http_request_method(q));
    jbyteArray ju = cstr_bytes(env, dc_http_request_url(q));
    jbyteArray jb = bytes(env, body, nb);
    int ok = names && values && jm && ju && jb;
    for (size_t i = 0; i < nh && ok; i++) {
        ok = put(env, names, (jsize)i, cstr_bytes(env, dc_http_request_header_name(q, i))) &&
             put(env, values, (jsize)i, cstr_bytes(env, dc_http_request_header_value(q, i)));
    }
    jobjectArray res = NULL;
    if (ok) {
        res = (jobjectArray)(*env)->CallStaticObjectMethod(
            env, native_class, native_http, t->transport, jm, ju, names, values, jb,
            (jlong)dc_http_request_connect_timeout_ms(q),
            (jlong)dc_http_request_stall_timeout_ms(q), (jlong)dc_http_request_timeout_ms(q));
    }
    if ((*env)->ExceptionCheck(env) || res == NULL) {
        (*env)->ExceptionClear(env);
        return dc_http_response_fail(r, DC_HTTP_FAIL_BROKEN, "jni: the transport failed"), -1;
    }
    jintArray code = (jintArray)(*env)->GetObjectArrayElement(env, res, 0);
    jint status = 0;
    (*env)->GetIntArrayRegion(env, code, 0, 1, &status);
    int rc = 0;
    if (status < 0) {
        jbyteArray d = (jbyteArray)(*env)->GetObjectArrayElement(env, res, 1);
        jsize n = d ? (*env)->GetArrayLength(env, d) : 0;
        char detail[256] = "";
        if (n > (jsize)sizeof detail - 1) {
            n = (jsize)sizeof detail - 1;
        }
        if (d) {
            (*env)->GetByteArrayRegion(env, d, 0, n, (jbyte *)detail);
        }
        detail[n] = '\0';
        dc_http_response_fail(r, (int)-status, detail);
        rc = -1;
    } else {
        dc_http_response_set_status(r, status);
        jobjectArray rn = (jobjectArray)(*env)->GetObjectArrayElement(env, res, 1);
        jobjectArray rv = (jobjectArray)(*env)->GetObjectArrayElement(env, res, 2);
        jsize count = rn ? (*env)->GetArrayLength(env, rn) : 0;
        for (jsize i = 0; i < count; i++) {
            jbyteArray kn = (jbyteArray)(*env)->GetObjectArrayElement(env, rn, i);
            jbyteArray kv = (jbyteArray)(*env)->GetObjectArrayElement(env, rv, i);
            jsize ln = (*env)->GetArrayLength(env, kn), lv = (*env)->GetArrayLength(env, kv);
            char *sn = malloc((size_t)ln + 1), *sv = malloc((size_t)lv + 1);
            if (sn && sv) {
                (*env)->GetByteArrayRegion(env, kn, 0, ln, (jbyte *)sn);
                (*env)->GetByteArrayRegion(env, kv, 0, lv, (jbyte *)sv);
                sn[ln] = '\0';
                sv[lv] = '\0';
                dc_http_response_add_header(r, sn, sv);
            }
            free(sn);
            free(sv);
            (*env)->DeleteLocalRef(env, kn);
            (*env)->DeleteLocalRef(env, kv);
        }
        jbyteArray rb = (jbyteArray)(*env)->GetObjectArrayElement(env, res, 3);
        jsize lb = rb ? (*env)->GetArrayLength(env, rb) : 0;
        jbyte *p = lb ? (*env)->GetByteArrayElements(env, rb, NULL) : NULL;
        if (p) {
            rc = dc_http_response_append(r, (const uint8_t *)p, (size_t)lb) ? -1 : 0;
            (*env)->ReleaseByteArrayElements(env, rb, p, JNI_ABORT);
            if (rc) {
                dc_http_response_fail(r, DC_HTTP_FAIL_BROKEN, "the answer was too large");
            }
        }
    }
    return rc;
}

static int http_request(void *user, const dc_http_request *q, dc_http_response *r) {
    JNIEnv *env = vm_env();
    /* A sync makes many requests inside one JNI call: each request's local
     * references go with its own frame. */
    if (env == NULL || (*env)->ExceptionCheck(env) || (*env)->PushLocalFrame(env, 32) != 0) {
        if (env != NULL) {
            (*env)->ExceptionClear(env);
        }
        dc_http_response_fail(r, DC_HTTP_FAIL_BROKEN, "jni: no Java frame for the request");
        return -1;
    }
    int rc = http_request_in(env, user, q, r);
    (*env)->PopLocalFrame(env, NULL);
    return rc;
}

static void http_cancel(void *user) {
    jtransport *t = user;
    JNIEnv *env = vm_env();
    if (env != NULL && !(*env)->ExceptionCheck(env)) {
        (*env)->CallStaticVoidMethod(env, native_class, native_cancel, t->transport);
        (*env)->ExceptionClear(env);
    }
}

static void http_release(void *user) {
    jtransport *t = user;
    JNIEnv *env = vm_env();
    if (env != NULL) {
        (*env)->DeleteGlobalRef(env, t->transport);
    }
    free(t);
}

#define CL(x) ((dc_client *)(intptr_t)(x))

static jlong n_client_new(JNIEnv *env, jclass cls, jlong r, jbyteArray jurl, jobject transport,
                          jint attempts, jlong backoff_ms) {
    call c;
    const char *url;
    dc_client *client = NULL;
    int rc = 0;
    (void)cls;

    if (begin(&c, env, r) && arg(&c, &url, jurl)) {
        jtransport *t = calloc(1, sizeof *t);
        if (transport == NULL) {
            free(t);
            throw_code(env, DC_EMISUSE, "sync client: the transport is null");
            c.ok = 0;
        } else if (t == NULL || (t->transport = (*env)->NewGlobalRef(env, transport)) == NULL) {
            free(t);
            throw_code(env, DC_ENOMEM, "jni: out of memory opening a sync client");
            c.ok = 0;
        } else {
            dc_transport tr = {DC_TRANSPORT_VERSION, http_request, http_cancel, http_release, t};
            dc_client_options o = DC_CLIENT_OPTIONS_INIT;
            o.max_attempts = attempts > 0 ? (unsigned)attempts : 0;
            o.backoff_base_ms = backoff_ms > 0 ? backoff_ms : 0;
            rc = dc_client_new(&client, R(r), url, &tr, &o); /* releases t on failure */
        }
    }
    finish(&c, rc);
    return H(client);
}

static void n_client_sync(JNIEnv *env, jclass cls, jlong r, jlong h) {
    call c;
    (void)cls;
    if (begin_txn(&c, env, r, h)) {
        finish(&c, dc_client_sync(CL(h)));
    }
}

static jboolean n_client_wait(JNIEnv *env, jclass cls, jlong r, jlong h, jint timeout) {
    call c;
    int changed = 0;
    (void)cls;
    if (begin_txn(&c, env, r, h)) {
        finish(&c, dc_client_wait(&changed, CL(h), timeout));
    }
    return changed ? JNI_TRUE : JNI_FALSE;
}

/* The figures of the last sync (dc_client_figures_get), typed: long[]{bytes
 * sent, bytes received, round trips, changes sent, changes received,
 * spaces, clock offset ms, set aside, snapshot needed}. */
static jlongArray n_client_figures(JNIEnv *env, jclass cls, jlong h) {
    dc_client_figures f = {.version = DC_CLIENT_FIGURES_VERSION};
    (void)cls;
    if (!live(env, h)) {
        return NULL;
    }
    int rc = dc_client_figures_get(CL(h), &f);
    if (rc) {
        throw_code(env, rc, dc_error_last());
        return NULL;
    }
    jlong v[9] = {(jlong)f.bytes_sent,      (jlong)f.bytes_received,   (jlong)f.round_trips,
                  (jlong)f.changes_sent,    (jlong)f.changes_received, (jlong)f.spaces,
                  (jlong)f.clock_offset_ms, (jlong)f.set_aside,        (jlong)f.snapshot_needed};
    jlongArray out = (*env)->NewLongArray(env, 9);
    if (out) {
        (*env)->SetLongArrayRegion(env, out, 0, 9, v);
    }
    return out;
}

static void n_client_cancel(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    dc_client_cancel(CL(h));
}

static void n_client_free(JNIEnv *env, jclass cls, jlong h) {
    (void)env;
    (void)cls;
    dc_client_free(CL(h));
}

/* ---- bundles ---- */

static jbyteArray n_bundle_export(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace) {
    (void)cls;
    return replica_str_buf(env, r, jspace, dc_bundle_export);
}

static jbyteArray n_bundle_import(JNIEnv *env, jclass cls, jlong r, jbyteArray jdata) {
    dc_buf report = DC_BUF_INIT;
    jbyte *data;
    jsize n;
    int rc;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    if (jdata == NULL) {
        throw_code(env, DC_EMISUSE, "jni: bundle is null");
        return NULL;
    }
    /* Not GetPrimitiveArrayCritical: an import does disk I/O for as long as
     * the bundle takes, and a critical section would hold off the GC. */
    n = (*env)->GetArrayLength(env, jdata);
    data = (*env)->GetByteArrayElements(env, jdata, NULL);
    if (data == NULL) {
        return NULL; /* OutOfMemoryError is pending */
    }
    rc = dc_bundle_import(R(r), (const uint8_t *)data, (size_t)n, &report);
    (*env)->ReleaseByteArrayElements(env, jdata, data, JNI_ABORT);
    return buf_result(env, r, rc, &report);
}

/* ---- sync sessions ---- */

static jlong n_sync_new(JNIEnv *env, jclass cls, jlong r, jint role) {
    dc_sync *s = NULL;
    int rc;
    (void)cls;

    if (!live(env, r)) {
        return 0;
    }
    rc = dc_sync_new(&s, R(r), role);
    if (rc != 0) {
        throw_rc(env, R(r), rc);
        return 0;
    }
    return H(s);
}

/*
 * One step of session s on replica r.  jin is the peer's last message, or
 * null for the initiator's first step.  Returns the message to send (empty
 * when there is none) and stores in jdone[0] whether this side is finished:
 * the C call has two results, and a one-element array is the cheapest way
 * for JNI to hand back the second without a result class.
 */
static jbyteArray n_sync_step(JNIEnv *env, jclass cls, jlong r, jlong s, jbyteArray jin,
                              jbooleanArray jdone) {
    dc_buf out = DC_BUF_INIT;
    jbyte *in = NULL;
    jsize n = 0;
    jboolean flag;
    jbyteArray res;
    int done = 0;
    int rc;
    (void)cls;

    if (!live(env, r) || !live(env, s)) {
        return NULL;
    }
    if (jdone == NULL || (*env)->GetArrayLength(env, jdone) < 1) {
        throw_code(env, DC_EMISUSE, "jni: sync step needs a done flag (glue bug)");
        return NULL;
    }
    /* Not GetPrimitiveArrayCritical, as for bundles: a step may import a
     * bundle, with disk I/O the GC should not wait for. */
    if (jin != NULL) {
        n = (*env)->GetArrayLength(env, jin);
        in = (*env)->GetByteArrayElements(env, jin, NULL);
        if (in == NULL) {
            return NULL; /* OutOfMemoryError is pending */
        }
    }
    rc = dc_sync_step(S(s), &out, &done, (const uint8_t *)in, (size_t)n);
    if (in != NULL) {
        (*env)->ReleaseByteArrayElements(env, jin, in, JNI_ABORT);
    }
    res = buf_result(env, r, rc, &out);
    if (res != NULL) {
        flag = done ? JNI_TRUE : JNI_FALSE;
        (*env)->SetBooleanArrayRegion(env, jdone, 0, 1, &flag);
    }
    return res;
}

static jbyteArray n_sync_report(JNIEnv *env, jclass cls, jlong r, jlong s) {
    dc_buf out = DC_BUF_INIT;
    (void)cls;

    if (!live(env, r) || !live(env, s)) {
        return NULL;
    }
    return buf_result(env, r, dc_sync_report(&out, S(s)), &out);
}

static void n_sync_note_relay(JNIEnv *env, jclass cls, jlong r, jlong s) {
    int rc;
    (void)cls;

    if (!live(env, r) || !live(env, s)) {
        return;
    }
    rc = dc_sync_note_relay(S(s));
    if (rc != 0) {
        throw_rc(env, R(r), rc);
    }
}

static void n_sync_free(JNIEnv *env, jclass cls, jlong s) {
    (void)env;
    (void)cls;
    dc_sync_free(S(s));
}

/*
 * Check-ins and study (include/drivercore/org.h): the writes a driver's app
 * makes.  The reads are typed records (Replica.read / query of the types
 * `checkin` and `study`, docs/domain.md), so no JSON crosses here.
 */
static void n_checkin(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jstation,
                      jlong at_ms, jbyteArray jused, jbyteArray jfeedback, jint rating) {
    call c;
    const char *space, *station, *used, *feedback;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &station, jstation) &&
        arg(&c, &used, jused) && arg(&c, &feedback, jfeedback)) {
        dc_checkin_options o = DC_CHECKIN_OPTIONS_INIT;
        o.station = station;
        o.at_ms = at_ms;
        o.used = used;
        o.feedback = feedback;
        o.rating = rating;
        rc = dc_checkin(R(r), space, &o);
    }
    finish(&c, rc);
}

static jbyteArray n_study_push(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jid,
                               jbyteArray jtitle, jbyteArray jkind, jbyteArray jmedia,
                               jlong pushed_ms) {
    call c;
    dc_buf out = DC_BUF_INIT;
    const char *space, *id, *title, *kind, *media;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &id, jid) &&
        arg(&c, &title, jtitle) && arg(&c, &kind, jkind) && arg(&c, &media, jmedia)) {
        dc_study_options o = DC_STUDY_OPTIONS_INIT;
        o.id = id;
        o.title = title;
        o.kind = kind;
        o.media = media;
        o.pushed_ms = pushed_ms;
        rc = dc_study_push(&out, R(r), space, &o);
    }
    return finish_buf(&c, rc, &out);
}

static void n_study_read(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jitem,
                         jbyteArray jdriver, jboolean done) {
    call c;
    const char *space, *item, *driver;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &item, jitem) &&
        arg(&c, &driver, jdriver)) {
        rc = dc_study_read(R(r), space, item, driver, done);
    }
    finish(&c, rc);
}

static void n_study_discuss(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jitem,
                            jbyteArray jdriver, jbyteArray jtext) {
    call c;
    const char *space, *item, *driver, *text;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &item, jitem) &&
        arg(&c, &driver, jdriver) && arg(&c, &text, jtext)) {
        rc = dc_study_discuss(R(r), space, item, driver, text);
    }
    finish(&c, rc);
}

static void n_study_join(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jactivity,
                         jbyteArray jdriver) {
    call c;
    const char *space, *activity, *driver;
    int rc = 0;
    (void)cls;
    if (begin(&c, env, r) && arg(&c, &space, jspace) && arg(&c, &activity, jactivity) &&
        arg(&c, &driver, jdriver)) {
        rc = dc_study_join(R(r), space, activity, driver);
    }
    finish(&c, rc);
}

/* ---- registration ---- */

#define M(name, sig, fn)                                                                           \
    { (char *)(name), (char *)(sig), (void *)(fn) }

static const JNINativeMethod methods[] = {
    M("version", "()Ljava/lang/String;", n_version),
    M("errorName", "(I)Ljava/lang/String;", n_error_name),
    M("strerror", "(I)Ljava/lang/String;", n_strerror),
    M("roleName", "(I)Ljava/lang/String;", n_role_name),
    M("open", "([B[BZ)J", n_open),
    M("openKeyed", "([B[BZLorg/drivercore/KeyProvider;)J", n_open_keyed),
    M("openInstalled", "([B[BZLorg/drivercore/KeyProvider;[B)J", n_open_installed),
    M("rekey", "(JLorg/drivercore/KeyProvider;)V", n_rekey),
    M("encrypted", "(J)Z", n_encrypted),
    M("close", "(J)V", n_close),
    M("deviceId", "(J)[B", n_device_id),
    M("card", "(J)[B", n_card),
    M("dump", "(J[B)[B", n_dump),
    M("status", "(J)[B", n_status),
    M("spaceCompact", "(J[B)[B", n_space_compact),
    M("vacuum", "(J)[J", n_vacuum),
    M("cloned", "(J)Z", n_cloned),
    M("recover", "(J)[B", n_recover),
    M("spaceCreate", "(J[B)[B", n_space_create),
    M("spaceAdd", "(J[B[BI)V", n_space_add),
    M("spaceMember", "(JI[B[BI)V", n_space_member),
    M("spaceList", "(J)[B", n_space_list),
    M("spaceMembers", "(J[B)[B", n_space_members),
    M("txnBegin", "(J[B)J", n_txn_begin),
    M("txnField", "(JJI[B[B[BIJD[B)V", n_txn_field),
    M("txnEvent", "(JJ[B[B)V", n_txn_event),
    M("txnEventField", "(JJ[BIJD[B)V", n_txn_event_field),
    M("txnDelete", "(JJ[B[B)V", n_txn_delete),
    M("txnOpCount", "(J)J", n_txn_op_count),
    M("txnCommit", "(JJ)[B", n_txn_commit),
    M("txnRollback", "(J)V", n_txn_rollback),
    M("recordGet", "(J[B[B[B)[B", n_record_get),
    M("recordList", "(J[B[B)[B", n_record_list),
    M("recordFind", "(J[B[B[BIJ[B)[B", n_record_find),
    M("recordRead", "(J[B[B[B)J", n_record_read),
    M("recordQuery", "(J[B[B[BIJD[B[BZJJZ[BZ)J", n_record_query),
    M("recordCount", "(J[B[B)J", n_record_count),
    M("recordPosition", "(J[B[B[BIJD[B[BZ[BZ[B)J", n_record_position),
    M("recordLocate", "(J[B[B)[B", n_record_locate),
    M("spaceIds", "(J)[Ljava/lang/Object;", n_space_ids),
    M("readBegin", "(J)V", n_read_begin),
    M("readEnd", "(J)V", n_read_end),
    M("indexDeclare", "(J[B[B[B)V", n_index_declare),
    M("replicaRefresh", "(J)Z", n_replica_refresh),
    M("calendarFromSpace", "(J[B)J", n_calendar_from_space),
    M("calendarParse", "([B)J", n_calendar_parse),
    M("calendarFree", "(J)V", n_calendar_free),
    M("caseFile", "(JJ[B[Ljava/lang/Object;ZJZ)[Ljava/lang/Object;", n_case_file),
    M("caseStep", "(JJ[B[B[B[BI)V", n_case_step),
    M("caseGet", "(JJ[B[B)[Ljava/lang/Object;", n_case_get),
    M("checkin", "(J[B[BJ[B[BI)V", n_checkin),
    M("studyPush", "(J[B[B[B[B[BJ)[B", n_study_push),
    M("studyRead", "(J[B[B[BZ)V", n_study_read),
    M("studyDiscuss", "(J[B[B[B[B)V", n_study_discuss),
    M("studyJoin", "(J[B[B[B)V", n_study_join),
    M("syncStatus", "(J)[Ljava/lang/Object;", n_sync_status),
    M("recordsTotal", "(J)J", n_records_total),
    M("recordsCount", "(J)I", n_records_count),
    M("recordsAt", "(JI)J", n_records_at),
    M("recordsFree", "(J)V", n_records_free),
    M("recordFree", "(J)V", n_record_free),
    M("recordDecode", "(J)[Ljava/lang/Object;", n_record_decode),
    M("clientNew", "(J[BLorg/drivercore/HttpTransport;IJ)J", n_client_new),
    M("clientSync", "(JJ)V", n_client_sync),
    M("clientWait", "(JJI)Z", n_client_wait),
    M("clientFigures", "(J)[J", n_client_figures),
    M("clientCancel", "(J)V", n_client_cancel),
    M("clientFree", "(J)V", n_client_free),
    M("liveOpen", "(J[B[B[BIJD[B[BZJJZ[BZLjava/lang/Object;)J", n_live_open),
    M("liveClose", "(J)V", n_live_close),
    M("bundleExport", "(J[B)[B", n_bundle_export),
    M("bundleImport", "(J[B)[B", n_bundle_import),
    M("syncNew", "(JI)J", n_sync_new),
    M("syncStep", "(JJ[B[Z)[B", n_sync_step),
    M("syncReport", "(JJ)[B", n_sync_report),
    M("syncNoteRelay", "(JJ)V", n_sync_note_relay),
    M("syncFree", "(J)V", n_sync_free),
};

EXPORT jint JNI_OnLoad(JavaVM *vm, void *reserved) {
    JNIEnv *env;
    jclass native, exc;
    (void)reserved;

    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK) {
        return JNI_ERR;
    }
    exc = (*env)->FindClass(env, "org/drivercore/DriverCoreException");
    if (exc == NULL) {
        return JNI_ERR;
    }
    exc_class = (jclass)(*env)->NewGlobalRef(env, exc);
    (*env)->DeleteLocalRef(env, exc);
    if (exc_class == NULL) {
        return JNI_ERR;
    }
    exc_ctor = (*env)->GetMethodID(env, exc_class, "<init>", "(I[B)V");
    if (exc_ctor == NULL) {
        return JNI_ERR;
    }
    jclass obj = (*env)->FindClass(env, "java/lang/Object");
    jclass barr = (*env)->FindClass(env, "[B");
    if (obj == NULL || barr == NULL) {
        return JNI_ERR;
    }
    object_class = (jclass)(*env)->NewGlobalRef(env, obj);
    bytes_class = (jclass)(*env)->NewGlobalRef(env, barr);
    (*env)->DeleteLocalRef(env, obj);
    (*env)->DeleteLocalRef(env, barr);
    if (object_class == NULL || bytes_class == NULL) {
        return JNI_ERR;
    }
    native = (*env)->FindClass(env, "org/drivercore/Native");
    if (native == NULL) {
        return JNI_ERR;
    }
    if ((*env)->RegisterNatives(env, native, methods, (jint)(sizeof methods / sizeof methods[0])) !=
        0) {
        return JNI_ERR;
    }
    native_class = (jclass)(*env)->NewGlobalRef(env, native);
    (*env)->DeleteLocalRef(env, native);
    if (native_class == NULL) {
        return JNI_ERR;
    }
    the_vm = vm;
    native_live =
        (*env)->GetStaticMethodID(env, native_class, "liveDeliver", "(Ljava/lang/Object;J)V");
    native_http = (*env)->GetStaticMethodID(
        env, native_class, "httpExecute",
        "(Lorg/drivercore/HttpTransport;[B[B[Ljava/lang/Object;[Ljava/lang/Object;[BJJJ)[Ljava/"
        "lang/Object;");
    native_cancel = (*env)->GetStaticMethodID(env, native_class, "httpCancel",
                                              "(Lorg/drivercore/HttpTransport;)V");
    if (native_live == NULL || native_http == NULL || native_cancel == NULL) {
        return JNI_ERR;
    }
    native_ask_key = (*env)->GetStaticMethodID(
        env, native_class, "askKey", "(Lorg/drivercore/KeyProvider;I)Lorg/drivercore/AtRestKey;");
    jclass keycls = (*env)->FindClass(env, "org/drivercore/AtRestKey");
    if (native_ask_key == NULL || keycls == NULL) {
        return JNI_ERR;
    }
    key_passphrase = (*env)->GetFieldID(env, keycls, "passphrase", "Z");
    key_bytes = (*env)->GetFieldID(env, keycls, "bytes", "[B");
    (*env)->DeleteLocalRef(env, keycls);
    if (key_passphrase == NULL || key_bytes == NULL) {
        return JNI_ERR;
    }
    /* Initialise the library here, on a known thread, rather than lazily
     * inside the first call; a failure then surfaces at the first open. */
    (void)dc_global_init(NULL);
    return JNI_VERSION_1_6;
}

EXPORT void JNI_OnUnload(JavaVM *vm, void *reserved) {
    JNIEnv *env;
    (void)reserved;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) == JNI_OK && exc_class != NULL) {
        (*env)->DeleteGlobalRef(env, exc_class);
        exc_class = NULL;
    }
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) == JNI_OK && native_class != NULL) {
        (*env)->DeleteGlobalRef(env, native_class);
        native_class = NULL;
    }
}
