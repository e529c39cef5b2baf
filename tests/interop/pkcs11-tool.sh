#!/usr/bin/env bash
# Drives the real Custos PKCS#11 module with OpenSC's pkcs11-tool and checks every result it can
# with OpenSSL: token setup, key generation, signatures (ECDSA P-256/P-384, RSA PKCS#1 v1.5 and
# PSS, raw ECDSA over a digest), objects, random, digests, AES-CBC-PAD, PIN change, deletion.
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

p11() {
    pkcs11-tool --module "$MODULE" "$@"
}
# On slot 0, logged in as the user with PIN $PIN.
p11u() {
    pkcs11-tool --module "$MODULE" --slot 0 --login --pin "$PIN" "$@"
}

# ---- the store ----

check "custos init --dev creates a store" "$CUSTOS" init --store "$WORK/store" --dev
check "the store directory exists" test -d "$WORK/store"

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

finish
