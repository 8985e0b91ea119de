# frozen_string_literal: true

# Builds portalocker/native.so: the SWIG wrapper of bindings/portalocker.i
# compiled together with the C core's sources (nothing prebuilt needed).
#
# Where the sources come from, first match wins:
#   1. ext/portalocker/vendor/ (the gem: `make ruby-gem` stages the core,
#      core/build.mk and the generated wrapper portalocker_ruby_wrap.c there);
#   2. PORTALOCKER_ROOT or the repository this file sits in (development:
#      `ruby extconf.rb && make`), with swig generating the wrapper.
#
# The core's source directories, include directories, compile flags,
# libraries and the swig arguments come from core/build.mk (shared with the
# Makefile and setup.py). Never -Werror here.
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
settings_file = File.join(root, "core", "build.mk")
abort "portalocker: cannot find #{settings_file} (set PORTALOCKER_ROOT)" unless File.exist?(settings_file)

# core/build.mk: `NAME = words` lines, `#` comments.
settings = File.readlines(settings_file).filter_map do |line|
  name, value = line.sub(/#.*/, "").split("=", 2)
  [name.strip, value.split] if value
end.to_h
in_root = ->(dirs) { dirs.map { |d| File.join(root, d) } }
platform = RbConfig::CONFIG["host_os"].match?(/mswin|mingw|cygwin/) ? "win" : "unix"
src_dirs = in_root.call(settings.fetch("PL_SRC_DIRS_#{platform}"))
# Files a platform leaves out (globs; Windows: the Redis lock's sources).
excluded = in_root.call(settings.fetch("PL_SRC_EXCLUDE_#{platform}", [])).flat_map { |g| Dir[g] }

# The dependencies with a .pc file come through pkg-config (their include
# and library directories, wherever they are installed); then every
# library must link.
packages = settings.fetch("PL_PKGCONFIG")
debian = settings.fetch("PL_PKGCONFIG_DEBIAN")
unless find_executable("pkg-config")
  abort "portalocker: pkg-config is not installed (it finds #{packages.join(' and ')}; Debian: pkg-config)"
end
packages.each_with_index do |pkg, i|
  next if pkg_config(pkg)

  abort "portalocker: pkg-config cannot find #{pkg} (Debian: install #{debian[i]}; " \
        "elsewhere add the directory of #{pkg}.pc to PKG_CONFIG_PATH)"
end
settings.fetch("PL_LIBS_#{platform}", settings.fetch("PL_LIBS")).each do |lib|
  abort "portalocker: cannot link -l#{lib} (see mkmf.log)" unless have_library(lib)
end

core = (src_dirs.flat_map { |d| Dir[File.join(d, "*.c")] } - excluded).sort
wrap = File.join(vendor, "portalocker_ruby_wrap.c")
unless File.exist?(wrap)
  interface = File.join(root, "bindings", "portalocker.i")
  abort "portalocker: no generated wrapper and no #{interface}" unless File.exist?(interface)
  wrap = File.expand_path("portalocker_ruby_wrap.c")
  cmd = ["swig", *settings.fetch("PL_SWIG_ruby"),
         *in_root.call(settings.fetch("PL_SWIG_INCLUDE_DIRS")).map { |d| "-I#{d}" },
         "-o", wrap, interface]
  system(*cmd) or abort "portalocker: swig failed: #{cmd.join(' ')}"
end

# mkmf compiles sources by basename, found through $VPATH.
srcs = [wrap, *core]
dups = srcs.group_by { |f| File.basename(f) }.select { |_, fs| fs.size > 1 }
abort "portalocker: core sources share a basename: #{dups.values.flatten.join(' ')}" unless dups.empty?
$srcs = srcs.map { |f| File.basename(f) }
$VPATH << File.dirname(wrap)
src_dirs.each { |d| $VPATH << d }
in_root.call(settings.fetch("PL_INCLUDE_DIRS")).each { |d| $INCFLAGS << " -I#{d}" }
defines, cflags = settings.fetch("PL_CORE_CFLAGS").partition { |f| f.start_with?("-D") }
$defs.concat(defines)
# The wrapper is SWIG's code: no unused-parameter noise.
$CFLAGS << " #{cflags.join(' ')} -Wno-unused-parameter"

create_makefile("portalocker/native")
