/*
 * bindings/portalocker.i -- the ONE SWIG interface for every scripting
 * language binding of libportalocker: Python, Ruby and Lua 5.4 use this
 * file, each with its own small section.
 *
 * Layout
 *   1. shared: opaque handles with destructors, out-parameter constructors,
 *      out parameters as return values.
 *   2. shared rule: a function returning pl_status returns a status; a
 *      negative one becomes the language's native error. WHICH error is
 *      decided by the core's single error table (pl_error_exception(code)
 *      gives the class name); each language only says how to raise a class
 *      given its name. Functions returning int return plain ints.
 *   3. the blocking calls: one list, PL_BLOCKING_CALLS, that every language
 *      section applies (Python releases the GIL around them, Ruby the GVL).
 *   4. per-language sections (#if defined(SWIGPYTHON) ...): raising,
 *      releasing the interpreter lock, callbacks, binary-safe channels.
 *
 * The raw module is deliberately C-shaped; the idiomatic API lives in the
 * per-language layer (bindings/python/cportalocker, bindings/ruby/lib,
 * bindings/lua/portalocker.lua).
 */
%module(package="cportalocker") portalocker_c

%{
#include "portalocker.h"
#include <string.h>

/* How a Redis handle is freed (see the destructor in section 1). The
   wrapper defines SWIGPYTHON, SWIGRUBY or SWIGLUA for its language. */
#if defined(SWIGPYTHON)
#define PL_REDIS_LOCK_FREE(h)                                              \
    do {                                                                   \
        Py_BEGIN_ALLOW_THREADS pl_redis_lock_free(h);                      \
        Py_END_ALLOW_THREADS                                               \
    } while (0)
#else
#define PL_REDIS_LOCK_FREE(h) pl_redis_lock_free(h)
#endif
%}

%include "typemaps.i"

/* ------------------------------------------------------------------ */
/* 1. Opaque handles                                                   */
/* ------------------------------------------------------------------ */

/* SWIG-only declarations (never emitted to C): let SWIG know the handle
   types so that it can attach a destructor. The structs stay incomplete
   in C. */
%nodefaultctor pl_lock;
%nodefaultctor pl_semaphore;
%nodefaultctor pl_atomic_file;
%nodefaultctor pl_redis_lock;
struct pl_lock {};
struct pl_semaphore {};
struct pl_atomic_file {};
struct pl_redis_lock {};
%extend pl_lock { ~pl_lock() { pl_lock_free($self); } }
%extend pl_semaphore { ~pl_semaphore() { pl_semaphore_free($self); } }
%extend pl_atomic_file { ~pl_atomic_file() { pl_atomic_free($self); } }
/* Freeing a Redis lock joins its background thread, which can take a
   while (it may be mid-round-trip). Python frees it without the GIL, so
   no thread that needs the GIL is ever blocked behind the join (the
   background thread itself never takes the GIL: see the lost-lock
   trampoline). Ruby finalizers run inside the GC, where the GVL cannot
   be given up, and a Lua state has no interpreter lock; the core calls no
   Ruby or Lua code from its threads, so the join never waits for them. */
%extend pl_redis_lock { ~pl_redis_lock() { PL_REDIS_LOCK_FREE($self); } }

/* The explicit free functions are not exposed: the handle object owns the
   handle and the destructor above frees it exactly once. */
%ignore pl_lock_free;
%ignore pl_semaphore_free;
%ignore pl_atomic_free;
%ignore pl_redis_lock_free;

/* pl_xxx_new(&handle, ...): the handle becomes a return value owned by the
   scripting object (destructor above). */
%define PL_OUT_HANDLE(TYPE)
%typemap(in, numinputs=0) TYPE **out (TYPE *tmp = NULL) "$1 = &tmp;"
#if defined(SWIGLUA)
%typemap(argout) TYPE **out
  "SWIG_NewPointerObj(L, (void *)tmp$argnum, $descriptor(TYPE *), 1); SWIG_arg++;"
#else
%typemap(argout) TYPE **out {
  %append_output(SWIG_NewPointerObj(SWIG_as_voidptr(tmp$argnum), $descriptor(TYPE *), SWIG_POINTER_OWN));
}
#endif
%enddef
PL_OUT_HANDLE(pl_lock)
PL_OUT_HANDLE(pl_semaphore)
PL_OUT_HANDLE(pl_atomic_file)
PL_OUT_HANDLE(pl_redis_lock)

/* Out parameters become (extra) return values. */
%apply int *OUTPUT { int *fd_out, int *slot_out, int *out, int *db };
%apply unsigned int *OUTPUT { unsigned int *out };
%apply double *OUTPUT { double *out };
%apply long *OUTPUT { long *pid_out };

/* Strings the getters hand out (owned by the handle): copied into a
   language string (NULL would be None / nil). */
%typemap(in, numinputs=0) const char **PL_OUT_STRING (const char *tmp = NULL) "$1 = ($1_ltype)&tmp;"
#if defined(SWIGLUA)
%typemap(argout) const char **PL_OUT_STRING "lua_pushstring(L, tmp$argnum); SWIG_arg++;"
#else
%typemap(argout) const char **PL_OUT_STRING { %append_output(SWIG_FromCharPtr(tmp$argnum)); }
#endif
%apply const char **PL_OUT_STRING { const char **out, const char **path };

/* The getters with two out parameters return both values, also when one
   is NULL (an unset username): a tuple in Python, an Array in Ruby, two
   results in Lua. */
%typemap(in, numinputs=0) (const char **host, int *port)
  (const char *s = NULL, int n = 0) "$1 = ($1_ltype)&s; $2 = &n;"
%typemap(in, numinputs=0) (const char **username, const char **password)
  (const char *s1 = NULL, const char *s2 = NULL) "$1 = ($1_ltype)&s1; $2 = ($2_ltype)&s2;"
#if defined(SWIGLUA)
%typemap(argout) (const char **host, int *port)
  "lua_pushstring(L, *$1); lua_pushinteger(L, *$2); SWIG_arg += 2;"
%typemap(argout) (const char **username, const char **password)
  "lua_pushstring(L, *$1); lua_pushstring(L, *$2); SWIG_arg += 2;"
#elif defined(SWIGPYTHON)
%typemap(argout) (const char **host, int *port) {
  PyObject *pair = Py_BuildValue("(Ni)", SWIG_FromCharPtr(*$1), *$2);
  if (!pair) SWIG_fail;
  %append_output(pair);
}
%typemap(argout) (const char **username, const char **password) {
  PyObject *pair = Py_BuildValue("(NN)", SWIG_FromCharPtr(*$1), SWIG_FromCharPtr(*$2));
  if (!pair) SWIG_fail;
  %append_output(pair);
}
#elif defined(SWIGRUBY)
%typemap(argout) (const char **host, int *port) {
  %append_output(rb_ary_new_from_args(2, SWIG_FromCharPtr(*$1), INT2NUM(*$2)));
}
%typemap(argout) (const char **username, const char **password) {
  %append_output(rb_ary_new_from_args(2, SWIG_FromCharPtr(*$1), SWIG_FromCharPtr(*$2)));
}
#endif

/* pl_semaphore_slot_path(sem, slot, buf, size): returns the path. */
%typemap(in, numinputs=0) (char *buf, size_t size) (char tmp[4096]) {
  tmp[0] = 0; $1 = tmp; $2 = sizeof tmp;
}
#if defined(SWIGLUA)
%typemap(argout) (char *buf, size_t size) "lua_pushstring(L, $1); SWIG_arg++;"
#else
%typemap(argout) (char *buf, size_t size) {
  %append_output(SWIG_FromCharPtr($1));
}
#endif

/* The lost-lock callback takes a C function pointer: the Python section
   offers its own setter; the getter has nothing a script could use. */
%ignore pl_redis_lock_set_lost_callback;
%ignore pl_redis_lock_get_lost_callback;

/* The Redis probe's answer is a holder list: a handle of its own, owned
   by the scripting object like the others (pl_redis_lock_probe's out
   parameter), read entry by entry with pl_redis_holders_get (holder id,
   mode and elected as return values). */
%nodefaultctor pl_redis_holders;
struct pl_redis_holders {};
%extend pl_redis_holders { ~pl_redis_holders() { pl_redis_holders_free($self); } }
%ignore pl_redis_holders_free;
PL_OUT_HANDLE(pl_redis_holders)
%apply const char **PL_OUT_STRING { const char **holder_id };
%apply int *OUTPUT { int *mode, int *elected };

/* The fencing token (a 64-bit counter) and the counter's key, whose bytes
   are the channel's plus "-fence" (binary-safe: bytes in Python, a binary
   String in Ruby, a Lua string). */
%apply long long *OUTPUT { long long *out };
%typemap(in, numinputs=0) (const char **key, size_t *len)
  (const char *s = NULL, size_t n = 0) "$1 = ($1_ltype)&s; $2 = &n;"
#if defined(SWIGLUA)
%typemap(argout) (const char **key, size_t *len)
  "lua_pushlstring(L, *$1 ? *$1 : \"\", *$2); SWIG_arg++;"
#elif defined(SWIGPYTHON)
%typemap(argout) (const char **key, size_t *len) {
  PyObject *key = PyBytes_FromStringAndSize(*$1 ? *$1 : "", (Py_ssize_t)*$2);
  if (!key) SWIG_fail;
  %append_output(key);
}
#elif defined(SWIGRUBY)
%typemap(argout) (const char **key, size_t *len) {
  %append_output(rb_str_new(*$1 ? *$1 : "", (long)*$2));
}
#endif

/* ------------------------------------------------------------------ */
/* 2. Status returns                                                   */
/* ------------------------------------------------------------------ */

/* A pl_status: negative -> the language's error (pl_swig_raise, defined
   per language below, looks the class up by pl_error_exception(code));
   PL_OK -> nothing (out parameters, if any, become the return value).
   Functions declared to return int (pl_lock_is_held, pl_lock_held_fd,
   pl_version_number, ...) keep SWIG's plain int typemap. */
#if defined(SWIGPYTHON)
%typemap(out) pl_status %{
  if ($1 < 0) { pl_swig_raise($1); SWIG_fail; }
  $result = SWIG_Py_Void();
%}
#elif defined(SWIGRUBY)
%typemap(out) pl_status %{
  if ($1 < 0) pl_swig_raise($1); /* does not return */
  $result = Qnil;
%}
#elif defined(SWIGLUA)
%typemap(out) pl_status %{
  if ($1 < 0) { pl_swig_raise(L, $1); SWIG_fail; }
%}
#endif

/* Returns `code` as a status: lets each binding's tests check that every
   code of the error table becomes the right native error through the very
   typemap every real call uses. */
%inline %{
pl_status pl_binding_status(int code) { return code; }
%}

/* ------------------------------------------------------------------ */
/* 3. The blocking calls                                               */
/* ------------------------------------------------------------------ */

/* The calls that can wait (for a lock, a semaphore slot, the disk or the
   Redis server), each as X(function, (its parameter types)). Every
   language section applies the list with its own X, and each installs the
   core's per-thread wait hook (pl_set_wait_hook) for the call, so that a
   wait can end early: Python releases the GIL around each call and runs
   the signal handlers from the hook, Ruby releases the GVL with an
   unblocking function that the hook honours (a trampoline per entry), Lua
   runs the on_wait function the layer gave the call. The compiler checks
   each entry against the header: the Ruby trampolines call the function
   with arguments of these types, and every entry needs its PL_UNDO. */
%define PL_BLOCKING_CALLS(X)
X(pl_lock_fd, (int, int))
X(pl_lock_fd_mechanism, (int, int, int))
X(pl_lock_acquire, (pl_lock *, int *))
X(pl_lock_acquire_with, (pl_lock *, double, double, int, int *))
X(pl_semaphore_acquire, (pl_semaphore *, int *))
X(pl_semaphore_acquire_with, (pl_semaphore *, double, double, int *))
X(pl_atomic_commit, (pl_atomic_file *))
X(pl_redis_lock_acquire, (pl_redis_lock *))
X(pl_redis_lock_acquire_with, (pl_redis_lock *, double, double, int))
X(pl_redis_lock_release, (pl_redis_lock *))
X(pl_redis_lock_check, (pl_redis_lock *))
X(pl_redis_lock_probe, (pl_redis_lock *, double, pl_redis_holders **))
%enddef

/* What gives back what a blocking call took, for the one case where a
   binding has to: the call succeeded, but the language had an exception to
   raise meanwhile (a signal handler raised, Thread#raise). The exception
   then leaves the wrapper and the caller never sees the result, so nothing
   may stay held. PL_UNDO_fn uses the wrapper's converted arguments (SWIG's
   arg1, ...); one entry per PL_BLOCKING_CALLS entry (an entry missing here
   is a compile error). pl_lock_fd undoes with an unlock: a descriptor that
   was locked before the call (a shared lock being made exclusive) ends up
   unlocked, as a failed conversion can leave it. */
%{
#define PL_UNDO_pl_lock_fd ((void)pl_unlock_fd(arg1))
#define PL_UNDO_pl_lock_fd_mechanism ((void)pl_unlock_fd_mechanism(arg1, arg3))
#define PL_UNDO_pl_lock_acquire ((void)pl_lock_release(arg1))
#define PL_UNDO_pl_lock_acquire_with ((void)pl_lock_release(arg1))
#define PL_UNDO_pl_semaphore_acquire ((void)pl_semaphore_release(arg1))
#define PL_UNDO_pl_semaphore_acquire_with ((void)pl_semaphore_release(arg1))
#define PL_UNDO_pl_atomic_commit ((void)0)
#define PL_UNDO_pl_redis_lock_acquire ((void)pl_redis_lock_release(arg1))
#define PL_UNDO_pl_redis_lock_acquire_with ((void)pl_redis_lock_release(arg1))
#define PL_UNDO_pl_redis_lock_release ((void)0)
#define PL_UNDO_pl_redis_lock_check ((void)0)
/* The holder list nobody will see. */
#define PL_UNDO_pl_redis_lock_probe \
    (pl_redis_holders_free(*arg3), (void)(*arg3 = NULL))

/* How often a waiting call runs the binding's wait hook (the core also
   runs it as soon as a signal interrupts the wait): the bound on how late
   a signal handler, Thread#raise or a Lua on_wait callback runs. */
#define PL_BINDING_WAIT_INTERVAL 0.02

/* The binding's hook is installed once per thread, before the thread's
   first blocking call, and stays: setting a hook resets the thread's last
   error, so it cannot be done between a failed call and the raise that
   reads its message. Each language's hook finds the call in progress
   through a thread-local pointer (NULL outside the wrappers: the hook
   then does nothing), which the wrappers stack, so a blocking call made
   by a signal handler that runs inside a wait has its own. The binding
   owns the wait hook of the threads that call it. */
static _Thread_local int pl_binding_hooked;

static void pl_binding_hook_thread(pl_wait_hook hook)
{
    if (!pl_binding_hooked && pl_set_wait_hook(hook, NULL, PL_BINDING_WAIT_INTERVAL) == PL_OK)
        pl_binding_hooked = 1;
}
%}

/* ------------------------------------------------------------------ */
/* 4a. Python                                                          */
/* ------------------------------------------------------------------ */
#if defined(SWIGPYTHON)
%{
/* Raise the exception the error table names for `code`. The class is
   looked up by NAME in cportalocker.exceptions (through its _from_c hook,
   which also builds the arguments); nothing here knows the codes. The
   thread-local message and errno are read first, before any Python code
   can run on this thread. */
static void pl_swig_raise(int code)
{
    static PyObject *hook = NULL;
    const char *name = pl_error_exception(code);
    int err = pl_last_errno();
    PyObject *msg = PyUnicode_DecodeUTF8(pl_last_error_message(),
                                         (Py_ssize_t)strlen(pl_last_error_message()),
                                         "replace");
    PyObject *exc;
    if (!msg)
        return;
    if (!hook) {
        PyObject *mod = PyImport_ImportModule("cportalocker.exceptions");
        if (mod) {
            hook = PyObject_GetAttrString(mod, "_from_c");
            Py_DECREF(mod);
        }
        if (!hook) {
            /* The package is not importable: still fail loudly. */
            PyErr_Clear();
            PyErr_Format(PyExc_OSError, "%s (%s): %U", name,
                         pl_error_name(code), msg);
            Py_DECREF(msg);
            return;
        }
    }
    exc = PyObject_CallFunction(hook, "isOi", code, name, msg, err);
    Py_DECREF(msg);
    if (!exc)
        return; /* the hook's own error propagates */
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
}
%}

/* The blocking calls run without the GIL, with a wait hook that takes the
   GIL back now and then and runs the Python signal handlers
   (PyErr_CheckSignals: on the main thread it runs them, elsewhere it does
   nothing). A handler that returns lets the wait resume, its deadline
   unchanged; one that raises (KeyboardInterrupt from the default SIGINT
   handler) ends the wait: the hook keeps the exception and returns
   nonzero, the core returns PL_ERR_INTERRUPTED with nothing held, and the
   wrapper raises the kept exception instead of Interrupted. If the call
   got its lock anyway, PL_UNDO gives it back first: the caller never
   receives the result, so it could never release it. The error state the
   core leaves is per OS thread, so reading it after re-taking the GIL is
   safe. */
%{
typedef struct pl_py_wait {
    PyThreadState *save;
    PyObject *type, *value, *traceback; /* the exception a handler raised */
    struct pl_py_wait *outer;
} pl_py_wait;

static _Thread_local pl_py_wait *pl_py_current;

static int pl_py_wait_hook(void *unused)
{
    pl_py_wait *w = pl_py_current;
    int stop = 0;
    (void)unused;
    if (!w)
        return 0;
    if (w->type)
        return 1;
    PyEval_RestoreThread(w->save);
    if (PyErr_CheckSignals() < 0) {
        PyErr_Fetch(&w->type, &w->value, &w->traceback);
        stop = w->type != NULL;
    }
    w->save = PyEval_SaveThread();
    return stop;
}
%}
%define PL_PY_WITHOUT_GIL(FN, TYPES)
%exception FN {
  pl_py_wait pl_wait = { NULL, NULL, NULL, NULL, pl_py_current };
  pl_binding_hook_thread(pl_py_wait_hook);
  pl_py_current = &pl_wait;
  pl_wait.save = PyEval_SaveThread();
  $action
  PyEval_RestoreThread(pl_wait.save);
  pl_py_current = pl_wait.outer;
  if (pl_wait.type) {
    if (result == PL_OK)
      PL_UNDO_ ## FN;
    PyErr_Restore(pl_wait.type, pl_wait.value, pl_wait.traceback);
    SWIG_fail;
  }
}
%enddef
PL_BLOCKING_CALLS(PL_PY_WITHOUT_GIL)

/* Paths: what os.fsencode accepts (str, with surrogateescape for the
   bytes that are not UTF-8; bytes; os.PathLike), as open() does. A NUL
   byte is a ValueError ("embedded null byte"), never a shorter path. */
%typemap(in) const char *path (PyObject *bytes = NULL),
             const char *dir (PyObject *bytes = NULL) {
  if (!PyUnicode_FSConverter($input, &bytes)) SWIG_fail;
  $1 = PyBytes_AS_STRING(bytes);
}
%typemap(freearg) const char *path, const char *dir "Py_XDECREF(bytes$argnum);"

/* Every other string: str (UTF-8), None for NULL. A NUL character would
   silently cut the string in C (a name, a mode, a pattern): ValueError. */
%typemap(in) const char * {
  if ($input == Py_None) {
    $1 = NULL;
  } else if (PyUnicode_Check($input)) {
    Py_ssize_t len = 0;
    $1 = ($1_ltype)PyUnicode_AsUTF8AndSize($input, &len);
    if (!$1) SWIG_fail;
    if (strlen($1) != (size_t)len)
      SWIG_exception_fail(SWIG_ValueError, "embedded null character");
  } else {
    SWIG_exception_fail(SWIG_TypeError, "expected a str");
  }
}
%typemap(freearg) const char * ""

/* Binary-safe channel: bytes, or str (as UTF-8). */
%typemap(in) (const char *channel, size_t channel_len) {
  char *buf = NULL;
  Py_ssize_t len = 0;
  if (PyBytes_Check($input)) {
    if (PyBytes_AsStringAndSize($input, &buf, &len) < 0) SWIG_fail;
  } else if (PyUnicode_Check($input)) {
    buf = (char *)PyUnicode_AsUTF8AndSize($input, &len);
    if (!buf) SWIG_fail;
  } else {
    SWIG_exception_fail(SWIG_TypeError, "channel must be str or bytes");
  }
  $1 = buf;
  $2 = (size_t)len;
}

%{
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

/* Lost-lock callback. The library's background thread calls this, and
   it must never wait for the GIL: the thread that frees the handle (a
   destructor, at any point where Python collects garbage, with the GIL)
   joins that very thread, and during interpreter shutdown taking the GIL
   from a foreign thread can hang or end the thread in the middle of the
   library's code. So the trampoline only writes the lock's token (8
   bytes, one atomic pipe write) to a pipe that cportalocker.redis reads
   on a Python thread of its own, which then calls on_lost. The write end
   is non-blocking: a full pipe (thousands of undelivered losses) drops
   the notice, never the loss itself, which the handle keeps (check
   returns LOCK_LOST). The token (not a Python object) is the userdata,
   so no reference can dangle. */
static volatile int pl_py_notify_fd = -1;

static void pl_py_lost_trampoline(pl_redis_lock *lock, void *userdata)
{
    int64_t token = (int64_t)(intptr_t)userdata;
    int fd = pl_py_notify_fd;
    ssize_t n;
    (void)lock;
    if (fd < 0)
        return;
    do
        n = write(fd, &token, sizeof token);
    while (n < 0 && errno == EINTR);
}
%}
%inline %{
/* Python: where the lost-lock trampoline writes tokens (the write end of
   cportalocker.redis's notification pipe; -1: nowhere). */
void pl_py_redis_set_notify_fd(int fd)
{
    pl_py_notify_fd = fd;
}

/* Python: route the lost-lock callback to the notification pipe with
   this token; token 0 removes the callback. */
pl_status pl_py_redis_lock_set_lost_callback(pl_redis_lock *lock, long token)
{
    if (token == 0)
        return pl_redis_lock_set_lost_callback(lock, NULL, NULL);
    return pl_redis_lock_set_lost_callback(lock, pl_py_lost_trampoline,
                                           (void *)(intptr_t)token);
}
%}
/* The C fast path of cportalocker.utils.Lock (acquire, release, with)
   and the guard it takes. */
%include "python/lock_guard.i"
%include "python/lock_fast_path.i"
#endif /* SWIGPYTHON */

/* ------------------------------------------------------------------ */
/* 4b. Lua (5.4)                                                       */
/* ------------------------------------------------------------------ */
#if defined(SWIGLUA)
/* The raw module is `portalocker_c`; bindings/lua/portalocker.lua is the
   idiomatic layer. Besides the wrapped header, this section adds:
     - pl_swig_raise: a negative status raises an error OBJECT (a table
       {name = pl_error_exception(code), code, message, errno} whose
       metatable is the registry's "portalocker.Error", with __tostring);
     - pl_lua_stream(fd, mode, owner): a standard Lua file handle (a
       luaL_Stream, metatable LUA_FILEHANDLE) over a descriptor the C core
       owns. The FILE is a fopencookie stream whose close does NOT close the
       descriptor (the core's release does; a dup would keep the flock lock
       alive), and the handle's user value keeps `owner` (the Lua lock
       object, hence the C handle) alive as long as the file handle is
       reachable, so the descriptor can never be closed under a live stream.
     - pl_lua_fileno(file): the descriptor behind a Lua file handle;
     - pl_lua_dispose(handle): frees a C handle now (exactly once: the SWIG
       __gc then does nothing; later calls see a NULL handle, which the core
       rejects with INVALID_ARGUMENT). */
%{
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#define PL_LUA_ERROR_MT "portalocker.Error"

static int pl_lua_error_tostring(lua_State *L)
{
    const char *name, *msg;
    lua_getfield(L, 1, "name");
    lua_getfield(L, 1, "message");
    name = lua_tostring(L, -2);
    msg = lua_tostring(L, -1);
    lua_pushfstring(L, "%s: %s", name ? name : "Error", msg ? msg : "?");
    return 1;
}

/* Pushes the shared error metatable (created on first use). */
static void pl_lua_push_error_mt(lua_State *L)
{
    if (luaL_newmetatable(L, PL_LUA_ERROR_MT)) {
        lua_pushcfunction(L, pl_lua_error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
}

/* Pushes the error object for `code`. The thread's message and errno are
   copied before anything can allocate (an allocation can run finalizers,
   which can call the library and overwrite them). */
static void pl_lua_push_error(lua_State *L, int code)
{
    char msg[2048];
    int err = pl_last_errno();
    const char *m = pl_last_error_message();
    snprintf(msg, sizeof msg, "%s", (m && *m) ? m : pl_strerror(code));
    lua_createtable(L, 0, 4);
    lua_pushstring(L, pl_error_exception(code));
    lua_setfield(L, -2, "name");
    lua_pushinteger(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "message");
    if (err != 0) {
        lua_pushinteger(L, err);
        lua_setfield(L, -2, "errno");
    }
    pl_lua_push_error_mt(L);
    lua_setmetatable(L, -2);
}

/* The status typemap: leaves the error object on the stack; SWIG_fail then
   raises it with lua_error. */
static void pl_swig_raise(lua_State *L, int code)
{
    pl_lua_push_error(L, code);
}

/* ---- file handles over a descriptor owned by the C core ---- */

typedef struct pl_lua_fstream {
    luaL_Stream s; /* first: this is what liolib sees */
    int fd;
} pl_lua_fstream;

static ssize_t pl_lua_ck_read(void *cookie, char *buf, size_t size)
{
    ssize_t n;
    do
        n = read((int)(intptr_t)cookie, buf, size);
    while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t pl_lua_ck_write(void *cookie, const char *buf, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = write((int)(intptr_t)cookie, buf + done, size - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static int pl_lua_ck_seek(void *cookie, off64_t *pos, int whence)
{
    off64_t r = lseek64((int)(intptr_t)cookie, *pos, whence);
    if (r < 0)
        return -1;
    *pos = r;
    return 0;
}

/* closef of our handles: flush and free the FILE, keep the descriptor. */
static int pl_lua_stream_close(lua_State *L)
{
    pl_lua_fstream *p = (pl_lua_fstream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    int ok = fclose(p->s.f) == 0;
    p->fd = -1;
    return luaL_fileresult(L, ok, NULL);
}

static int pl_lua_stream(lua_State *L)
{
    static const cookie_io_functions_t io = {
        pl_lua_ck_read, pl_lua_ck_write, pl_lua_ck_seek, NULL
    };
    int fd = (int)luaL_checkinteger(L, 1);
    const char *mode = luaL_checkstring(L, 2);
    pl_lua_fstream *p;
    luaL_checkany(L, 3);
    if (fd < 0)
        return luaL_argerror(L, 1, "not a descriptor");
    p = (pl_lua_fstream *)lua_newuserdatauv(L, sizeof *p, 1);
    p->s.f = NULL;
    p->s.closef = NULL; /* "closed" until complete, as liolib does */
    p->fd = fd;
    if (luaL_getmetatable(L, LUA_FILEHANDLE) != LUA_TTABLE)
        return luaL_error(L, "portalocker: the io library is not loaded");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, 3);
    lua_setiuservalue(L, -2, 1);
    p->s.f = fopencookie((void *)(intptr_t)fd, mode, io);
    if (p->s.f == NULL)
        return luaL_fileresult(L, 0, NULL);
    p->s.closef = pl_lua_stream_close;
    return 1;
}

static int pl_lua_fileno(lua_State *L)
{
    luaL_Stream *p = (luaL_Stream *)luaL_checkudata(L, 1, LUA_FILEHANDLE);
    int fd;
    if (p->closef == NULL)
        return luaL_error(L, "attempt to use a closed file");
    if (p->closef == pl_lua_stream_close)
        fd = ((pl_lua_fstream *)p)->fd;
    else
        fd = fileno(p->f);
    lua_pushinteger(L, fd);
    return 1;
}

static int pl_lua_dispose(lua_State *L)
{
    swig_lua_userdata *usr;
    swig_lua_class *clss;
    if (!lua_isuserdata(L, 1) || lua_islightuserdata(L, 1))
        return luaL_argerror(L, 1, "a portalocker_c handle expected");
    usr = (swig_lua_userdata *)lua_touserdata(L, 1);
    if (usr->own && usr->ptr) {
        clss = (swig_lua_class *)usr->type->clientdata;
        usr->own = 0;
        if (clss && clss->destructor)
            clss->destructor(usr->ptr);
    }
    usr->ptr = NULL;
    return 0;
}

static int pl_lua_error_metatable(lua_State *L)
{
    pl_lua_push_error_mt(L);
    return 1;
}
%}
%{
/* ---- bounding and cancelling a wait ----
   Plain Lua has no signals, so a wait is ended through the API: the layer
   hands the next blocking call a function (pl_lua_on_wait(fn), which that
   call takes and clears), and the wait hook calls it at least every
   PL_BINDING_WAIT_INTERVAL on the waiting thread. A truthy result ends
   the wait (the call raises the Interrupted error, nothing held); an error
   in the function ends it too and is re-raised as it is, after whatever
   the call took has been given back (PL_UNDO). The function must not
   yield or use the handle being waited on. pl_lock_cancel and
   pl_semaphore_cancel (the layer's :cancel()) end a wait from elsewhere
   (another Lua state's thread, a C signal handler). */
#define PL_LUA_ON_WAIT "portalocker.on_wait"

typedef struct pl_lua_wait {
    lua_State *L;
    int fn;    /* registry reference to the function, or LUA_NOREF */
    int error; /* registry reference to the error it raised, or LUA_NOREF */
    struct pl_lua_wait *outer;
} pl_lua_wait;

static _Thread_local pl_lua_wait *pl_lua_current;

static int pl_lua_wait_hook(void *unused)
{
    pl_lua_wait *w = pl_lua_current;
    lua_State *L;
    int stop;
    (void)unused;
    if (!w || w->fn == LUA_NOREF)
        return 0;
    L = w->L;
    if (w->error != LUA_NOREF)
        return 1;
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->fn);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        w->error = luaL_ref(L, LUA_REGISTRYINDEX);
        return 1;
    }
    stop = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return stop;
}

/* Takes the function pl_lua_on_wait left for this call (if any). */
static void pl_lua_wait_begin(lua_State *L, pl_lua_wait *w)
{
    w->L = L;
    w->fn = LUA_NOREF;
    w->error = LUA_NOREF;
    w->outer = pl_lua_current;
    if (lua_getfield(L, LUA_REGISTRYINDEX, PL_LUA_ON_WAIT) == LUA_TFUNCTION) {
        w->fn = luaL_ref(L, LUA_REGISTRYINDEX);
        lua_pushnil(L);
        lua_setfield(L, LUA_REGISTRYINDEX, PL_LUA_ON_WAIT);
        pl_binding_hook_thread(pl_lua_wait_hook);
    } else {
        lua_pop(L, 1);
    }
    pl_lua_current = w;
}

/* Ends the call's wait state; 1 (the error pushed) if the function
   raised. */
static int pl_lua_wait_end(lua_State *L, pl_lua_wait *w)
{
    pl_lua_current = w->outer;
    if (w->fn == LUA_NOREF)
        return 0;
    luaL_unref(L, LUA_REGISTRYINDEX, w->fn);
    if (w->error == LUA_NOREF)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, w->error);
    luaL_unref(L, LUA_REGISTRYINDEX, w->error);
    return 1;
}

/* pl_lua_on_wait(fn or nil): the function the next blocking call runs
   while it waits. */
static int pl_lua_on_wait(lua_State *L)
{
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, PL_LUA_ON_WAIT);
    return 0;
}
%}
%native(pl_lua_on_wait) int pl_lua_on_wait(lua_State *L);

%define PL_LUA_WAIT(FN, TYPES)
%exception FN {
  pl_lua_wait pl_wait;
  pl_lua_wait_begin(L, &pl_wait);
  $action
  if (pl_lua_wait_end(L, &pl_wait)) {
    if (result == PL_OK)
      PL_UNDO_ ## FN;
    lua_error(L);
  }
}
%enddef
PL_BLOCKING_CALLS(PL_LUA_WAIT)

%native(pl_lua_stream) int pl_lua_stream(lua_State *L);
%native(pl_lua_fileno) int pl_lua_fileno(lua_State *L);
%native(pl_lua_dispose) int pl_lua_dispose(lua_State *L);
%native(pl_lua_error_metatable) int pl_lua_error_metatable(lua_State *L);

/* Strings: a NUL byte would silently cut the string in C (a path, a
   name): an argument error. nil is NULL. */
%typemap(in) const char * {
  if (lua_isnil(L, $input)) {
    $1 = NULL;
  } else {
    size_t len = 0;
    $1 = ($1_ltype)luaL_checklstring(L, $input, &len);
    if (strlen($1) != len)
      luaL_argerror(L, $input, "embedded NUL byte");
  }
}

/* Binary-safe channel: any Lua string. */
%typemap(in) (const char *channel, size_t channel_len) {
  size_t len = 0;
  $1 = (char *)luaL_checklstring(L, $input, &len);
  $2 = len;
}
#endif /* SWIGLUA */

/* ------------------------------------------------------------------ */
/* 4c. Ruby                                                            */
/* ------------------------------------------------------------------ */
#if defined(SWIGRUBY)
%{
#include <ruby/thread.h>

/* Raise the error the table names for `code`: Portalocker._from_c(code,
   name, message, errno) (bindings/ruby/lib/portalocker/errors.rb) looks
   the class up BY NAME in the Portalocker module and builds the
   exception; nothing here knows the codes. The thread-local message and
   errno are copied first: allocating a Ruby object may run GC, whose
   destructors call into the library on this thread. Does not return. */
static void pl_swig_raise(int code)
{
    char message[512];
    const char *name = pl_error_exception(code);
    int err = pl_last_errno();
    ID hook = rb_intern("_from_c");
    VALUE mod, exc;
    strncpy(message, pl_last_error_message(), sizeof message - 1);
    message[sizeof message - 1] = 0;
    if (!message[0])
        strncpy(message, pl_strerror(code), sizeof message - 1);
    mod = rb_const_defined(rb_cObject, rb_intern("Portalocker"))
              ? rb_const_get(rb_cObject, rb_intern("Portalocker"))
              : Qnil;
    if (NIL_P(mod) || !rb_respond_to(mod, hook))
        /* Only the raw extension is loaded: still fail loudly. */
        rb_raise(rb_eRuntimeError, "%s (%s): %s", name, pl_error_name(code),
                 message);
    exc = rb_funcall(mod, hook, 4, INT2NUM(code), rb_str_new_cstr(name),
                     rb_utf8_str_new_cstr(message), INT2NUM(err));
    rb_exc_raise(exc);
}

/* Trampolines for the blocking calls. For an entry X(fn, (T1, ..., Tn))
   of PL_BLOCKING_CALLS, PL_RB_TRAMPOLINE defines
     pl_status pl_rb_nogvl_fn(T1 a1, ..., Tn an)
   which runs fn(a1, ..., an) without the GVL (the arguments travel in a
   struct pl_rb_call_fn), and the wrapper of fn calls it with SWIG's
   converted arguments (PL_RB_CALL). The error state the call leaves is
   per OS thread (a Ruby Thread is one OS thread), so pl_swig_raise reads
   it safely after the GVL is taken back.

   Interrupts (Thread#raise, Thread#kill, Timeout.timeout, a signal trap,
   Ctrl-C): Ruby calls the unblocking function pl_rb_ubf, which only sets a
   flag, so it may run on any thread and inside Ruby's signal handler
   (RB_NOGVL_UBF_ASYNC_SAFE). The wait hook, run by the core at least
   every PL_BINDING_WAIT_INTERVAL, sees the flag, takes the GVL and lets
   Ruby process the interrupt under rb_protect. On the main thread it does
   so at every run, flag or not: Ruby's signal handler marks the trap on
   the main thread directly but calls its unblocking function only when
   the process has a single thread, so a trap or Ctrl-C in a process with
   other threads would otherwise wait for the end of the wait. Then: a
   trap handler that returns lets the wait resume (deadline unchanged);
   one that raises, or a Thread#raise / kill, ends the wait (the core returns
   PL_ERR_INTERRUPTED, nothing held) and the kept jump is resumed once the
   call has returned. RB_NOGVL_INTR_FAIL because without it Ruby processes
   interrupts itself right after the call, where an interrupt arriving
   just as the lock was taken would raise with the lock held and no one to
   release it. */
typedef struct pl_rb_wait {
    volatile int flagged; /* set by pl_rb_ubf */
    int main;             /* the waiting thread is Ruby's main thread */
    int state;            /* rb_protect's state once an interrupt jumped */
    struct pl_rb_wait *outer;
} pl_rb_wait;

static _Thread_local pl_rb_wait *pl_rb_current;

static void pl_rb_ubf(void *p)
{
    ((pl_rb_wait *)p)->flagged = 1;
}

static VALUE pl_rb_check_ints(VALUE unused)
{
    (void)unused;
    rb_thread_check_ints();
    return Qnil;
}

static void *pl_rb_run_interrupts(void *p)
{
    pl_rb_wait *w = (pl_rb_wait *)p;
    rb_protect(pl_rb_check_ints, Qnil, &w->state);
    return NULL;
}

static int pl_rb_wait_hook(void *unused)
{
    pl_rb_wait *w = pl_rb_current;
    (void)unused;
    if (!w)
        return 0;
    if (w->state)
        return 1;
    if (!w->flagged && !w->main)
        return 0;
    w->flagged = 0;
    rb_thread_call_with_gvl(pl_rb_run_interrupts, w);
    return w->state != 0;
}

/* Runs body(c) without the GVL with the hook above. Returns 0 when body
   ran; otherwise Ruby had an interrupt pending before the call (body did
   not run): it is processed now (raises, or returns 0 and the caller
   tries again). After body ran with an interrupt kept, *state says so. */
static int pl_rb_blocking(void *(*body)(void *), void *c, pl_rb_wait *w,
                          int *ran)
{
    *ran = 0;
    w->flagged = 0;
    w->main = rb_thread_current() == rb_thread_main();
    w->state = 0;
    rb_nogvl(body, c, pl_rb_ubf, w,
             RB_NOGVL_INTR_FAIL | RB_NOGVL_UBF_ASYNC_SAFE);
    if (!*ran) {
        rb_thread_check_ints(); /* may raise: nothing is held */
        return 1;
    }
    return 0;
}

#define PL_RB_CAT_(a, b) a##b
#define PL_RB_CAT(a, b) PL_RB_CAT_(a, b)
#define PL_RB_NARGS_(t1, t2, t3, t4, t5, n, ...) n
#define PL_RB_NARGS(...) PL_RB_NARGS_(__VA_ARGS__, 5, 4, 3, 2, 1, 0)
/* (T1, ..., Tn) -> what each use needs; one macro per arity. */
#define PL_RB_EACH(what, ...) PL_RB_CAT(what, PL_RB_NARGS(__VA_ARGS__))(__VA_ARGS__)
/* struct fields: T1 a1; ... */
#define PL_RB_FIELDS(...) PL_RB_EACH(PL_RB_FIELDS_, __VA_ARGS__)
#define PL_RB_FIELDS_1(t1) t1 a1;
#define PL_RB_FIELDS_2(t1, t2) t1 a1; t2 a2;
#define PL_RB_FIELDS_3(t1, t2, t3) t1 a1; t2 a2; t3 a3;
#define PL_RB_FIELDS_4(t1, t2, t3, t4) t1 a1; t2 a2; t3 a3; t4 a4;
#define PL_RB_FIELDS_5(t1, t2, t3, t4, t5) t1 a1; t2 a2; t3 a3; t4 a4; t5 a5;
/* parameters: T1 a1, ... */
#define PL_RB_PARAMS(...) PL_RB_EACH(PL_RB_PARAMS_, __VA_ARGS__)
#define PL_RB_PARAMS_1(t1) t1 a1
#define PL_RB_PARAMS_2(t1, t2) t1 a1, t2 a2
#define PL_RB_PARAMS_3(t1, t2, t3) t1 a1, t2 a2, t3 a3
#define PL_RB_PARAMS_4(t1, t2, t3, t4) t1 a1, t2 a2, t3 a3, t4 a4
#define PL_RB_PARAMS_5(t1, t2, t3, t4, t5) t1 a1, t2 a2, t3 a3, t4 a4, t5 a5
/* the struct's initializer (a1, ...), the call from it (c->a1, ...) and
   the wrapper's converted arguments (SWIG's arg1, ...) */
#define PL_RB_NAMES(...) PL_RB_EACH(PL_RB_NAMES_, __VA_ARGS__)
#define PL_RB_NAMES_1(t1) a1
#define PL_RB_NAMES_2(t1, t2) a1, a2
#define PL_RB_NAMES_3(t1, t2, t3) a1, a2, a3
#define PL_RB_NAMES_4(t1, t2, t3, t4) a1, a2, a3, a4
#define PL_RB_NAMES_5(t1, t2, t3, t4, t5) a1, a2, a3, a4, a5
#define PL_RB_FROM(...) PL_RB_EACH(PL_RB_FROM_, __VA_ARGS__)
#define PL_RB_FROM_1(t1) c->a1
#define PL_RB_FROM_2(t1, t2) c->a1, c->a2
#define PL_RB_FROM_3(t1, t2, t3) c->a1, c->a2, c->a3
#define PL_RB_FROM_4(t1, t2, t3, t4) c->a1, c->a2, c->a3, c->a4
#define PL_RB_FROM_5(t1, t2, t3, t4, t5) c->a1, c->a2, c->a3, c->a4, c->a5
#define PL_RB_WRAPPER_ARGS(...) PL_RB_EACH(PL_RB_WRAPPER_ARGS_, __VA_ARGS__)
#define PL_RB_WRAPPER_ARGS_1(t1) arg1
#define PL_RB_WRAPPER_ARGS_2(t1, t2) arg1, arg2
#define PL_RB_WRAPPER_ARGS_3(t1, t2, t3) arg1, arg2, arg3
#define PL_RB_WRAPPER_ARGS_4(t1, t2, t3, t4) arg1, arg2, arg3, arg4
#define PL_RB_WRAPPER_ARGS_5(t1, t2, t3, t4, t5) arg1, arg2, arg3, arg4, arg5

#define PL_RB_TRAMPOLINE(fn, types)                                        \
    struct pl_rb_call_##fn {                                               \
        pl_status rc;                                                      \
        int ran;                                                           \
        pl_rb_wait *wait;                                                  \
        PL_RB_FIELDS types                                                 \
    };                                                                     \
    static void *pl_rb_body_##fn(void *p)                                  \
    {                                                                      \
        struct pl_rb_call_##fn *c = (struct pl_rb_call_##fn *)p;           \
        c->ran = 1;                                                        \
        pl_binding_hook_thread(pl_rb_wait_hook);                           \
        c->wait->outer = pl_rb_current;                                    \
        pl_rb_current = c->wait;                                           \
        c->rc = fn(PL_RB_FROM types);                                      \
        pl_rb_current = c->wait->outer;                                    \
        return NULL;                                                       \
    }                                                                      \
    static pl_status pl_rb_nogvl_##fn(int *state, PL_RB_PARAMS types)      \
    {                                                                      \
        pl_rb_wait w;                                                      \
        struct pl_rb_call_##fn c = { PL_OK, 0, &w, PL_RB_NAMES types };    \
        while (pl_rb_blocking(pl_rb_body_##fn, &c, &w, &c.ran))            \
            ;                                                              \
        *state = w.state;                                                  \
        return c.rc;                                                       \
    }
/* In the wrapper: the call, then (an interrupt was kept) give back what it
   took and resume the interrupt's jump. */
#define PL_RB_CALL(fn, types)                                              \
    do {                                                                   \
        int pl_state = 0;                                                  \
        result = pl_rb_nogvl_##fn(&pl_state, PL_RB_WRAPPER_ARGS types);    \
        if (pl_state) {                                                    \
            if (result == PL_OK)                                           \
                PL_UNDO_##fn;                                              \
            rb_jump_tag(pl_state);                                         \
        }                                                                  \
    } while (0)
%}

/* The blocking calls run without the GVL: a trampoline per entry, and the
   wrapper calls it instead of the function itself ($action). */
%define PL_RB_WITHOUT_GVL(FN, TYPES)
%{
PL_RB_TRAMPOLINE(FN, TYPES)
%}
%exception FN %{
  PL_RB_CALL(FN, TYPES);
%}
%enddef
PL_BLOCKING_CALLS(PL_RB_WITHOUT_GVL)

/* pl_rb_dispose_TYPE(handle): free a handle now (Lock#close, an abandoned
   open_atomic) instead of at garbage collection. The Ruby object gives up
   ownership and forgets the pointer, so later calls on it raise instead of
   touching freed memory and the GC never frees it twice. */
%define PL_RB_DISPOSE(TYPE, FREE)
%typemap(in) TYPE *DISPOSE {
  void *p = NULL;
  if (!SWIG_IsOK(SWIG_ConvertPtr($input, &p, $descriptor(TYPE *),
                                 SWIG_POINTER_DISOWN | SWIG_POINTER_CLEAR)))
    rb_raise(rb_eTypeError, "expected a " #TYPE " handle");
  $1 = (TYPE *)p;
}
%inline %{ void pl_rb_dispose_##TYPE(TYPE *DISPOSE) { FREE(DISPOSE); } %}
%enddef
PL_RB_DISPOSE(pl_lock, pl_lock_free)
PL_RB_DISPOSE(pl_semaphore, pl_semaphore_free)
PL_RB_DISPOSE(pl_atomic_file, pl_atomic_free)
PL_RB_DISPOSE(pl_redis_lock, pl_redis_lock_free)

/* Strings: a NUL byte would silently cut the string in C (a path, a
   name): ArgumentError ("string contains null byte"). nil is NULL. */
%typemap(in) const char * {
  $1 = NIL_P($input) ? NULL : ($1_ltype)StringValueCStr($input);
}
%typemap(freearg) const char * ""

/* Binary-safe channel: any String (its bytes). */
%typemap(in) (const char *channel, size_t channel_len) {
  VALUE s = $input;
  StringValue(s);
  $1 = RSTRING_PTR(s);
  $2 = (size_t)RSTRING_LEN(s);
}
#endif /* SWIGRUBY */

/* ------------------------------------------------------------------ */
/* The header itself                                                   */
/* ------------------------------------------------------------------ */

/* SWIG expands the error-table macro into PL_ERR_* constants. */
#define PL_EXPORT
%include "portalocker.h"
