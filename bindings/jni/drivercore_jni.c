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
static jclass exc_class;     /* org/drivercore/DriverCoreException */
static jmethodID exc_ctor;   /* (I[B)V */

#define H(x) ((jlong)(intptr_t)(x))
#define R(x) ((dc_replica *)(intptr_t)(x))
#define T(x) ((dc_txn *)(intptr_t)(x))

/* ---- errors ---- */

/* Throws DriverCoreException(code, msg).  msg is UTF-8 and may be NULL or
 * empty, in which case the Java side uses the code's default message. */
static void throw_code(JNIEnv *env, int code, const char *msg)
{
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
static void throw_rc(JNIEnv *env, dc_replica *r, int rc)
{
    const char *msg = NULL;

    if (r != NULL && dc_replica_errcode(r) == rc) {
        msg = dc_replica_errmsg(r);
    } else if (dc_error_last_code() == rc) {
        msg = dc_error_last();
    }
    throw_code(env, rc, msg);
}

/* ---- arguments ---- */

/* Up to 6 string arguments of one call, copied out of their Java arrays and
 * freed together when the call ends. */
typedef struct {
    char *s[6];
    int n;
} args;

/* The C string of a NUL-terminated UTF-8 byte array from Native.utf8z, or
 * NULL for a null array.  Sets *ok to 0 (with an exception pending) when the
 * copy fails or the array is not NUL-terminated. */
static const char *arg(JNIEnv *env, args *a, jbyteArray b, int *ok)
{
    jsize n;
    char *s;

    if (!*ok || b == NULL) {
        return NULL;
    }
    if (a->n >= (int)(sizeof a->s / sizeof a->s[0])) {
        *ok = 0;
        throw_code(env, DC_EMISUSE, "jni: too many string arguments (glue bug)");
        return NULL;
    }
    n = (*env)->GetArrayLength(env, b);
    if (n < 1) {
        *ok = 0;
        throw_code(env, DC_EMISUSE, "jni: string argument not NUL-terminated");
        return NULL;
    }
    s = malloc((size_t)n);
    if (s == NULL) {
        *ok = 0;
        throw_code(env, DC_ENOMEM, "jni: out of memory copying a string argument");
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, b, 0, n, (jbyte *)s);
    if (s[n - 1] != '\0') {
        free(s);
        *ok = 0;
        throw_code(env, DC_EMISUSE, "jni: string argument not NUL-terminated");
        return NULL;
    }
    a->s[a->n++] = s;
    return s;
}

static void args_free(args *a)
{
    for (int i = 0; i < a->n; i++) {
        free(a->s[i]);
    }
    a->n = 0;
}

/* ---- results ---- */

static jbyteArray bytes(JNIEnv *env, const void *p, size_t n)
{
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

/* The buffer's content as a byte[], then the buffer disposed. */
static jbyteArray take_buf(JNIEnv *env, dc_buf *b)
{
    jbyteArray out = bytes(env, b->ptr, b->size);
    dc_buf_dispose(b);
    return out;
}

/* Refuses a zero handle: a bug in the Java layer, reported not crashed on. */
static int live(JNIEnv *env, jlong h)
{
    if (h == 0) {
        throw_code(env, DC_EMISUSE, "jni: closed or null handle");
        return 0;
    }
    return 1;
}

/* ---- library ---- */

static jstring n_version(JNIEnv *env, jclass cls)
{
    (void)cls;
    return (*env)->NewStringUTF(env, dc_version());
}

/* Error names, messages and role names are ASCII, so NewStringUTF is exact. */
static jstring n_error_name(JNIEnv *env, jclass cls, jint code)
{
    (void)cls;
    return (*env)->NewStringUTF(env, dc_error_name(code));
}

static jstring n_strerror(JNIEnv *env, jclass cls, jint code)
{
    (void)cls;
    return (*env)->NewStringUTF(env, dc_strerror(code));
}

static jstring n_role_name(JNIEnv *env, jclass cls, jint role)
{
    const char *name = dc_role_name(role);
    (void)cls;
    return name == NULL ? NULL : (*env)->NewStringUTF(env, name);
}

/* ---- replica ---- */

static jlong n_open(JNIEnv *env, jclass cls, jbyteArray jpath, jbyteArray jname,
                    jboolean must_exist)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_replica *r = NULL;
    dc_replica_options opts = DC_REPLICA_OPTIONS_INIT;
    const char *path = arg(env, &a, jpath, &ok);
    const char *name = arg(env, &a, jname, &ok);
    (void)cls;

    if (ok) {
        int rc;
        opts.device_name = name;
        opts.must_exist = must_exist ? 1 : 0;
        rc = dc_replica_open(&r, path, &opts);
        if (rc != 0) {
            throw_rc(env, NULL, rc);
            r = NULL;
        }
    }
    args_free(&a);
    return H(r);
}

static void n_close(JNIEnv *env, jclass cls, jlong r)
{
    (void)env;
    (void)cls;
    dc_replica_close(R(r));
}

static jbyteArray n_device_id(JNIEnv *env, jclass cls, jlong r)
{
    const char *id;
    (void)cls;
    if (!live(env, r)) {
        return NULL;
    }
    id = dc_replica_device_id(R(r));
    return bytes(env, id, strlen(id));
}

static jbyteArray n_card(JNIEnv *env, jclass cls, jlong r)
{
    dc_buf out = DC_BUF_INIT;
    int rc;
    (void)cls;
    if (!live(env, r)) {
        return NULL;
    }
    rc = dc_replica_card(&out, R(r));
    if (rc != 0) {
        dc_buf_dispose(&out);
        throw_rc(env, R(r), rc);
        return NULL;
    }
    return take_buf(env, &out);
}

static jbyteArray n_dump(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_buf out = DC_BUF_INIT;
    jbyteArray res = NULL;
    const char *space;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    space = arg(env, &a, jspace, &ok);
    if (ok) {
        int rc = dc_replica_dump(&out, R(r), space);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        } else {
            res = bytes(env, out.ptr, out.size);
        }
    }
    dc_buf_dispose(&out);
    args_free(&a);
    return res;
}

static jbyteArray n_status(JNIEnv *env, jclass cls, jlong r)
{
    dc_buf out = DC_BUF_INIT;
    int rc;
    (void)cls;
    if (!live(env, r)) {
        return NULL;
    }
    rc = dc_replica_status(&out, R(r));
    if (rc != 0) {
        dc_buf_dispose(&out);
        throw_rc(env, R(r), rc);
        return NULL;
    }
    return take_buf(env, &out);
}

/* ---- spaces ---- */

static jbyteArray n_space_create(JNIEnv *env, jclass cls, jlong r, jbyteArray jname)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_buf out = DC_BUF_INIT;
    jbyteArray res = NULL;
    const char *name;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    name = arg(env, &a, jname, &ok);
    if (ok) {
        int rc = dc_space_create(&out, R(r), name);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        } else {
            res = bytes(env, out.ptr, out.size);
        }
    }
    dc_buf_dispose(&out);
    args_free(&a);
    return res;
}

static void n_space_add(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace, jbyteArray jcard,
                        jint role)
{
    args a = {{0}, 0};
    int ok = 1;
    const char *space, *card;
    (void)cls;

    if (!live(env, r)) {
        return;
    }
    space = arg(env, &a, jspace, &ok);
    card = arg(env, &a, jcard, &ok);
    if (ok) {
        int rc = dc_space_add(R(r), space, card, role);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        }
    }
    args_free(&a);
}

static jbyteArray n_space_list(JNIEnv *env, jclass cls, jlong r)
{
    dc_buf out = DC_BUF_INIT;
    int rc;
    (void)cls;
    if (!live(env, r)) {
        return NULL;
    }
    rc = dc_space_list(&out, R(r));
    if (rc != 0) {
        dc_buf_dispose(&out);
        throw_rc(env, R(r), rc);
        return NULL;
    }
    return take_buf(env, &out);
}

static jbyteArray n_space_members(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_buf out = DC_BUF_INIT;
    jbyteArray res = NULL;
    const char *space;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    space = arg(env, &a, jspace, &ok);
    if (ok) {
        int rc = dc_space_members(&out, R(r), space);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        } else {
            res = bytes(env, out.ptr, out.size);
        }
    }
    dc_buf_dispose(&out);
    args_free(&a);
    return res;
}

/* ---- transactions ---- */

static jlong n_txn_begin(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_txn *t = NULL;
    const char *space;
    (void)cls;

    if (!live(env, r)) {
        return 0;
    }
    space = arg(env, &a, jspace, &ok);
    if (ok) {
        int rc = dc_txn_begin(&t, R(r), space);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
            t = NULL;
        }
    }
    args_free(&a);
    return H(t);
}

/* Op codes shared with Native.OP_SET / OP_ADD / OP_REMOVE. */
enum { OP_SET = 0, OP_ADD = 1, OP_REMOVE = 2 };

static void n_txn_field(JNIEnv *env, jclass cls, jlong r, jlong t, jint op, jbyteArray jtype,
                        jbyteArray jid, jbyteArray jfield, jint kind, jlong num, jbyteArray jstr)
{
    args a = {{0}, 0};
    int ok = 1;
    const char *type, *id, *field, *str;
    (void)cls;

    if (!live(env, r) || !live(env, t)) {
        return;
    }
    type = arg(env, &a, jtype, &ok);
    id = arg(env, &a, jid, &ok);
    field = arg(env, &a, jfield, &ok);
    str = arg(env, &a, jstr, &ok);
    if (ok) {
        int rc;
        switch (op) {
        case OP_SET:
            rc = dc_txn_set(T(t), type, id, field, kind, num, str);
            break;
        case OP_ADD:
            rc = dc_txn_add(T(t), type, id, field, kind, num, str);
            break;
        case OP_REMOVE:
            rc = dc_txn_remove(T(t), type, id, field, kind, num, str);
            break;
        default:
            rc = DC_EMISUSE;
            break;
        }
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        }
    }
    args_free(&a);
}

static void n_txn_event(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jtype,
                        jbyteArray jid)
{
    args a = {{0}, 0};
    int ok = 1;
    const char *type, *id;
    (void)cls;

    if (!live(env, r) || !live(env, t)) {
        return;
    }
    type = arg(env, &a, jtype, &ok);
    id = arg(env, &a, jid, &ok);
    if (ok) {
        int rc = dc_txn_event(T(t), type, id);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        }
    }
    args_free(&a);
}

static void n_txn_event_field(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jkey,
                              jint kind, jlong num, jbyteArray jstr)
{
    args a = {{0}, 0};
    int ok = 1;
    const char *key, *str;
    (void)cls;

    if (!live(env, r) || !live(env, t)) {
        return;
    }
    key = arg(env, &a, jkey, &ok);
    str = arg(env, &a, jstr, &ok);
    if (ok) {
        int rc = dc_txn_event_field(T(t), key, kind, num, str);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        }
    }
    args_free(&a);
}

static void n_txn_delete(JNIEnv *env, jclass cls, jlong r, jlong t, jbyteArray jtype,
                         jbyteArray jid)
{
    args a = {{0}, 0};
    int ok = 1;
    const char *type, *id;
    (void)cls;

    if (!live(env, r) || !live(env, t)) {
        return;
    }
    type = arg(env, &a, jtype, &ok);
    id = arg(env, &a, jid, &ok);
    if (ok) {
        int rc = dc_txn_delete(T(t), type, id);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        }
    }
    args_free(&a);
}

static jlong n_txn_op_count(JNIEnv *env, jclass cls, jlong t)
{
    (void)cls;
    if (!live(env, t)) {
        return 0;
    }
    return (jlong)dc_txn_op_count(T(t));
}

static jbyteArray n_txn_commit(JNIEnv *env, jclass cls, jlong r, jlong t)
{
    dc_buf id = DC_BUF_INIT;
    int rc;
    (void)cls;

    if (!live(env, r) || !live(env, t)) {
        return NULL;
    }
    /* Frees the transaction on every path; the Java side has already
     * forgotten the handle. */
    rc = dc_txn_commit(T(t), &id);
    if (rc != 0) {
        dc_buf_dispose(&id);
        throw_rc(env, R(r), rc);
        return NULL;
    }
    return take_buf(env, &id);
}

static void n_txn_rollback(JNIEnv *env, jclass cls, jlong t)
{
    (void)env;
    (void)cls;
    dc_txn_rollback(T(t));
}

/* ---- records ---- */

static jbyteArray n_record_get(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace,
                               jbyteArray jtype, jbyteArray jid)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_buf out = DC_BUF_INIT;
    jbyteArray res = NULL;
    const char *space, *type, *id;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    space = arg(env, &a, jspace, &ok);
    type = arg(env, &a, jtype, &ok);
    id = arg(env, &a, jid, &ok);
    if (ok) {
        int rc = dc_record_get(&out, R(r), space, type, id);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        } else {
            res = bytes(env, out.ptr, out.size);
        }
    }
    dc_buf_dispose(&out);
    args_free(&a);
    return res;
}

static jbyteArray n_record_list(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace,
                                jbyteArray jtype)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_buf out = DC_BUF_INIT;
    jbyteArray res = NULL;
    const char *space, *type;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    space = arg(env, &a, jspace, &ok);
    type = arg(env, &a, jtype, &ok);
    if (ok) {
        int rc = dc_record_list(&out, R(r), space, type);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        } else {
            res = bytes(env, out.ptr, out.size);
        }
    }
    dc_buf_dispose(&out);
    args_free(&a);
    return res;
}

static jbyteArray n_record_find(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace,
                                jbyteArray jtype, jbyteArray jfield, jint kind, jlong num,
                                jbyteArray jstr)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_buf out = DC_BUF_INIT;
    jbyteArray res = NULL;
    const char *space, *type, *field, *str;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    space = arg(env, &a, jspace, &ok);
    type = arg(env, &a, jtype, &ok);
    field = arg(env, &a, jfield, &ok);
    str = arg(env, &a, jstr, &ok);
    if (ok) {
        int rc = dc_record_find(&out, R(r), space, type, field, kind, num, str);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        } else {
            res = bytes(env, out.ptr, out.size);
        }
    }
    dc_buf_dispose(&out);
    args_free(&a);
    return res;
}

/* ---- bundles ---- */

static jbyteArray n_bundle_export(JNIEnv *env, jclass cls, jlong r, jbyteArray jspace)
{
    args a = {{0}, 0};
    int ok = 1;
    dc_buf out = DC_BUF_INIT;
    jbyteArray res = NULL;
    const char *space;
    (void)cls;

    if (!live(env, r)) {
        return NULL;
    }
    space = arg(env, &a, jspace, &ok);
    if (ok) {
        int rc = dc_bundle_export(&out, R(r), space);
        if (rc != 0) {
            throw_rc(env, R(r), rc);
        } else {
            res = bytes(env, out.ptr, out.size);
        }
    }
    dc_buf_dispose(&out);
    args_free(&a);
    return res;
}

static jbyteArray n_bundle_import(JNIEnv *env, jclass cls, jlong r, jbyteArray jdata)
{
    dc_buf report = DC_BUF_INIT;
    jbyteArray res = NULL;
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
    if (rc != 0) {
        throw_rc(env, R(r), rc);
    } else {
        res = bytes(env, report.ptr, report.size);
    }
    dc_buf_dispose(&report);
    return res;
}

/* ---- registration ---- */

#define M(name, sig, fn) {(char *)(name), (char *)(sig), (void *)(fn)}

static const JNINativeMethod methods[] = {
    M("version", "()Ljava/lang/String;", n_version),
    M("errorName", "(I)Ljava/lang/String;", n_error_name),
    M("strerror", "(I)Ljava/lang/String;", n_strerror),
    M("roleName", "(I)Ljava/lang/String;", n_role_name),
    M("open", "([B[BZ)J", n_open),
    M("close", "(J)V", n_close),
    M("deviceId", "(J)[B", n_device_id),
    M("card", "(J)[B", n_card),
    M("dump", "(J[B)[B", n_dump),
    M("status", "(J)[B", n_status),
    M("spaceCreate", "(J[B)[B", n_space_create),
    M("spaceAdd", "(J[B[BI)V", n_space_add),
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
};

EXPORT jint JNI_OnLoad(JavaVM *vm, void *reserved)
{
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
    if ((*env)->RegisterNatives(env, native, methods,
                                (jint)(sizeof methods / sizeof methods[0])) != 0) {
        return JNI_ERR;
    }
    (*env)->DeleteLocalRef(env, native);
    /* Initialise the library here, on a known thread, rather than lazily
     * inside the first call; a failure then surfaces at the first open. */
    (void)dc_global_init(NULL);
    return JNI_VERSION_1_6;
}

EXPORT void JNI_OnUnload(JavaVM *vm, void *reserved)
{
    JNIEnv *env;
    (void)reserved;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) == JNI_OK && exc_class != NULL) {
        (*env)->DeleteGlobalRef(env, exc_class);
        exc_class = NULL;
    }
}
