/*
 * PidFileLock: the OS lock sits on a sidecar "<path>.lock" (a file the
 * lock owns, with the engine's split-brain guard); once it is held, this process's PID is
 * written to <path> as ASCII decimal, truncated and fsynced. Contention
 * reports the holder's PID. Release removes both files, then unlocks.
 */
#include "lock_handle.h"
#include "platform.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kind's data: the PID file and the identity of the one we wrote,
   so that release never removes a PID file a later holder wrote. */
typedef struct pid_data {
    char *path;
    pl__os_file_id written;
    int have_written;
} pid_data;

static const char *pid_path(const pl_lock *l)
{
    return ((const pid_data *)l->data)->path;
}

static void free_pid_data(void *p)
{
    pid_data *d = p;
    if (d)
        free(d->path);
    free(d);
}

static int write_pid(pl_lock *l);
static int remove_files(pl_lock *l);
static void remove_files_at_exit(pl_lock *l);
static int report_holder(pl_lock *l, int rc);
static long read_pid(const pl_lock *l);

static const pl_lock_kind pidfile_kind = {
    .name = "PID-file",
    .default_mode = "w",
    .default_fail_when_locked = 1,
    .fixed_mode = 1,
    .owns_file = 1, /* the sidecar */
    .after_lock = write_pid,
    .before_unlock = remove_files,
    .on_contention = report_holder,
    .at_exit = remove_files_at_exit,
    .public_path = pid_path,
    .free_data = free_pid_data,
};

PL_EXPORT pl_status pl_pidfile_lock_new(pl_lock **out, const char *path)
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
    rc = pl__lock_new(&l, sidecar, &pidfile_kind);
    free(sidecar);
    if (rc != PL_OK) {
        if (out)
            *out = NULL;
        return rc;
    }
    {
        pid_data *d = calloc(1, sizeof *d);
        if (d && !(d->path = pl__strdup(path))) {
            free(d);
            d = NULL;
        }
        if (!d) {
            pl_lock_free(l);
            return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
        }
        l->data = d;
    }
    *out = l;
    return PL_OK;
}

static int write_pid(pl_lock *l)
{
    const char *path = pid_path(l);
    char buf[32];
    int fd, err, len;
    len = snprintf(buf, sizeof buf, "%ld", pl__self_pid());
    /* O_NOFOLLOW: a symlink planted at the PID path must not make us
       truncate its target. */
    err = pl__os_open(path,
                     PL_O_WRITE | PL_O_CREATE | PL_O_TRUNC | PL_O_NOFOLLOW |
                         PL_O_REGULAR,
                     l->file_mode, &fd);
    if (err == EINVAL)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, err,
                        "cannot write PID file '%s': not a regular file",
                        path);
    if (err) {
        /* The open may have created the file before a later step failed
           (the regular-file check's fstat, F_SETFL back to blocking): we
           hold the sidecar, so whatever is at the path is ours to remove,
           as release would. A planted symlink or FIFO is left to be seen. */
        if (err != ELOOP)
            (void)pl__os_unlink(path);
        return pl__fail_os(PL_ERR_IO, err, "open PID file", path);
    }
    err = pl__os_write_all(fd, buf, (size_t)len);
    if (!err)
        err = pl__os_fsync(fd);
    {
        pid_data *d = l->data;
        d->have_written = !err && pl__os_fd_id(fd, &d->written) == 0;
    }
    if (err) {
        (void)pl__os_close(fd);
        (void)pl__os_unlink(path);
        return pl__fail_os(PL_ERR_IO, err, "write PID file", path);
    }
    if ((err = pl__os_close(fd)) != 0) {
        (void)pl__os_unlink(path);
        return pl__fail_os(PL_ERR_IO, err, "close PID file", path);
    }
    return PL_OK;
}

/* Whether the file at path is the one with identity id. */
static int same_file(const char *path, const pl__os_file_id *id)
{
    pl__os_file_id now;
    return pl__os_path_id(path, &now) == 0 && now.dev == id->dev &&
           now.ino == id->ino;
}

static int remove_files(pl_lock *l)
{
    pid_data *d = l->data;
    pl__os_file_id held;
    int rc = PL_OK, err;
    /* Only a PID file we wrote (same inode, which a new file can reuse at
   once, and our PID in it), and only while the sidecar at its path is
       still the one we hold: if someone removed or replaced the sidecar,
       a later holder may have written the PID file since, and removing
       it would hide that holder. */
    if (d->have_written && pl__os_fd_id(l->fd, &held) == 0 &&
        same_file(l->path, &held) && same_file(d->path, &d->written) &&
        read_pid(l) == pl__self_pid()) {
        err = pl__os_unlink(d->path);
        if (err && err != ENOENT)
            rc = pl__fail_os(PL_ERR_IO, err, "remove", d->path);
    }
    d->have_written = 0;
    err = pl__lock_unlink_if_ours(l, l->path);
    return rc != PL_OK ? rc : err;
}

static void remove_files_at_exit(pl_lock *l)
{
    (void)remove_files(l);
}

/* Every lock failure of a PID-file lock is contention; record the PID the
   holder wrote. */
static int report_holder(pl_lock *l, int rc)
{
    if (rc == PL_ERR_LOCK_FAILED) {
        char detail[256]; /* the message buffer is rewritten below */
        snprintf(detail, sizeof detail, "%s", pl_last_error_message());
        rc = pl__fail(PL_ERR_ALREADY_LOCKED, pl_last_errno(), "%s", detail);
    }
    if (rc == PL_ERR_ALREADY_LOCKED)
        l->holder_pid = read_pid(l);
    return rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' ||
           c == '\f';
}

/* The PID in the PID file, 0 if missing, unreadable, empty or not a plain
   positive decimal number (the reference returns None). Strict as the
   reference: ASCII digits only between optional whitespace, so a sign
   ('+7', '-1': kill(-1) signals every process), '0x10' or '1_000' is
   junk. Leaves the last error alone, so a failed acquire can report the
   holder without erasing its own error. */
static long read_pid(const pl_lock *l)
{
    char buf[32];
    size_t len = 0, i = 0, digits;
    long pid = 0;
    if (pl__os_read_small(pid_path(l), buf, sizeof buf, &len) != 0)
        return 0;
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    buf[len] = '\0';
    while (i < len && is_space(buf[i]))
        i++;
    for (digits = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) {
        /* More digits than a long holds: junk, not an overflow. */
        if (pid > (LONG_MAX - 9) / 10)
            return 0;
        pid = pid * 10 + (buf[i] - '0');
    }
    while (i < len && is_space(buf[i]))
        i++;
    if (!digits || i != len || pid <= 0)
        return 0;
    return pid;
}

PL_EXPORT pl_status pl_lock_read_pid(const pl_lock *l, long *pid_out)
{
    if (!l || !pid_out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "lock and pid_out must not be NULL");
    *pid_out = 0;
    if (l->kind != &pidfile_kind)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "read_pid needs a PID-file lock");
    *pid_out = read_pid(l);
    return pl__ok();
}
