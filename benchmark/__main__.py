"""Command line of the benchmark: ``python -m benchmark --help``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import orjson

import benchmark
from benchmark.cpu import KINDS, RUNNER_KINDS, CpuReport, benchmark_stream, sparse_incremental, startup, turns_lookback
from benchmark.latency import LatencyReport, run_scenario
from benchmark.process import connector_revision
from benchmark.report import print_cpu, print_latency
from benchmark.scenarios import SCENARIOS, spec_default
from benchmark.streams import DEFAULT_STREAMS, SETUPS
from fake_api import REALISTIC_BANDWIDTH_MBPS, REALISTIC_LATENCY_MS

BIG_RECORDS = 1_000_000
MAX_WORKERS = 20
"""The largest num_workers the spec allows: the CPU mode's default, so its memory is the most it can be."""


def _names(choices: Sequence[str]) -> Any:
    def parse(value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - set(choices))
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"a comma-separated subset of {','.join(choices)}")
        return names

    return parse


def _workers(value: str) -> list[int]:
    try:
        counts = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or any(not 1 <= count <= MAX_WORKERS for count in counts):
        raise argparse.ArgumentTypeError(f"comma-separated integers from 1 to {MAX_WORKERS}, e.g. 1,2,4,8,12,16,20")
    return sorted(set(counts))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    default_workers = spec_default("num_workers")
    parser = argparse.ArgumentParser(
        prog="python -m benchmark", description=benchmark.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--mode", choices=("both", "latency", "cpu"), default="both", help="which tables to measure (default both)"
    )
    parser.add_argument("--runs", type=int, default=3, help="alternating runs of each kind (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--workdir", type=Path, help="where outputs and profiles go (default: a temporary folder)")
    latency = parser.add_argument_group("latency mode")
    latency.add_argument(
        "--latency-ms",
        type=float,
        default=REALISTIC_LATENCY_MS,
        help=f"every response is held this long (default {REALISTIC_LATENCY_MS}, fake_api.REALISTIC_LATENCY_MS)",
    )
    latency.add_argument(
        "--bandwidth-mbps",
        type=float,
        default=REALISTIC_BANDWIDTH_MBPS,
        help=f"and its size at this many MB/s (default {REALISTIC_BANDWIDTH_MBPS}, fake_api.REALISTIC_BANDWIDTH_MBPS)",
    )
    latency.add_argument(
        "--scenarios",
        type=_names(list(SCENARIOS)),
        default=list(SCENARIOS),
        help=f"a subset of {','.join(SCENARIOS)} (default all)",
    )
    latency.add_argument(
        "--workers",
        type=_workers,
        default=[default_workers],
        help=(
            f"num_workers values of the connector, e.g. 1,2,4,8,12,16,20; its default ({default_workers}) is always "
            "measured"
        ),
    )
    latency.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply every scenario's data by this (default 1; the smoke test: 0.02)",
    )
    cpu = parser.add_argument_group("CPU mode")
    cpu.add_argument("--records", type=int, default=100_000, help="records per stream (default 100000)")
    cpu.add_argument("--big", action="store_true", help=f"repeat at {BIG_RECORDS:,} records: peak RSS must stay flat")
    cpu.add_argument(
        "--streams",
        type=_names(list(SETUPS)),
        default=list(DEFAULT_STREAMS),
        help=f"a subset of {','.join(SETUPS)} (default {','.join(DEFAULT_STREAMS)})",
    )
    cpu.add_argument(
        "--cpu-workers",
        type=int,
        default=MAX_WORKERS,
        help=f"the connector's num_workers in the CPU mode (default {MAX_WORKERS}, the maximum)",
    )
    cpu.add_argument(
        "--profile",
        nargs="?",
        const="wall",
        choices=("wall", "cpu"),
        help="profile one more connector read per stream, timing wall (default) or per-thread CPU time",
    )
    cpu.add_argument(
        "--runners",
        action="store_true",
        help="also run the console script with its extras off and the CDK's manifest runner (injected manifest)",
    )
    cpu.add_argument("--skip-startup", action="store_true", help="skip timing start-up (spec, import)")
    cpu.add_argument("--skip-sparse", action="store_true", help="skip the sparse incremental PolyAI sync")
    cpu.add_argument(
        "--skip-lookback", action="store_true", help="skip the second Vectara turns sync at two turns_lookback_days"
    )
    args = parser.parse_args(argv)
    if args.records < 1 or args.runs < 1 or args.scale <= 0:
        parser.error("--records and --runs must be at least 1, --scale above 0")
    if args.latency_ms < 0 or args.bandwidth_mbps <= 0:
        parser.error("--latency-ms must be at least 0 and --bandwidth-mbps above 0")
    if not 1 <= args.cpu_workers <= MAX_WORKERS:
        parser.error(f"--cpu-workers is from 1 to {MAX_WORKERS}")
    args.default_workers = default_workers
    args.workers = sorted({*args.workers, default_workers})  # the tables and targets are at the default
    return args


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def run_latency(args: argparse.Namespace, workdir: Path) -> LatencyReport:
    report = LatencyReport(args.latency_ms, args.bandwidth_mbps, args.runs, args.scale)
    report.load_before, report.started_at = os.getloadavg(), _now()
    for name in args.scenarios:
        scenario = SCENARIOS[name](args.scale)
        report.scenarios.append(
            run_scenario(
                scenario, args.runs, args.workers, args.default_workers, args.latency_ms, args.bandwidth_mbps, workdir
            )
        )
    report.load_after, report.finished_at = os.getloadavg(), _now()
    return report


def run_cpu(args: argparse.Namespace, workdir: Path) -> CpuReport:
    report = CpuReport(records=args.records, runs=args.runs, num_workers=args.cpu_workers)
    report.load_before, report.started_at = os.getloadavg(), _now()
    if not args.skip_startup:
        report.startup = startup(workdir)
    for name in args.streams:
        print(f"benchmark: CPU mode, {name} at {args.records:,} records", file=sys.stderr, flush=True)
        report.streams.append(
            benchmark_stream(
                SETUPS[name],
                args.records,
                args.runs,
                args.cpu_workers,
                workdir,
                args.profile,
                RUNNER_KINDS if args.runners else KINDS,
            )
        )
    if not args.skip_sparse:
        report.sparse = sparse_incremental(workdir)
    if not args.skip_lookback:
        print("benchmark: CPU mode, the turns lookback", file=sys.stderr, flush=True)
        report.lookback = turns_lookback(workdir)
    if args.big:
        for name in args.streams:
            print(f"benchmark: CPU mode, {name} at {BIG_RECORDS:,} records", file=sys.stderr, flush=True)
            report.big.append(benchmark_stream(SETUPS[name], BIG_RECORDS, args.runs, args.cpu_workers, workdir))
    report.load_after, report.finished_at = os.getloadavg(), _now()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    revision = connector_revision()
    results: dict[str, Any] = {"revision": revision}
    print(f"Connector at {revision}", flush=True)
    with tempfile.TemporaryDirectory(prefix="benchmark-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.mode in ("both", "latency"):
            latency = run_latency(args, workdir)
            print_latency(latency, sys.stdout)
            sys.stdout.flush()
            results["latency"] = asdict(latency)
        if args.mode in ("both", "cpu"):
            cpu = run_cpu(args, workdir)
            print_cpu(cpu, sys.stdout)
            results["cpu"] = asdict(cpu)
    results["revision_at_end"] = connector_revision()
    if results["revision_at_end"] != revision:
        print(
            f"\nThe connector changed during the run: {revision} at the start, {results['revision_at_end']} at the end; "
            "the figures may mix both",
            flush=True,
        )
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
