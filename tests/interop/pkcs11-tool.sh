#!/usr/bin/env bash
# Drives the real Custos PKCS#11 module with OpenSC's pkcs11-tool (written against 0.23, Debian
# bookworm) and checks every result it can with OpenSSL: token setup; key generation (RSA
# 2048/3072/4096, EC P-256/P-384/P-521, Ed25519, AES, generic secret); signatures (ECDSA,
# RSA PKCS#1 v1.5, PSS, raw RSA-X-509, EdDSA, HMAC); RSA PKCS#1 v1.5 and OAEP decryption; AES
# ECB/CBC/CBC-PAD; AES key wrap (RFC 3394 and RFC 5649) and RSA wrap/unwrap; ECDH; digests
# (SHA-1/2/3); random; importing keys, certificates and data objects; CKA_ID changes; PIN
# change; deletion; and pkcs11-tool's own --test, --test-ec, --test-threads and --test-fork.
#
# Environment:
#   MODULE  path to libcustos_pkcs11.so
#   CUSTOS  path to the custos binary
#   WORK    an empty scratch directory
#
# Needs pkcs11-tool (Debian package opensc) and openssl (Debian package openssl).
# Prints `ok N - ...` per check and ends with `interop pkcs11-tool: N passed, 0 failed`.

set -euo pipefail
set -E

SUITE=pkcs11-tool
# shellcheck source=tests/interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tool pkcs11-tool opensc
require_tool openssl openssl
require_tool od coreutils
require_env MODULE CUSTOS WORK
[ -f "$MODULE" ] || die "MODULE=$MODULE does not exist (build the crate: cargo build)"
[ -x "$CUSTOS" ] || die "CUSTOS=$CUSTOS is not an executable (build the crate: cargo build)"
interop_init

SO_PIN=12345678
PIN=1234
NEW_PIN=4321
IV=000102030405060708090a0b0c0d0e0f

D="$WORK/files"
mkdir -p "$D"

# The module reads its store from here; nothing else from the caller's environment.
unset CUSTOS_CONF CUSTOS_SHARES
export CUSTOS_STORE="$WORK/store"
export CUSTOS_QUIET=1

# Every call has a time limit, so a hung module cannot hang CI.
p11() {
    timeout 120 pkcs11-tool --module "$MODULE" "$@"
}
# On slot 0, logged in as the user with PIN $PIN.
p11u() {
    timeout 120 pkcs11-tool --module "$MODULE" --slot 0 --login --pin "$PIN" "$@"
}

# ---- the store ----

check "custos init --dev creates a store" "$CUSTOS" init --store "$WORK/store" --dev
check "the store directory exists" test -d "$WORK/store"
maybe_serve "$WORK/store"

# ---- slots and tokens ----

check "--list-slots" p11 --list-slots
slots=$LAST_LOG
check "--list-slots shows 4 slots" count_is "$slots" '^Slot [0-9]+ \(0x[0-9a-f]+\)' 4
for s in 0 1 2 3; do
    check "--list-slots shows slot $s" contains "$slots" "Slot $s (0x$s)"
done
check "--list-slots shows 4 uninitialised tokens" count_is "$slots" 'token state: +uninitialized' 4

check "--init-token slot 0 label ci" \
    p11 --init-token --slot 0 --label ci --so-pin "$SO_PIN"
check "--init-pin (as SO)" \
    p11 --init-pin --slot 0 --login --login-type so --so-pin "$SO_PIN" --pin "$PIN"

check "--list-token-slots" p11 --list-token-slots
tslots=$LAST_LOG
check "--list-token-slots shows label ci" grep -qE '^ +token label +: ci$' "$tslots"
check "--list-token-slots: token and PIN initialised" \
    grep -qE '^ +token flags +:.*token initialized, PIN initialized' "$tslots"
check "--list-token-slots: the other 3 tokens are still uninitialised" \
    count_is "$tslots" 'token state: +uninitialized' 3

# ---- key generation ----

check "--keypairgen EC:prime256v1 id 01" \
    p11u --keypairgen --key-type EC:prime256v1 --id 01 --label ec256
check "P-256 key pair: EC_PARAMS is prime256v1" contains "$LAST_LOG" "EC_PARAMS:  06082a8648ce3d030107"
check "--keypairgen EC:secp384r1 id 02" \
    p11u --keypairgen --key-type EC:secp384r1 --id 02 --label ec384
check "P-384 key pair: EC_PARAMS is secp384r1" contains "$LAST_LOG" "EC_PARAMS:  06052b81040022"
check "--keypairgen rsa:2048 id 03" \
    p11u --keypairgen --key-type rsa:2048 --id 03 --label rsa2048
check "RSA-2048 key pair: public key is 2048 bits" contains "$LAST_LOG" "Public Key Object; RSA 2048 bits"
check "--keypairgen rsa:3072 id 04" \
    p11u --keypairgen --key-type rsa:3072 --id 04 --label rsa3072
check "RSA-3072 key pair: public key is 3072 bits" contains "$LAST_LOG" "Public Key Object; RSA 3072 bits"

# ---- public keys out, into OpenSSL ----

read_pubkey_pem() { # ID NAME
    p11 --slot 0 --read-object --type pubkey --id "$1" -o "$D/$2.der" &&
        openssl pkey -pubin -inform DER -in "$D/$2.der" -out "$D/$2.pem" &&
        openssl pkey -pubin -in "$D/$2.pem" -noout -text
}

# The SubjectPublicKeyInfo of an EC key built from the CKA_EC_PARAMS and CKA_EC_POINT that
# --list-objects prints (for the public key object whose ID is ID).
ec_spki_from_listing() { # ID OUT
    local listing params point
    listing=$(p11 --slot 0 --list-objects --type pubkey) || return 1
    pick() { # FIELD
        printf '%s\n' "$listing" | awk -v id="$1" -v field="$2" '
            /^[A-Z][a-z]+ Key Object/ { pub = ($1 == "Public"); val = "" }
            $1 == field ":" { val = $2 }
            $1 == "ID:" && pub && $2 == id && val != "" { print val; exit }'
    }
    params=$(pick "$1" EC_PARAMS)
    point=$(pick "$1" EC_POINT)
    if [ -z "$params" ] || [ -z "$point" ]; then
        printf 'no EC_PARAMS/EC_POINT in the listing:\n%s\n' "$listing"
        return 1
    fi
    ec_spki_der "$params" "$point" "$2"
}

check "--read-object pubkey id 01 -> DER -> PEM (openssl pkey)" read_pubkey_pem 01 ec256
text=$LAST_LOG
check "P-256 public key is 256 bits" contains "$text" "Public-Key: (256 bit)"
check "P-256 public key is on prime256v1" contains "$text" "ASN1 OID: prime256v1"
check "P-256 SPKI from CKA_EC_PARAMS/CKA_EC_POINT" ec_spki_from_listing 01 "$D/ec256.attrs.der"
check "P-256 SPKI from the attributes equals --read-object's" \
    same_file "$D/ec256.der" "$D/ec256.attrs.der"

# pkcs11-tool 0.23 (Debian bookworm) cannot export some EC public keys: in its OpenSSL 3 path of
# --read-object it frees the curve name it read back from OpenSSL before passing it to
# EVP_PKEY_fromdata (a use-after-free; valgrind shows it for P-256 too, where the freed memory
# happens to survive). For P-384 it fails with "cannot create EVP_PKEY". Use --read-object when
# it works, otherwise build the SPKI from the key's attributes, which exercises the same module
# attributes (CKA_EC_PARAMS, CKA_EC_POINT).
p384_rc=0
p11 --slot 0 --read-object --type pubkey --id 02 -o "$D/ec384.der" >"$LOGS/p384-read-object.log" 2>&1 ||
    p384_rc=$?
if [ "$p384_rc" -ne 0 ]; then
    if grep -qF "cannot create EVP_PKEY" "$LOGS/p384-read-object.log"; then
        note "pkcs11-tool --read-object cannot export the P-384 public key (known pkcs11-tool 0.23" \
            "use-after-free with OpenSSL 3); building its SPKI from CKA_EC_PARAMS/CKA_EC_POINT instead"
        check "P-384 SPKI from CKA_EC_PARAMS/CKA_EC_POINT" ec_spki_from_listing 02 "$D/ec384.der"
    else
        _fail "--read-object pubkey id 02" "exit status $p384_rc" "$LOGS/p384-read-object.log"
    fi
else
    PASSED=$((PASSED + 1))
    printf 'ok %d - %s\n' "$PASSED" "--read-object pubkey id 02"
fi
check "P-384 public key DER -> PEM (openssl pkey)" \
    openssl pkey -pubin -inform DER -in "$D/ec384.der" -out "$D/ec384.pem"
check "P-384 public key text" openssl pkey -pubin -in "$D/ec384.pem" -noout -text
text=$LAST_LOG
check "P-384 public key is 384 bits" contains "$text" "Public-Key: (384 bit)"
check "P-384 public key is on secp384r1" contains "$text" "ASN1 OID: secp384r1"

check "--read-object pubkey id 03 -> DER -> PEM (openssl pkey)" read_pubkey_pem 03 rsa2048
check "RSA-2048 public key is 2048 bits" contains "$LAST_LOG" "Public-Key: (2048 bit)"
check "--read-object pubkey id 04 -> DER -> PEM (openssl pkey)" read_pubkey_pem 04 rsa3072
check "RSA-3072 public key is 3072 bits" contains "$LAST_LOG" "Public-Key: (3072 bit)"

# ---- signatures, verified by OpenSSL ----

head -c 4099 /dev/urandom >"$D/data"
cp "$D/data" "$D/tampered"
# Flip the bits of byte 100.
b=$(od -An -j100 -N1 -tu1 "$D/data" | tr -d ' ')
printf '%b' "\\x$(printf '%02x' $((b ^ 0xff)))" | dd of="$D/tampered" bs=1 seek=100 conv=notrunc status=none
check "the tampered file differs from the data" different_file "$D/data" "$D/tampered"

check "--sign ECDSA-SHA256 (P-256, DER signature)" \
    p11u --sign --mechanism ECDSA-SHA256 --signature-format openssl --id 01 \
    -i "$D/data" -o "$D/ec256.sig"
check "openssl verifies ECDSA-SHA256" \
    openssl dgst -sha256 -verify "$D/ec256.pem" -signature "$D/ec256.sig" "$D/data"
check_fails "openssl rejects ECDSA-SHA256 over tampered data" \
    openssl dgst -sha256 -verify "$D/ec256.pem" -signature "$D/ec256.sig" "$D/tampered"

check "--sign ECDSA-SHA384 (P-384, DER signature)" \
    p11u --sign --mechanism ECDSA-SHA384 --signature-format openssl --id 02 \
    -i "$D/data" -o "$D/ec384.sig"
check "openssl verifies ECDSA-SHA384" \
    openssl dgst -sha384 -verify "$D/ec384.pem" -signature "$D/ec384.sig" "$D/data"
check_fails "openssl rejects ECDSA-SHA384 over tampered data" \
    openssl dgst -sha384 -verify "$D/ec384.pem" -signature "$D/ec384.sig" "$D/tampered"

check "--sign SHA256-RSA-PKCS (RSA-2048)" \
    p11u --sign --mechanism SHA256-RSA-PKCS --id 03 -i "$D/data" -o "$D/rsa.sig"
check "SHA256-RSA-PKCS signature is 256 bytes" size_is "$D/rsa.sig" 256
check "openssl verifies SHA256-RSA-PKCS" \
    openssl dgst -sha256 -verify "$D/rsa2048.pem" -signature "$D/rsa.sig" "$D/data"
check_fails "openssl rejects SHA256-RSA-PKCS over tampered data" \
    openssl dgst -sha256 -verify "$D/rsa2048.pem" -signature "$D/rsa.sig" "$D/tampered"

check "--sign SHA256-RSA-PKCS-PSS (RSA-2048)" \
    p11u --sign --mechanism SHA256-RSA-PKCS-PSS --id 03 -i "$D/data" -o "$D/pss.sig"
check "openssl verifies SHA256-RSA-PKCS-PSS (salt length 32)" \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -verify "$D/rsa2048.pem" -signature "$D/pss.sig" "$D/data"
check_fails "openssl rejects SHA256-RSA-PKCS-PSS over tampered data" \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -verify "$D/rsa2048.pem" -signature "$D/pss.sig" "$D/tampered"

check "--sign SHA256-RSA-PKCS (RSA-3072)" \
    p11u --sign --mechanism SHA256-RSA-PKCS --id 04 -i "$D/data" -o "$D/rsa3072.sig"
check "openssl verifies SHA256-RSA-PKCS (RSA-3072)" \
    openssl dgst -sha256 -verify "$D/rsa3072.pem" -signature "$D/rsa3072.sig" "$D/data"

openssl dgst -sha256 -binary "$D/data" >"$D/digest"
openssl dgst -sha256 -binary "$D/tampered" >"$D/digest.tampered"
check "--sign ECDSA over a SHA-256 digest (raw r||s)" \
    p11u --sign --mechanism ECDSA --id 01 -i "$D/digest" -o "$D/raw.sig"
check "raw P-256 ECDSA signature is 64 bytes" size_is "$D/raw.sig" 64
check "raw r||s converts to DER" ecdsa_raw_to_der "$D/raw.sig" "$D/raw.sig.der"
check "openssl pkeyutl verifies raw ECDSA over the digest" \
    openssl pkeyutl -verify -pubin -inkey "$D/ec256.pem" -in "$D/digest" -sigfile "$D/raw.sig.der"
check_fails "openssl pkeyutl rejects raw ECDSA over the tampered digest" \
    openssl pkeyutl -verify -pubin -inkey "$D/ec256.pem" -in "$D/digest.tampered" \
    -sigfile "$D/raw.sig.der"

# ---- objects ----

check "--list-objects (logged in)" p11u --list-objects
objs=$LAST_LOG
for label in ec256 ec384 rsa2048 rsa3072; do
    check "--list-objects shows both halves of $label" count_is "$objs" "^ +label: +$label\$" 2
done
check "--list-objects shows 2 EC private keys" count_is "$objs" '^Private Key Object; EC' 2
check "--list-objects shows 2 RSA private keys" count_is "$objs" '^Private Key Object; RSA' 2
check "--list-objects shows 4 public keys" count_is "$objs" '^Public Key Object;' 4
check "private keys are sensitive and never extractable" \
    count_is "$objs" 'Access: +sensitive, always sensitive, never extractable, local' 4

check "--list-objects (not logged in)" p11 --slot 0 --list-objects
pubs=$LAST_LOG
check "without login only the 4 public keys are visible" count_is "$pubs" '^(Public|Private) Key Object' 4
check "without login no private key is visible" lacks "$pubs" "Private Key Object"

# ---- random and digests ----

check "--generate-random 32" p11 --slot 0 --generate-random 32 -o "$D/rand1"
check "--generate-random returned 32 bytes" size_is "$D/rand1" 32
check "--generate-random 32 again" p11 --slot 0 --generate-random 32 -o "$D/rand2"
check "two random draws differ" different_file "$D/rand1" "$D/rand2"

check "--hash SHA256" p11 --slot 0 --hash --mechanism SHA256 -i "$D/data" -o "$D/hash.p11"
check "--hash SHA256 equals openssl dgst -sha256" same_file "$D/hash.p11" "$D/digest"

# ---- AES ----

check "--keygen AES:32 label aes1" p11u --keygen --key-type AES:32 --label aes1 --id 10
check "AES key is 32 bytes" contains "$LAST_LOG" "Secret Key Object; AES length 32"
help=$(pkcs11-tool --help 2>&1 || true)
if grep -qF -- "--iv" <<<"$help"; then
    head -c 100 /dev/urandom >"$D/plain"
    check "--encrypt AES-CBC-PAD" \
        p11u --encrypt --mechanism AES-CBC-PAD --iv "$IV" --id 10 -i "$D/plain" -o "$D/cipher"
    check "AES-CBC-PAD ciphertext of 100 bytes is 112 bytes" size_is "$D/cipher" 112
    check "ciphertext differs from plaintext" different_file "$D/plain" "$D/cipher"
    check "--decrypt AES-CBC-PAD" \
        p11u --decrypt --mechanism AES-CBC-PAD --iv "$IV" --id 10 -i "$D/cipher" -o "$D/plain2"
    check "AES-CBC-PAD round trip restores the plaintext" same_file "$D/plain" "$D/plain2"

    # A key whose value OpenSSL knows too: the module's AES-CBC-PAD must match `openssl enc`.
    head -c 32 /dev/urandom >"$D/aes.key"
    key_hex=$(hex_of "$D/aes.key")
    check "--write-object secrkey AES:32 (imported key)" \
        p11u --write-object "$D/aes.key" --type secrkey --key-type AES:32 --id 11 --label aes-known
    check "--encrypt AES-CBC-PAD with the imported key" \
        p11u --encrypt --mechanism AES-CBC-PAD --iv "$IV" --id 11 -i "$D/plain" -o "$D/cipher.known"
    check "openssl enc -aes-256-cbc with the same key and IV" \
        openssl enc -aes-256-cbc -K "$key_hex" -iv "$IV" -in "$D/plain" -out "$D/cipher.openssl"
    check "the module's AES-CBC-PAD ciphertext equals OpenSSL's" \
        same_file "$D/cipher.known" "$D/cipher.openssl"
    check "--decrypt AES-CBC-PAD of OpenSSL's ciphertext" \
        p11u --decrypt --mechanism AES-CBC-PAD --iv "$IV" --id 11 -i "$D/cipher.openssl" -o "$D/plain3"
    check "the module decrypts OpenSSL's ciphertext to the plaintext" same_file "$D/plain" "$D/plain3"
else
    note "this pkcs11-tool has no --iv option: AES-CBC-PAD encrypt/decrypt steps skipped"
fi

# ---- PIN change ----

check "--change-pin" p11 --slot 0 --change-pin --pin "$PIN" --new-pin "$NEW_PIN"
check "login with the new PIN works" \
    p11 --slot 0 --login --pin "$NEW_PIN" --list-objects --type privkey
check "the new PIN sees the private keys" contains "$LAST_LOG" "label:      ec256"
check_fails "login with the old PIN fails" \
    p11 --slot 0 --login --pin "$PIN" --list-objects --type privkey
check "the old PIN is CKR_PIN_INCORRECT" contains "$LAST_LOG" "CKR_PIN_INCORRECT"
PIN=$NEW_PIN

# ---- deletion ----

check "--delete-object privkey id 03" p11u --delete-object --type privkey --id 03
check "--list-objects after deletion" p11u --list-objects
after=$LAST_LOG
check "RSA-2048 private key is gone" count_is "$after" '^Private Key Object; RSA' 1
check "RSA-2048 public key remains" count_is "$after" '^ +label: +rsa2048$' 1
check_fails "signing with the deleted key fails" \
    p11u --sign --mechanism SHA256-RSA-PKCS --id 03 -i "$D/data" -o "$D/gone.sig"

# ---- helpers for the sections below ----

# obj_field FILE HEADER LABEL FIELD: prints FIELD of the objects in a --list-objects output FILE
# whose header line starts with HEADER and whose label is LABEL; fails if there is none.
obj_field() {
    awk -v cls="$2" -v lbl="$3" -v fld="$4" '
        function flush() {
            if (inobj && lab == lbl && found != "") { print found; hit = 1 }
        }
        /^[^ ]/ { flush(); inobj = (index($0, cls) == 1); lab = ""; found = ""; next }
        inobj {
            line = $0
            sub(/^ +/, "", line)
            p = index(line, ":")
            if (p == 0) next
            k = substr(line, 1, p - 1)
            v = substr(line, p + 1)
            gsub(/^ +| +$/, "", v)
            if (k == "label") lab = v
            if (k == fld) found = v
        }
        END { flush(); exit !hit }' "$1"
}

# field_is FILE HEADER LABEL FIELD EXPECTED: that field is exactly EXPECTED (one object).
field_is() {
    local got
    got=$(obj_field "$1" "$2" "$3" "$4") || {
        printf 'no %s labelled %s with a %s line in %s\n' "$2" "$3" "$4" "$1"
        return 1
    }
    if [ "$got" != "$5" ]; then
        printf '%s of %s %s: expected %q, got %q\n' "$4" "$2" "$3" "$5" "$got"
        return 1
    fi
}

# pem_or_der_pubkey IN OUT_PEM: pkcs11-tool 0.23 writes most public keys as DER but Ed25519
# keys as PEM; normalise either to PEM and print the key's text.
pem_or_der_pubkey() {
    local inform=DER
    if grep -q -- '-----BEGIN PUBLIC KEY-----' "$1"; then
        inform=PEM
    fi
    openssl pkey -pubin -inform "$inform" -in "$1" -out "$2" &&
        openssl pkey -pubin -in "$2" -noout -text
}

# ec_pubkey ID NAME: exports the EC public key ID to $D/NAME.der and $D/NAME.pem, falling back
# to the SPKI built from the key's attributes where pkcs11-tool 0.23 cannot export it (see the
# P-384 note above).
ec_pubkey() {
    if ! p11 --slot 0 --read-object --type pubkey --id "$1" -o "$D/$2.der"; then
        printf 'pkcs11-tool 0.23 --read-object failed (client bug); using CKA_EC_PARAMS/CKA_EC_POINT\n'
        ec_spki_from_listing "$1" "$D/$2.der" || return 1
    fi
    openssl pkey -pubin -inform DER -in "$D/$2.der" -out "$D/$2.pem" &&
        openssl pkey -pubin -in "$D/$2.pem" -noout -text
}

# ed25519_spki_from_listing ID OUT: the SubjectPublicKeyInfo (DER) of an Ed25519 public key
# built from its CKA_EC_POINT (a DER OCTET STRING of the 32-byte key).
ed25519_spki_from_listing() {
    local listing point
    listing=$(p11 --slot 0 --list-objects --type pubkey) || return 1
    point=$(printf '%s\n' "$listing" | awk -v id="$1" '
        /^[A-Z][a-z]+ Key Object/ { pub = ($1 == "Public"); val = "" }
        $1 == "EC_POINT:" { val = $2 }
        $1 == "ID:" && pub && $2 == id && val != "" { print val; exit }')
    point=$(der_octet_string_content "$point") || {
        printf 'CKA_EC_POINT of %s is not a DER OCTET STRING\n' "$1"
        return 1
    }
    if [ "${#point}" -ne 64 ]; then
        printf 'Ed25519 CKA_EC_POINT holds %d bytes, expected 32\n' $((${#point} / 2))
        return 1
    fi
    # id-Ed25519 1.3.101.112
    write_hex "302a300506032b6570032100$point" "$2"
}

# flip_byte FILE OFFSET: inverts the bits of one byte of FILE in place.
flip_byte() {
    local v
    v=$(od -An -j"$2" -N1 -tu1 "$1" | tr -d ' ')
    printf '%b' "\\x$(printf '%02x' $((v ^ 0xff)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# verify_says EXPECTED ARGS...: runs `p11u --verify ARGS` and requires EXPECTED in its output
# (pkcs11-tool 0.23's --verify prints "Signature is valid" or "Invalid signature" and exits 0
# either way).
verify_says() {
    local expected=$1 out
    shift
    out=$(p11u --verify "$@" 2>&1) || {
        printf '%s\n' "$out"
        return 1
    }
    printf '%s\n' "$out"
    grep -qF -- "$expected" <<<"$out" || {
        printf 'expected %q from --verify\n' "$expected"
        return 1
    }
}

# fails_with RC_NAME CMD...: CMD must fail and print RC_NAME (e.g. CKR_KEY_UNEXTRACTABLE).
fails_with() {
    local want=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    printf '%s\n' "$out"
    if [ "$rc" -eq 0 ]; then
        printf 'expected a failure with %s, but it succeeded\n' "$want"
        return 1
    fi
    if [ "$rc" -gt 125 ]; then
        printf 'expected a clean failure with %s, got exit status %d\n' "$want" "$rc"
        return 1
    fi
    grep -qF -- "$want" <<<"$out" || {
        printf 'expected %s in the output\n' "$want"
        return 1
    }
}

# ---- more key generation: RSA-4096, P-521, Ed25519, AES-128, generic secret ----

check "--keypairgen rsa:4096 id 05" \
    p11u --keypairgen --key-type rsa:4096 --id 05 --label rsa4096
check "RSA-4096 key pair: public key is 4096 bits" contains "$LAST_LOG" "Public Key Object; RSA 4096 bits"
check "--keypairgen EC:secp521r1 id 06" \
    p11u --keypairgen --key-type EC:secp521r1 --id 06 --label ec521
check "P-521 key pair: EC_PARAMS is secp521r1" contains "$LAST_LOG" "EC_PARAMS:  06052b81040023"
# pkcs11-tool 0.23 spells Ed25519 `EC:edwards25519` (its --help mentions EC:ed25519, which it
# then rejects with "Unknown EC key params 'ed25519'") and sends CKA_EC_PARAMS as the
# PrintableString "edwards25519".
check "--keypairgen EC:edwards25519 id 07" \
    p11u --keypairgen --key-type EC:edwards25519 --id 07 --label ed25519
edgen=$LAST_LOG
check "Ed25519 key pair: the private key is CKK_EC_EDWARDS" \
    contains "$edgen" "Private Key Object; EC_EDWARDS"
check "Ed25519 key pair: the public key is a 255-bit EC_EDWARDS point" \
    contains "$edgen" "Public Key Object; EC_EDWARDS  EC_POINT 255 bits"
check "Ed25519 key pair: EC_PARAMS is the edwards25519 PrintableString" \
    contains "$edgen" "EC_PARAMS:  130c656477617264733235353139"
check "--keygen AES:16 id 12" p11u --keygen --key-type AES:16 --id 12 --label aes16
check "AES-128 key is 16 bytes" contains "$LAST_LOG" "Secret Key Object; AES length 16"
check "--keygen GENERIC:32 id 13" p11u --keygen --key-type GENERIC:32 --id 13 --label gen32
check "generic secret is 32 bytes" contains "$LAST_LOG" "Secret Key Object; Generic secret length 32"

check "--list-objects (logged in) after the new keys" p11u --list-objects
objs2=$LAST_LOG
check "generated keys are local, sensitive, never extractable" \
    field_is "$objs2" "Private Key Object; RSA" rsa4096 Access \
    "sensitive, always sensitive, never extractable, local"
check "the generated Ed25519 private key is local and never extractable" \
    field_is "$objs2" "Private Key Object; EC_EDWARDS" ed25519 Access \
    "sensitive, always sensitive, never extractable, local"
check "the generated generic secret is local and never extractable" \
    field_is "$objs2" "Secret Key Object; Generic secret" gen32 Access "never extractable, local"

check "--read-object pubkey id 05 -> DER -> PEM (openssl pkey)" read_pubkey_pem 05 rsa4096
check "RSA-4096 public key is 4096 bits" contains "$LAST_LOG" "Public-Key: (4096 bit)"
check "P-521 public key -> PEM (openssl pkey)" ec_pubkey 06 ec521
text=$LAST_LOG
check "P-521 public key is 521 bits" contains "$text" "Public-Key: (521 bit)"
check "P-521 public key is on secp521r1" contains "$text" "ASN1 OID: secp521r1"
check "P-521 SPKI from CKA_EC_PARAMS/CKA_EC_POINT" ec_spki_from_listing 06 "$D/ec521.attrs.der"
check "P-521 SPKI from the attributes equals the exported key" \
    same_file "$D/ec521.der" "$D/ec521.attrs.der"
check "--read-object pubkey id 07 (Ed25519)" \
    p11 --slot 0 --read-object --type pubkey --id 07 -o "$D/ed25519.out"
check "Ed25519 public key -> PEM (openssl pkey)" pem_or_der_pubkey "$D/ed25519.out" "$D/ed25519.pem"
check "the Ed25519 public key is an ED25519 key" contains "$LAST_LOG" "ED25519 Public-Key:"
check "Ed25519 SPKI from CKA_EC_POINT" ed25519_spki_from_listing 07 "$D/ed25519.attrs.der"
check "Ed25519 SPKI as DER (openssl pkey)" \
    openssl pkey -pubin -in "$D/ed25519.pem" -outform DER -out "$D/ed25519.der"
check "Ed25519 SPKI from the attributes equals the exported key" \
    same_file "$D/ed25519.der" "$D/ed25519.attrs.der"

# ---- pkcs11-tool's own self tests ----

# --test runs random, digest, signature, verification and decryption tests over every key
# (the signature and verification tests are RSA only in 0.23). It only uses mechanisms that
# have CKF_HW set unless --allow-sw is given; Custos is a software token and does not set
# CKF_HW, so the plain run skips the signature tests ("Signatures: not implemented") and the
# --allow-sw run covers them.
check "--test --login (pkcs11-tool self test)" p11u --test
selftest=$LAST_LOG
check "--test reports no errors" contains "$selftest" "No errors"
check "--test: all 4 digest functions work" contains "$selftest" "all 4 digest functions seem to work"
check "--test --login --allow-sw (self test including signatures)" p11u --test --allow-sw
selftest=$LAST_LOG
check "--test --allow-sw reports no errors" contains "$selftest" "No errors"
check "--test --allow-sw: all 4 signature functions work" \
    contains "$selftest" "all 4 signature functions seem to work"
check "--test --allow-sw: RSA-PKCS-OAEP decryption tested" contains "$selftest" "RSA-PKCS-OAEP"
check "--test --allow-sw: no failed test" lacks "$selftest" "ERR"

check "--list-objects --type privkey before --test-ec" p11u --list-objects --type privkey
privs_before=$(grep -c '^Private Key Object' "$LAST_LOG" || true)
# --test-ec generates an EC key pair, changes its CKA_ID to 20 bytes, signs, changes CKA_LABEL,
# CKA_ID and CKA_SUBJECT of the public key and deletes both. pkcs11-tool 0.23 opens a read-only
# session for it, so --session-rw is needed (without it Custos rightly refuses the token key
# pair with CKR_SESSION_READ_ONLY, checked below).
check "--test-ec --key-type EC:prime256v1" \
    p11u --session-rw --test-ec --id 20 --key-type EC:prime256v1
testec=$LAST_LOG
check "--test-ec (P-256) ends with OK" contains "$testec" "==> OK"
check "--test-ec (P-256) changed the attributes" \
    contains "$testec" "Changing the CKA_LABEL, CKA_ID and CKA_SUBJECT of the public key"
check "--test-ec --key-type EC:secp384r1" \
    p11u --session-rw --test-ec --id 20 --key-type EC:secp384r1
check "--test-ec (P-384) ends with OK" contains "$LAST_LOG" "==> OK"
check "--test-ec in a read-only session fails with CKR_SESSION_READ_ONLY" \
    fails_with CKR_SESSION_READ_ONLY p11u --test-ec --id 20 --key-type EC:prime256v1
check "--list-objects --type privkey after --test-ec" p11u --list-objects --type privkey
check "--test-ec deleted the key pairs it made" \
    count_is "$LAST_LOG" '^Private Key Object' "$privs_before"
check "--list-objects after --test-ec" p11u --list-objects
afterec=$LAST_LOG
check "no object with --test-ec's 20-byte CKA_ID is left" count_is "$afterec" '^ +ID: +[0-9a-f]{40}$' 0
check "no object with --test-ec's first CKA_ID (20) is left" count_is "$afterec" '^ +ID: +20$' 0

# ---- more signatures, verified by OpenSSL ----

check "--sign ECDSA-SHA512 (P-521, DER signature)" \
    p11u --sign --mechanism ECDSA-SHA512 --signature-format openssl --id 06 \
    -i "$D/data" -o "$D/ec521.sig"
check "openssl verifies ECDSA-SHA512 (P-521)" \
    openssl dgst -sha512 -verify "$D/ec521.pem" -signature "$D/ec521.sig" "$D/data"
check_fails "openssl rejects ECDSA-SHA512 (P-521) over tampered data" \
    openssl dgst -sha512 -verify "$D/ec521.pem" -signature "$D/ec521.sig" "$D/tampered"

openssl dgst -sha512 -binary "$D/data" >"$D/digest512"
check "--sign ECDSA (P-521) over a SHA-512 digest (raw r||s)" \
    p11u --sign --mechanism ECDSA --id 06 -i "$D/digest512" -o "$D/raw521.sig"
check "raw P-521 ECDSA signature is 132 bytes" size_is "$D/raw521.sig" 132
check "raw P-521 r||s converts to DER" ecdsa_raw_to_der "$D/raw521.sig" "$D/raw521.sig.der"
check "openssl pkeyutl verifies raw P-521 ECDSA over the digest" \
    openssl pkeyutl -verify -pubin -inkey "$D/ec521.pem" -in "$D/digest512" -sigfile "$D/raw521.sig.der"

check "--sign ECDSA-SHA256 (P-256, r||s) verified by the module (--verify)" \
    p11u --sign --mechanism ECDSA-SHA256 --id 01 -i "$D/data" -o "$D/ec256.rs.sig"
check "--verify ECDSA-SHA256: valid" \
    verify_says "Signature is valid" --mechanism ECDSA-SHA256 --id 01 -i "$D/data" \
    --signature-file "$D/ec256.rs.sig"
check "--verify ECDSA-SHA256 over tampered data: invalid" \
    verify_says "Invalid signature" --mechanism ECDSA-SHA256 --id 01 -i "$D/tampered" \
    --signature-file "$D/ec256.rs.sig"

# EdDSA (pure Ed25519, no context).
check "--sign EDDSA (Ed25519)" p11u --sign --mechanism EDDSA --id 07 -i "$D/data" -o "$D/ed.sig"
check "Ed25519 signature is 64 bytes" size_is "$D/ed.sig" 64
check "openssl pkeyutl -rawin verifies the Ed25519 signature" \
    openssl pkeyutl -verify -pubin -inkey "$D/ed25519.pem" -rawin -in "$D/data" -sigfile "$D/ed.sig"
check_fails "openssl rejects the Ed25519 signature over tampered data" \
    openssl pkeyutl -verify -pubin -inkey "$D/ed25519.pem" -rawin -in "$D/tampered" -sigfile "$D/ed.sig"
check "--verify EDDSA: valid" \
    verify_says "Signature is valid" --mechanism EDDSA --id 07 -i "$D/data" --signature-file "$D/ed.sig"
check "--verify EDDSA over tampered data: invalid" \
    verify_says "Invalid signature" --mechanism EDDSA --id 07 -i "$D/tampered" --signature-file "$D/ed.sig"

# RSA-X-509 (raw RSA) over a block padded by hand as EMSA-PKCS1-v1_5 with SHA-256.
digest_info="3031300d060960864801650304020105000420$(hex_of "$D/digest")"
pad=""
for ((i = 0; i < 384 - 3 - ${#digest_info} / 2; i++)); do pad+=ff; done
write_hex "0001${pad}00${digest_info}" "$D/block"
check "the hand-padded block is 384 bytes" size_is "$D/block" 384
check "--sign RSA-X-509 (raw RSA-3072) over the padded block" \
    p11u --sign --mechanism RSA-X-509 --id 04 -i "$D/block" -o "$D/x509.sig"
check "RSA-X-509 signature is 384 bytes" size_is "$D/x509.sig" 384
check "openssl pkeyutl -verifyrecover (no padding) recovers the block" \
    openssl pkeyutl -verifyrecover -pubin -inkey "$D/rsa3072.pem" -pkeyopt rsa_padding_mode:none \
    -in "$D/x509.sig" -out "$D/block.recovered"
check "the recovered block equals the signed block" same_file "$D/block" "$D/block.recovered"
check "openssl verifies the raw signature as SHA256 PKCS#1 v1.5" \
    openssl dgst -sha256 -verify "$D/rsa3072.pem" -signature "$D/x509.sig" "$D/data"

# RSA-PKCS (the module pads) over a DigestInfo.
write_hex "$digest_info" "$D/digestinfo"
check "--sign RSA-PKCS over a SHA-256 DigestInfo" \
    p11u --sign --mechanism RSA-PKCS --id 04 -i "$D/digestinfo" -o "$D/rsapkcs.sig"
check "RSA-PKCS over the DigestInfo equals RSA-X-509 over the padded block" \
    same_file "$D/rsapkcs.sig" "$D/x509.sig"

# RSA-PKCS-PSS over a digest, parameters given explicitly.
check "--sign RSA-PKCS-PSS over a SHA-256 digest (MGF1-SHA256, salt 32)" \
    p11u --sign --mechanism RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 --salt-len 32 \
    --id 04 -i "$D/digest" -o "$D/rawpss.sig"
check "openssl pkeyutl verifies the raw PSS signature" \
    openssl pkeyutl -verify -pubin -inkey "$D/rsa3072.pem" -pkeyopt rsa_padding_mode:pss \
    -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32 -in "$D/digest" -sigfile "$D/rawpss.sig"
check_fails "openssl pkeyutl rejects the raw PSS signature over the tampered digest" \
    openssl pkeyutl -verify -pubin -inkey "$D/rsa3072.pem" -pkeyopt rsa_padding_mode:pss \
    -pkeyopt digest:sha256 -pkeyopt rsa_pss_saltlen:32 -in "$D/digest.tampered" -sigfile "$D/rawpss.sig"

check "--sign SHA384-RSA-PKCS-PSS (RSA-3072)" \
    p11u --sign --mechanism SHA384-RSA-PKCS-PSS --id 04 -i "$D/data" -o "$D/pss3072.sig"
check "openssl verifies SHA384-RSA-PKCS-PSS (salt length 48)" \
    openssl dgst -sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:48 \
    -verify "$D/rsa3072.pem" -signature "$D/pss3072.sig" "$D/data"
check "--sign SHA512-RSA-PKCS (RSA-4096)" \
    p11u --sign --mechanism SHA512-RSA-PKCS --id 05 -i "$D/data" -o "$D/rsa4096.sig"
check "SHA512-RSA-PKCS (RSA-4096) signature is 512 bytes" size_is "$D/rsa4096.sig" 512
check "openssl verifies SHA512-RSA-PKCS (RSA-4096)" \
    openssl dgst -sha512 -verify "$D/rsa4096.pem" -signature "$D/rsa4096.sig" "$D/data"
check_fails "openssl rejects SHA512-RSA-PKCS (RSA-4096) over tampered data" \
    openssl dgst -sha512 -verify "$D/rsa4096.pem" -signature "$D/rsa4096.sig" "$D/tampered"

# ---- RSA decryption of data OpenSSL encrypted with the exported public key ----

head -c 48 /dev/urandom >"$D/secret"
check "openssl pkeyutl -encrypt (PKCS#1 v1.5)" \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rsa3072.pem" -in "$D/secret" -out "$D/secret.v15"
check "--decrypt RSA-PKCS" \
    p11u --decrypt --mechanism RSA-PKCS --id 04 -i "$D/secret.v15" -o "$D/secret.v15.out"
check "RSA-PKCS decryption restores the plaintext" same_file "$D/secret" "$D/secret.v15.out"
check "openssl pkeyutl -encrypt (OAEP SHA-1)" \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rsa3072.pem" -pkeyopt rsa_padding_mode:oaep \
    -in "$D/secret" -out "$D/secret.oaep1"
check "--decrypt RSA-PKCS-OAEP (SHA-1, MGF1-SHA1)" \
    p11u --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 --id 04 \
    -i "$D/secret.oaep1" -o "$D/secret.oaep1.out"
check "OAEP SHA-1 decryption restores the plaintext" same_file "$D/secret" "$D/secret.oaep1.out"
check "openssl pkeyutl -encrypt (OAEP SHA-256, MGF1-SHA256)" \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rsa3072.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$D/secret" -out "$D/secret.oaep256"
check "--decrypt RSA-PKCS-OAEP (SHA256, MGF1-SHA256)" \
    p11u --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 04 \
    -i "$D/secret.oaep256" -o "$D/secret.oaep256.out"
check "OAEP SHA-256 decryption restores the plaintext" same_file "$D/secret" "$D/secret.oaep256.out"
check_fails "--decrypt RSA-PKCS-OAEP with the wrong hash (SHA-1 for a SHA-256 ciphertext) fails" \
    p11u --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm SHA-1 --mgf MGF1-SHA1 --id 04 \
    -i "$D/secret.oaep256" -o "$D/secret.wrong"
check "openssl pkeyutl -encrypt (PKCS#1 v1.5, RSA-4096)" \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rsa4096.pem" -in "$D/secret" -out "$D/secret.4096"
check "--decrypt RSA-PKCS (RSA-4096)" \
    p11u --decrypt --mechanism RSA-PKCS --id 05 -i "$D/secret.4096" -o "$D/secret.4096.out"
check "RSA-4096 decryption restores the plaintext" same_file "$D/secret" "$D/secret.4096.out"

# ---- AES with known keys, against openssl enc ----

head -c 32 /dev/urandom >"$D/aes.key"
aes_hex=$(hex_of "$D/aes.key")
head -c 16 /dev/urandom >"$D/aes128.key"
aes128_hex=$(hex_of "$D/aes128.key")
check "--write-object secrkey AES:32 id 14 (known value)" \
    p11u --write-object "$D/aes.key" --type secrkey --key-type AES:32 --id 14 --label aes256-known
check "--write-object secrkey AES:16 id 15 (known value)" \
    p11u --write-object "$D/aes128.key" --type secrkey --key-type AES:16 --id 15 --label aes128-known
head -c 64 /dev/urandom >"$D/plain64"
head -c 100 /dev/urandom >"$D/plain100"

check "--encrypt AES-ECB (64 bytes)" \
    p11u --encrypt --mechanism AES-ECB --id 14 -i "$D/plain64" -o "$D/ecb.p11"
check "openssl enc -aes-256-ecb -nopad" \
    openssl enc -aes-256-ecb -nopad -K "$aes_hex" -in "$D/plain64" -out "$D/ecb.ossl"
check "AES-ECB ciphertext equals OpenSSL's" same_file "$D/ecb.p11" "$D/ecb.ossl"
check "--decrypt AES-ECB of OpenSSL's ciphertext" \
    p11u --decrypt --mechanism AES-ECB --id 14 -i "$D/ecb.ossl" -o "$D/ecb.plain"
check "AES-ECB decryption restores the plaintext" same_file "$D/plain64" "$D/ecb.plain"
check "--encrypt AES-ECB of 100 bytes fails with CKR_DATA_LEN_RANGE" \
    fails_with CKR_DATA_LEN_RANGE \
    p11u --encrypt --mechanism AES-ECB --id 14 -i "$D/plain100" -o "$D/ecb.bad"

check "--encrypt AES-CBC (64 bytes)" \
    p11u --encrypt --mechanism AES-CBC --iv "$IV" --id 14 -i "$D/plain64" -o "$D/cbc.p11"
check "openssl enc -aes-256-cbc -nopad" \
    openssl enc -aes-256-cbc -nopad -K "$aes_hex" -iv "$IV" -in "$D/plain64" -out "$D/cbc.ossl"
check "AES-CBC ciphertext equals OpenSSL's" same_file "$D/cbc.p11" "$D/cbc.ossl"
check "--decrypt AES-CBC of OpenSSL's ciphertext" \
    p11u --decrypt --mechanism AES-CBC --iv "$IV" --id 14 -i "$D/cbc.ossl" -o "$D/cbc.plain"
check "AES-CBC decryption restores the plaintext" same_file "$D/plain64" "$D/cbc.plain"

check "--encrypt AES-CBC-PAD (AES-128, 100 bytes)" \
    p11u --encrypt --mechanism AES-CBC-PAD --iv "$IV" --id 15 -i "$D/plain100" -o "$D/cbcpad.p11"
check "openssl enc -aes-128-cbc" \
    openssl enc -aes-128-cbc -K "$aes128_hex" -iv "$IV" -in "$D/plain100" -out "$D/cbcpad.ossl"
check "AES-128-CBC-PAD ciphertext equals OpenSSL's" same_file "$D/cbcpad.p11" "$D/cbcpad.ossl"
check "--decrypt AES-CBC-PAD (AES-128) of OpenSSL's ciphertext" \
    p11u --decrypt --mechanism AES-CBC-PAD --iv "$IV" --id 15 -i "$D/cbcpad.ossl" -o "$D/cbcpad.plain"
check "AES-128-CBC-PAD decryption restores the plaintext" same_file "$D/plain100" "$D/cbcpad.plain"
head -c 112 "$D/cbcpad.ossl" | head -c 111 >"$D/cbcpad.short"
check "--decrypt AES-CBC-PAD of a truncated ciphertext fails" \
    fails_with CKR_ENCRYPTED_DATA_LEN_RANGE \
    p11u --decrypt --mechanism AES-CBC-PAD --iv "$IV" --id 15 -i "$D/cbcpad.short" -o "$D/cbcpad.bad"

# pkcs11-tool 0.23's --encrypt/--decrypt only build parameters for AES-ECB, AES-CBC and
# AES-CBC-PAD ("Mechanism AES-GCM illegal or not supported" comes from the tool, before any
# call into the module); it has no --aad/--tag-bits-len options.
note "pkcs11-tool 0.23 cannot drive AES-GCM or AES-CTR (--encrypt supports only AES-ECB/CBC/CBC-PAD); not covered here"

# ---- wrap / unwrap ----

head -c 32 /dev/urandom >"$D/kek"
kek_hex=$(hex_of "$D/kek")
head -c 32 /dev/urandom >"$D/target.key"
check "--write-object secrkey AES:32 id 40 (the wrapping key, known value)" \
    p11u --write-object "$D/kek" --type secrkey --key-type AES:32 --id 40 --label kek --usage-wrap
check "--write-object secrkey AES:32 id 41 --extractable (the key to wrap)" \
    p11u --write-object "$D/target.key" --type secrkey --key-type AES:32 --id 41 \
    --label wrap-me --extractable
check "--read-object secrkey id 41 (extractable, not sensitive)" \
    p11u --read-object --type secrkey --id 41 -o "$D/target.read"
check "the read value equals the imported key" same_file "$D/target.key" "$D/target.read"
check "--read-object secrkey of a non-extractable key fails with CKR_ATTRIBUTE_SENSITIVE" \
    fails_with CKR_ATTRIBUTE_SENSITIVE p11u --read-object --type secrkey --id 40 -o "$D/kek.read"

check "--wrap AES-KEY-WRAP (RFC 3394)" \
    p11u --wrap --mechanism AES-KEY-WRAP --id 40 --application-id 41 -o "$D/kw.p11"
check "AES-KEY-WRAP of a 32-byte key is 40 bytes" size_is "$D/kw.p11" 40
check "openssl enc -id-aes256-wrap (default IV A6A6A6A6A6A6A6A6)" \
    openssl enc -id-aes256-wrap -K "$kek_hex" -iv a6a6a6a6a6a6a6a6 -in "$D/target.key" -out "$D/kw.ossl"
check "the module's AES-KEY-WRAP output equals OpenSSL's" same_file "$D/kw.p11" "$D/kw.ossl"

# pkcs11-tool 0.23 has no name for RFC 5649 wrapping: it only knows "AES-KEY-WRAP" (0x2109).
# Custos implements it as CKM_AES_KEY_WRAP_KWP (0x210B), which is OpenSSL's -id-aes256-wrap-pad.
check "--wrap CKM_AES_KEY_WRAP_KWP (0x210B, RFC 5649)" \
    p11u --wrap --mechanism 0x210B --id 40 --application-id 41 -o "$D/kwp.p11"
check "openssl enc -id-aes256-wrap-pad (default IV A65959A6)" \
    openssl enc -id-aes256-wrap-pad -K "$kek_hex" -iv a65959a6 -in "$D/target.key" -out "$D/kwp.ossl"
check "the module's KWP output equals OpenSSL's" same_file "$D/kwp.p11" "$D/kwp.ossl"

check "--wrap of a non-extractable key fails with CKR_KEY_UNEXTRACTABLE" \
    fails_with CKR_KEY_UNEXTRACTABLE \
    p11u --wrap --mechanism AES-KEY-WRAP --id 41 --application-id 40 -o "$D/kek.wrapped"

head -c 32 /dev/urandom >"$D/unwrap.key"
unwrap_hex=$(hex_of "$D/unwrap.key")
check "openssl enc -id-aes256-wrap of a fresh AES key" \
    openssl enc -id-aes256-wrap -K "$kek_hex" -iv a6a6a6a6a6a6a6a6 -in "$D/unwrap.key" -out "$D/unwrap.kw"
check "--unwrap AES-KEY-WRAP -> AES key id 42" \
    p11u --unwrap --mechanism AES-KEY-WRAP --id 40 -i "$D/unwrap.kw" --key-type AES: \
    --application-id 42 --application-label unwrapped-aes --extractable
check "--read-object secrkey id 42 (the unwrapped key)" \
    p11u --read-object --type secrkey --id 42 -o "$D/unwrap.read"
check "the unwrapped key's value equals the key OpenSSL wrapped" same_file "$D/unwrap.key" "$D/unwrap.read"
check "--encrypt AES-CBC-PAD with the unwrapped key" \
    p11u --encrypt --mechanism AES-CBC-PAD --iv "$IV" --id 42 -i "$D/plain100" -o "$D/unwrap.p11"
check "openssl enc -aes-256-cbc with the key OpenSSL wrapped" \
    openssl enc -aes-256-cbc -K "$unwrap_hex" -iv "$IV" -in "$D/plain100" -out "$D/unwrap.ossl"
check "the unwrapped key encrypts like OpenSSL's key" same_file "$D/unwrap.p11" "$D/unwrap.ossl"
cp "$D/unwrap.kw" "$D/unwrap.kw.bad"
flip_byte "$D/unwrap.kw.bad" 5
check "the corrupted wrapped key differs" different_file "$D/unwrap.kw" "$D/unwrap.kw.bad"
check_fails "--unwrap AES-KEY-WRAP of a corrupted blob fails" \
    p11u --unwrap --mechanism AES-KEY-WRAP --id 40 -i "$D/unwrap.kw.bad" --key-type AES: \
    --application-id 43 --application-label must-not-exist
check "--list-objects after the failed unwrap" p11u --list-objects --type secrkey
check "the failed unwrap left no key behind" lacks "$LAST_LOG" "must-not-exist"

# RSA wrap with a public key whose private half OpenSSL holds (imported below as id 50).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/imp-rsa.pem" 2>/dev/null
openssl pkey -in "$D/imp-rsa.pem" -outform DER -out "$D/imp-rsa.der"
openssl pkey -in "$D/imp-rsa.pem" -pubout -out "$D/imp-rsa.pub.pem"
check "--write-object pubkey (RSA PEM) id 50" \
    p11u --write-object "$D/imp-rsa.pub.pem" --type pubkey --id 50 --label imp-rsa
check "--wrap RSA-PKCS of the AES key with the imported public key" \
    p11u --wrap --mechanism RSA-PKCS --id 50 --application-id 41 -o "$D/rsawrap.p11"
check "openssl pkeyutl -decrypt unwraps it with the private key" \
    openssl pkeyutl -decrypt -inkey "$D/imp-rsa.pem" -in "$D/rsawrap.p11" -out "$D/rsawrap.plain"
check "the RSA-wrapped key is the AES key" same_file "$D/target.key" "$D/rsawrap.plain"
# pkcs11-tool 0.23 passes no CK_RSA_PKCS_OAEP_PARAMS to C_WrapKey/C_UnwrapKey (pParameter NULL
# even with --hash-algorithm/--mgf), which the module must and does refuse with
# CKR_MECHANISM_PARAM_INVALID; OAEP wrapping cannot be driven from this client version.
note "pkcs11-tool 0.23 sends RSA-PKCS-OAEP wrap/unwrap without parameters (CKR_MECHANISM_PARAM_INVALID); OAEP wrapping not covered"

# ---- HMAC with a generic secret whose value OpenSSL knows ----

# pkcs11-tool 0.23 cannot --write-object a generic secret ("Unknown key type: 0x10"), so the
# known HMAC key is brought in with --unwrap, here with RFC 5649 wrapping of a 20-byte value
# (not a multiple of 8, so the padding matters).
head -c 20 /dev/urandom >"$D/hmac.key"
hmac_hex=$(hex_of "$D/hmac.key")
check "openssl enc -id-aes256-wrap-pad of a 20-byte HMAC key" \
    openssl enc -id-aes256-wrap-pad -K "$kek_hex" -iv a65959a6 -in "$D/hmac.key" -out "$D/hmac.kwp"
check "--unwrap 0x210B -> generic secret id 31" \
    p11u --unwrap --mechanism 0x210B --id 40 -i "$D/hmac.kwp" --key-type GENERIC: \
    --application-id 31 --application-label hmac-known
check "the unwrapped HMAC key is a 20-byte generic secret" \
    contains "$LAST_LOG" "Secret Key Object; Generic secret length 20"
check "--sign SHA256-HMAC" p11u --sign --mechanism SHA256-HMAC --id 31 -i "$D/data" -o "$D/hmac.p11"
check "HMAC-SHA256 is 32 bytes" size_is "$D/hmac.p11" 32
openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hmac_hex" -binary -out "$D/hmac.ossl" "$D/data"
check "the module's HMAC-SHA256 equals openssl dgst -mac HMAC" same_file "$D/hmac.p11" "$D/hmac.ossl"
check "--sign SHA512-HMAC" p11u --sign --mechanism SHA512-HMAC --id 31 -i "$D/data" -o "$D/hmac512.p11"
openssl dgst -sha512 -mac HMAC -macopt "hexkey:$hmac_hex" -binary -out "$D/hmac512.ossl" "$D/data"
check "the module's HMAC-SHA512 equals OpenSSL's" same_file "$D/hmac512.p11" "$D/hmac512.ossl"
check "--verify SHA256-HMAC of OpenSSL's MAC: valid" \
    verify_says "Signature is valid" --mechanism SHA256-HMAC --id 31 -i "$D/data" \
    --signature-file "$D/hmac.ossl"
check "--verify SHA256-HMAC over tampered data: invalid" \
    verify_says "Invalid signature" --mechanism SHA256-HMAC --id 31 -i "$D/tampered" \
    --signature-file "$D/hmac.ossl"
check "--sign SHA256-HMAC with the generated generic secret" \
    p11u --sign --mechanism SHA256-HMAC --id 13 -i "$D/data" -o "$D/hmac.gen"
check "--verify SHA256-HMAC with the generated generic secret: valid" \
    verify_says "Signature is valid" --mechanism SHA256-HMAC --id 13 -i "$D/data" \
    --signature-file "$D/hmac.gen"
check "keys differ, so MACs differ" different_file "$D/hmac.gen" "$D/hmac.p11"

# ---- ECDH ----

ecdh_with_openssl() { # ID CURVE NAME
    openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$2" -out "$D/peer-$3.pem" &&
        openssl pkey -in "$D/peer-$3.pem" -pubout -outform DER -out "$D/peer-$3.der" &&
        p11u --derive --mechanism ECDH1-DERIVE --id "$1" -i "$D/peer-$3.der" -o "$D/ecdh-$3.p11" &&
        openssl pkeyutl -derive -inkey "$D/peer-$3.pem" -peerkey "$D/$3.pem" -out "$D/ecdh-$3.ossl"
}
check "--derive ECDH1-DERIVE (P-256) with an OpenSSL peer" ecdh_with_openssl 01 P-256 ec256
check "ECDH P-256 secret is 32 bytes" size_is "$D/ecdh-ec256.p11" 32
check "ECDH P-256 secret equals openssl pkeyutl -derive" same_file "$D/ecdh-ec256.p11" "$D/ecdh-ec256.ossl"
# --derive-pass-der sends the peer point wrapped in a DER OCTET STRING, which PKCS#11 also allows.
check "--derive ECDH1-DERIVE --derive-pass-der (P-256, DER-wrapped peer point)" \
    p11u --derive --derive-pass-der --mechanism ECDH1-DERIVE --id 01 -i "$D/peer-ec256.der" \
    -o "$D/ecdh-ec256.der.p11"
check "the DER-wrapped peer point gives the same secret" same_file "$D/ecdh-ec256.der.p11" "$D/ecdh-ec256.ossl"
check "--derive ECDH1-DERIVE (P-521) with an OpenSSL peer" ecdh_with_openssl 06 P-521 ec521
check "ECDH P-521 secret is 66 bytes" size_is "$D/ecdh-ec521.p11" 66
check "ECDH P-521 secret equals openssl pkeyutl -derive" same_file "$D/ecdh-ec521.p11" "$D/ecdh-ec521.ossl"
check "--derive ECDH1-DERIVE with a peer on the wrong curve fails" \
    fails_with CKR_MECHANISM_PARAM_INVALID p11u --derive --mechanism ECDH1-DERIVE --id 01 -i "$D/peer-ec521.der" \
    -o "$D/ecdh-wrong"

# ---- digests and random ----

for pair in SHA-1:sha1 SHA224:sha224 SHA384:sha384 SHA512:sha512 \
    SHA3-224:sha3-224 SHA3-256:sha3-256 SHA3-384:sha3-384 SHA3-512:sha3-512; do
    mech=${pair%%:*}
    alg=${pair#*:}
    openssl dgst "-$alg" -binary -out "$D/digest.$alg.ossl" "$D/data"
    check "--hash $mech" p11 --slot 0 --hash --mechanism "$mech" -i "$D/data" -o "$D/digest.$alg.p11"
    check "--hash $mech equals openssl dgst -$alg" same_file "$D/digest.$alg.p11" "$D/digest.$alg.ossl"
done
check "--generate-random 1000" p11 --slot 0 --generate-random 1000 -o "$D/rand3"
check "--generate-random returned 1000 bytes" size_is "$D/rand3" 1000

# ---- importing keys, certificates and data objects ----

check "--write-object privkey (RSA, PEM) id 50" \
    p11u --write-object "$D/imp-rsa.pem" --type privkey --id 50 --label imp-rsa
check "--write-object privkey (RSA, DER) id 51" \
    p11u --write-object "$D/imp-rsa.der" --type privkey --id 51 --label imp-rsa-der
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/imp-ec.pem"
openssl pkey -in "$D/imp-ec.pem" -outform DER -out "$D/imp-ec.der"
openssl pkey -in "$D/imp-ec.pem" -pubout -outform DER -out "$D/imp-ec.pub.der"
openssl pkey -in "$D/imp-ec.pem" -pubout -out "$D/imp-ec.pub.pem"
check "--write-object privkey (EC P-256, DER) id 53" \
    p11u --write-object "$D/imp-ec.der" --type privkey --id 53 --label imp-ec
check "--write-object pubkey (EC P-256, DER) id 53" \
    p11u --write-object "$D/imp-ec.pub.der" --type pubkey --id 53 --label imp-ec
check "--list-objects after the imports" p11u --list-objects
imported=$LAST_LOG
check "an imported RSA private key is sensitive but neither local nor always sensitive" \
    field_is "$imported" "Private Key Object; RSA" imp-rsa Access "sensitive"
check "an imported EC private key is sensitive but not local" \
    field_is "$imported" "Private Key Object; EC" imp-ec Access "sensitive"

check "--sign SHA256-RSA-PKCS with the imported PEM key" \
    p11u --sign --mechanism SHA256-RSA-PKCS --id 50 -i "$D/data" -o "$D/imp-rsa.sig"
check "openssl verifies it with the original key" \
    openssl dgst -sha256 -verify "$D/imp-rsa.pub.pem" -signature "$D/imp-rsa.sig" "$D/data"
openssl dgst -sha256 -sign "$D/imp-rsa.pem" -out "$D/imp-rsa.ossl.sig" "$D/data"
check "RSA PKCS#1 v1.5 is deterministic: the imported key signs like OpenSSL" \
    same_file "$D/imp-rsa.sig" "$D/imp-rsa.ossl.sig"
check "--sign SHA256-RSA-PKCS with the imported DER key" \
    p11u --sign --mechanism SHA256-RSA-PKCS --id 51 -i "$D/data" -o "$D/imp-rsa-der.sig"
check "the DER import is the same key" same_file "$D/imp-rsa.sig" "$D/imp-rsa-der.sig"
check "--verify SHA256-RSA-PKCS of OpenSSL's signature with the imported public key: valid" \
    verify_says "Signature is valid" --mechanism SHA256-RSA-PKCS --id 50 -i "$D/data" \
    --signature-file "$D/imp-rsa.ossl.sig"
check "--verify of OpenSSL's signature over tampered data: invalid" \
    verify_says "Invalid signature" --mechanism SHA256-RSA-PKCS --id 50 -i "$D/tampered" \
    --signature-file "$D/imp-rsa.ossl.sig"
head -c 32 /dev/urandom >"$D/generic.key"
openssl pkeyutl -encrypt -pubin -inkey "$D/imp-rsa.pub.pem" -in "$D/generic.key" -out "$D/generic.rsa"
check "--unwrap RSA-PKCS (OpenSSL-encrypted key) -> generic secret id 44" \
    p11u --unwrap --mechanism RSA-PKCS --id 50 -i "$D/generic.rsa" --key-type GENERIC: \
    --application-id 44 --application-label rsa-unwrapped --extractable
check "--read-object secrkey id 44" p11u --read-object --type secrkey --id 44 -o "$D/generic.read"
check "the RSA-unwrapped key equals the original" same_file "$D/generic.key" "$D/generic.read"

check "--sign ECDSA-SHA256 with the imported EC key" \
    p11u --sign --mechanism ECDSA-SHA256 --signature-format openssl --id 53 -i "$D/data" \
    -o "$D/imp-ec.sig"
check "openssl verifies it with the original EC key" \
    openssl dgst -sha256 -verify "$D/imp-ec.pub.pem" -signature "$D/imp-ec.sig" "$D/data"
openssl dgst -sha256 -sign "$D/imp-ec.pem" -out "$D/imp-ec.ossl.sig" "$D/data"
check "--verify ECDSA-SHA256 of OpenSSL's DER signature with the imported public key: valid" \
    verify_says "Signature is valid" --mechanism ECDSA-SHA256 --signature-format openssl --id 53 \
    -i "$D/data" --signature-file "$D/imp-ec.ossl.sig"

openssl req -x509 -new -key "$D/imp-rsa.pem" -subj "/CN=custos interop" -days 2 \
    -out "$D/cert.pem" 2>/dev/null
openssl x509 -in "$D/cert.pem" -outform DER -out "$D/cert.der"
check "--write-object cert (DER) id 50" \
    p11u --write-object "$D/cert.der" --type cert --id 50 --label imp-cert
check "the certificate's subject is listed" contains "$LAST_LOG" "subject:    DN: CN=custos interop"
check "--write-object cert (PEM) id 51" \
    p11u --write-object "$D/cert.pem" --type cert --id 51 --label imp-cert-pem
check "--read-object cert id 50 (not logged in)" p11 --slot 0 --read-object --type cert --id 50 -o "$D/cert.read"
check "the certificate read back equals the DER written" same_file "$D/cert.der" "$D/cert.read"
check "--read-object cert id 51 (PEM import)" p11 --slot 0 --read-object --type cert --id 51 -o "$D/cert2.read"
check "the PEM import holds the same DER certificate" same_file "$D/cert.der" "$D/cert2.read"

printf 'a public data object\n' >"$D/data.pub"
printf 'a private data object\n' >"$D/data.priv"
check "--write-object data (public) application app-pub" \
    p11u --write-object "$D/data.pub" --type data --application-label app-pub --label dpub \
    --application-id 1.2.3.4
check "the data object lists its OID" contains "$LAST_LOG" "app_id:         1.2.3.4"
check "--write-object data --private application app-priv" \
    p11u --write-object "$D/data.priv" --type data --application-label app-priv --label dpriv --private
check "--read-object data by application label (logged in)" \
    p11u --read-object --type data --application-label app-priv -o "$D/data.priv.read"
check "the private data object reads back" same_file "$D/data.priv" "$D/data.priv.read"
check "--read-object data by label (not logged in)" \
    p11 --slot 0 --read-object --type data --label dpub -o "$D/data.pub.read"
check "the public data object reads back" same_file "$D/data.pub" "$D/data.pub.read"
check "--list-objects --type data (not logged in)" p11 --slot 0 --list-objects --type data
anondata=$LAST_LOG
check "without login the public data object is listed" contains "$anondata" "application:    'app-pub'"
check "without login the private data object is not listed" lacks "$anondata" "app-priv"
check_fails "--read-object of the private data object without login fails" \
    p11 --slot 0 --read-object --type data --application-label app-priv -o "$D/data.priv.anon"

# ---- attribute changes ----

# pkcs11-tool 0.23 can change CKA_ID (--set-id) but has no option to change other attributes
# (no --set-attribute); CKA_LABEL/CKA_SUBJECT changes are exercised by --test-ec above.
check "--set-id 60 on the imported EC private key (id 53)" \
    p11u --set-id 60 --id 53 --type privkey
check "--set-id 60 on the imported EC public key (id 53)" \
    p11u --set-id 60 --id 53 --type pubkey
check "--set-id 62 on the certificate id 51" p11u --set-id 62 --id 51 --type cert
check "--list-objects after --set-id" p11u --list-objects
setid=$LAST_LOG
check "the EC private key now has ID 60" field_is "$setid" "Private Key Object; EC" imp-ec ID 60
check "the EC public key now has ID 60" field_is "$setid" "Public Key Object; EC" imp-ec ID 60
check "the certificate now has ID 62" field_is "$setid" "Certificate Object" imp-cert-pem ID 62
check "no object has ID 53 any more" lacks "$setid" "ID:         53"
check "--sign ECDSA-SHA256 with the key found by its new ID" \
    p11u --sign --mechanism ECDSA-SHA256 --signature-format openssl --id 60 -i "$D/data" \
    -o "$D/imp-ec2.sig"
check "openssl verifies the signature of the renamed key" \
    openssl dgst -sha256 -verify "$D/imp-ec.pub.pem" -signature "$D/imp-ec2.sig" "$D/data"
check "--set-id on a data object fails with CKR_ATTRIBUTE_TYPE_INVALID (data objects have no CKA_ID)" \
    fails_with CKR_ATTRIBUTE_TYPE_INVALID p11u --set-id 61 --label dpub --type data

# ---- deleting other kinds of object ----

check "--delete-object data (application app-priv)" \
    p11u --delete-object --type data --application-label app-priv
check "--delete-object cert id 62" p11u --delete-object --type cert --id 62
check "--delete-object secrkey id 31" p11u --delete-object --type secrkey --id 31
check "--list-objects after the deletions" p11u --list-objects
deleted=$LAST_LOG
check "the private data object is gone" lacks "$deleted" "app-priv"
check "the public data object remains" contains "$deleted" "application:    'app-pub'"
check "one certificate remains" count_is "$deleted" '^Certificate Object' 1
check "the HMAC key is gone" lacks "$deleted" "hmac-known"
check_fails "HMAC with the deleted key fails" \
    p11u --sign --mechanism SHA256-HMAC --id 31 -i "$D/data" -o "$D/hmac.gone"

# ---- threads and fork ----

# --test-threads starts one thread per option, each running a string of two-letter commands
# with no separators (0.23: IN C_Initialize(NULL), IL C_Initialize with CKF_OS_LOCKING_OK,
# GI C_GetInfo, SL C_GetSlotList, Tn C_GetTokenInfo of slot index n (after SL), Pn pause n s).
# The main thread runs its own command meanwhile (here the self test); if threads are still
# running when it is done, 0.23 sleeps 30 s before reporting, so the threads are kept short.
# pkcs11-tool exits 0 even when a thread fails, so the report is checked.
check "--test-threads (3 threads) alongside --test" \
    p11 --test-threads INGISLT0T1 --test-threads ILSLGIT0T1T2T3 \
    --test-threads INSLT0GISLT0 --slot 0 --login --pin "$PIN" --test --allow-sw
threads=$LAST_LOG
check "--test-threads: all threads ended with CKR_OK" \
    contains "$threads" "test_threads all threads have ended with CKR_OK"
check "--test-threads: each of the 3 threads returned CKR_OK" \
    count_is "$threads" 'test_threads thread:[0-2] state:-1, rv:CKR_OK$' 3
check "--test-threads: every C_GetInfo/C_GetSlotList/C_Initialize returned CKR_OK or ALREADY_INITIALIZED" \
    count_is "$threads" 'returned CKR_(OK|CRYPTOKI_ALREADY_INITIALIZED)$' \
    "$(grep -c 'returned ' "$threads" || true)"
check "--test-threads: the threads read token info" contains "$threads" "C_GetTokenInfo from slot_index 3"
check "--test-threads: the main thread's self test has no errors" contains "$threads" "No errors"

# --test-fork forks after C_Initialize and calls C_Initialize in the child, which must succeed
# (the child exits non-zero otherwise); the parent then lists the private keys.
check "--test-fork (C_Initialize in a forked child)" \
    p11u --test-fork --list-objects --type privkey
forked=$LAST_LOG
check "--test-fork: the child called C_Initialize" \
    contains "$forked" "Calling C_Initialize in forked child process"
check "--test-fork: the child's C_Initialize did not fail" lacks "$forked" "C_Initialize in child"
check "--test-fork: the parent still lists the private keys" contains "$forked" "label:      ec256"

finish
