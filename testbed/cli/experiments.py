"""The `experiment` and `report` subcommands (see testbed.lab.experiment for the file format)."""
from __future__ import annotations

import argparse
import sys

from testbed.cli import vmrun


def cmd_experiment(args: argparse.Namespace) -> int:
    from testbed.errors import UsageError
    from testbed.lab import experiment
    from testbed.topology import load as loader
    formats = _formats(args)
    if args.rerun:
        if args.file or args.param or args.repeat:
            raise UsageError("--rerun takes the experiment, parameters and repetitions from the stored result; "
                             "give no FILE, --param or --repeat with it")
        from testbed.lab import rerun
        outcome = rerun.rerun(args.rerun, out=args.out, allow_commit=args.allow_commit, argv=sys.argv,
                              formats=formats)
        print(f"*** results in {outcome.outcome.folder} (comparison in rerun.json)", file=sys.stderr)
        return outcome.exit_code
    if not args.file:
        raise UsageError("experiment: give an experiment FILE (or --rerun RESULT_DIR)")
    exp = experiment.load_experiment(args.file)
    outcome = experiment.run_experiment(exp, repeat=args.repeat, overrides=loader.parse_param_args(args.param),
                                        out=args.out, argv=sys.argv, formats=formats)
    print(f"*** results in {outcome.folder}", file=sys.stderr)
    return outcome.exit_code


def cmd_report(args: argparse.Namespace) -> int:
    from testbed.lab import experiment
    return experiment.report(args.dir, experiment_file=args.experiment, formats=_formats(args)).exit_code


def _formats(args: argparse.Namespace) -> tuple[str, ...]:
    from testbed.lab import plot
    return plot.parse_formats(args.format)


def _add_format(p) -> None:
    p.add_argument("--format", default="png,svg,pdf", metavar="FORMATS",
                   help="plot file formats, comma-separated: png (200 dpi), svg, pdf (default: all three)")


def add_parsers(sub) -> None:
    """Register the subcommands on the main parser's subparsers."""
    p = sub.add_parser("experiment", help="run an experiment file: grid x repetitions, results, checks, plots")
    p.add_argument("file", nargs="?", help="experiment file: a .py with TOPOLOGY, run(net, params), CHECKS, PLOTS")
    p.add_argument("--repeat", "-r", type=int, metavar="N", help="repetitions per grid point (default: REPEAT)")
    p.add_argument("--param", "-p", action="append", metavar="KEY=VALUE", default=[],
                   help="set a parameter, or sweep a grid parameter with KEY=V1,V2 (repeatable)")
    p.add_argument("--out", "-o", default="results", metavar="DIR",
                   help="where to write DIR/<experiment>/<timestamp>/ (default: results)")
    p.add_argument("--rerun", metavar="RESULT_DIR",
                   help="run a stored result again (its experiment and topology files, parameters, grid, seeds) "
                        "and compare every measured value with the stored one")
    p.add_argument("--allow-commit", action="store_true",
                   help="with --rerun: compare even though the testbed commit differs from the recorded one")
    _add_format(p)
    vmrun.add_argument(p)
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser("report", help="re-plot and re-check stored experiment results (no network)")
    p.add_argument("dir", metavar="DIR", help="a run folder (or an experiment folder: its newest run)")
    p.add_argument("--experiment", metavar="FILE",
                   help="take checks and plots from FILE instead of the copy stored with the results")
    _add_format(p)
    p.set_defaults(func=cmd_report)
