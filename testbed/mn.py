"""``python -m testbed.mn SCRIPT.py [ARGS]``: run a Mininet script on testbed (as ``testbed mn``)."""
from __future__ import annotations

import sys
from typing import Sequence

from testbed.cli.main import main as testbed_main


def main(argv: Sequence[str] | None = None) -> int:
    """The same as ``testbed mn ARGS``."""
    return testbed_main(["mn", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
