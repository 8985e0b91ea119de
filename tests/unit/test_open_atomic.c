/* open_atomic: a temporary file next to the destination, published with a
   hard link only on commit, never replacing an existing file, always
   cleaned up. */
#define _GNU_SOURCE
#include "helpers/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *dir_of(void **state)
{
    return ((tu_dir *)*state)->path;
}

/* Entries of a directory other than . and .., or -1. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* The last path separator of s ('\\' too on Windows, where the
   temporary name takes the destination's separator). */
static const char *last_separator(const char *s)
{
    const char *slash = strrchr(s, '/');
#ifdef _WIN32
    const char *back = strrchr(s, '\\');
    if (back && (!slash || back > slash))
        return back;
#endif
    return slash;
}

static void write_str(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void data_is_published_under_the_name_only_on_commit(void **state)
{
    const char *path = tu_path(state, "out.txt");
    pl_atomic_file *f = NULL;
    char buf[64];
    tu_ok(pl_atomic_open(&f, path));
    write_str(pl_atomic_fd(f), "hello ");
    assert_false(tu_exists(path));
    write_str(pl_atomic_fd(f), "world");
    assert_false(tu_exists(path));
    tu_ok(pl_atomic_commit(f));
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 11);
    assert_string_equal(buf, "hello world");
    pl_atomic_free(f);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 11);
}

static void temp_file_lives_in_destination_directory_and_goes_after_commit(void **state)
{
    const char *path = tu_path(state, "dest.bin");
    pl_atomic_file *f = NULL;
    char temp[512];
    const char *slash;
    tu_ok(pl_atomic_open(&f, path));
    snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(f));
    slash = last_separator(temp);
    assert_non_null(slash);
    assert_int_equal((size_t)(slash - temp), strlen(dir_of(state)));
    assert_int_equal(strncmp(temp, dir_of(state), strlen(dir_of(state))), 0);
    assert_true(tu_exists(temp));
    assert_int_equal(count_entries(dir_of(state)), 1);
    tu_ok(pl_atomic_commit(f));
    assert_false(tu_exists(temp));
    assert_string_equal(pl_atomic_temp_path(f), "");
    assert_int_equal(count_entries(dir_of(state)), 1); /* only dest.bin */
    assert_true(tu_exists(path));
    pl_atomic_free(f);
}

static void abandon_with_free_removes_temp_and_publishes_nothing(void **state)
{
    const char *path = tu_path(state, "never.txt");
    pl_atomic_file *f = NULL;
    char temp[512];
    tu_ok(pl_atomic_open(&f, path));
    write_str(pl_atomic_fd(f), "lost");
    snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(f));
    assert_true(tu_exists(temp));
    pl_atomic_free(f);
    assert_false(tu_exists(temp));
    assert_false(tu_exists(path));
    assert_int_equal(count_entries(dir_of(state)), 0);
    pl_atomic_free(NULL);
}

static void destination_existing_at_open_is_exists_and_creates_nothing(void **state)
{
    const char *path = tu_path(state, "taken.txt");
    pl_atomic_file *f = (pl_atomic_file *)0x1;
    char buf[64];
    assert_int_equal(tu_write_file(path, "original"), 0);
    tu_expect(PL_ERR_EXISTS, pl_atomic_open(&f, path));
    assert_null(f);
    assert_non_null(strstr(pl_last_error_message(), path));
    assert_int_equal(count_entries(dir_of(state)), 1);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 8);
    assert_string_equal(buf, "original");
}

#ifndef _WIN32 /* symlink(2): on Windows creating one takes a privilege */
static void dangling_symlink_at_destination_counts_as_existing(void **state)
{
    const char *path = tu_path(state, "link");
    pl_atomic_file *f = NULL;
    assert_int_equal(symlink(tu_path(state, "nowhere"), path), 0);
    tu_expect(PL_ERR_EXISTS, pl_atomic_open(&f, path));
    assert_null(f);
    assert_false(tu_exists(tu_path(state, "nowhere")));
}
#endif

static void destination_appearing_while_writing_fails_commit_and_keeps_payload(void **state)
{
    const char *path = tu_path(state, "race.txt");
    pl_atomic_file *f = NULL;
    char temp[512], buf[64];
    tu_ok(pl_atomic_open(&f, path));
    write_str(pl_atomic_fd(f), "ours");
    snprintf(temp, sizeof temp, "%s", pl_atomic_temp_path(f));
    /* Someone else publishes first. */
    assert_int_equal(tu_write_file(path, "theirs"), 0);
    tu_expect(PL_ERR_EXISTS, pl_atomic_commit(f));
    assert_non_null(strstr(pl_last_error_message(), path));
    assert_int_equal(pl_last_errno(), EEXIST);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 6);
    assert_string_equal(buf, "theirs");
    /* Our finished payload is kept, and the message and the handle say
       where: written data is never destroyed. */
    assert_non_null(strstr(pl_last_error_message(), temp));
    assert_string_equal(pl_atomic_temp_path(f), temp);
    assert_int_equal(tu_read_file(temp, buf, sizeof buf), 4);
    assert_string_equal(buf, "ours");
    assert_int_equal(count_entries(dir_of(state)), 2);
    /* The failed handle cannot be committed again; free leaves the
       payload (it is the caller's now). */
    tu_expect(PL_ERR_INVALID_STATE, pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_int_equal(tu_read_file(temp, buf, sizeof buf), 4);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 6);
}

#ifndef _WIN32 /* POSIX permission bits and the umask: Windows has neither */
static void published_file_gets_the_mode_a_plain_open_gives(void **state)
{
    const char *path = tu_path(state, "mode.txt");
    pl_atomic_file *f = NULL;
    struct stat st;
    mode_t old = umask(022);
    tu_ok(pl_atomic_open(&f, path));
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    umask(077);
    tu_ok(pl_atomic_open(&f, tu_path(state, "private.txt")));
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_int_equal(stat(tu_path(state, "private.txt"), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    umask(old);
}
#endif

static void longest_basename_works_and_temp_name_is_fixed(void **state)
{
    char base[256], buf[16];
    const char *path, *temp, *slash;
    pl_atomic_file *f = NULL;
    memset(base, 'a', 255);
    base[255] = '\0';
    path = tu_path(state, base);
    tu_ok(pl_atomic_open(&f, path));
    temp = pl_atomic_temp_path(f);
    slash = last_separator(temp);
    assert_non_null(slash);
    /* ".portalocker.<16 hex>.tmp": 33 bytes, whatever the destination. */
    assert_int_equal(strlen(slash + 1), 33);
    assert_int_equal(strncmp(slash + 1, ".portalocker.", 13), 0);
    write_str(pl_atomic_fd(f), "long");
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 4);
    assert_int_equal(count_entries(dir_of(state)), 1);
}

static void missing_parent_directories_are_created(void **state)
{
    const char *path = tu_path(state, "a/b/c/deep.txt");
    pl_atomic_file *f = NULL;
    char buf[64];
    struct stat st;
    tu_ok(pl_atomic_open(&f, path));
    assert_int_equal(stat(tu_path(state, "a/b/c"), &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(count_entries(tu_path(state, "a/b/c")), 1); /* the temp */
    write_str(pl_atomic_fd(f), "deep");
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 4);
    assert_int_equal(count_entries(tu_path(state, "a/b/c")), 1);
}

static void parent_that_is_a_file_is_an_error_naming_the_path(void **state)
{
    const char *path = tu_path(state, "plain/inside.txt");
    pl_atomic_file *f = (pl_atomic_file *)0x1;
    int rc;
    assert_int_equal(tu_write_file(tu_path(state, "plain"), "x"), 0);
    rc = pl_atomic_open(&f, path);
    assert_true(rc < 0);
    assert_int_not_equal(rc, PL_ERR_EXISTS);
    assert_null(f);
    assert_non_null(strstr(pl_last_error_message(), "plain"));
    assert_int_equal(count_entries(dir_of(state)), 1);
}

static void commit_twice_is_invalid_state(void **state)
{
    const char *path = tu_path(state, "twice.txt");
    pl_atomic_file *f = NULL;
    char buf[64];
    tu_ok(pl_atomic_open(&f, path));
    write_str(pl_atomic_fd(f), "1");
    tu_ok(pl_atomic_commit(f));
    assert_int_equal(pl_atomic_fd(f), -1);
    tu_expect(PL_ERR_INVALID_STATE, pl_atomic_commit(f));
    assert_int_equal(tu_read_file(path, buf, sizeof buf), 1);
    pl_atomic_free(f);
}

static void null_or_empty_path_is_invalid(void **state)
{
    pl_atomic_file *f = (pl_atomic_file *)0x1;
    int before = tu_count_fds();
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_atomic_open(&f, NULL));
    assert_null(f);
    f = (pl_atomic_file *)0x1;
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_atomic_open(&f, ""));
    assert_null(f);
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_atomic_open(NULL, tu_path(state, "x")));
    tu_expect(PL_ERR_INVALID_ARGUMENT, pl_atomic_commit(NULL));
    assert_int_equal(pl_atomic_fd(NULL), -1);
    assert_string_equal(pl_atomic_temp_path(NULL), "");
    assert_int_equal(count_entries(dir_of(state)), 0);
    assert_int_equal(tu_count_fds(), before);
}

static void temp_descriptor_is_close_on_exec(void **state)
{
    pl_atomic_file *f = NULL;
    int flags;
    tu_ok(pl_atomic_open(&f, tu_path(state, "cloexec")));
    flags = fcntl(pl_atomic_fd(f), F_GETFD);
    assert_true(flags >= 0);
    assert_true(flags & FD_CLOEXEC);
    /* Writable (it is the data's way in). */
    flags = fcntl(pl_atomic_fd(f), F_GETFL);
    assert_true((flags & O_ACCMODE) == O_RDWR || (flags & O_ACCMODE) == O_WRONLY);
    pl_atomic_free(f);
}

static void relative_path_works_in_current_directory(void **state)
{
    char cwd[1024], buf[16];
    pl_atomic_file *f = NULL;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir_of(state)), 0);
    tu_ok(pl_atomic_open(&f, "rel.txt"));
    write_str(pl_atomic_fd(f), "r");
    tu_ok(pl_atomic_commit(f));
    pl_atomic_free(f);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(tu_read_file(tu_path(state, "rel.txt"), buf, sizeof buf), 1);
    assert_int_equal(count_entries(dir_of(state)), 1);
}

static void no_descriptor_or_temp_leak_over_many_cycles(void **state)
{
    int before = tu_count_fds(), i;
    char name[64];
    for (i = 0; i < 100; i++) {
        pl_atomic_file *f = NULL;
        snprintf(name, sizeof name, "f%d", i % 10);
        if (i % 3 == 0) { /* abandoned */
            tu_ok(pl_atomic_open(&f, tu_path(state, "abandoned")));
            pl_atomic_free(f);
        } else if (tu_exists(tu_path(state, name))) { /* exists at open */
            tu_expect(PL_ERR_EXISTS, pl_atomic_open(&f, tu_path(state, name)));
        } else {
            tu_ok(pl_atomic_open(&f, tu_path(state, name)));
            write_str(pl_atomic_fd(f), "x");
            tu_ok(pl_atomic_commit(f));
            pl_atomic_free(f);
        }
    }
    assert_int_equal(tu_count_fds(), before);
    assert_int_equal(count_entries(dir_of(state)), 10);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_dir, tu_teardown_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(data_is_published_under_the_name_only_on_commit),
        T(temp_file_lives_in_destination_directory_and_goes_after_commit),
        T(abandon_with_free_removes_temp_and_publishes_nothing),
        T(destination_existing_at_open_is_exists_and_creates_nothing),
#ifndef _WIN32
        T(dangling_symlink_at_destination_counts_as_existing),
#endif
        T(destination_appearing_while_writing_fails_commit_and_keeps_payload),
#ifndef _WIN32 /* POSIX permission bits and the umask: Windows has neither */
        T(published_file_gets_the_mode_a_plain_open_gives),
#endif
        T(longest_basename_works_and_temp_name_is_fixed),
        T(missing_parent_directories_are_created),
        T(parent_that_is_a_file_is_an_error_naming_the_path),
        T(commit_twice_is_invalid_state),
        T(null_or_empty_path_is_invalid),
        T(temp_descriptor_is_close_on_exec),
        T(relative_path_works_in_current_directory),
        T(no_descriptor_or_temp_leak_over_many_cycles),
    };
    return cmocka_run_group_tests_name("open_atomic", tests, NULL, NULL);
}
