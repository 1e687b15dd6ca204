"""The latency mode: the fake API answers like a distant server (``latency_ms`` per response, plus its size
at ``bandwidth_mbps``), and the sequential loop (:mod:`benchmark.loop`) and the connector alternate on
each scenario (:mod:`benchmark.scenarios`), the connector at each ``num_workers`` asked for.

Each run is a child process (wall time from spawn to exit, start-up included); before it the fake API's
request log and in-flight maxima are reset, after it the requests it received and the most it handled at
once are read. Every run must read exactly the keys the fake API holds.
"""

from __future__ import annotations

import os
import statistics
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import orjson

from benchmark.outputs import check_exact, read_output
from benchmark.process import ServerProcess, run_measured
from benchmark.scenarios import Scenario
from test_support.harness import configured_catalog, connector_executable

LOOP_SCRIPT = Path(__file__).with_name("loop.py")
RUN_TIMEOUT = 1800.0
"""Seconds a run may take before it is killed: generous, the point is only not to hang."""


@dataclass
class LatencyRun:
    """One measured run of the loop (``workers`` None) or of the connector at ``workers``."""

    kind: str
    workers: int | None
    index: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    records: int
    distinct: int
    requests: int
    requests_by_endpoint: dict[str, int]
    minimum: int
    max_in_flight: int
    load_average: float


@dataclass
class Median:
    """Medians of the runs of one kind (and ``num_workers``)."""

    kind: str
    workers: int | None
    runs: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    requests: float
    minimum: float
    max_in_flight: float
    duplicates: float
    load_average: float


@dataclass
class ScenarioResult:
    """Every run of one scenario."""

    name: str
    title: str
    stream: str
    target: float | None
    expected_keys: int
    connector_formula: str
    loop_formula: str
    default_workers: int
    runs: list[LatencyRun] = field(default_factory=list)

    def median(self, kind: str, workers: int | None = None) -> Median:
        chosen = [run for run in self.runs if run.kind == kind and (kind == "loop" or run.workers == workers)]

        def mid(name: str) -> float:
            return statistics.median(getattr(run, name) for run in chosen)

        return Median(
            kind=kind,
            workers=workers,
            runs=len(chosen),
            wall_seconds=mid("wall_seconds"),
            cpu_seconds=mid("cpu_seconds"),
            peak_rss_mb=mid("peak_rss_mb"),
            requests=mid("requests"),
            minimum=mid("minimum"),
            max_in_flight=mid("max_in_flight"),
            duplicates=statistics.median(run.records - run.distinct for run in chosen),
            load_average=mid("load_average"),
        )

    @property
    def workers(self) -> list[int]:
        """The ``num_workers`` values measured, in order."""
        return sorted({run.workers for run in self.runs if run.workers is not None})


@dataclass
class LatencyReport:
    """Everything the latency mode measured."""

    latency_ms: float
    bandwidth_mbps: float
    runs: int
    scale: float
    scenarios: list[ScenarioResult] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    started_at: str = ""
    finished_at: str = ""


def _write_json(path: Path, payload: Any) -> Path:
    path.write_bytes(orjson.dumps(payload))
    return path


def _measure(
    kind: str,
    workers: int | None,
    index: int,
    scenario: Scenario,
    server: ServerProcess,
    truth: dict[str, Any],
    expected: frozenset[str],
    workdir: Path,
) -> LatencyRun:
    """One run: reset the server's counts, run the loop or the connector, check its keys, read the counts."""
    label = "loop" if kind == "loop" else f"connector-w{workers}"
    out_path = workdir / f"{scenario.name}-{label}-{index}.jsonl"
    if kind == "loop":
        job = {
            "job": scenario.job,
            "stream": scenario.stream,
            "config": scenario.config(server.sections, 1),
            "page_size": scenario.page_size,
            "start_time": scenario.start_date,
        }
        argv = [sys.executable, str(LOOP_SCRIPT), str(_write_json(workdir / f"{scenario.name}-job.json", job))]
    else:
        assert workers is not None
        config_path = _write_json(
            workdir / f"{scenario.name}-config-{workers}.json", scenario.config(server.sections, workers)
        )
        catalog_path = _write_json(
            workdir / f"{scenario.name}-catalog.json", configured_catalog([scenario.stream], "incremental")
        )
        argv = [connector_executable(), "read", "--config", str(config_path), "--catalog", str(catalog_path)]
    server.reset()
    load_average = os.getloadavg()[0]
    began = datetime.now(timezone.utc)
    usage = run_measured(argv, out_path, RUN_TIMEOUT)
    counts = server.counts()
    output = read_output(out_path, scenario.stream)
    check_exact(output, expected, f"{scenario.name}: {label} run {index}", out_path)
    minimum = (scenario.loop_minimum if kind == "loop" else scenario.connector_minimum)(truth, began)
    out_path.unlink()
    out_path.with_suffix(".stderr").unlink()
    return LatencyRun(
        kind=kind,
        workers=workers,
        index=index,
        wall_seconds=usage.wall_seconds,
        cpu_seconds=usage.cpu_seconds,
        peak_rss_mb=usage.peak_rss_mb,
        records=output.records,
        distinct=len(output.keys),
        requests=counts.total,
        requests_by_endpoint=counts.requests,
        minimum=minimum.requests,
        max_in_flight=counts.max_in_flight,
        load_average=load_average,
    )


def run_scenario(
    scenario: Scenario,
    runs: int,
    workers: Sequence[int],
    default_workers: int,
    latency_ms: float,
    bandwidth_mbps: float,
    workdir: Path,
) -> ScenarioResult:
    """Start the fake API for ``scenario`` and alternate: the loop, then the connector at each of
    ``workers``; ``runs`` rounds."""
    truth_path = workdir / f"{scenario.name}-truth.json"
    spec = {
        "server": {**scenario.server, "latency_ms": latency_ms, "bandwidth_mbps": bandwidth_mbps},
        "warm": list(scenario.warm),
        "truth": {"path": str(truth_path), "streams": [scenario.stream], "polyai_windows": scenario.polyai_windows},
    }
    with ServerProcess(spec, workdir) as server:
        truth = orjson.loads(truth_path.read_bytes())
        expected = frozenset(truth[scenario.stream]["keys"])
        now = datetime.now(timezone.utc)
        result = ScenarioResult(
            name=scenario.name,
            title=scenario.title,
            stream=scenario.stream,
            target=scenario.target,
            expected_keys=len(expected),
            connector_formula=scenario.connector_minimum(truth, now).formula,
            loop_formula=scenario.loop_minimum(truth, now).formula,
            default_workers=default_workers,
        )
        for index in range(1, runs + 1):
            print(f"benchmark: {scenario.name} round {index} of {runs}", file=sys.stderr, flush=True)
            result.runs.append(_measure("loop", None, index, scenario, server, truth, expected, workdir))
            for count in workers:
                result.runs.append(_measure("connector", count, index, scenario, server, truth, expected, workdir))
    truth_path.unlink()
    return result
