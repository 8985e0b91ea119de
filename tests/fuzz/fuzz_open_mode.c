/* libFuzzer target: open-mode strings (pl_lock_set_mode passes them from
   every binding), pl__parse_mode. Any input is either refused with
   PL_ERR_INVALID_ARGUMENT or gives flags that open for reading and/or
   writing. The input is made a C string (the API takes one). */
#include "internal.h"
#include "platform.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *mode = malloc(size + 1);
    int oflags = 0, trunc = 0, rc;
    if (!mode)
        return 0;
    memcpy(mode, data, size);
    mode[size] = '\0';
    rc = pl__parse_mode(mode, &oflags, &trunc);
    if (rc == PL_OK) {
        if (!(oflags & (PL_O_READ | PL_O_WRITE)))
            abort();
        if (strlen(mode) == 0 || strlen(mode) > 4)
            abort();
    } else if (rc != PL_ERR_INVALID_ARGUMENT) {
        abort();
    }
    free(mode);
    return 0;
}
