/*
 * bindings/python/lock_fast_path.i -- the hot path of cportalocker's Lock
 * (acquire, release, __enter__, __exit__) in C, %included by the Python
 * section of bindings/portalocker.i.
 *
 * Why C: measured, a reused Lock's acquire+release cycle spends most of
 * its time in the file object open() builds and in the core's system
 * calls; what the Python methods added around them (attribute reads,
 * the guard, argument checks, frames) was 1-2 us of a ~5 us cycle, more
 * than the target allows. These functions do the same steps without the
 * interpreter. They live in the SWIG module because waits must run the
 * same thread-local wait hook as every other blocking call
 * (pl_py_wait_hook above): a second extension would install a hook of
 * its own and break signal handling for the other's waits.
 *
 * They only take the plain case and hand everything else, unchanged, to
 * the Python methods (`_acquire_py`, `_release_py`, `_enter_py`,
 * `_exit_py` of cportalocker.utils.Lock): a class that is not registered
 * as plain (subclass hooks, shadowed attributes), keyword arguments, a
 * busy guard (another thread, a signal handler inside a release), a
 * mechanism other than LOCKER's default flock, file_open_kwargs,
 * unusual timeout values, the blocking-flags warning. What "the same
 * steps" are is documented on the Python methods, which stay the
 * reference.
 *
 * Each function is exposed as an instance method (PyInstanceMethod): the
 * class attribute binds like a Python function, so args[0] is self. The
 * guard it takes is lock_guard.i's.
 */
%{

/* (Lock, plain subclasses, subclasses whose held re-acquire the core
   verifies): the two sets are the ones cportalocker.utils keeps filling. */
static PyObject *pl_py_fast_types;
static PyObject *pl_py_locker_module; /* cportalocker.portalocker (LOCKER) */
static PyObject *pl_py_locker_dict;   /* its __dict__ */
static PyObject *pl_py_flock;       /* LOCKER's default, the flock mechanism
                                       (fcntl.flock; MsvcrtLocker on Windows) */
static PyObject *pl_py_open;        /* io.open */
static PyObject *pl_py_fileio, *pl_py_buffered_writer, *pl_py_buffered_reader,
    *pl_py_buffered_random, *pl_py_textio; /* the io classes open() uses */

static PyObject *pl_py_s_fh, *pl_py_s_waiter, *pl_py_s_handle,
    *pl_py_s_mechanism, *pl_py_s_timeout, *pl_py_s_check_interval,
    *pl_py_s_fail_when_locked, *pl_py_s_mode, *pl_py_s_kwargs,
    *pl_py_s_filename, *pl_py_s_locker, *pl_py_s_acquire, *pl_py_s_release,
    *pl_py_s_buffer, *pl_py_s_raw, *pl_py_s_name, *pl_py_s_keep,
    *pl_py_s_close, *pl_py_s_close_failed, *pl_py_s_release_suppressed,
    *pl_py_s_acquire_py,
    *pl_py_s_release_py, *pl_py_s_enter_py, *pl_py_s_exit_py, *pl_py_s_blksize,
    *pl_py_s_truncate;
static PyObject *pl_py_chain;       /* utils._chain_release_error */
static PyObject *pl_py_docs;        /* their docstrings (kept alive) */
static PyObject *pl_py_default_timeout; /* utils.DEFAULT_TIMEOUT */
static PyObject *pl_py_hooks;       /* {name: Lock's own function} */

/* Take / give a Lock object's guard: directly for a Guard, through its
   methods for anything else. 1 taken, 0 busy, -1 error. */
static int pl_py_guard_try(PyObject *guard)
{
    PyObject *r;
    int taken;
    if (Py_TYPE(guard) == pl_py_guard_type)
        return pl_py_guard_try_fast((pl_py_guard *)guard);
    r = PyObject_CallMethodOneArg(guard, pl_py_s_acquire, Py_False);
    if (!r)
        return -1;
    taken = r == Py_True;
    Py_DECREF(r);
    return taken;
}

static void pl_py_guard_release(PyObject *guard)
{
    PyObject *et, *ev, *tb, *r = NULL;
    PyErr_Fetch(&et, &ev, &tb); /* keep an exception being raised */
    if (Py_TYPE(guard) == pl_py_guard_type) {
        if (pl_py_guard_release_fast((pl_py_guard *)guard) == 0)
            r = Py_None, Py_INCREF(r);
    } else
        r = PyObject_CallMethodNoArgs(guard, pl_py_s_release);
    if (r)
        Py_DECREF(r);
    else if (et)
        PyErr_Clear();
    if (et)
        PyErr_Restore(et, ev, tb);
}

/* Whether self's class is Lock or one of its plain subclasses (no
   hooks, no shadowed attributes: cportalocker.utils keeps the set). */
static int pl_py_is_plain(PyObject *self)
{
    PyObject *type = (PyObject *)Py_TYPE(self);
    int r;
    if (type == PyTuple_GET_ITEM(pl_py_fast_types, 0))
        return 1;
    r = PySet_Contains(PyTuple_GET_ITEM(pl_py_fast_types, 1), type);
    if (r < 0) {
        PyErr_Clear();
        return 0;
    }
    return r;
}

/* A borrowed value from the instance dict, NULL when absent. */
static PyObject *pl_py_item(PyObject *d, PyObject *name)
{
    return PyDict_GetItemWithError(d, name);
}

/* A wait for the core as the Python layer computes it (utils._seconds)
   for the values the fast path takes: an exact float or int >= 0 (inf
   included). Anything else (None after defaults, NaN, negative, bool,
   other types): 0, and the Python method decides. */
static int pl_py_seconds(PyObject *v, double *out)
{
    double d;
    if (PyFloat_CheckExact(v))
        d = PyFloat_AS_DOUBLE(v);
    else if (PyLong_CheckExact(v)) {
        d = PyLong_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
    } else
        return 0;
    if (!(d >= 0)) /* NaN too */
        return 0;
    *out = d;
    return 1;
}

/* Hand the call to the Python method `name` with the same arguments. */
static PyObject *pl_py_slow(PyObject *name, PyObject *const *args,
                            Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *meth = PyObject_GetAttr(args[0], name), *r;
    if (!meth)
        return NULL;
    r = PyObject_Vectorcall(meth, args + 1, nargs - 1, kwnames);
    Py_DECREF(meth);
    return r;
}

/* An OSError names the file, as open() would (utils._with_filename); a
   lock exception (AlreadyLocked on contention) names it in fh_name, as
   the reference's does (utils.Lock._c_acquire). */
static void pl_py_name_error(PyObject *filename)
{
    PyObject *et, *ev, *tb;
    const char *attr = NULL;
    PyErr_Fetch(&et, &ev, &tb);
    PyErr_NormalizeException(&et, &ev, &tb);
    if (ev && PyObject_TypeCheck(ev, (PyTypeObject *)PyExc_OSError))
        attr = "filename";
    else if (ev && PyObject_HasAttrString(ev, "fh_name"))
        attr = "fh_name";
    if (attr) {
        PyObject *old = PyObject_GetAttrString(ev, attr);
        if (old == Py_None && PyObject_SetAttrString(ev, attr, filename) < 0)
            PyErr_Clear();
        if (!old)
            PyErr_Clear();
        Py_XDECREF(old);
    }
    PyErr_Restore(et, ev, tb);
}

/* The file object over the core's descriptor, as
   open(fd, mode, closefd=False) builds it (the same layers: FileIO,
   Buffered{Writer,Reader,Random}, TextIOWrapper with the default
   encoding and a `mode` attribute), built here without open()'s argument
   handling; the path as its name, and the lock handle kept alive by it.
   The buffer size is the one open() chooses, the FileIO's _blksize (the
   core opens regular files only, never a tty, so never line buffering),
   remembered per Lock object in its `_blksize` (same path, same file
   system). An unusual mode goes through open() itself. */
static PyObject *pl_py_file_object(PyObject *d, int fd, PyObject *mode,
                                   PyObject *filename, PyObject *handle)
{
    PyObject *size = pl_py_item(d, pl_py_s_blksize), *fd_obj, *raw = NULL,
             *buffer = NULL, *fh = NULL, *cls;
    const char *m = PyUnicode_AsUTF8(mode), *p;
    int reading = 0, writing = 0, plus = 0, binary = 0, text = 0;
    char rawmode[3];

    if (!m)
        return NULL;
    if (size)
        Py_INCREF(size);
    fd_obj = PyLong_FromLong(fd);
    if (!fd_obj)
        goto out;
    for (p = m; *p; p++) {
        switch (*p) {
        case 'r': reading++; break;
        case 'a': case 'x': writing++; rawmode[0] = *p; break;
        case '+': plus++; break;
        case 'b': binary++; break;
        case 't': text++; break;
        default: goto generic;
        }
    }
    if (reading + writing != 1 || plus > 1 || binary + text > 1)
        goto generic;
    if (reading)
        rawmode[0] = 'r';
    rawmode[1] = plus ? '+' : '\0';
    rawmode[2] = '\0';
    {
        /* the six raw modes, made once: r, a, x and with '+' */
        static PyObject *raw_modes[6];
        int i = (rawmode[0] == 'r' ? 0 : rawmode[0] == 'a' ? 1 : 2) + (plus ? 3 : 0);
        PyObject *argv[3];
        if (!raw_modes[i] && !(raw_modes[i] = PyUnicode_InternFromString(rawmode)))
            goto out;
        argv[0] = fd_obj;
        argv[1] = raw_modes[i];
        argv[2] = Py_False; /* closefd: the descriptor is the core's */
        raw = PyObject_Vectorcall(pl_py_fileio, argv, 3, NULL);
    }
    if (!raw || PyObject_SetAttr(raw, pl_py_s_name, filename) < 0)
        goto out;
    if (!size) {
        /* What open() does: the FileIO's fstat found the block size. */
        size = PyObject_GetAttr(raw, pl_py_s_blksize);
        if (!size || PyDict_SetItem(d, pl_py_s_blksize, size) < 0)
            goto out;
    }
    cls = plus ? pl_py_buffered_random : writing ? pl_py_buffered_writer
                                                 : pl_py_buffered_reader;
    {
        PyObject *argv[2] = {raw, size};
        buffer = PyObject_Vectorcall(cls, argv, 2, NULL);
    }
    if (!buffer)
        goto out;
    if (binary) {
        Py_INCREF(buffer);
        fh = buffer;
    } else {
        PyObject *argv[5] = {buffer, Py_None, Py_None, Py_None, Py_False};
        fh = PyObject_Vectorcall(pl_py_textio, argv, 5, NULL);
        if (fh && PyObject_SetAttr(fh, pl_py_s_mode, mode) < 0)
            Py_CLEAR(fh);
    }
    goto keep;
generic:
    if (!size && !(size = PyLong_FromLong(-1)))
        goto out;
    {
        PyObject *argv[7] = {fd_obj, mode, size, Py_None, Py_None, Py_None,
                             Py_False};
        fh = PyObject_Vectorcall(pl_py_open, argv, 7, NULL);
    }
    if (fh) {
        /* text: fh.buffer.raw; buffered binary: fh.raw */
        buffer = PyObject_GetAttr(fh, pl_py_s_buffer);
        if (!buffer) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                goto fail;
            PyErr_Clear();
            Py_INCREF(fh);
            buffer = fh;
        }
        raw = PyObject_GetAttr(buffer, pl_py_s_raw);
        if (!raw || PyObject_SetAttr(raw, pl_py_s_name, filename) < 0)
            goto fail;
    }
keep:
    if (fh && PyObject_SetAttr(fh, pl_py_s_keep, handle) < 0)
        goto fail;
out:
    Py_XDECREF(raw);
    Py_XDECREF(buffer);
    Py_XDECREF(fd_obj);
    Py_XDECREF(size);
    return fh;
fail:
    Py_CLEAR(fh);
    goto out;
}

/* Whether the reference's subclass hooks (_get_fh, _get_lock,
   _prepare_fh) are still Lock's own for this object: none assigned to
   the object itself, none overridden or assigned later on its class
   (monkeypatching, as tests do). A class passes the lookups once per
   version of it: CPython changes a type's version tag whenever it or a
   base is modified. */
static int pl_py_hooks_untouched(PyObject *self, PyObject *d)
{
    static PyTypeObject *clean_type;
    static unsigned int clean_tag;
    PyTypeObject *type = Py_TYPE(self);
    PyObject *name, *func;
    Py_ssize_t pos = 0;
    while (PyDict_Next(pl_py_hooks, &pos, &name, &func))
        if (PyDict_GetItemWithError(d, name))
            return 0;
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (type == clean_type && clean_tag && type->tp_version_tag == clean_tag
#ifdef Py_TPFLAGS_VALID_VERSION_TAG
        && (type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG)
#endif
    )
        return 1;
    pos = 0;
    while (PyDict_Next(pl_py_hooks, &pos, &name, &func))
        if (_PyType_Lookup(type, name) != func)
            return 0;
#ifdef Py_TPFLAGS_VALID_VERSION_TAG
    if (!(type->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG))
        return 1;
#endif
    clean_type = type;
    clean_tag = type->tp_version_tag;
    return 1;
}

/* acquire(self, timeout=None, check_interval=None, fail_when_locked=None)
   and __enter__(self). Returns NULL with nothing held on any failure. */
static PyObject *pl_py_lock_acquire_impl(PyObject *const *args,
                                         Py_ssize_t nargs, PyObject *kwnames,
                                         PyObject *slow_name)
{
    PyObject *self, *d, *v, *guard = NULL, *handle = NULL, *mode = NULL,
                            *filename = NULL, *fh = NULL, *locker;
    pl_lock *lock = NULL;
    double timeout, check_interval;
    int fail_when_locked, flags = 0, mechanism = -1, fd = -1, rc, taken;

    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "acquire() needs the lock object");
        return NULL;
    }
    self = args[0];
    if (kwnames || nargs > 4 || !pl_py_is_plain(self))
        return pl_py_slow(slow_name, args, nargs, kwnames);
    d = PyObject_GenericGetDict(self, NULL);
    if (!d)
        return NULL;

    /* Held: the same file object (reference: `if fh: return fh`), except
       for the kinds whose lock file the core owns (TemporaryFileLock,
       PidFileLock): their re-acquire asks the core whether the path still
       names the held file (the Python method), as the reference checks. */
    v = pl_py_item(d, pl_py_s_fh);
    if (v && v != Py_None) {
        int verify = PySet_Contains(PyTuple_GET_ITEM(pl_py_fast_types, 2),
                                    (PyObject *)Py_TYPE(self));
        if (verify != 0) {
            Py_DECREF(d);
            if (verify < 0)
                return NULL;
            return pl_py_slow(slow_name, args, nargs, kwnames);
        }
        Py_INCREF(v);
        Py_DECREF(d);
        return v;
    }
    if (!pl_py_hooks_untouched(self, d))
        goto slow;
    /* Per-call values win over the attributes (reference's coalesce). */
    v = nargs > 1 && args[1] != Py_None ? args[1] : pl_py_item(d, pl_py_s_timeout);
    if (!v || !pl_py_seconds(v, &timeout))
        goto slow;
    v = nargs > 2 && args[2] != Py_None ? args[2]
                                        : pl_py_item(d, pl_py_s_check_interval);
    if (!v || !pl_py_seconds(v, &check_interval))
        goto slow;
    v = nargs > 3 && args[3] != Py_None ? args[3]
                                        : pl_py_item(d, pl_py_s_fail_when_locked);
    if (!v || (fail_when_locked = PyObject_IsTrue(v)) < 0)
        goto slow;
    /* The mechanism LOCKER names: only its default, flock, here. */
    v = pl_py_item(d, pl_py_s_mechanism);
    if (v != Py_None)
        goto slow;
    locker = PyDict_GetItemWithError(pl_py_locker_dict, pl_py_s_locker);
    if (locker != pl_py_flock)
        goto slow; /* also: not set (the Python method says what is wrong) */
    mode = pl_py_item(d, pl_py_s_mode);
    v = pl_py_item(d, pl_py_s_kwargs);
    handle = pl_py_item(d, pl_py_s_handle);
    filename = pl_py_item(d, pl_py_s_filename);
    guard = pl_py_item(d, pl_py_s_waiter);
    if (!mode || !PyUnicode_CheckExact(mode) || !v || !PyDict_CheckExact(v) ||
        PyDict_GET_SIZE(v) != 0 || !handle || !filename || !guard ||
        SWIG_ConvertPtr(handle, (void **)&lock, SWIGTYPE_p_pl_lock, 0) < 0 ||
        !lock)
        goto slow;
    if (pl_lock_get_mechanism(lock, &mechanism) != PL_OK ||
        mechanism != PL_MECH_FLOCK || pl_lock_get_flags(lock, &flags) != PL_OK)
        goto slow;
    /* A timeout with blocking flags warns (the Python method does it). */
    if (nargs > 1 && args[1] != Py_None && !(flags & PL_LOCK_NB))
        goto slow;
    /* Strong references: other threads run while the core waits. */
    Py_INCREF(mode);
    Py_INCREF(handle);
    Py_INCREF(filename);
    Py_INCREF(guard);
    if ((taken = pl_py_guard_try(guard)) <= 0) {
        Py_DECREF(mode);
        Py_DECREF(handle);
        Py_DECREF(filename);
        Py_DECREF(guard);
        if (taken < 0)
            goto error;
        goto slow; /* busy: another thread, or a handler inside a call */
    }
    /* Another call may have taken it meanwhile (under the guard now). */
    v = pl_py_item(d, pl_py_s_fh);
    if (v && v != Py_None) {
        Py_INCREF(v);
        fh = v;
        goto done;
    }
    {
        pl_py_wait w = {NULL, NULL, NULL, NULL, pl_py_current};
        pl_binding_hook_thread(pl_py_wait_hook);
        pl_py_current = &w;
        w.save = PyEval_SaveThread();
        rc = pl_lock_acquire_with(lock, timeout, check_interval,
                                  fail_when_locked, &fd);
        PyEval_RestoreThread(w.save);
        pl_py_current = w.outer;
        if (w.type) {
            /* A signal handler raised: its exception, nothing held. */
            if (rc == PL_OK)
                (void)pl_lock_release(lock);
            PyErr_Restore(w.type, w.value, w.traceback);
            goto done;
        }
    }
    if (rc < 0) {
        pl_swig_raise(rc);
        pl_py_name_error(filename);
        goto done;
    }
    fh = pl_py_file_object(d, fd, mode, filename, handle);
    if (fh && PyDict_SetItem(d, pl_py_s_fh, fh) < 0)
        Py_CLEAR(fh);
    /* A signal that arrived since the core took the lock: its handler
       runs now (as it would at the Python method's next call) and, if
       it raises, nothing may stay held: the caller never gets the lock
       to release it. */
    if (fh && PyErr_CheckSignals() < 0) {
        PyObject *et, *ev, *tb, *r;
        PyErr_Fetch(&et, &ev, &tb);
        if (PyDict_DelItem(d, pl_py_s_fh) < 0)
            PyErr_Clear();
        r = PyObject_CallMethodNoArgs(fh, pl_py_s_close);
        if (r)
            Py_DECREF(r);
        else
            PyErr_Clear();
        Py_CLEAR(fh);
        PyErr_Restore(et, ev, tb);
    }
    if (!fh) {
        /* Also an exception a signal handler raised inside open(). */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        (void)pl_lock_release(lock);
        PyErr_Restore(et, ev, tb);
    }
done:
    pl_py_guard_release(guard);
    Py_DECREF(mode);
    Py_DECREF(handle);
    Py_DECREF(filename);
    Py_DECREF(guard);
    Py_DECREF(d);
    return fh;
slow:
    Py_DECREF(d);
    if (PyErr_Occurred())
        PyErr_Clear();
    return pl_py_slow(slow_name, args, nargs, kwnames);
error:
    Py_DECREF(d);
    return NULL;
}

/* release(self): 0 done, -1 error raised, 1 not plain (use the slow
   path). */
static int pl_py_lock_release_impl(PyObject *self)
{
    PyObject *d, *fh, *handle, *guard;
    pl_lock *lock = NULL;
    int rc = 0, taken;

    if (!pl_py_is_plain(self))
        return 1;
    /* TemporaryFileLock, PidFileLock: the Python method warns when the
       core will spare a file that is no longer this lock's. (Lock itself
       is never one: no set lookup on its hot path.) */
    if ((PyObject *)Py_TYPE(self) != PyTuple_GET_ITEM(pl_py_fast_types, 0) &&
        (rc = PySet_Contains(PyTuple_GET_ITEM(pl_py_fast_types, 2),
                             (PyObject *)Py_TYPE(self))) != 0)
        return rc < 0 ? -1 : 1;
    d = PyObject_GenericGetDict(self, NULL);
    if (!d)
        return -1;
    fh = pl_py_item(d, pl_py_s_fh);
    handle = pl_py_item(d, pl_py_s_handle);
    guard = pl_py_item(d, pl_py_s_waiter);
    if (!handle || !guard ||
        SWIG_ConvertPtr(handle, (void **)&lock, SWIGTYPE_p_pl_lock, 0) < 0 ||
        !lock) {
        PyErr_Clear();
        Py_DECREF(d);
        return 1;
    }
    if (!pl_lock_is_held(lock)) {
        Py_DECREF(d);
        if (fh && fh != Py_None)
            return 1; /* a file object the hook path holds */
        return 0; /* nothing held: a no-op, as in the reference */
    }
    Py_INCREF(handle);
    Py_INCREF(guard);
    if ((taken = pl_py_guard_try(guard)) <= 0) {
        Py_DECREF(handle);
        Py_DECREF(guard);
        Py_DECREF(d);
        if (taken < 0)
            return -1;
        return 1;
    }
    /* Claim the file object in one step: of two releases one gets it. */
    fh = pl_py_item(d, pl_py_s_fh);
    if (fh && fh != Py_None) {
        PyObject *r;
        Py_INCREF(fh);
        if (PyDict_DelItem(d, pl_py_s_fh) < 0) {
            Py_DECREF(fh);
            rc = -1;
            goto out;
        }
        r = PyObject_CallMethodNoArgs(fh, pl_py_s_close); /* flushes */
        if (r)
            Py_DECREF(r);
        else {
            /* The Python method's policy: raise (after releasing) or log. */
            PyObject *et, *ev, *tb, *res;
            PyErr_Fetch(&et, &ev, &tb);
            PyErr_NormalizeException(&et, &ev, &tb);
            if (tb)
                PyException_SetTraceback(ev, tb);
            if (!PyErr_GivenExceptionMatches(et, PyExc_Exception)) {
                (void)pl_lock_release(lock);
                PyErr_Restore(et, ev, tb);
                Py_DECREF(fh);
                rc = -1;
                goto out;
            }
            res = PyObject_CallMethodOneArg(self, pl_py_s_close_failed, ev);
            Py_XDECREF(et);
            Py_XDECREF(ev);
            Py_XDECREF(tb);
            if (!res) {
                Py_DECREF(fh);
                rc = -1;
                goto out;
            }
            Py_DECREF(res);
        }
        Py_DECREF(fh);
        fh = Py_True; /* had one */
    } else
        fh = NULL;
    if (fh || pl_lock_is_held(lock)) {
        int st = pl_lock_release(lock);
        if (st < 0) {
            pl_swig_raise(st);
            rc = -1;
        } else if (pl_last_error_code() != 0) {
            /* Released, but an unlock, close or removal failed: logged
               by the Python method, as the reference logs it. */
            PyObject *res = PyObject_CallMethodNoArgs(self, pl_py_s_release_suppressed);
            if (res)
                Py_DECREF(res);
            else
                rc = -1;
        }
    }
out:
    pl_py_guard_release(guard);
    Py_DECREF(handle);
    Py_DECREF(guard);
    Py_DECREF(d);
    return rc;
}

static PyObject *pl_py_lock_acquire(PyObject *m, PyObject *const *args,
                                    Py_ssize_t nargs, PyObject *kwnames)
{
    return pl_py_lock_acquire_impl(args, nargs, kwnames, pl_py_s_acquire_py);
}

static PyObject *pl_py_lock_enter(PyObject *m, PyObject *const *args,
                                  Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs != 1 || kwnames)
        return pl_py_slow(pl_py_s_enter_py, args, nargs, kwnames);
    return pl_py_lock_acquire_impl(args, nargs, NULL, pl_py_s_enter_py);
}

static PyObject *pl_py_lock_release(PyObject *m, PyObject *const *args,
                                    Py_ssize_t nargs, PyObject *kwnames)
{
    int rc;
    if (nargs != 1 || kwnames)
        return nargs < 1 ? (PyErr_SetString(PyExc_TypeError,
                                            "release() needs the lock object"),
                            NULL)
                         : pl_py_slow(pl_py_s_release_py, args, nargs, kwnames);
    rc = pl_py_lock_release_impl(args[0]);
    if (rc == 1)
        return pl_py_slow(pl_py_s_release_py, args, nargs, kwnames);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* __exit__(self, exc_type, exc_value, traceback): release; a release
   error (an Exception) while the block raised is chained under the
   block's exception (utils._chain_release_error), which propagates. */
static PyObject *pl_py_lock_exit(PyObject *m, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames)
{
    int rc;
    if (nargs != 4 || kwnames)
        return pl_py_slow(pl_py_s_exit_py, args, nargs, kwnames);
    rc = pl_py_lock_release_impl(args[0]);
    if (rc == 1)
        return pl_py_slow(pl_py_s_exit_py, args, nargs, kwnames);
    if (rc < 0) {
        PyObject *et, *ev, *tb, *r;
        if (args[2] == Py_None || !PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        PyErr_Fetch(&et, &ev, &tb);
        PyErr_NormalizeException(&et, &ev, &tb);
        if (tb)
            PyException_SetTraceback(ev, tb);
        r = PyObject_CallFunctionObjArgs(pl_py_chain, args[2], ev, NULL);
        Py_XDECREF(et);
        Py_XDECREF(ev);
        Py_XDECREF(tb);
        if (!r)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

/* init(self, filename, mode, timeout, check_interval, fail_when_locked):
   Lock.__init__'s body for the common call (an exact Lock, an absolute
   normalised str path, a mode without 'w', plain number timeouts, the
   default flags, mechanism and open kwargs, which Lock.__init__ checks
   before calling this). True when done; False when not such a call:
   Lock.__init__ then does it in Python. */
static PyObject *pl_py_lock_init(PyObject *m, PyObject *const *args,
                                 Py_ssize_t nargs)
{
    PyObject *self, *filename, *mode, *timeout, *check_interval, *fwl, *d,
        *path = NULL, *handle = NULL, *guard = NULL, *kwargs = NULL;
    const char *f, *mo;
    Py_ssize_t len;
    pl_lock *lock = NULL;
    int rc;

    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "init() takes 6 arguments");
        return NULL;
    }
    self = args[0];
    filename = args[1];
    mode = args[2];
    timeout = args[3];
    check_interval = args[4];
    fwl = args[5];
    if ((PyObject *)Py_TYPE(self) != PyTuple_GET_ITEM(pl_py_fast_types, 0) ||
        !PyUnicode_CheckExact(filename) || !PyUnicode_CheckExact(mode))
        Py_RETURN_FALSE;
    if (timeout == Py_None)
        timeout = pl_py_default_timeout;
    else if (!PyFloat_CheckExact(timeout) && !PyLong_CheckExact(timeout))
        Py_RETURN_FALSE;
    if (!PyFloat_CheckExact(check_interval) && !PyLong_CheckExact(check_interval))
        Py_RETURN_FALSE;
    if (fwl == Py_None)
        fwl = Py_False; /* DEFAULT_FAIL_WHEN_LOCKED */
    f = PyUnicode_AsUTF8AndSize(filename, &len);
    mo = PyUnicode_AsUTF8(mode);
    if (!f || !mo) {
        PyErr_Clear(); /* e.g. surrogates: the Python path encodes them */
        Py_RETURN_FALSE;
    }
    /* What os.path.abspath would leave unchanged, without NUL bytes. */
    if (len < 2 || f[0] != '/' || f[len - 1] == '/' || strstr(f, "/.") ||
        strstr(f, "//") || strlen(f) != (size_t)len || strchr(mo, 'w'))
        Py_RETURN_FALSE;
    path = PyUnicode_EncodeFSDefault(filename);
    if (!path)
        return NULL;
    rc = pl_lock_new(&lock, PyBytes_AS_STRING(path));
    Py_DECREF(path);
    if (rc < 0) {
        pl_swig_raise(rc);
        pl_py_name_error(filename);
        return NULL;
    }
    handle = SWIG_NewPointerObj(SWIG_as_voidptr(lock), SWIGTYPE_p_pl_lock, SWIG_POINTER_OWN);
    if (!handle) {
        pl_lock_free(lock);
        return NULL;
    }
    if (strcmp(mo, "a") != 0 && (rc = pl_lock_set_mode(lock, mo)) < 0) {
        pl_swig_raise(rc);
        Py_DECREF(handle);
        return NULL;
    }
    guard = PyObject_CallNoArgs((PyObject *)pl_py_guard_type);
    kwargs = PyDict_New();
    d = PyObject_GenericGetDict(self, NULL);
    if (!guard || !kwargs || !d ||
        PyDict_SetItem(d, pl_py_s_truncate, Py_False) < 0 ||
        PyDict_SetItem(d, pl_py_s_filename, filename) < 0 ||
        PyDict_SetItem(d, pl_py_s_mode, mode) < 0 ||
        PyDict_SetItem(d, pl_py_s_kwargs, kwargs) < 0 ||
        PyDict_SetItem(d, pl_py_s_waiter, guard) < 0 ||
        PyDict_SetItem(d, pl_py_s_handle, handle) < 0 ||
        PyDict_SetItem(d, pl_py_s_mechanism, Py_None) < 0 ||
        PyDict_SetItem(d, pl_py_s_timeout, timeout) < 0 ||
        PyDict_SetItem(d, pl_py_s_check_interval, check_interval) < 0 ||
        PyDict_SetItem(d, pl_py_s_fail_when_locked, fwl) < 0) {
        Py_XDECREF(d);
        Py_XDECREF(kwargs);
        Py_XDECREF(guard);
        Py_DECREF(handle);
        return NULL;
    }
    Py_DECREF(d);
    Py_DECREF(kwargs);
    Py_DECREF(guard);
    Py_DECREF(handle);
    Py_RETURN_TRUE;
}

static PyMethodDef pl_py_init_def = {
    "init", (PyCFunction)(void (*)(void))pl_py_lock_init, METH_FASTCALL,
    "Lock.__init__'s common case in C (see lock_fast_path.i)."};

/* pl_py_lock_fast_setup((Lock, plain_subclasses, verified_subclasses),
   portalocker_module, flock, chain, docs): called once by
   cportalocker.utils, which keeps filling the two sets. */
static PyMethodDef pl_py_fast_defs[] = {
    {"acquire", (PyCFunction)(void (*)(void))pl_py_lock_acquire,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"__enter__", (PyCFunction)(void (*)(void))pl_py_lock_enter,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"release", (PyCFunction)(void (*)(void))pl_py_lock_release,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))pl_py_lock_exit,
     METH_FASTCALL | METH_KEYWORDS, NULL},
    {NULL, NULL, 0, NULL}};

static int pl_py_intern(PyObject **slot, const char *s)
{
    *slot = PyUnicode_InternFromString(s);
    return *slot ? 0 : -1;
}

static PyObject *pl_py_lock_fast_setup_impl(PyObject *fast_types,
                                            PyObject *locker_module,
                                            PyObject *flock, PyObject *chain,
                                            PyObject *docs)
{
    PyObject *io, *methods;
    PyMethodDef *def;
    if (!PyTuple_Check(fast_types) || PyTuple_GET_SIZE(fast_types) != 3 ||
        !PyAnySet_Check(PyTuple_GET_ITEM(fast_types, 1)) ||
        !PyAnySet_Check(PyTuple_GET_ITEM(fast_types, 2)) || !PyDict_Check(docs)) {
        PyErr_SetString(PyExc_TypeError,
                        "expected (Lock, set, set), module, flock, chain, docs");
        return NULL;
    }
    if (pl_py_fast_types) {
        PyErr_SetString(PyExc_RuntimeError, "pl_py_lock_fast_setup: called twice");
        return NULL;
    }
    Py_INCREF(docs);
    pl_py_docs = docs;
    pl_py_default_timeout = PyDict_GetItemString(docs, "DEFAULT_TIMEOUT");
    if (!pl_py_default_timeout) {
        PyErr_SetString(PyExc_TypeError, "docs: DEFAULT_TIMEOUT missing");
        return NULL;
    }
    Py_INCREF(pl_py_default_timeout);
    pl_py_hooks = PyDict_GetItemString(docs, "HOOKS");
    if (!pl_py_hooks || !PyDict_Check(pl_py_hooks)) {
        PyErr_SetString(PyExc_TypeError, "docs: HOOKS missing");
        return NULL;
    }
    Py_INCREF(pl_py_hooks);
    for (def = pl_py_fast_defs; def->ml_name; def++) {
        PyObject *doc = PyDict_GetItemString(docs, def->ml_name);
        if (doc && PyUnicode_Check(doc))
            def->ml_doc = PyUnicode_AsUTF8(doc);
    }
    io = PyImport_ImportModule("io");
    if (!io)
        return NULL;
    pl_py_open = PyObject_GetAttrString(io, "open");
    pl_py_fileio = PyObject_GetAttrString(io, "FileIO");
    pl_py_buffered_writer = PyObject_GetAttrString(io, "BufferedWriter");
    pl_py_buffered_reader = PyObject_GetAttrString(io, "BufferedReader");
    pl_py_buffered_random = PyObject_GetAttrString(io, "BufferedRandom");
    pl_py_textio = PyObject_GetAttrString(io, "TextIOWrapper");
    Py_DECREF(io);
    if (!pl_py_open || !pl_py_fileio || !pl_py_buffered_writer ||
        !pl_py_buffered_reader || !pl_py_buffered_random || !pl_py_textio)
        return NULL;
    if (pl_py_intern(&pl_py_s_fh, "fh") || pl_py_intern(&pl_py_s_waiter, "_waiter") ||
        pl_py_intern(&pl_py_s_handle, "_handle") ||
        pl_py_intern(&pl_py_s_mechanism, "mechanism") ||
        pl_py_intern(&pl_py_s_timeout, "timeout") ||
        pl_py_intern(&pl_py_s_check_interval, "check_interval") ||
        pl_py_intern(&pl_py_s_fail_when_locked, "fail_when_locked") ||
        pl_py_intern(&pl_py_s_mode, "mode") ||
        pl_py_intern(&pl_py_s_kwargs, "file_open_kwargs") ||
        pl_py_intern(&pl_py_s_filename, "filename") ||
        pl_py_intern(&pl_py_s_locker, "LOCKER") ||
        pl_py_intern(&pl_py_s_acquire, "acquire") ||
        pl_py_intern(&pl_py_s_release, "release") ||
        pl_py_intern(&pl_py_s_buffer, "buffer") || pl_py_intern(&pl_py_s_raw, "raw") ||
        pl_py_intern(&pl_py_s_name, "name") ||
        pl_py_intern(&pl_py_s_keep, "_cportalocker_handle") ||
        pl_py_intern(&pl_py_s_close, "close") ||
        pl_py_intern(&pl_py_s_close_failed, "_close_failed") ||
        pl_py_intern(&pl_py_s_release_suppressed, "_release_suppressed") ||
        pl_py_intern(&pl_py_s_acquire_py, "_acquire_py") ||
        pl_py_intern(&pl_py_s_release_py, "_release_py") ||
        pl_py_intern(&pl_py_s_enter_py, "_enter_py") ||
        pl_py_intern(&pl_py_s_exit_py, "_exit_py") ||
        pl_py_intern(&pl_py_s_blksize, "_blksize") ||
        pl_py_intern(&pl_py_s_truncate, "truncate"))
        return NULL;
    Py_INCREF(fast_types);
    Py_XSETREF(pl_py_fast_types, fast_types);
    if (!PyModule_Check(locker_module)) {
        PyErr_SetString(PyExc_TypeError, "locker_module: a module");
        return NULL;
    }
    Py_INCREF(locker_module);
    Py_XSETREF(pl_py_locker_module, locker_module);
    pl_py_locker_dict = PyModule_GetDict(locker_module); /* borrowed: the module lives */
    Py_INCREF(flock);
    Py_XSETREF(pl_py_flock, flock);
    Py_INCREF(chain);
    Py_XSETREF(pl_py_chain, chain);
    /* The instance methods: bound like Python functions. */
    methods = PyDict_New();
    if (!methods)
        return NULL;
    {
        PyObject *init = PyCFunction_New(&pl_py_init_def, NULL);
        if (!init || PyDict_SetItemString(methods, "init", init) < 0) {
            Py_XDECREF(init);
            Py_DECREF(methods);
            return NULL;
        }
        Py_DECREF(init);
    }
    if (pl_py_guard_setup(methods) < 0) {
        Py_DECREF(methods);
        return NULL;
    }
    for (def = pl_py_fast_defs; def->ml_name; def++) {
        PyObject *f = PyCFunction_New(def, NULL), *im;
        if (!f) {
            Py_DECREF(methods);
            return NULL;
        }
        im = PyInstanceMethod_New(f);
        Py_DECREF(f);
        if (!im || PyDict_SetItemString(methods, def->ml_name, im) < 0) {
            Py_XDECREF(im);
            Py_DECREF(methods);
            return NULL;
        }
        Py_DECREF(im);
    }
    return methods;
}
%}

/* Returns {'acquire': ..., '__enter__': ..., 'release': ..., '__exit__':
   ...}: the fast methods for cportalocker.utils.Lock. */
%{
static PyObject *pl_py_wrap_fast_setup(PyObject *self, PyObject *args)
{
    PyObject *fast_types, *locker_module, *flock, *chain, *docs;
    if (!PyArg_ParseTuple(args, "OOOOO:pl_py_lock_fast_setup", &fast_types,
                          &locker_module, &flock, &chain, &docs))
        return NULL;
    return pl_py_lock_fast_setup_impl(fast_types, locker_module, flock, chain, docs);
}
%}
%native(pl_py_lock_fast_setup) PyObject *pl_py_wrap_fast_setup(PyObject *self, PyObject *args);
