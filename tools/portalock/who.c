/* portalock who: who holds a lock, read-only. Files: the kernel's lock
   table (/proc/locks) for the file's inode, and for a PID file the PID it
   names (its lock is "<path>.lock"). Redis: the holders' records through
   the read-only probe (never subscribes, never reaps).
   Exit: 0 held, 1 not held, else the error's code. */
#define _GNU_SOURCE
#include "portalock.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static int usage(const char *why)
{
    warnx_("who: %s", why);
    fputs("Usage: portalock who <file> [--json]\n"
          "       portalock who --redis <url> <channel> [--json] [-w <secs>]\n",
          stderr);
    return EXIT_USAGE;
}

static void command_name(long pid, char *buf, size_t size)
{
    char path[64];
    FILE *f;
    buf[0] = '\0';
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(buf, (int)size, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
}

/* Adds the table's entries for `st` to holders (and waiters, the "->"
   lines) as JSON objects; returns the number of holders. */
static int scan_locks(const struct stat *st, cJSON *holders, cJSON *waiters)
{
    FILE *f = fopen("/proc/locks", "r");
    char line[512];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        char kind[16], adv[16], mode[16];
        unsigned maj, min;
        unsigned long long ino;
        long pid;
        int waiting = strstr(line, "->") != NULL;
        char *p = strchr(line, ':');
        cJSON *e;
        char comm[64];
        if (!p)
            continue;
        p++;
        if (waiting)
            p = strstr(p, "->") + 2;
        if (sscanf(p, "%15s %15s %15s %ld %x:%x:%llu", kind, adv, mode, &pid,
                   &maj, &min, &ino) != 7)
            continue;
        if (ino != (unsigned long long)st->st_ino ||
            makedev(maj, min) != st->st_dev)
            continue;
        e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "pid", (double)pid);
        command_name(pid, comm, sizeof comm);
        cJSON_AddStringToObject(e, "command", comm);
        cJSON_AddStringToObject(e, "mode", strcmp(mode, "WRITE") == 0 ? "exclusive"
                                           : strcmp(mode, "READ") == 0 ? "shared"
                                                                       : mode);
        cJSON_AddStringToObject(e, "mechanism", strcmp(kind, "FLOCK") == 0 ? "flock"
                                                : strcmp(kind, "OFDLCK") == 0 ? "ofd"
                                                : strcmp(kind, "POSIX") == 0 ? "posix"
                                                                             : kind);
        if (waiting) {
            cJSON_AddItemToArray(waiters, e);
        } else {
            cJSON_AddItemToArray(holders, e);
            n++;
        }
    }
    fclose(f);
    return n;
}

static long read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

static void print_entries(const char *label, cJSON *list, const char *path)
{
    cJSON *e;
    cJSON_ArrayForEach(e, list) {
        long pid = (long)cJSON_GetObjectItem(e, "pid")->valuedouble;
        const char *comm = cJSON_GetObjectItem(e, "command")->valuestring;
        printf("%s: %s by ", path, label);
        /* The kernel shows no owner (-1) for OFD locks taken by a
           process other than the one that opened the file. */
        if (pid > 0)
            printf("PID %ld%s%s%s", pid, *comm ? " (" : "", comm, *comm ? ")" : "");
        else
            printf("an open file description (no owner PID)");
        printf(", %s, %s\n", cJSON_GetObjectItem(e, "mode")->valuestring,
               cJSON_GetObjectItem(e, "mechanism")->valuestring);
    }
}

static int who_file(const char *path, int json)
{
    struct stat st;
    char lockpath[4096];
    const char *target = path;
    long pidfile_pid = 0;
    int n;
    cJSON *out, *holders, *waiters;

    /* A PID file's lock is "<path>.lock"; the PID file itself says who. */
    snprintf(lockpath, sizeof lockpath, "%s.lock", path);
    if (stat(lockpath, &st) == 0 && S_ISREG(st.st_mode)) {
        target = lockpath;
        pidfile_pid = read_pid(path);
    } else if (stat(path, &st) != 0) {
        int err = errno;
        warnx_("who: cannot inspect %s: %s", path, strerror(err));
        return EXIT_NOINPUT;
    }
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "path", path);
    holders = cJSON_AddArrayToObject(out, "holders");
    waiters = cJSON_AddArrayToObject(out, "waiting");
    if ((n = scan_locks(&st, holders, waiters)) < 0) {
        warnx_("who: cannot read /proc/locks: %s", strerror(errno));
        cJSON_Delete(out);
        return EXIT_OSERR;
    }
    cJSON_AddBoolToObject(out, "held", n > 0);
    if (target != path) {
        cJSON_AddStringToObject(out, "lock_file", lockpath);
        /* Stale when nobody holds the lock: the PID is what was left. */
        cJSON_AddNumberToObject(out, "pidfile_pid", (double)pidfile_pid);
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(out);
        puts(s);
        free(s);
    } else if (n == 0) {
        printf("%s: not held%s\n", path,
               target != path && pidfile_pid > 0 ? " (stale PID in the PID file)" : "");
    } else {
        if (target != path)
            printf("%s: PID file names PID %ld\n", path, pidfile_pid);
        print_entries("held", holders, target);
        print_entries("waited for", waiters, target);
    }
    cJSON_Delete(out);
    return n > 0 ? 0 : 1;
}

static int who_redis(const char *url, const char *channel, double timeout, int json)
{
    pl_redis_lock *l = NULL;
    pl_redis_holders *hs = NULL;
    size_t i, n;
    int rc;
    cJSON *out, *list;
    if ((rc = pl_redis_lock_new(&l, channel, strlen(channel))) != PL_OK ||
        (rc = pl_redis_lock_set_url(l, url)) != PL_OK ||
        (rc = pl_redis_lock_probe(l, timeout, &hs)) != PL_OK) {
        warnx_("who: %s", pl_last_error_message());
        pl_redis_lock_free(l);
        return rc == PL_ERR_CONNECTION ? EXIT_UNAVAILABLE
               : rc == PL_ERR_INVALID_ARGUMENT || rc == PL_ERR_UNSUPPORTED ? EXIT_USAGE
                                                                           : EXIT_DATAERR;
    }
    n = pl_redis_holders_count(hs);
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "channel", channel);
    cJSON_AddBoolToObject(out, "held", n > 0);
    list = cJSON_AddArrayToObject(out, "holders");
    for (i = 0; i < n; i++) {
        const char *id = "";
        int mode = 0, elected = -1;
        cJSON *e = cJSON_CreateObject();
        pl_redis_holders_get(hs, i, &id, &mode, &elected);
        cJSON_AddStringToObject(e, "holder_id", id);
        cJSON_AddStringToObject(e, "mode", mode == PL_REDIS_MODE_SHARED ? "shared"
                                           : mode == PL_REDIS_MODE_PENDING ? "pending"
                                                                           : "exclusive");
        if (elected >= 0)
            cJSON_AddBoolToObject(e, "elected", elected);
        cJSON_AddItemToArray(list, e);
        if (!json)
            printf("%s: held by %s, %s%s\n", channel, id,
                   cJSON_GetObjectItem(e, "mode")->valuestring,
                   elected == 1 ? ", elected writer" : "");
    }
    if (json) {
        char *s = cJSON_PrintUnformatted(out);
        puts(s);
        free(s);
    } else if (n == 0) {
        printf("%s: not held\n", channel);
    }
    cJSON_Delete(out);
    pl_redis_holders_free(hs);
    pl_redis_lock_free(l);
    return n > 0 ? 0 : 1;
}

int who_main(int argc, char **argv)
{
    const char *path = NULL, *url = NULL, *channel = NULL;
    double timeout = PL_INHERIT;
    int i, json = 0;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--redis") == 0) {
            if (i + 2 >= argc)
                return usage("--redis needs a URL and a channel");
            url = argv[++i];
            channel = argv[++i];
        } else if (strcmp(argv[i], "-w") == 0 || strcmp(argv[i], "--timeout") == 0) {
            char *end;
            if (i + 1 >= argc)
                return usage("-w needs a number of seconds");
            timeout = strtod(argv[++i], &end);
            if (*end || end == argv[i] || !(timeout > 0) || isinf(timeout))
                return usage("invalid timeout value");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            warnx_("who: unknown option '%s'", argv[i]);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            return usage("one file at a time");
        }
    }
    if (url && path)
        return usage("a file or --redis, not both");
    if (url)
        return who_redis(url, channel, timeout, json);
    if (!path)
        return usage("which file?");
    return who_file(path, json);
}
