#!/usr/bin/env bash
# The Ruby and Lua API references: builds both into build/docs/ (YARD:
# build/docs/ruby, LDoc: build/docs/lua) and fails on any warning or any
# public item without a doc comment:
#   Ruby: `yard doc --fail-on-warning` (unknown tags, @param names that are
#         no parameter, unresolved links), `yard stats --list-undoc` must
#         say 100.00% documented, and ci/docs/yard_matches_rbs.rb checks
#         that the comments name the parameters and types sig/ declares.
#   Lua:  `ldoc --fatalwarnings` (an undocumented parameter, a comment
#         LDoc cannot place), and ci/docs/lua_doc_coverage.lua checks
#         that every public name of the loaded module is documented (with
#         a @usage example for functions and classes), and nothing else.
# Needs yard and lua-ldoc (ci/setup.sh); builds the Lua binding if needed.
set -uo pipefail
cd "$(dirname "$0")/../.."

. ci/lib/require-tools.sh
require_tools docs yard ldoc ruby lua5.4
out=$(mktemp -d "${TMPDIR:-/tmp}/pl-docs.XXXXXX")
trap 'rm -rf "$out"' EXIT
failed=()

# Ruby (bindings/ruby/.yardopts: lib/**/*.rb, the README, HTML into
# build/docs/ruby; YARD reads the source, no build needed).
if ! (cd bindings/ruby && yard doc --fail-on-warning) >"$out/yard.log" 2>&1; then
  cat "$out/yard.log"; failed+=("yard doc (warnings)")
fi
(cd bindings/ruby && yard stats --list-undoc) >"$out/stats.log" 2>&1
if ! grep -q '^ *100.00% documented' "$out/stats.log"; then
  cat "$out/stats.log"; failed+=("yard stats (undocumented objects)")
fi
ruby ci/docs/yard_matches_rbs.rb bindings/ruby/lib bindings/ruby/sig || failed+=("YARD comments (descriptions, sig/)")

# Lua (bindings/lua/config.ld: HTML into build/docs/lua).
if ! (cd bindings/lua && ldoc -c config.ld --fatalwarnings portalocker.lua) >"$out/ldoc.log" 2>&1; then
  cat "$out/ldoc.log"; failed+=("ldoc (warnings)")
fi
if ! (cd bindings/lua && LUA_PATH="$PWD/../../ci/docs/?.lua;;" \
      ldoc -c config.ld --filter ldoc_items.list portalocker.lua) >"$out/items.txt" 2>"$out/items.err"; then
  cat "$out/items.err"; failed+=("ldoc (item list)")
fi
if "${MAKE:-make}" -s lua-binding >"$out/build.log" 2>&1; then
  LUA_PATH="$PWD/build/lua/?.lua;;" LUA_CPATH="$PWD/build/lua/?.so;;" \
    lua5.4 ci/docs/lua_doc_coverage.lua "$out/items.txt" || failed+=("LDoc vs the module")
else
  cat "$out/build.log"; failed+=("the Lua binding's build")
fi

if [ ${#failed[@]} -ne 0 ]; then
  echo "docs: FAILED: ${failed[*]}"
  exit 1
fi
echo "docs: Ruby (build/docs/ruby/index.html) and Lua (build/docs/lua/index.html) references built, every public item documented"
