/*
 * A stand-in for an app's own native code (tests only): it receives the C
 * handle from Replica.nativeHandle() and calls the C API on it directly, as
 * an app does for functions the Java binding does not wrap yet.  It links
 * the same libdrivercore as libdrivercore_jni, so both work on one
 * dc_replica: no second connection, no second writer on the file.
 */
#include <stdint.h>
#include <jni.h>

#include "drivercore.h"

#define R(h) ((dc_replica *)(intptr_t)(h))

JNIEXPORT jstring JNICALL Java_org_drivercore_NativeHandleTest_deviceId(JNIEnv *env, jclass cls,
                                                                        jlong h) {
    (void)cls;
    return (*env)->NewStringUTF(env, dc_replica_device_id(R(h)));
}

/* Commits {type, id, field: value} in `space` through the handle; returns
 * the C library's code. */
JNIEXPORT jint JNICALL Java_org_drivercore_NativeHandleTest_set(JNIEnv *env, jclass cls, jlong h,
                                                                jstring jspace, jstring jvalue) {
    (void)cls;
    const char *space = (*env)->GetStringUTFChars(env, jspace, NULL);
    const char *value = (*env)->GetStringUTFChars(env, jvalue, NULL);
    dc_txn *t = NULL;
    int rc = space && value ? dc_txn_begin(&t, R(h), space) : DC_ENOMEM;
    if (!rc)
        rc = dc_txn_set(t, "truck", "t9", "plate", DC_STR, 0, value);
    if (!rc)
        rc = dc_txn_commit(t, NULL);
    else
        dc_txn_rollback(t);
    if (space)
        (*env)->ReleaseStringUTFChars(env, jspace, space);
    if (value)
        (*env)->ReleaseStringUTFChars(env, jvalue, value);
    return rc;
}
