# frozen_string_literal: true

# Builds portalocker/native.so: the SWIG wrapper of bindings/portalocker.i
# compiled together with the C core's sources (nothing prebuilt needed).
#
# Where the sources come from, first match wins:
#   1. ext/portalocker/vendor/ (the gem: `make ruby-gem` stages the core
#      and the generated wrapper portalocker_ruby_wrap.c there);
#   2. PORTALOCKER_ROOT or the repository this file sits in (development:
#      `ruby extconf.rb && make`), with swig generating the wrapper.
require "mkmf"
require "fileutils"

here = __dir__
vendor = File.join(here, "vendor")
root =
  if File.exist?(File.join(vendor, "core", "include", "portalocker.h"))
    vendor
  else
    ENV.fetch("PORTALOCKER_ROOT", File.expand_path("../../../..", here))
  end
core_src = File.join(root, "core", "src")
core_inc = File.join(root, "core", "include")
abort "portalocker: cannot find the C core in #{root} (set PORTALOCKER_ROOT)" unless File.directory?(core_src)

%w[hiredis cjson pthread].each do |lib|
  abort "portalocker: lib#{lib} is missing (install libhiredis-dev / libcjson-dev)" unless have_library(lib)
end

core = Dir[File.join(core_src, "*.c")].sort
wrap = File.join(vendor, "portalocker_ruby_wrap.c")
unless File.exist?(wrap)
  interface = File.join(root, "bindings", "portalocker.i")
  abort "portalocker: no generated wrapper and no #{interface}" unless File.exist?(interface)
  redis = core.any? { |f| File.read(f) =~ /\bpl_redis_lock_new\s*\(\s*pl_redis_lock\s*\*\*/ }
  wrap = File.expand_path("portalocker_ruby_wrap.c")
  cmd = ["swig", "-ruby", "-w801", *(redis ? ["-DPL_HAVE_REDIS"] : []), "-module", "portalocker::native",
         "-I#{core_inc}", "-o", wrap, interface]
  system(*cmd) or abort "portalocker: swig failed: #{cmd.join(' ')}"
end

$srcs = [wrap, *core].map { |f| File.basename(f) }
$VPATH << File.dirname(wrap) << core_src
$INCFLAGS << " -I#{core_inc} -I#{core_src}"
$defs << "-DPL_BUILDING_LIBRARY" << "-D_FILE_OFFSET_BITS=64"
$CFLAGS << " -std=gnu11 -Wno-unused-parameter"

create_makefile("portalocker/native")
