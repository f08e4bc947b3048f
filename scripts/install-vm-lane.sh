#!/usr/bin/env bash
# Install the stock-kernel lane (testbed/vm.py): QEMU, a stock Debian kernel, a static
# busybox (Debian packages, only those missing) and virtme-ng into the venv given as $1.
# Idempotent; non-interactive; run as root on Debian 12.
set -euo pipefail
VENV=${1:?usage: install-vm-lane.sh VENV_DIR}
VIRTME_NG_VERSION=1.42
# busybox-static replaces (removes) the dynamic busybox package; virtme-ng needs a static one.
bash "$(dirname "$0")/install-system.sh" qemu-system-x86 linux-image-amd64 busybox-static
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -m pip show virtme-ng 2>/dev/null | grep -qx "Version: $VIRTME_NG_VERSION"; then
    "$VENV/bin/python" -m pip install --quiet "virtme-ng==$VIRTME_NG_VERSION"
fi
ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 || { echo "no /boot/vmlinuz-*-amd64 after install" >&2; exit 1; }
echo "stock-kernel lane ready: $("$VENV/bin/vng" --version), kernels: $(cd /boot && echo vmlinuz-*-amd64)"
