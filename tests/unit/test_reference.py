"""docs/reference.md is what the code's schemas say (regenerate: python -m testbed.cli.reference > docs/reference.md)."""
from __future__ import annotations

from pathlib import Path

from testbed import kinds
from testbed.cli import reference
from testbed.cli.main import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def test_the_reference_is_current():
    assert DOC.read_text() == reference.reference(), \
        "docs/reference.md is stale: python -m testbed.cli.reference > docs/reference.md"


def test_every_attribute_of_every_kind_is_in_it():
    text = reference.reference()
    for kind in kinds.all_kinds():
        for name in kind.attrs:
            assert f"| `{name}` |" in text, name
    for name in ("bw", "delay", "vlan", "trunk", "port", "intf", "fail_mode", "dhcp_server", "max_macs"):
        assert f"| `{name}` |" in text, name
    assert "| `pingall [TIMEOUT]` |" in text and "### `ping(" in text


def test_help_attributes_of_a_kind(capsys):
    assert main(["help", "attributes", "hub"]) == 0
    out = capsys.readouterr().out
    assert "`fail_mode`" in out and "`stp`" not in out and "`ip`" not in out
    assert main(["help", "attributes", "nosuch"]) == 2
