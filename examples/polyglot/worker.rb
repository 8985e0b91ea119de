# The Ruby worker of the polyglot demo.
require "portalocker"

def say(what)
  t = (Time.now.to_f - ENV.fetch("DEMO_T0", "0").to_f) * 1e3
  printf("%7.1f ms  Ruby   pid %-7d %s\n", t, Process.pid, what)
  $stdout.flush
end

dir = ARGV.fetch(0)
say "waits for demo.lock"
Portalocker::Lock.open(File.join(dir, "demo.lock"), timeout: 30) do
  say "HOLDS demo.lock"
  sleep 0.15
  say "releases demo.lock"
end

semaphore = Portalocker::NamedBoundedSemaphore.new(2, name: "demo", directory: dir, timeout: 30)
semaphore.synchronize do
  slot = semaphore.slot
  say "HOLDS semaphore slot #{slot} of 2"
  sleep 0.3
  say "releases slot #{slot}"
end
