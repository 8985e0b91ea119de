# Fetch Debian source packages (`apt-get source`) without touching the
# system's apt: a private apt state under a directory of the caller's, with
# deb-src twins of the system's own entries (same mirror and suites,
# bookworm here). Sourced, not run.

# pl_debian_sources DIR OUT PKG...: the unpacked sources land in OUT;
# apt's state and log in DIR. Returns non-zero (log printed) on failure.
pl_debian_sources() {
  local dir out f
  mkdir -p "$1" "$2"
  dir=$(cd "$1" && pwd) out=$(cd "$2" && pwd)
  shift 2
  command -v apt-get >/dev/null && command -v dpkg-source >/dev/null ||
    { echo "apt-get source needs apt and dpkg-dev"; return 1; }
  local apt=$dir/apt
  rm -rf "$apt"
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$out"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    if [ -f "$f" ]; then sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f"; fi
  done >"$apt/sources.list.d/src.list"
  for f in /etc/apt/sources.list.d/*.sources; do
    if [ -f "$f" ]; then sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt/sources.list.d/$(basename "$f")"; fi
  done
  cat >"$apt/apt.conf" <<EOC
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$apt/sources.list.d";
Dir::State::Lists "$apt/lists";
Dir::State::status "/dev/null";
Dir::Cache "$apt/cache";
Acquire::Languages "none";
Acquire::Retries "3";
APT::Sandbox::User "$(id -un)";
EOC
  if APT_CONFIG=$apt/apt.conf apt-get -q update >"$dir/apt.log" 2>&1 &&
    (cd "$out" && APT_CONFIG=$apt/apt.conf apt-get -q source "$@") >>"$dir/apt.log" 2>&1; then
    rm -rf "$apt/lists" "$apt/cache"
    return 0
  fi
  cat "$dir/apt.log"
  return 1
}
