# frozen_string_literal: true

# Conformance agent for Ruby: JSON lines on stdin, JSON lines on stdout
# (protocol: tests/conformance/README.md). Uses only the public API of
# `require "portalocker"` (ruby -I build/ruby); JSON is Ruby's stdlib.
require "json"
require "portalocker"

$stdout.sync = true

# Most specific first: the first canonical name found among the error's
# ancestors is the answer.
CANONICAL = [
  ["Portalocker::AlreadyLocked", "AlreadyLocked"],
  ["Portalocker::LockLost", "LockLost"],
  ["Portalocker::NotHeld", "NotHeld"],
  ["Portalocker::InvalidArgument", "InvalidArgument"],
  ["Portalocker::InvalidState", "InvalidState"],
  ["Portalocker::Unsupported", "Unsupported"],
  ["Portalocker::FileTooLarge", "FileToLarge"],
  ["Portalocker::ConnectionError", "ConnectionError"],
  ["Portalocker::LockException", "LockException"],
  ["Errno::EEXIST", "FileExists"],
  ["SystemCallError", "OSError"],
].freeze

def canonical(error)
  names = error.class.ancestors.map(&:name)
  CANONICAL.each { |name, canon| return canon if names.include?(name) }
  "Other:#{error.class.name}"
end

class NotExposed < StandardError; end

def send_line(obj)
  $stdout.write(JSON.generate(obj) + "\n")
end

def now
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

# One lock object of the binding, made from the command's lock spec.
class Handle
  attr_reader :type, :obj, :file

  def initialize(spec)
    @type = spec.fetch("type")
    # The lock mechanism (flock, posix): the mechanism: keyword.
    mech = spec["mechanism"] ? { mechanism: spec["mechanism"].to_sym } : {}
    raise NotExposed, "RedisLock has no lock mechanism" if spec["mechanism"] && @type == "RedisLock"

    flags = spec["shared"] ? Portalocker::LOCK_SH : Portalocker::LOCK_EX
    flags |= Portalocker::LOCK_NB unless spec["blocking"] || @type == "RedisLock"
    @obj =
      case @type
      when "Lock" then Portalocker::Lock.new(spec["path"], mode: spec["mode"] || "a", flags: flags, **mech)
      when "RLock" then Portalocker::RLock.new(spec["path"], mode: spec["mode"] || "a", flags: flags, **mech)
      when "TemporaryFileLock" then Portalocker::TemporaryFileLock.new(spec["path"], flags: flags, **mech)
      when "PidFileLock" then Portalocker::PidFileLock.new(spec["path"], flags: flags, **mech)
      when "BoundedSemaphore"
        Portalocker::NamedBoundedSemaphore.new(spec["maximum"], name: spec["name"], directory: spec["directory"],
                                                                **mech)
      when "RedisLock"
        extra = spec.key?("unavailable_timeout") ? { unavailable_timeout: spec["unavailable_timeout"] } : {}
        Portalocker::RedisLock.new(spec["channel"], host: spec["host"], port: spec["port"], flags: flags,
                                                    fencing: spec["fencing"] ? true : false, **extra)
      else raise NotExposed, "unknown lock type #{@type}"
      end
  end

  def acquire(args)
    opts = {}
    %w[timeout check_interval fail_when_locked].each { |k| opts[k.to_sym] = args[k] if args.key?(k) }
    result = @obj.acquire(**opts)
    @file = result unless @type == "RedisLock"
    return { "holder_id" => @obj.holder_id, "fence_token" => @obj.fence_token } if @type == "RedisLock"
    return {} unless @type == "BoundedSemaphore"
    # Without fail_when_locked the semaphore returns nil: "already locked".
    return { "error" => "AlreadyLocked", "message" => "acquire returned nil" } if result.nil?

    { "slot" => @obj.slot }
  end

  def release
    @obj.release
  end

  def redis
    raise NotExposed, "#{@type} has no probe or ensure_held" unless @type == "RedisLock"

    @obj
  end

  def probe(args)
    holders = args.key?("timeout") ? redis.probe(timeout: args["timeout"]) : redis.probe
    { "holders" => holders.map { |h| { "holder_id" => h.holder_id, "mode" => h.mode.to_s } } }
  end
end

def increment(handle, cmd)
  path = cmd.fetch("counter")
  cmd.fetch("n").times do
    handle.acquire(cmd["args"] || {})
    begin
      File.open(path, File::RDWR | File::CREAT) do |f|
        text = f.read.strip
        value = text.empty? ? 0 : Integer(text)
        f.rewind
        f.truncate(0)
        f.write((value + 1).to_s)
      end
    ensure
      handle.release
    end
  end
  {}
end

handles = {}
while (line = $stdin.gets)
  cmd = JSON.parse(line)
  op = cmd["op"]
  reply = { "id" => cmd["id"] }
  start = now
  begin
    case op
    when "hello"
      reply["pid"] = Process.pid
      reply["version"] = Portalocker::LIBRARY_VERSION
    when "exit"
      send_line(reply.merge("ok" => true))
      break
    when "acquire", "release", "read_pid", "increment", "write", "probe", "ensure_held"
      handle = (handles[cmd["handle"]] ||= Handle.new(cmd["lock"]))
      case op
      when "acquire"
        start = now
        begin
          reply.merge!(handle.acquire(cmd["args"] || {}))
        rescue Portalocker::AlreadyLocked => e
          reply["holder_pid"] = e.holder_pid if handle.type == "PidFileLock"
          raise
        end
      when "release" then handle.release
      when "write" # the File acquire returned
        handle.file.write(cmd["data"])
        handle.file.flush
      when "read_pid" then reply["pid"] = handle.obj.read_pid
      when "probe" then reply.merge!(handle.probe(cmd["args"] || {}))
      when "ensure_held" then handle.redis.ensure_held!
      else reply.merge!(increment(handle, cmd))
      end
    when "open_atomic"
      Portalocker.open_atomic(cmd["path"], binary: false) do |f|
        f.write(cmd["data"])
        if cmd["hold"]
          send_line({ "id" => cmd["id"], "event" => "open" })
          cont = JSON.parse($stdin.gets)
          raise "expected continue, got #{cont}" unless cont["op"] == "continue"
        end
      end
    else
      raise NotExposed, "unknown op #{op}"
    end
    reply["ok"] = !reply.key?("error")
  rescue NotExposed => e
    reply.merge!("ok" => false, "error" => "NotExposed", "message" => e.message)
  rescue StandardError => e
    reply.merge!("ok" => false, "error" => canonical(e), "message" => "#{e.class}: #{e.message}")
    reply["trace"] = e.backtrace&.first(5) if reply["error"].start_with?("Other:")
  end
  reply["elapsed"] = now - start
  send_line(reply)
end
