"""The command line describes itself completely and consistently."""
from __future__ import annotations

import argparse

import pytest

from testbed.cli import main as cli


def _subparsers(parser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_help_lists_every_subcommand(capsys):
    parser = cli.build_parser()
    names = list(_subparsers(parser))
    assert {"run", "plan", "draw", "doctor", "list", "clean", "dpctl", "counters", "experiment", "report"} <= set(names)
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = capsys.readouterr().out
    for name in names:
        assert f"\n    {name} " in text or f"\n    {name}\n" in text, name       # the listing
    description = " ".join(parser.description.split())
    assert all(name in description for name in names)                # and the description's list
    assert "exit codes" in text and "4 nothing was checked" in text


def test_every_option_and_positional_has_help():
    missing = []
    for name, sub in _subparsers(cli.build_parser()).items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help and action.help.strip()) or action.help == argparse.SUPPRESS:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, missing


def test_draw_has_no_build_options():
    draw = _subparsers(cli.build_parser())["draw"]
    options = {o for a in draw._actions for o in a.option_strings}
    assert "--arp" not in options and "--switch" not in options and "--vm" not in options
    assert {"--param", "--topo", "--custom", "--layout", "--output"} <= options


def test_a_run_is_named_with_run_everywhere():
    subs = _subparsers(cli.build_parser())
    for name in ("dpctl", "counters", "clean"):
        options = {o for a in subs[name]._actions for o in a.option_strings}
        assert "--run" in options, name


def test_counters_takes_node_and_run_or_the_older_two_positionals():
    from testbed.cli import runs
    parse = cli.build_parser().parse_args
    assert runs._counters_target(parse(["counters", "s1", "--run", "tb1"])) == ("tb1", "s1")
    assert runs._counters_target(parse(["counters", "tb1", "s1"])) == ("tb1", "s1")
    assert runs._counters_target(parse(["counters", "s1"])) == (None, "s1")
    from testbed.errors import UsageError
    with pytest.raises(UsageError, match="name the run once"):
        runs._counters_target(parse(["counters", "tb1", "s1", "--run", "tb2"]))
    with pytest.raises(UsageError, match="usage"):
        runs._counters_target(parse(["counters", "a", "b", "c"]))


def test_unknown_run_is_refused_clearly(capsys):
    assert cli.main(["counters", "s1", "--run", "nosuchrun"]) == 2
    assert "no run 'nosuchrun'" in capsys.readouterr().err
    assert cli.main(["dpctl", "s1", "--run", "nosuchrun"]) == 2
    assert cli.main(["clean", "--run", "nosuchrun"]) == 2
