/*
 * Conformance agent for C: JSON lines on stdin, JSON lines on stdout
 * (protocol: tests/conformance/README.md). Uses only the public header
 * <portalocker.h>, linked against build/libportalocker.so.1, and cJSON.
 * Errors are reported by pl_error_exception(code), the core's own name.
 * The same file is cross-built for Windows (agent_c.exe, against
 * libportalocker-1.dll, run under wine): the few POSIX calls have their
 * Windows equivalents beside them under _WIN32.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
/* No clock_gettime or getpid in the Windows API: the performance
   counter and the Windows process id (what the core writes into a PID
   file there), and the CRT's low-level I/O for the descriptors the core
   hands out (_open_osfhandle). */
#define WIN32_LEAN_AND_MEAN
#include <io.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "portalocker.h"

#define MAX_HANDLES 16

typedef struct handle {
    char name[64];
    char type[32];
    pl_lock *lock;
    pl_semaphore *sem;
    pl_redis_lock *redis;
} handle;

static handle handles[MAX_HANDLES];
static int nhandles;

static double now(void) {
#ifdef _WIN32
    LARGE_INTEGER count, freq;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&freq);
    return (double)count.QuadPart / (double)freq.QuadPart;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

static long process_id(void) {
#ifdef _WIN32
    return (long)GetCurrentProcessId();
#else
    return (long)getpid();
#endif
}

/* Empties the open file (the counter, rewritten under the lock). */
static int truncate_file(FILE *f) {
#ifdef _WIN32
    return _chsize(_fileno(f), 0);
#else
    return ftruncate(fileno(f), 0);
#endif
}

/* One line of stdin into *buf (grown as needed); -1 at the end. ISO C
   (fgets), where POSIX getline is missing (Windows). */
static long read_line(char **buf, size_t *cap, FILE *in) {
    size_t len = 0;
    if (!*buf || *cap < 256) {
        char *grown = realloc(*buf, 256);
        if (!grown) return -1;
        *buf = grown, *cap = 256;
    }
    for (;;) {
        if (!fgets(*buf + len, (int)(*cap - len), in)) return len ? (long)len : -1;
        len += strlen(*buf + len);
        if (len && (*buf)[len - 1] == '\n') return (long)len;
        if (len + 1 == *cap) {
            char *grown = realloc(*buf, *cap * 2);
            if (!grown) return -1;
            *buf = grown, *cap *= 2;
        }
    }
}

static void send(cJSON *obj) {
    char *text = cJSON_PrintUnformatted(obj);
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(text);
}

static const char *str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int has_num(const cJSON *obj, const char *key, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v)) return 0;
    *out = v->valuedouble;
    return 1;
}

static int is_true(const cJSON *obj, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* A failed call: the error's class name from the core's table. */
static void set_error(cJSON *reply, pl_status rc) {
    cJSON_AddBoolToObject(reply, "ok", 0);
    cJSON_AddStringToObject(reply, "error", pl_error_exception(rc));
    cJSON_AddStringToObject(reply, "message", pl_last_error_message());
}

static void set_failure(cJSON *reply, const char *name, const char *message) {
    cJSON_AddBoolToObject(reply, "ok", 0);
    cJSON_AddStringToObject(reply, "error", name);
    cJSON_AddStringToObject(reply, "message", message);
}

/* Creates the handle from the command's lock spec. */
static pl_status make_handle(handle *h, const cJSON *spec) {
    const char *type = str(spec, "type");
    const char *path = str(spec, "path");
    int flags = is_true(spec, "shared") ? PL_LOCK_SH : PL_LOCK_EX;
    pl_status rc;
    if (!type) return PL_ERR_INVALID_ARGUMENT;
    snprintf(h->type, sizeof h->type, "%s", type);
    if (!is_true(spec, "blocking")) flags |= PL_LOCK_NB;
    if (!strcmp(type, "Lock") || !strcmp(type, "RLock") ||
        !strcmp(type, "TemporaryFileLock") || !strcmp(type, "PidFileLock")) {
        if (!strcmp(type, "Lock")) rc = pl_lock_new(&h->lock, path);
        else if (!strcmp(type, "RLock")) rc = pl_rlock_new(&h->lock, path);
        else if (!strcmp(type, "TemporaryFileLock")) rc = pl_temporary_lock_new(&h->lock, path);
        else rc = pl_pidfile_lock_new(&h->lock, path);
        if (rc) return rc;
        if ((rc = pl_lock_set_flags(h->lock, flags))) return rc;
        const char *mode = str(spec, "mode");
        if (mode && (rc = pl_lock_set_mode(h->lock, mode))) return rc;
        const char *mech = str(spec, "mechanism");
        if (mech) {
            int m = !strcmp(mech, "flock") ? PL_MECH_FLOCK
                    : !strcmp(mech, "posix") ? PL_MECH_POSIX
                    : !strcmp(mech, "ofd") ? PL_MECH_OFD
                    : -1; /* the core refuses it, naming the value */
            if ((rc = pl_lock_set_mechanism(h->lock, m))) return rc;
        }
        return PL_OK;
    }
    if (!strcmp(type, "BoundedSemaphore")) {
        double maximum = 0;
        has_num(spec, "maximum", &maximum);
        if ((rc = pl_semaphore_new(&h->sem, (int)maximum, str(spec, "name")))) return rc;
        return pl_semaphore_set_directory(h->sem, str(spec, "directory"));
    }
    if (!strcmp(type, "RedisLock")) {
        const char *channel = str(spec, "channel");
        double port = 6379;
        if (!channel) return PL_ERR_INVALID_ARGUMENT;
        has_num(spec, "port", &port);
        if ((rc = pl_redis_lock_new(&h->redis, channel, strlen(channel)))) return rc;
        double unavailable;
        if ((rc = pl_redis_lock_set_host(h->redis, str(spec, "host"), (int)port))) return rc;
        if (has_num(spec, "unavailable_timeout", &unavailable) &&
            (rc = pl_redis_lock_set_unavailable_timeout(h->redis, unavailable)))
            return rc;
        if ((rc = pl_redis_lock_set_fencing(h->redis, is_true(spec, "fencing")))) return rc;
        return pl_redis_lock_set_flags(h->redis, flags & ~PL_LOCK_NB);
    }
    return PL_ERR_INVALID_ARGUMENT;
}

static handle *find_handle(const cJSON *cmd, pl_status *rc) {
    const char *name = str(cmd, "handle");
    *rc = PL_OK;
    if (!name) { *rc = PL_ERR_INVALID_ARGUMENT; return NULL; }
    for (int i = 0; i < nhandles; i++)
        if (!strcmp(handles[i].name, name)) return &handles[i];
    if (nhandles == MAX_HANDLES) { *rc = PL_ERR_NO_MEMORY; return NULL; }
    handle *h = &handles[nhandles];
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", name);
    *rc = make_handle(h, cJSON_GetObjectItemCaseSensitive(cmd, "lock"));
    if (*rc) {
        pl_lock_free(h->lock);
        pl_semaphore_free(h->sem);
        pl_redis_lock_free(h->redis);
        return NULL;
    }
    nhandles++;
    return h;
}

/* Per-call overrides: PL_INHERIT when the command leaves them out. */
static pl_status do_acquire(handle *h, const cJSON *args, int *slot) {
    double timeout = PL_INHERIT, interval = PL_INHERIT, fwl = PL_INHERIT;
    if (args) {
        has_num(args, "timeout", &timeout);
        has_num(args, "check_interval", &interval);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(args, "fail_when_locked");
        if (cJSON_IsBool(f)) fwl = cJSON_IsTrue(f) ? 1 : 0;
    }
    if (h->lock) return pl_lock_acquire_with(h->lock, timeout, interval, (int)fwl, NULL);
    if (h->sem) return pl_semaphore_acquire_with(h->sem, timeout, interval, slot);
    return pl_redis_lock_acquire_with(h->redis, timeout, interval, (int)fwl);
}

static pl_status do_release(handle *h) {
    if (h->lock) return pl_lock_release(h->lock);
    if (h->sem) return pl_semaphore_release(h->sem);
    return pl_redis_lock_release(h->redis);
}

/* Read the counter, write counter + 1 (plain stdio, under the lock). */
static int bump(const char *path) {
    FILE *f = fopen(path, "a+");
    long value = 0;
    if (!f) return -1;
    rewind(f);
    if (fscanf(f, "%ld", &value) != 1) value = 0;
    if (truncate_file(f) != 0) { fclose(f); return -1; }
    fprintf(f, "%ld", value + 1);
    return fclose(f) == 0 ? 0 : -1;
}

static void handle_command(cJSON *cmd, cJSON *reply, int *quit) {
    const char *op = str(cmd, "op");
    double start = now();
    pl_status rc;
    if (!op) op = "";
    if (!strcmp(op, "hello")) {
        cJSON_AddNumberToObject(reply, "pid", (double)process_id());
        cJSON_AddStringToObject(reply, "version", pl_version_string());
    } else if (!strcmp(op, "exit")) {
        *quit = 1;
    } else if (!strcmp(op, "acquire") || !strcmp(op, "release") ||
               !strcmp(op, "read_pid") || !strcmp(op, "increment") ||
               !strcmp(op, "write") || !strcmp(op, "probe") ||
               !strcmp(op, "ensure_held")) {
        handle *h = find_handle(cmd, &rc);
        if (!h) { set_error(reply, rc); return; }
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(cmd, "args");
        if (!strcmp(op, "acquire")) {
            int slot = -1;
            start = now();
            rc = do_acquire(h, args, &slot);
            cJSON_AddNumberToObject(reply, "elapsed", now() - start);
            if (rc) {
                set_error(reply, rc);
                if (rc == PL_ERR_ALREADY_LOCKED && h->lock && !strcmp(h->type, "PidFileLock")) {
                    long pid = pl_lock_holder_pid(h->lock);
                    if (pid > 0) cJSON_AddNumberToObject(reply, "holder_pid", (double)pid);
                    else cJSON_AddNullToObject(reply, "holder_pid");
                }
                return;
            }
            if (h->sem) cJSON_AddNumberToObject(reply, "slot", slot);
            if (h->redis) {
                long long token = 0;
                cJSON_AddStringToObject(reply, "holder_id", pl_redis_lock_holder_id(h->redis));
                if (pl_redis_lock_get_fence_token(h->redis, &token) == PL_OK && token > 0)
                    cJSON_AddNumberToObject(reply, "fence_token", (double)token);
                else
                    cJSON_AddNullToObject(reply, "fence_token");
            }
        } else if (!strcmp(op, "release")) {
            if ((rc = do_release(h))) { set_error(reply, rc); return; }
        } else if (!strcmp(op, "write")) {
            /* the descriptor acquire locked (owned by the handle) */
            const char *data = str(cmd, "data");
            int fd = h->lock ? pl_lock_held_fd(h->lock) : -1;
            size_t len = data ? strlen(data) : 0;
            if (fd < 0) { set_failure(reply, "NotHeld", "no locked descriptor"); return; }
            if (write(fd, data ? data : "", len) != (ssize_t)len) {
                set_failure(reply, "OSError", strerror(errno));
                return;
            }
        } else if (!strcmp(op, "probe")) {
            double timeout = PL_INHERIT;
            pl_redis_holders *list = NULL;
            if (!h->redis) { set_failure(reply, "NotExposed", "probe needs a RedisLock"); return; }
            if (args) has_num(args, "timeout", &timeout);
            if ((rc = pl_redis_lock_probe(h->redis, timeout, &list))) { set_error(reply, rc); return; }
            cJSON *holders = cJSON_AddArrayToObject(reply, "holders");
            for (size_t i = 0; i < pl_redis_holders_count(list); i++) {
                const char *id = NULL;
                int mode = -1;
                cJSON *entry = cJSON_CreateObject();
                pl_redis_holders_get(list, i, &id, &mode, NULL);
                cJSON_AddStringToObject(entry, "holder_id", id ? id : "");
                cJSON_AddStringToObject(entry, "mode",
                                        mode == PL_REDIS_MODE_SHARED ? "shared"
                                        : mode == PL_REDIS_MODE_PENDING ? "pending"
                                                                        : "exclusive");
                cJSON_AddItemToArray(holders, entry);
            }
            pl_redis_holders_free(list);
        } else if (!strcmp(op, "ensure_held")) {
            /* quiet unless the lock was lost (the reference's ensure_held) */
            int lost = 0;
            if (!h->redis) { set_failure(reply, "NotExposed", "ensure_held needs a RedisLock"); return; }
            if ((rc = pl_redis_lock_is_lost(h->redis, &lost))) { set_error(reply, rc); return; }
            if (!lost && pl_redis_lock_check(h->redis) == PL_ERR_LOCK_LOST) lost = 1;
            if (lost) { set_failure(reply, "LockLost", "the lock was lost"); return; }
        } else if (!strcmp(op, "read_pid")) {
            long pid = 0;
            if (!h->lock) { set_failure(reply, "NotExposed", "read_pid needs a file lock"); return; }
            if ((rc = pl_lock_read_pid(h->lock, &pid))) { set_error(reply, rc); return; }
            if (pid > 0) cJSON_AddNumberToObject(reply, "pid", (double)pid);
            else cJSON_AddNullToObject(reply, "pid");
        } else {
            const char *counter = str(cmd, "counter");
            double n = 0;
            has_num(cmd, "n", &n);
            for (int i = 0; i < (int)n; i++) {
                if ((rc = do_acquire(h, args, NULL))) { set_error(reply, rc); return; }
                int err = bump(counter);
                int saved = errno;
                if ((rc = do_release(h))) { set_error(reply, rc); return; }
                if (err) { set_failure(reply, "OSError", strerror(saved)); return; }
            }
        }
    } else if (!strcmp(op, "open_atomic")) {
        pl_atomic_file *file = NULL;
        const char *data = str(cmd, "data");
        if ((rc = pl_atomic_open(&file, str(cmd, "path")))) { set_error(reply, rc); return; }
        size_t len = data ? strlen(data) : 0;
        if (write(pl_atomic_fd(file), data ? data : "", len) != (ssize_t)len) {
            pl_atomic_free(file);
            set_failure(reply, "OSError", strerror(errno));
            return;
        }
        if (is_true(cmd, "hold")) {
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddItemToObject(ev, "id", cJSON_Duplicate(cJSON_GetObjectItem(cmd, "id"), 1));
            cJSON_AddStringToObject(ev, "event", "open");
            send(ev);
            cJSON_Delete(ev);
            char *line = NULL;
            size_t cap = 0;
            if (read_line(&line, &cap, stdin) < 0) { free(line); pl_atomic_free(file); *quit = 1; return; }
            free(line); /* {"op": "continue"} */
        }
        rc = pl_atomic_commit(file);
        pl_atomic_free(file);
        if (rc) { set_error(reply, rc); return; }
    } else {
        set_failure(reply, "NotExposed", "unknown op");
        return;
    }
    if (!cJSON_GetObjectItem(reply, "elapsed"))
        cJSON_AddNumberToObject(reply, "elapsed", now() - start);
    cJSON_AddBoolToObject(reply, "ok", 1);
}

int main(void) {
    char *line = NULL;
    size_t cap = 0;
    int quit = 0;
    while (!quit && read_line(&line, &cap, stdin) >= 0) {
        cJSON *cmd = cJSON_Parse(line);
        cJSON *reply = cJSON_CreateObject();
        if (!cmd) {
            set_failure(reply, "InvalidArgument", "bad JSON");
        } else {
            const cJSON *id = cJSON_GetObjectItem(cmd, "id");
            if (id) cJSON_AddItemToObject(reply, "id", cJSON_Duplicate(id, 1));
            handle_command(cmd, reply, &quit);
        }
        send(reply);
        cJSON_Delete(reply);
        cJSON_Delete(cmd);
    }
    free(line);
    for (int i = 0; i < nhandles; i++) {
        pl_lock_free(handles[i].lock);
        pl_semaphore_free(handles[i].sem);
        pl_redis_lock_free(handles[i].redis);
    }
    return 0;
}
