#!/usr/bin/env bash
# Install the stock-kernel lane (testbed/vm.py): QEMU, a stock Debian kernel, a static
# busybox (Debian packages, only those missing) and virtme-ng into the venv given as $1.
# Idempotent; non-interactive; run as root on Debian 12.
set -euo pipefail
VENV=${1:?usage: install-vm-lane.sh VENV_DIR}
VIRTME_NG_VERSION=1.42
packages=(qemu-system-x86 linux-image-amd64 busybox-static)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
        exit 3
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # busybox-static replaces (removes) the dynamic busybox package; virtme-ng needs a static one.
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -m pip show virtme-ng 2>/dev/null | grep -qx "Version: $VIRTME_NG_VERSION"; then
    "$VENV/bin/python" -m pip install --quiet "virtme-ng==$VIRTME_NG_VERSION"
fi
ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 || { echo "no /boot/vmlinuz-*-amd64 after install" >&2; exit 1; }
echo "stock-kernel lane ready: $("$VENV/bin/vng" --version), kernels: $(cd /boot && echo vmlinuz-*-amd64)"
