#!/usr/bin/env bash
# Installs the system packages Custos' build, demo and tests need (Debian/Ubuntu).
# Packages already present are not reinstalled; nothing is fetched when all are there.
set -euo pipefail

packages=(opensc openssl gcc g++ libc6-dev pkg-config binutils gnutls-bin p11-kit p11-kit-modules
  libengine-pkcs11-openssl pkcs11-provider openjdk-17-jdk-headless valgrind)
# pkcs11-provider (the OpenSSL 3 provider) comes from Debian's bookworm-backports.
backports=/etc/apt/sources.list.d/bookworm-backports.sources
if [ -f /etc/debian_version ] && grep -q '^12' /etc/debian_version && [ ! -f "$backports" ] \
   && ! dpkg -s pkcs11-provider >/dev/null 2>&1; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    | "${sudo_cmd[@]}" tee "$backports" >/dev/null
fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust (rustup) first" >&2; exit 1; }
