// Conformance agent for Java: JSON lines on stdin, JSON lines on stdout
// (protocol: tests/conformance/README.md). libportalocker.so.1 is loaded by
// path (the first argument) with JNA: an interface of the header's
// prototypes, nothing generated or compiled for it. Every call runs on the
// main thread, the one whose pl_last_error_message() tells about it.
//
//   javac -cp 'lib/*' Agent.java && java -cp 'lib/*:.' Agent build/libportalocker.so.1

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.jna.IntegerType;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.NativeLongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

public final class Agent {
    /** size_t, whatever its width. */
    public static final class SizeT extends IntegerType {
        public SizeT() { this(0); }
        public SizeT(long value) { super(Native.SIZE_T_SIZE, value, true); }
    }

    /** The prototypes of core/include/portalocker.h this agent calls; the
     *  handles are opaque Pointers. */
    public interface PL extends Library {
        String pl_version_string();
        String pl_error_name(int code);
        String pl_error_exception(int code);
        String pl_last_error_message();
        int pl_flag_shared();
        int pl_flag_exclusive();
        int pl_flag_non_blocking();
        int pl_mechanism_flock();
        int pl_mechanism_posix();
        int pl_mechanism_ofd();
        int pl_inherit();
        int pl_redis_mode_shared();
        int pl_redis_mode_pending();

        int pl_lock_new(PointerByReference out, String path);
        int pl_rlock_new(PointerByReference out, String path);
        int pl_temporary_lock_new(PointerByReference out, String path);
        int pl_pidfile_lock_new(PointerByReference out, String path);
        int pl_lock_set_flags(Pointer lock, int flags);
        int pl_lock_set_mode(Pointer lock, String mode);
        int pl_lock_set_mechanism(Pointer lock, int mechanism);
        int pl_lock_acquire_with(Pointer lock, double timeout, double interval, int fwl, IntByReference fd);
        int pl_lock_release(Pointer lock);
        int pl_lock_held_fd(Pointer lock);
        int pl_lock_read_pid(Pointer lock, NativeLongByReference pid);
        NativeLong pl_lock_holder_pid(Pointer lock);
        void pl_lock_free(Pointer lock);

        int pl_semaphore_new(PointerByReference out, int maximum, String name);
        int pl_semaphore_set_directory(Pointer sem, String dir);
        int pl_semaphore_acquire_with(Pointer sem, double timeout, double interval, IntByReference slot);
        int pl_semaphore_release(Pointer sem);
        void pl_semaphore_free(Pointer sem);

        int pl_redis_lock_new(PointerByReference out, byte[] channel, SizeT length);
        int pl_redis_lock_set_host(Pointer lock, String host, int port);
        int pl_redis_lock_set_unavailable_timeout(Pointer lock, double seconds);
        int pl_redis_lock_set_fencing(Pointer lock, int enabled);
        int pl_redis_lock_set_flags(Pointer lock, int flags);
        int pl_redis_lock_acquire_with(Pointer lock, double timeout, double interval, int fwl);
        int pl_redis_lock_release(Pointer lock);
        int pl_redis_lock_check(Pointer lock);
        int pl_redis_lock_is_lost(Pointer lock, IntByReference lost);
        String pl_redis_lock_holder_id(Pointer lock);
        int pl_redis_lock_get_fence_token(Pointer lock, LongByReference token);
        int pl_redis_lock_probe(Pointer lock, double timeout, PointerByReference out);
        SizeT pl_redis_holders_count(Pointer list);
        int pl_redis_holders_get(Pointer list, SizeT i, PointerByReference id, IntByReference mode,
                                 IntByReference elected);
        void pl_redis_holders_free(Pointer list);
        void pl_redis_lock_free(Pointer lock);

        int pl_atomic_open(PointerByReference out, String path);
        int pl_atomic_fd(Pointer file);
        int pl_atomic_commit(Pointer file);
        void pl_atomic_free(Pointer file);
    }

    /** write(2), for the descriptors the library owns (a Java stream on
     *  /proc/self/fd would open and close the file again, which drops a
     *  POSIX record lock). */
    public interface LibC extends Library {
        SizeT write(int fd, byte[] data, SizeT count);
    }

    /** An answer's error: a canonical name and a message. */
    static final class Failure extends Exception {
        final String name;
        Failure(String name, String message) { super(message); this.name = name; }
    }

    static PL pl;
    static LibC libc;
    static BufferedReader in;
    static final PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);

    /** A negative status as the core names it, read on this thread. */
    static void check(int rc) throws Failure {
        if (rc < 0)
            throw new Failure(pl.pl_error_exception(rc), pl.pl_error_name(rc) + ": " + pl.pl_last_error_message());
    }

    static void send(JsonObject obj) {
        out.print(obj.toString());
        out.print('\n');
        out.flush();
    }

    static String str(JsonObject o, String key) {
        JsonElement v = o == null ? null : o.get(key);
        return v != null && v.isJsonPrimitive() && v.getAsJsonPrimitive().isString() ? v.getAsString() : null;
    }

    static Double num(JsonObject o, String key) {
        JsonElement v = o == null ? null : o.get(key);
        return v != null && v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber() ? v.getAsDouble() : null;
    }

    static boolean isTrue(JsonObject o, String key) {
        JsonElement v = o == null ? null : o.get(key);
        return v != null && v.isJsonPrimitive() && v.getAsJsonPrimitive().isBoolean() && v.getAsBoolean();
    }

    static void writeFd(int fd, String data) throws Failure {
        byte[] bytes = data.getBytes(StandardCharsets.UTF_8);
        if (libc.write(fd, bytes, new SizeT(bytes.length)).longValue() != bytes.length)
            throw new Failure("OSError", "write failed (errno " + Native.getLastError() + ")");
    }

    static final class Handle {
        final String type;
        Pointer lock, sem, redis;

        Handle(JsonObject spec) throws Failure {
            type = String.valueOf(str(spec, "type"));
            int flags = isTrue(spec, "shared") ? pl.pl_flag_shared() : pl.pl_flag_exclusive();
            if (!isTrue(spec, "blocking")) flags |= pl.pl_flag_non_blocking();
            try {
                setup(spec, flags);
            } catch (Failure e) {
                free();
                throw e;
            }
        }

        private void setup(JsonObject spec, int flags) throws Failure {
            PointerByReference ref = new PointerByReference();
            switch (type) {
                case "Lock": case "RLock": case "TemporaryFileLock": case "PidFileLock": {
                    String path = str(spec, "path");
                    int rc = type.equals("Lock") ? pl.pl_lock_new(ref, path)
                           : type.equals("RLock") ? pl.pl_rlock_new(ref, path)
                           : type.equals("TemporaryFileLock") ? pl.pl_temporary_lock_new(ref, path)
                           : pl.pl_pidfile_lock_new(ref, path);
                    lock = ref.getValue();
                    check(rc);
                    check(pl.pl_lock_set_flags(lock, flags));
                    String mode = str(spec, "mode");
                    if (mode != null) check(pl.pl_lock_set_mode(lock, mode));
                    String mech = str(spec, "mechanism");
                    if (mech != null) {
                        int m = mech.equals("flock") ? pl.pl_mechanism_flock()
                              : mech.equals("posix") ? pl.pl_mechanism_posix()
                              : mech.equals("ofd") ? pl.pl_mechanism_ofd()
                              : -1; // the core refuses it, naming the value
                        check(pl.pl_lock_set_mechanism(lock, m));
                    }
                    return;
                }
                case "BoundedSemaphore": {
                    Double max = num(spec, "maximum");
                    int rc = pl.pl_semaphore_new(ref, max == null ? 0 : max.intValue(), str(spec, "name"));
                    sem = ref.getValue();
                    check(rc);
                    check(pl.pl_semaphore_set_directory(sem, str(spec, "directory")));
                    return;
                }
                case "RedisLock": {
                    String channel = str(spec, "channel");
                    if (channel == null) throw new Failure("InvalidArgument", "RedisLock without a channel");
                    byte[] bytes = channel.getBytes(StandardCharsets.UTF_8);
                    int rc = pl.pl_redis_lock_new(ref, bytes, new SizeT(bytes.length));
                    redis = ref.getValue();
                    check(rc);
                    Double port = num(spec, "port");
                    check(pl.pl_redis_lock_set_host(redis, str(spec, "host"), port == null ? 6379 : port.intValue()));
                    Double unavailable = num(spec, "unavailable_timeout");
                    if (unavailable != null) check(pl.pl_redis_lock_set_unavailable_timeout(redis, unavailable));
                    check(pl.pl_redis_lock_set_fencing(redis, isTrue(spec, "fencing") ? 1 : 0));
                    check(pl.pl_redis_lock_set_flags(redis, flags & ~pl.pl_flag_non_blocking()));
                    return;
                }
                default:
                    throw new Failure("InvalidArgument", "unknown lock type " + type);
            }
        }

        void acquire(JsonObject args, JsonObject reply) throws Failure {
            int inherit = pl.pl_inherit();
            Double t = num(args, "timeout"), ci = num(args, "check_interval");
            double timeout = t == null ? inherit : t, interval = ci == null ? inherit : ci;
            JsonElement f = args == null ? null : args.get("fail_when_locked");
            int fwl = f != null && f.isJsonPrimitive() && f.getAsJsonPrimitive().isBoolean()
                    ? (f.getAsBoolean() ? 1 : 0) : inherit;
            IntByReference outInt = new IntByReference(-1);
            if (lock != null) {
                check(pl.pl_lock_acquire_with(lock, timeout, interval, fwl, outInt));
            } else if (sem != null) {
                check(pl.pl_semaphore_acquire_with(sem, timeout, interval, outInt));
                reply.addProperty("slot", outInt.getValue());
            } else {
                check(pl.pl_redis_lock_acquire_with(redis, timeout, interval, fwl));
                reply.addProperty("holder_id", pl.pl_redis_lock_holder_id(redis));
                LongByReference token = new LongByReference();
                if (pl.pl_redis_lock_get_fence_token(redis, token) == 0 && token.getValue() > 0)
                    reply.addProperty("fence_token", token.getValue());
                else
                    reply.add("fence_token", JsonNull.INSTANCE);
            }
        }

        void release() throws Failure {
            if (lock != null) check(pl.pl_lock_release(lock));
            else if (sem != null) check(pl.pl_semaphore_release(sem));
            else check(pl.pl_redis_lock_release(redis));
        }

        Pointer needRedis(String op) throws Failure {
            if (redis == null) throw new Failure("NotExposed", op + " needs a RedisLock");
            return redis;
        }

        void probe(JsonObject args, JsonObject reply) throws Failure {
            Double t = num(args, "timeout");
            PointerByReference ref = new PointerByReference();
            check(pl.pl_redis_lock_probe(needRedis("probe"), t == null ? pl.pl_inherit() : t, ref));
            Pointer list = ref.getValue();
            JsonArray holders = new JsonArray();
            try {
                long count = pl.pl_redis_holders_count(list).longValue();
                for (long i = 0; i < count; i++) {
                    PointerByReference id = new PointerByReference();
                    IntByReference mode = new IntByReference(-1), elected = new IntByReference();
                    pl.pl_redis_holders_get(list, new SizeT(i), id, mode, elected);
                    JsonObject entry = new JsonObject();
                    Pointer p = id.getValue();
                    entry.addProperty("holder_id", p == null ? "" : p.getString(0, "UTF-8"));
                    int m = mode.getValue();
                    entry.addProperty("mode", m == pl.pl_redis_mode_shared() ? "shared"
                                              : m == pl.pl_redis_mode_pending() ? "pending" : "exclusive");
                    holders.add(entry);
                }
            } finally {
                pl.pl_redis_holders_free(list);
            }
            reply.add("holders", holders);
        }

        /** Quiet unless the lock was lost (the reference's ensure_held). */
        void ensureHeld() throws Failure {
            IntByReference lost = new IntByReference();
            check(pl.pl_redis_lock_is_lost(needRedis("ensure_held"), lost));
            if (lost.getValue() != 0 || pl.pl_error_exception(pl.pl_redis_lock_check(redis)).equals("LockLost"))
                throw new Failure("LockLost", "the lock was lost");
        }

        /** The frees accept NULL; each handle is freed once. */
        void free() {
            pl.pl_lock_free(lock);
            pl.pl_semaphore_free(sem);
            pl.pl_redis_lock_free(redis);
            lock = sem = redis = null;
        }
    }

    /** Read the counter, write counter + 1 (plain java.io, under the lock). */
    static void bump(String path) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(path, "rw")) {
            byte[] buf = new byte[(int) f.length()];
            f.readFully(buf);
            String text = new String(buf, StandardCharsets.UTF_8).trim();
            long value = text.isEmpty() ? 0 : Long.parseLong(text);
            f.setLength(0);
            f.seek(0);
            f.write(Long.toString(value + 1).getBytes(StandardCharsets.UTF_8));
        }
    }

    static final Map<String, Handle> handles = new LinkedHashMap<>();
    static final Set<String> HANDLE_OPS =
        Set.of("acquire", "release", "read_pid", "increment", "write", "probe", "ensure_held");

    /** Runs one command; false when the agent should stop. */
    static boolean command(JsonObject cmd, JsonObject reply) throws Failure, IOException {
        String op = String.valueOf(str(cmd, "op"));
        JsonObject args = cmd.has("args") && cmd.get("args").isJsonObject() ? cmd.getAsJsonObject("args") : null;
        if (op.equals("hello")) {
            reply.addProperty("pid", ProcessHandle.current().pid());
            reply.addProperty("version", pl.pl_version_string());
            return true;
        }
        if (op.equals("exit")) return false;
        if (op.equals("open_atomic")) {
            PointerByReference ref = new PointerByReference();
            check(pl.pl_atomic_open(ref, str(cmd, "path")));
            Pointer file = ref.getValue();
            try {
                String data = str(cmd, "data");
                writeFd(pl.pl_atomic_fd(file), data == null ? "" : data);
                if (isTrue(cmd, "hold")) {
                    JsonObject ev = new JsonObject();
                    ev.add("id", cmd.get("id"));
                    ev.addProperty("event", "open");
                    send(ev);
                    if (in.readLine() == null) return false; // {"op": "continue"}
                }
                check(pl.pl_atomic_commit(file));
            } finally {
                pl.pl_atomic_free(file);
            }
            return true;
        }
        if (!HANDLE_OPS.contains(op)) throw new Failure("NotExposed", "unknown op " + op);
        String name = String.valueOf(str(cmd, "handle"));
        Handle h = handles.get(name);
        if (h == null) {
            h = new Handle(cmd.has("lock") && cmd.get("lock").isJsonObject() ? cmd.getAsJsonObject("lock") : null);
            handles.put(name, h);
        }
        switch (op) {
            case "acquire": {
                long t0 = System.nanoTime();
                try {
                    h.acquire(args, reply);
                } catch (Failure e) {
                    if (e.name.equals("AlreadyLocked") && h.type.equals("PidFileLock")) {
                        long pid = pl.pl_lock_holder_pid(h.lock).longValue();
                        if (pid > 0) reply.addProperty("holder_pid", pid);
                        else reply.add("holder_pid", JsonNull.INSTANCE);
                    }
                    throw e;
                } finally {
                    reply.addProperty("elapsed", (System.nanoTime() - t0) / 1e9);
                }
                break;
            }
            case "release":
                h.release();
                break;
            case "write": {
                // the descriptor acquire locked (owned by the handle)
                int fd = h.lock == null ? -1 : pl.pl_lock_held_fd(h.lock);
                if (fd < 0) throw new Failure("NotHeld", "no locked descriptor");
                String data = str(cmd, "data");
                writeFd(fd, data == null ? "" : data);
                break;
            }
            case "read_pid": {
                if (h.lock == null) throw new Failure("NotExposed", "read_pid needs a file lock");
                NativeLongByReference pid = new NativeLongByReference();
                check(pl.pl_lock_read_pid(h.lock, pid));
                long v = pid.getValue().longValue();
                if (v > 0) reply.addProperty("pid", v);
                else reply.add("pid", JsonNull.INSTANCE);
                break;
            }
            case "probe":
                h.probe(args, reply);
                break;
            case "ensure_held":
                h.ensureHeld();
                break;
            default: {
                Double n = num(cmd, "n");
                String counter = str(cmd, "counter");
                for (int i = 0; i < (n == null ? 0 : n.intValue()); i++) {
                    h.acquire(args, new JsonObject());
                    IOException failed = null;
                    try {
                        bump(counter);
                    } catch (IOException | RuntimeException e) {
                        failed = e instanceof IOException ? (IOException) e : new IOException(e);
                    }
                    h.release();
                    if (failed != null) throw new Failure("OSError", String.valueOf(failed.getMessage()));
                }
            }
        }
        return true;
    }

    public static void main(String[] argv) throws IOException {
        // JNA takes a path only when it is absolute (otherwise a library name)
        pl = Native.load(argv.length > 0 ? new java.io.File(argv[0]).getAbsolutePath() : "portalocker", PL.class);
        libc = Native.load("c", LibC.class);
        in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        boolean goOn = true;
        while (goOn && (line = in.readLine()) != null) {
            JsonObject cmd;
            try {
                cmd = JsonParser.parseString(line).getAsJsonObject();
            } catch (RuntimeException e) {
                JsonObject bad = new JsonObject();
                bad.addProperty("ok", false);
                bad.addProperty("error", "InvalidArgument");
                bad.addProperty("message", "bad JSON");
                send(bad);
                continue;
            }
            JsonObject reply = new JsonObject();
            reply.add("id", cmd.has("id") ? cmd.get("id") : JsonNull.INSTANCE);
            long start = System.nanoTime();
            try {
                goOn = command(cmd, reply);
                reply.addProperty("ok", true);
            } catch (Failure e) {
                reply.addProperty("ok", false);
                reply.addProperty("error", e.name);
                reply.addProperty("message", e.getMessage());
            } catch (IOException e) {
                reply.addProperty("ok", false);
                reply.addProperty("error", "OSError");
                reply.addProperty("message", String.valueOf(e.getMessage()));
            }
            if (!reply.has("elapsed")) reply.addProperty("elapsed", (System.nanoTime() - start) / 1e9);
            send(reply);
        }
        for (Handle h : handles.values()) h.free();
    }
}
