#!/usr/bin/env bash
# The libFuzzer targets for every parser of outside input
# (ci/hardening/fuzz.sh: tests/fuzz/fuzz_*.c from their seed corpora,
# PL_FUZZ_SECONDS each, built under build/fuzz only). Called by
# ci/run-tests.sh in its second lane and by `make check-hardening`.
set -uo pipefail
cd "$(dirname "$0")/../.."
exec bash ci/hardening/fuzz.sh "$@"
