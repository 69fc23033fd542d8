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
static jfieldID key_passphrase;  /* AtRestKey.passphrase: Z */
static jfieldID key_bytes;       /* AtRestKey.bytes: [B */

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
    char *s[6];
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
                            int kind, int64_t num, const char *str);

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
    [OP_SET] = dc_txn_set,
    [OP_ADD] = dc_txn_add,
    [OP_REMOVE] = dc_txn_remove,
};

static void n_txn_field(JNIEnv *env, jclass cls, jlong r, jlong t, jint op, jbyteArray jtype,
                        jbyteArray jid, jbyteArray jfield, jint kind, jlong num, jbyteArray jstr) {
    call c;
    const char *type, *id, *field, *str;
    int rc = 0;
    (void)cls;

    if (begin_txn(&c, env, r, t) && arg(&c, &type, jtype) && arg(&c, &id, jid) &&
        arg(&c, &field, jfield) && arg(&c, &str, jstr)) {
        int known = op >= 0 && op < (jint)(sizeof txn_value_ops / sizeof txn_value_ops[0]);
        rc = known ? txn_value_ops[op](T(t), type, id, field, kind, num, str) : DC_EMISUSE;
    }
    finish(&c, rc);
}

static void n_txn_event(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jtype,
                        jbyteArray jid) {
    (void)cls;
    txn_record(env, r, t, jtype, jid, dc_txn_event);
}

static void n_txn_event_field(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jkey, jint kind,
                              jlong num, jbyteArray jstr) {
    call c;
    const char *key, *str;
    int rc = 0;
    (void)cls;

    if (begin_txn(&c, env, r, t) && arg(&c, &key, jkey) && arg(&c, &str, jstr)) {
        rc = dc_txn_event_field(T(t), key, kind, num, str);
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
    M("cloned", "(J)Z", n_cloned),
    M("recover", "(J)[B", n_recover),
    M("spaceCreate", "(J[B)[B", n_space_create),
    M("spaceAdd", "(J[B[BI)V", n_space_add),
    M("spaceMember", "(JI[B[BI)V", n_space_member),
    M("spaceList", "(J)[B", n_space_list),
    M("spaceMembers", "(J[B)[B", n_space_members),
    M("txnBegin", "(J[B)J", n_txn_begin),
    M("txnField", "(JJI[B[B[BIJ[B)V", n_txn_field),
    M("txnEvent", "(JJ[B[B)V", n_txn_event),
    M("txnEventField", "(JJ[BIJ[B)V", n_txn_event_field),
    M("txnDelete", "(JJ[B[B)V", n_txn_delete),
    M("txnOpCount", "(J)J", n_txn_op_count),
    M("txnCommit", "(JJ)[B", n_txn_commit),
    M("txnRollback", "(J)V", n_txn_rollback),
    M("recordGet", "(J[B[B[B)[B", n_record_get),
    M("recordList", "(J[B[B)[B", n_record_list),
    M("recordFind", "(J[B[B[BIJ[B)[B", n_record_find),
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
