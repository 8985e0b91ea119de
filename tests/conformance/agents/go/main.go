// Conformance agent for Go: JSON lines on stdin, JSON lines on stdout
// (protocol: tests/conformance/README.md). libportalocker.so.1 is loaded by
// path (the first argument) with purego: dlopen without cgo, so nothing of
// ours is compiled into the binary and CGO_ENABLED=0 builds it.
//
//	CGO_ENABLED=0 go build -o agent_go . && ./agent_go build/libportalocker.so.1
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The library's error state is per OS thread: every call and the
// pl_last_error_message() that explains it must run on one thread, and a
// goroutine may otherwise move between threads at any time.
func init() { runtime.LockOSThread() }

// Opaque handles are plain pointers to Go: never dereferenced.
type handlePtr = uintptr

var (
	plVersionString    func() string
	plErrorName        func(code int32) string
	plErrorException   func(code int32) string
	plLastErrorMessage func() string
	plFlagShared       func() int32
	plFlagExclusive    func() int32
	plFlagNonBlocking  func() int32
	plMechanismFlock   func() int32
	plMechanismPosix   func() int32
	plMechanismOfd     func() int32
	plInherit          func() int32
	plRedisModeShared  func() int32
	plRedisModePending func() int32

	plLockNew          func(out *handlePtr, path *byte) int32
	plRlockNew         func(out *handlePtr, path *byte) int32
	plTemporaryLockNew func(out *handlePtr, path *byte) int32
	plPidfileLockNew   func(out *handlePtr, path *byte) int32
	plLockSetFlags     func(lock handlePtr, flags int32) int32
	plLockSetMode      func(lock handlePtr, mode *byte) int32
	plLockSetMechanism func(lock handlePtr, mechanism int32) int32
	plLockAcquireWith  func(lock handlePtr, timeout, interval float64, fwl int32, fd *int32) int32
	plLockRelease      func(lock handlePtr) int32
	plLockHeldFd       func(lock handlePtr) int32
	plLockReadPid      func(lock handlePtr, pid *int64) int32
	plLockHolderPid    func(lock handlePtr) int64
	plLockFree         func(lock handlePtr)

	plSemaphoreNew         func(out *handlePtr, maximum int32, name *byte) int32
	plSemaphoreSetDir      func(sem handlePtr, dir *byte) int32
	plSemaphoreAcquireWith func(sem handlePtr, timeout, interval float64, slot *int32) int32
	plSemaphoreRelease     func(sem handlePtr) int32
	plSemaphoreFree        func(sem handlePtr)

	plRedisLockNew         func(out *handlePtr, channel *byte, length uintptr) int32
	plRedisLockSetHost     func(lock handlePtr, host *byte, port int32) int32
	plRedisLockSetUnavail  func(lock handlePtr, seconds float64) int32
	plRedisLockSetFencing  func(lock handlePtr, enabled int32) int32
	plRedisLockSetFlags    func(lock handlePtr, flags int32) int32
	plRedisLockAcquireWith func(lock handlePtr, timeout, interval float64, fwl int32) int32
	plRedisLockRelease     func(lock handlePtr) int32
	plRedisLockCheck       func(lock handlePtr) int32
	plRedisLockIsLost      func(lock handlePtr, lost *int32) int32
	plRedisLockHolderID    func(lock handlePtr) string
	plRedisLockGetFenceTok func(lock handlePtr, token *int64) int32
	plRedisLockProbe       func(lock handlePtr, timeout float64, out *handlePtr) int32
	plRedisHoldersCount    func(list handlePtr) uintptr
	plRedisHoldersGet      func(list handlePtr, i uintptr, id **byte, mode *int32, elected *int32) int32
	plRedisHoldersFree     func(list handlePtr)
	plRedisLockFree        func(lock handlePtr)

	plAtomicOpen   func(out *handlePtr, path *byte) int32
	plAtomicFd     func(file handlePtr) int32
	plAtomicCommit func(file handlePtr) int32
	plAtomicFree   func(file handlePtr)
)

func load(path string) {
	lib, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot load", path+":", err)
		os.Exit(2)
	}
	for name, fn := range map[string]any{
		"pl_version_string": &plVersionString, "pl_error_name": &plErrorName,
		"pl_error_exception": &plErrorException, "pl_last_error_message": &plLastErrorMessage,
		"pl_flag_shared": &plFlagShared, "pl_flag_exclusive": &plFlagExclusive,
		"pl_flag_non_blocking": &plFlagNonBlocking, "pl_mechanism_flock": &plMechanismFlock,
		"pl_mechanism_posix": &plMechanismPosix, "pl_mechanism_ofd": &plMechanismOfd,
		"pl_inherit": &plInherit, "pl_redis_mode_shared": &plRedisModeShared,
		"pl_redis_mode_pending": &plRedisModePending,
		"pl_lock_new":           &plLockNew, "pl_rlock_new": &plRlockNew,
		"pl_temporary_lock_new": &plTemporaryLockNew, "pl_pidfile_lock_new": &plPidfileLockNew,
		"pl_lock_set_flags": &plLockSetFlags, "pl_lock_set_mode": &plLockSetMode,
		"pl_lock_set_mechanism": &plLockSetMechanism, "pl_lock_acquire_with": &plLockAcquireWith,
		"pl_lock_release": &plLockRelease, "pl_lock_held_fd": &plLockHeldFd,
		"pl_lock_read_pid": &plLockReadPid, "pl_lock_holder_pid": &plLockHolderPid,
		"pl_lock_free":     &plLockFree,
		"pl_semaphore_new": &plSemaphoreNew, "pl_semaphore_set_directory": &plSemaphoreSetDir,
		"pl_semaphore_acquire_with": &plSemaphoreAcquireWith, "pl_semaphore_release": &plSemaphoreRelease,
		"pl_semaphore_free": &plSemaphoreFree,
		"pl_redis_lock_new": &plRedisLockNew, "pl_redis_lock_set_host": &plRedisLockSetHost,
		"pl_redis_lock_set_unavailable_timeout": &plRedisLockSetUnavail,
		"pl_redis_lock_set_fencing":             &plRedisLockSetFencing,
		"pl_redis_lock_set_flags":               &plRedisLockSetFlags,
		"pl_redis_lock_acquire_with":            &plRedisLockAcquireWith,
		"pl_redis_lock_release":                 &plRedisLockRelease, "pl_redis_lock_check": &plRedisLockCheck,
		"pl_redis_lock_is_lost": &plRedisLockIsLost, "pl_redis_lock_holder_id": &plRedisLockHolderID,
		"pl_redis_lock_get_fence_token": &plRedisLockGetFenceTok, "pl_redis_lock_probe": &plRedisLockProbe,
		"pl_redis_holders_count": &plRedisHoldersCount, "pl_redis_holders_get": &plRedisHoldersGet,
		"pl_redis_holders_free": &plRedisHoldersFree, "pl_redis_lock_free": &plRedisLockFree,
		"pl_atomic_open": &plAtomicOpen, "pl_atomic_fd": &plAtomicFd,
		"pl_atomic_commit": &plAtomicCommit, "pl_atomic_free": &plAtomicFree,
	} {
		purego.RegisterLibFunc(fn, lib, name)
	}
}

// cstr is a NUL-terminated copy for the call (nil for a missing value:
// the C API's NULL, "use the default"). The library copies what it keeps.
func cstr(s *string) *byte {
	if s == nil {
		return nil
	}
	b := append([]byte(*s), 0)
	return &b[0]
}

// gostr copies a C string the library owns.
func gostr(p *byte) string {
	if p == nil {
		return ""
	}
	var sb strings.Builder
	for ptr := unsafe.Pointer(p); *(*byte)(ptr) != 0; ptr = unsafe.Add(ptr, 1) {
		sb.WriteByte(*(*byte)(ptr))
	}
	return sb.String()
}

// failure is an answer's error: a canonical name and a message.
type failure struct{ name, message string }

func (f *failure) Error() string { return f.message }

// check turns a negative status into the core's names, read on this thread.
func check(rc int32) error {
	if rc >= 0 {
		return nil
	}
	return &failure{plErrorException(rc), plErrorName(rc) + ": " + plLastErrorMessage()}
}

type obj = map[string]any

func str(o obj, key string) *string {
	if s, ok := o[key].(string); ok {
		return &s
	}
	return nil
}

func num(o obj, key string, dflt float64) float64 {
	if v, ok := o[key].(float64); ok {
		return v
	}
	return dflt
}

func isTrue(o obj, key string) bool { v, _ := o[key].(bool); return v }

type handle struct {
	kind             string
	lock, sem, redis handlePtr
}

func newHandle(spec obj) (*handle, error) {
	h := &handle{}
	if t := str(spec, "type"); t != nil {
		h.kind = *t
	}
	flags := plFlagExclusive()
	if isTrue(spec, "shared") {
		flags = plFlagShared()
	}
	if !isTrue(spec, "blocking") {
		flags |= plFlagNonBlocking()
	}
	err := h.setup(spec, flags)
	if err != nil {
		h.free()
		return nil, err
	}
	return h, nil
}

func (h *handle) setup(spec obj, flags int32) error {
	switch h.kind {
	case "Lock", "RLock", "TemporaryFileLock", "PidFileLock":
		newLock := map[string]func(*handlePtr, *byte) int32{"Lock": plLockNew, "RLock": plRlockNew,
			"TemporaryFileLock": plTemporaryLockNew, "PidFileLock": plPidfileLockNew}[h.kind]
		if err := check(newLock(&h.lock, cstr(str(spec, "path")))); err != nil {
			return err
		}
		if err := check(plLockSetFlags(h.lock, flags)); err != nil {
			return err
		}
		if mode := str(spec, "mode"); mode != nil {
			if err := check(plLockSetMode(h.lock, cstr(mode))); err != nil {
				return err
			}
		}
		if mech := str(spec, "mechanism"); mech != nil {
			m := int32(-1) // the core refuses it, naming the value
			switch *mech {
			case "flock":
				m = plMechanismFlock()
			case "posix":
				m = plMechanismPosix()
			case "ofd":
				m = plMechanismOfd()
			}
			return check(plLockSetMechanism(h.lock, m))
		}
		return nil
	case "BoundedSemaphore":
		if err := check(plSemaphoreNew(&h.sem, int32(num(spec, "maximum", 0)), cstr(str(spec, "name")))); err != nil {
			return err
		}
		return check(plSemaphoreSetDir(h.sem, cstr(str(spec, "directory"))))
	case "RedisLock":
		channel := str(spec, "channel")
		if channel == nil {
			return &failure{"InvalidArgument", "RedisLock without a channel"}
		}
		if err := check(plRedisLockNew(&h.redis, cstr(channel), uintptr(len(*channel)))); err != nil {
			return err
		}
		if err := check(plRedisLockSetHost(h.redis, cstr(str(spec, "host")), int32(num(spec, "port", 6379)))); err != nil {
			return err
		}
		if v, ok := spec["unavailable_timeout"].(float64); ok {
			if err := check(plRedisLockSetUnavail(h.redis, v)); err != nil {
				return err
			}
		}
		fencing := int32(0)
		if isTrue(spec, "fencing") {
			fencing = 1
		}
		if err := check(plRedisLockSetFencing(h.redis, fencing)); err != nil {
			return err
		}
		return check(plRedisLockSetFlags(h.redis, flags&^plFlagNonBlocking()))
	}
	return &failure{"InvalidArgument", "unknown lock type " + h.kind}
}

func (h *handle) acquire(args obj, reply obj) error {
	inherit := float64(plInherit())
	timeout, interval := num(args, "timeout", inherit), num(args, "check_interval", inherit)
	fwl := plInherit()
	if v, ok := args["fail_when_locked"].(bool); ok {
		fwl = 0
		if v {
			fwl = 1
		}
	}
	var out int32
	switch {
	case h.lock != 0:
		return check(plLockAcquireWith(h.lock, timeout, interval, fwl, &out))
	case h.sem != 0:
		if err := check(plSemaphoreAcquireWith(h.sem, timeout, interval, &out)); err != nil {
			return err
		}
		reply["slot"] = out
		return nil
	}
	if err := check(plRedisLockAcquireWith(h.redis, timeout, interval, fwl)); err != nil {
		return err
	}
	reply["holder_id"] = plRedisLockHolderID(h.redis)
	var token int64
	if plRedisLockGetFenceTok(h.redis, &token) == 0 && token > 0 {
		reply["fence_token"] = token
	} else {
		reply["fence_token"] = nil
	}
	return nil
}

func (h *handle) release() error {
	switch {
	case h.lock != 0:
		return check(plLockRelease(h.lock))
	case h.sem != 0:
		return check(plSemaphoreRelease(h.sem))
	}
	return check(plRedisLockRelease(h.redis))
}

func (h *handle) probe(args obj, reply obj) error {
	var list handlePtr
	if err := check(plRedisLockProbe(h.redis, num(args, "timeout", float64(plInherit())), &list)); err != nil {
		return err
	}
	defer plRedisHoldersFree(list)
	holders := []obj{}
	for i := uintptr(0); i < plRedisHoldersCount(list); i++ {
		var id *byte
		var mode, elected int32 = -1, 0
		plRedisHoldersGet(list, i, &id, &mode, &elected)
		name := "exclusive"
		if mode == plRedisModeShared() {
			name = "shared"
		} else if mode == plRedisModePending() {
			name = "pending"
		}
		holders = append(holders, obj{"holder_id": gostr(id), "mode": name})
	}
	reply["holders"] = holders
	return nil
}

// ensureHeld is quiet unless the lock was lost (the reference's ensure_held).
func (h *handle) ensureHeld() error {
	var lost int32
	if err := check(plRedisLockIsLost(h.redis, &lost)); err != nil {
		return err
	}
	if lost != 0 || plErrorException(plRedisLockCheck(h.redis)) == "LockLost" {
		return &failure{"LockLost", "the lock was lost"}
	}
	return nil
}

// free releases whatever the handle holds; the frees accept NULL.
func (h *handle) free() {
	plLockFree(h.lock)
	plSemaphoreFree(h.sem)
	plRedisLockFree(h.redis)
	h.lock, h.sem, h.redis = 0, 0, 0
}

// bump reads the counter and writes counter + 1 (plain os calls, under the lock).
func bump(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	value, _ := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(value+1)), 0)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syscallWrite writes to a descriptor the library owns with the system
// call: an *os.File around it would close it when collected.
func syscallWrite(fd int32, data string) (int, error) {
	return syscall.Write(int(fd), []byte(data))
}

type agent struct {
	in      *bufio.Reader
	handles map[string]*handle
}

func send(o obj) {
	b, _ := json.Marshal(o)
	os.Stdout.Write(append(b, '\n'))
}

func (a *agent) openAtomic(cmd obj) (bool, error) {
	var file handlePtr
	if err := check(plAtomicOpen(&file, cstr(str(cmd, "path")))); err != nil {
		return true, err
	}
	defer plAtomicFree(file)
	data := ""
	if d := str(cmd, "data"); d != nil {
		data = *d
	}
	if _, err := syscallWrite(plAtomicFd(file), data); err != nil {
		return true, &failure{"OSError", err.Error()}
	}
	if isTrue(cmd, "hold") {
		send(obj{"id": cmd["id"], "event": "open"})
		if _, err := a.in.ReadString('\n'); err != nil { // {"op": "continue"}
			return false, nil
		}
	}
	return true, check(plAtomicCommit(file))
}

func (a *agent) command(cmd obj, reply obj) (quit bool, err error) {
	op, _ := cmd["op"].(string)
	switch op {
	case "hello":
		reply["pid"] = os.Getpid()
		reply["version"] = plVersionString()
		return false, nil
	case "exit":
		return true, nil
	case "open_atomic":
		cont, err := a.openAtomic(cmd)
		return !cont, err
	case "acquire", "release", "read_pid", "increment", "write", "probe", "ensure_held":
	default:
		return false, &failure{"NotExposed", "unknown op " + op}
	}
	name, _ := cmd["handle"].(string)
	h := a.handles[name]
	if h == nil {
		spec, _ := cmd["lock"].(obj)
		if h, err = newHandle(spec); err != nil {
			return false, err
		}
		a.handles[name] = h
	}
	args, _ := cmd["args"].(obj)
	switch op {
	case "acquire":
		start := time.Now()
		err = h.acquire(args, reply)
		reply["elapsed"] = time.Since(start).Seconds()
		if f, ok := err.(*failure); ok && f.name == "AlreadyLocked" && h.kind == "PidFileLock" {
			if pid := plLockHolderPid(h.lock); pid > 0 {
				reply["holder_pid"] = pid
			} else {
				reply["holder_pid"] = nil
			}
		}
		return false, err
	case "release":
		return false, h.release()
	case "write":
		// the descriptor acquire locked (owned by the handle)
		fd := int32(-1)
		if h.lock != 0 {
			fd = plLockHeldFd(h.lock)
		}
		if fd < 0 {
			return false, &failure{"NotHeld", "no locked descriptor"}
		}
		data := ""
		if d := str(cmd, "data"); d != nil {
			data = *d
		}
		if _, err := syscallWrite(fd, data); err != nil {
			return false, &failure{"OSError", err.Error()}
		}
		return false, nil
	case "read_pid":
		if h.lock == 0 {
			return false, &failure{"NotExposed", "read_pid needs a file lock"}
		}
		var pid int64
		if err := check(plLockReadPid(h.lock, &pid)); err != nil {
			return false, err
		}
		if pid > 0 {
			reply["pid"] = pid
		} else {
			reply["pid"] = nil
		}
		return false, nil
	case "probe", "ensure_held":
		if h.redis == 0 {
			return false, &failure{"NotExposed", op + " needs a RedisLock"}
		}
		if op == "probe" {
			return false, h.probe(args, reply)
		}
		return false, h.ensureHeld()
	}
	counter := ""
	if c := str(cmd, "counter"); c != nil {
		counter = *c
	}
	for i := 0; i < int(num(cmd, "n", 0)); i++ {
		if err := h.acquire(args, obj{}); err != nil {
			return false, err
		}
		berr := bump(counter)
		if err := h.release(); err != nil {
			return false, err
		}
		if berr != nil {
			return false, &failure{"OSError", berr.Error()}
		}
	}
	return false, nil
}

func main() {
	path := "libportalocker.so.1"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	load(path)
	a := &agent{in: bufio.NewReader(os.Stdin), handles: map[string]*handle{}}
	for {
		line, err := a.in.ReadString('\n')
		if err != nil && line == "" {
			break
		}
		var cmd obj
		if json.Unmarshal([]byte(line), &cmd) != nil {
			send(obj{"ok": false, "error": "InvalidArgument", "message": "bad JSON"})
			continue
		}
		reply := obj{"id": cmd["id"]}
		start := time.Now()
		quit, err := a.command(cmd, reply)
		if err != nil {
			f, ok := err.(*failure)
			if !ok {
				f = &failure{"OSError", err.Error()}
			}
			reply["ok"], reply["error"], reply["message"] = false, f.name, f.message
		} else {
			reply["ok"] = true
		}
		if _, ok := reply["elapsed"]; !ok {
			reply["elapsed"] = time.Since(start).Seconds()
		}
		send(reply)
		if quit {
			break
		}
	}
	for _, h := range a.handles {
		h.free()
	}
}
