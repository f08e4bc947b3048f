"""Mininet 2.3's Python API on testbed's engine: run Mininet scripts unchanged.

``testbed mn SCRIPT.py`` (or ``python -m testbed.mn SCRIPT.py``) installs an import hook
(``install()``) before the script runs: ``mininet.net``, ``mininet.node``, ``mininet.link``,
``mininet.cli``, ``mininet.clean``, ``mininet.nodelib`` and ``mininet.util`` are then this
package's modules, while the pure parts of the ``mininet`` package (``mininet.topo``,
``mininet.topolib``, ``mininet.log``) are used as they are. Outside ``testbed mn``
importing ``mininet`` is untouched. Mininet's examples import each other as
``mininet.examples.X``: with ``examples=DIR`` those come from DIR first.

The modules (each says what it maps to and what differs):

    engine   the testbed Network behind a Mininet network: declared, then built at once
    shell    the persistent shell of a node (started on its first command)
    net      Mininet
    node     Node, Host, CPULimitedHost, the switches, the controllers
    link     Intf, TCIntf, Link, TCLink
    nodelib  LinuxBridge, NAT
    cli      CLI (testbed's shell with Mininet's prompt, commands and output)
    clean    cleanup() from the journals
    util     Mininet's helpers
    mn       the ``mn`` command line (``testbed mn`` without a script)
    ovstools ovs-vsctl/ovs-ofctl outside the switches reach the switch they name

This layer is a client of testbed's public API; it keeps no state in the core.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from typing import Any

MODULES = {
    "mininet.net": "testbed.compat.net",
    "mininet.node": "testbed.compat.node",
    "mininet.link": "testbed.compat.link",
    "mininet.cli": "testbed.compat.cli",
    "mininet.clean": "testbed.compat.clean",
    "mininet.nodelib": "testbed.compat.nodelib",
    "mininet.util": "testbed.compat.util",
}
PURE = ("mininet.topo", "mininet.topolib", "mininet.log")


class _Alias(importlib.abc.Loader):
    """Loads ``mininet.X`` as testbed's module (the very same module object)."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return importlib.import_module(self.target)

    def exec_module(self, module: Any) -> None:
        return None


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, examples: str | None):
        self.examples = examples

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname in MODULES:
            return importlib.util.spec_from_loader(fullname, _Alias(MODULES[fullname]))
        if fullname == "mininet.examples" and self.examples:
            locations = [self.examples]
            real = importlib.machinery.PathFinder.find_spec(fullname, path)
            if real is not None and real.submodule_search_locations:
                locations += [p for p in real.submodule_search_locations if p != self.examples]
            init = os.path.join(self.examples, "__init__.py")
            if os.path.exists(init):
                spec = importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=locations)
            else:
                spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
                spec.submodule_search_locations = locations
            return spec
        return None


_finder: _Finder | None = None


def install(examples: str | None = None) -> None:
    """Make ``import mininet.net`` (and the others) load testbed's modules, from now on in this
    process; ``examples``: a folder of Mininet's examples, for ``mininet.examples.X``."""
    global _finder
    uninstall()
    _forget_mininet()
    _finder = _Finder(os.path.abspath(examples) if examples else None)
    sys.meta_path.insert(0, _finder)
    from testbed.compat import ovstools
    ovstools.wrappers()


def uninstall() -> None:
    """Back to the real ``mininet`` package (for tests that installed the hook)."""
    global _finder
    if _finder is not None:
        if _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        _finder = None
        _forget_mininet()
        from testbed.compat import ovstools
        ovstools.remove_wrappers()


def installed() -> bool:
    return _finder is not None


def _forget_mininet() -> None:
    """Drop the ``mininet`` modules imported so far (but the package and its log, the same
    either way), so the next import goes through the hook (or the real package again)."""
    for name in [n for n in sys.modules if n.startswith("mininet.") and n != "mininet.log"]:
        del sys.modules[name]


def examples_folder(script: str) -> str | None:
    """The folder of Mininet's examples a script is in (or its test folder is in), if any."""
    folder = os.path.dirname(os.path.abspath(script))
    for candidate in (folder, os.path.dirname(folder)):
        if os.path.basename(candidate) == "examples" and os.path.exists(os.path.join(candidate, "__init__.py")):
            return candidate
    return None
