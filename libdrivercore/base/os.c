/*
 * The platform, in one place (STYLE.md): a monotonic clock and a sleep, for
 * the code that paces itself (a sync importing in short slices lets another
 * thread's write in between), the process id, and the few file-system
 * calls the library makes outside SQLite: files that only this user may
 * read (0600), created whole or not at all, synced, and renamed into place
 * with their directory synced so that the rename survives a power cut.
 * POSIX here (the Android and iOS builds are POSIX too); another platform
 * replaces this file only.
 *
 * None of these opens a file an SQLite connection of this process may have
 * open: closing any descriptor of a file drops every POSIX lock the
 * process holds on it, SQLite's included.  The store reads and writes
 * database files through SQLite's VFS only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

int64_t dc__os_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dc__os_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Test seam (see base.h): NULL in production. */
int (*dc__os_fault)(const char *step);

static int fault(const char *step) {
    return dc__os_fault ? dc__os_fault(step) : 0;
}

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

FILE *dc__os_fopen_private(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    /* An existing file keeps its mode through O_TRUNC: narrow it. */
    if (fchmod(fd, 0600) != 0) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f)
        close(fd);
    return f;
}

int dc__os_create_private(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

int dc__os_write_new(const char *path, const void *p, size_t n) {
    if (fault("write_new"))
        return EIO;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    int e = write_all(fd, p, n);
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (e)
        unlink(path);
    return e;
}

int dc__os_sync_dir_of(const char *path) {
    char dir[4096];
    if (fault("sync_dir"))
        return EIO;
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    /* Some file systems refuse fsync on a directory (EINVAL): nothing more
     * can be done there, and the rename itself is still atomic. */
    int e = fsync(fd) != 0 && errno != EINVAL ? errno : 0;
    close(fd);
    return e;
}

int dc__os_sync_file(const char *path) {
    if (fault("sync_file"))
        return EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = fsync(fd) != 0 ? errno : 0;
    close(fd);
    return e;
}

int dc__os_rename(const char *from, const char *to) {
    if (fault("rename"))
        return EIO;
    return rename(from, to) == 0 ? 0 : errno;
}

int dc__os_publish_new(const char *path, const void *p, size_t n) {
    /* Written whole beside the target, then linked in: nobody ever sees the
     * file half written, and an existing file is never replaced. */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s-new-XXXXXX", path) >= (int)sizeof tmp)
        return ENAMETOOLONG;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return errno;
    int e = fchmod(fd, 0600) != 0 ? errno : 0;
    if (!e)
        e = write_all(fd, p, n);
    if (!e && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && link(tmp, path) != 0) {
        e = errno;
        /* No hard links here (some FAT or FUSE file systems): create the
         * target exclusively instead. */
        if (e == EPERM || e == ENOTSUP || e == ENOSYS)
            e = dc__os_write_new(path, p, n);
    }
    unlink(tmp);
    if (!e)
        e = dc__os_sync_dir_of(path);
    return e;
}

int dc__os_remove(const char *path) {
    if (unlink(path) != 0 && errno != ENOENT)
        return errno;
    return 0;
}

long dc__os_pid(void) {
    return (long)getpid();
}

int dc__os_size(const char *path, int64_t *size) {
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    *size = (int64_t)st.st_size;
    return 0;
}

int64_t dc__os_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
