"""The outside programs testbed runs, and the Debian packages that bring them."""
from __future__ import annotations

import shutil

from testbed.errors import EnvironmentProblem

PACKAGES = {"ip": "iproute2", "ss": "iproute2", "bridge": "iproute2", "ping": "iputils-ping",
            "iperf3": "iperf3", "tcpdump": "tcpdump", "ethtool": "ethtool", "nft": "nftables",
            "taskset": "util-linux"}


def require_tools(*tools: str) -> None:
    """Raise EnvironmentProblem (exit 3) naming the packages to install for missing tools."""
    missing = [t for t in tools if shutil.which(t) is None and
               shutil.which(t, path="/usr/sbin:/sbin:/usr/bin:/bin") is None]
    if missing:
        packages = sorted({PACKAGES.get(t, t) for t in missing})
        raise EnvironmentProblem(f"missing tool(s) {', '.join(missing)}: apt-get install {' '.join(packages)} "
                                 "(or run `make install`)")
