"""The measurements: ceiling and connector runs per stream, request counts, a sparse incremental sync,
start-up cost and an optional profile. Each returns plain dataclasses that :mod:`benchmark.report` prints."""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import orjson

from benchmark.process import ServerProcess, Usage, connector_revision, run_measured
from benchmark.streams import SETUPS, StreamSetup, pages, read_output, windowed_minimum
from fake_api import measure_rate
from integration_tests.harness import configured_catalog, connector_executable

CEILING_SCRIPT = Path(__file__).with_name("ceiling.py")
PROFILER_SCRIPT = Path(__file__).with_name("profiled.py")
KINDS = ("ceiling", "connector")


def run_timeout(records: int) -> float:
    """Seconds a single run may take before it is killed: generous, the point is only not to hang."""
    return 120 + records / 200


def _write_json(path: Path, payload: Any) -> Path:
    path.write_bytes(orjson.dumps(payload))
    return path


@dataclass
class Run:
    """One measured run: its usage, what it read, and the HTTP requests it made against their minimum."""

    kind: str
    index: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    records_per_second: float
    records: int
    distinct_ids: int
    requests: int
    requests_minimum: int
    load_average: float
    """The 1-minute load average when the run began: above the CPU count, wall times are stretched."""
    rate_ratio: float = 0.0
    """records/s over the ceiling's median records/s."""
    cpu_ratio: float = 0.0
    """CPU seconds over the ceiling's median CPU seconds."""


@dataclass
class StreamResult:
    """Every run of one stream at one size, and how fast the fake API serves it on its own."""

    stream: str
    records: int
    page_size: int
    server_rate: dict[str, float]
    runs: list[Run]
    windows: int | None = None
    profile: dict[str, Any] | None = None

    def median(self, kind: str) -> Run:
        """A row of medians over the runs of ``kind`` (index 0)."""
        of_kind = [run for run in self.runs if run.kind == kind]

        def mid(name: str) -> Any:
            return statistics.median(getattr(run, name) for run in of_kind)

        numbers = {name: mid(name) for name in asdict(of_kind[0]) if name not in ("kind", "index")}
        return Run(kind=kind, index=0, **numbers)


def _server_rate(server: ServerProcess, setup: StreamSetup) -> dict[str, float]:
    """The fake API's own rate: a first pass (pages built from serialised records) and a cached pass."""
    first, cached = (measure_rate(server.config, setup.vendor, page_size=setup.page_size) for _ in range(2))
    return {
        "server_records_per_second_first_pass": first.server_records_per_second,
        "server_records_per_second": cached.server_records_per_second,
        "client_records_per_second_first_pass": first.records_per_second,
        "client_records_per_second": cached.records_per_second,
        "requests": cached.requests,
    }


def _argv(kind: str, setup: StreamSetup, config_path: Path, catalog_path: Path) -> list[str]:
    if kind == "ceiling":
        return [sys.executable, str(CEILING_SCRIPT), setup.vendor, str(config_path), str(setup.page_size)]
    return [connector_executable(), "read", "--config", str(config_path), "--catalog", str(catalog_path)]


def _measure(
    kind: str,
    index: int,
    setup: StreamSetup,
    server: ServerProcess,
    config: dict[str, Any],
    paths: tuple[Path, Path, Path],
    records: int,
) -> tuple[Run, frozenset[str]]:
    """Run ``kind`` once, check it read exactly ``records`` distinct ids, and count its requests."""
    config_path, catalog_path, out_path = paths
    argv = _argv(kind, setup, config_path, catalog_path)
    before = server.requests(setup.vendor)
    load_average = os.getloadavg()[0]
    sync_started = datetime.now(timezone.utc)
    usage: Usage = run_measured(argv, out_path, run_timeout(records))
    requests = server.requests(setup.vendor) - before
    windows = setup.windows if kind == "connector" else None
    output = read_output(out_path, setup.stream, windows.cursor_field if windows else None)
    if len(output.ids) != records:
        raise AssertionError(
            f"{kind} run {index} of {setup.stream} read {len(output.ids):,} distinct ids "
            f"({output.records:,} records), not {records:,}; output kept in {out_path}"
        )
    minimum = pages(records, setup.page_size)
    if windows is not None:
        minimum = windowed_minimum(output.cursors, *windows.of(config, setup.vendor, sync_started), setup.page_size)
    out_path.unlink()
    out_path.with_suffix(".stderr").unlink()
    run = Run(
        kind=kind,
        index=index,
        wall_seconds=usage.wall_seconds,
        cpu_seconds=usage.cpu_seconds,
        peak_rss_mb=usage.peak_rss_mb,
        records_per_second=records / usage.wall_seconds,
        records=output.records,
        distinct_ids=len(output.ids),
        requests=requests,
        requests_minimum=minimum,
        load_average=load_average,
    )
    return run, output.ids


def benchmark_stream(
    setup: StreamSetup, records: int, runs: int, workdir: Path, profile: str | None = None
) -> StreamResult:
    """Alternate ceiling and connector runs (``runs`` of each) against a fake API in its own process;
    then, with ``profile`` (``"wall"`` or ``"cpu"``: see :mod:`benchmark.profiled`), one profiled read."""
    with ServerProcess(**setup.server_args(records)) as server:
        config = setup.config(server.config)
        paths = (
            _write_json(workdir / f"{setup.vendor}-config.json", config),
            _write_json(workdir / f"{setup.vendor}-catalog.json", configured_catalog([setup.stream], "full_refresh")),
            workdir / f"{setup.vendor}-out.jsonl",
        )
        result = StreamResult(setup.stream, records, setup.page_size, _server_rate(server, setup), [])
        if setup.windows is not None:
            result.windows = setup.windows.of(config, setup.vendor, datetime.now(timezone.utc))[2]
        reference: frozenset[str] | None = None
        for index in range(1, runs + 1):
            for kind in KINDS:
                run, ids = _measure(kind, index, setup, server, config, paths, records)
                if reference is None:
                    reference = ids
                elif ids != reference:
                    raise AssertionError(f"{kind} run {index} of {setup.stream} read other ids than the first run")
                result.runs.append(run)
        if profile:
            result.profile = profile_connector(setup, paths, workdir, records, profile)
    ceiling = result.median("ceiling")
    for run in result.runs:
        run.rate_ratio = run.records_per_second / ceiling.records_per_second
        run.cpu_ratio = run.cpu_seconds / ceiling.cpu_seconds
    return result


def profile_connector(
    setup: StreamSetup, paths: tuple[Path, Path, Path], workdir: Path, records: int, timer: str
) -> dict[str, Any]:
    """One more connector read under cProfile (every thread); returns the profiles' paths and phase seconds."""
    config_path, catalog_path, out_path = paths
    base = workdir / f"{setup.vendor}-profile-{timer}"
    argv = [sys.executable, str(PROFILER_SCRIPT), str(base), timer, "source-conversations"]
    argv += _argv("connector", setup, config_path, catalog_path)[1:]
    usage = run_measured(argv, out_path, 5 * run_timeout(records))
    out_path.unlink()
    timing = orjson.loads(Path(f"{base}.json").read_bytes())
    paths_and_times = {"run_profile": f"{base}.prof", "import_profile": f"{base}.import.prof"}
    return {"timer": timer, "wall_seconds": usage.wall_seconds, **paths_and_times, **timing}


# ----------------------------------------------------------------------------------------------------
# A sparse incremental PolyAI sync: request counts against the windowed minimum
# ----------------------------------------------------------------------------------------------------

SPARSE_WINDOW_DAYS = 7
SPARSE_ROWS = (2500, 0, 1000, 1, 0, 0, 1999, 0)
"""Rows placed one day into each window of the sync (the last window is the current, partial one).
1000 rows in one window is exactly one full page: a reader that stops only on a short page asks again."""


@dataclass
class SparseResult:
    """Requests of one incremental PolyAI sync over windows of which some are empty."""

    window_days: int
    page_size: int
    rows_per_window: list[int]
    windows: int
    requests: int
    minimum: int
    """Sum over windows of max(1, ceil(rows / page size)): the fewest requests a windowed reader can make."""
    allowance: int
    """ceil(rows / page size) + windows: the budget of the brief."""
    distinct_ids: int
    records: int

    @property
    def extra_requests(self) -> int:
        return self.requests - self.minimum


def sparse_incremental(
    workdir: Path, rows: Sequence[int] = SPARSE_ROWS, days: int = SPARSE_WINDOW_DAYS
) -> SparseResult:
    """One incremental PolyAI sync (no state) over ``len(rows)`` windows of ``days``, ``rows[k]`` in window k."""
    setup = SETUPS["polyai"]
    assert setup.windows is not None, "PolyAI is read in windows"
    step = timedelta(days=days)
    start = (datetime.now(timezone.utc) - (len(rows) - 1) * step - timedelta(days=days / 2)).replace(microsecond=0)
    with ServerProcess() as server:
        for k, count in enumerate(rows):
            if count:
                started_at = start + k * step + timedelta(days=1)
                server.control("POST", "polyai/add", {"n": count, "started_at": started_at.timestamp()})
        config = {"start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"), **setup.config(server.config, window_days=days)}
        config_path = _write_json(workdir / "sparse-config.json", config)
        catalog_path = _write_json(workdir / "sparse-catalog.json", configured_catalog([setup.stream], "incremental"))
        out_path = workdir / "sparse-out.jsonl"
        before = server.requests(setup.vendor)
        sync_started = datetime.now(timezone.utc)
        run_measured(_argv("connector", setup, config_path, catalog_path), out_path, run_timeout(sum(rows)))
        requests = server.requests(setup.vendor) - before
    output = read_output(out_path, setup.stream, setup.windows.cursor_field)
    out_path.unlink()
    first, step, windows = setup.windows.of(config, setup.vendor, sync_started)
    if len(output.ids) != sum(rows):
        raise AssertionError(f"the sparse sync read {len(output.ids)} distinct ids, not {sum(rows)}")
    return SparseResult(
        window_days=days,
        page_size=setup.page_size,
        rows_per_window=list(rows),
        windows=windows,
        requests=requests,
        minimum=windowed_minimum(output.cursors, first, step, windows, setup.page_size),
        allowance=pages(sum(rows), setup.page_size) + windows,
        distinct_ids=len(output.ids),
        records=output.records,
    )


# ----------------------------------------------------------------------------------------------------
# Start-up cost
# ----------------------------------------------------------------------------------------------------


@dataclass
class Startup:
    """Median cost of starting up: the connector's ``spec`` (start-up and nothing else), importing its entry
    point, and importing what the ceiling imports."""

    spec: Usage
    import_only: Usage
    ceiling_import: Usage
    repeats: int


def startup(workdir: Path, repeats: int = 3) -> Startup:
    """Time each start-up command ``repeats`` times; keep the medians."""
    commands = {
        "spec": [connector_executable(), "spec"],
        "import_only": [sys.executable, "-c", "import source_conversations.run"],
        "ceiling_import": [sys.executable, "-c", "import orjson, requests"],
    }
    medians = {}
    for name, argv in commands.items():
        usages = [run_measured(argv, workdir / f"startup-{name}.out", 120) for _ in range(repeats)]
        medians[name] = Usage(*(statistics.median(values) for values in zip(*(asdict(u).values() for u in usages))))
    return Startup(repeats=repeats, **medians)


@dataclass
class Report:
    """Everything one ``python -m benchmark`` measured."""

    records: int
    runs: int
    revision: str = field(default_factory=connector_revision)
    """The connector's git commit when the benchmark began (its source may change during a run)."""
    startup: Startup | None = None
    streams: list[StreamResult] = field(default_factory=list)
    sparse: SparseResult | None = None
    big: list[StreamResult] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
