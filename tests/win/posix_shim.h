/* Force-included (-include) into the shared cmocka suites of tests/unit
   when they are cross-built for Windows: the few POSIX spellings they use
   that the CRT spells otherwise, and fcntl's two queries. Only that:
   tests that need fork, signals, symlinks or /proc are compiled out in
   the suites themselves, each with its reason. */
#ifndef PL_POSIX_SHIM_H
#define PL_POSIX_SHIM_H

#include <direct.h>
#include <fcntl.h>
#include <io.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir(path, mode): the CRT's takes no mode (ACLs, not mode bits). */
#define mkdir(path, mode) _mkdir(path)

/* O_CLOEXEC: a descriptor children do not inherit. */
#define O_CLOEXEC _O_NOINHERIT

#ifndef NAME_MAX
#define NAME_MAX 255
#endif
/* The longest path Windows opens (through the \\?\ prefix the library
   adds), not MAX_PATH (260): what "a path too long" means there. */
#undef PATH_MAX
#define PATH_MAX 32767

/* fcntl(2)'s two queries the suites make of the library's descriptors:
   F_GETFD (FD_CLOEXEC: the handle is not inheritable) and F_GETFL (the
   access mode, from the handle's granted access, and nothing else);
   tests/win/winutil.c. */
#define F_GETFD 1
#define F_GETFL 3
#define FD_CLOEXEC 1
#ifndef O_ACCMODE
#define O_ACCMODE (_O_RDONLY | _O_WRONLY | _O_RDWR)
#endif
int tw_fcntl(int fd, int cmd);
#define fcntl(fd, cmd) tw_fcntl(fd, cmd)

/* fstat/lstat with the file's identity, which the CRT leaves out
   (st_ino 0): st_dev the volume serial number, st_ino the file index
   folded to the CRT's 16 bits (enough for "is this the same file" in a
   test's directory of a few files); lstat does not follow a reparse
   point. Other fields are the CRT's. */
int tw_fstat(int fd, struct stat *st);
int tw_lstat(const char *path, struct stat *st);
#define fstat(fd, st) tw_fstat(fd, st)
#define lstat(path, st) tw_lstat(path, st)

/* setenv/unsetenv: the CRT's _putenv_s (an empty value removes). */
#include <stdlib.h>
#define setenv(name, value, overwrite) _putenv_s(name, value)
#define unsetenv(name) _putenv_s(name, "")

/* pread/pwrite: ReadFile/WriteFile at an offset, the descriptor's
   position kept. */
ssize_t pread(int fd, void *buf, size_t n, off_t offset);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t offset);

#endif
