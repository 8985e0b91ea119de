#!/usr/bin/env bash
# Makes the Lua source rock into $1 (default build/lua-rock): stages the
# source archive portalocker-VERSION.tar.gz (LICENSE, CHANGELOG.md, the C
# core: core/src with its platform directories, core/include,
# core/build.mk; bindings/lua: portalocker.lua, rock.mk and the wrapper SWIG
# generates from bindings/portalocker.i) beside a copy of the rockspec and
# runs `luarocks pack` on it. Prints the .src.rock's path last.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/lua-rock}
# shellcheck source=../../ci/lib/build-settings.sh
. ci/lib/build-settings.sh
rocks=(bindings/lua/portalocker-*.rockspec)
[ ${#rocks[@]} -eq 1 ] || { echo "stage-rock: want one rockspec, found ${#rocks[@]}" >&2; exit 1; }
spec=$(basename "${rocks[0]}")
full=${spec#portalocker-}; full=${full%.rockspec}   # 1.0.0-1
version=${full%-*}
top=portalocker-$version
SRC=$OUT/$top

rm -rf "$OUT"
mkdir -p "$SRC/bindings/lua"
cp LICENSE CHANGELOG.md "$SRC/"
pl_stage_core "$SRC"
cp bindings/lua/portalocker.lua bindings/lua/rock.mk "${rocks[0]}" "$SRC/bindings/lua/"
pl_swig lua -o "$SRC/bindings/lua/portalocker_lua_wrap.c"
tar -C "$OUT" -czf "$OUT/$top.tar.gz" "$top"
# luarocks pack fetches the source URL from a directory of its own: pack a
# copy naming the archive by its absolute path, then put the rockspec as
# committed into the rock (installing a source rock never fetches: it
# uses the archive inside, found by the URL's file name).
abs=$(cd "$OUT" && pwd)
sed "s|url = \"file://$top.tar.gz\"|url = \"file://$abs/$top.tar.gz\"|" "${rocks[0]}" >"$OUT/$spec"
grep -q "file://$abs/" "$OUT/$spec" || { echo "stage-rock: $spec has no file://$top.tar.gz source URL" >&2; exit 1; }
(cd "$OUT" && luarocks --lua-version 5.4 pack "$spec" >&2)
rock=$abs/portalocker-$full.src.rock
[ -f "$rock" ] || { echo "stage-rock: luarocks pack made no $rock" >&2; exit 1; }
cp "${rocks[0]}" "$OUT/$spec"
(cd "$OUT" && zip -q "$rock" "$spec")
# The rock holds the rockspec and the archive with everything rock.mk uses.
listing=$(unzip -Z1 "$rock")
for f in "$spec" "$top.tar.gz"; do
  grep -qx "$f" <<<"$listing" || { echo "stage-rock: $f is not in $rock" >&2; exit 1; }
done
echo "$rock"
