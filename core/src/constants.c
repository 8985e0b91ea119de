/* Function twins of the header's macros, for runtimes that cannot see
   macros (ctypes, LuaJIT FFI, JNA). */
#include "internal.h"
#include "platform.h"

PL_EXPORT int pl_version_number(void) { return PL_VERSION_NUMBER; }
PL_EXPORT const char *pl_version_string(void) { return PL_VERSION_STRING; }

PL_EXPORT int pl_flag_shared(void) { return PL_LOCK_SH; }
PL_EXPORT int pl_flag_exclusive(void) { return PL_LOCK_EX; }
PL_EXPORT int pl_flag_non_blocking(void) { return PL_LOCK_NB; }
PL_EXPORT int pl_flag_unblock(void) { return PL_LOCK_UN; }

PL_EXPORT int pl_mechanism_flock(void) { return PL_MECH_FLOCK; }
PL_EXPORT int pl_mechanism_posix(void) { return PL_MECH_POSIX; }
PL_EXPORT int pl_mechanism_ofd(void) { return PL_MECH_OFD; }
PL_EXPORT int pl_inherit(void) { return PL_INHERIT; }

PL_EXPORT pl_status pl_mechanism_supported(int mechanism)
{
    int rc = pl__check_mechanism(mechanism);
    if (rc != PL_OK)
        return rc;
    if (!pl__os_mechanism_supported(mechanism))
        return pl__fail(PL_ERR_UNSUPPORTED, 0,
                        "lock mechanism %d is not supported by this system",
                        mechanism);
    return pl__ok();
}
