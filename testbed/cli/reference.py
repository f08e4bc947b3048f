"""The reference (docs/reference.md), generated from the code's own schemas and docstrings.

    python -m testbed.cli.reference > docs/reference.md       # what `make reference` does
    testbed help attributes [KIND]                             # the same tables in the terminal

Every node attribute comes from the schemas of the kinds, the concerns that accept the kind
and the switch backends that can build it; link attributes from the core and the concerns;
shell commands from the shell's docstrings; experiment helpers from the public API. A unit
test fails when docs/reference.md is not what this prints.
"""
from __future__ import annotations

import inspect
import sys

import testbed
from testbed import backends, concerns, kinds
from testbed.cli.shell import Shell
from testbed.kinds.host import DEVICE_HELP
from testbed.topology.resolve import CORE_LINK_ATTRS, node_schema

API_HELPERS = ("load", "validate", "plan", "Network", "ping", "iperf3", "Flow", "concurrent", "counting",
               "Capture", "wait_listening", "target_address", "parse_rate", "parse_time", "kernel_features",
               "Results", "Plot", "skip")
FLAGS = ("switching", "forwards", "gateway", "static_routes", "endpoint", "masquerades", "learns")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def node_attributes() -> dict[str, tuple[object, list[str], str]]:
    """attribute -> (its Attr, the kinds that accept it, who declares it), sorted by name."""
    found: dict[str, tuple[object, list[str], str]] = {}
    owners = {name: "core" for k in kinds.all_kinds() for name in k.attrs}
    for concern in concerns.REGISTRY:
        owners.update({name: f"concern {concern.name}" for name in concern.node_attrs})
    for backend in backends.REGISTRY.values():
        for kind in kinds.all_kinds():
            owners.update({name: f"backend {backend.name}" for name in backend.attrs_for(kind)})
    for kind in kinds.all_kinds():
        schema, _ = node_schema(kind)
        for name, spec in schema.items():
            _, used_by, _ = found.get(name, (spec, [], ""))
            found[name] = (spec, used_by + [kind.name], owners.get(name, "core"))
    return dict(sorted(found.items()))


def link_attributes() -> dict[str, tuple[object, str]]:
    found = {name: (spec, "core") for name, spec in CORE_LINK_ATTRS.items()}
    for concern in concerns.REGISTRY:
        found.update({name: (spec, f"concern {concern.name}") for name, spec in concern.link_attrs.items()})
    return dict(sorted(found.items()))


def kinds_table() -> list[str]:
    lines = ["| kind | what it is | " + " | ".join(FLAGS) + " |", "|---" * (len(FLAGS) + 2) + "|"]
    for kind in kinds.all_kinds():
        flags = " | ".join("yes" if getattr(kind, f) and (f != "learns" or kind.switching) else "" for f in FLAGS)
        lines.append(f"| `{kind.name}` | {_cell(kind.description)} | {flags} |")
    return lines


def attributes_table(kind: str | None = None) -> list[str]:
    lines = ["| attribute | type | default | kinds | from | what | example |", "|---|---|---|---|---|---|---|"]
    for name, (spec, used_by, owner) in node_attributes().items():
        if kind is not None and kind not in used_by:
            continue
        required = " (required)" if spec.required else ""
        lines.append(f"| `{name}` | {_cell(spec.type)}{required} | {_cell(spec.default or '')} | "
                     f"{', '.join(used_by)} | {owner} | {_cell(spec.help)} | {_cell(f'`{spec.example}`' if spec.example else '')} |")
    return lines


def link_table() -> list[str]:
    lines = ["| attribute | type | per end | from | what | example |", "|---|---|---|---|---|---|"]
    for name, (spec, owner) in link_attributes().items():
        per_end = "dict keyed by node" if spec.per_end else ("value, or dict by sending node" if spec.either else "")
        lines.append(f"| `{name}` | {_cell(spec.type)} | {per_end} | {owner} | {_cell(spec.help)} | "
                     f"{_cell(f'`{spec.example}`' if spec.example else '')} |")
    return lines


def device_table() -> list[str]:
    lines = ["| setting | what |", "|---|---|"]
    lines += [f"| `{name}` | {_cell(text)} |" for name, text in DEVICE_HELP.items()]
    return lines


def shell_table() -> list[str]:
    lines = ["| command | what it does |", "|---|---|"]
    for name in sorted(n for n in dir(Shell) if n.startswith("do_")):
        doc = inspect.getdoc(getattr(Shell, name)) or ""
        usage, _, what = doc.partition(": ")
        lines.append(f"| `{_cell(usage or name[3:])}` | {_cell(what or doc)} |")
    return lines


def api_section() -> list[str]:
    lines = []
    for name in API_HELPERS:
        obj = getattr(testbed, name)
        try:
            signature = str(inspect.signature(obj))
        except (TypeError, ValueError):
            signature = "(...)"
        doc = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")
        lines += [f"### `{name}{signature}`", "", doc, ""]
    return lines


def reference() -> str:
    parts = [
        "# Reference", "",
        "Generated from the code (`python -m testbed.cli.reference > docs/reference.md`); "
        "`testbed help attributes [KIND]` shows the attribute table in the terminal.", "",
        "## Node kinds", "", *kinds_table(), "",
        "## Node attributes", "",
        "Any node may also carry `label`, `pos` (x, y for drawings) and `meta` (anything of your own).", "",
        *attributes_table(), "",
        "## Link attributes", "", *link_table(), "",
        "## In-node devices (`interfaces={name: {...}}`)", "", *device_table(), "",
        "## Shell commands", "",
        "`<node> <command...>` runs a command inside a node (other node names in it become their addresses).",
        "", *shell_table(), "",
        "## Experiment and script helpers (`from testbed import ...`)", "", *api_section(),
    ]
    return "\n".join(parts).rstrip() + "\n"


def main() -> int:
    sys.stdout.write(reference())
    return 0


if __name__ == "__main__":
    sys.exit(main())
