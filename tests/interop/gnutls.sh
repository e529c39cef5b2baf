#!/usr/bin/env bash
# Drives the real Custos PKCS#11 module with GnuTLS (p11tool, certtool, gnutls-serv, gnutls-cli)
# and checks every result it can with OpenSSL: token listing and initialisation, RSA and EC key
# generation, test signatures, public key export (compared with pkcs11-tool's view), certificates
# and a certificate request signed by token keys, objects written, read back, renamed and deleted,
# key import, and TLS handshakes in which the server's (or the client's) key lives in the token.
#
# Environment:
#   MODULE  path to libcustos_pkcs11.so
#   CUSTOS  path to the custos binary
#   WORK    an empty scratch directory
#
# Needs gnutls-bin (p11tool, certtool, gnutls-serv, gnutls-cli), openssl and opensc (pkcs11-tool).
# Prints `ok N - ...` per check and ends with `interop gnutls: N passed, 0 failed`.

set -euo pipefail
set -E

SUITE=gnutls
# shellcheck source=tests/interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tool p11tool gnutls-bin
require_tool certtool gnutls-bin
require_tool gnutls-serv gnutls-bin
require_tool gnutls-cli gnutls-bin
require_tool openssl openssl
require_tool pkcs11-tool opensc
require_tool timeout coreutils
require_tool od coreutils
require_env MODULE CUSTOS WORK
[ -f "$MODULE" ] || die "MODULE=$MODULE does not exist (build the crate: cargo build)"
[ -x "$CUSTOS" ] || die "CUSTOS=$CUSTOS is not an executable (build the crate: cargo build)"
interop_init

SO_PIN=12345678
PIN=1234
TOKEN=gnutls

D="$WORK/files"
mkdir -p "$D" "$WORK/home"

# The module reads its store from here; nothing else from the caller's environment. HOME is
# private so that no user configuration (GnuTLS, p11-kit, Custos) takes part.
unset CUSTOS_CONF CUSTOS_SHARES CUSTOS_DEBUG
export CUSTOS_STORE="$WORK/store"
export CUSTOS_QUIET=1
export HOME="$WORK/home"
export XDG_CONFIG_HOME="$WORK/home/.config"
# p11tool and certtool take the PINs from these variables (they would prompt otherwise).
export GNUTLS_PIN=$PIN
export GNUTLS_SO_PIN=$SO_PIN

# Every server started here is stopped when the script ends, however it ends.
SERVER_PIDS=()
cleanup() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# With --provider, the GnuTLS tools load only this module (not the p11-kit registered ones).
p11() {
    timeout 60 p11tool --provider "$MODULE" --batch "$@" </dev/null
}
p11u() {
    timeout 60 p11tool --provider "$MODULE" --batch --login "$@" </dev/null
}
ct() {
    timeout 60 certtool --provider "$MODULE" "$@" </dev/null
}
p11tool_pkcs11() { # pkcs11-tool, for the independent view of the same token
    timeout 60 pkcs11-tool --module "$MODULE" "$@" </dev/null
}

URL="pkcs11:token=$TOKEN"
RSA_PRIV="$URL;object=rsa;type=private"
RSA_PUB="$URL;object=rsa;type=public"
EC_PRIV="$URL;object=ec;type=private"

# ---- the store and the token ----

check "custos init --dev creates a store" "$CUSTOS" init --store "$WORK/store" --dev
check "custos token init slot 0 label $TOKEN" \
    "$CUSTOS" token init --store "$WORK/store" --slot 0 --label "$TOKEN" --so-pin "$SO_PIN" --pin "$PIN"

check "p11tool --list-tokens" p11 --list-tokens
tokens=$LAST_LOG
check "--list-tokens shows the token's URL" \
    grep -qE "URL: pkcs11:model=Custos;manufacturer=Custos;serial=[0-9a-f]{16};token=$TOKEN\$" "$tokens"
check "--list-tokens shows the label" grep -qE "^\s+Label: $TOKEN\$" "$tokens"
check "--list-tokens: the token needs a login" grep -qE "^\s+Flags: .*Requires login" "$tokens"
# GnuTLS lists initialised tokens only: the three uninitialised slots do not appear.
check "--list-tokens shows exactly one (initialised) token" count_is "$tokens" '^\s+Label:' 1

check "p11tool --list-token-urls" p11 --list-token-urls
check "--list-token-urls names the token" grep -qE "^pkcs11:.*;token=$TOKEN\$" "$LAST_LOG"

check "p11tool --list-mechanisms" p11 --list-mechanisms "$URL"
mechs=$LAST_LOG
# By number: GnuTLS prints 0x1040 under its old name CKM_ECDSA_KEY_PAIR_GEN.
for m in 0x0000:CKM_RSA_PKCS_KEY_PAIR_GEN 0x0001:CKM_RSA_PKCS 0x000d:CKM_RSA_PKCS_PSS \
    0x1040:CKM_EC_KEY_PAIR_GEN 0x1041:CKM_ECDSA 0x0250:CKM_SHA256; do
    check "--list-mechanisms lists ${m#*:}" grep -qiE "^\[${m%%:*}\] " "$mechs"
done

# ---- key generation ----

check "--generate-privkey rsa --bits 2048 (label rsa, id 01)" \
    p11u --generate-privkey rsa --bits 2048 --label rsa --id 01 --outfile "$D/rsa.gen.pem" "$URL"
check "the generated RSA public key is 2048 bits (openssl)" \
    openssl pkey -pubin -in "$D/rsa.gen.pem" -noout -text
check "... Public-Key: (2048 bit)" contains "$LAST_LOG" "Public-Key: (2048 bit)"

check "--generate-privkey ecdsa --curve secp256r1 (label ec, id 02)" \
    p11u --generate-privkey ecdsa --curve secp256r1 --label ec --id 02 --outfile "$D/ec.gen.pem" "$URL"
check "the generated EC public key is on prime256v1 (openssl)" \
    openssl pkey -pubin -in "$D/ec.gen.pem" -noout -text
check "... ASN1 OID: prime256v1" contains "$LAST_LOG" "ASN1 OID: prime256v1"

check "--generate-privkey ecdsa --curve secp384r1 (label ec384, id 03)" \
    p11u --generate-privkey ecdsa --curve secp384r1 --label ec384 --id 03 --outfile "$D/ec384.gen.pem" "$URL"
check "the generated EC public key is on secp384r1 (openssl)" \
    openssl pkey -pubin -in "$D/ec384.gen.pem" -noout -text
check "... ASN1 OID: secp384r1" contains "$LAST_LOG" "ASN1 OID: secp384r1"

# ---- listing ----

check "--list-all without login" p11 --list-all "$URL"
public_list=$LAST_LOG
check "without login: 3 public keys" count_is "$public_list" '^\s+Type: Public key' 3
check "without login: no private key" count_is "$public_list" '^\s+Type: Private key' 0

check "--login --list-all" p11u --list-all "$URL"
all=$LAST_LOG
check "logged in: 3 private keys" count_is "$all" '^\s+Type: Private key' 3
check "logged in: RSA-2048 private key listed" contains "$all" "Type: Private key (RSA-2048)"
check "logged in: P-256 private key listed" contains "$all" "Type: Private key (EC/ECDSA-SECP256R1)"
check "logged in: P-384 private key listed" contains "$all" "Type: Private key (EC/ECDSA-SECP384R1)"
check "private keys are CKA_PRIVATE, CKA_SENSITIVE and never extractable" \
    count_is "$all" '^\s+Flags: .*CKA_PRIVATE; CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE;' 3
check "the RSA private key's URL carries its id and label" \
    contains "$all" ";token=$TOKEN;id=%01;object=rsa;type=private"

# ---- test signatures (GnuTLS signs in the token, then verifies in software) ----

check "--test-sign RSA" p11u --test-sign "$RSA_PRIV"
check "RSA: verified against the token's public key" \
    contains "$LAST_LOG" "Verifying against public key in the token... ok"
check "--test-sign P-256" p11u --test-sign "$EC_PRIV"
check "P-256: verified against the token's public key" \
    contains "$LAST_LOG" "Verifying against public key in the token... ok"
check "--test-sign P-384" p11u --test-sign "$URL;object=ec384;type=private"
check "P-384: verified against the token's public key" \
    contains "$LAST_LOG" "Verifying against public key in the token... ok"

# ---- public keys out: p11tool's view against pkcs11-tool's ----

der_of_pem_pub() { # PEM DER
    openssl pkey -pubin -in "$1" -outform DER -out "$2"
}
check "--export the RSA public key object" p11 --export "$RSA_PUB" --outfile "$D/rsa.exp.pem"
check "--export-pubkey of the RSA private key" p11u --export-pubkey "$RSA_PRIV" --outfile "$D/rsa.exp2.pem"
check "--export-pubkey of the P-256 private key" p11u --export-pubkey "$EC_PRIV" --outfile "$D/ec.exp.pem"
check "pkcs11-tool --read-object pubkey id 01" \
    p11tool_pkcs11 --slot 0 --read-object --type pubkey --id 01 -o "$D/rsa.p11.der"
check "pkcs11-tool --read-object pubkey id 02" \
    p11tool_pkcs11 --slot 0 --read-object --type pubkey --id 02 -o "$D/ec.p11.der"
check "RSA public key -> DER (exported)" der_of_pem_pub "$D/rsa.exp.pem" "$D/rsa.exp.der"
check "RSA public key -> DER (export-pubkey)" der_of_pem_pub "$D/rsa.exp2.pem" "$D/rsa.exp2.der"
check "RSA public key -> DER (at generation)" der_of_pem_pub "$D/rsa.gen.pem" "$D/rsa.gen.der"
check "P-256 public key -> DER (export-pubkey)" der_of_pem_pub "$D/ec.exp.pem" "$D/ec.exp.der"
check "P-256 public key -> DER (at generation)" der_of_pem_pub "$D/ec.gen.pem" "$D/ec.gen.der"
check "RSA: p11tool --export equals pkcs11-tool's SPKI" same_file "$D/rsa.exp.der" "$D/rsa.p11.der"
check "RSA: --export-pubkey equals pkcs11-tool's SPKI" same_file "$D/rsa.exp2.der" "$D/rsa.p11.der"
check "RSA: the key printed at generation equals the token's" same_file "$D/rsa.gen.der" "$D/rsa.p11.der"
check "P-256: --export-pubkey equals pkcs11-tool's SPKI" same_file "$D/ec.exp.der" "$D/ec.p11.der"
check "P-256: the key printed at generation equals the token's" same_file "$D/ec.gen.der" "$D/ec.p11.der"

# ---- certtool with token keys, checked by OpenSSL ----

cat >"$D/ca.tmpl" <<'EOF'
cn = "Custos interop CA"
serial = 1
expiration_days = 30
ca
cert_signing_key
crl_signing_key
EOF
cat >"$D/leaf.tmpl" <<'EOF'
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
serial = 2
expiration_days = 30
tls_www_server
tls_www_client
signing_key
encryption_key
EOF

# pubkey_of_cert CERT DER / pubkey_of_csr CSR DER: the SubjectPublicKeyInfo inside, in DER.
pubkey_of_cert() {
    openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER -out "$2"
}
pubkey_of_csr() {
    openssl req -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER -out "$2"
}
# signature_algorithm CERT: prints the certificate's signature algorithm line.
signature_algorithm() {
    openssl x509 -in "$1" -noout -text | grep -m1 "Signature Algorithm"
}

check "certtool --generate-self-signed with the token RSA key (a CA)" \
    ct --generate-self-signed --load-privkey "$RSA_PRIV" --template "$D/ca.tmpl" --outfile "$D/ca.pem"
check "openssl verifies the self-signed CA certificate" \
    openssl verify -CAfile "$D/ca.pem" "$D/ca.pem"
check "certtool --verify accepts the self-signed CA certificate" \
    certtool --verify --load-ca-certificate "$D/ca.pem" --infile "$D/ca.pem"
check "... Chain verification output: Verified" contains "$LAST_LOG" "Chain verification output: Verified"
check "the CA certificate holds the token's RSA public key" pubkey_of_cert "$D/ca.pem" "$D/ca.pub.der"
check "... equal to pkcs11-tool's SPKI" same_file "$D/ca.pub.der" "$D/rsa.p11.der"

check "certtool --generate-request with the token P-256 key" \
    ct --generate-request --load-privkey "$EC_PRIV" --template "$D/leaf.tmpl" --outfile "$D/leaf.csr"
check "openssl req -verify checks the request's self-signature" \
    openssl req -in "$D/leaf.csr" -verify -noout
check "... verify OK" contains "$LAST_LOG" "verify OK"
check "the request holds the token's P-256 public key" \
    pubkey_of_csr "$D/leaf.csr" "$D/leaf.csr.pub.der"
check "... equal to pkcs11-tool's SPKI" same_file "$D/leaf.csr.pub.der" "$D/ec.p11.der"

check "certtool --generate-certificate: the token CA key signs the request" \
    ct --generate-certificate --load-request "$D/leaf.csr" --load-ca-certificate "$D/ca.pem" \
    --load-ca-privkey "$RSA_PRIV" --template "$D/leaf.tmpl" --outfile "$D/leaf.pem"
check "openssl verifies the leaf certificate against the CA" \
    openssl verify -CAfile "$D/ca.pem" "$D/leaf.pem"
check "certtool --verify verifies the leaf against the CA" \
    certtool --verify --load-ca-certificate "$D/ca.pem" --infile "$D/leaf.pem"
check "... Chain verification output: Verified" contains "$LAST_LOG" "Chain verification output: Verified"
check_fails "openssl rejects the leaf against an unrelated CA" \
    openssl verify -CAfile "$D/leaf.pem" "$D/leaf.pem"

check "certtool --generate-self-signed: an RSA server certificate for localhost" \
    ct --generate-self-signed --load-privkey "$RSA_PRIV" --template "$D/leaf.tmpl" \
    --outfile "$D/rsa-srv.pem"
check "openssl verifies the RSA server certificate" openssl verify -CAfile "$D/rsa-srv.pem" "$D/rsa-srv.pem"

check "certtool --generate-self-signed --sign-params RSA-PSS with the token RSA key" \
    ct --generate-self-signed --sign-params RSA-PSS --load-privkey "$RSA_PRIV" \
    --template "$D/ca.tmpl" --outfile "$D/ca-pss.pem"
check "the certificate's signature is RSASSA-PSS" signature_algorithm "$D/ca-pss.pem"
check "... rsassaPss" contains "$LAST_LOG" "rsassaPss"
check "openssl verifies the RSA-PSS certificate" \
    openssl verify -CAfile "$D/ca-pss.pem" "$D/ca-pss.pem"

check "certtool --generate-self-signed with the token P-384 key" \
    ct --generate-self-signed --load-privkey "$URL;object=ec384;type=private" \
    --template "$D/ca.tmpl" --outfile "$D/ca384.pem"
check "openssl verifies the P-384 certificate" openssl verify -CAfile "$D/ca384.pem" "$D/ca384.pem"

# ---- objects: write, read back, rename, delete ----

check "--write the CA certificate (label old, id 01)" \
    p11u --write "$URL" --load-certificate "$D/ca.pem" --label old --id 01
check "--set-label on the CA certificate (old -> ca)" \
    p11u --set-label ca "$URL;object=old;type=cert"
check "--list-all-certs" p11 --list-all-certs "$URL"
certs=$LAST_LOG
check "the certificate is now labelled ca" contains "$certs" ";object=ca;type=cert"
check "no certificate is labelled old any more" lacks "$certs" ";object=old;"
check "--set-id on the CA certificate (01 -> 0a)" p11u --set-id 0a "$URL;object=ca;type=cert"
check "--list-all-certs" p11 --list-all-certs "$URL"
check "the CA certificate now has id 0a" contains "$LAST_LOG" "id=%0A;object=ca;type=cert"

check "--write the RSA server certificate (label rsa, id 01)" \
    p11u --write "$URL" --load-certificate "$D/rsa-srv.pem" --label rsa --id 01
check "--write the P-256 leaf certificate (label ec, id 02)" \
    p11u --write "$URL" --load-certificate "$D/leaf.pem" --label ec --id 02
check "--list-all-certs" p11 --list-all-certs "$URL"
check "--list-all-certs shows 3 certificates" count_is "$LAST_LOG" '^\s+Type: X.509 Certificate' 3
check "--list-certs (certificates with a private key of the same id)" p11u --list-certs "$URL"
certs=$LAST_LOG
check "--list-certs shows the RSA server certificate" contains "$certs" "id=%01;object=rsa;type=cert"
check "--list-certs shows the P-256 leaf certificate" contains "$certs" "id=%02;object=ec;type=cert"
# GnuTLS 3.7.9 does not actually filter here: in find_multi_objs_cb (lib/pkcs11.c) the `continue`
# meant to skip a certificate without a matching private key only continues the inner loop over
# the key ids, so every certificate is listed (the CA certificate, id 0a, too). The module returns
# the right CKA_IDs (01, 02, 03 for the keys; 0a, 01, 02 for the certificates).
note "p11tool 3.7.9 --list-certs lists every certificate (GnuTLS does not apply the private-key filter)"
check "--export the CA certificate" p11 --export "$URL;object=ca;type=cert" --outfile "$D/ca.exp.pem"
check "CA certificate -> DER (exported)" openssl x509 -in "$D/ca.exp.pem" -outform DER -out "$D/ca.exp.der"
check "CA certificate -> DER (original)" openssl x509 -in "$D/ca.pem" -outform DER -out "$D/ca.der"
check "the exported certificate equals the written one" same_file "$D/ca.exp.der" "$D/ca.der"

# CKA_TRUSTED: only the SO may set it.
check_fails "--write --mark-trusted as the user is refused" \
    p11u --write "$URL" --load-certificate "$D/ca384.pem" --label trusted --mark-trusted
check "... as an attribute error" contains "$LAST_LOG" "PKCS #11 error in attribute"
check "--so-login --write --mark-trusted --mark-ca (the SO may)" \
    p11 --so-login --write "$URL" --load-certificate "$D/ca384.pem" --label trusted --mark-trusted --mark-ca
check "--list-all-trusted" p11 --list-all-trusted "$URL"
trusted=$LAST_LOG
check "... lists exactly that certificate" count_is "$trusted" '^\s+URL: ' 1
check "... labelled trusted" contains "$trusted" ";object=trusted;type=cert"
check "... CKA_TRUSTED, category CA" contains "$trusted" "Flags: CKA_CERTIFICATE_CATEGORY=CA; CKA_TRUSTED;"

# p11tool 3.7.9 cannot write a data object (--write takes keys, certificates and secret keys
# only): pkcs11-tool writes it, GnuTLS lists and exports it.
note "p11tool 3.7.9 --write cannot create CKO_DATA objects; pkcs11-tool writes the data object"
printf 'Custos data object %s\n' "$(date +%s%N)" >"$D/data.bin"
check "pkcs11-tool --write-object --type data (label blob)" \
    p11tool_pkcs11 --slot 0 --login --pin "$PIN" --write-object "$D/data.bin" --type data \
    --label blob --application-label interop
check "p11tool --list-all shows the data object" p11u --list-all "$URL;object=blob"
check "... Type: Data" contains "$LAST_LOG" "Type: Data"
check "p11tool --export --outder reads the data object's value" \
    p11u --export "$URL;object=blob;type=data" --outder --outfile "$D/data.out"
check "the value read back equals the one written" same_file "$D/data.out" "$D/data.bin"

check "--write --secret-key (16 bytes, label sec)" \
    p11u --write "$URL" --secret-key 000102030405060708090a0b0c0d0e0f --label sec
check "--list-all shows the secret key" p11u --list-all "$URL;object=sec"
listing=$LAST_LOG
check "... Type: Secret key" contains "$listing" "Type: Secret key"
check "... sensitive" contains "$listing" "CKA_SENSITIVE"

# ---- key import (software keys made by OpenSSL) ----

check "openssl genpkey RSA-2048 (software key)" \
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$D/imp-rsa.pem"
check "openssl: its public key" openssl pkey -in "$D/imp-rsa.pem" -pubout -out "$D/imp-rsa.pub.pem"
check "--write --load-privkey (RSA, label imp-rsa, id 10)" \
    p11u --write "$URL" --load-privkey "$D/imp-rsa.pem" --label imp-rsa --id 10
check "--list-all shows the imported key" p11u --list-all "$URL;object=imp-rsa;type=private"
listing=$LAST_LOG
check "... an RSA-2048 private key" contains "$listing" "Type: Private key (RSA-2048)"
check "... CKA_SENSITIVE" contains "$listing" "CKA_SENSITIVE"
check "... not CKA_NEVER_EXTRACTABLE (it was imported)" lacks "$listing" "CKA_NEVER_EXTRACTABLE"
check "certtool signs a certificate with the imported RSA key" \
    ct --generate-self-signed --load-privkey "$URL;object=imp-rsa;type=private" \
    --template "$D/ca.tmpl" --outfile "$D/imp-rsa.crt"
check "openssl verifies it" openssl verify -CAfile "$D/imp-rsa.crt" "$D/imp-rsa.crt"
check "its public key is the software key's" pubkey_of_cert "$D/imp-rsa.crt" "$D/imp-rsa.crt.der"
check "software RSA public key -> DER" der_of_pem_pub "$D/imp-rsa.pub.pem" "$D/imp-rsa.pub.der"
check "... equal" same_file "$D/imp-rsa.crt.der" "$D/imp-rsa.pub.der"

check "openssl genpkey P-256 (software key)" \
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/imp-ec.pem"
check "openssl: its public key" openssl pkey -in "$D/imp-ec.pem" -pubout -out "$D/imp-ec.pub.pem"
check "--write --load-privkey (P-256, label imp-ec, id 11)" \
    p11u --write "$URL" --load-privkey "$D/imp-ec.pem" --label imp-ec --id 11
# GnuTLS 3.7.9 writes no public key object with an imported private key, and takes an EC key's
# public half only from a public key or certificate object: write the public key beside it.
check "--write --load-pubkey (P-256, label imp-ec, id 11)" \
    p11u --write "$URL" --load-pubkey "$D/imp-ec.pub.pem" --label imp-ec --id 11
check "--test-sign the imported P-256 key" p11u --test-sign "$URL;object=imp-ec;type=private"
check "... verified against the token's public key" \
    contains "$LAST_LOG" "Verifying against public key in the token... ok"
check "certtool signs a certificate with the imported P-256 key" \
    ct --generate-self-signed --load-privkey "$URL;object=imp-ec;type=private" \
    --template "$D/ca.tmpl" --outfile "$D/imp-ec.crt"
check "openssl verifies it" openssl verify -CAfile "$D/imp-ec.crt" "$D/imp-ec.crt"
check "its public key is the software key's" pubkey_of_cert "$D/imp-ec.crt" "$D/imp-ec.crt.der"
check "software P-256 public key -> DER" der_of_pem_pub "$D/imp-ec.pub.pem" "$D/imp-ec.pub.der"
check "... equal" same_file "$D/imp-ec.crt.der" "$D/imp-ec.pub.der"

check "--delete the imported P-256 key pair" p11u --delete "$URL;object=imp-ec"
check "... 2 objects deleted" contains "$LAST_LOG" "2 objects deleted"
check "--delete the data object" p11u --delete "$URL;object=blob;type=data"
check "... 1 objects deleted" contains "$LAST_LOG" "1 objects deleted"
check "--login --list-all after deletion" p11u --list-all "$URL"
after=$LAST_LOG
check "the imported P-256 key pair is gone" lacks "$after" ";object=imp-ec;"
check "the data object is gone" lacks "$after" ";object=blob;"
check "the imported RSA key remains" contains "$after" ";object=imp-rsa;type=private"
check_fails "--export of the deleted data object fails" \
    p11u --export "$URL;object=blob;type=data" --outder --outfile "$D/gone.out"
check_fails "--test-sign with the deleted key fails" p11u --test-sign "$URL;object=imp-ec;type=private"

# ---- PINs ----

check_fails "a wrong PIN is refused" \
    env GNUTLS_PIN=0000 timeout 60 p11tool --provider "$MODULE" --batch --login --list-all-privkeys "$URL"
check "... \"Wrong PIN has been provided\"" contains "$LAST_LOG" "Wrong PIN has been provided"
check "the right PIN still works (and resets the count)" p11u --list-all-privkeys "$URL"
check "... 4 private keys" count_is "$LAST_LOG" '^\s+Type: Private key' 4

# A second token, initialised by GnuTLS itself: uninitialised Custos tokens are named by their
# serial number, the slot number in 16 digits.
check "p11tool --initialize slot 1 (label second)" \
    p11 --initialize "pkcs11:model=Custos;serial=0000000000000001" --label second --set-so-pin "$SO_PIN"
check "p11tool --initialize-pin (as the SO) sets the user PIN" \
    p11 --initialize-pin "pkcs11:token=second" --set-so-pin "$SO_PIN" --set-pin 5678
check "--list-tokens" p11 --list-tokens
tokens=$LAST_LOG
check "--list-tokens now shows 2 tokens" count_is "$tokens" '^\s+Label:' 2
check "... the new one labelled second" grep -qE "^\s+Label: second\$" "$tokens"
check "the new PIN (--set-pin) logs in and generates a P-256 key" \
    timeout 60 p11tool --provider "$MODULE" --batch --login --set-pin 5678 \
    --generate-privkey ecdsa --curve secp256r1 --label k2 --outfile "$D/k2.pem" "pkcs11:token=second"
check "... which signs" \
    timeout 60 p11tool --provider "$MODULE" --batch --login --set-pin 5678 \
    --test-sign "pkcs11:token=second;object=k2;type=private"
check_fails "the first token's PIN does not open the second" \
    timeout 60 p11tool --provider "$MODULE" --batch --login --set-pin "$PIN" \
    --list-all-privkeys "pkcs11:token=second"

check "--generate-random 64" p11 --generate-random 64 --outfile "$D/rand1" "$URL"
check "64 random bytes" size_is "$D/rand1" 64
check "--generate-random 64 again" p11 --generate-random 64 --outfile "$D/rand2" "$URL"
check "two random draws differ" different_file "$D/rand1" "$D/rand2"

# ---- TLS with the token key ----

# The servers take the PIN from the URI (pin-value), not from GNUTLS_PIN.
unset GNUTLS_PIN GNUTLS_SO_PIN

# A TCP port nothing listens on (the server started on it may still lose a race: start_* retry).
free_port() {
    local p i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            printf '%s' "$p"
            return 0
        fi
        : "$i"
    done
    return 1
}

# wait_for_line FILE TEXT PID: waits (up to about 20 s) until FILE contains TEXT while PID lives.
wait_for_line() {
    local i
    for ((i = 0; i < 200; i++)); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_gnutls_serv NAME ARGS...: starts gnutls-serv on a free port (PORT), logging to
# $LOGS/NAME.serv.log; its pid goes into SERVER_PIDS and SERVER_PID.
PORT=""
SERVER_PID=""
start_gnutls_serv() {
    local name=$1 attempt log
    shift
    log="$LOGS/$name.serv.log"
    for attempt in 1 2 3 4 5; do
        PORT=$(free_port) || die "no free TCP port found"
        timeout 120 gnutls-serv --provider "$MODULE" --port "$PORT" "$@" </dev/null >"$log" 2>&1 &
        SERVER_PID=$!
        SERVER_PIDS+=("$SERVER_PID")
        if wait_for_line "$log" "port $PORT...done" "$SERVER_PID"; then
            return 0
        fi
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        : "$attempt"
    done
    printf -- '---- %s ----\n' "$log"
    cat "$log"
    die "gnutls-serv ($name) did not start"
}
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# gnutls_echo PORT CAFILE MESSAGE [ARGS...]: sends MESSAGE through gnutls-cli (which waits for
# the server to close after its own close_notify) and prints the session and what came back.
gnutls_echo() {
    local port=$1 ca=$2 message=$3
    shift 3
    printf '%s\n' "$message" |
        timeout 30 gnutls-cli --port "$port" --x509cafile "$ca" --verify-hostname localhost "$@" 127.0.0.1
}
# http_get CLIENT PORT CAFILE [ARGS...]: GET / with `openssl s_client` (CLIENT=openssl) or
# gnutls-cli (CLIENT=gnutls); the HTTP/1.0 server answers and closes.
http_get() {
    local client=$1 port=$2 ca=$3
    shift 3
    if [ "$client" = openssl ]; then
        printf 'GET / HTTP/1.0\r\n\r\n' |
            timeout 30 openssl s_client -connect "127.0.0.1:$port" -CAfile "$ca" -verify_return_error \
                -verify_hostname localhost -ign_eof "$@"
    else
        printf 'GET / HTTP/1.0\r\n\r\n' |
            timeout 30 gnutls-cli --port "$port" --x509cafile "$ca" --verify-hostname localhost "$@" \
                127.0.0.1
    fi
}

RSA_KEY_URI="$RSA_PRIV?pin-value=$PIN"
EC_KEY_URI="$EC_PRIV?pin-value=$PIN"
RSA_CERT_URI="$URL;object=rsa;type=cert"

# 1. TLS 1.3, RSA-PSS signature by the token; the certificate also comes from the token.
start_gnutls_serv tls13-rsa --echo --x509keyfile "$RSA_KEY_URI" --x509certfile "$RSA_CERT_URI"
msg="echo through TLS 1.3 $RANDOM$RANDOM"
check "gnutls-cli <-> gnutls-serv, TLS 1.3, server key in the token (RSA)" \
    gnutls_echo "$PORT" "$D/rsa-srv.pem" "$msg"
cli=$LAST_LOG
check "... the certificate is trusted" contains "$cli" "Status: The certificate is trusted."
check "... TLS 1.3 with an RSA-PSS signature" grep -qE 'Description: \(TLS1.3-X.509\)-.*-\(RSA-PSS' "$cli"
check "... the message came back" grep -qxF "$msg" "$cli"
stop_server

# 2. TLS 1.2 with RSA key exchange: the token decrypts the pre-master secret (CKM_RSA_PKCS).
prio='NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+RSA'
start_gnutls_serv tls12-rsa-kx --echo --priority "$prio" \
    --x509keyfile "$RSA_KEY_URI" --x509certfile "$D/rsa-srv.pem"
msg="echo through TLS 1.2 RSA key exchange $RANDOM$RANDOM"
check "gnutls-cli <-> gnutls-serv, TLS 1.2 RSA key exchange (token decrypts)" \
    gnutls_echo "$PORT" "$D/rsa-srv.pem" "$msg" --priority "$prio"
cli=$LAST_LOG
check "... TLS 1.2 with RSA key exchange" grep -qF 'Description: (TLS1.2-X.509)-(RSA)-' "$cli"
check "... the message came back" grep -qxF "$msg" "$cli"
stop_server

# 3. OpenSSL as the client, TLS 1.3, P-256 key in the token; HTTP mode sends a known body.
printf 'Custos behind GnuTLS %s\n' "$RANDOM$RANDOM" >"$D/body.txt"
start_gnutls_serv tls13-ec --http --httpdata "$D/body.txt" \
    --x509keyfile "$EC_KEY_URI" --x509certfile "$D/leaf.pem" --x509cafile "$D/ca.pem"
check "openssl s_client -> gnutls-serv, TLS 1.3, server key in the token (P-256)" \
    http_get openssl "$PORT" "$D/ca.pem" -tls1_3
cli=$LAST_LOG
check "... the chain verified (leaf signed by the token CA key)" contains "$cli" "Verify return code: 0 (ok)"
check "... TLS 1.3" contains "$cli" "New, TLSv1.3"
check "... the server signed with ECDSA" contains "$cli" "Peer signature type: ECDSA"
check "... the body arrived" contains "$cli" "$(cat "$D/body.txt")"
stop_server

# 4. OpenSSL as the client, TLS 1.2, RSA PKCS#1 v1.5 signature on the ECDHE parameters.
printf 'Custos TLS 1.2 %s\n' "$RANDOM$RANDOM" >"$D/body12.txt"
start_gnutls_serv tls12-rsa --http --httpdata "$D/body12.txt" \
    --x509keyfile "$RSA_KEY_URI" --x509certfile "$D/rsa-srv.pem"
check "openssl s_client -> gnutls-serv, TLS 1.2 ECDHE, RSA PKCS#1 v1.5 signature" \
    http_get openssl "$PORT" "$D/rsa-srv.pem" -tls1_2 -sigalgs RSA+SHA256
cli=$LAST_LOG
check "... verified" contains "$cli" "Verify return code: 0 (ok)"
check "... TLS 1.2 with ECDHE-RSA" grep -qE 'Cipher is ECDHE-RSA-' "$cli"
check "... RSA PKCS#1 v1.5 signature" contains "$cli" "Peer signature type: RSA"
check "... the body arrived" contains "$cli" "$(cat "$D/body12.txt")"
stop_server

# 5. Client authentication: OpenSSL's server requires a client certificate; gnutls-cli signs the
#    CertificateVerify with the token's P-256 key.
check "openssl: a software key and certificate for the server" \
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -days 2 -keyout "$D/srv.key" -out "$D/srv.pem"
srv_log="$LOGS/client-auth.s_server.log"
started=no
for attempt in 1 2 3 4 5; do
    PORT=$(free_port) || die "no free TCP port found"
    timeout 120 openssl s_server -accept "127.0.0.1:$PORT" -cert "$D/srv.pem" -key "$D/srv.key" \
        -Verify 1 -CAfile "$D/ca.pem" -verify_return_error -www </dev/null >"$srv_log" 2>&1 &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    if wait_for_line "$srv_log" "ACCEPT" "$SERVER_PID"; then
        started=yes
        break
    fi
    stop_server
    : "$attempt"
done
[ "$started" = yes ] || die "openssl s_server did not start: $(cat "$srv_log")"
check "gnutls-cli -> openssl s_server with the token's key as client certificate" \
    http_get gnutls "$PORT" "$D/srv.pem" --provider "$MODULE" \
    --x509keyfile "$EC_KEY_URI" --x509certfile "$D/leaf.pem"
cli=$LAST_LOG
check "... the server answered over the authenticated session" contains "$cli" "HTTP/1.0 200 ok"
check "... and saw the client's ECDSA CertificateVerify" contains "$cli" "Peer signature type: ECDSA"
stop_server
check "... OpenSSL verified the client certificate (signed by the token CA)" \
    grep -qE '^depth=0 CN = localhost' "$srv_log"
check "... with no verification error" lacks "$srv_log" "verify error"

finish
