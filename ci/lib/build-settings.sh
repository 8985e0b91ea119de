# The core's build settings from core/build.mk, for the shell scripts that
# compile the core or code against it outside the Makefile, and for the
# packages' stage scripts (bindings/*/stage-*.sh) (sourced, not
# run; from the repository root).

# A value of core/build.mk (`NAME = words`).
pl_setting() {
  sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" core/build.mk | sed 's/[[:space:]]*#.*//'
}

# The flags that compile the core's sources (no optimisation, no warnings).
pl_core_cflags() {
  local d flags
  flags=$(pl_setting PL_CORE_CFLAGS)
  for d in $(pl_setting PL_INCLUDE_DIRS); do flags="$flags -I$d"; done
  echo "$flags"
}

# -l flags of the core's dependencies.
pl_core_libs() {
  local l libs=""
  for l in $(pl_setting PL_LIBS); do libs="$libs -l$l"; done
  echo "${libs# }"
}

# The core's source files for a platform (default unix), without the ones
# its PL_SRC_EXCLUDE_<platform> globs name.
pl_core_sources() {
  local d f g skip
  for d in $(pl_setting "PL_SRC_DIRS_${1:-unix}"); do
    for f in "$d"/*.c; do
      skip=
      for g in $(pl_setting "PL_SRC_EXCLUDE_${1:-unix}"); do
        # shellcheck disable=SC2254  # the setting is a glob on purpose
        case $f in $g) skip=1 ;; esac
      done
      [ -n "$skip" ] || echo "$f"
    done
  done
}

# Copies what compiles the core into $1/core: its sources (with the
# platform directories), its headers and core/build.mk (the packages'
# build scripts read it). Used by the packages' stage scripts.
pl_stage_core() {
  mkdir -p "$1/core"
  cp -r core/src core/include core/build.mk "$1/core/"
}

# Runs SWIG on bindings/portalocker.i for language $1 (python, ruby, lua)
# with core/build.mk's arguments; the rest are swig's (-o FILE, -outdir D).
pl_swig() {
  local lang=$1 d args=()
  shift
  for d in $(pl_setting PL_SWIG_INCLUDE_DIRS); do args+=("-I$d"); done
  # shellcheck disable=SC2046  # the setting is a list of words
  swig $(pl_setting "PL_SWIG_$lang") "${args[@]}" "$@" bindings/portalocker.i
}
