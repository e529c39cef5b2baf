#!/usr/bin/env bash
# The main job, end to end, on the embedded default: build the module, create a store, unseal it,
# initialise a token, then generate and use keys through the real libcustos_pkcs11.so, from a
# Rust application (examples/quickstart.rs) and from OpenSC's pkcs11-tool, with OpenSSL
# verifying a signature made inside the token.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo build --release --lib --bin custos --example quickstart
MODULE="$PWD/target/release/libcustos_pkcs11.so"
CUSTOS="$PWD/target/release/custos"
WORK="${CUSTOS_DEMO_DIR:-$(mktemp -d)}"
STORE="$WORK/store"
step() { printf '\n== %s\n' "$*"; }

step "create a development store (1-of-1 quorum, share kept beside the store)"
"$CUSTOS" init --store "$STORE" --dev
step "initialise the token in slot 0"
"$CUSTOS" token init --store "$STORE" --slot 0 --label demo --so-pin 12345678 --pin 1234
export CUSTOS_STORE="$STORE"

step "an application uses the module: keys generated and used inside the token"
target/release/examples/quickstart "$MODULE" 0 1234

step "pkcs11-tool sees the same token and keys"
pkcs11-tool --module "$MODULE" --list-slots
pkcs11-tool --module "$MODULE" --login --pin 1234 --list-objects

step "pkcs11-tool signs with the token key; OpenSSL verifies the signature"
printf 'hello from the demo\n' > "$WORK/data.txt"
pkcs11-tool --module "$MODULE" --login --pin 1234 --sign --id 717331 --mechanism ECDSA-SHA256 \
  --signature-format openssl -i "$WORK/data.txt" -o "$WORK/data.sig"
pkcs11-tool --module "$MODULE" --read-object --type pubkey --id 717331 -o "$WORK/pub.der"
openssl pkey -pubin -inform DER -in "$WORK/pub.der" -out "$WORK/pub.pem"
openssl dgst -sha256 -verify "$WORK/pub.pem" -signature "$WORK/data.sig" "$WORK/data.txt"

step "store status, a full verification, and the audit trail of what the demo did"
"$CUSTOS" status --store "$STORE"
"$CUSTOS" verify --store "$STORE"
"$CUSTOS" audit show --store "$STORE" --last 8
printf '\ndemo finished: store in %s\n' "$STORE"
