"""The layers hold: imports go one way, no circles, kinds and Open vSwitch stay in their places.

Read from the source with ast (nothing is imported): every ``import`` and ``from ... import``
of every module under testbed/, at module level and inside functions (an import inside a
function is still a dependency; one under ``if TYPE_CHECKING`` only counts for the layers).
"""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

from testbed import kinds

PACKAGE = Path(__file__).resolve().parents[2] / "testbed"

# Bottom to top: a module may import its own layer and the layers below it.
LAYERS = [
    ("base", ("testbed.errors", "testbed.tools")),
    ("model", ("testbed.model",)),
    ("kernel", ("testbed.kernel",)),
    ("kinds", ("testbed.kinds",)),
    ("plug-ins", ("testbed.concerns", "testbed.backends", "testbed.ovs")),
    ("topology", ("testbed.topology",)),
    ("planning", ("testbed.planning",)),
    ("deploy", ("testbed.deploy",)),
    ("run", ("testbed.run",)),
    ("lab, views, vm", ("testbed.lab", "testbed.views", "testbed.vm", "testbed.compat")),
    ("cli", ("testbed.cli",)),
]
# Inside the plug-in layer: concerns know no backend; only the backends registry names OVS.
OVS_ENTRY = "testbed.backends"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None


class Imports(ast.NodeVisitor):
    """(target module, in a function, under TYPE_CHECKING) of every import of one module."""

    def __init__(self, module: str, is_package: bool):
        self.module, self.is_package = module, is_package
        self.found: list[tuple[str, bool, bool]] = []
        self.depth = 0
        self.type_checking = 0

    def visit_FunctionDef(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node):
        guarded = isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        self.type_checking += guarded
        for child in node.body:
            self.visit(child)
        self.type_checking -= guarded
        for child in node.orelse:
            self.visit(child)

    def add(self, target: str) -> None:
        if target == "testbed" or target.startswith("testbed."):
            self.found.append((target, self.depth > 0, self.type_checking > 0))

    def visit_Import(self, node):
        for alias in node.names:
            self.add(alias.name)

    def visit_ImportFrom(self, node):
        base = node.module or ""
        if node.level:
            package = self.module if self.is_package else self.module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            full = f"{base}.{alias.name}"
            self.add(full if full in MODULES else base)


def imports_of(module: str) -> list[tuple[str, bool, bool]]:
    path = MODULES[module]
    visitor = Imports(module, path.name == "__init__.py")
    visitor.visit(ast.parse(path.read_text(), str(path)))
    return visitor.found


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "testbed" and layer_of(m) is None] == []


def test_no_module_imports_a_layer_above_it():
    upward = []
    for module, targets in GRAPH.items():
        mine = layer_of(module)
        if mine is None:                                 # testbed/__init__: the lazy public API
            continue
        for target, _, _ in targets:
            theirs = layer_of(target)
            if theirs is not None and theirs > mine:
                upward.append(f"{module} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]})")
    assert upward == []


def test_no_import_circles_not_even_through_imports_inside_functions():
    graph = nx.DiGraph()
    for module, targets in GRAPH.items():
        for target, _, type_only in targets:
            if not type_only and target in MODULES and target != module:
                graph.add_edge(module, target)
    assert list(nx.simple_cycles(graph)) == []


def test_concerns_know_no_switch_backend_and_only_the_registry_names_open_vswitch():
    wrong = []
    for module, targets in GRAPH.items():
        for target, _, _ in targets:
            if module.startswith("testbed.concerns") and target.startswith(("testbed.backends", "testbed.ovs")):
                wrong.append(f"{module} imports {target}")
            if target.startswith("testbed.ovs") and not module.startswith("testbed.ovs") and module != OVS_ENTRY:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


# Interface and device kinds share a name with a node kind ("bridge"); comparing those is fine.
INTERFACE_KINDS = {"veth", "bridge", "ovs", "dummy", "macvlan", "ifb"}


def _mentions_kind(node: ast.AST) -> bool:
    """Whether an expression reads a node's kind: ``x.kind``, ``kind``, ``kind_name``, ``x.get("kind")``."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("kind", "kind_name")
    if isinstance(node, ast.Name):
        return node.id in ("kind", "kind_name")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        return any(isinstance(a, ast.Constant) and a.value == "kind" for a in node.args)
    return False


def _kind_names_compared(tree: ast.AST, names: set[str]) -> list[int]:
    """Lines comparing a node's kind with a kind's name (==, !=, in a literal tuple/list/set)."""
    names = names - INTERFACE_KINDS
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not any(_mentions_kind(o) for o in operands):
            continue
        for operand in operands:
            values = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
            if any(isinstance(v, ast.Constant) and v.value in names for v in values):
                lines.append(node.lineno)
    return lines


def test_no_kind_name_comparisons_outside_the_kinds():
    names = set(kinds.names())
    found = {}
    for module, path in MODULES.items():
        if module.startswith("testbed.kinds"):
            continue
        lines = _kind_names_compared(ast.parse(path.read_text()), names)
        if lines:
            found[module] = lines
    assert found == {}


@pytest.mark.parametrize("source, expected", [
    ("x = a.kind == 'router'", [1]),
    ("x = kind in ('host', 'nat')", [1]),
    ("x = attrs.get('kind') != 'switch'", [1]),
    ("x = intf.kind == 'veth'", []),
    ("x = intf.kind == 'bridge'", []),
    ("x = 'router' in spec", []),
])
def test_the_kind_name_check_catches_comparisons(source, expected):
    assert _kind_names_compared(ast.parse(source), set(kinds.names())) == expected
