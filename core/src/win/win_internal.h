/* What the Windows platform files (core/src/win/) share: UTF-8 paths as
   wide strings, Win32 error codes as errno values, and the table that
   gives waitable HANDLEs (events, change notifications) the int numbers
   the seam's poll works with. Not part of the seam itself. */
#ifndef PL_WIN_INTERNAL_H
#define PL_WIN_INTERNAL_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stddef.h>

/* A UTF-8 path as a malloc'ed UTF-16 string, '/' turned into '\', an
   absolute path given the \\?\ prefix (no MAX_PATH limit, no parsing of
   "." or trailing dots and spaces by the Win32 layer). EINVAL for bytes
   that are not UTF-8 or an empty path, ENOMEM. */
int pl__win_wide_path(const char *path, wchar_t **out);

/* The errno value for a Win32 error code (GetLastError()). */
int pl__win_errno(DWORD error);

/* Waitable handles as small numbers: their ints start at
   PL__WIN_WAIT_BASE, far above any CRT descriptor, so pl__os_poll tells
   the two apart. register: the number, or -1 (table full / no memory);
   get: the HANDLE, NULL for a number not in the table; release: forget
   the number (the caller closes the handle). */
#define PL__WIN_WAIT_BASE 0x40000000
int pl__win_wait_register(HANDLE h);
HANDLE pl__win_wait_get(int id);
void pl__win_wait_release(int id);

/* Winsock error codes as errno values, and the messages of the socket
   errno values the CRT's strerror does not know (NULL for others). */
int pl__win_net_errno(int wsa_error);
const char *pl__win_net_strerror(int errnum);

/* Calls of the CRT on a caller's descriptor (which may be closed): the
   UCRT (the Python extension's CRT) calls the invalid-parameter handler
   for a bad descriptor, which ends the process by default; between these
   two the calling thread's handler ignores it, so the call fails with
   EBADF, as on POSIX (the previous handler is put back; msvcrt just
   fails). */
#ifdef _UCRT
#include <stdlib.h>
/* The UCRT's (ucrtbase.dll), which mingw-w64 12's headers do not declare. */
_invalid_parameter_handler __cdecl _set_thread_local_invalid_parameter_handler(
    _invalid_parameter_handler handler);
void pl__win_ignore_invalid_parameter(const wchar_t *, const wchar_t *,
                                      const wchar_t *, unsigned int, uintptr_t);
#define PL__WIN_CRT_BEGIN                                                    \
    {                                                                        \
        _invalid_parameter_handler pl__saved_iph =                           \
            _set_thread_local_invalid_parameter_handler(                     \
                pl__win_ignore_invalid_parameter);
#define PL__WIN_CRT_END                                                      \
        _set_thread_local_invalid_parameter_handler(pl__saved_iph);          \
    }
#else
#define PL__WIN_CRT_BEGIN {
#define PL__WIN_CRT_END }
#endif

/* The OS handle behind a CRT descriptor, INVALID_HANDLE_VALUE if none. */
HANDLE pl__win_handle(int fd);

#endif
