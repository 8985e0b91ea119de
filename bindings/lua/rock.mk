# The Lua rock's build, run by luarocks through the rockspec beside this
# file (from the root of the rock's source archive, or of a checkout for
# `luarocks make`): portalocker_c.so is the SWIG wrapper and the C core's
# sources compiled in one go with core/build.mk's settings, installed with
# portalocker.lua. The source archive (`make lua-rock`) ships the wrapper as
# bindings/lua/portalocker_lua_wrap.c, so installing the rock needs no swig;
# in a checkout swig generates it into build/rock/.
#
# Set by the rockspec: CC, CFLAGS, LUA_CFLAGS, HIREDIS_INCDIR/LIBDIR,
# CJSON_INCDIR/LIBDIR, OPENSSL_INCDIR/LIBDIR (luarocks' external dependencies), LUA_LIBDIR,
# LUA_SHAREDIR.
include core/build.mk

CC ?= cc
CFLAGS ?= -O2
PL_PLATFORM ?= unix
OUT := build/rock
CORE_DIRS := $(PL_SRC_DIRS_$(PL_PLATFORM))
CORE_SRCS := $(sort $(foreach d,$(CORE_DIRS),$(wildcard $(d)/*.c)))
CORE_HDRS := $(sort $(foreach d,$(PL_INCLUDE_DIRS) $(CORE_DIRS),$(wildcard $(d)/*.h)))
SHIPPED_WRAP := bindings/lua/portalocker_lua_wrap.c
WRAP := $(if $(wildcard $(SHIPPED_WRAP)),$(SHIPPED_WRAP),$(OUT)/portalocker_lua_wrap.c)
DEP_CFLAGS := $(addprefix -I,$(HIREDIS_INCDIR) $(CJSON_INCDIR) $(OPENSSL_INCDIR))
DEP_LDFLAGS := $(addprefix -L,$(HIREDIS_LIBDIR) $(CJSON_LIBDIR) $(OPENSSL_LIBDIR))
MODULE := $(OUT)/portalocker_c.so

.PHONY: all install
all: $(MODULE)

$(OUT)/portalocker_lua_wrap.c: bindings/portalocker.i $(CORE_HDRS) core/build.mk
	@mkdir -p $(OUT)
	swig $(PL_SWIG_lua) $(addprefix -I,$(PL_SWIG_INCLUDE_DIRS)) -o $@ $<

# -D_GNU_SOURCE: fopencookie (file handles over the core's descriptors).
# The wrapper is SWIG's code: no unused-parameter noise; never -Werror.
$(MODULE): $(WRAP) $(CORE_SRCS) $(CORE_HDRS) core/build.mk
	@mkdir -p $(OUT)
	$(CC) $(CFLAGS) $(PL_CORE_CFLAGS) -fPIC -shared -D_GNU_SOURCE -Wno-unused-parameter \
		$(addprefix -I,$(PL_INCLUDE_DIRS)) $(LUA_CFLAGS) $(DEP_CFLAGS) -o $@ \
		$(WRAP) $(CORE_SRCS) $(DEP_LDFLAGS) $(addprefix -l,$(PL_LIBS))

install: $(MODULE)
	install -d $(DESTDIR)$(LUA_LIBDIR) $(DESTDIR)$(LUA_SHAREDIR)
	install -m 755 $(MODULE) $(DESTDIR)$(LUA_LIBDIR)/
	install -m 644 bindings/lua/portalocker.lua $(DESTDIR)$(LUA_SHAREDIR)/
