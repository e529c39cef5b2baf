#!/usr/bin/env bash
# Runs every test: unit and engine tests, the C ABI tests (Rust through the cryptoki crate, and a
# C program against include/), the CLI tests, the fuzz corpus replay and the interoperability
# tests with real clients (pkcs11-tool, OpenSSL) against the built module.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --all-targets
cargo test --all-targets --no-fail-fast
cargo test --doc
