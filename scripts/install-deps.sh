#!/usr/bin/env bash
# Installs the Debian packages Reaper needs, only those that are missing.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# `make script-test` tests the kind mode's Python driver, so it needs python3
# with its gRPC and protobuf modules. With strace, the test of
# configure-containerd.sh also checks that `containerd config dump` changes
# nothing.
BUILD_PACKAGES=(g++ make protobuf-compiler libprotobuf-dev libgtest-dev libgmock-dev
  python3 python3-grpcio python3-protobuf strace shellcheck)
# util-linux and mount provide unshare, mount and umount. The CRI cases of
# tests/e2e run on /usr/bin/python3 with Debian's gRPC and protobuf modules,
# compile their messages with protoc and the pause image with g++.
INTEGRATION_PACKAGES=(containerd runc util-linux mount python3 python3-grpcio python3-protobuf
  protobuf-compiler g++)

usage() {
  cat <<USAGE
Usage: scripts/install-deps.sh build|integration|all

Installs the missing Debian or Ubuntu packages with apt-get:
  build        compiler, make, protobuf and GoogleTest: ${BUILD_PACKAGES[*]}
  integration  containerd and what the end-to-end tests use: ${INTEGRATION_PACKAGES[*]}
  all          both
Runs "apt-get update" first, once, and only if something is missing.
Needs root to install; without root it lists what is missing and exits
with status 1.
USAGE
}

# Commands that count as the package being present even when dpkg does not
# list it, because another package provides them: Docker's containerd.io
# ships containerd and runc, and installing Debian's containerd next to it
# would conflict.
declare -A PROVIDED_BY_COMMAND=([containerd]=containerd [runc]=runc)

# Prints the packages of the arguments that are missing.
missing_packages() {
  local package command
  for package in "$@"; do
    if [[ $(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null) == installed ]]; then
      continue
    fi
    command=${PROVIDED_BY_COMMAND[$package]:-}
    if [[ -n $command ]] && command -v "$command" >/dev/null; then
      continue
    fi
    printf '%s\n' "$package"
  done
}

main() {
  local packages missing
  case ${1:-} in
    build) packages=("${BUILD_PACKAGES[@]}") ;;
    integration) packages=("${INTEGRATION_PACKAGES[@]}") ;;
    all) packages=("${BUILD_PACKAGES[@]}" "${INTEGRATION_PACKAGES[@]}") ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  (($# == 1)) || { usage >&2; exit 2; }
  command -v dpkg-query >/dev/null || die "dpkg-query not found: this script supports Debian and Ubuntu only"

  mapfile -t missing < <(missing_packages "${packages[@]}")
  if ((${#missing[@]} == 0)); then
    log "nothing to install: every package for '$1' is installed"
    return
  fi
  if [[ $(id -u) -ne 0 ]]; then
    die "missing packages: ${missing[*]}; run 'sudo scripts/install-deps.sh $1' to install them"
  fi

  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

main "$@"
