/*
 * open_atomic: write a whole file, then publish it under its name in one
 * step that never replaces an existing file. The data goes to a temporary
 * file in the destination's directory (mode 0666 less the umask, as a
 * plain open() gives), is fsynced, and is published with link(2) (EEXIST
 * if the name appeared meanwhile: the other file is left untouched); the
 * directory is fsynced so the new name survives a crash.
 *
 * Cleanup follows the reference portalocker: abandoning, or a failing
 * fsync/close (an incomplete payload), removes the temporary file; a
 * failing publication keeps it, finished, and the error names it, so the
 * caller's data is never silently destroyed.
 *
 * Filesystems without hard links (exFAT, some SMB/NFS/FUSE mounts: link
 * fails with EPERM, ENOTSUP/EOPNOTSUPP or EMLINK) fall back to "refuse if
 * the name exists (lstat), else rename(2)": still atomic content, but two
 * publishers racing there can both pass the check (the later one wins).
 */
#include "internal.h"
#include "platform.h"

#include <errno.h>
#include <stdlib.h>

struct pl_atomic_file {
    char *path;
    char *temp_path; /* NULL once removed */
    int fd;
    int kept; /* publication failed: the temporary file is the caller's */
};

static int remove_temp(pl_atomic_file *f)
{
    int err = 0;
    if (f->fd >= 0)
        (void)pl__os_close(f->fd);
    f->fd = -1;
    if (f->temp_path) {
        err = pl__os_unlink(f->temp_path);
        if (err == ENOENT)
            err = 0;
        /* On failure keep the name: pl_atomic_free tries again, and
           pl_atomic_temp_path tells the caller what is left behind. */
        if (!err) {
            free(f->temp_path);
            f->temp_path = NULL;
        }
    }
    return err;
}

PL_EXPORT pl_status pl_atomic_open(pl_atomic_file **out, const char *path)
{
    pl_atomic_file *f;
    int err, exists = 0;
    if (!out)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    *out = NULL;
    if (!path || !*path)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "path must not be NULL or empty");
    if ((err = pl__os_exists(path, &exists)) != 0)
        return pl__fail_os(PL_ERR_IO, err, "check", path);
    if (exists)
        return pl__fail(PL_ERR_EXISTS, EEXIST, "'%s' exists", path);
    if ((err = pl__os_make_parents(path)) != 0)
        return pl__fail_os(PL_ERR_IO, err, "create the directory of", path);
    if (!(f = calloc(1, sizeof *f)))
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    f->fd = -1;
    if (!(f->path = pl__strdup(path))) {
        free(f);
        return pl__fail(PL_ERR_NO_MEMORY, ENOMEM, "out of memory");
    }
    if ((err = pl__os_make_temp(path, &f->fd, &f->temp_path)) != 0) {
        free(f->path);
        free(f);
        return pl__fail_os(PL_ERR_IO, err, "create a temporary file next to",
                           path);
    }
    *out = f;
    return pl__ok();
}

PL_EXPORT int pl_atomic_fd(const pl_atomic_file *f)
{
    return f ? f->fd : -1;
}

PL_EXPORT const char *pl_atomic_temp_path(const pl_atomic_file *f)
{
    return f && f->temp_path ? f->temp_path : "";
}

/* No hard links on this filesystem (see the top of the file). */
static int no_hard_links(int err)
{
    if (err == EPERM || err == ENOTSUP || err == EMLINK)
        return 1;
#if EOPNOTSUPP != ENOTSUP /* one value on Linux, two elsewhere */
    return err == EOPNOTSUPP;
#else
    return 0;
#endif
}

/* Publish temp_path under path, never over an existing name: 0, or the
   errno (EEXIST: the name exists). *renamed: the rename fallback moved
   the temporary name away. */
static int publish(const pl_atomic_file *f, int *renamed)
{
    int err = pl__os_link(f->temp_path, f->path), exists = 0;
    *renamed = 0;
    if (!no_hard_links(err))
        return err;
    if ((err = pl__os_exists(f->path, &exists)) != 0)
        return err;
    if (exists)
        return EEXIST;
    if ((err = pl__os_rename(f->temp_path, f->path)) != 0)
        return err;
    *renamed = 1;
    return 0;
}

PL_EXPORT pl_status pl_atomic_commit(pl_atomic_file *f)
{
    int err, rc, renamed;
    if (!f)
        return pl__fail(PL_ERR_INVALID_ARGUMENT, 0,
                        "atomic file handle must not be NULL");
    if (f->fd < 0 || !f->temp_path)
        return pl__fail(PL_ERR_INVALID_STATE, 0,
                        "'%s' was already committed or abandoned", f->path);
    if ((err = pl__os_fsync(f->fd)) != 0) {
        rc = pl__fail_os(PL_ERR_IO, err, "fsync", f->temp_path);
        (void)remove_temp(f);
        return rc;
    }
    if ((err = pl__os_close(f->fd)) != 0) {
        f->fd = -1;
        rc = pl__fail_os(PL_ERR_IO, err, "close", f->temp_path);
        (void)remove_temp(f);
        return rc;
    }
    f->fd = -1;
    /* link(2), not rename(2): rename would replace a file that appeared
       while we were writing. */
    if ((err = publish(f, &renamed)) != 0) {
        char buf[128];
        /* The payload is complete: keep it and say where it is. */
        f->kept = 1;
        if (err == EEXIST)
            return pl__fail(PL_ERR_EXISTS, err,
                            "'%s' appeared while it was being written; it was "
                            "left untouched (payload preserved at %s)",
                            f->path, f->temp_path);
        return pl__fail(pl__code_for_errno(err, PL_ERR_IO), err,
                        "cannot publish '%s': %s (payload preserved at %s)",
                        f->path, pl__os_strerror(err, buf, sizeof buf),
                        f->temp_path);
    }
    if (renamed) {
        free(f->temp_path);
        f->temp_path = NULL;
    } else if ((err = remove_temp(f)) != 0)
        return pl__fail_os(PL_ERR_IO, err, "remove the temporary file",
                           f->temp_path);
    if ((err = pl__os_fsync_parent(f->path)) != 0)
        return pl__fail_os(PL_ERR_IO, err, "fsync the directory of", f->path);
    return pl__ok();
}

PL_EXPORT void pl_atomic_free(pl_atomic_file *f)
{
    if (!f)
        return;
    if (!f->kept)
        (void)remove_temp(f);
    free(f->temp_path); /* still set if it could not be removed */
    free(f->path);
    free(f);
}
