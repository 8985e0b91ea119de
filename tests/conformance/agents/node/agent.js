'use strict';
// Conformance agent for Node.js: JSON lines on stdin, JSON lines on stdout
// (protocol: tests/conformance/README.md). libportalocker.so.1 is loaded
// by path (the first argument) through koffi; nothing is generated or
// compiled for it. Every call is synchronous, so it runs on the main
// thread, the one whose pl_last_error_message() tells about it (koffi's
// .async() calls would run on a worker thread and read another thread's
// error).
//
//   NODE_PATH=build/conformance/node/node_modules node agent.js build/libportalocker.so.1

const fs = require('fs');
const koffi = require('koffi');

const lib = koffi.load(process.argv[2] || 'libportalocker.so.1');

// The opaque handles: koffi never looks inside them.
for (const name of ['pl_lock', 'pl_semaphore', 'pl_redis_lock', 'pl_redis_holders', 'pl_atomic_file'])
  koffi.opaque(name);

const pl = {};
for (const proto of [
  'const char *pl_version_string(void)',
  'const char *pl_error_name(int code)',
  'const char *pl_error_exception(int code)',
  'const char *pl_last_error_message(void)',
  'int pl_flag_shared(void)',
  'int pl_flag_exclusive(void)',
  'int pl_flag_non_blocking(void)',
  'int pl_mechanism_flock(void)',
  'int pl_mechanism_posix(void)',
  'int pl_mechanism_ofd(void)',
  'int pl_inherit(void)',
  'int pl_redis_mode_shared(void)',
  'int pl_redis_mode_pending(void)',
  'int pl_lock_new(_Out_ pl_lock **out, const char *path)',
  'int pl_rlock_new(_Out_ pl_lock **out, const char *path)',
  'int pl_temporary_lock_new(_Out_ pl_lock **out, const char *path)',
  'int pl_pidfile_lock_new(_Out_ pl_lock **out, const char *path)',
  'int pl_lock_set_flags(pl_lock *lock, int flags)',
  'int pl_lock_set_mode(pl_lock *lock, const char *mode)',
  'int pl_lock_set_mechanism(pl_lock *lock, int mechanism)',
  'int pl_lock_acquire_with(pl_lock *lock, double timeout, double check_interval, int fail_when_locked, _Out_ int *fd)',
  'int pl_lock_release(pl_lock *lock)',
  'int pl_lock_held_fd(pl_lock *lock)',
  'int pl_lock_read_pid(pl_lock *lock, _Out_ long *pid)',
  'long pl_lock_holder_pid(pl_lock *lock)',
  'void pl_lock_free(pl_lock *lock)',
  'int pl_semaphore_new(_Out_ pl_semaphore **out, int maximum, const char *name)',
  'int pl_semaphore_set_directory(pl_semaphore *sem, const char *dir)',
  'int pl_semaphore_acquire_with(pl_semaphore *sem, double timeout, double check_interval, _Out_ int *slot)',
  'int pl_semaphore_release(pl_semaphore *sem)',
  'void pl_semaphore_free(pl_semaphore *sem)',
  'int pl_redis_lock_new(_Out_ pl_redis_lock **out, const char *channel, size_t len)',
  'int pl_redis_lock_set_host(pl_redis_lock *lock, const char *host, int port)',
  'int pl_redis_lock_set_unavailable_timeout(pl_redis_lock *lock, double seconds)',
  'int pl_redis_lock_set_fencing(pl_redis_lock *lock, int enabled)',
  'int pl_redis_lock_set_flags(pl_redis_lock *lock, int flags)',
  'int pl_redis_lock_acquire_with(pl_redis_lock *lock, double timeout, double check_interval, int fail_when_locked)',
  'int pl_redis_lock_release(pl_redis_lock *lock)',
  'int pl_redis_lock_check(pl_redis_lock *lock)',
  'int pl_redis_lock_is_lost(pl_redis_lock *lock, _Out_ int *lost)',
  'const char *pl_redis_lock_holder_id(pl_redis_lock *lock)',
  'int pl_redis_lock_get_fence_token(pl_redis_lock *lock, _Out_ int64_t *token)',
  'int pl_redis_lock_probe(pl_redis_lock *lock, double timeout, _Out_ pl_redis_holders **out)',
  'size_t pl_redis_holders_count(pl_redis_holders *list)',
  'int pl_redis_holders_get(pl_redis_holders *list, size_t i, _Out_ const char **id, _Out_ int *mode, _Out_ int *elected)',
  'void pl_redis_holders_free(pl_redis_holders *list)',
  'int pl_atomic_open(_Out_ pl_atomic_file **out, const char *path)',
  'int pl_atomic_fd(pl_atomic_file *file)',
  'int pl_atomic_commit(pl_atomic_file *file)',
  'void pl_atomic_free(pl_atomic_file *file)',
]) {
  const fn = lib.func(proto);
  pl[fn.info.name] = fn;
}

const INHERIT = pl.pl_inherit();

// A failed call, named from the core's error table, read on this thread.
class PlError extends Error {
  constructor(rc) {
    super(`${pl.pl_error_name(rc)}: ${pl.pl_last_error_message()}`);
    this.canonical = pl.pl_error_exception(rc);
    this.rc = rc;
  }
}

class Failure extends Error {
  constructor(canonical, message) {
    super(message);
    this.canonical = canonical;
  }
}

function check(rc) {
  if (rc < 0) throw new PlError(rc);
}

function send(obj) {
  fs.writeSync(1, JSON.stringify(obj) + '\n');
}

// Blocking line reader on fd 0 (process.stdin is never touched, so the
// descriptor stays blocking): a held open_atomic reads its `continue` in
// the middle of a command.
let pending = Buffer.alloc(0);
function readLine() {
  const chunk = Buffer.alloc(65536);
  for (;;) {
    const nl = pending.indexOf(10);
    if (nl >= 0) {
      const line = pending.subarray(0, nl).toString('utf8');
      pending = pending.subarray(nl + 1);
      return line;
    }
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      if (e.code === 'EOF') return null;
      throw e;
    }
    if (n === 0) {  // end of input: a last line without its newline still counts
      if (!pending.length) return null;
      const line = pending.toString('utf8');
      pending = Buffer.alloc(0);
      return line;
    }
    pending = Buffer.concat([pending, chunk.subarray(0, n)]);
  }
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const num = (v, dflt) => (typeof v === 'number' ? v : dflt);

class Handle {
  constructor(spec) {
    this.type = spec.type;
    this.lock = this.sem = this.redis = null;
    let flags = spec.shared ? pl.pl_flag_shared() : pl.pl_flag_exclusive();
    if (!spec.blocking) flags |= pl.pl_flag_non_blocking();
    const out = [null];
    try {
      if (['Lock', 'RLock', 'TemporaryFileLock', 'PidFileLock'].includes(this.type)) {
        const make = {Lock: pl.pl_lock_new, RLock: pl.pl_rlock_new,
                      TemporaryFileLock: pl.pl_temporary_lock_new, PidFileLock: pl.pl_pidfile_lock_new};
        check(make[this.type](out, spec.path));
        this.lock = out[0];
        check(pl.pl_lock_set_flags(this.lock, flags));
        if (spec.mode) check(pl.pl_lock_set_mode(this.lock, spec.mode));
        if (spec.mechanism) {
          const m = {flock: pl.pl_mechanism_flock(), posix: pl.pl_mechanism_posix(),
                     ofd: pl.pl_mechanism_ofd()}[spec.mechanism];
          check(pl.pl_lock_set_mechanism(this.lock, m === undefined ? -1 : m)); // the core names a bad value
        }
      } else if (this.type === 'BoundedSemaphore') {
        check(pl.pl_semaphore_new(out, num(spec.maximum, 0), spec.name ?? null));
        this.sem = out[0];
        check(pl.pl_semaphore_set_directory(this.sem, spec.directory ?? null));
      } else if (this.type === 'RedisLock') {
        const channel = Buffer.from(spec.channel, 'utf8');
        check(pl.pl_redis_lock_new(out, channel, channel.length));
        this.redis = out[0];
        check(pl.pl_redis_lock_set_host(this.redis, spec.host ?? null, num(spec.port, 6379)));
        if (typeof spec.unavailable_timeout === 'number')
          check(pl.pl_redis_lock_set_unavailable_timeout(this.redis, spec.unavailable_timeout));
        check(pl.pl_redis_lock_set_fencing(this.redis, spec.fencing ? 1 : 0));
        check(pl.pl_redis_lock_set_flags(this.redis, flags & ~pl.pl_flag_non_blocking()));
      } else {
        throw new Failure('InvalidArgument', `unknown lock type ${this.type}`);
      }
    } catch (e) {
      this.free();
      throw e;
    }
  }

  acquire(args) {
    args = args || {};
    const timeout = num(args.timeout, INHERIT), interval = num(args.check_interval, INHERIT);
    const fwl = typeof args.fail_when_locked === 'boolean' ? (args.fail_when_locked ? 1 : 0) : INHERIT;
    const out = [0];
    if (this.lock) {
      check(pl.pl_lock_acquire_with(this.lock, timeout, interval, fwl, out));
      return {};
    }
    if (this.sem) {
      check(pl.pl_semaphore_acquire_with(this.sem, timeout, interval, out));
      return {slot: out[0]};
    }
    check(pl.pl_redis_lock_acquire_with(this.redis, timeout, interval, fwl));
    const token = [0];
    const got = pl.pl_redis_lock_get_fence_token(this.redis, token) === 0 && Number(token[0]) > 0;
    return {holder_id: pl.pl_redis_lock_holder_id(this.redis), fence_token: got ? Number(token[0]) : null};
  }

  release() {
    if (this.lock) check(pl.pl_lock_release(this.lock));
    else if (this.sem) check(pl.pl_semaphore_release(this.sem));
    else check(pl.pl_redis_lock_release(this.redis));
  }

  needRedis(op) {
    if (!this.redis) throw new Failure('NotExposed', `${op} needs a RedisLock`);
  }

  probe(args) {
    this.needRedis('probe');
    const out = [null];
    check(pl.pl_redis_lock_probe(this.redis, num((args || {}).timeout, INHERIT), out));
    const holders = [];
    try {
      const count = Number(pl.pl_redis_holders_count(out[0]));
      for (let i = 0; i < count; i++) {
        const id = [null], mode = [-1], elected = [0];
        pl.pl_redis_holders_get(out[0], i, id, mode, elected);
        holders.push({holder_id: id[0] ?? '',
                      mode: mode[0] === pl.pl_redis_mode_shared() ? 'shared'
                        : mode[0] === pl.pl_redis_mode_pending() ? 'pending' : 'exclusive'});
      }
    } finally {
      pl.pl_redis_holders_free(out[0]);
    }
    return {holders};
  }

  ensureHeld() {
    // quiet unless the lock was lost (the reference's ensure_held)
    this.needRedis('ensure_held');
    const lost = [0];
    check(pl.pl_redis_lock_is_lost(this.redis, lost));
    if (lost[0] || pl.pl_error_exception(pl.pl_redis_lock_check(this.redis)) === 'LockLost')
      throw new Failure('LockLost', 'the lock was lost');
  }

  free() {
    // NULL-safe frees; each handle freed once
    if (this.lock) pl.pl_lock_free(this.lock);
    if (this.sem) pl.pl_semaphore_free(this.sem);
    if (this.redis) pl.pl_redis_lock_free(this.redis);
    this.lock = this.sem = this.redis = null;
  }
}

// Read the counter, write counter + 1 (plain fs calls, under the lock).
function bump(path) {
  const fd = fs.openSync(path, 'a+');
  try {
    const text = fs.readFileSync(fd, 'utf8').trim();
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, String((text ? parseInt(text, 10) : 0) + 1));
  } finally {
    fs.closeSync(fd);
  }
}

function openAtomic(cmd) {
  const out = [null];
  check(pl.pl_atomic_open(out, cmd.path));
  try {
    fs.writeSync(pl.pl_atomic_fd(out[0]), cmd.data || '');
    if (cmd.hold) {
      send({id: cmd.id, event: 'open'});
      if (readLine() === null) return false; // {"op": "continue"}
    }
    check(pl.pl_atomic_commit(out[0]));
  } finally {
    pl.pl_atomic_free(out[0]);
  }
  return true;
}

function main() {
  const handles = new Map();
  let line;
  while ((line = readLine()) !== null) {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      send({ok: false, error: 'InvalidArgument', message: 'bad JSON'});
      continue;
    }
    const reply = {id: cmd.id};
    let start = now();
    let quit = false;
    try {
      const op = cmd.op;
      if (op === 'hello') {
        reply.pid = process.pid;
        reply.version = pl.pl_version_string();
      } else if (op === 'exit') {
        quit = true;
      } else if (['acquire', 'release', 'read_pid', 'increment', 'write', 'probe', 'ensure_held'].includes(op)) {
        let h = handles.get(cmd.handle);
        if (!h) {
          h = new Handle(cmd.lock);
          handles.set(cmd.handle, h);
        }
        if (op === 'acquire') {
          start = now();
          try {
            Object.assign(reply, h.acquire(cmd.args));
          } catch (e) {
            if (e instanceof PlError && e.canonical === 'AlreadyLocked' && h.type === 'PidFileLock') {
              const pid = Number(pl.pl_lock_holder_pid(h.lock));
              reply.holder_pid = pid > 0 ? pid : null;
            }
            throw e;
          }
        } else if (op === 'release') {
          h.release();
        } else if (op === 'write') {
          // the descriptor acquire locked (owned by the handle)
          const fd = h.lock ? pl.pl_lock_held_fd(h.lock) : -1;
          if (fd < 0) throw new Failure('NotHeld', 'no locked descriptor');
          fs.writeSync(fd, cmd.data || '');
        } else if (op === 'read_pid') {
          if (!h.lock) throw new Failure('NotExposed', 'read_pid needs a file lock');
          const pid = [0];
          check(pl.pl_lock_read_pid(h.lock, pid));
          reply.pid = Number(pid[0]) > 0 ? Number(pid[0]) : null;
        } else if (op === 'probe') {
          Object.assign(reply, h.probe(cmd.args));
        } else if (op === 'ensure_held') {
          h.ensureHeld();
        } else {
          for (let i = 0; i < (cmd.n || 0); i++) {
            h.acquire(cmd.args);
            let failure = null;
            try {
              bump(cmd.counter);
            } catch (e) {
              failure = e;
            }
            h.release();
            if (failure) throw new Failure('OSError', String(failure.message));
          }
        }
      } else if (op === 'open_atomic') {
        if (!openAtomic(cmd)) break;
      } else {
        throw new Failure('NotExposed', `unknown op ${op}`);
      }
      reply.ok = true;
    } catch (e) {
      if (!(e instanceof PlError || e instanceof Failure)) {
        reply.trace = e.stack;
        e.canonical = e.code ? 'OSError' : 'Other:' + e.name;
      }
      Object.assign(reply, {ok: false, error: e.canonical, message: e.message});
    }
    if (reply.elapsed === undefined) reply.elapsed = now() - start;
    send(reply);
    if (quit) break;
  }
  for (const h of handles.values()) h.free();
}

main();
