# libportalocker: `make` (= `make all` = `make lib tool`) builds the library
# and the portalock command into build/ and needs only a C compiler, hiredis
# and cJSON; `make bindings`
# builds the Python, Ruby and Lua modules (swig and each language's
# headers); `make test` installs what is missing, builds what the suites
# need and runs every test, `make bench` measures, `make demo` shows the
# library at work.
#
# Knobs: CC (CXX follows it), OPT (optimisation, default -O2 -g), WERROR=0
# (warnings stay warnings; -Werror is the default here and in CI, never in
# the builds the packages do), EXTRA_CFLAGS, BUILD (output directory),
# PL_PLATFORM (which PL_SRC_DIRS_* of core/build.mk: unix).

# Where `make install` puts things (GNU-style; DESTDIR stages an install).
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/portalocker
MANDIR ?= $(PREFIX)/share/man
BINDIR ?= $(PREFIX)/bin
# The release's version (make release-check: the same everywhere) and the
# SONAME's number, which changes only when the ABI breaks (core/abi/).
VERSION := 1.0.0
SOVERSION := 1

# The core's source directories, include directories, compile flags,
# libraries and the swig arguments; shared with setup.py, extconf.rb and
# stage-gem.sh.
include core/build.mk

CC ?= cc
# The C++ compiler of test-header: the one that goes with CC.
ifeq ($(origin CXX),default)
CXX := $(if $(findstring clang,$(CC)),$(subst clang,clang++,$(CC)),$(if $(findstring gcc,$(CC)),$(subst gcc,g++,$(CC)),c++))
endif
BUILD := build
PL_PLATFORM ?= unix
WERROR ?= 1
WERROR_FLAG := $(if $(filter 0,$(WERROR)),,-Werror)
WARN := -Wall -Wextra $(WERROR_FLAG) -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT ?= -O2 -g
INCLUDES := $(addprefix -I,$(PL_INCLUDE_DIRS))
CFLAGS_CORE := $(PL_CORE_CFLAGS) $(OPT) $(WARN) -fPIC $(INCLUDES) $(EXTRA_CFLAGS)
LIBS := $(addprefix -l,$(PL_LIBS))

CORE_DIRS := $(PL_SRC_DIRS_$(PL_PLATFORM))
$(if $(CORE_DIRS),,$(error core/build.mk has no PL_SRC_DIRS_$(PL_PLATFORM)))
CORE_SRCS := $(filter-out $(wildcard $(PL_SRC_EXCLUDE_$(PL_PLATFORM))),\
	$(sort $(foreach d,$(CORE_DIRS),$(wildcard $(d)/*.c))))
CORE_OBJS := $(patsubst core/src/%.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
CORE_HDRS := $(sort $(foreach d,$(PL_INCLUDE_DIRS) $(CORE_DIRS),$(wildcard $(d)/*.h)))

SHARED := $(BUILD)/libportalocker.so.$(SOVERSION)
STATIC := $(BUILD)/libportalocker.a
PCFILE := $(BUILD)/portalocker.pc

.PHONY: all lib tool bindings setup test test-bins test-unit test-header bench demo \
	install uninstall release-check clean check-symbols

all: lib tool

lib: $(SHARED) $(BUILD)/libportalocker.so $(STATIC) $(PCFILE)

# portalock(1), the command-line tool (tools/portalock), on the public API
# only; linked with the static library so the installed program does not
# depend on where the shared one went.
TOOL := $(BUILD)/portalock
TOOL_SRCS := $(sort $(wildcard tools/portalock/*.c))
tool: $(TOOL)
$(TOOL): $(TOOL_SRCS) tools/portalock/portalock.h core/include/portalocker.h $(STATIC)
	$(CC) -std=gnu11 $(OPT) $(WARN) -Icore/include $(EXTRA_CFLAGS) -o $@ \
		$(TOOL_SRCS) $(STATIC) $(LIBS)

$(BUILD)/obj/%.o: core/src/%.c $(CORE_HDRS) core/build.mk
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_CORE) -c $< -o $@

$(SHARED): $(CORE_OBJS) core/portalocker.map
	$(CC) -shared -Wl,-soname,libportalocker.so.$(SOVERSION) \
		-Wl,--version-script=core/portalocker.map -Wl,--no-undefined \
		-o $@ $(CORE_OBJS) $(LIBS)

$(BUILD)/libportalocker.so: $(SHARED)
	ln -sf libportalocker.so.$(SOVERSION) $@

$(STATIC): $(CORE_OBJS)
	rm -f $@
	ar rcs $@ $(CORE_OBJS)

# The pkg-config file and the CMake package files, written for the
# directories installed to (build/ holds copies for the defaults).
# Requires.private: the dependencies with a .pc of their own (hiredis,
# libcjson); Libs.private: the system libraries a static link needs.
INSTALL_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@SOVERSION@|$(SOVERSION)|g' \
	-e 's|@LIBS_PRIVATE@|$(filter-out -lhiredis -lcjson -lssl -lcrypto,$(LIBS))|g' \
	-e 's|@CMAKE_LIBS@|$(subst $(PL_SPACE),;,$(strip $(PL_LIBS)))|g'
PL_EMPTY :=
PL_SPACE := $(PL_EMPTY) $(PL_EMPTY)
CMAKE_IN := core/cmake/portalockerConfig.cmake.in core/cmake/portalockerConfigVersion.cmake.in
MAN_PAGES := $(sort $(wildcard doc/man/*.[0-9]))

$(PCFILE): core/portalocker.pc.in Makefile core/build.mk
	@mkdir -p $(BUILD)
	$(INSTALL_SED) core/portalocker.pc.in > $@

install: lib tool
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/
	install -m 644 core/include/portalocker.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libportalocker.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libportalocker.so
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	$(INSTALL_SED) core/portalocker.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/portalocker.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/portalocker.pc
	for f in $(CMAKE_IN); do \
		out=$(DESTDIR)$(CMAKEDIR)/$$(basename $$f .in); \
		$(INSTALL_SED) $$f > $$out && chmod 644 $$out || exit 1; \
	done
	for m in $(MAN_PAGES); do \
		sec=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$sec && \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$sec/ || exit 1; \
	done

# Removes exactly what `make install` put there (same PREFIX/LIBDIR/...).
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/portalocker.h \
		$(DESTDIR)$(LIBDIR)/libportalocker.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libportalocker.so $(DESTDIR)$(LIBDIR)/libportalocker.a \
		$(DESTDIR)$(PKGCONFIGDIR)/portalocker.pc $(DESTDIR)$(BINDIR)/portalock
	for f in $(CMAKE_IN); do rm -f $(DESTDIR)$(CMAKEDIR)/$$(basename $$f .in); done
	-rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null
	for m in $(MAN_PAGES); do \
		rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$(basename $$m); \
	done

# The version is the same in the header, this Makefile, the Python,
# Ruby and Lua packages and the CHANGELOG.
release-check:
	bash ci/release-check.sh $(VERSION)

# ---- tests ----------------------------------------------------------------
# One cmocka binary per area: tests/unit/test_<area>.c. They link the static
# library so that syscalls can be replaced with -Wl,--wrap (fault tests).

TEST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Wno-missing-prototypes \
	-D_FILE_OFFSET_BITS=64 $(INCLUDES) -Itests/unit $(EXTRA_CFLAGS)
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
TEST_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_HELPERS := $(wildcard tests/unit/helpers/*.c)
TEST_HELPER_HDRS := $(wildcard tests/unit/*.h tests/unit/helpers/*.h)
# Syscalls the fault-injection tests replace. With _FILE_OFFSET_BITS=64,
# glibc 2.36 resolves the core's calls to open64, fcntl64, fstat64, lstat64,
# ftruncate64, lseek64, stat64 and mkostemps64 (`nm build/libportalocker.a
# | grep ' U '`);
# the plain names are wrapped too so other glibc versions work unchanged.
# tests/unit/test_faults.c defines a __wrap_X for every name listed here.
FAULT_WRAP := open open64 close flock fcntl fcntl64 fstat fstat64 lstat lstat64 \
	ftruncate ftruncate64 write fsync link unlink mkostemps mkostemps64 \
	inotify_init1 inotify_add_watch mkdir read lseek lseek64 stat stat64 poll \
	getrandom
WRAP_FLAGS := $(foreach s,$(FAULT_WRAP),-Wl,--wrap=$(s))

$(BUILD)/tests/test_faults: WRAP = $(WRAP_FLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(TEST_HELPER_HDRS) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_HELPERS) $(STATIC) $(WRAP) -lcmocka $(LIBS)

setup:
	bash ci/setup.sh

# Everything the suites use is built first (a suite may build more itself).
test: setup
	$(MAKE) lib bindings test-bins
	bash ci/run-tests.sh

test-bins: $(TEST_BINS)

test-unit: lib $(TEST_BINS)
	@failed=0; for t in $(TEST_BINS); do \
		echo "== $$t"; $$t || failed=1; \
	done; exit $$failed

# The public header must compile as strict C99 (with CC) and as C++11 (with
# CXX).
test-header:
	@mkdir -p $(BUILD)
	printf '#include "portalocker.h"\nint main(void){return pl_version_number()>0?0:1;}\n' > $(BUILD)/header_c99.c
	$(CC) -std=c99 -Wall -Wextra -pedantic $(WERROR_FLAG) -Icore/include -c $(BUILD)/header_c99.c -o $(BUILD)/header_c99.o
	cp $(BUILD)/header_c99.c $(BUILD)/header_cxx.cpp
	$(CXX) -std=c++11 -Wall -Wextra -pedantic $(WERROR_FLAG) -Icore/include -c $(BUILD)/header_cxx.cpp -o $(BUILD)/header_cxx.o

# Only public pl_* symbols (never the core's internal pl__*), each with a
# version.
check-symbols: $(SHARED)
	bash ci/check-symbols.sh $(SHARED)

# ---- bindings -----------------------------------------------------------------
# One SWIG interface, bindings/portalocker.i, for every language, run with
# the arguments of core/build.mk (PL_SWIG_<language>); each module is the
# wrapper compiled and linked against the static library. The wrappers are
# SWIG's code: compiled with -Wall but never -Werror.
SWIG ?= swig
SWIG_INCLUDES := $(addprefix -I,$(PL_SWIG_INCLUDE_DIRS))
BINDING_CFLAGS = -std=gnu11 $(OPT) -fPIC -shared -Wall -Wno-unused-parameter $(SWIG_INCLUDES)
BINDING_DEPS := bindings/portalocker.i bindings/python/lock_guard.i bindings/python/lock_fast_path.i core/include/portalocker.h core/build.mk $(STATIC)

bindings: python-binding ruby-binding lua-binding

# Python: build/python/cportalocker/ (the pure-Python layer from
# bindings/python plus the SWIG extension), so that
# `PYTHONPATH=build/python python3 -c 'import cportalocker'` works.
PYTHON ?= python3
PY_PKG := $(BUILD)/python/cportalocker
PY_EXT_SUFFIX = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
PY_INCLUDE = $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
PY_SRCS := $(wildcard bindings/python/cportalocker/*.py bindings/python/cportalocker/*.pyi) \
	bindings/python/cportalocker/py.typed bindings/python/README.md LICENSE

.PHONY: python-binding
python-binding: $(PY_PKG)/.built

$(PY_PKG)/.built: $(BINDING_DEPS) $(PY_SRCS)
	@mkdir -p $(BUILD)/swig $(PY_PKG)
	@test -f "$(PY_INCLUDE)/Python.h" || { echo "Python.h not found in $(PY_INCLUDE) (install python3-dev)"; exit 1; }
	$(SWIG) $(PL_SWIG_python) $(SWIG_INCLUDES) -outdir $(PY_PKG) \
		-o $(BUILD)/swig/portalocker_python_wrap.c bindings/portalocker.i
	$(CC) $(BINDING_CFLAGS) -I$(PY_INCLUDE) -o $(PY_PKG)/_portalocker_c$(PY_EXT_SUFFIX) \
		$(BUILD)/swig/portalocker_python_wrap.c $(STATIC) $(LIBS)
	cp $(PY_SRCS) $(PY_PKG)/
	touch $@

# The Python release artifacts (bindings/python/stage-dist.sh): an sdist
# that carries the core, core/build.mk and the SWIG-generated wrapper (no
# swig needed to install it), the wheel built from that sdist, and that
# wheel repaired by auditwheel (hiredis and cJSON inside, a manylinux tag)
# in build/python-dist/wheelhouse. The tools come pinned from
# ci/requirements-packaging.txt (PACKAGING_PYTHON: a python that has them).
PACKAGING_PYTHON ?= $(shell bash ci/venv.sh packaging)
.PHONY: python-dist
python-dist:
	bash bindings/python/stage-dist.sh $(BUILD)/python-dist $(PACKAGING_PYTHON)

# Lua 5.4: build/lua/portalocker_c.so (the SWIG module) and
# build/lua/portalocker.lua (the idiomatic layer), so that
# LUA_CPATH='build/lua/?.so;;' LUA_PATH='build/lua/?.lua;;' lua5.4 -e
# 'require "portalocker"' works. -D_GNU_SOURCE: fopencookie (file handles
# over the core's descriptors). lua-install puts both into LUA_LIBDIR and
# LUA_SHAREDIR. The rock: `make lua-rock` stages the core, core/build.mk,
# bindings/lua (with its own small makefile, rock.mk) and the generated
# wrapper into a source archive and packs it with the rockspec into
# build/lua-rock/portalocker-<version>-1.src.rock (no swig needed to
# install it).
LUA_PC ?= lua5.4
LUA_CFLAGS ?= $(shell pkg-config --cflags $(LUA_PC))
LUA_DIR := $(BUILD)/lua
LUA_SRCS := bindings/lua/portalocker.lua
LUA_LIBDIR ?= $(PREFIX)/lib/lua/5.4
LUA_SHAREDIR ?= $(PREFIX)/share/lua/5.4

.PHONY: lua-binding lua-install lua-rock
lua-binding: $(LUA_DIR)/.built

$(LUA_DIR)/.built: $(BINDING_DEPS) $(LUA_SRCS)
	@mkdir -p $(BUILD)/swig $(LUA_DIR)
	$(SWIG) $(PL_SWIG_lua) $(SWIG_INCLUDES) \
		-o $(BUILD)/swig/portalocker_lua_wrap.c bindings/portalocker.i
	$(CC) $(BINDING_CFLAGS) -D_GNU_SOURCE $(LUA_CFLAGS) -o $(LUA_DIR)/portalocker_c.so \
		$(BUILD)/swig/portalocker_lua_wrap.c $(STATIC) $(LIBS)
	cp $(LUA_SRCS) $(LUA_DIR)/
	touch $@

lua-install: lua-binding
	install -d $(DESTDIR)$(LUA_LIBDIR) $(DESTDIR)$(LUA_SHAREDIR)
	install -m 755 $(LUA_DIR)/portalocker_c.so $(DESTDIR)$(LUA_LIBDIR)/
	install -m 644 $(LUA_DIR)/portalocker.lua $(DESTDIR)$(LUA_SHAREDIR)/

lua-rock:
	bash bindings/lua/stage-rock.sh $(BUILD)/lua-rock

# Ruby: build/ruby/portalocker.rb and build/ruby/portalocker/ (the idiomatic
# layer from bindings/ruby/lib plus the SWIG extension portalocker/native.so,
# module Portalocker::Native), so that
# `ruby -I build/ruby -e 'require "portalocker"'` works. -w801: SWIG's note
# that the handle classes are capitalised (Pl_lock). The gem: `make ruby-gem`
# stages bindings/ruby with the core sources, core/build.mk and the
# generated wrapper (no swig needed to install) into build/ruby-gem/ and
# runs `gem build` there.
RUBY ?= ruby
RUBY_CFLAGS = $(shell $(RUBY) -rrbconfig -e 'c = RbConfig::CONFIG; print "-I#{c["rubyhdrdir"]} -I#{c["rubyarchhdrdir"]}"')
RUBY_DIR := $(BUILD)/ruby
RUBY_SRCS := $(wildcard bindings/ruby/lib/*.rb bindings/ruby/lib/*/*.rb)
RUBY_GEM_DIR := $(BUILD)/ruby-gem

.PHONY: ruby-binding ruby-gem
ruby-binding: $(RUBY_DIR)/.built

$(RUBY_DIR)/.built: $(BINDING_DEPS) $(RUBY_SRCS)
	@mkdir -p $(BUILD)/swig $(RUBY_DIR)/portalocker
	$(SWIG) $(PL_SWIG_ruby) $(SWIG_INCLUDES) \
		-o $(BUILD)/swig/portalocker_ruby_wrap.c bindings/portalocker.i
	$(CC) $(BINDING_CFLAGS) $(RUBY_CFLAGS) -o $(RUBY_DIR)/portalocker/native.so \
		$(BUILD)/swig/portalocker_ruby_wrap.c $(STATIC) $(LIBS)
	cp -r bindings/ruby/lib/. $(RUBY_DIR)/
	touch $@

ruby-gem: $(RUBY_DIR)/.built
	bash bindings/ruby/stage-gem.sh $(RUBY_GEM_DIR)

# ---- API references (ci/tests.d/docs.sh) -------------------------------------
# `make docs`: the Ruby reference (YARD, bindings/ruby/.yardopts) into
# build/docs/ruby and the Lua one (LDoc, bindings/lua/config.ld) into
# build/docs/lua; fails on a warning or an undocumented public item. Needs
# yard and lua-ldoc (ci/setup.sh). The C API's reference is the manual pages
# (doc/man), Python's the docstrings (pydoc cportalocker).
.PHONY: docs
docs:
	bash ci/tests.d/docs.sh

# ---- Redis lock tests and bench (ci/tests.d/redis.sh, tests/bench/redis.sh) --
# cmocka binaries tests/redis/test_*.c (with tests/redis/redis_testutil.c),
# the interop helper pl_redis_cli and the Redis bench; all need a running
# redis-server, which the scripts start.

REDIS_TEST_SRCS := $(sort $(wildcard tests/redis/test_*.c))
REDIS_TEST_BINS := $(patsubst tests/redis/%.c,$(BUILD)/tests/redis/%,$(REDIS_TEST_SRCS))
REDIS_TEST_DEPS := tests/redis/redis_testutil.c tests/redis/redis_testutil.h \
	$(TEST_HELPERS) $(TEST_HELPER_HDRS) $(STATIC)

.PHONY: test-redis-bins test-redis-tls-bins
test-redis-bins: lib $(REDIS_TEST_BINS) $(BUILD)/tests/redis/pl_redis_cli $(BUILD)/bench/bench_redis

# The TLS suite (ci/tests.d/redis-tls.sh: its own server with --tls-port)
# and the Sentinel suite (ci/tests.d/redis-sentinel.sh: its own topology).
.PHONY: test-redis-sentinel-bins test-redis-cluster-bins
test-redis-tls-bins: lib $(BUILD)/tests/redis/tls/test_redis_tls
test-redis-sentinel-bins: lib $(BUILD)/tests/redis/sentinel/test_redis_sentinel
test-redis-cluster-bins: lib $(BUILD)/tests/redis/cluster/test_redis_cluster
$(BUILD)/tests/redis/tls/test_redis_tls $(BUILD)/tests/redis/sentinel/test_redis_sentinel \
		$(BUILD)/tests/redis/cluster/test_redis_cluster: \
		$(BUILD)/tests/redis/%: tests/redis/%.c $(REDIS_TEST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itests/redis -o $@ $< tests/redis/redis_testutil.c \
		$(TEST_HELPERS) $(STATIC) -lcmocka $(LIBS)

# tests/redis/test_redis_wrap.c replaces the transport's calls (the
# platform's socket functions, hiredis's formatter and reader) and poll,
# pipe2 and pthread_create with -Wl,--wrap; it defines a __wrap_X for each
# name here.
REDIS_WRAP := pl__os_net_connect_tcp pl__os_net_connect_unix \
	pl__os_net_send pl__os_net_recv redisFormatCommandArgv redisReaderGetReply \
	poll pipe2 pthread_create
$(BUILD)/tests/redis/test_redis_wrap: WRAP = $(foreach s,$(REDIS_WRAP),-Wl,--wrap=$(s))

$(BUILD)/tests/redis/test_%: tests/redis/test_%.c $(REDIS_TEST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itests/redis -o $@ $< tests/redis/redis_testutil.c \
		$(TEST_HELPERS) $(STATIC) $(WRAP) -lcmocka $(LIBS)

$(BUILD)/tests/redis/pl_redis_cli: tests/redis/pl_redis_cli.c core/include/portalocker.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Icore/include -o $@ $< $(STATIC) $(LIBS)

$(BUILD)/bench/bench_redis: tests/bench/bench_redis.c core/include/portalocker.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Icore/include -o $@ $< $(STATIC) $(LIBS)

# ---- bench and demo ---------------------------------------------------------

# The bench also measures the Python binding against the reference.
bench: setup
	$(MAKE) lib python-binding
	bash tests/bench/run.sh

# The file-lock bench (tests/bench/run.sh builds it), linked statically.
$(BUILD)/bench/bench_file: tests/bench/bench_file.c core/include/portalocker.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Icore/include -o $@ $< $(STATIC) $(LIBS)

# The demo runs a C, a Python, a Ruby and a Lua process side by side.
demo: setup
	$(MAKE) lib bindings
	bash ci/demo.sh

$(BUILD)/examples/polyglot-worker: examples/polyglot/worker.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -Icore/include -o $@ $< -L$(BUILD) -lportalocker -Wl,-rpath,'$$ORIGIN/..'

$(BUILD)/examples/%: examples/%.c $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -Icore/include -o $@ $< -L$(BUILD) -lportalocker -Wl,-rpath,'$$ORIGIN/..'

clean:
	rm -rf $(BUILD)

# ---- hardening ----------------------------------------------------------------
# Sanitizers, valgrind, fuzzing, static analysis and the ABI baseline; the
# scripts in ci/hardening/ do the work, ci/tests.d/hardening.sh runs them
# from `make test` (the fuzz targets: ci/tests.d/fuzz.sh). Sanitizer builds reuse the rules above with another BUILD
# and EXTRA_CFLAGS (static library and cmocka binaries only: a sanitized
# shared library cannot link with --no-undefined), e.g.
#   make BUILD=build/asan CC=gcc EXTRA_CFLAGS='-fsanitize=address' hardening-bins
.PHONY: hardening-bins check-sanitize check-valgrind check-fuzz check-static \
	check-abi abi-update check-hardening
hardening-bins: $(STATIC) $(TEST_BINS) $(REDIS_TEST_BINS)
check-sanitize:
	bash ci/hardening/sanitize.sh
check-valgrind:
	bash ci/hardening/valgrind.sh
check-fuzz:
	bash ci/hardening/fuzz.sh
check-static:
	bash ci/hardening/static.sh
check-abi: $(SHARED)
	bash ci/hardening/abi.sh check
# Accept the current ABI as the new baseline (after adding symbols on purpose).
abi-update: $(SHARED)
	bash ci/hardening/abi.sh update
check-hardening:
	bash ci/tests.d/hardening.sh && bash ci/tests.d/fuzz.sh

# ---- Windows ----------------------------------------------------------------
# `make windows`: the core cross-built with Debian's mingw-w64 into
# build/win/: libportalocker-1.dll, its import library libportalocker.dll.a
# and the static libportalocker.a (programs linking it define PL_STATIC).
# Sources, flags and libraries come from core/build.mk (PL_SRC_DIRS_win,
# PL_SRC_EXCLUDE_win, PL_LIBS_win); cJSON (and cmocka for the tests) are
# cross-built from Debian's source packages by ci/win/deps.sh into
# build/win/deps. ci/tests.d/windows.sh runs the suites under wine.
WIN_CC ?= x86_64-w64-mingw32-gcc
WIN_AR ?= x86_64-w64-mingw32-ar
WIN_BUILD := $(BUILD)/win
WIN_DEPS := $(WIN_BUILD)/deps
WIN_SRCS := $(filter-out $(wildcard $(PL_SRC_EXCLUDE_win)),\
	$(sort $(foreach d,$(PL_SRC_DIRS_win),$(wildcard $(d)/*.c))))
WIN_OBJS := $(patsubst core/src/%.c,$(WIN_BUILD)/obj/%.o,$(WIN_SRCS))
WIN_HDRS := $(sort $(foreach d,$(PL_INCLUDE_DIRS) $(PL_SRC_DIRS_win),$(wildcard $(d)/*.h)))
# Windows 7 is the oldest API level the calls need (GetTickCount64,
# InitOnceExecuteOnce, slim reader/writer locks); mingw's own stdio: C99
# printf formats (%zu, %lld) on every CRT.
WIN_CFLAGS := $(filter-out -fvisibility=hidden,$(PL_CORE_CFLAGS)) -D_WIN32_WINNT=0x0601 -D__USE_MINGW_ANSI_STDIO=1 \
	$(OPT) $(WARN) $(INCLUDES) -I$(WIN_DEPS)/include $(EXTRA_CFLAGS)
WIN_LIBS := -L$(WIN_DEPS)/lib $(addprefix -l,$(PL_LIBS_win))
WIN_DLL := $(WIN_BUILD)/libportalocker-$(SOVERSION).dll
WIN_IMPLIB := $(WIN_BUILD)/libportalocker.dll.a
WIN_STATIC := $(WIN_BUILD)/libportalocker.a

.PHONY: windows win-deps
windows: win-deps
	$(MAKE) $(WIN_DLL) $(WIN_STATIC)

win-deps:
	bash ci/win/deps.sh

$(WIN_BUILD)/obj/%.o: core/src/%.c $(WIN_HDRS) core/build.mk
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CFLAGS) -c $< -o $@

# Only what PL_EXPORT marks is exported (dllexport); libgcc is linked in,
# so the DLL needs nothing beyond the system's DLLs and the CRT.
$(WIN_DLL): $(WIN_OBJS) $(WIN_DEPS)/.stamp
	$(WIN_CC) -shared -static-libgcc -o $@ -Wl,--out-implib,$(WIN_IMPLIB) \
		$(WIN_OBJS) $(WIN_LIBS)

$(WIN_STATIC): $(WIN_OBJS)
	rm -f $@
	$(WIN_AR) rcs $@ $(WIN_OBJS)

# The Windows suites (ci/tests.d/windows.sh runs them under wine):
# tests/win/test_*.c with the Windows fixtures (tests/win/winutil.c) and
# pl_win_helper.exe, the second process that replaces fork(2). They link
# the DLL through its import library (the exports under test), which is
# copied next to them; cmocka is Debian's, cross-built (ci/win/deps.sh).
WIN_TEST_DIR := $(WIN_BUILD)/tests
# The two fault suites link the static library instead (their rules are
# below).
WIN_FAULT_SRC := tests/win/test_platform_faults.c
WIN_WIN32_FAULT_SRC := tests/win/test_win32_faults.c
WIN_TEST_SRCS := $(filter-out $(WIN_FAULT_SRC) $(WIN_WIN32_FAULT_SRC),\
	$(sort $(wildcard tests/win/test_*.c)))
WIN_TEST_BINS := $(patsubst tests/win/%.c,$(WIN_TEST_DIR)/%.exe,$(WIN_TEST_SRCS))
WIN_TEST_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Wno-missing-prototypes -D__USE_MINGW_ANSI_STDIO=1 \
	-Icore/include -Itests/unit/helpers -Itests/win -I$(WIN_DEPS)/include $(EXTRA_CFLAGS)

# The shared suites of tests/unit that also run on Windows (their fork,
# signal, symlink and /proc tests compiled out there, each with its
# reason), built with tests/win/posix_shim.h and the Windows fixtures.
# Not here: test_faults (-Wl,--wrap cannot replace DLL imports: the
# Windows fault suite is tests/win/test_platform_faults.c, below) and
# the suites that are all processes and signals (tests/win covers those).
# test_redis_url runs with its unix:// and rediss:// cases expecting
# PL_ERR_UNSUPPORTED (no unix sockets, no TLS in that build).
WIN_UNIT_SUITES := smoke errors rlock threads bad_input open_atomic lock pidfile_lock temporary_lock semaphore fd_lock cancel redis_url
WIN_UNIT_BINS := $(patsubst %,$(WIN_TEST_DIR)/test_%.exe,$(WIN_UNIT_SUITES))

.PHONY: windows-tests
windows-tests: windows
	$(MAKE) $(WIN_TEST_BINS) $(WIN_UNIT_BINS) $(WIN_TEST_DIR)/pl_win_helper.exe \
		$(WIN_TEST_DIR)/$(notdir $(WIN_DLL)) $(WIN_FAULT_BIN) $(WIN_WIN32_FAULT_BIN)

# Fault injection on Windows: the core's system calls are DLL imports,
# which -Wl,--wrap cannot replace, so the fault suite links the static
# library and wraps the core's own platform functions (platform.h) that
# the portable files call: tests/win/test_platform_faults.c defines a
# __wrap_X for each name here.
WIN_FAULT_WRAP := pl__os_open pl__os_close pl__os_check_regular pl__os_fd_id \
	pl__os_path_id pl__os_truncate pl__os_clear_append pl__os_write_all pl__os_fsync \
	pl__os_unlink pl__os_link pl__os_rename pl__os_exists pl__os_make_parents \
	pl__os_make_temp pl__os_lock pl__os_unlock pl__os_poll pl__os_wake_open \
	pl__os_waiter_open pl__os_pipe pl__os_thread_create pl__os_net_connect_tcp \
	pl__os_net_send pl__os_net_recv
WIN_FAULT_BIN := $(WIN_TEST_DIR)/test_platform_faults.exe
$(WIN_FAULT_BIN): $(WIN_FAULT_SRC) tests/win/winutil.c tests/win/winutil.h tests/win/fault_checks.h tests/win/fault_table.h \
		tests/unit/helpers/testutil.h core/include/portalocker.h core/src/platform.h \
		$(WIN_STATIC)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_TEST_CFLAGS) -DPL_STATIC -Icore/src -static-libgcc -o $@ $< \
		tests/win/winutil.c $(foreach s,$(WIN_FAULT_WRAP),-Wl,--wrap=$(s)) \
		$(WIN_STATIC) $(WIN_LIBS) $(WIN_DEPS)/lib/libcmocka-static.a

# One level down: the Win32, CRT and Winsock calls of the platform files.
# mingw-w64 calls a DLL's function through its import pointer __imp_X,
# which --wrap redirects as well; tests/win/test_win32_faults.c defines
# each __wrap___imp_X (and __wrap_BCryptGenRandom, declared without
# dllimport).
WIN_WIN32_WRAP := __imp_CreateFileW __imp__open_osfhandle __imp_GetFileInformationByHandle \
	__imp_DuplicateHandle __imp__dup2 __imp__write __imp_FlushFileBuffers __imp_SetEndOfFile \
	__imp_DeleteFileW __imp_CreateHardLinkW __imp_MoveFileExW __imp_LockFileEx \
	__imp_UnlockFileEx __imp_FindFirstChangeNotificationW __imp_FindNextChangeNotification \
	__imp_GetFinalPathNameByHandleW __imp_CreateEventW __imp_WaitForMultipleObjects \
	__imp_CreateDirectoryW __imp__beginthreadex BCryptGenRandom __imp_socket \
	__imp_WSACreateEvent __imp_WSAEventSelect __imp_connect __imp_getaddrinfo __imp_send \
	__imp_recv __imp_RtlGetLastNtStatus
WIN_WIN32_FAULT_BIN := $(WIN_TEST_DIR)/test_win32_faults.exe
$(WIN_WIN32_FAULT_BIN): $(WIN_WIN32_FAULT_SRC) tests/win/winutil.c tests/win/winutil.h tests/win/fault_checks.h tests/win/fault_table.h \
		tests/unit/helpers/testutil.h core/include/portalocker.h $(WIN_STATIC)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_TEST_CFLAGS) -DPL_STATIC -static-libgcc -o $@ $< \
		tests/win/winutil.c $(foreach s,$(WIN_WIN32_WRAP),-Wl,--wrap=$(s)) \
		$(WIN_STATIC) $(WIN_LIBS) $(WIN_DEPS)/lib/libcmocka-static.a

# winpthreads linked in statically (test_threads uses POSIX threads).
$(WIN_UNIT_BINS): $(WIN_TEST_DIR)/test_%.exe: tests/unit/test_%.c tests/win/winutil.c \
		tests/win/winutil.h tests/win/posix_shim.h tests/unit/helpers/testutil.h \
		core/include/portalocker.h $(WIN_DLL)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_TEST_CFLAGS) -include tests/win/posix_shim.h -Itests/unit -static-libgcc \
		-o $@ $< tests/win/winutil.c $(WIN_IMPLIB) $(WIN_DEPS)/lib/libcmocka-static.a \
		-Wl,-Bstatic -lpthread -Wl,-Bdynamic

$(WIN_TEST_DIR)/$(notdir $(WIN_DLL)): $(WIN_DLL)
	@mkdir -p $(dir $@)
	cp $< $@

$(WIN_TEST_DIR)/%.exe: tests/win/%.c tests/win/winutil.c tests/win/winutil.h \
		tests/unit/helpers/testutil.h core/include/portalocker.h $(WIN_DLL)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_TEST_CFLAGS) -static-libgcc -o $@ $< tests/win/winutil.c \
		$(WIN_IMPLIB) $(WIN_DEPS)/lib/libcmocka-static.a

$(WIN_TEST_DIR)/pl_win_helper.exe: tests/win/pl_win_helper.c core/include/portalocker.h $(WIN_DLL)
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_TEST_CFLAGS) -static-libgcc -o $@ $< $(WIN_IMPLIB)

# The Lua binding for Windows: build/win/lua/portalocker_c.dll (SWIG's
# wrapper, generated here, compiled with mingw-w64 against the static
# library and Lua 5.4's lua54.dll, cross-built by ci/win/deps.sh) and
# portalocker.lua, next to lua.exe and lua54.dll so that wine runs
# `lua.exe` there with `require "portalocker"` working.
WIN_LUA_DIR := $(WIN_BUILD)/lua
.PHONY: windows-lua
windows-lua: windows
	$(MAKE) $(WIN_LUA_DIR)/.built

$(WIN_LUA_DIR)/.built: $(BINDING_DEPS) $(LUA_SRCS) $(WIN_STATIC)
	@mkdir -p $(WIN_BUILD)/swig $(WIN_LUA_DIR)
	$(SWIG) $(PL_SWIG_lua) $(SWIG_INCLUDES) \
		-o $(WIN_BUILD)/swig/portalocker_lua_wrap.c bindings/portalocker.i
	$(WIN_CC) -std=gnu11 $(OPT) -shared -static-libgcc -Wall -Wno-unused-parameter \
		-DPL_STATIC $(SWIG_INCLUDES) -I$(WIN_DEPS)/lua/include \
		-o $(WIN_LUA_DIR)/portalocker_c.dll $(WIN_BUILD)/swig/portalocker_lua_wrap.c \
		$(WIN_STATIC) $(WIN_LIBS) $(WIN_DEPS)/lua/liblua54.dll.a
	cp $(LUA_SRCS) $(WIN_DEPS)/lua/lua.exe $(WIN_DEPS)/lua/lua54.dll $(WIN_LUA_DIR)/
	touch $@

# The Python binding for Windows: build/win/python-pkg/cportalocker/ (the
# pure-Python layer and _portalocker_c.pyd) for python.org's CPython 3.13
# for Windows (ci/win/python.sh fetches it from Maven Central). That
# Python is on the UCRT, so the extension and the core compiled into it
# are too (ucrt.specs from ci/win/deps.sh): descriptors must be the CRT's
# that Python uses.
WIN_PY_HOME ?= $(WIN_BUILD)/python/org/bytedeco/cpython/windows-x86_64
WIN_UCRT := -specs=$(WIN_DEPS)/ucrt.specs
WIN_UCRT_OBJS := $(patsubst core/src/%.c,$(WIN_BUILD)/ucrt/obj/%.o,$(WIN_SRCS))
WIN_PY_PKG := $(WIN_BUILD)/python-pkg/cportalocker
.PHONY: windows-python
windows-python: win-deps
	$(MAKE) $(WIN_PY_PKG)/.built

$(WIN_BUILD)/ucrt/obj/%.o: core/src/%.c $(WIN_HDRS) core/build.mk
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_UCRT) $(WIN_CFLAGS) -c $< -o $@

$(WIN_PY_PKG)/.built: $(BINDING_DEPS) $(PY_SRCS) $(WIN_UCRT_OBJS)
	@test -f "$(WIN_PY_HOME)/include/Python.h" || { echo "no Windows Python in $(WIN_PY_HOME) (bash ci/win/python.sh)"; exit 1; }
	@mkdir -p $(WIN_BUILD)/swig $(WIN_PY_PKG)
	$(SWIG) $(PL_SWIG_python) $(SWIG_INCLUDES) -outdir $(WIN_PY_PKG) \
		-o $(WIN_BUILD)/swig/portalocker_python_wrap.c bindings/portalocker.i
	$(WIN_CC) $(WIN_UCRT) -std=gnu11 $(OPT) -shared -static-libgcc -Wall -Wno-unused-parameter \
		-DPL_STATIC $(SWIG_INCLUDES) -I$(WIN_PY_HOME)/include \
		-o $(WIN_PY_PKG)/_portalocker_c.pyd $(WIN_BUILD)/swig/portalocker_python_wrap.c \
		$(WIN_UCRT_OBJS) -L$(WIN_DEPS)/ucrt $(addprefix -l,$(PL_LIBS_win)) \
		$(WIN_PY_HOME)/python313.dll
	cp $(PY_SRCS) $(WIN_PY_PKG)/
	touch $@

# The conformance agents for Windows (tests/conformance/run.py plays the
# file-lock scenarios with them under wine: win-c, win-python, win-ref,
# win-lua): agent_c.exe from the same tests/conformance/agents/agent.c,
# linked against the DLL (copied next to it) and Debian's cJSON
# cross-built; Debian's lua-cjson (cjson.dll, ci/win/deps.sh) next to
# lua.exe and the Lua binding for agent.lua. The Python agents need
# `make windows-python` (cportalocker) and the reference copied to
# build/win/refpkg (ci/tests.d/windows.sh does both).
WIN_CONF_DIR := $(WIN_BUILD)/conformance
.PHONY: windows-conformance-agents
windows-conformance-agents: windows-lua
	$(MAKE) $(WIN_CONF_DIR)/agent_c.exe $(WIN_CONF_DIR)/$(notdir $(WIN_DLL)) $(WIN_LUA_DIR)/cjson.dll

$(WIN_CONF_DIR)/agent_c.exe: tests/conformance/agents/agent.c core/include/portalocker.h $(WIN_DLL)
	@mkdir -p $(dir $@)
	$(WIN_CC) -std=gnu11 -O2 -g $(WARN) -D__USE_MINGW_ANSI_STDIO=1 -DCJSON_HIDE_SYMBOLS \
		-Icore/include -I$(WIN_DEPS)/include -static-libgcc -o $@ $< $(WIN_IMPLIB) $(WIN_DEPS)/lib/libcjson.a

$(WIN_CONF_DIR)/$(notdir $(WIN_DLL)): $(WIN_DLL)
	@mkdir -p $(dir $@)
	cp $< $@

$(WIN_LUA_DIR)/cjson.dll: $(WIN_DEPS)/lua/cjson.dll
	@mkdir -p $(dir $@)
	cp $< $@

# The Ruby binding for Windows: build/win/ruby-binding/ (bindings/ruby/lib
# and portalocker/native.so, SWIG's wrapper compiled with mingw-w64
# against the static library and the Windows Ruby 3.1 that ci/win/ruby.sh
# cross-builds from Debian's source into build/win/ruby; on msvcrt, as
# that Ruby and the core are, so descriptors mean the same to both).
# Its include directories, flags and DLL come from that Ruby's own
# rbconfig.rb, read by the native ruby (the same 3.1). `make
# test-windows-ruby` (ci/win/test-ruby.sh, optional: not in `make test`)
# builds everything and runs tests/ruby under wine.
WIN_RUBY_HOME ?= $(WIN_BUILD)/ruby
WIN_RUBY_DIR := $(WIN_BUILD)/ruby-binding
WIN_RUBY_CFLAGS = $(shell $(RUBY) --disable-gems -e 'load Dir[File.join(ARGV[0], "lib/ruby/*/*-mingw32/rbconfig.rb")].first; \
	c = RbConfig::CONFIG; print "-I#{c["rubyhdrdir"]} -I#{c["rubyarchhdrdir"]} #{c["CPPFLAGS"]}"' $(WIN_RUBY_HOME))
WIN_RUBY_LIBS = $(shell $(RUBY) --disable-gems -e 'load Dir[File.join(ARGV[0], "lib/ruby/*/*-mingw32/rbconfig.rb")].first; \
	c = RbConfig::CONFIG; print "-L#{c["libdir"]} #{c["LIBRUBYARG_SHARED"]}"' $(WIN_RUBY_HOME))
.PHONY: windows-ruby test-windows-ruby
windows-ruby: windows
	@test -f "$(WIN_RUBY_HOME)/.stamp" || { echo "no Windows Ruby in $(WIN_RUBY_HOME) (bash ci/win/ruby.sh)"; exit 1; }
	$(MAKE) $(WIN_RUBY_DIR)/.built

$(WIN_RUBY_DIR)/.built: $(BINDING_DEPS) $(RUBY_SRCS) $(WIN_STATIC) $(WIN_RUBY_HOME)/.stamp
	@mkdir -p $(WIN_BUILD)/swig $(WIN_RUBY_DIR)/portalocker
	$(SWIG) $(PL_SWIG_ruby) $(SWIG_INCLUDES) \
		-o $(WIN_BUILD)/swig/portalocker_ruby_wrap.c bindings/portalocker.i
	$(WIN_CC) -std=gnu11 $(OPT) -shared -static-libgcc -Wall -Wno-unused-parameter \
		-DPL_STATIC $(SWIG_INCLUDES) $(WIN_RUBY_CFLAGS) \
		-o $(WIN_RUBY_DIR)/portalocker/native.so $(WIN_BUILD)/swig/portalocker_ruby_wrap.c \
		$(WIN_STATIC) $(WIN_LIBS) $(WIN_RUBY_LIBS)
	cp -r bindings/ruby/lib/. $(WIN_RUBY_DIR)/
	touch $@

test-windows-ruby:
	bash ci/win/test-ruby.sh

# ---- conformance suite --------------------------------------------------------
# The same multi-process scenarios (tests/conformance/scenarios/*.json) played
# by one agent per binding (C, Python, Ruby, Lua), by the reference
# portalocker and by Node, Go, Java and Rust over the C ABI alone, each
# language alone and mixed; prints the matrix and
# `N passed, N failed`. `make test` runs it through ci/tests.d/conformance.sh,
# which builds the bindings, the C agent and the FFI agents first.
# The C agent links the shared library (the ABI other runtimes load) and cJSON.
.PHONY: conformance conformance-agent conformance-ffi-agents
conformance-agent: $(BUILD)/conformance/agent_c
$(BUILD)/conformance/agent_c: tests/conformance/agents/agent.c core/include/portalocker.h $(SHARED)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -Icore/include -o $@ $< $(SHARED) -lcjson \
		-Wl,-rpath,'$$ORIGIN/..'
# The agents that load the shared library by path through an FFI library
# (Node koffi, Go purego, Java JNA, Rust libloading): pinned registry
# dependencies, built into build/conformance by ci/ffi-agents.sh.
conformance-ffi-agents: $(SHARED)
	bash ci/ffi-agents.sh
conformance: setup
	bash ci/tests.d/conformance.sh
