"""Command line of the benchmark: ``python -m benchmark --help``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Sequence

import orjson

import benchmark
from benchmark.report import print_report
from benchmark.streams import SETUPS
from benchmark.suite import Report, benchmark_stream, sparse_incremental, startup

BIG_RECORDS = 1_000_000


def _streams(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SETUPS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"streams are a comma-separated subset of {','.join(SETUPS)}")
    return names


def _page_size(value: str) -> tuple[str, int]:
    name, _, size = value.partition("=")
    if name not in SETUPS or not size.isdigit() or int(size) < 1:
        raise argparse.ArgumentTypeError(f"expected STREAM=N with STREAM one of {','.join(SETUPS)}")
    return name, int(size)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark", description=benchmark.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000, help="records per stream (default 100000)")
    parser.add_argument("--runs", type=int, default=2, help="runs of the ceiling and of the connector (default 2)")
    parser.add_argument(
        "--big", action="store_true", help=f"repeat at {BIG_RECORDS:,} records: peak RSS must stay flat"
    )
    parser.add_argument("--streams", type=_streams, default=list(SETUPS), help="polyai,vectara (default both)")
    parser.add_argument(
        "--page-size",
        type=_page_size,
        action="append",
        default=[],
        metavar="STREAM=N",
        help="page size of a stream for both the ceiling and the connector (default: the connector's default)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="wall",
        choices=("wall", "cpu"),
        help="profile one more connector read per stream, timing wall (default) or per-thread CPU time",
    )
    parser.add_argument("--workdir", type=Path, help="where outputs and profiles go (default: a temporary folder)")
    parser.add_argument("--skip-startup", action="store_true", help="skip timing start-up (spec, import)")
    args = parser.parse_args(argv)
    if args.records < 1 or args.runs < 1:
        parser.error("--records and --runs must be at least 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> Report:
    """Measure everything ``args`` asks for; raises AssertionError when a run read the wrong records."""
    report = Report(records=args.records, runs=args.runs)
    setups = {**SETUPS, **{name: replace(SETUPS[name], page_size=size) for name, size in args.page_size}}
    if not args.skip_startup:
        report.startup = startup(workdir)
    for name in args.streams:
        print(f"benchmark: {name} at {args.records:,} records", file=sys.stderr, flush=True)
        report.streams.append(benchmark_stream(setups[name], args.records, args.runs, workdir, args.profile))
    report.sparse = sparse_incremental(workdir)
    if args.big:
        for name in args.streams:
            print(f"benchmark: {name} at {BIG_RECORDS:,} records", file=sys.stderr, flush=True)
            report.big.append(benchmark_stream(setups[name], BIG_RECORDS, args.runs, workdir))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="benchmark-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        report = run(args, workdir)
        print_report(report, sys.stdout)
    if args.json:
        args.json.write_bytes(orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
