#!/usr/bin/env bash
# Ruby for Windows (x86_64-w64-mingw32), cross-built with Debian's
# mingw-w64 from Debian's own ruby3.1 source package (`apt-get source`,
# private apt state, as ci/win/deps.sh does for the other dependencies)
# and installed into build/win/ruby (bin/ruby.exe, its DLL, the standard
# library and the headers and rbconfig.rb a C extension compiles
# against). Ruby's configure supports this cross-build; the build runs
# the native ruby (the same 3.1) as baseruby for its generated files.
# Only the extensions that need no third-party library are built (no
# OpenSSL, zlib, libyaml, libffi, readline for Windows here); ripper, the
# slowest, and Ruby's own test extensions (-test-/*) are not needed.
# Built once (6 to 7 minutes on a busy 2-core machine); a second run only
# checks the stamp (the source version, the compiler, the baseruby, the
# configure arguments) and exits.
# Prints the installation directory; exit status non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ci/lib/debian-sources.sh

W=$PWD/build/win
SRC=$W/ruby-src
BLD=$W/ruby-build
PREFIX=$W/ruby
CROSS=x86_64-w64-mingw32
log() { echo "win-ruby: $*" >&2; }
command -v $CROSS-gcc >/dev/null || { log "$CROSS-gcc missing (apt-get install mingw-w64)"; exit 1; }
BASERUBY=$(command -v ruby) || { log "a native ruby is needed as baseruby (apt-get install ruby)"; exit 1; }

# The source: the newest ruby3.1 the system's apt knows; a security
# update whose source is not (yet) on the mirror falls back to the
# release's own (bookworm), as the two are the same Ruby 3.1.2.
if [ ! -f "$SRC/.fetched" ]; then
  rm -rf "$SRC"
  if ! pl_debian_sources "$W/ruby-apt" "$SRC" ruby3.1 >"$W/ruby-fetch.log" 2>&1; then
    rm -rf "$SRC"
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    pl_debian_sources "$W/ruby-apt" "$SRC" "ruby3.1/$suite" >>"$W/ruby-fetch.log" 2>&1 ||
      { cat "$W/ruby-fetch.log" >&2; log "apt-get source ruby3.1 failed"; exit 1; }
  fi
  touch "$SRC/.fetched"
fi
src_dir=$(ls -d "$SRC"/ruby3.1-*/ | head -n1)
src_dir=${src_dir%/}
dsc=$(ls "$SRC"/ruby3.1_*.dsc | head -n1)
# -static-libgcc: ruby.exe and its DLL need only system DLLs and msvcrt.
CONFIGURE_ARGS=(--build="$(cc -dumpmachine)" --host=$CROSS --target=$CROSS
  --prefix="$PREFIX" --with-baseruby="$BASERUBY" --disable-install-doc --disable-jit-support
  --enable-shared "--with-out-ext=openssl,fiddle,psych,zlib,readline,ripper,gdbm,dbm,pty,syslog,win32ole,nkf,-test-*"
  LDFLAGS=-static-libgcc CFLAGS=-O2)
# The stamp: the source, the compiler, the baseruby and these arguments.
stamp="$(basename "$dsc" .dsc) $($CROSS-gcc -dumpversion) $("$BASERUBY" -e 'print RUBY_VERSION')"
stamp="$stamp staged $(printf '%s\n' "${CONFIGURE_ARGS[@]}" | md5sum | cut -c1-12)"
if [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$stamp" ] && [ -x "$PREFIX/bin/ruby.exe" ]; then
  echo "$PREFIX"
  exit 0
fi

rm -rf "$BLD" "$PREFIX"
mkdir -p "$BLD"
# Upstream's generated configure, not one regenerated from Debian's
# patched configure.ac (Debian runs autoreconf; its configure.ac patches
# are for Linux ports: kfreebsd, x32, hurd, pkg-config, no downloads):
# dated like configure.ac so that Ruby's Makefile does not ask for
# autoconf.
touch -r "$src_dir/configure.ac" "$src_dir/configure"
start=$SECONDS
log "cross-building $(basename "$dsc" .dsc) for $CROSS (log: $BLD/build.log)"
# Installed through a staging DESTDIR: Ruby's installer runs on the
# baseruby, whose rubygems (Debian's) puts the default and bundled gems
# in its own Gem.default_dir (/var/lib/gems/3.1.0): installed directly,
# the Windows gems (x64-mingw32 extensions) would land in the system's
# gem directory and break the native Ruby's. They go where this Ruby
# looks for them instead, lib/ruby/gems/<api version> under its prefix.
STAGE=$BLD/stage
GEM_DIR=$("$BASERUBY" -e 'print Gem.default_dir')
rm -rf "$STAGE"
if ! (cd "$BLD" && "$src_dir/configure" "${CONFIGURE_ARGS[@]}" >"$BLD/build.log" 2>&1 &&
  make -C "$BLD" -j2 >>"$BLD/build.log" 2>&1 &&
  make -C "$BLD" install-nodoc DESTDIR="$STAGE" >>"$BLD/build.log" 2>&1); then
  tail -n 40 "$BLD/build.log" >&2
  log "the cross-build failed (log: $BLD/build.log)"
  exit 1
fi
mv "$STAGE$PREFIX" "$PREFIX"
if [ -d "$STAGE$GEM_DIR" ]; then
  mkdir -p "$PREFIX/lib/ruby/gems"
  mv "$STAGE$GEM_DIR" "$PREFIX/lib/ruby/gems/$(basename "$GEM_DIR")"
fi
rm -rf "$STAGE"
[ -x "$PREFIX/bin/ruby.exe" ] || { log "$PREFIX/bin/ruby.exe was not installed"; exit 1; }
echo "$stamp" >"$PREFIX/.stamp"
log "$(basename "$dsc" .dsc) cross-built into $PREFIX in $((SECONDS - start)) s"
echo "$PREFIX"
