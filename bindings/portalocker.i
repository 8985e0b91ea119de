/*
 * bindings/portalocker.i -- the ONE SWIG interface for every scripting
 * language binding of libportalocker (Python today; Ruby and Lua use the
 * same file with their own small sections).
 *
 * Layout
 *   1. shared: opaque handles with destructors, out-parameter constructors,
 *      OUTPUT pointers, the list of int functions that are NOT statuses.
 *   2. shared rule: every other int return is a status; a negative status
 *      becomes the language's native error. WHICH error is decided by the
 *      core's single error table (pl_error_exception(code) gives the class
 *      name); each language only says how to raise a class given its name.
 *   3. per-language sections (#ifdef SWIGPYTHON ...): raising, releasing the
 *      interpreter lock around blocking calls, callbacks.
 *
 * The raw module is deliberately C-shaped; the idiomatic API lives in the
 * per-language layer (bindings/python/cportalocker, ...).
 *
 * Redis: the Redis lock is wrapped only when the library actually provides
 * it (the build passes -DPL_HAVE_REDIS after checking for
 * pl_redis_lock_new); otherwise every pl_redis_* declaration is ignored so
 * that the module never references a missing symbol.
 */
%module(package="cportalocker") portalocker_c

%{
#include "portalocker.h"
#include <string.h>
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
%extend pl_lock { ~pl_lock() { pl_lock_free($self); } }
%extend pl_semaphore { ~pl_semaphore() { pl_semaphore_free($self); } }
%extend pl_atomic_file { ~pl_atomic_file() { pl_atomic_free($self); } }
#ifdef PL_HAVE_REDIS
struct pl_redis_lock {};
%extend pl_redis_lock { ~pl_redis_lock() { pl_redis_lock_free($self); } }
#endif

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
#ifdef PL_HAVE_REDIS
PL_OUT_HANDLE(pl_redis_lock)
#endif

/* Out parameters become (extra) return values. */
%apply int *OUTPUT { int *fd_out, int *slot_out, int *out };
%apply double *OUTPUT { double *out };
%apply long *OUTPUT { long *pid_out };

/* pl_semaphore_slot_path(sem, slot, buf, size): returns the path. */
%typemap(in, numinputs=0) (char *buf, unsigned long size) (char tmp[4096]) {
  tmp[0] = 0; $1 = tmp; $2 = (unsigned long)sizeof tmp;
}
#if defined(SWIGLUA)
%typemap(argout) (char *buf, unsigned long size) "lua_pushstring(L, $1); SWIG_arg++;"
#else
%typemap(argout) (char *buf, unsigned long size) {
  %append_output(SWIG_FromCharPtr($1));
}
#endif

/* ------------------------------------------------------------------ */
/* 2. Status returns                                                   */
/* ------------------------------------------------------------------ */

/* int functions whose result is a value, not a status: plain ints. Every
   other int return in the header is a status. */
%typemap(out) int PL_PLAIN_INT = int;
%apply int PL_PLAIN_INT {
  int pl_version_number, int pl_error_min, int pl_last_errno,
  int pl_last_error_code, int pl_flag_shared, int pl_flag_exclusive,
  int pl_flag_non_blocking, int pl_flag_unblock, int pl_mechanism_flock,
  int pl_mechanism_posix, int pl_mechanism_ofd, int pl_mechanism_supported,
  int pl_inherit, int pl_lock_is_held, int pl_lock_held_fd, int pl_lock_count,
  int pl_semaphore_maximum, int pl_semaphore_slot, int pl_semaphore_fd,
  int pl_atomic_fd
};

/* A status: negative -> the language's error (PL_SWIG_RAISE, defined per
   language below, looks the class up by pl_error_exception(code)); PL_OK
   -> nothing (out parameters, if any, become the return value). */
#if defined(SWIGPYTHON)
%typemap(out) int %{
  if ($1 < 0) { pl_swig_raise($1); SWIG_fail; }
  $result = SWIG_Py_Void();
%}
#elif defined(SWIGRUBY)
%typemap(out) int %{
  if ($1 < 0) pl_swig_raise($1); /* does not return */
  $result = Qnil;
%}
#elif defined(SWIGLUA)
%typemap(out) int %{
  if ($1 < 0) { pl_swig_raise(L, $1); SWIG_fail; }
%}
#endif

/* Returns `code` as a status: lets each binding's tests check that every
   code of the error table becomes the right native error through the very
   typemap every real call uses. */
%inline %{
int pl_binding_status(int code) { return code; }
%}

/* The callback setter takes a C function pointer: each language offers its
   own setter (see the per-language sections). */
%ignore pl_redis_lock_set_lost_callback;

/* ------------------------------------------------------------------ */
/* 3a. Python                                                          */
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

/* Blocking calls run without the GIL. The error state they leave is per OS
   thread, so reading it after re-taking the GIL is safe. */
%define PL_RELEASES_GIL(FN)
%exception FN {
  Py_BEGIN_ALLOW_THREADS
  $action
  Py_END_ALLOW_THREADS
}
%enddef
PL_RELEASES_GIL(pl_lock_fd)
PL_RELEASES_GIL(pl_lock_fd_mechanism)
PL_RELEASES_GIL(pl_lock_acquire)
PL_RELEASES_GIL(pl_lock_acquire_with)
PL_RELEASES_GIL(pl_semaphore_acquire)
PL_RELEASES_GIL(pl_semaphore_acquire_with)
PL_RELEASES_GIL(pl_atomic_commit)
#ifdef PL_HAVE_REDIS
PL_RELEASES_GIL(pl_redis_lock_acquire)
PL_RELEASES_GIL(pl_redis_lock_acquire_with)
PL_RELEASES_GIL(pl_redis_lock_release)
PL_RELEASES_GIL(pl_redis_lock_check)
#endif

#ifdef PL_HAVE_REDIS
/* Binary-safe channel: bytes, or str (as UTF-8). */
%typemap(in) (const char *channel, unsigned long channel_len) {
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
  $2 = (unsigned long)len;
}

%{
/* Lost-lock callback: the library's background thread calls this; it
   takes the GIL and calls cportalocker.redis._on_lost(token). The token
   (not a Python object) is the userdata, so no reference can dangle. */
static void pl_py_lost_trampoline(pl_redis_lock *lock, void *userdata)
{
    PyGILState_STATE st = PyGILState_Ensure();
    PyObject *mod = PyImport_ImportModule("cportalocker.redis");
    PyObject *r = NULL;
    (void)lock;
    if (mod) {
        r = PyObject_CallMethod(mod, "_on_lost", "n",
                                (Py_ssize_t)(intptr_t)userdata);
        Py_DECREF(mod);
    }
    if (!r)
        PyErr_WriteUnraisable(Py_None);
    Py_XDECREF(r);
    PyGILState_Release(st);
}
%}
%inline %{
/* Python: route the lost-lock callback to cportalocker.redis._on_lost(token);
   token 0 removes the callback. */
int pl_py_redis_lock_set_lost_callback(pl_redis_lock *lock, long token)
{
    if (token == 0)
        return pl_redis_lock_set_lost_callback(lock, NULL, NULL);
    return pl_redis_lock_set_lost_callback(lock, pl_py_lost_trampoline,
                                           (void *)(intptr_t)token);
}
%}
#endif /* PL_HAVE_REDIS */
#endif /* SWIGPYTHON */

/* ------------------------------------------------------------------ */
/* 3c. Lua (5.4)                                                       */
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

#ifdef PL_HAVE_REDIS
/* Binary-safe channel: any Lua string. */
%typemap(in) (const char *channel, unsigned long channel_len) {
  size_t len = 0;
  $1 = (char *)luaL_checklstring(L, $input, &len);
  $2 = (unsigned long)len;
}
#endif
#endif /* SWIGLUA */

/* ------------------------------------------------------------------ */
/* 3b. Ruby                                                            */
/* ------------------------------------------------------------------ */
#if defined(SWIGRUBY)
#ifdef PL_HAVE_REDIS
%{
#define PL_RB_HAVE_REDIS 1 /* PL_HAVE_REDIS is a SWIG-time define */
%}
#endif
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

/* Blocking calls run without the GVL: each pl_rb_X has the signature of
   pl_X and runs it through rb_thread_call_without_gvl. The error state
   the call leaves is per OS thread (a Ruby Thread is one OS thread), so
   pl_swig_raise reads it safely after the GVL is taken back. No unblock
   function: the core retries on EINTR, so a Ruby interrupt (Thread#raise,
   Ctrl-C) takes effect when the wait ends (lock taken or timeout). */
typedef struct {
    int op, rc, i1, i2, i3;
    void *h;
    double d1, d2;
    int *out;
} pl_rb_call;

enum {
    PL_RB_LOCK_FD, PL_RB_LOCK_FD_MECHANISM, PL_RB_LOCK_ACQUIRE,
    PL_RB_LOCK_ACQUIRE_WITH, PL_RB_SEM_ACQUIRE, PL_RB_SEM_ACQUIRE_WITH,
    PL_RB_ATOMIC_COMMIT, PL_RB_REDIS_ACQUIRE, PL_RB_REDIS_ACQUIRE_WITH,
    PL_RB_REDIS_RELEASE, PL_RB_REDIS_CHECK
};

static void *pl_rb_nogvl(void *p)
{
    pl_rb_call *c = (pl_rb_call *)p;
    switch (c->op) {
    case PL_RB_LOCK_FD: c->rc = pl_lock_fd(c->i1, c->i2); break;
    case PL_RB_LOCK_FD_MECHANISM: c->rc = pl_lock_fd_mechanism(c->i1, c->i2, c->i3); break;
    case PL_RB_LOCK_ACQUIRE: c->rc = pl_lock_acquire((pl_lock *)c->h, c->out); break;
    case PL_RB_LOCK_ACQUIRE_WITH:
        c->rc = pl_lock_acquire_with((pl_lock *)c->h, c->d1, c->d2, c->i1, c->out);
        break;
    case PL_RB_SEM_ACQUIRE:
        c->rc = pl_semaphore_acquire((pl_semaphore *)c->h, c->out);
        break;
    case PL_RB_SEM_ACQUIRE_WITH:
        c->rc = pl_semaphore_acquire_with((pl_semaphore *)c->h, c->d1, c->d2,
                                          c->i1, c->out);
        break;
    case PL_RB_ATOMIC_COMMIT: c->rc = pl_atomic_commit((pl_atomic_file *)c->h); break;
#ifdef PL_RB_HAVE_REDIS
    case PL_RB_REDIS_ACQUIRE: c->rc = pl_redis_lock_acquire((pl_redis_lock *)c->h); break;
    case PL_RB_REDIS_ACQUIRE_WITH:
        c->rc = pl_redis_lock_acquire_with((pl_redis_lock *)c->h, c->d1, c->d2, c->i1);
        break;
    case PL_RB_REDIS_RELEASE: c->rc = pl_redis_lock_release((pl_redis_lock *)c->h); break;
    case PL_RB_REDIS_CHECK: c->rc = pl_redis_lock_check((pl_redis_lock *)c->h); break;
#endif
    default: c->rc = PL_ERR_INVALID_ARGUMENT; break;
    }
    return NULL;
}

static int pl_rb_run(pl_rb_call c)
{
    rb_thread_call_without_gvl(pl_rb_nogvl, &c, NULL, NULL);
    return c.rc;
}
%}

/* The wrapper calls pl_rb_run instead of the function itself ($action). */
%exception pl_lock_fd "result = pl_rb_run((pl_rb_call){ .op = PL_RB_LOCK_FD, .i1 = arg1, .i2 = arg2 });"
%exception pl_lock_fd_mechanism "result = pl_rb_run((pl_rb_call){ .op = PL_RB_LOCK_FD_MECHANISM, .i1 = arg1, .i2 = arg2, .i3 = arg3 });"
%exception pl_lock_acquire "result = pl_rb_run((pl_rb_call){ .op = PL_RB_LOCK_ACQUIRE, .h = arg1, .out = arg2 });"
%exception pl_lock_acquire_with "result = pl_rb_run((pl_rb_call){ .op = PL_RB_LOCK_ACQUIRE_WITH, .h = arg1, .d1 = arg2, .d2 = arg3, .i1 = arg4, .out = arg5 });"
%exception pl_semaphore_acquire "result = pl_rb_run((pl_rb_call){ .op = PL_RB_SEM_ACQUIRE, .h = arg1, .out = arg2 });"
%exception pl_semaphore_acquire_with "result = pl_rb_run((pl_rb_call){ .op = PL_RB_SEM_ACQUIRE_WITH, .h = arg1, .d1 = arg2, .d2 = arg3, .i1 = arg4, .out = arg5 });"
%exception pl_atomic_commit "result = pl_rb_run((pl_rb_call){ .op = PL_RB_ATOMIC_COMMIT, .h = arg1 });"
#ifdef PL_HAVE_REDIS
%exception pl_redis_lock_acquire "result = pl_rb_run((pl_rb_call){ .op = PL_RB_REDIS_ACQUIRE, .h = arg1 });"
%exception pl_redis_lock_acquire_with "result = pl_rb_run((pl_rb_call){ .op = PL_RB_REDIS_ACQUIRE_WITH, .h = arg1, .d1 = arg2, .d2 = arg3, .i1 = arg4 });"
%exception pl_redis_lock_release "result = pl_rb_run((pl_rb_call){ .op = PL_RB_REDIS_RELEASE, .h = arg1 });"
%exception pl_redis_lock_check "result = pl_rb_run((pl_rb_call){ .op = PL_RB_REDIS_CHECK, .h = arg1 });"
#endif

/* pl_rb_dispose(handle): free a handle now (Lock#close, an abandoned
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
#ifdef PL_HAVE_REDIS
PL_RB_DISPOSE(pl_redis_lock, pl_redis_lock_free)

/* Binary-safe channel: any String (its bytes). */
%typemap(in) (const char *channel, unsigned long channel_len) {
  VALUE s = $input;
  StringValue(s);
  $1 = RSTRING_PTR(s);
  $2 = (unsigned long)RSTRING_LEN(s);
}
#endif /* PL_HAVE_REDIS */
#endif /* SWIGRUBY */

/* ------------------------------------------------------------------ */
/* The header itself                                                   */
/* ------------------------------------------------------------------ */

#ifndef PL_HAVE_REDIS
%rename("$ignore", regextarget=1) "^pl_redis_";
%ignore pl_redis_lock;
#endif
/* The header: SWIG expands the error-table macro into PL_ERR_* constants. */

#define PL_EXPORT
%include "portalocker.h"
