# require_tools SUITE TOOL...: every TOOL on PATH, or the suite fails
# naming the first one missing (a missing tool is a failure, never a
# skip). Sourced by the ci/tests.d scripts.
require_tools() {
  local suite=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null ||
      { echo "$suite: $tool is not installed (run ci/setup.sh)"; exit 1; }
  done
}
