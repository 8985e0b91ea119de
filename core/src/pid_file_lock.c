/*
 * PidFileLock: the OS lock sits on a sidecar "<path>.lock" (a temporary
 * lock, with its split-brain guard); once it is held, this process's PID is
 * written to <path> as ASCII decimal, truncated and fsynced. Contention
 * reports the holder's PID. Release removes both files, then unlocks.
 */
#include "lock_handle.h"
#include "platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PL_EXPORT int pl_pidfile_lock_new(pl_lock **out, const char *path)
{
    pl_lock *l;
    size_t n;
    char *sidecar;
    int rc;
    if (!out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    if (!path)
        path = ".pid";
    if (!*path) {
        *out = NULL;
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "path must not be empty");
    }
    n = strlen(path);
    if (!(sidecar = malloc(n + sizeof ".lock"))) {
        *out = NULL;
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    memcpy(sidecar, path, n);
    memcpy(sidecar + n, ".lock", sizeof ".lock");
    rc = pl__lock_alloc(&l, sidecar, PL_KIND_PIDFILE);
    free(sidecar);
    if (rc != PL_OK) {
        if (out)
            *out = NULL;
        return rc;
    }
    if (!(l->pid_path = pl__strdup(path))) {
        pl_lock_free(l);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    *out = l;
    return PL_OK;
}

int pl__pidfile_write(pl_lock *l)
{
    char buf[32];
    int fd, err, len;
    len = snprintf(buf, sizeof buf, "%ld", pl__self_pid());
    /* O_NOFOLLOW: a symlink planted at the PID path must not make us
       truncate its target. */
    err = pl_os_open(l->pid_path,
                     PL_O_WRITE | PL_O_CREATE | PL_O_TRUNC | PL_O_NOFOLLOW |
                         PL_O_REGULAR,
                     l->file_mode, &fd);
    if (err == EINVAL)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, err,
                        "cannot write PID file '%s': not a regular file",
                        l->pid_path);
    if (err) {
        /* The open may have created the file before a later step failed
           (the regular-file check's fstat, F_SETFL back to blocking): we
           hold the sidecar, so whatever is at the path is ours to remove,
           as release would. A planted symlink or FIFO is left to be seen. */
        if (err != ELOOP)
            (void)pl_os_unlink(l->pid_path);
        return pl__fail_os(PL_ERR_IO, err, "open PID file", l->pid_path);
    }
    err = pl_os_write_all(fd, buf, (size_t)len);
    if (!err)
        err = pl_os_fsync(fd);
    if (err) {
        (void)pl_os_close(fd);
        (void)pl_os_unlink(l->pid_path);
        return pl__fail_os(PL_ERR_IO, err, "write PID file", l->pid_path);
    }
    if ((err = pl_os_close(fd)) != 0) {
        (void)pl_os_unlink(l->pid_path);
        return pl__fail_os(PL_ERR_IO, err, "close PID file", l->pid_path);
    }
    return PL_OK;
}

int pl__pidfile_unlink(pl_lock *l)
{
    int rc = PL_OK, err;
    err = pl_os_unlink(l->pid_path);
    if (err && err != ENOENT)
        rc = pl__fail_os(PL_ERR_IO, err, "remove", l->pid_path);
    err = pl__temporary_unlink(l);
    return rc != PL_OK ? rc : err;
}

/* The PID in the PID file, 0 if missing, unreadable, empty or not a
   number (the reference returns None). Leaves the last error alone, so a
   failed acquire can report the holder without erasing its own error. */
long pl__pidfile_read(const pl_lock *l)
{
    char buf[32];
    size_t len = 0;
    char *end;
    long pid;
    if (pl_os_read_small(l->pid_path, buf, sizeof buf, &len) != 0)
        return 0;
    errno = 0;
    pid = strtol(buf, &end, 10);
    while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
        end++;
    if (end == buf || *end || errno || pid <= 0)
        return 0;
    return pid;
}

PL_EXPORT int pl_lock_read_pid(const pl_lock *l, long *pid_out)
{
    if (!l || !pid_out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "lock and pid_out must not be NULL");
    *pid_out = 0;
    if (l->kind != PL_KIND_PIDFILE)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "read_pid needs a PID-file lock");
    *pid_out = pl__pidfile_read(l);
    return pl__ok();
}
