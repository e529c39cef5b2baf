# shellcheck shell=bash
# shellcheck disable=SC2034 # LAST_LOG is read by the scripts that source this file
# Shared helpers for the interop scripts in this directory. Source it after `set -euo pipefail`
# and after setting SUITE (the name printed in the summary line).
#
# Every check is one call to `check` (a command that must succeed) or `check_fails` (a command
# that must fail cleanly). The first failing check prints what failed, with the command's output,
# and ends the script with a non-zero status. A run that gets to the end calls `finish`, which
# prints exactly `interop <suite>: N passed, 0 failed`.

: "${SUITE:?set SUITE before sourcing lib.sh}"

PASSED=0

# The directory for per-check logs; set by `interop_init`.
LOGS=""

# die MESSAGE: report an error that is not a check (bad setup) and stop.
die() {
    printf 'interop %s: error: %s\n' "$SUITE" "$*" >&2
    printf 'interop %s: %d passed, 1 failed\n' "$SUITE" "$PASSED"
    exit 1
}

# note MESSAGE: a visible remark (a step that cannot run as written, and why).
note() {
    printf 'note: %s\n' "$*"
}

# require_tool COMMAND DEBIAN_PACKAGE
require_tool() {
    if ! command -v "$1" >/dev/null 2>&1; then
        die "'$1' is not on PATH: install Debian package $2 (apt-get install $2)"
    fi
}

# require_env VAR...: each variable must be set and non-empty.
require_env() {
    local v
    for v in "$@"; do
        if [ -z "${!v:-}" ]; then
            die "environment variable $v must be set"
        fi
    done
}

# interop_init: checks WORK and prepares the log directory. Installs a trap that names the
# line of any unexpected failing command outside a check.
interop_init() {
    require_env WORK
    mkdir -p "$WORK/logs" || die "cannot create $WORK/logs"
    LOGS="$WORK/logs"
    trap 'interop_unexpected $LINENO "$BASH_COMMAND"' ERR
}

interop_unexpected() {
    trap - ERR
    printf 'FAIL: unexpected error at %s line %s: %s\n' "${BASH_SOURCE[1]:-script}" "$1" "$2"
    printf 'interop %s: %d passed, 1 failed\n' "$SUITE" "$PASSED"
    exit 1
}

_log_name() {
    printf '%s/%03d.log' "$LOGS" "$((PASSED + 1))"
}

_fail() {
    local name=$1 why=$2 log=$3
    trap - ERR
    printf 'FAIL: %s: %s\n' "$name" "$why"
    if [ -s "$log" ]; then
        printf -- '---- output (%s) ----\n' "$log"
        tail -n 60 "$log"
        printf -- '---- end of output ----\n'
    fi
    printf 'interop %s: %d passed, 1 failed\n' "$SUITE" "$PASSED"
    exit 1
}

# check NAME CMD [ARGS...]: CMD must exit 0. Its stdout and stderr go to a log file, whose path
# is left in LAST_LOG for follow-up assertions.
LAST_LOG=""
check() {
    local name=$1
    shift
    local log rc=0
    log=$(_log_name)
    LAST_LOG=$log
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        _fail "$name" "exit status $rc from: $*" "$log"
    fi
    PASSED=$((PASSED + 1))
    printf 'ok %d - %s\n' "$PASSED" "$name"
}

# check_fails NAME CMD [ARGS...]: CMD must exit with a failure status (1..125), not succeed and
# not die of a signal.
check_fails() {
    local name=$1
    shift
    local log rc=0
    log=$(_log_name)
    LAST_LOG=$log
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        _fail "$name" "expected a failure, but it succeeded: $*" "$log"
    fi
    if [ "$rc" -gt 125 ]; then
        _fail "$name" "expected a clean failure, got exit status $rc (signal or crash): $*" "$log"
    fi
    PASSED=$((PASSED + 1))
    printf 'ok %d - %s\n' "$PASSED" "$name"
}

# maybe_serve STORE: with CUSTOS_INTEROP_SERVED=1, starts `custos serve` on STORE and waits
# for its socket, so that the module forwards every call to the server (served mode). The
# server is stopped by `finish`, and in any case ends after 15 minutes.
SERVE_PID=
maybe_serve() {
    [ "${CUSTOS_INTEROP_SERVED:-0}" = 1 ] || return 0
    timeout 900 "$CUSTOS" serve --store "$1" 2>"$WORK/serve.log" &
    SERVE_PID=$!
    local i
    for i in $(seq 1 600); do
        [ -S "$1/custos.sock" ] && { note "served mode: custos serve (pid $SERVE_PID) on $1"; return 0; }
        sleep 0.1
    done
    die "custos serve did not start: $(cat "$WORK/serve.log")"
}

# finish: the summary line of a fully passing run.
finish() {
    trap - ERR
    if [ -n "$SERVE_PID" ]; then
        kill "$SERVE_PID" 2>/dev/null || true
    fi
    printf 'interop %s: %d passed, 0 failed\n' "$SUITE" "$PASSED"
}

# ---- small assertion commands, for use as the CMD of `check` ----

# contains FILE TEXT: FILE contains TEXT (fixed string).
contains() {
    grep -qF -- "$2" "$1" || {
        printf 'expected to find %q in %s\n' "$2" "$1"
        return 1
    }
}

# lacks FILE TEXT: FILE does not contain TEXT.
lacks() {
    if grep -qF -- "$2" "$1"; then
        printf 'did not expect %q in %s\n' "$2" "$1"
        return 1
    fi
}

# count_is FILE REGEX N: exactly N lines of FILE match the extended REGEX.
count_is() {
    local n
    n=$(grep -cE -- "$2" "$1" || true)
    if [ "$n" -ne "$3" ]; then
        printf 'expected %s lines matching %q in %s, found %s\n' "$3" "$2" "$1" "$n"
        return 1
    fi
}

# size_is FILE N: FILE is N bytes long.
size_is() {
    local n
    n=$(wc -c <"$1")
    if [ "$n" -ne "$2" ]; then
        printf 'expected %s to be %s bytes, it is %s\n' "$1" "$2" "$n"
        return 1
    fi
}

# same_file A B / different_file A B
same_file() { cmp -- "$1" "$2"; }
different_file() {
    if cmp -s -- "$1" "$2"; then
        printf '%s and %s are identical\n' "$1" "$2"
        return 1
    fi
}

# ---- hex and DER, in plain bash (no python, no xxd) ----

# hex_of FILE: lower-case hex of FILE's bytes, one line.
hex_of() {
    od -An -v -tx1 -- "$1" | tr -d ' \n'
}

# write_hex HEX FILE: writes the bytes HEX spells to FILE.
write_hex() {
    local hex=$1 out=$2 esc=""
    local i
    for ((i = 0; i < ${#hex}; i += 2)); do
        esc+="\\x${hex:i:2}"
    done
    printf '%b' "$esc" >"$out"
}

# der_len N: the DER length octets for a content of N bytes, in hex.
der_len() {
    local n=$1
    if [ "$n" -lt 128 ]; then
        printf '%02x' "$n"
    elif [ "$n" -lt 256 ]; then
        printf '81%02x' "$n"
    else
        printf '82%04x' "$n"
    fi
}

# der_tlv TAG_HEX CONTENT_HEX
der_tlv() {
    printf '%s%s%s' "$1" "$(der_len $((${#2} / 2)))" "$2"
}

# der_uint HEX: a DER INTEGER holding the unsigned big-endian number HEX.
der_uint() {
    local v=$1
    while [ "${#v}" -gt 2 ] && [ "${v:0:2}" = "00" ]; do
        v=${v:2}
    done
    [ -n "$v" ] || v=00
    case ${v:0:1} in
    [89a-fA-F]) v="00$v" ;;
    esac
    der_tlv 02 "$v"
}

# ecdsa_raw_to_der IN OUT: converts a PKCS#11 ECDSA signature (r || s, equal halves) to the
# DER `ECDSA-Sig-Value` OpenSSL verifies.
ecdsa_raw_to_der() {
    local hex half
    hex=$(hex_of "$1")
    if [ $((${#hex} % 4)) -ne 0 ] || [ "${#hex}" -eq 0 ]; then
        printf 'raw ECDSA signature has an odd length (%d bytes)\n' $((${#hex} / 2))
        return 1
    fi
    half=$((${#hex} / 2))
    write_hex "$(der_tlv 30 "$(der_uint "${hex:0:half}")$(der_uint "${hex:half}")")" "$2"
}

# der_octet_string_content HEX: the content of the DER OCTET STRING HEX (short or long form
# length up to two octets); fails on anything else.
der_octet_string_content() {
    local hex=$1 len off
    [ "${hex:0:2}" = "04" ] || return 1
    case ${hex:2:2} in
    81) len=$((16#${hex:4:2})) off=6 ;;
    82) len=$((16#${hex:4:4})) off=8 ;;
    *) len=$((16#${hex:2:2})) off=4 ;;
    esac
    [ $((${#hex} - off)) -eq $((len * 2)) ] || return 1
    printf '%s' "${hex:off}"
}

# ec_spki_der PARAMS_HEX EC_POINT_HEX OUT: writes the SubjectPublicKeyInfo (DER) of an EC public
# key from its CKA_EC_PARAMS and CKA_EC_POINT (a DER OCTET STRING holding the X9.62 point).
ec_spki_der() {
    local point
    point=$(der_octet_string_content "$2") || {
        printf 'CKA_EC_POINT is not a DER OCTET STRING: %s\n' "$2"
        return 1
    }
    # id-ecPublicKey 1.2.840.10045.2.1
    local alg
    alg=$(der_tlv 30 "06072a8648ce3d0201$1")
    write_hex "$(der_tlv 30 "$alg$(der_tlv 03 "00$point")")" "$3"
}
