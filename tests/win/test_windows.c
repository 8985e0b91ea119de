/*
 * The Windows port under test (run under wine by ci/tests.d/windows.sh):
 * locks between processes (pl_win_helper.exe is the other process, as
 * there is no fork), a killed holder, the reference portalocker's two
 * Windows lock conventions, UTF-8 and long paths, the handle being
 * private to the process, cancellation from another thread, and what
 * Windows refuses (POSIX/OFD mechanisms, semaphore names with '\' or
 * ':'). The Redis lock on Windows is test_redis_windows.c's.
 */
#include "winutil.h"

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A lock on path with flags, fail_when_locked, no waiting. */
static int try_lock(const char *path, int flags, pl_lock **out)
{
    pl_lock *l = NULL;
    int rc;
    tu_ok(pl_lock_new(&l, path));
    tu_ok(pl_lock_set_flags(l, flags));
    tu_ok(pl_lock_set_fail_when_locked(l, 1));
    rc = pl_lock_acquire(l, NULL);
    if (rc == PL_OK && out)
        *out = l;
    else
        pl_lock_free(l);
    return rc;
}

static void excludes_other_processes(void **state)
{
    const char *p = tu_path(state, "a.lock");
    const char *try_ex[] = {"try", p, "ex", NULL}, *try_sh[] = {"try", p, "sh", NULL};
    pl_lock *l = NULL;
    tu_ok(try_lock(p, PL_LOCK_EX | PL_LOCK_NB, &l));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    assert_int_equal(tw_run(try_ex, 30), 1);
    assert_int_equal(tw_run(try_sh, 30), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    assert_int_equal(tw_run(try_ex, 30), 0);
    pl_lock_free(l);
}

static void shared_locks_share(void **state)
{
    const char *p = tu_path(state, "s.lock");
    const char *try_ex[] = {"try", p, "ex", NULL}, *try_sh[] = {"try", p, "sh", NULL};
    pl_lock *l = NULL;
    tu_ok(try_lock(p, PL_LOCK_SH | PL_LOCK_NB, &l));
    assert_int_equal(tw_run(try_sh, 30), 0);
    assert_int_equal(tw_run(try_ex, 30), 1);
    pl_lock_free(l);
    assert_int_equal(tw_run(try_ex, 30), 0);
}

/* Two handles of one process exclude each other, as flock(2) does for
   two open file descriptions. */
static void second_handle_in_process_excluded(void **state)
{
    const char *p = tu_path(state, "h.lock");
    pl_lock *a = NULL;
    tu_ok(try_lock(p, PL_LOCK_EX | PL_LOCK_NB, &a));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(p, PL_LOCK_EX | PL_LOCK_NB, NULL));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(p, PL_LOCK_SH | PL_LOCK_NB, NULL));
    pl_lock_free(a);
    tu_ok(try_lock(p, PL_LOCK_EX | PL_LOCK_NB, NULL));
}

static void killed_holder_releases(void **state)
{
    const char *p = tu_path(state, "k.lock"), *ready = tu_path(state, "k.ready");
    const char *hold[] = {"hold", p, "ex", ready, NULL};
    pl_lock *l = NULL;
    double t0;
    tw_proc h = tw_spawn_ready(hold, ready, 30);
    assert_true(h != 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(p, PL_LOCK_EX | PL_LOCK_NB, NULL));
    tw_kill(h);
    /* The kernel (wineserver) drops a dead process's locks at once. */
    t0 = tu_now();
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire_with(l, 10, 0.05, 0, NULL));
    assert_true(tu_now() - t0 < 5);
    pl_lock_free(l);
}

/* A waiter sees the holder's release within the backoff's cap
   (check_interval), not after its whole timeout. */
static void waiter_sees_release(void **state)
{
    const char *p = tu_path(state, "w.lock"), *ready = tu_path(state, "w.ready");
    const char *hold[] = {"hold", p, "ex", ready, "1.0", NULL};
    pl_lock *l = NULL;
    double t0, waited;
    tw_proc h = tw_spawn_ready(hold, ready, 30);
    assert_true(h != 0);
    t0 = tu_now();
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire_with(l, 30, 0.1, 0, NULL));
    waited = tu_now() - t0;
    assert_int_equal(tw_wait(h, 30), 0);
    /* The holder sleeps ~1 s; loosely bounded (a busy machine). */
    assert_true(waited > 0.3);
    assert_true(waited < 15);
    pl_lock_free(l);
}

/* pl_lock_fd without NON_BLOCKING (and no wait hook) waits until the
   holder releases: on Windows by retrying LOCKFILE_FAIL_IMMEDIATELY, as a
   blocking LockFileEx cannot be cut short (and never completes under
   wine when contended). */
static void blocking_fd_lock_waits_for_the_holder(void **state)
{
    const char *p = tu_path(state, "b.lock"), *ready = tu_path(state, "b.ready");
    const char *hold[] = {"hold", p, "ex", ready, "1.0", NULL};
    double t0, waited;
    int fd;
    tw_proc h = tw_spawn_ready(hold, ready, 30);
    assert_true(h != 0);
    fd = _open(p, _O_RDWR | _O_BINARY);
    assert_true(fd >= 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_fd(fd, PL_LOCK_EX | PL_LOCK_NB));
    t0 = tu_now();
    tu_ok(pl_lock_fd(fd, PL_LOCK_EX));
    waited = tu_now() - t0;
    assert_true(waited > 0.3 && waited < 15);
    assert_int_equal(tw_wait(h, 30), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    tu_ok(pl_unlock_fd(fd));
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);
    _close(fd);
}

/* A releasing semaphore holder touches its slot file, which raises a
   change notification in the directory: the waiter wakes at once, not at
   its next backoff. With a long check_interval the backoff alone tries at
   1, 3, 7, ... 4095, 8191 ms: a release at 4.3 s would be seen at 8.2 s;
   the notification sees it at 4.3 s. Bounded loosely (busy machine).
   (Not a temporary lock: under wine a removed file's name stays while the
   waiter has it open, see the README.) */
static void notification_wakes_a_waiter_before_its_backoff(void **state)
{
    const char *dir = ((tu_dir *)*state)->path, *ready = tu_path(state, "n.ready");
    const char *hold[] = {"sem", "nsem", dir, ready, "4.3", NULL};
    pl_semaphore *s = NULL;
    double t0, waited;
    tw_proc h = tw_spawn_ready(hold, ready, 30);
    assert_true(h != 0);
    t0 = tu_now();
    tu_ok(pl_semaphore_new(&s, 1, "nsem"));
    tu_ok(pl_semaphore_set_directory(s, dir));
    tu_ok(pl_semaphore_acquire_with(s, 60, 30, NULL));
    waited = tu_now() - t0;
    assert_int_equal(tw_wait(h, 30), 0);
    if (getenv("PL_TEST_VERBOSE"))
        print_message("acquired after %.2f s\n", waited);
    if (waited < 3.5 || waited > 6.8)
        fail_msg("acquired %.2f s after the holder got ready (it held 4.3 s; "
                 "the backoff alone would see it at 8.2 s)", waited);
    pl_semaphore_free(s);
}

/* The reference's default MsvcrtLocker: msvcrt.locking, 64 KiB at 0. */
static void reference_msvcrt_convention(void **state)
{
    const char *p = tu_path(state, "m.lock"), *ready = tu_path(state, "m.ready");
    const char *hold[] = {"ref-msvcrt", p, ready, NULL}, *try[] = {"ref-msvcrt-try", p, NULL};
    pl_lock *l = NULL;
    tw_proc h = tw_spawn_ready(hold, ready, 30);
    assert_true(h != 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(p, PL_LOCK_EX | PL_LOCK_NB, NULL));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(p, PL_LOCK_SH | PL_LOCK_NB, NULL));
    tw_kill(h);
    tu_ok(try_lock(p, PL_LOCK_EX | PL_LOCK_NB, &l));
    assert_int_equal(tw_run(try, 30), 1);
    pl_lock_free(l);
    tu_ok(try_lock(p, PL_LOCK_SH | PL_LOCK_NB, &l));
    assert_int_equal(tw_run(try, 30), 1);
    pl_lock_free(l);
    assert_int_equal(tw_run(try, 30), 0);
}

/* The reference's Win32Locker (pywin32): LockFileEx of 0xFFFF0000 <<
   32 bytes at 0, shared or exclusive. */
static void reference_win32_convention(void **state)
{
    const char *p = tu_path(state, "r.lock"), *ready = tu_path(state, "r.ready");
    const char *hold_ex[] = {"ref-win32", p, "ex", ready, NULL};
    const char *hold_sh[] = {"ref-win32", p, "sh", ready, NULL};
    const char *try_ex[] = {"ref-win32-try", p, "ex", NULL};
    const char *try_sh[] = {"ref-win32-try", p, "sh", NULL};
    pl_lock *l = NULL;
    tw_proc h = tw_spawn_ready(hold_ex, ready, 30);
    assert_true(h != 0);
    tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(p, PL_LOCK_SH | PL_LOCK_NB, NULL));
    tw_kill(h);
    DeleteFileA(ready);
    h = tw_spawn_ready(hold_sh, ready, 30);
    assert_true(h != 0);
    tu_ok(try_lock(p, PL_LOCK_SH | PL_LOCK_NB, NULL));
    tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(p, PL_LOCK_EX | PL_LOCK_NB, NULL));
    tw_kill(h);
    tu_ok(try_lock(p, PL_LOCK_EX | PL_LOCK_NB, &l));
    assert_int_equal(tw_run(try_sh, 30), 1);
    pl_lock_free(l);
    tu_ok(try_lock(p, PL_LOCK_SH | PL_LOCK_NB, &l));
    assert_int_equal(tw_run(try_sh, 30), 0);
    assert_int_equal(tw_run(try_ex, 30), 1);
    pl_lock_free(l);
}

static void utf8_and_long_paths(void **state)
{
    /* "ünï-Ω.lock" in UTF-8. */
    const char *p = tu_path(state, "\xc3\xbc" "n\xc3\xaf-\xce\xa9.lock");
    char longp[1024], dir[900];
    pl_atomic_file *f = NULL;
    wchar_t wname[64];
    int i;
    tu_ok(try_lock(p, PL_LOCK_EX | PL_LOCK_NB, NULL));
    /* The name on disk is the UTF-16 of those characters. */
    MultiByteToWideChar(CP_UTF8, 0, strrchr(p, '\\') + 1, -1, wname, 64);
    assert_int_equal(wcscmp(wname, L"\u00fcn\u00ef-\u03a9.lock"), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 0);

    /* More than MAX_PATH (260) characters, created by open_atomic. */
    snprintf(dir, sizeof dir, "%s", tu_path(state, "d"));
    for (i = 0; i < 6; i++)
        strcat(dir, "\\a-directory-name-of-fifty-characters-xxxxxxxxxxxx");
    snprintf(longp, sizeof longp, "%s\\file.lock", dir);
    assert_true(strlen(longp) > 300);
    tu_ok(pl_atomic_open(&f, longp));
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    {
        pl_lock *a = NULL;
        tu_ok(try_lock(longp, PL_LOCK_EX | PL_LOCK_NB, &a));
        tu_expect(PL_ERR_ALREADY_LOCKED, try_lock(longp, PL_LOCK_EX | PL_LOCK_NB, NULL));
        pl_lock_free(a);
    }
}

static void bad_utf8_path_refused(void **state)
{
    char bad[600];
    pl_lock *l = NULL;
    int rc;
    snprintf(bad, sizeof bad, "%s", tu_path(state, "bad-\xff\xfe.lock"));
    tu_ok(pl_lock_new(&l, bad));
    tu_ok(pl_lock_set_fail_when_locked(l, 1));
    rc = pl_lock_acquire(l, NULL);
    assert_int_not_equal(rc, PL_OK);
    assert_int_equal(pl_lock_is_held(l), 0);
    assert_non_null(strstr(pl_last_error_message(), "bad-"));
    pl_lock_free(l);
}

/* Windows handles are inheritable only if asked: ours never are. */
static void handle_not_inheritable(void **state)
{
    const char *p = tu_path(state, "i.lock");
    pl_lock *l = NULL;
    DWORD info = 0;
    int fd = -1;
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_true(fd >= 0);
    assert_true(GetHandleInformation((HANDLE)_get_osfhandle(fd), &info));
    assert_int_equal(info & HANDLE_FLAG_INHERIT, 0);
    pl_lock_free(l);
}

/* Mode "w" opens without truncating, truncates once locked, and the
   descriptor then writes at its position (no append). The lock survives
   that (the descriptor's handle is swapped for a duplicate). */
static void mode_w_truncates_after_locking(void **state)
{
    const char *p = tu_path(state, "t.lock");
    char buf[64];
    pl_lock *l = NULL;
    int fd = -1;
    assert_int_equal(tu_write_file(p, "old contents"), 0);
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "w"));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(tu_read_file(p, buf, sizeof buf), 0);
    assert_int_equal(tu_probe_locked(p, PL_MECH_FLOCK), 1);
    assert_int_equal(_write(fd, "abc", 3), 3);
    assert_int_equal(_lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(_write(fd, "X", 1), 1);
    tu_ok(pl_lock_release(l));
    assert_int_equal(tu_read_file(p, buf, sizeof buf), 3);
    assert_string_equal(buf, "Xbc");
    pl_lock_free(l);
}

static void mode_a_appends(void **state)
{
    const char *p = tu_path(state, "ap.lock");
    char buf[64];
    pl_lock *l = NULL;
    int fd = -1;
    assert_int_equal(tu_write_file(p, "one,"), 0);
    tu_ok(pl_lock_new(&l, p));
    tu_ok(pl_lock_set_mode(l, "a"));
    tu_ok(pl_lock_acquire(l, &fd));
    assert_int_equal(_lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(_write(fd, "two", 3), 3);
    pl_lock_free(l);
    tu_read_file(p, buf, sizeof buf);
    assert_string_equal(buf, "one,two");
}

typedef struct waiter_arg {
    pl_lock *lock;
    int rc;
    double took;
} waiter_arg;

static DWORD WINAPI waiter_thread(void *p)
{
    waiter_arg *a = p;
    double t0 = tu_now();
    a->rc = pl_lock_acquire_with(a->lock, 60, 0.25, 0, NULL);
    a->took = tu_now() - t0;
    return 0;
}

static void cancel_from_another_thread(void **state)
{
    const char *p = tu_path(state, "c.lock");
    pl_lock *holder = NULL;
    waiter_arg a = {0};
    HANDLE t;
    tu_ok(try_lock(p, PL_LOCK_EX | PL_LOCK_NB, &holder));
    tu_ok(pl_lock_new(&a.lock, p));
    t = CreateThread(NULL, 0, waiter_thread, &a, 0, NULL);
    assert_non_null(t);
    Sleep(300);
    tu_ok(pl_lock_cancel(a.lock));
    assert_int_equal(WaitForSingleObject(t, 20000), WAIT_OBJECT_0);
    CloseHandle(t);
    assert_int_equal(a.rc, PL_ERR_INTERRUPTED);
    assert_true(a.took < 10);
    assert_int_equal(pl_lock_is_held(a.lock), 0);
    pl_lock_free(a.lock);
    pl_lock_free(holder);
}

static void temporary_lock_removed_and_exclusive(void **state)
{
    const char *p = tu_path(state, "tmp.lock"), *ready = tu_path(state, "tmp.ready");
    const char *hold[] = {"temp", p, ready, NULL};
    pl_lock *l = NULL;
    tw_proc h = tw_spawn_ready(hold, ready, 30);
    assert_true(h != 0);
    tu_ok(pl_temporary_lock_new(&l, p));
    tu_ok(pl_lock_set_fail_when_locked(l, 1));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire(l, NULL));
    tw_kill(h);
    tu_ok(pl_lock_acquire_with(l, 10, 0.05, 0, NULL));
    assert_true(tu_exists(p));
    tu_ok(pl_lock_release(l));
    assert_false(tu_exists(p));
    pl_lock_free(l);
}

static void pidfile_names_holder(void **state)
{
    const char *p = tu_path(state, "pid.lock"), *ready = tu_path(state, "pid.ready");
    const char *hold[] = {"pidfile", p, ready, NULL};
    pl_lock *l = NULL;
    long pid = 0;
    tw_proc h = tw_spawn_ready(hold, ready, 30);
    assert_true(h != 0);
    tu_ok(pl_pidfile_lock_new(&l, p));
    tu_ok(pl_lock_set_fail_when_locked(l, 1));
    tu_expect(PL_ERR_ALREADY_LOCKED, pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_holder_pid(l), (long)GetProcessId((HANDLE)h));
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, (long)GetProcessId((HANDLE)h));
    tw_kill(h);
    tu_ok(pl_lock_acquire_with(l, 10, 0.05, 0, NULL));
    tu_ok(pl_lock_read_pid(l, &pid));
    assert_int_equal(pid, (long)GetCurrentProcessId());
    pl_lock_free(l);
}

/* A process that exits holding a temporary or PID-file lock leaves no
   file behind: the library's exit handler (atexit in the DLL) removes it. */
static void files_removed_when_a_holder_exits(void **state)
{
    const char *t = tu_path(state, "exit.lock"), *p = tu_path(state, "exit.pid");
    const char *temp[] = {"temp-exit", t, NULL}, *pid[] = {"pidfile-exit", p, NULL};
    assert_int_equal(tw_run(temp, 30), 0);
    assert_false(tu_exists(t));
    assert_int_equal(tw_run(pid, 30), 0);
    assert_false(tu_exists(p));
    assert_false(tu_exists(tu_path(state, "exit.pid.lock")));
}

static void open_atomic_never_replaces(void **state)
{
    const char *p = tu_path(state, "atomic.txt");
    pl_atomic_file *f = NULL, *g = NULL;
    char buf[64], temp[600];
    tu_ok(pl_atomic_open(&f, p));
    tu_ok(pl_atomic_open(&g, p));
    assert_int_equal(_write(pl_atomic_fd(f), "first", 5), 5);
    assert_int_equal(_write(pl_atomic_fd(g), "second", 6), 6);
    snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(g));
    tu_ok(pl_atomic_commit(f));
    tu_expect(PL_ERR_EXISTS, pl_atomic_commit(g));
    tu_read_file(p, buf, sizeof buf);
    assert_string_equal(buf, "first");
    /* A failed publication keeps the finished payload for the caller. */
    assert_true(tu_exists(temp));
    pl_atomic_free(f);
    pl_atomic_free(g);
    assert_true(tu_exists(temp));
    assert_int_equal(remove(temp), 0);
}

static void posix_mechanisms_unsupported(void **state)
{
    const char *p = tu_path(state, "mech.lock");
    pl_lock *l = NULL;
    tu_ok(pl_mechanism_supported(PL_MECH_FLOCK));
    tu_expect(PL_ERR_UNSUPPORTED, pl_mechanism_supported(PL_MECH_POSIX));
    tu_expect(PL_ERR_UNSUPPORTED, pl_mechanism_supported(PL_MECH_OFD));
    tu_ok(pl_lock_new(&l, p));
    if (pl_lock_set_mechanism(l, PL_MECH_POSIX) == PL_OK)
        tu_expect(PL_ERR_UNSUPPORTED, pl_lock_acquire(l, NULL));
    assert_int_equal(pl_lock_is_held(l), 0);
    pl_lock_free(l);
}

static void semaphore_names_refuse_separators(void **state)
{
    pl_semaphore *s = NULL;
    int slot = -1;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_new(&s, 2, "a\\b"));
    assert_non_null(strstr(pl_last_error_message(), "':'"));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_new(&s, 2, "c:x"));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_semaphore_new(&s, 2, "a/b"));
    tu_ok(pl_semaphore_new(&s, 2, "fine"));
    tu_ok(pl_semaphore_set_directory(s, ((tu_dir *)*state)->path));
    tu_ok(pl_semaphore_set_fail_when_locked(s, 1));
    tu_ok(pl_semaphore_acquire(s, &slot));
    assert_true(slot == 0 || slot == 1);
    tu_ok(pl_semaphore_release(s));
    pl_semaphore_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)
        T(excludes_other_processes),
        T(shared_locks_share),
        T(second_handle_in_process_excluded),
        T(killed_holder_releases),
        T(waiter_sees_release),
        T(notification_wakes_a_waiter_before_its_backoff),
        T(blocking_fd_lock_waits_for_the_holder),
        T(reference_msvcrt_convention),
        T(reference_win32_convention),
        T(utf8_and_long_paths),
        T(bad_utf8_path_refused),
        T(handle_not_inheritable),
        T(mode_w_truncates_after_locking),
        T(mode_a_appends),
        T(cancel_from_another_thread),
        T(temporary_lock_removed_and_exclusive),
        T(pidfile_names_holder),
        T(files_removed_when_a_holder_exits),
        T(open_atomic_never_replaces),
        T(posix_mechanisms_unsupported),
        T(semaphore_names_refuse_separators),
#undef T
    };
    return cmocka_run_group_tests_name("windows", tests, NULL, NULL);
}
