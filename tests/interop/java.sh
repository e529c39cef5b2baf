#!/usr/bin/env bash
# Drives the real Custos PKCS#11 module with Java 17's SunPKCS11 provider, unchanged: keytool on a
# PKCS11 keystore (list, generate RSA and EC key pairs with self-signed certificates, certificate
# requests, export, delete), then a Java program (java/CustosCheck.java, compiled here) that signs,
# decrypts, agrees keys, encrypts and MACs through the token and checks every result with the JDK's
# software providers. OpenSSL verifies what keytool produced; pkcs11-tool shows the token's side.
#
# Environment:
#   MODULE  path to libcustos_pkcs11.so
#   CUSTOS  path to the custos binary
#   WORK    an empty scratch directory
#
# Needs java, javac and keytool (Debian package openjdk-17-jdk-headless), openssl (openssl) and
# pkcs11-tool (opensc). Prints `ok N - ...` per check and ends with
# `interop java: N passed, 0 failed`.

set -euo pipefail
set -E

SUITE=java
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/interop/lib.sh
. "$HERE/lib.sh"

require_tool java openjdk-17-jdk-headless
require_tool javac openjdk-17-jdk-headless
require_tool keytool openjdk-17-jdk-headless
require_tool openssl openssl
require_tool pkcs11-tool opensc
require_tool timeout coreutils
require_env MODULE CUSTOS WORK
[ -f "$MODULE" ] || die "MODULE=$MODULE does not exist (build the crate: cargo build)"
[ -x "$CUSTOS" ] || die "CUSTOS=$CUSTOS is not an executable (build the crate: cargo build)"
case $MODULE in
*'"'* | *\\*) die "MODULE=$MODULE: a path with '\"' or '\\' cannot go into a SunPKCS11 configuration" ;;
esac
interop_init

SO_PIN=12345678
PIN=1234
T=60 # seconds any single step may take

D="$WORK/files"
mkdir -p "$D"

# The module reads its store from here; nothing else from the caller's environment.
unset CUSTOS_CONF CUSTOS_SHARES
export CUSTOS_STORE="$WORK/store"
export CUSTOS_QUIET=1
# Java options from the caller's environment would change what is tested.
unset JAVA_TOOL_OPTIONS JDK_JAVA_OPTIONS _JAVA_OPTIONS

note "client: $(java -version 2>&1 | head -n 1)"

# ---- helpers ----

# from_template TEMPLATE OUT: the SunPKCS11 configuration TEMPLATE with @MODULE@ replaced.
from_template() {
    local text
    text=$(<"$1")
    printf '%s\n' "${text//@MODULE@/$MODULE}" >"$2"
}

CFG="$WORK/pkcs11.cfg"
ECDH_CFG="$WORK/pkcs11-ecdh.cfg"

# kt [ARGS...]: keytool on the token in slot 0, through SunPKCS11 with $CFG.
kt() {
    timeout "$T" keytool -keystore NONE -storetype PKCS11 \
        -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$CFG" -storepass "$PIN" "$@"
}
# kt_ecdh [ARGS...]: the same with $ECDH_CFG (EC private keys get CKA_DERIVE).
kt_ecdh() {
    timeout "$T" keytool -keystore NONE -storetype PKCS11 \
        -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$ECDH_CFG" -storepass "$PIN" "$@"
}

p11u() {
    timeout "$T" pkcs11-tool --module "$MODULE" --slot 0 --login --pin "$PIN" "$@"
}

# ascii_hex TEXT: the lower-case hex of TEXT's bytes (how pkcs11-tool prints a CKA_ID).
ascii_hex() {
    printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}

# object_block LISTING KIND ID OUT: from a `pkcs11-tool -O` listing, the lines of the object whose
# header starts with KIND (e.g. "Private Key Object") and whose ID is ID; fails if there is none.
object_block() {
    awk -v kind="$2" -v id="$3" '
        /^[^ \t]/ {
            if (inblk && hit) { printf "%s", buf; done = 1; exit }
            inblk = (index($0, kind) == 1); hit = 0; buf = ""
        }
        inblk { buf = buf $0 "\n"; if ($1 == "ID:" && $2 == id) { hit = 1 } }
        END { if (!done && inblk && hit) { printf "%s", buf } }
    ' "$1" >"$4"
    if [ ! -s "$4" ]; then
        printf 'no %s with ID %s in %s\n' "$2" "$3" "$1"
        return 1
    fi
}

# csr_verify_says FILE FORM WORD: `openssl req -verify` on the request FILE (PEM or DER) says
# "verify WORD" (OK or failure). OpenSSL 3.0 exits 0 even when the signature is bad, so the
# message is what counts.
csr_verify_says() {
    local out
    out=$(openssl req -inform "$2" -in "$1" -verify -noout 2>&1) || true
    printf '%s\n' "$out"
    case $out in
    *"self-signature verify $3"*) return 0 ;;
    *) return 1 ;;
    esac
}

# same_pubkey A B: the PEM public keys A and B are the same key.
same_pubkey() {
    openssl pkey -pubin -in "$1" -outform DER -out "$1.der" &&
        openssl pkey -pubin -in "$2" -outform DER -out "$2.der" &&
        cmp -- "$1.der" "$2.der"
}

# ---- the store and the token ----

check "custos init --dev creates a store" "$CUSTOS" init --store "$WORK/store" --dev
check "custos token init slot 0 (label java)" \
    "$CUSTOS" token init --store "$WORK/store" --slot 0 --label java --so-pin "$SO_PIN" --pin "$PIN"

from_template "$HERE/java/pkcs11.cfg" "$CFG"
from_template "$HERE/java/pkcs11-ecdh.cfg" "$ECDH_CFG"
check "the SunPKCS11 configuration names the module" contains "$CFG" "library = \"$MODULE\""

# ---- keytool ----

check "keytool -list: an empty token" kt -list
list=$LAST_LOG
check "keytool -list names the SunPKCS11-Custos provider" contains "$list" "Keystore provider: SunPKCS11-Custos"
check "keytool -list: 0 entries" contains "$list" "Your keystore contains 0 entries"

check_fails "keytool -list with a wrong PIN fails" \
    timeout "$T" keytool -keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
    -providerArg "$CFG" -storepass 9999 -list -v
check "the wrong PIN is reported as CKR_PIN_INCORRECT (keytool -v stack trace)" contains "$LAST_LOG" "CKR_PIN_INCORRECT"

# -providername makes keytool generate the key pair with SunPKCS11, inside the token. Without it
# keytool 17 takes the first provider offering the algorithm (SunRsaSign for RSA), generates the
# key in software and imports it (C_CreateObject); java-import below is made that way.
check "keytool -genkeypair RSA 2048 in the token (java-rsa)" \
    kt -genkeypair -alias java-rsa -keyalg RSA -keysize 2048 -sigalg SHA256withRSA \
    -dname "CN=Java RSA, O=Custos Interop" -validity 30 -providername SunPKCS11-Custos
check "keytool -genkeypair EC secp256r1 in the token (java-ec)" \
    kt -genkeypair -alias java-ec -keyalg EC -groupname secp256r1 -sigalg SHA256withECDSA \
    -dname "CN=Java EC, O=Custos Interop" -validity 30 -providername SunPKCS11-Custos
check "keytool -genkeypair EC secp256r1 with CKA_DERIVE (java-ecdh, ECDH configuration)" \
    kt_ecdh -genkeypair -alias java-ecdh -keyalg EC -groupname secp256r1 \
    -dname "CN=Java ECDH, O=Custos Interop" -validity 30 -providername SunPKCS11-CustosECDH
check "keytool -genkeypair RSA 2048 made in software and imported (java-import)" \
    kt -genkeypair -alias java-import -keyalg RSA -keysize 2048 -dname "CN=Java Import, O=Custos Interop"

check "keytool -list: the token holds 4 entries" kt -list
list=$LAST_LOG
check "keytool -list: 4 entries" contains "$list" "Your keystore contains 4 entries"
check "keytool -list: 4 PrivateKeyEntry lines" count_is "$list" 'PrivateKeyEntry' 4
for a in java-rsa java-ec java-ecdh java-import; do
    check "keytool -list shows $a" grep -qE "^$a, PrivateKeyEntry" "$list"
done

# The token's own view: SunPKCS11 keeps the private key and the certificate (CKA_ID = the alias;
# the public key object of a generated pair stays a session object).
check "pkcs11-tool -O lists the token objects" p11u -O
objs=$LAST_LOG
check "pkcs11-tool: 4 private keys" count_is "$objs" '^Private Key Object' 4
check "pkcs11-tool: 4 certificates" count_is "$objs" '^Certificate Object' 4
check "pkcs11-tool: java-rsa private key" \
    object_block "$objs" "Private Key Object; RSA" "$(ascii_hex java-rsa)" "$D/rsa.obj"
check "java-rsa was generated in the token (local, never extractable)" \
    contains "$D/rsa.obj" "sensitive, always sensitive, never extractable, local"
check "pkcs11-tool: java-ec private key" \
    object_block "$objs" "Private Key Object; EC" "$(ascii_hex java-ec)" "$D/ec.obj"
check "java-ec was generated in the token (local, never extractable)" \
    contains "$D/ec.obj" "sensitive, always sensitive, never extractable, local"
check "java-ec has no derive usage (CKA_DERIVE defaults to false)" lacks "$D/ec.obj" "derive"
check "pkcs11-tool: java-ecdh private key" \
    object_block "$objs" "Private Key Object; EC" "$(ascii_hex java-ecdh)" "$D/ecdh.obj"
check "java-ecdh has derive usage (from the configuration's attributes line)" \
    grep -qE '^ +Usage: .*derive' "$D/ecdh.obj"
check "pkcs11-tool: java-import private key" \
    object_block "$objs" "Private Key Object; RSA" "$(ascii_hex java-import)" "$D/import.obj"
check "java-import is sensitive but was not generated in the token" \
    grep -qE '^ +Access: +sensitive$' "$D/import.obj"

# Certificate requests, signed inside the token, verified by OpenSSL.
for a in java-rsa java-ec java-import; do
    check "keytool -certreq $a" kt -certreq -alias "$a" -file "$D/$a.csr"
    check "openssl req -verify: $a's request signature is valid" \
        csr_verify_says "$D/$a.csr" PEM OK
done
check "openssl req -text: java-rsa request" openssl req -in "$D/java-rsa.csr" -noout -text
txt=$LAST_LOG
check "java-rsa request: the keytool subject" grep -qE 'Subject: .*CN ?= ?Java RSA' "$txt"
check "java-rsa request: sha256WithRSAEncryption" grep -qF "sha256WithRSAEncryption" "$txt"
check "openssl req -text: java-ec request" openssl req -in "$D/java-ec.csr" -noout -text
txt=$LAST_LOG
check "java-ec request: the keytool subject" grep -qE 'Subject: .*CN ?= ?Java EC' "$txt"
check "java-ec request: ecdsa-with-SHA256" grep -qF "ecdsa-with-SHA256" "$txt"
check "java-ec request: a P-256 key" grep -qE "ASN1 OID: prime256v1|NIST CURVE: P-256" "$txt"

# A request whose signature was changed must not verify (the check above can fail).
check "openssl: java-rsa request to DER" openssl req -in "$D/java-rsa.csr" -outform DER -out "$D/java-rsa.csr.der"
bad_csr() {
    local hex
    hex=$(hex_of "$D/java-rsa.csr.der")
    # flip the last byte (inside the signature BIT STRING)
    local last=${hex: -2}
    write_hex "${hex:0:${#hex}-2}$(printf '%02x' $((16#$last ^ 1)))" "$D/bad.csr.der"
}
check "a request with a changed signature byte" bad_csr
check "openssl req -verify rejects the changed request" \
    csr_verify_says "$D/bad.csr.der" DER failure

# Certificates: exported, parsed and verified by OpenSSL; same key as the request.
check "keytool -exportcert java-rsa (DER)" kt -exportcert -alias java-rsa -file "$D/java-rsa.der"
check "openssl x509 parses java-rsa's certificate" \
    openssl x509 -inform DER -in "$D/java-rsa.der" -noout -text
txt=$LAST_LOG
check "java-rsa certificate: subject and issuer" count_is "$txt" '(Subject|Issuer): .*CN ?= ?Java RSA' 2
check "java-rsa certificate: sha256WithRSAEncryption" grep -qF "sha256WithRSAEncryption" "$txt"
check "java-rsa certificate: a 2048-bit key" grep -qF "Public-Key: (2048 bit)" "$txt"
check "openssl x509: java-rsa certificate to PEM" \
    openssl x509 -inform DER -in "$D/java-rsa.der" -out "$D/java-rsa.pem"
check "openssl verify: java-rsa's self-signed certificate (signed in the token)" \
    openssl verify -CAfile "$D/java-rsa.pem" "$D/java-rsa.pem"
check "keytool -exportcert -rfc java-ec (PEM)" kt -exportcert -rfc -alias java-ec -file "$D/java-ec.pem"
check "openssl verify: java-ec's self-signed certificate (signed in the token)" \
    openssl verify -CAfile "$D/java-ec.pem" "$D/java-ec.pem"
for a in java-rsa java-ec; do
    check "openssl: $a certificate public key" openssl x509 -in "$D/$a.pem" -noout -pubkey -out "$D/$a.cert.pub"
    check "openssl: $a request public key" openssl req -in "$D/$a.csr" -noout -pubkey -out "$D/$a.csr.pub"
    check "$a: the request and the certificate hold the same public key" \
        same_pubkey "$D/$a.cert.pub" "$D/$a.csr.pub"
done

# ---- the Java program ----

check "javac compiles CustosCheck.java" \
    timeout "$T" javac -d "$WORK/classes" "$HERE/java/CustosCheck.java"
check "java CustosCheck: every check passes" \
    timeout 120 java -cp "$WORK/classes" CustosCheck "$CFG" "$ECDH_CFG" "$PIN" java-rsa java-ec java-ecdh
jlog=$LAST_LOG
check "CustosCheck reports no failure" lacks "$jlog" "FAIL:"
check "CustosCheck ends with its summary" contains "$jlog" "CustosCheck: all checks passed"

expected=(
    "KeyStore.load with a wrong PIN fails with CKR_PIN_INCORRECT"
    "KeyStore.load logs in with the user PIN"
    "KeyStore lists the keytool entries as key entries with certificates"
    "KeyStore.getKey returns the token's RSA 2048 private key"
    "KeyStore.getKey returns the token's EC P-256 private key"
    "SHA256withRSA: token signs, SunRsaSign verifies"
    "SHA256withRSA: a signature by a different key does not verify"
    "RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32): token signs, SunRsaSign verifies"
    "SHA256withRSASSA-PSS (CKM_SHA256_RSA_PKCS_PSS): token signs, SunRsaSign verifies"
    "SHA256withECDSA: token signs, SunEC verifies"
    "SHA256withECDSAinP1363Format: token signs, SunEC verifies"
    "SHA256withRSA: SunPKCS11 verifies in the token a SunRsaSign signature, rejects a changed one"
    "KeyPairGenerator RSA 2048 in the token: SHA512withRSA verified by SunRsaSign"
    "KeyPairGenerator EC secp384r1 in the token: SHA384withECDSA verified by SunEC"
    "RSA/ECB/PKCS1Padding: SunJCE encrypts, the token decrypts"
    "RSA/ECB/PKCS1Padding: a corrupted ciphertext never yields the plaintext (implicit rejection)"
    "RSA/ECB/NoPadding: SunJCE encrypts raw, the token decrypts raw"
    "KeyStore.getKey returns the token's P-256 key made with CKA_DERIVE"
    "ECDH: the token refuses a key whose CKA_DERIVE is false (CKR_KEY_FUNCTION_NOT_PERMITTED)"
    "ECDH generateSecret() with the plain config: the derived secret stays sensitive (CKR_ATTRIBUTE_SENSITIVE)"
    "ECDH generateSecret() (config with readable derived secrets) equals SunEC's secret"
    "ECDH in a session EC key pair generated with the ECDH config equals SunEC's secret"
    "KeyGenerator AES 256 in the token"
    "AES/CBC/PKCS5Padding with the generated key: encrypt + decrypt in the token"
    "AES/GCM/NoPadding with the generated key: encrypt + decrypt in the token, tag checked"
    "SecretKeyFactory AES (SunPKCS11) translates a known key into a token session key"
    "AES/CBC/PKCS5Padding: the token encrypts with the known key, SunJCE decrypts (and back)"
    "AES/GCM/NoPadding: the token encrypts with the known key, SunJCE decrypts (and back)"
    "KeyStore stores a known AES key as a token object; it encrypts like SunJCE"
    "HmacSHA256 with a known key imported into the token equals SunJCE's HMAC"
    "HmacSHA256 with a key generated in the token: deterministic, depends on the message"
    "SHA-256 digest in the token equals SUN's"
    "SecureRandom PKCS11 returns bytes from C_GenerateRandom"
)
for name in "${expected[@]}"; do
    check "java: $name" contains "$jlog" "ok: $name"
done
check "CustosCheck ran exactly the expected checks" count_is "$jlog" '^ok: ' "${#expected[@]}"
# Client-side limits the program found (JDK 17's SunPKCS11 has no RSA-OAEP cipher).
while IFS= read -r line; do
    note "CustosCheck: ${line#note: }"
done < <(grep '^note: ' "$jlog" || true)

# ---- the token after the program: the stored secret key, then deletion ----

check "keytool -list after CustosCheck" kt -list
list=$LAST_LOG
check "keytool -list shows the AES key CustosCheck stored" grep -qE '^java-aes, SecretKeyEntry' "$list"
check "keytool -list: 5 entries" contains "$list" "Your keystore contains 5 entries"

check "keytool -delete java-ec" kt -delete -alias java-ec
check "keytool -delete java-aes (a secret key)" kt -delete -alias java-aes
check "keytool -list after the deletions" kt -list
list=$LAST_LOG
check "keytool -list: 3 entries" contains "$list" "Your keystore contains 3 entries"
check "keytool -list no longer shows java-ec" lacks "$list" "java-ec,"
check "keytool -list no longer shows java-aes" lacks "$list" "java-aes,"
check "keytool -list still shows java-rsa" grep -qE '^java-rsa, PrivateKeyEntry' "$list"
check_fails "keytool -exportcert java-ec fails: the entry is gone" \
    kt -exportcert -alias java-ec -file "$D/gone.der"
check "pkcs11-tool -O after the deletions" p11u -O
objs2=$LAST_LOG
check "pkcs11-tool: no object with java-ec's ID is left" count_is "$objs2" "^ +ID: +$(ascii_hex java-ec)\$" 0
check "pkcs11-tool: java-ecdh (a longer ID with the same start) is still there" \
    count_is "$objs2" "^ +ID: +$(ascii_hex java-ecdh)\$" 2
check "pkcs11-tool: no secret key is left" lacks "$objs2" "Secret Key Object"
check "pkcs11-tool: 3 private keys" count_is "$objs2" '^Private Key Object' 3
check "pkcs11-tool: 3 certificates" count_is "$objs2" '^Certificate Object' 3

finish
