#!/usr/bin/env bash
# Drives the real Custos PKCS#11 module through p11-kit: the shipped module registration
# (contrib/p11-kit/custos.module) installed into a private user configuration, `p11-kit
# list-modules`, the token found through p11-kit-proxy.so (by OpenSC's pkcs11-tool, and by OpenSSL's
# pkcs11-provider with pkcs11: URIs) and by GnuTLS through the registration, and the RPC path
# (`p11-kit server` with p11-kit-client.so): key generation, signatures verified by OpenSSL, RSA
# decryption.
#
# Environment:
#   MODULE  path to libcustos_pkcs11.so
#   CUSTOS  path to the custos binary
#   WORK    an empty scratch directory
#
# Needs p11-kit and p11-kit-modules, opensc (pkcs11-tool), openssl, pkcs11-provider, gnutls-bin
# (p11tool, certtool) and, when run as root, util-linux (setpriv): p11-kit never reads per-user
# module files for root, so the steps that rely on the registration run as the user nobody.
# Prints `ok N - ...` per check and ends with `interop p11-kit: N passed, 0 failed`.

set -euo pipefail
set -E

SUITE=p11-kit
# shellcheck source=tests/interop/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_tool p11-kit p11-kit
require_tool pkcs11-tool opensc
require_tool openssl openssl
require_tool p11tool gnutls-bin
require_tool certtool gnutls-bin
require_tool timeout coreutils
require_tool od coreutils
require_tool ps procps
require_env MODULE CUSTOS WORK
[ -f "$MODULE" ] || die "MODULE=$MODULE does not exist (build the crate: cargo build)"
[ -x "$CUSTOS" ] || die "CUSTOS=$CUSTOS is not an executable (build the crate: cargo build)"

SHIPPED="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/contrib/p11-kit/custos.module"
[ -f "$SHIPPED" ] || die "the shipped module file $SHIPPED is missing"

# find_lib RELATIVE_PATH: the first of the usual library directories that holds it.
find_lib() {
    local dir
    for dir in "/usr/lib/$(uname -m)-linux-gnu" /usr/lib64 /usr/lib; do
        if [ -f "$dir/$1" ]; then
            printf '%s' "$dir/$1"
            return 0
        fi
    done
    return 1
}
PROXY=$(find_lib p11-kit-proxy.so) ||
    die "p11-kit-proxy.so is missing: install Debian package p11-kit-modules"
CLIENT=$(find_lib pkcs11/p11-kit-client.so) ||
    die "pkcs11/p11-kit-client.so is missing: install Debian package p11-kit-modules"
find_lib ossl-modules/pkcs11.so >/dev/null ||
    die "the OpenSSL provider ossl-modules/pkcs11.so is missing: install Debian package pkcs11-provider"

interop_init

SO_PIN=12345678
PIN=1234
TOKEN=kit

# Everything the module and p11-kit touch lives under $P, owned by the user the steps run as.
P="$WORK/p11kit"
D="$P/files"
mkdir -p "$P/home/.config/pkcs11/modules" "$P/run" "$D"

unset CUSTOS_CONF CUSTOS_SHARES CUSTOS_DEBUG CUSTOS_STORE P11_KIT_SERVER_ADDRESS P11_KIT_SERVER_PID
export CUSTOS_QUIET=1
# p11-kit reads user module files from $XDG_CONFIG_HOME/pkcs11/modules (else ~/.config/...).
export HOME="$P/home"
export XDG_CONFIG_HOME="$P/home/.config"
MODULES_DIR="$XDG_CONFIG_HOME/pkcs11/modules"

# as_user CMD...: runs CMD as the invoking user, or as nobody when that is root (p11-kit skips
# the user configuration for root: "skipping user config in program running as root").
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
    require_tool setpriv util-linux
    RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
as_user() {
    if [ "${#RUN_AS[@]}" -gt 0 ]; then
        "${RUN_AS[@]}" "$@"
    else
        "$@"
    fi
}

SERVER_PID=""
# stop_server: SIGTERM to the server (through timeout), SIGKILL if it is still there 5 s later.
stop_server() {
    local i
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
cleanup() {
    stop_server
}
trap cleanup EXIT

# ---- the store, owned by the user the steps run as ----

check "custos init --dev creates a store" "$CUSTOS" init --store "$P/store" --dev
check "custos token init slot 0 label $TOKEN" \
    "$CUSTOS" token init --store "$P/store" --slot 0 --label "$TOKEN" --so-pin "$SO_PIN" --pin "$PIN"
printf 'store = "%s"\n' "$P/store" >"$P/custos.toml"
head -c 4099 /dev/urandom >"$D/data"
cp "$D/data" "$D/tampered"
# Flip the bits of byte 100.
b=$(od -An -j100 -N1 -tu1 "$D/data" | tr -d ' ')
printf '%b' "\\x$(printf '%02x' $((b ^ 0xff)))" | dd of="$D/tampered" bs=1 seek=100 conv=notrunc status=none
check "the tampered file differs from the data" different_file "$D/data" "$D/tampered"

if [ "${#RUN_AS[@]}" -gt 0 ]; then
    note "running as root: the p11-kit steps run as nobody (p11-kit ignores user configuration for root)"
    # Let nobody reach $P (the scratch directory itself is private to root).
    chmod 711 "$WORK"
    chown -R 65534:65534 "$P"
    if ! as_user test -r "$MODULE"; then
        mkdir -p "$P/lib"
        cp "$MODULE" "$P/lib/"
        MODULE="$P/lib/$(basename "$MODULE")"
        chown -R 65534:65534 "$P/lib"
        note "nobody cannot read the built module: using a copy at $MODULE"
    fi
fi
cd "$P"

# ---- the shipped module file ----

check "the shipped custos.module has exactly one module: line" count_is "$SHIPPED" '^module:' 1
check "... naming libcustos_pkcs11.so" grep -qE '^module: /.*/libcustos_pkcs11\.so$' "$SHIPPED"
check "... critical: no (a broken store must not break other modules)" \
    grep -qxF 'critical: no' "$SHIPPED"
check "... trust-policy: no" grep -qxF 'trust-policy: no' "$SHIPPED"
check "... documents x-init-reserved" grep -qE '^#x-init-reserved: /' "$SHIPPED"

# install_module [CONFIG]: installs the shipped file with its module: line pointing at $MODULE and,
# given CONFIG, with x-init-reserved set to it.
install_module() {
    local target="$MODULES_DIR/custos.module"
    sed -e "s|^module: .*|module: $MODULE|" "$SHIPPED" >"$target.tmp" || return 1
    if [ $# -gt 0 ]; then
        sed -i -e "s|^#x-init-reserved: .*|x-init-reserved: $1|" "$target.tmp" || return 1
    fi
    mv "$target.tmp" "$target" && chmod 644 "$target" &&
        if [ "${#RUN_AS[@]}" -gt 0 ]; then chown 65534:65534 "$target"; fi
}

check "install the module file (pointing at the built module)" install_module
check "... its module: line names \$MODULE" grep -qxF "module: $MODULE" "$MODULES_DIR/custos.module"

# ---- p11-kit list-modules ----

# No store configured for the program: the module fails C_Initialize, p11-kit skips it.
check "p11-kit list-modules succeeds with no Custos store configured" \
    as_user env -u CUSTOS_QUIET timeout 60 p11-kit list-modules
listing=$LAST_LOG
check "... other modules are still listed" contains "$listing" "p11-kit-trust"
check "... no Custos token" lacks "$listing" "model: Custos"
check "... stderr says why" contains "$listing" "custos: no store configured"

check "p11-kit list-modules with CUSTOS_STORE in the environment" \
    as_user env CUSTOS_STORE="$P/store" timeout 60 p11-kit list-modules
listing=$LAST_LOG
check "... lists the module as custos: \$MODULE" grep -qxF "custos: $MODULE" "$listing"
check "... library-description: Custos software HSM" contains "$listing" "library-description: Custos software HSM"
check "... token: $TOKEN" grep -qE "^\s+token: $TOKEN\$" "$listing"
check "... and the 3 uninitialised tokens" count_is "$listing" '^\s+token: uninitialised$' 3

check "install the module file with x-init-reserved: $P/custos.toml" install_module "$P/custos.toml"
# From here on no program has CUSTOS_STORE: the store comes from the module file.
check "p11-kit list-modules (store from x-init-reserved)" as_user timeout 60 p11-kit list-modules
listing=$LAST_LOG
check "... token: $TOKEN" grep -qE "^\s+token: $TOKEN\$" "$listing"
# token_flag LISTING TOKEN FLAG: FLAG is among the flags list-modules prints for TOKEN.
token_flag() {
    awk -v t="$2" -v f="$3" '
        $1 == "token:" { cur = substr($0, index($0, ":") + 2) }
        cur == t && $1 == f { found = 1 }
        END { exit !found }' "$1"
}
check "... the token is initialised" token_flag "$listing" "$TOKEN" token-initialized
check "... and its user PIN is set" token_flag "$listing" "$TOKEN" user-pin-initialized
check "... model: Custos" grep -qE '^\s+model: Custos$' "$listing"

# ---- p11-kit-proxy.so as the module of pkcs11-tool ----

px() {
    as_user timeout 60 pkcs11-tool --module "$PROXY" "$@"
}
pxu() {
    as_user timeout 60 pkcs11-tool --module "$PROXY" --token-label "$TOKEN" --login --pin "$PIN" "$@"
}

check "pkcs11-tool --module p11-kit-proxy.so --list-slots" px --list-slots
slots=$LAST_LOG
check "... shows Custos slot 0" contains "$slots" "Custos slot 0"
check "... with the token $TOKEN" grep -qE "^\s+token label\s+: $TOKEN\$" "$slots"
check "... whose manufacturer is Custos" grep -qE "^\s+token manufacturer\s+: Custos\$" "$slots"

check "through the proxy: --keypairgen EC:prime256v1 (id 21, label pec)" \
    pxu --keypairgen --key-type EC:prime256v1 --id 21 --label pec
check "through the proxy: --keypairgen rsa:2048 (id 22, label prsa)" \
    pxu --keypairgen --key-type rsa:2048 --id 22 --label prsa

read_pub() { # TOOL_FUNCTION ID NAME: --read-object pubkey -> $D/NAME.der and $D/NAME.pem
    "$1" --token-label "$TOKEN" --read-object --type pubkey --id "$2" -o "$D/$3.der" &&
        openssl pkey -pubin -inform DER -in "$D/$3.der" -out "$D/$3.pem"
}
check "through the proxy: read the P-256 public key" read_pub px 21 pec
check "through the proxy: read the RSA public key" read_pub px 22 prsa

check "through the proxy: --sign ECDSA-SHA256" \
    pxu --sign --mechanism ECDSA-SHA256 --signature-format openssl --id 21 -i "$D/data" -o "$D/pec.sig"
check "openssl verifies it" openssl dgst -sha256 -verify "$D/pec.pem" -signature "$D/pec.sig" "$D/data"
check_fails "openssl rejects it over tampered data" \
    openssl dgst -sha256 -verify "$D/pec.pem" -signature "$D/pec.sig" "$D/tampered"
check "through the proxy: --sign SHA256-RSA-PKCS-PSS" \
    pxu --sign --mechanism SHA256-RSA-PKCS-PSS --id 22 -i "$D/data" -o "$D/prsa.sig"
check "openssl verifies it (PSS, salt 32)" \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -verify "$D/prsa.pem" -signature "$D/prsa.sig" "$D/data"

# OpenSSL's pkcs11-provider with p11-kit-proxy.so as its module: pkcs11: URIs resolved across
# every registered module. The proxy initialises the registered modules itself, so x-init-reserved
# reaches Custos here too, whatever arguments the application gives the proxy.
ossl_proxy() {
    as_user env PKCS11_PROVIDER_MODULE="$PROXY" timeout 60 openssl "$@"
}
check "openssl (pkcs11-provider on p11-kit-proxy.so) loads pkcs11:token=$TOKEN;object=pec;type=public" \
    ossl_proxy pkey -provider pkcs11 -provider default -pubin \
    -in "pkcs11:token=$TOKEN;object=pec;type=public" -pubout -outform DER -out "$D/pec.uri.der"
check "... the same public key pkcs11-tool read" same_file "$D/pec.uri.der" "$D/pec.der"
check "openssl (pkcs11-provider on p11-kit-proxy.so) signs with pkcs11:...;object=prsa?pin-value=..." \
    ossl_proxy dgst -sha256 -provider pkcs11 -provider default \
    -sign "pkcs11:token=$TOKEN;object=prsa;type=private?pin-value=$PIN" -out "$D/prsa.uri.sig" "$D/data"
check "openssl (default provider) verifies it with the public key" \
    openssl dgst -sha256 -verify "$D/prsa.pem" -signature "$D/prsa.uri.sig" "$D/data"
check_fails "... and rejects it over tampered data" \
    openssl dgst -sha256 -verify "$D/prsa.pem" -signature "$D/prsa.uri.sig" "$D/tampered"

# ---- GnuTLS through the registration ----

# GnuTLS calls C_Initialize with its own arguments (CKF_OS_LOCKING_OK, pReserved NULL), and
# p11-kit 0.24 then hands those to the module instead of the x-init-reserved string (it only
# substitutes it when the caller passes no arguments, as pkcs11-tool and `p11-kit list-modules`
# do). So in GnuTLS programs Custos finds its store from the environment of the program:
# CUSTOS_STORE, CUSTOS_CONF or ~/.config/custos/custos.toml. The user's default file it is.
note "GnuTLS passes its own C_Initialize arguments: x-init-reserved does not reach the module;" \
    "the GnuTLS steps use ~/.config/custos/custos.toml"
install_home_config() {
    mkdir -p "$HOME/.config/custos" && cp "$P/custos.toml" "$HOME/.config/custos/custos.toml" &&
        if [ "${#RUN_AS[@]}" -gt 0 ]; then chown -R 65534:65534 "$HOME/.config/custos"; fi
}
check "install ~/.config/custos/custos.toml for the user" install_home_config

check "p11tool --list-tokens (no --provider: p11-kit's registered modules)" \
    as_user timeout 60 p11tool --batch --list-tokens
tokens=$LAST_LOG
check "... shows the Custos token by URL" \
    grep -qE "URL: pkcs11:model=Custos;manufacturer=Custos;serial=[0-9a-f]{16};token=$TOKEN\$" "$tokens"
check "... loaded from the registered module" grep -qE "^\s+Module: $MODULE\$" "$tokens"

# GnuTLS with pkcs11: URIs. (`p11tool --provider p11-kit-proxy.so` cannot work: p11-kit 0.24
# refuses "to load the p11-kit-proxy.so module as a registered module" through p11_kit_module_load,
# which GnuTLS uses for --provider. Without --provider, GnuTLS uses the registered modules.)
check "p11tool (registered modules) --list-all-privkeys 'pkcs11:token=$TOKEN'" \
    as_user env GNUTLS_PIN="$PIN" timeout 60 p11tool --batch --login \
    --list-all-privkeys "pkcs11:token=$TOKEN"
keys=$LAST_LOG
check "... finds pec" contains "$keys" ";token=$TOKEN;id=%21;object=pec;type=private"
check "... finds prsa" contains "$keys" ";token=$TOKEN;id=%22;object=prsa;type=private"
check "p11tool (registered modules) --test-sign 'pkcs11:token=$TOKEN;object=pec;type=private'" \
    as_user env GNUTLS_PIN="$PIN" timeout 60 p11tool --batch --login \
    --test-sign "pkcs11:token=$TOKEN;object=pec;type=private"
check "... verified against the token's public key" \
    contains "$LAST_LOG" "Verifying against public key in the token... ok"

cat >"$D/cert.tmpl" <<'EOF'
cn = "Custos via p11-kit"
serial = 9
expiration_days = 3
signing_key
EOF
check "certtool (registered modules) signs a certificate with pkcs11:model=Custos;...;object=prsa" \
    as_user env GNUTLS_PIN="$PIN" timeout 60 certtool --generate-self-signed \
    --load-privkey "pkcs11:model=Custos;token=$TOKEN;object=prsa;type=private" \
    --template "$D/cert.tmpl" --outfile "$D/prsa.crt"
check "openssl verifies the certificate" openssl verify -CAfile "$D/prsa.crt" "$D/prsa.crt"
pubkey_of_cert() { # CERT DER
    openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER -out "$2"
}
check "its public key is the token's" pubkey_of_cert "$D/prsa.crt" "$D/prsa.crt.der"
check "... equal to the key read through the proxy" same_file "$D/prsa.crt.der" "$D/prsa.der"

# ---- RPC: p11-kit server + p11-kit-client.so ----

SOCKET="$P/run/custos.sock"
server_out="$LOGS/p11-kit-server.out"
server_err="$LOGS/p11-kit-server.err"
# The server loads the module itself (--provider, outside the p11-kit registration), so it needs
# the store in its environment; it exposes only the tokens matching the URI.
# Started directly (not through the as_user function, which would run in a subshell), so that
# SERVER_PID is the process that forwards the signal to the server: setpriv and env exec timeout.
server_cmd=(env CUSTOS_STORE="$P/store" timeout 300 p11-kit server -f -s --provider "$MODULE"
    -n "$SOCKET" "pkcs11:token=$TOKEN")
if [ "${#RUN_AS[@]}" -gt 0 ]; then
    server_cmd=("${RUN_AS[@]}" "${server_cmd[@]}")
fi
"${server_cmd[@]}" </dev/null >"$server_out" 2>"$server_err" &
SERVER_PID=$!
started=no
for ((i = 0; i < 200; i++)); do
    if grep -q '^P11_KIT_SERVER_ADDRESS=' "$server_out" 2>/dev/null && [ -S "$SOCKET" ]; then
        started=yes
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
[ "$started" = yes ] || die "p11-kit server did not start: $(cat "$server_out" "$server_err")"
# The p11-kit server process itself (timeout's child).
server_pid=$(ps -o pid= --ppid "$SERVER_PID" | tr -d ' ')
address=$(sed -n 's/^P11_KIT_SERVER_ADDRESS=\([^;]*\);.*/\1/p' "$server_out")
check "p11-kit server runs (pid ${server_pid:-none})" test -n "$server_pid"
check "p11-kit server printed its address" test -n "$address"
check "... the socket we asked for" test "$address" = "unix:path=$SOCKET"
export P11_KIT_SERVER_ADDRESS=$address

rpc() {
    as_user timeout 60 pkcs11-tool --module "$CLIENT" "$@"
}
rpcu() {
    as_user timeout 60 pkcs11-tool --module "$CLIENT" --token-label "$TOKEN" --login --pin "$PIN" "$@"
}

check "through RPC: --list-slots" rpc --list-slots
slots=$LAST_LOG
check "... exactly one slot (the server exports only pkcs11:token=$TOKEN)" count_is "$slots" '^Slot [0-9]+' 1
check "... holding the token $TOKEN" grep -qE "^\s+token label\s+: $TOKEN\$" "$slots"
check "... whose model is Custos" grep -qE "^\s+token model\s+: Custos\$" "$slots"

check "through RPC: the keys made through the proxy are there" rpcu --list-objects --type privkey
check "... pec and prsa" count_is "$LAST_LOG" '^\s+label:\s+p(ec|rsa)$' 2

check "through RPC: --keypairgen rsa:2048 (id 31, label rrsa)" \
    rpcu --keypairgen --key-type rsa:2048 --id 31 --label rrsa
check "through RPC: --keypairgen EC:prime256v1 (id 32, label rec)" \
    rpcu --keypairgen --key-type EC:prime256v1 --id 32 --label rec
check "through RPC: read the RSA public key" read_pub rpc 31 rrsa
check "through RPC: read the P-256 public key" read_pub rpc 32 rec

check "through RPC: --sign SHA256-RSA-PKCS" \
    rpcu --sign --mechanism SHA256-RSA-PKCS --id 31 -i "$D/data" -o "$D/rrsa.sig"
check "openssl verifies it" openssl dgst -sha256 -verify "$D/rrsa.pem" -signature "$D/rrsa.sig" "$D/data"
check_fails "openssl rejects it over tampered data" \
    openssl dgst -sha256 -verify "$D/rrsa.pem" -signature "$D/rrsa.sig" "$D/tampered"
# p11-kit 0.24.1's RPC layer carries only the mechanisms on its own allow-list
# (p11_rpc_mechanism_is_supported): CKM_ECDSA but not CKM_ECDSA_SHA256, CKM_RSA_PKCS_PSS but not
# CKM_SHA256_RSA_PKCS_PSS, no SHA-3, no AES-CBC/GCM. The client drops the others from
# C_GetMechanismList and refuses them itself (CKR_MECHANISM_INVALID, the server never sees the
# call). Through RPC, ECDSA and PSS are therefore used over a digest made by the caller.
note "p11-kit 0.24.1 RPC passes only its allow-listed mechanisms (no CKM_ECDSA_SHA256," \
    "no CKM_SHA256_RSA_PKCS_PSS): ECDSA and RSA-PSS are signed over a SHA-256 digest"
check "through RPC: --list-mechanisms" rpc --token-label "$TOKEN" --list-mechanisms
mechs=$LAST_LOG
check "... offers ECDSA" grep -qE '^\s+ECDSA, ' "$mechs"
check "... offers RSA-PKCS-PSS" grep -qE '^\s+RSA-PKCS-PSS, ' "$mechs"
check "... offers RSA-PKCS-OAEP" grep -qE '^\s+RSA-PKCS-OAEP, ' "$mechs"

openssl dgst -sha256 -binary "$D/data" >"$D/digest"
openssl dgst -sha256 -binary "$D/tampered" >"$D/digest.tampered"
check "through RPC: --sign ECDSA over a SHA-256 digest (raw r||s)" \
    rpcu --sign --mechanism ECDSA --id 32 -i "$D/digest" -o "$D/rec.raw"
check "... 64 bytes" size_is "$D/rec.raw" 64
check "raw r||s converts to DER" ecdsa_raw_to_der "$D/rec.raw" "$D/rec.sig"
check "openssl verifies it" \
    openssl pkeyutl -verify -pubin -inkey "$D/rec.pem" -in "$D/digest" -sigfile "$D/rec.sig"
check_fails "openssl rejects it for the tampered digest" \
    openssl pkeyutl -verify -pubin -inkey "$D/rec.pem" -in "$D/digest.tampered" -sigfile "$D/rec.sig"
check "through RPC: --sign RSA-PKCS-PSS over a SHA-256 digest (MGF1-SHA256, salt 32)" \
    rpcu --sign --mechanism RSA-PKCS-PSS --hash-algorithm SHA256 --mgf MGF1-SHA256 --salt-len 32 \
    --id 31 -i "$D/digest" -o "$D/rrsa.pss"
check "openssl verifies it" \
    openssl pkeyutl -verify -pubin -inkey "$D/rrsa.pem" -in "$D/digest" -sigfile "$D/rrsa.pss" \
    -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32

printf 'a secret for the token, %s\n' "$(date +%s%N)" >"$D/secret.txt"
check "openssl encrypts to the RSA key (PKCS#1 v1.5)" \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rrsa.pem" -in "$D/secret.txt" -out "$D/secret.pkcs1"
check "through RPC: --decrypt RSA-PKCS" \
    rpcu --decrypt --mechanism RSA-PKCS --id 31 -i "$D/secret.pkcs1" -o "$D/secret.pkcs1.out"
check "... gives back the plaintext" same_file "$D/secret.pkcs1.out" "$D/secret.txt"
check "openssl encrypts to the RSA key (OAEP, SHA-256)" \
    openssl pkeyutl -encrypt -pubin -inkey "$D/rrsa.pem" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$D/secret.txt" -out "$D/secret.oaep"
check "through RPC: --decrypt RSA-PKCS-OAEP (SHA-256, MGF1-SHA256)" \
    rpcu --decrypt --mechanism RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 --id 31 \
    -i "$D/secret.oaep" -o "$D/secret.oaep.out"
check "... gives back the plaintext" same_file "$D/secret.oaep.out" "$D/secret.txt"

check_fails "through RPC: a wrong PIN is refused" \
    as_user timeout 60 pkcs11-tool --module "$CLIENT" --token-label "$TOKEN" --login --pin 0000 \
    --list-objects --type privkey
check "... with CKR_PIN_INCORRECT" contains "$LAST_LOG" "CKR_PIN_INCORRECT"
check "through RPC: the right PIN still works" rpcu --list-objects --type privkey
check "... 4 private keys" count_is "$LAST_LOG" '^Private Key Object' 4

# Stop the server; the keys made through it are in the store.
stop_server
gone() { # PID: no such process any more
    ! kill -0 "$1" 2>/dev/null
}
check "the p11-kit server process has exited" gone "$server_pid"
check_fails "with the server stopped, p11-kit-client.so finds no token" \
    as_user timeout 60 pkcs11-tool --module "$CLIENT" --token-label "$TOKEN" --list-objects
check "directly through the module: the RPC-made keys are in the store" \
    as_user env CUSTOS_STORE="$P/store" timeout 60 pkcs11-tool --module "$MODULE" --slot 0 \
    --login --pin "$PIN" --list-objects --type privkey
direct=$LAST_LOG
check "... rrsa" grep -qE '^\s+label:\s+rrsa$' "$direct"
check "... rec" grep -qE '^\s+label:\s+rec$' "$direct"

finish
