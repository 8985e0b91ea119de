# frozen_string_literal: true

# One side of a cross-language lock handoff (ci/packages/installed.sh):
#   ruby contend.rb hold|take LOCK SYNC INSTALLED
# (see contend.py). The gem must be loaded from under INSTALLED.
require "portalocker"

mode, lock_path, sync, installed = ARGV
native = $LOADED_FEATURES.grep(%r{portalocker/native\.so\z}).first.to_s
abort "ruby: portalocker/native.so came from '#{native}', not #{installed}" unless native.start_with?("#{installed}/")

def wait_for(path)
  deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 20
  until File.exist?(path)
    abort "ruby: #{path} never appeared" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
    sleep 0.01
  end
end

ready = File.join(sync, "ready")
go = File.join(sync, "go")
if mode == "hold"
  Portalocker::Lock.open(lock_path, timeout: 5) do
    File.write(ready, "")
    wait_for(go)
    sleep 0.2
  end
else
  wait_for(ready)
  begin
    Portalocker::Lock.open(lock_path, fail_when_locked: true) { abort "ruby: took a lock another process holds" }
  rescue Portalocker::AlreadyLocked
    nil
  end
  File.write(go, "")
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  waited = Portalocker::Lock.open(lock_path, timeout: 10) { Process.clock_gettime(Process::CLOCK_MONOTONIC) - start }
  puts format("ruby: waited %.2f s for the holder, then took the lock (gem %s from %s)",
              waited, Portalocker::VERSION, File.dirname(native, 2))
end
