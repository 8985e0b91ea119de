/* Force-included (-include) into the shared cmocka suites of tests/unit
   when they are cross-built for Windows: the few POSIX spellings they use
   that the CRT spells otherwise. Only spellings; tests that need fork,
   signals, symlinks or /proc are compiled out in the suites themselves,
   each with its reason. */
#ifndef PL_POSIX_SHIM_H
#define PL_POSIX_SHIM_H

#include <direct.h>
#include <io.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir(path, mode): the CRT's takes no mode (ACLs, not mode bits). */
#define mkdir(path, mode) _mkdir(path)

#include <limits.h>
#ifndef NAME_MAX
#define NAME_MAX 255
#endif
/* The longest path Windows opens (through the \\?\ prefix the library
   adds), not MAX_PATH (260): what "a path too long" means there. */
#undef PATH_MAX
#define PATH_MAX 32767

#endif
