/*
 * bindings/python/lock_guard.i -- the guard of cportalocker's Lock objects
 * (their `_waiter`), %included by the Python section of
 * bindings/portalocker.i before lock_fast_path.i, which takes and gives
 * it without a method call.
 */
%{
/* The guard: a reentrant lock that a forked child resets.
   Each Lock object's `_waiter`. It does what threading.RLock does for the
   Python methods (acquire(blocking=True, timeout=-1), release(), with,
   _is_owned()), and two things it cannot: the fast path takes and gives
   it without a method call, and it needs no registry of live objects
   for fork. A child forked while some thread held a guard would inherit
   it held by a thread that does not exist there; instead of resetting
   every guard from an at-fork handler (which needs a weak set of every
   Lock object, ~0.35 us per object), each guard remembers the fork
   generation it was made in, and the first use in a newer one gives it
   a fresh lock. The forking thread goes on in the child, so a guard it
   held stays held by it; any other holder is gone. */
#ifdef _WIN32
/* Windows has no fork, so no fork hook; its monotonic clock is the
   performance counter (clock_gettime would need winpthreads). */
#include <windows.h>

static double pl_py_monotonic(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart / (double)freq.QuadPart;
}
#else
#include <pthread.h>
#include <time.h>

static double pl_py_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
#endif

static volatile unsigned long pl_py_fork_generation;

#ifndef _WIN32
static void pl_py_after_fork_child(void)
{
    pl_py_fork_generation++;
}
#endif

typedef struct {
    PyObject_HEAD
    PyThread_type_lock lock;
    unsigned long owner; /* thread ident of the holder (valid if count) */
    unsigned long count;
    unsigned long generation;
} pl_py_guard;

static PyTypeObject *pl_py_guard_type;

/* A fresh lock after fork; the old one may be held by a thread that
   does not exist here, so it is left alone (as CPython's own
   _at_fork_reinit does). */
static int pl_py_guard_check_fork(pl_py_guard *g)
{
    PyThread_type_lock fresh;
    if (g->generation == pl_py_fork_generation)
        return 0;
    fresh = PyThread_allocate_lock();
    if (!fresh) {
        PyErr_NoMemory();
        return -1;
    }
    g->generation = pl_py_fork_generation;
    g->lock = fresh;
    if (g->count && g->owner == PyThread_get_thread_ident())
        (void)PyThread_acquire_lock(fresh, NOWAIT_LOCK);
    else
        g->count = 0;
    return 0;
}

/* 1 taken, 0 busy, -1 error. Never waits. */
static int pl_py_guard_try_fast(pl_py_guard *g)
{
    unsigned long me;
    if (pl_py_guard_check_fork(g) < 0)
        return -1;
    me = PyThread_get_thread_ident();
    if (g->count && g->owner == me) {
        g->count++;
        return 1;
    }
    if (!PyThread_acquire_lock(g->lock, NOWAIT_LOCK))
        return 0;
    g->owner = me;
    g->count = 1;
    return 1;
}

static int pl_py_guard_release_fast(pl_py_guard *g)
{
    if (pl_py_guard_check_fork(g) < 0)
        return -1;
    if (!g->count || g->owner != PyThread_get_thread_ident()) {
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return -1;
    }
    if (--g->count == 0)
        PyThread_release_lock(g->lock);
    return 0;
}

static PyObject *pl_py_guard_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    pl_py_guard *g;
    if ((args && PyTuple_GET_SIZE(args)) || (kw && PyDict_GET_SIZE(kw))) {
        PyErr_SetString(PyExc_TypeError, "guard() takes no arguments");
        return NULL;
    }
    g = (pl_py_guard *)type->tp_alloc(type, 0);
    if (!g)
        return NULL;
    g->lock = PyThread_allocate_lock();
    if (!g->lock) {
        Py_DECREF(g);
        return PyErr_NoMemory();
    }
    g->generation = pl_py_fork_generation;
    return (PyObject *)g;
}

static void pl_py_guard_dealloc(pl_py_guard *g)
{
    PyTypeObject *type = Py_TYPE(g);
    if (g->lock) {
        if (g->count && g->generation == pl_py_fork_generation)
            PyThread_release_lock(g->lock);
        if (g->generation == pl_py_fork_generation)
            PyThread_free_lock(g->lock);
    }
    type->tp_free((PyObject *)g);
    Py_DECREF(type);
}

/* acquire(blocking=True, timeout=-1): as threading.RLock.acquire; the
   wait gives up the GIL and runs signal handlers (one that raises ends
   it with its exception). */
static PyObject *pl_py_guard_wait(pl_py_guard *g, int blocking, double timeout)
{
    int r;
    double deadline = 0;
    PyLockStatus st;
    unsigned long me;
    if (!blocking && timeout != -1) {
        PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
        return NULL;
    }
    if (timeout < 0 && timeout != -1) {
        PyErr_SetString(PyExc_ValueError, "timeout value must be a non-negative number");
        return NULL;
    }
    if ((r = pl_py_guard_try_fast(g)) < 0)
        return NULL;
    if (r)
        Py_RETURN_TRUE;
    if (!blocking || timeout == 0)
        Py_RETURN_FALSE;
    if (timeout > 0)
        deadline = pl_py_monotonic() + timeout;
    for (;;) {
        PY_TIMEOUT_T us = -1;
        PyThread_type_lock lock = g->lock;
        if (timeout > 0) {
            double left = deadline - pl_py_monotonic();
            if (left <= 0)
                Py_RETURN_FALSE;
            us = left * 1e6 >= (double)PY_TIMEOUT_MAX ? PY_TIMEOUT_MAX
                                                      : (PY_TIMEOUT_T)(left * 1e6);
        }
        Py_BEGIN_ALLOW_THREADS
        st = PyThread_acquire_lock_timed(lock, us, 1);
        Py_END_ALLOW_THREADS
        if (st == PY_LOCK_FAILURE)
            Py_RETURN_FALSE;
        if (st == PY_LOCK_ACQUIRED && lock == g->lock) {
            me = PyThread_get_thread_ident();
            g->owner = me;
            g->count = 1;
            Py_RETURN_TRUE;
        }
        if (st == PY_LOCK_ACQUIRED)
            PyThread_release_lock(lock); /* a lock a fork replaced */
        /* Interrupted: run the signal handlers (one that raises ends the
           wait); one of them may even have forked. Then try again. */
        if (st == PY_LOCK_INTR && Py_MakePendingCalls() < 0)
            return NULL;
        if ((r = pl_py_guard_try_fast(g)) < 0)
            return NULL;
        if (r)
            Py_RETURN_TRUE;
    }
}

static PyObject *pl_py_guard_acquire(pl_py_guard *g, PyObject *args, PyObject *kw)
{
    static char *names[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    double timeout = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|pd:acquire", names, &blocking, &timeout))
        return NULL;
    return pl_py_guard_wait(g, blocking, timeout);
}

static PyObject *pl_py_guard_release_m(pl_py_guard *g, PyObject *unused)
{
    if (pl_py_guard_release_fast(g) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *pl_py_guard_enter(pl_py_guard *g, PyObject *unused)
{
    return pl_py_guard_wait(g, 1, -1);
}

static PyObject *pl_py_guard_exit(pl_py_guard *g, PyObject *args)
{
    return pl_py_guard_release_m(g, NULL);
}

static PyObject *pl_py_guard_is_owned(pl_py_guard *g, PyObject *unused)
{
    if (pl_py_guard_check_fork(g) < 0)
        return NULL;
    return PyBool_FromLong(g->count && g->owner == PyThread_get_thread_ident());
}

static PyMethodDef pl_py_guard_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))pl_py_guard_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool, as threading.RLock.acquire"},
    {"release", (PyCFunction)pl_py_guard_release_m, METH_NOARGS, "release()"},
    {"__enter__", (PyCFunction)pl_py_guard_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)pl_py_guard_exit, METH_VARARGS, NULL},
    {"_is_owned", (PyCFunction)pl_py_guard_is_owned, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyType_Slot pl_py_guard_slots[] = {
    {Py_tp_new, (void *)pl_py_guard_new},
    {Py_tp_dealloc, (void *)pl_py_guard_dealloc},
    {Py_tp_methods, (void *)pl_py_guard_methods},
    {Py_tp_doc, (void *)"A Lock object's reentrant guard (see lock_fast_path.i)."},
    {0, NULL}};

static PyType_Spec pl_py_guard_spec = {
    "cportalocker._portalocker_c.Guard", sizeof(pl_py_guard), 0,
    Py_TPFLAGS_DEFAULT, pl_py_guard_slots};

/* Make the Guard class (methods["Guard"]) and register the fork hook;
   once, from pl_py_lock_fast_setup. 0 or -1 with an exception. */
static int pl_py_guard_setup(PyObject *methods)
{
    pl_py_guard_type = (PyTypeObject *)PyType_FromSpec(&pl_py_guard_spec);
    if (!pl_py_guard_type ||
        PyDict_SetItemString(methods, "Guard", (PyObject *)pl_py_guard_type) < 0)
        return -1;
#ifndef _WIN32
    if (pthread_atfork(NULL, NULL, pl_py_after_fork_child) != 0) {
        PyErr_SetString(PyExc_OSError, "pthread_atfork failed");
        return -1;
    }
#endif
    return 0;
}
%}
