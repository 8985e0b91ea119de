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
   language section applies the list with its own X: Python releases the
   GIL around each call, Ruby the GVL (through a trampoline generated per
   entry). A Lua state has no interpreter lock, so Lua runs them as they
   are. The compiler checks each entry against the header: the Ruby
   trampolines call the function with arguments of these types. */
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

/* The blocking calls run without the GIL. The error state they leave is
   per OS thread, so reading it after re-taking the GIL is safe. */
%define PL_PY_WITHOUT_GIL(FN, TYPES)
%exception FN {
  Py_BEGIN_ALLOW_THREADS
  $action
  Py_END_ALLOW_THREADS
}
%enddef
PL_BLOCKING_CALLS(PL_PY_WITHOUT_GIL)

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
%native(pl_lua_stream) int pl_lua_stream(lua_State *L);
%native(pl_lua_fileno) int pl_lua_fileno(lua_State *L);
%native(pl_lua_dispose) int pl_lua_dispose(lua_State *L);
%native(pl_lua_error_metatable) int pl_lua_error_metatable(lua_State *L);

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
   which runs fn(a1, ..., an) through rb_thread_call_without_gvl (the
   arguments travel in a struct pl_rb_call_fn), and the wrapper of fn
   calls it with SWIG's converted arguments (PL_RB_CALL). The error state
   the call leaves is per OS thread (a Ruby Thread is one OS thread), so
   pl_swig_raise reads it safely after the GVL is taken back. No unblock
   function: the core retries on EINTR, so a Ruby interrupt (Thread#raise,
   Ctrl-C) takes effect when the wait ends (lock taken or timeout). */
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
        PL_RB_FIELDS types                                                 \
    };                                                                     \
    static void *pl_rb_body_##fn(void *p)                                  \
    {                                                                      \
        struct pl_rb_call_##fn *c = (struct pl_rb_call_##fn *)p;           \
        c->rc = fn(PL_RB_FROM types);                                      \
        return NULL;                                                       \
    }                                                                      \
    static pl_status pl_rb_nogvl_##fn(PL_RB_PARAMS types)                  \
    {                                                                      \
        struct pl_rb_call_##fn c = { PL_OK, PL_RB_NAMES types };           \
        rb_thread_call_without_gvl(pl_rb_body_##fn, &c, NULL, NULL);       \
        return c.rc;                                                       \
    }
#define PL_RB_CALL(fn, types) pl_rb_nogvl_##fn(PL_RB_WRAPPER_ARGS types)
%}

/* The blocking calls run without the GVL: a trampoline per entry, and the
   wrapper calls it instead of the function itself ($action). */
%define PL_RB_WITHOUT_GVL(FN, TYPES)
%{
PL_RB_TRAMPOLINE(FN, TYPES)
%}
%exception FN %{
  result = PL_RB_CALL(FN, TYPES);
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
