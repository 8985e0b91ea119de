//! Conformance agent for Rust: JSON lines on stdin, JSON lines on stdout
//! (protocol: tests/conformance/README.md). libportalocker.so.1 is loaded by
//! path (the first argument) with libloading; the prototypes below are
//! written from core/include/portalocker.h, nothing is generated or linked.
//!
//!     cargo build --release --locked && target/release/agent_rust build/libportalocker.so.1

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_long, c_longlong, c_void, CStr, CString};
use std::io::{BufRead, Write};
use std::os::fd::FromRawFd;
use std::ptr;
use std::time::Instant;

use libloading::Library;
use serde_json::{json, Map, Value};

type Handle = *mut c_void; // every pl_* handle is opaque
type Str = *const c_char;

macro_rules! api {
    ($($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// The library's functions, resolved once; valid while `_lib` lives.
        #[allow(non_snake_case)]
        struct Api {
            $($name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
            _lib: Library,
        }
        impl Api {
            fn load(path: &str) -> Result<Api, libloading::Error> {
                // SAFETY: the library's initialisers have no preconditions,
                // and each type below is the header's prototype.
                unsafe {
                    let lib = Library::new(path)?;
                    Ok(Api {
                        $($name: *lib.get(concat!(stringify!($name), "\0").as_bytes())?,)*
                        _lib: lib,
                    })
                }
            }
        }
    };
}

api! {
    pl_version_string: fn() -> Str;
    pl_error_name: fn(c_int) -> Str;
    pl_error_exception: fn(c_int) -> Str;
    pl_last_error_message: fn() -> Str;
    pl_flag_shared: fn() -> c_int;
    pl_flag_exclusive: fn() -> c_int;
    pl_flag_non_blocking: fn() -> c_int;
    pl_mechanism_flock: fn() -> c_int;
    pl_mechanism_posix: fn() -> c_int;
    pl_mechanism_ofd: fn() -> c_int;
    pl_inherit: fn() -> c_int;
    pl_redis_mode_shared: fn() -> c_int;
    pl_redis_mode_pending: fn() -> c_int;
    pl_lock_new: fn(*mut Handle, Str) -> c_int;
    pl_rlock_new: fn(*mut Handle, Str) -> c_int;
    pl_temporary_lock_new: fn(*mut Handle, Str) -> c_int;
    pl_pidfile_lock_new: fn(*mut Handle, Str) -> c_int;
    pl_lock_set_flags: fn(Handle, c_int) -> c_int;
    pl_lock_set_mode: fn(Handle, Str) -> c_int;
    pl_lock_set_mechanism: fn(Handle, c_int) -> c_int;
    pl_lock_acquire_with: fn(Handle, f64, f64, c_int, *mut c_int) -> c_int;
    pl_lock_release: fn(Handle) -> c_int;
    pl_lock_held_fd: fn(Handle) -> c_int;
    pl_lock_read_pid: fn(Handle, *mut c_long) -> c_int;
    pl_lock_holder_pid: fn(Handle) -> c_long;
    pl_lock_free: fn(Handle);
    pl_semaphore_new: fn(*mut Handle, c_int, Str) -> c_int;
    pl_semaphore_set_directory: fn(Handle, Str) -> c_int;
    pl_semaphore_acquire_with: fn(Handle, f64, f64, *mut c_int) -> c_int;
    pl_semaphore_release: fn(Handle) -> c_int;
    pl_semaphore_free: fn(Handle);
    pl_redis_lock_new: fn(*mut Handle, Str, usize) -> c_int;
    pl_redis_lock_set_host: fn(Handle, Str, c_int) -> c_int;
    pl_redis_lock_set_unavailable_timeout: fn(Handle, f64) -> c_int;
    pl_redis_lock_set_fencing: fn(Handle, c_int) -> c_int;
    pl_redis_lock_set_flags: fn(Handle, c_int) -> c_int;
    pl_redis_lock_acquire_with: fn(Handle, f64, f64, c_int) -> c_int;
    pl_redis_lock_release: fn(Handle) -> c_int;
    pl_redis_lock_check: fn(Handle) -> c_int;
    pl_redis_lock_is_lost: fn(Handle, *mut c_int) -> c_int;
    pl_redis_lock_holder_id: fn(Handle) -> Str;
    pl_redis_lock_get_fence_token: fn(Handle, *mut c_longlong) -> c_int;
    pl_redis_lock_probe: fn(Handle, f64, *mut Handle) -> c_int;
    pl_redis_holders_count: fn(Handle) -> usize;
    pl_redis_holders_get: fn(Handle, usize, *mut Str, *mut c_int, *mut c_int) -> c_int;
    pl_redis_holders_free: fn(Handle);
    pl_redis_lock_free: fn(Handle);
    pl_atomic_open: fn(*mut Handle, Str) -> c_int;
    pl_atomic_fd: fn(Handle) -> c_int;
    pl_atomic_commit: fn(Handle) -> c_int;
    pl_atomic_free: fn(Handle);
}

/// An answer's error: a canonical name and a message.
struct Failure {
    name: String,
    message: String,
}

fn failure(name: &str, message: impl Into<String>) -> Failure {
    Failure { name: name.into(), message: message.into() }
}

type Res<T> = Result<T, Failure>;

/// A copy of a C string the library owns ("" for NULL).
fn text(p: Str) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings that live at
    // least until the next call on this thread.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// An owned C string for an argument; None stays NULL ("the default").
fn cstring(v: Option<&str>) -> Res<Option<CString>> {
    v.map(|s| CString::new(s).map_err(|_| failure("InvalidArgument", "a string with a NUL byte")))
        .transpose()
}

fn ptr_of(s: &Option<CString>) -> Str {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

struct Agent {
    pl: Api,
    handles: HashMap<String, Lock>,
}

#[derive(Clone, Copy)]
enum Kind {
    File(Handle),
    Semaphore(Handle),
    Redis(Handle),
}

struct Lock {
    kind: Option<Kind>,
    pidfile: bool,
}

impl Agent {
    /// A negative status as the core names it, read on this thread (the
    /// error state is per thread; this agent has one).
    fn check(&self, rc: c_int) -> Res<()> {
        if rc >= 0 {
            return Ok(());
        }
        unsafe {
            Err(Failure {
                name: text((self.pl.pl_error_exception)(rc)),
                message: format!("{}: {}", text((self.pl.pl_error_name)(rc)), text((self.pl.pl_last_error_message)())),
            })
        }
    }

    fn free(&self, lock: &mut Lock) {
        // SAFETY: each handle is freed once (taken out of the Option).
        unsafe {
            match lock.kind.take() {
                Some(Kind::File(h)) => (self.pl.pl_lock_free)(h),
                Some(Kind::Semaphore(h)) => (self.pl.pl_semaphore_free)(h),
                Some(Kind::Redis(h)) => (self.pl.pl_redis_lock_free)(h),
                None => {}
            }
        }
    }

    fn make(&self, spec: &Value) -> Res<Lock> {
        let s = |k: &str| spec.get(k).and_then(Value::as_str);
        let truthy = |k: &str| spec.get(k).and_then(Value::as_bool).unwrap_or(false);
        let kind = s("type").unwrap_or("");
        let pl = &self.pl;
        let mut lock = Lock { kind: None, pidfile: kind == "PidFileLock" };
        let result = unsafe {
            let mut flags = if truthy("shared") { (pl.pl_flag_shared)() } else { (pl.pl_flag_exclusive)() };
            if !truthy("blocking") {
                flags |= (pl.pl_flag_non_blocking)();
            }
            let mut h: Handle = ptr::null_mut();
            (|| -> Res<()> {
                match kind {
                    "Lock" | "RLock" | "TemporaryFileLock" | "PidFileLock" => {
                        let new = match kind {
                            "Lock" => pl.pl_lock_new,
                            "RLock" => pl.pl_rlock_new,
                            "TemporaryFileLock" => pl.pl_temporary_lock_new,
                            _ => pl.pl_pidfile_lock_new,
                        };
                        let path = cstring(s("path"))?;
                        let rc = new(&mut h, ptr_of(&path));
                        lock.kind = (!h.is_null()).then_some(Kind::File(h));
                        self.check(rc)?;
                        self.check((pl.pl_lock_set_flags)(h, flags))?;
                        if let Some(mode) = cstring(s("mode"))? {
                            self.check((pl.pl_lock_set_mode)(h, mode.as_ptr()))?;
                        }
                        if let Some(mech) = s("mechanism") {
                            let m = match mech {
                                "flock" => (pl.pl_mechanism_flock)(),
                                "posix" => (pl.pl_mechanism_posix)(),
                                "ofd" => (pl.pl_mechanism_ofd)(),
                                _ => -1, // the core refuses it, naming the value
                            };
                            self.check((pl.pl_lock_set_mechanism)(h, m))?;
                        }
                        Ok(())
                    }
                    "BoundedSemaphore" => {
                        let name = cstring(s("name"))?;
                        let dir = cstring(s("directory"))?;
                        let max = spec.get("maximum").and_then(Value::as_f64).unwrap_or(0.0) as c_int;
                        let rc = (pl.pl_semaphore_new)(&mut h, max, ptr_of(&name));
                        lock.kind = (!h.is_null()).then_some(Kind::Semaphore(h));
                        self.check(rc)?;
                        self.check((pl.pl_semaphore_set_directory)(h, ptr_of(&dir)))
                    }
                    "RedisLock" => {
                        let channel = s("channel").ok_or_else(|| failure("InvalidArgument", "no channel"))?;
                        let rc = (pl.pl_redis_lock_new)(&mut h, channel.as_ptr().cast(), channel.len());
                        lock.kind = (!h.is_null()).then_some(Kind::Redis(h));
                        self.check(rc)?;
                        let host = cstring(s("host"))?;
                        let port = spec.get("port").and_then(Value::as_f64).unwrap_or(6379.0) as c_int;
                        self.check((pl.pl_redis_lock_set_host)(h, ptr_of(&host), port))?;
                        if let Some(t) = spec.get("unavailable_timeout").and_then(Value::as_f64) {
                            self.check((pl.pl_redis_lock_set_unavailable_timeout)(h, t))?;
                        }
                        self.check((pl.pl_redis_lock_set_fencing)(h, truthy("fencing") as c_int))?;
                        self.check((pl.pl_redis_lock_set_flags)(h, flags & !(pl.pl_flag_non_blocking)()))
                    }
                    other => Err(failure("InvalidArgument", format!("unknown lock type {other}"))),
                }
            })()
        };
        match result {
            Ok(()) => Ok(lock),
            Err(e) => {
                self.free(&mut lock);
                Err(e)
            }
        }
    }

    fn acquire(&self, lock: &Lock, args: &Value, reply: &mut Map<String, Value>) -> Res<()> {
        let pl = &self.pl;
        unsafe {
            let inherit = (pl.pl_inherit)();
            let timeout = args.get("timeout").and_then(Value::as_f64).unwrap_or(inherit as f64);
            let interval = args.get("check_interval").and_then(Value::as_f64).unwrap_or(inherit as f64);
            let fwl = args.get("fail_when_locked").and_then(Value::as_bool).map_or(inherit, |b| b as c_int);
            let mut out: c_int = -1;
            match lock.kind {
                Some(Kind::File(h)) => self.check((pl.pl_lock_acquire_with)(h, timeout, interval, fwl, &mut out)),
                Some(Kind::Semaphore(h)) => {
                    self.check((pl.pl_semaphore_acquire_with)(h, timeout, interval, &mut out))?;
                    reply.insert("slot".into(), json!(out));
                    Ok(())
                }
                Some(Kind::Redis(h)) => {
                    self.check((pl.pl_redis_lock_acquire_with)(h, timeout, interval, fwl))?;
                    reply.insert("holder_id".into(), json!(text((pl.pl_redis_lock_holder_id)(h))));
                    let mut token: c_longlong = 0;
                    let rc = (pl.pl_redis_lock_get_fence_token)(h, &mut token);
                    reply.insert("fence_token".into(), if rc == 0 && token > 0 { json!(token) } else { Value::Null });
                    Ok(())
                }
                None => Err(failure("InvalidState", "freed handle")),
            }
        }
    }

    fn release(&self, lock: &Lock) -> Res<()> {
        let pl = &self.pl;
        unsafe {
            match lock.kind {
                Some(Kind::File(h)) => self.check((pl.pl_lock_release)(h)),
                Some(Kind::Semaphore(h)) => self.check((pl.pl_semaphore_release)(h)),
                Some(Kind::Redis(h)) => self.check((pl.pl_redis_lock_release)(h)),
                None => Err(failure("InvalidState", "freed handle")),
            }
        }
    }

    fn redis(lock: &Lock, op: &str) -> Res<Handle> {
        match lock.kind {
            Some(Kind::Redis(h)) => Ok(h),
            _ => Err(failure("NotExposed", format!("{op} needs a RedisLock"))),
        }
    }

    fn probe(&self, lock: &Lock, args: &Value, reply: &mut Map<String, Value>) -> Res<()> {
        let h = Self::redis(lock, "probe")?;
        let pl = &self.pl;
        unsafe {
            let timeout = args.get("timeout").and_then(Value::as_f64).unwrap_or((pl.pl_inherit)() as f64);
            let mut list: Handle = ptr::null_mut();
            self.check((pl.pl_redis_lock_probe)(h, timeout, &mut list))?;
            let mut holders = Vec::new();
            for i in 0..(pl.pl_redis_holders_count)(list) {
                let (mut id, mut mode, mut elected): (Str, c_int, c_int) = (ptr::null(), -1, 0);
                (pl.pl_redis_holders_get)(list, i, &mut id, &mut mode, &mut elected);
                let name = if mode == (pl.pl_redis_mode_shared)() {
                    "shared"
                } else if mode == (pl.pl_redis_mode_pending)() {
                    "pending"
                } else {
                    "exclusive"
                };
                holders.push(json!({"holder_id": text(id), "mode": name}));
            }
            (pl.pl_redis_holders_free)(list);
            reply.insert("holders".into(), Value::Array(holders));
        }
        Ok(())
    }

    /// Quiet unless the lock was lost (the reference's ensure_held).
    fn ensure_held(&self, lock: &Lock) -> Res<()> {
        let h = Self::redis(lock, "ensure_held")?;
        unsafe {
            let mut lost: c_int = 0;
            self.check((self.pl.pl_redis_lock_is_lost)(h, &mut lost))?;
            if lost != 0 || text((self.pl.pl_error_exception)((self.pl.pl_redis_lock_check)(h))) == "LockLost" {
                return Err(failure("LockLost", "the lock was lost"));
            }
        }
        Ok(())
    }

    fn open_atomic(&self, cmd: &Value, input: &mut impl BufRead) -> Res<bool> {
        let pl = &self.pl;
        let path = cstring(cmd.get("path").and_then(Value::as_str))?;
        unsafe {
            let mut file: Handle = ptr::null_mut();
            self.check((pl.pl_atomic_open)(&mut file, ptr_of(&path)))?;
            let result = (|| -> Res<bool> {
                let data = cmd.get("data").and_then(Value::as_str).unwrap_or("");
                write_fd((pl.pl_atomic_fd)(file), data)?;
                if cmd.get("hold").and_then(Value::as_bool).unwrap_or(false) {
                    send(&json!({"id": cmd.get("id"), "event": "open"}));
                    let mut line = String::new(); // {"op": "continue"}
                    if input.read_line(&mut line).unwrap_or(0) == 0 {
                        return Ok(false);
                    }
                }
                self.check((pl.pl_atomic_commit)(file))?;
                Ok(true)
            })();
            (pl.pl_atomic_free)(file);
            result
        }
    }

    fn command(&mut self, cmd: &Value, reply: &mut Map<String, Value>, input: &mut impl BufRead) -> Res<bool> {
        let op = cmd.get("op").and_then(Value::as_str).unwrap_or("");
        let none = Value::Object(Map::new());
        let args = cmd.get("args").unwrap_or(&none);
        match op {
            "hello" => {
                reply.insert("pid".into(), json!(std::process::id()));
                reply.insert("version".into(), json!(unsafe { text((self.pl.pl_version_string)()) }));
                return Ok(true);
            }
            "exit" => return Ok(false),
            "open_atomic" => return self.open_atomic(cmd, input),
            "acquire" | "release" | "read_pid" | "increment" | "write" | "probe" | "ensure_held" => {}
            other => return Err(failure("NotExposed", format!("unknown op {other}"))),
        }
        let name = cmd.get("handle").and_then(Value::as_str).unwrap_or("").to_string();
        if !self.handles.contains_key(&name) {
            let lock = self.make(cmd.get("lock").unwrap_or(&none))?;
            self.handles.insert(name.clone(), lock);
        }
        let lock = &self.handles[&name];
        match op {
            "acquire" => {
                let start = Instant::now();
                let result = self.acquire(lock, args, reply);
                reply.insert("elapsed".into(), json!(start.elapsed().as_secs_f64()));
                if let (Err(e), Some(Kind::File(h))) = (&result, lock.kind) {
                    if e.name == "AlreadyLocked" && lock.pidfile {
                        let pid = unsafe { (self.pl.pl_lock_holder_pid)(h) };
                        reply.insert("holder_pid".into(), if pid > 0 { json!(pid) } else { Value::Null });
                    }
                }
                result?;
            }
            "release" => self.release(lock)?,
            "write" => {
                // the descriptor acquire locked (owned by the handle)
                let fd = match lock.kind {
                    Some(Kind::File(h)) => unsafe { (self.pl.pl_lock_held_fd)(h) },
                    _ => -1,
                };
                if fd < 0 {
                    return Err(failure("NotHeld", "no locked descriptor"));
                }
                write_fd(fd, cmd.get("data").and_then(Value::as_str).unwrap_or(""))?;
            }
            "read_pid" => {
                let Some(Kind::File(h)) = lock.kind else {
                    return Err(failure("NotExposed", "read_pid needs a file lock"));
                };
                let mut pid: c_long = 0;
                self.check(unsafe { (self.pl.pl_lock_read_pid)(h, &mut pid) })?;
                reply.insert("pid".into(), if pid > 0 { json!(pid) } else { Value::Null });
            }
            "probe" => self.probe(lock, args, reply)?,
            "ensure_held" => self.ensure_held(lock)?,
            _ => {
                let counter = cmd.get("counter").and_then(Value::as_str).unwrap_or("");
                for _ in 0..cmd.get("n").and_then(Value::as_u64).unwrap_or(0) {
                    self.acquire(lock, args, &mut Map::new())?;
                    let bumped = bump(counter);
                    self.release(lock)?;
                    bumped.map_err(|e| failure("OSError", e.to_string()))?;
                }
            }
        }
        Ok(true)
    }
}

/// Writes to a descriptor the library owns, without taking it over.
fn write_fd(fd: c_int, data: &str) -> Res<()> {
    // SAFETY: the File is never dropped (ManuallyDrop), so the library's
    // descriptor stays open and owned by the library.
    let mut f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    f.write_all(data.as_bytes()).map_err(|e| failure("OSError", e.to_string()))
}

/// Read the counter, write counter + 1 (plain std::fs, under the lock).
fn bump(path: &str) -> std::io::Result<()> {
    use std::io::{Read, Seek};
    let mut f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    let value: i64 = s.trim().parse().unwrap_or(0);
    f.set_len(0)?;
    f.rewind()?;
    f.write_all((value + 1).to_string().as_bytes())
}

fn send(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "libportalocker.so.1".into());
    let pl = match Api::load(&path) {
        Ok(pl) => pl,
        Err(e) => {
            eprintln!("cannot load {path}: {e}");
            std::process::exit(2);
        }
    };
    let mut agent = Agent { pl, handles: HashMap::new() };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let Ok(cmd) = serde_json::from_str::<Value>(&line) else {
            send(&json!({"ok": false, "error": "InvalidArgument", "message": "bad JSON"}));
            continue;
        };
        let mut reply = Map::new();
        reply.insert("id".into(), cmd.get("id").cloned().unwrap_or(Value::Null));
        let start = Instant::now();
        let go_on = match agent.command(&cmd, &mut reply, &mut input) {
            Ok(go_on) => {
                reply.insert("ok".into(), json!(true));
                go_on
            }
            Err(e) => {
                reply.insert("ok".into(), json!(false));
                reply.insert("error".into(), json!(e.name));
                reply.insert("message".into(), json!(e.message));
                true
            }
        };
        reply.entry("elapsed").or_insert_with(|| json!(start.elapsed().as_secs_f64()));
        send(&Value::Object(reply));
        if !go_on {
            break;
        }
    }
    let mut handles: Vec<Lock> = agent.handles.drain().map(|(_, l)| l).collect();
    for lock in handles.iter_mut() {
        agent.free(lock);
    }
}
