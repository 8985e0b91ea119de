/* libFuzzer target: semaphore names and filename patterns (user input in
   every binding), pl_semaphore_new + pl_semaphore_set_filename_pattern +
   pl_semaphore_set_directory, then every slot path. Input layout: byte 0 =
   maximum (mod 9, 0 is refused), then name, pattern and directory split at
   NUL bytes (a missing part is left at its default). No file is touched:
   paths are only built. Names with '/' or ".." must be refused, the
   maximum kept, out-of-range slots refused. */
#include "portalocker.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *parts[3] = {NULL, NULL, NULL}, *p, *end;
    char path[4096];
    pl_semaphore *s = NULL;
    int maximum, i, k = 0, rc;
    if (size < 1)
        return 0;
    maximum = data[0] % 9;
    buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    end = buf + size - 1;
    for (p = buf; k < 3 && p <= end; k++) {
        parts[k] = p;
        p += strlen(p) + 1;
    }
    rc = pl_semaphore_new(&s, maximum, parts[0]);
    if (rc != PL_OK) {
        if (s)
            abort();
        free(buf);
        return 0;
    }
    if (parts[0] && (strchr(parts[0], '/') || strstr(parts[0], "..")))
        abort(); /* documented: refused */
    if (parts[1])
        (void)pl_semaphore_set_filename_pattern(s, parts[1]);
    if (parts[2] && parts[2][0] == '/')
        (void)pl_semaphore_set_directory(s, parts[2]);
    if (!pl_semaphore_name(s) || pl_semaphore_maximum(s) != maximum)
        abort();
    for (i = 0; i < maximum; i++) {
        if (pl_semaphore_slot_path(s, i, path, sizeof path) == PL_OK &&
            strlen(path) >= sizeof path)
            abort();
    }
    if (pl_semaphore_slot_path(s, maximum, path, sizeof path) == PL_OK)
        abort(); /* out of range */
    pl_semaphore_free(s);
    free(buf);
    return 0;
}
