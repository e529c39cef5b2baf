#!/usr/bin/env bash
# Drives the real Custos PKCS#11 module with OpenSSL 3 through both of its PKCS#11 front ends:
# pkcs11-provider 1.0 (no quirks configured) and the libp11 engine 0.4.12. Every result is
# checked by plain OpenSSL (default provider only) with the exported public key:
#   key generation (openssl genpkey in the token, and pkcs11-tool), RSA 2048/3072, EC P-256/P-384,
#   Ed25519; public key export; signatures (RSA PKCS#1 v1.5, RSA-PSS, ECDSA, Ed25519); RSA
#   decryption (PKCS#1 v1.5, OAEP SHA-256); ECDH; storeutl listings; self-signed certificates,
#   CSRs and a small CA; TLS 1.2 and 1.3 servers and mutual TLS with keys in the token; the same
#   main operations through the engine. Each openssl process must exit in bounded time, without
#   a signal or a crash message.
#
# Environment:
#   MODULE  path to libcustos_pkcs11.so
#   CUSTOS  path to the custos binary
#   WORK    an empty scratch directory
#
# Needs openssl (Debian package openssl), pkcs11-provider, libengine-pkcs11-openssl, pkcs11-tool
# (opensc), rev (util-linux). Prints `ok N - ...` per check and ends with
# `interop openssl: N passed, 0 failed`.

set -euo pipefail
set -E

SUITE=openssl
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"

require_tool openssl openssl
require_tool pkcs11-tool opensc
require_tool timeout coreutils
require_tool rev util-linux
require_env MODULE CUSTOS WORK
[ -f "$MODULE" ] || die "MODULE=$MODULE does not exist (build the crate: cargo build)"
[ -x "$CUSTOS" ] || die "CUSTOS=$CUSTOS is not an executable (build the crate: cargo build)"
interop_init

MODULES_DIR=$(openssl version -m | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
ENGINES_DIR=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
PROVIDER_SO="$MODULES_DIR/pkcs11.so"
ENGINE_SO="$ENGINES_DIR/pkcs11.so"
[ -f "$PROVIDER_SO" ] ||
    die "$PROVIDER_SO is missing: install Debian package pkcs11-provider (apt-get install pkcs11-provider)"
[ -f "$ENGINE_SO" ] ||
    die "$ENGINE_SO is missing: install Debian package libengine-pkcs11-openssl (apt-get install libengine-pkcs11-openssl)"

SO_PIN=12345678
PIN=1234
# Seconds any one openssl or pkcs11-tool process may take before it counts as hung.
LIMIT=60

D="$WORK/files"
mkdir -p "$D"

unset CUSTOS_CONF CUSTOS_SHARES OPENSSL_CONF OPENSSL_ENGINES OPENSSL_MODULES
export CUSTOS_STORE="$WORK/store"
export CUSTOS_QUIET=1

# ---- configurations ----

printf '%s\n' "$PIN" >"$WORK/pin.txt"
PROV_CNF="$WORK/provider.cnf"
PROV_NOPIN_CNF="$WORK/provider-nopin.cnf"
ENG_CNF="$WORK/engine.cnf"
ENG_NOPIN_CNF="$WORK/engine-nopin.cnf"
PLAIN_CNF="$WORK/plain.cnf"
sed -e "s#@PROVIDER@#$PROVIDER_SO#" -e "s#@MODULE@#$MODULE#" -e "s#@PIN_FILE@#$WORK/pin.txt#" \
    "$HERE/openssl/provider.cnf.in" >"$PROV_CNF"
# The same without a PIN: keys are then named with `?pin-value=` in their URI.
grep -v '^pkcs11-module-token-pin' "$PROV_CNF" >"$PROV_NOPIN_CNF"
sed -e "s#@ENGINE@#$ENGINE_SO#" -e "s#@MODULE@#$MODULE#" -e "s#@PIN@#$PIN#" \
    "$HERE/openssl/engine.cnf.in" >"$ENG_CNF"
grep -v '^PIN = ' "$ENG_CNF" >"$ENG_NOPIN_CNF"
cp "$HERE/openssl/plain.cnf" "$PLAIN_CNF"

# ---- running openssl ----

# bounded CONF CMD ARGS...: runs CMD with OPENSSL_CONF=CONF, no stdin, at most $LIMIT seconds,
# printing its output. Fails on a non-zero exit; reports a hang (timeout), a death by signal or a
# crash message in the output as such (status 134, so that check_fails flags it too).
bounded() {
    local conf=$1 rc=0 out
    shift
    out=$(mktemp "$WORK/out.XXXXXX")
    OPENSSL_CONF=$conf timeout -k 5 "$LIMIT" "$@" >"$out" 2>&1 </dev/null || rc=$?
    cat "$out"
    if grep -qE 'Segmentation fault|core dumped|Aborted|double free|stack smashing|panicked' "$out"; then
        printf 'CRASH: %s printed a crash message\n' "$1"
        rc=134
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        printf 'HANG: %s did not exit within %ss\n' "$1" "$LIMIT"
        rc=134
    elif [ "$rc" -gt 128 ]; then
        printf 'CRASH: %s died of signal %d\n' "$1" $((rc - 128))
        rc=134
    fi
    rm -f "$out"
    return "$rc"
}
prov() { bounded "$PROV_CNF" openssl "$@"; }
prov_nopin() { bounded "$PROV_NOPIN_CNF" openssl "$@"; }
eng() { bounded "$ENG_CNF" openssl "$@"; }
plain() { bounded "$PLAIN_CNF" openssl "$@"; }
p11() { bounded "$PLAIN_CNF" pkcs11-tool --module "$MODULE" "$@"; }
p11u() { bounded "$PLAIN_CNF" pkcs11-tool --module "$MODULE" --login --pin "$PIN" "$@"; }

# Private key URIs. The provider takes the PIN from its configuration; the engine from its own.
T0="pkcs11:token=ossl"
T1="pkcs11:token=second"
priv() { printf '%s;object=%s;type=private' "$1" "$2"; }
pub() { printf '%s;object=%s;type=public' "$1" "$2"; }

# ---- store and tokens ----

check "custos init --dev" "$CUSTOS" init --store "$WORK/store" --dev
maybe_serve "$WORK/store"
check "custos token init slot 0 label ossl" \
    "$CUSTOS" token init --store "$WORK/store" --slot 0 --label ossl --so-pin "$SO_PIN" --pin "$PIN"
# Ed25519 keys live in a token of their own, "second": the libp11 engine 0.4.12 cannot enumerate a
# token that holds one (see the engine section), and the engine uses the token "ossl".
check "custos token init slot 1 label second" \
    "$CUSTOS" token init --store "$WORK/store" --slot 1 --label second --so-pin "$SO_PIN" --pin "$PIN"

check "the provider loads the module (openssl list -providers)" prov list -providers
providers=$LAST_LOG
check "pkcs11-provider is listed" contains "$providers" "PKCS#11 Provider"
check "both providers are active" count_is "$providers" '^ +status: active$' 2
check "the libp11 engine loads (openssl engine -t pkcs11)" eng engine -t -c pkcs11
check "the engine is available" contains "$LAST_LOG" "[ available ]"

# ---- key generation ----

# openssl genpkey creates the key pair inside the token (property query provider=pkcs11) and
# writes its pkcs11: URI as a PEM file.
check "openssl genpkey RSA 2048 in the token" \
    prov genpkey -propquery provider=pkcs11 -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -pkeyopt "pkcs11_uri:$T0;object=rsa2048;id=%01" -out "$D/rsa2048.uri.pem"
check "genpkey wrote a PKCS#11 URI, not key material" \
    contains "$D/rsa2048.uri.pem" "BEGIN PKCS#11 PROVIDER URI"
check "openssl genpkey EC P-256 in the token" \
    prov genpkey -propquery provider=pkcs11 -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt "pkcs11_uri:$T0;object=ec256;id=%03" -out "$D/ec256.uri.pem"
check "openssl genpkey Ed25519 in the token" \
    prov genpkey -propquery provider=pkcs11 -algorithm ED25519 \
    -pkeyopt "pkcs11_uri:$T1;object=ed25519;id=%05" -out "$D/ed25519.uri.pem"
check "openssl genpkey RSA 3072 in the token" \
    prov genpkey -propquery provider=pkcs11 -algorithm RSA -pkeyopt rsa_keygen_bits:3072 \
    -pkeyopt "pkcs11_uri:$T1;object=rsa3072-gen;id=%07" -out "$D/rsa3072-gen.uri.pem"
check "openssl genpkey EC P-384 in the token" \
    prov genpkey -propquery provider=pkcs11 -algorithm EC -pkeyopt ec_paramgen_curve:P-384 \
    -pkeyopt "pkcs11_uri:$T1;object=ec384-gen;id=%08" -out "$D/ec384-gen.uri.pem"
# pkcs11-provider 1.0 has no X25519 key management (genpkey: "unsupported ... X25519").
note "pkcs11-provider 1.0 cannot generate or use X25519 keys (no X25519 key management): not tested"

check "pkcs11-tool --keypairgen rsa:3072" \
    p11u --slot 0 --keypairgen --key-type rsa:3072 --id 02 --label rsa3072
check "pkcs11-tool --keypairgen EC:secp384r1 (sign, derive)" \
    p11u --slot 0 --keypairgen --key-type EC:secp384r1 --id 04 --label ec384 \
    --usage-sign --usage-derive
check "pkcs11-tool --keypairgen EC:edwards25519" \
    p11u --slot 1 --keypairgen --key-type EC:edwards25519 --id 06 --label ed25519-tool

check "pkcs11-tool lists the ossl token's objects" p11u --slot 0 --list-objects
objs=$LAST_LOG
check "ossl token: RSA 2048 public key" contains "$objs" "Public Key Object; RSA 2048 bits"
check "ossl token: RSA 3072 public key" contains "$objs" "Public Key Object; RSA 3072 bits"
check "ossl token: two EC private keys" count_is "$objs" '^Private Key Object; EC' 2
check "ossl token: P-256 key (secp256r1 params)" contains "$objs" "EC_PARAMS:  06082a8648ce3d030107"
check "ossl token: P-384 key (secp384r1 params)" contains "$objs" "EC_PARAMS:  06052b81040022"
for label in rsa2048 rsa3072 ec256 ec384; do
    check "ossl token: both halves of $label" count_is "$objs" "^ +label: +$label\$" 2
done
check "every private key is sensitive and never extractable" \
    count_is "$objs" 'Access: +sensitive, always sensitive, never extractable, local' 4
check "pkcs11-tool lists the second token's objects" p11u --slot 1 --list-objects
objs1=$LAST_LOG
check "second token: two Ed25519 private keys" count_is "$objs1" '^Private Key Object; EC_EDWARDS' 2
check "second token: the generated RSA 3072 key" contains "$objs1" "Public Key Object; RSA 3072 bits"
check "second token: the generated P-384 key" contains "$objs1" "EC_PARAMS:  06052b81040022"
check "second token: every private key is sensitive and never extractable" \
    count_is "$objs1" 'Access: +sensitive, always sensitive, never extractable, local' 4

# ---- public keys out, into plain OpenSSL ----

for k in rsa2048 rsa3072 ec256 ec384; do
    check "export the $k public key through the provider" \
        prov pkey -pubin -in "$(pub "$T0" "$k")" -out "$D/$k.pub.pem"
done
for k in ed25519 ed25519-tool rsa3072-gen ec384-gen; do
    check "export the $k public key through the provider" \
        prov pkey -pubin -in "$(pub "$T1" "$k")" -out "$D/$k.pub.pem"
done
declare -A KEY_TEXT=([rsa2048]="Public-Key: (2048 bit)" [rsa3072]="Public-Key: (3072 bit)"
    [ec256]="NIST CURVE: P-256" [ec384]="NIST CURVE: P-384" [ed25519]="ED25519 Public-Key:"
    [ed25519-tool]="ED25519 Public-Key:" [rsa3072-gen]="Public-Key: (3072 bit)"
    [ec384-gen]="NIST CURVE: P-384")
for k in rsa2048 rsa3072 ec256 ec384 ed25519 ed25519-tool rsa3072-gen ec384-gen; do
    check "plain openssl reads the $k public key" plain pkey -pubin -in "$D/$k.pub.pem" -noout -text
    check "the $k public key is what was asked for" contains "$LAST_LOG" "${KEY_TEXT[$k]}"
done
# An independent export of the same keys: pkcs11-tool reads the public key objects itself (DER,
# or PEM for Ed25519). pkcs11-tool 0.23 cannot export P-384 public keys with OpenSSL 3 (see
# pkcs11-tool.sh), so those are compared through the provider only.
declare -A KEY_SLOT_ID=([rsa2048]="0 01" [rsa3072]="0 02" [ec256]="0 03" [ed25519]="1 05")
for k in rsa2048 rsa3072 ec256 ed25519; do
    read -r slot id <<<"${KEY_SLOT_ID[$k]}"
    check "pkcs11-tool --read-object pubkey $k" \
        p11 --slot "$slot" --read-object --type pubkey --id "$id" -o "$D/$k.p11.out"
    if contains "$D/$k.p11.out" "-----BEGIN PUBLIC KEY-----" >/dev/null; then
        check "pkcs11-tool's $k PEM -> PEM" plain pkey -pubin -in "$D/$k.p11.out" -out "$D/$k.p11.pem"
    else
        check "pkcs11-tool's $k DER -> PEM" \
            plain pkey -pubin -inform DER -in "$D/$k.p11.out" -out "$D/$k.p11.pem"
    fi
    check "the provider's $k public key equals pkcs11-tool's" same_file "$D/$k.pub.pem" "$D/$k.p11.pem"
done

# ---- signatures through the provider, verified by plain OpenSSL ----

head -c 5000 /dev/urandom >"$D/data"
cp "$D/data" "$D/tampered"
printf 'X' | dd of="$D/tampered" bs=1 seek=1234 conv=notrunc status=none
# The random data may already hold an X there (1 in 256): then write another byte.
cmp -s "$D/data" "$D/tampered" && printf 'Y' | dd of="$D/tampered" bs=1 seek=1234 conv=notrunc status=none
check "the tampered file differs from the data" different_file "$D/data" "$D/tampered"

# sign_verify NAME DIGEST KEYFILE URI [SIGOPT...]: signs $D/data through the provider, verifies
# with plain OpenSSL and the exported public key, and checks that the tampered data fails.
sign_verify() {
    local name=$1 md=$2 key=$3 uri=$4
    shift 4
    local opts=() o
    for o in "$@"; do opts+=(-sigopt "$o"); done
    check "dgst -$md -sign ($name) through the provider" \
        prov dgst "-$md" "${opts[@]}" -sign "$uri" -out "$D/$name.sig" "$D/data"
    check "plain openssl verifies $name" \
        plain dgst "-$md" "${opts[@]}" -verify "$D/$key.pub.pem" -signature "$D/$name.sig" "$D/data"
    check "Verified OK ($name)" contains "$LAST_LOG" "Verified OK"
    check_fails "plain openssl rejects $name over tampered data" \
        plain dgst "-$md" "${opts[@]}" -verify "$D/$key.pub.pem" -signature "$D/$name.sig" "$D/tampered"
}

sign_verify rsa2048-pkcs1-sha256 sha256 rsa2048 "$(priv "$T0" rsa2048)"
check "RSA-2048 signature is 256 bytes" size_is "$D/rsa2048-pkcs1-sha256.sig" 256
sign_verify rsa3072-pkcs1-sha384 sha384 rsa3072 "$(priv "$T0" rsa3072)"
check "RSA-3072 signature is 384 bytes" size_is "$D/rsa3072-pkcs1-sha384.sig" 384
sign_verify rsa2048-pss-sha256 sha256 rsa2048 "$(priv "$T0" rsa2048)" rsa_padding_mode:pss
sign_verify rsa3072-pss-sha512-salt32 sha512 rsa3072 "$(priv "$T0" rsa3072)" \
    rsa_padding_mode:pss rsa_pss_saltlen:32
sign_verify ecdsa-p256-sha256 sha256 ec256 "$(priv "$T0" ec256)"
sign_verify ecdsa-p384-sha384 sha384 ec384 "$(priv "$T0" ec384)"
sign_verify genpkey-rsa3072-pss-sha384 sha384 rsa3072-gen "$(priv "$T1" rsa3072-gen)" rsa_padding_mode:pss
sign_verify genpkey-ecdsa-p384-sha512 sha512 ec384-gen "$(priv "$T1" ec384-gen)"
# PKCS#1 v1.5 signatures are deterministic: two must be identical.
check "second RSA PKCS#1 signature" \
    prov dgst -sha256 -sign "$(priv "$T0" rsa2048)" -out "$D/rsa-again.sig" "$D/data"
check "RSA PKCS#1 v1.5 signatures are deterministic" \
    same_file "$D/rsa2048-pkcs1-sha256.sig" "$D/rsa-again.sig"

for k in ed25519 ed25519-tool; do
    check "pkeyutl -sign -rawin Ed25519 ($k) through the provider" \
        prov pkeyutl -sign -rawin -inkey "$(priv "$T1" "$k")" -in "$D/data" -out "$D/$k.sig"
    check "Ed25519 signature ($k) is 64 bytes" size_is "$D/$k.sig" 64
    check "plain openssl verifies Ed25519 ($k)" \
        plain pkeyutl -verify -rawin -pubin -inkey "$D/$k.pub.pem" -in "$D/data" -sigfile "$D/$k.sig"
    check "Signature Verified Successfully ($k)" contains "$LAST_LOG" "Signature Verified Successfully"
    check_fails "plain openssl rejects Ed25519 ($k) over tampered data" \
        plain pkeyutl -verify -rawin -pubin -inkey "$D/$k.pub.pem" -in "$D/tampered" -sigfile "$D/$k.sig"
done
check "a second Ed25519 signature" \
    prov pkeyutl -sign -rawin -inkey "$(priv "$T1" ed25519)" -in "$D/data" -out "$D/ed-again.sig"
check "Ed25519 signatures are deterministic" same_file "$D/ed25519.sig" "$D/ed-again.sig"

# genpkey's output file names the key: it can be given wherever a key file is expected.
check "dgst -sign with the URI PEM file genpkey wrote" \
    prov dgst -sha256 -sign "$D/ec256.uri.pem" -out "$D/uripem.sig" "$D/data"
check "plain openssl verifies the signature made through the URI PEM file" \
    plain dgst -sha256 -verify "$D/ec256.pub.pem" -signature "$D/uripem.sig" "$D/data"

# The PIN in the URI instead of the configuration.
check "dgst -sign with ?pin-value= in the URI (no PIN configured)" \
    prov_nopin dgst -sha256 -sign "$(priv "$T0" ec256)?pin-value=$PIN" -out "$D/pinuri.sig" "$D/data"
check "plain openssl verifies the ?pin-value= signature" \
    plain dgst -sha256 -verify "$D/ec256.pub.pem" -signature "$D/pinuri.sig" "$D/data"
check_fails "a wrong ?pin-value= is refused" \
    prov_nopin dgst -sha256 -sign "$(priv "$T0" ec256)?pin-value=0000" -out "$D/badpin.sig" "$D/data"
check "the token counts the wrong PIN" "$CUSTOS" token list --store "$WORK/store"
check "slot 0 user PIN: count low" grep -qE '^slot 0: .*user PIN: set, count low' "$LAST_LOG"
check "the right PIN works after a wrong one" \
    prov_nopin dgst -sha256 -sign "$(priv "$T0" ec256)?pin-value=$PIN" -out "$D/pinuri2.sig" "$D/data"
check "plain openssl verifies it" \
    plain dgst -sha256 -verify "$D/ec256.pub.pem" -signature "$D/pinuri2.sig" "$D/data"
check "the wrong-PIN count is reset" "$CUSTOS" token list --store "$WORK/store"
check "slot 0 user PIN: ok" grep -qE '^slot 0: .*user PIN: set, ok' "$LAST_LOG"

# ---- decryption and key agreement through the provider ----

head -c 190 /dev/urandom >"$D/plain.bin"
check "plain openssl encrypts RSA PKCS#1 v1.5 to the RSA-2048 key" \
    plain pkeyutl -encrypt -pubin -inkey "$D/rsa2048.pub.pem" -in "$D/plain.bin" -out "$D/ct.pkcs1"
check "pkeyutl -decrypt PKCS#1 v1.5 through the provider" \
    prov pkeyutl -decrypt -inkey "$(priv "$T0" rsa2048)" -in "$D/ct.pkcs1" -out "$D/pt.pkcs1"
check "PKCS#1 v1.5 decryption restores the plaintext" same_file "$D/plain.bin" "$D/pt.pkcs1"

OAEP=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
head -c 190 /dev/urandom >"$D/plain2.bin"
check "plain openssl encrypts RSA-OAEP SHA-256 to the RSA-3072 key" \
    plain pkeyutl -encrypt -pubin -inkey "$D/rsa3072.pub.pem" "${OAEP[@]}" \
    -in "$D/plain2.bin" -out "$D/ct.oaep"
check "pkeyutl -decrypt OAEP SHA-256 through the provider" \
    prov pkeyutl -decrypt -inkey "$(priv "$T0" rsa3072)" "${OAEP[@]}" -in "$D/ct.oaep" -out "$D/pt.oaep"
check "OAEP decryption restores the plaintext" same_file "$D/plain2.bin" "$D/pt.oaep"
cp "$D/ct.oaep" "$D/ct.oaep.bad"
printf 'X' | dd of="$D/ct.oaep.bad" bs=1 seek=100 conv=notrunc status=none
cmp -s "$D/ct.oaep" "$D/ct.oaep.bad" && printf 'Y' | dd of="$D/ct.oaep.bad" bs=1 seek=100 conv=notrunc status=none
check_fails "a corrupted OAEP ciphertext is refused" \
    prov pkeyutl -decrypt -inkey "$(priv "$T0" rsa3072)" "${OAEP[@]}" -in "$D/ct.oaep.bad" -out "$D/pt.bad"

# derive_check CURVE URI KEY: ECDH between the token key and a fresh file key, both ways.
derive_check() {
    local curve=$1 uri=$2 key=$3
    check "plain openssl makes a $curve peer key" \
        plain genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" -out "$D/peer-$curve.pem"
    check "peer $curve public key" plain pkey -in "$D/peer-$curve.pem" -pubout -out "$D/peer-$curve.pub.pem"
    check "pkeyutl -derive ECDH $curve (token key) through the provider" \
        prov pkeyutl -derive -inkey "$uri" -peerkey "$D/peer-$curve.pub.pem" -out "$D/z-token-$curve"
    check "plain openssl derives from the other side ($curve)" \
        plain pkeyutl -derive -inkey "$D/peer-$curve.pem" -peerkey "$D/$key.pub.pem" -out "$D/z-file-$curve"
    check "the $curve shared secrets are equal" same_file "$D/z-token-$curve" "$D/z-file-$curve"
}
derive_check P-256 "$(priv "$T0" ec256)" ec256
check "P-256 shared secret is 32 bytes" size_is "$D/z-token-P-256" 32
derive_check P-384 "$(priv "$T0" ec384)" ec384
check "P-384 shared secret is 48 bytes" size_is "$D/z-token-P-384" 48

# ---- certificates and requests through the provider ----

check "req -x509: self-signed RSA CA with the token's RSA-2048 key" \
    prov req -new -x509 -key "$(priv "$T0" rsa2048)" -sha256 -days 30 -subj "/CN=Custos Test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$D/ca.pem"
check "plain openssl verifies the self-signed CA" plain verify -CAfile "$D/ca.pem" "$D/ca.pem"
check "ca.pem: OK" contains "$LAST_LOG" "ca.pem: OK"
check "the CA certificate's public key" plain x509 -in "$D/ca.pem" -noout -pubkey -out "$D/ca.pub.pem"
check "the CA certificate holds the token's RSA-2048 key" same_file "$D/ca.pub.pem" "$D/rsa2048.pub.pem"

check "req -x509: self-signed ECDSA P-384 certificate" \
    prov req -new -x509 -key "$(priv "$T0" ec384)" -sha384 -days 30 -subj "/CN=Custos ECDSA self" \
    -out "$D/ec384-self.pem"
check "plain openssl verifies the ECDSA self-signed certificate" \
    plain verify -CAfile "$D/ec384-self.pem" "$D/ec384-self.pem"
check "its signature is ecdsa-with-SHA384" plain x509 -in "$D/ec384-self.pem" -noout -text
check "ecdsa-with-SHA384" contains "$LAST_LOG" "Signature Algorithm: ecdsa-with-SHA384"

check "req -x509: self-signed Ed25519 certificate" \
    prov req -new -x509 -key "$(priv "$T1" ed25519)" -days 30 -subj "/CN=Custos Ed25519 self" \
    -out "$D/ed25519-self.pem"
check "plain openssl verifies the Ed25519 self-signed certificate" \
    plain verify -CAfile "$D/ed25519-self.pem" "$D/ed25519-self.pem"

# csr_and_cert NAME KEYURI SUBJECT EXT: a CSR signed by the token key, verified by plain
# OpenSSL, then a certificate for it issued by the CA (whose key is in the token too).
csr_and_cert() {
    local name=$1 uri=$2 subj=$3 ext=$4
    check "req -new: CSR for $name signed by its token key" \
        prov req -new -key "$uri" -sha256 -subj "$subj" -addext "$ext" -out "$D/$name.csr"
    check "plain openssl req -verify ($name CSR)" plain req -in "$D/$name.csr" -verify -noout
    check "self-signature verify OK ($name CSR)" contains "$LAST_LOG" "verify OK"
    check "x509 -req: the CA (token key) issues the $name certificate" \
        prov x509 -req -in "$D/$name.csr" -CA "$D/ca.pem" -CAkey "$(priv "$T0" rsa2048)" \
        -CAcreateserial -days 30 -sha256 -copy_extensions copy -out "$D/$name.crt"
    check "plain openssl verifies the $name certificate against the CA" \
        plain verify -CAfile "$D/ca.pem" "$D/$name.crt"
    check "$name.crt: OK" contains "$LAST_LOG" "$name.crt: OK"
}
csr_and_cert server-ec "$(priv "$T0" ec256)" "/CN=localhost" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost"
csr_and_cert server-rsa "$(priv "$T0" rsa3072)" "/CN=localhost" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost"
csr_and_cert client "$(priv "$T0" ec384)" "/CN=Custos TLS client" "extendedKeyUsage=clientAuth"

# A tampered CSR (another subject, same signature) must fail plain verification.
check "CSR to DER" plain req -in "$D/client.csr" -outform DER -out "$D/client.csr.der"
sed 's/Custos TLS client/Custos TLS clienT/' "$D/client.csr.der" >"$D/client-bad.csr.der"
check "the tampered CSR differs" different_file "$D/client.csr.der" "$D/client-bad.csr.der"
# (openssl req -verify 3.0 exits 0 even when the signature is bad: read what it says.)
check "plain openssl req -verify on the tampered CSR" \
    plain req -inform DER -in "$D/client-bad.csr.der" -verify -noout
check "the tampered CSR's signature is rejected" contains "$LAST_LOG" "self-signature verify failure"

# ---- storeutl ----

check "the CA certificate as DER" \
    plain x509 -in "$D/ca.pem" -outform DER -out "$D/ca.der"
check "pkcs11-tool --write-object the CA certificate (id 01, label rsa2048)" \
    p11u --slot 0 --write-object "$D/ca.der" --type cert --id 01 --label rsa2048
check "the RSA server certificate as DER" \
    plain x509 -in "$D/server-rsa.crt" -outform DER -out "$D/server-rsa.der"
check "pkcs11-tool --write-object the RSA server certificate (id 02, label rsa3072)" \
    p11u --slot 0 --write-object "$D/server-rsa.der" --type cert --id 02 --label rsa3072
check "storeutl -keys lists the private keys by pkcs11: URI" \
    prov storeutl -keys -text "$T0;type=private"
keys=$LAST_LOG
check "storeutl finds 4 private keys" contains "$keys" "Total found: 4"
for k in rsa2048 rsa3072 ec256 ec384; do
    check "storeutl lists the URI of $k" grep -qE "^URI pkcs11:.*;object=$k;type=private\$" "$keys"
done
check "storeutl -text pkcs11:token=ossl (every object)" prov storeutl -text "$T0"
all=$LAST_LOG
check "storeutl lists 10 objects (4 key pairs, 2 certificates)" contains "$all" "Total found: 10"
check "storeutl shows the public keys" count_is "$all" '^[0-9]+: Public key$' 4
check "storeutl shows the certificates" count_is "$all" '^[0-9]+: Certificate$' 2
check "storeutl -certs lists the certificates" prov storeutl -certs "$T0;type=cert"
check "storeutl finds 2 certificates" contains "$LAST_LOG" "Total found: 2"
check "storeutl -certs gets the CA certificate by label" \
    prov storeutl -certs -out "$D/ca-from-token.pem" "$T0;object=rsa2048;type=cert"
check "storeutl finds 1 certificate" contains "$D/ca-from-token.pem" "Total found: 1"
check "the token's certificate equals the CA certificate" \
    plain x509 -in "$D/ca-from-token.pem" -outform DER -out "$D/ca-from-token.der"
check "certificate from the token is byte-identical" same_file "$D/ca.der" "$D/ca-from-token.der"
check "storeutl -certs -subject finds it by subject" \
    prov storeutl -certs -subject "/CN=Custos Test CA" "$T0"
check "found by subject" contains "$LAST_LOG" "Total found: 1"

# ---- TLS ----

SERVER_PIDS=()
stop_servers() {
    local p
    for p in "${SERVER_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
}
trap stop_servers EXIT

# tls_run NAME SERVER_CONF CLIENT_CONF PROTO SERVER_ARGS... -- CLIENT_ARGS...
# Starts `openssl s_server -rev` (an echo server that reverses each line) on 127.0.0.1 (port chosen by the kernel, read back from its
# ACCEPT line; one connection), connects `openssl s_client` with -PROTO that sends a random
# line then CLOSE, and succeeds when the line comes back reversed and both ends exit 0. The
# logs are left in $D/NAME.server.log and $D/NAME.client.log.
tls_run() {
    local name=$1 sconf=$2 cconf=$3 proto=$4
    shift 4
    local sargs=() cargs=()
    while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
        sargs+=("$1")
        shift
    done
    [ "$#" -gt 0 ] && shift
    cargs=("$@")
    local slog="$D/$name.server.log" clog="$D/$name.client.log"
    : >"$slog"
    # -num_tickets 0: s_client prints each TLS 1.3 session ticket through buffered stdout whenever
    # it arrives, which can land in the middle of the echoed line it writes to the same stream.
    OPENSSL_CONF=$sconf timeout -k 5 "$LIMIT" openssl s_server -accept 127.0.0.1:0 -naccept 1 -rev \
        -num_tickets 0 "${sargs[@]}" >"$slog" 2>&1 </dev/null &
    local spid=$! port="" i
    SERVER_PIDS+=("$spid")
    # Wait (at most 30 s) for the server to listen.
    for ((i = 0; i < 300; i++)); do
        port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$slog")
        [ -n "$port" ] && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        printf 'the server did not start listening:\n'
        cat "$slog"
        kill "$spid" 2>/dev/null || true
        wait "$spid" 2>/dev/null || true
        return 1
    fi
    local line rc_c=0 rc_s=0
    line="custos-interop-$RANDOM$RANDOM-$proto"
    printf '%s\nCLOSE\n' "$line" |
        OPENSSL_CONF=$cconf timeout -k 5 "$LIMIT" openssl s_client -connect "127.0.0.1:$port" \
            "-$proto" -CAfile "$D/ca.pem" -verify_return_error -verify_ip 127.0.0.1 -ign_eof \
            "${cargs[@]}" >"$clog" 2>&1 || rc_c=$?
    wait "$spid" || rc_s=$?
    printf -- '---- s_server (exit %d) ----\n' "$rc_s"
    cat "$slog"
    printf -- '---- s_client (exit %d) ----\n' "$rc_c"
    grep -vE '^ +[0-9a-f]{4} - ' "$clog" || true
    local bad=0
    if grep -qE 'Segmentation fault|core dumped|Aborted|panicked' "$slog" "$clog"; then
        printf 'CRASH message in the output\n'
        bad=1
    fi
    [ "$rc_s" -eq 0 ] || {
        printf 's_server exited with status %d\n' "$rc_s"
        bad=1
    }
    [ "$rc_c" -eq 0 ] || {
        printf 's_client exited with status %d\n' "$rc_c"
        bad=1
    }
    if ! grep -qF "$(printf '%s' "$line" | rev)" "$clog"; then
        printf 'the reversed line did not come back\n'
        bad=1
    fi
    return "$bad"
}

# tls_expect NAME PROTO_TEXT SIG_TEXT: the client saw a verified server, the protocol and the
# server's signature type.
tls_expect() {
    local name=$1 proto=$2 sig=$3 clog="$D/$1.client.log"
    check "$name: the client verified the server certificate" contains "$clog" "Verification: OK"
    check "$name: $proto negotiated" contains "$D/$name.server.log" "Protocol version: $proto"
    check "$name: peer signature type $sig" contains "$clog" "Peer signature type: $sig"
}

# mtls_expect NAME: the server verified the client's certificate and its ECDSA signature.
mtls_expect() {
    local slog="$D/$1.server.log"
    check "$1: the server got the client certificate" contains "$slog" "Peer certificate: CN = Custos TLS client"
    check "$1: the server verified it" contains "$slog" "Verification: OK"
    check "$1: the client signed with ECDSA" contains "$slog" "Signature type: ECDSA"
}

check "TLS 1.2, server RSA-3072 key in the token (PKCS#1 signature)" \
    tls_run p-rsa-12 "$PROV_CNF" "$PLAIN_CNF" tls1_2 \
    -key "$(priv "$T0" rsa3072)" -cert "$D/server-rsa.crt" -- -sigalgs RSA+SHA256
tls_expect p-rsa-12 TLSv1.2 RSA
check "TLS 1.2, server RSA-3072 key in the token (PSS signature)" \
    tls_run p-rsa-12-pss "$PROV_CNF" "$PLAIN_CNF" tls1_2 \
    -key "$(priv "$T0" rsa3072)" -cert "$D/server-rsa.crt" -- -sigalgs rsa_pss_rsae_sha256
tls_expect p-rsa-12-pss TLSv1.2 RSA-PSS
check "TLS 1.3, server RSA-3072 key in the token" \
    tls_run p-rsa-13 "$PROV_CNF" "$PLAIN_CNF" tls1_3 \
    -key "$(priv "$T0" rsa3072)" -cert "$D/server-rsa.crt" --
tls_expect p-rsa-13 TLSv1.3 RSA-PSS
check "TLS 1.2, server ECDSA P-256 key in the token" \
    tls_run p-ec-12 "$PROV_CNF" "$PLAIN_CNF" tls1_2 \
    -key "$(priv "$T0" ec256)" -cert "$D/server-ec.crt" --
tls_expect p-ec-12 TLSv1.2 ECDSA
check "TLS 1.3, server ECDSA P-256 key in the token" \
    tls_run p-ec-13 "$PROV_CNF" "$PLAIN_CNF" tls1_3 \
    -key "$(priv "$T0" ec256)" -cert "$D/server-ec.crt" --
tls_expect p-ec-13 TLSv1.3 ECDSA
check "TLS 1.3, server certificate read from the token too (-cert pkcs11:...)" \
    tls_run p-tokcert-13 "$PROV_CNF" "$PLAIN_CNF" tls1_3 \
    -key "$(priv "$T0" rsa3072)" -cert "$T0;object=rsa3072;type=cert" --
tls_expect p-tokcert-13 TLSv1.3 RSA-PSS
check "p-tokcert-13: the server presented the certificate from the token" \
    contains "$D/p-tokcert-13.client.log" "subject=CN = localhost"

# Mutual TLS: both keys in the token, each used by its own process at the same time.
MTLS_SERVER=(-Verify 1 -verify_return_error -CAfile "$D/ca.pem")
check "mutual TLS 1.3: server ECDSA and client ECDSA P-384 keys in the token" \
    tls_run p-mtls-13 "$PROV_CNF" "$PROV_CNF" tls1_3 \
    -key "$(priv "$T0" ec256)" -cert "$D/server-ec.crt" "${MTLS_SERVER[@]}" -- \
    -key "$(priv "$T0" ec384)" -cert "$D/client.crt"
tls_expect p-mtls-13 TLSv1.3 ECDSA
mtls_expect p-mtls-13
check "mutual TLS 1.2: server RSA and client ECDSA P-384 keys in the token" \
    tls_run p-mtls-12 "$PROV_CNF" "$PROV_CNF" tls1_2 \
    -key "$(priv "$T0" rsa3072)" -cert "$D/server-rsa.crt" "${MTLS_SERVER[@]}" -- \
    -key "$(priv "$T0" ec384)" -cert "$D/client.crt"
tls_expect p-mtls-12 TLSv1.2 RSA-PSS
mtls_expect p-mtls-12
check_fails "mutual TLS 1.2 without a client certificate is refused" \
    tls_run p-mtls-none "$PROV_CNF" "$PLAIN_CNF" tls1_2 \
    -key "$(priv "$T0" rsa3072)" -cert "$D/server-rsa.crt" "${MTLS_SERVER[@]}" --

# ---- the libp11 engine ----

# libp11 0.4.12 aborts the key enumeration of a whole token at the first key of a type it does
# not know (pkcs11_object_from_handle returns NULL for CKK_EC_EDWARDS and pkcs11_init_key treats
# that as an error: "Unable to enumerate private keys"), so the engine cannot use any key of a
# token that also holds an Ed25519 key. The Ed25519 keys above therefore live in the token
# "second"; the engine uses the token "ossl". The engine has no Ed25519 support itself.
note "libp11 engine 0.4.12: no Ed25519, and a token holding an Ed25519 key cannot be enumerated" \
    "(client bug); Ed25519 keys are kept in a separate token"

ekey() { printf '%s' "$(priv "$T0" "$1")"; }
ENG=(-engine pkcs11 -keyform engine)

# eng_sign_verify NAME DIGEST KEY [SIGOPT...]
eng_sign_verify() {
    local name=$1 md=$2 key=$3
    shift 3
    local opts=() o
    for o in "$@"; do opts+=(-sigopt "$o"); done
    check "engine: dgst -$md -sign ($name)" \
        eng dgst "${ENG[@]}" "-$md" "${opts[@]}" -sign "$(ekey "$key")" -out "$D/eng-$name.sig" "$D/data"
    check "plain openssl verifies the engine's $name" \
        plain dgst "-$md" "${opts[@]}" -verify "$D/$key.pub.pem" -signature "$D/eng-$name.sig" "$D/data"
    check "Verified OK (engine $name)" contains "$LAST_LOG" "Verified OK"
    check_fails "plain openssl rejects the engine's $name over tampered data" \
        plain dgst "-$md" "${opts[@]}" -verify "$D/$key.pub.pem" -signature "$D/eng-$name.sig" "$D/tampered"
}
eng_sign_verify rsa2048-pkcs1-sha256 sha256 rsa2048
check "engine and provider RSA PKCS#1 v1.5 signatures are identical" \
    same_file "$D/eng-rsa2048-pkcs1-sha256.sig" "$D/rsa2048-pkcs1-sha256.sig"
eng_sign_verify rsa3072-pss-sha256 sha256 rsa3072 rsa_padding_mode:pss rsa_pss_saltlen:32
eng_sign_verify ecdsa-p256-sha256 sha256 ec256
eng_sign_verify ecdsa-p384-sha384 sha384 ec384

check "engine: PIN in the URI instead of the configuration" \
    bounded "$ENG_NOPIN_CNF" openssl dgst "${ENG[@]}" -sha256 \
    -sign "$(ekey ec256)?pin-value=$PIN" -out "$D/eng-pinuri.sig" "$D/data"
check "plain openssl verifies the engine's ?pin-value= signature" \
    plain dgst -sha256 -verify "$D/ec256.pub.pem" -signature "$D/eng-pinuri.sig" "$D/data"

check "engine: decrypt PKCS#1 v1.5" \
    eng pkeyutl "${ENG[@]}" -decrypt -inkey "$(ekey rsa2048)" -in "$D/ct.pkcs1" -out "$D/eng-pt.pkcs1"
check "engine: PKCS#1 v1.5 decryption restores the plaintext" same_file "$D/plain.bin" "$D/eng-pt.pkcs1"

check "engine: req -x509 self-signed with the RSA-2048 key" \
    eng req "${ENG[@]}" -new -x509 -key "$(ekey rsa2048)" -sha256 -days 30 \
    -subj "/CN=Custos engine RSA" -out "$D/eng-rsa-self.pem"
check "plain openssl verifies the engine's RSA certificate" \
    plain verify -CAfile "$D/eng-rsa-self.pem" "$D/eng-rsa-self.pem"
check "engine RSA certificate public key" plain x509 -in "$D/eng-rsa-self.pem" -noout -pubkey -out "$D/eng-rsa-self.pub"
check "the engine's certificate holds the token's RSA-2048 key" same_file "$D/eng-rsa-self.pub" "$D/rsa2048.pub.pem"
check "engine: req -x509 self-signed with the P-384 key" \
    eng req "${ENG[@]}" -new -x509 -key "$(ekey ec384)" -sha384 -days 30 \
    -subj "/CN=Custos engine ECDSA" -out "$D/eng-ec-self.pem"
check "plain openssl verifies the engine's ECDSA certificate" \
    plain verify -CAfile "$D/eng-ec-self.pem" "$D/eng-ec-self.pem"
check "engine: CSR signed with the P-256 key" \
    eng req "${ENG[@]}" -new -key "$(ekey ec256)" -sha256 -subj "/CN=Custos engine CSR" -out "$D/eng.csr"
check "plain openssl req -verify (engine CSR)" plain req -in "$D/eng.csr" -verify -noout

check "engine: TLS 1.2, server RSA-3072 key in the token" \
    tls_run e-rsa-12 "$ENG_CNF" "$PLAIN_CNF" tls1_2 \
    "${ENG[@]}" -key "$(ekey rsa3072)" -cert "$D/server-rsa.crt" -- -sigalgs RSA+SHA256
tls_expect e-rsa-12 TLSv1.2 RSA
check "engine: TLS 1.3, server RSA-3072 key in the token" \
    tls_run e-rsa-13 "$ENG_CNF" "$PLAIN_CNF" tls1_3 \
    "${ENG[@]}" -key "$(ekey rsa3072)" -cert "$D/server-rsa.crt" --
tls_expect e-rsa-13 TLSv1.3 RSA-PSS
check "engine: TLS 1.3, server ECDSA P-256 key in the token" \
    tls_run e-ec-13 "$ENG_CNF" "$PLAIN_CNF" tls1_3 \
    "${ENG[@]}" -key "$(ekey ec256)" -cert "$D/server-ec.crt" --
tls_expect e-ec-13 TLSv1.3 ECDSA
check "engine: mutual TLS 1.3, client P-384 key through the engine, server through the provider" \
    tls_run e-mtls-13 "$PROV_CNF" "$ENG_CNF" tls1_3 \
    -key "$(priv "$T0" ec256)" -cert "$D/server-ec.crt" "${MTLS_SERVER[@]}" -- \
    "${ENG[@]}" -key "$(ekey ec384)" -cert "$D/client.crt"
mtls_expect e-mtls-13

# ---- nothing left behind ----

check "the token still holds its objects" p11u --slot 0 --list-objects
final=$LAST_LOG
check "ossl token: 4 private keys" count_is "$final" '^Private Key Object;' 4
check "ossl token: 2 certificates" count_is "$final" '^Certificate Object;' 2
check "no operation left a key object in the token (4 key pairs only)" \
    count_is "$final" '^(Private|Public|Secret) Key Object;' 8

finish
