#!/usr/bin/env bash
# Supply-chain checks with cargo-deny against deny.toml: licences, banned crates, sources, and
# RustSec advisories. Installs cargo-deny (from crates.io) when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deny >/dev/null; then
  echo "supply-chain: installing cargo-deny (crates.io)"
  # A tool, not shipped code: built quickly rather than optimised fully.
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo install --locked --quiet cargo-deny@0.20.2
fi
cargo deny --log-level error check licenses bans sources
# The advisory database is a git repository on github.com. Where it cannot be fetched, the
# check cannot run: that is said plainly, and the other checks above still gate.
if git ls-remote --exit-code https://github.com/RustSec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny --log-level error check advisories
  echo "supply-chain: advisories checked against the RustSec database"
else
  echo "supply-chain: ADVISORIES NOT CHECKED: the RustSec advisory database (github.com) cannot be reached from this machine"
fi
echo "supply-chain: licenses, bans and sources ok"
