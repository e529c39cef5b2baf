#!/usr/bin/env bash
# Runs every test: unit and engine tests, the C ABI tests (Rust through the cryptoki crate, and a
# C program against include/), known-answer vectors, every mechanism through the module, the CLI
# tests, the fuzz corpus replay, a short benchmark run, and the interoperability tests with real
# clients (pkcs11-tool, OpenSSL, GnuTLS, p11-kit, Java) against the built module.
# The last line sums up every test binary: `tests: N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --all-targets
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets --no-fail-fast 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
