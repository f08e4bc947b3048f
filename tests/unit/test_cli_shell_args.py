"""The command line's --topo/--custom, -c and draw (no root needed)."""
from __future__ import annotations

import json

from testbed.cli import main


def test_plan_accepts_a_mininet_topology(capsys):
    assert main.main(["plan", "--topo", "tree,2,2"]) == main.EXIT_OK
    plan = json.loads(capsys.readouterr().out)
    assert plan["source"] == "mininet:tree,2,2"
    assert [n["name"] for n in plan["nodes"]] == ["s1", "s2", "h1", "h2", "s3", "h3", "h4"]


def test_file_and_topo_together_or_neither_are_refused(capsys):
    assert main.main(["plan", "topologies/single.py", "--topo", "single,3"]) == main.EXIT_INPUT
    assert "not both" in capsys.readouterr().err
    assert main.main(["plan"]) == main.EXIT_INPUT
    assert "give a topology FILE" in capsys.readouterr().err
    assert main.main(["plan", "--topo", "single,3", "--param", "n=3"]) == main.EXIT_INPUT
    assert main.main(["plan", "--topo", "nosuch"]) == main.EXIT_INPUT
    assert "unknown topology" in capsys.readouterr().err


def test_ignored_mininet_options_are_reported(tmp_path, capsys):
    custom = tmp_path / "t.py"
    custom.write_text("from mininet.topo import Topo\n"
                      "class T(Topo):\n"
                      "    def build(self):\n"
                      "        self.addLink(self.addHost('h1'), self.addSwitch('s1', dpid='9'))\n"
                      "topos = {'t': T}\n")
    assert main.main(["plan", "--custom", str(custom)]) == main.EXIT_OK
    assert "Mininet node s1: option dpid='9' has no equivalent here; ignored" in capsys.readouterr().err


def test_draw_subcommand(tmp_path, capsys):
    out = tmp_path / "t.png"
    assert main.main(["draw", "topologies/linear.py", "-p", "k=3", "-o", str(out), "--intfs"]) == main.EXIT_OK
    assert out.stat().st_size > 1000
    assert main.main(["draw", "--topo", "linear,3", "-o", str(tmp_path / "t.svg")]) == main.EXIT_OK
    assert main.main(["draw", "topologies/linear.py", "-o", str(tmp_path / "t.gif")]) == main.EXIT_INPUT
    assert "unknown format" in capsys.readouterr().err


def test_run_parses_c():
    args = main.build_parser().parse_args(["run", "--topo", "single,3", "-c", "pingall; nodes"])
    assert args.commands == "pingall; nodes" and args.topo == "single,3" and args.file is None
