"""The CPU mode: the ceiling (:mod:`benchmark.loop`) and the connector alternate on each stream against a
fake API in fast mode with no latency, so the work is CPU-bound and the ratio shows the connector's
overhead. Also: start-up cost, one sparse incremental PolyAI sync's requests, the requests of a second
Vectara turns sync at two `turns_lookback_days`, and an optional profile.
Each returns plain dataclasses that :mod:`benchmark.report` prints."""

from __future__ import annotations

import os
import statistics
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import orjson

from benchmark.outputs import check_exact, last_state, read_output, turn_times
from benchmark.process import ServerProcess, Usage, run_measured
from benchmark.scenarios import iso, pages, spec_default
from benchmark.streams import SETUPS, StreamSetup
from test_support.harness import PLAIN_ENV, configured_catalog, connector_executable, injected, runner_command

LOOP_SCRIPT = Path(__file__).with_name("loop.py")
PROFILER_SCRIPT = Path(__file__).with_name("profiled.py")
KINDS = ("ceiling", "connector")
RUNNER_KINDS = (*KINDS, "plain", "manifest")
"""With --runners: also the console script with its extras off, and the CDK's manifest runner."""


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
    max_in_flight: int
    server_busy_seconds: float
    """The fake API's own time on this run's requests (reading a request to finishing its response)."""
    load_average: float
    """The 1-minute load average when the run began: above the CPU count, wall times are stretched."""
    rate_ratio: float = 0.0
    """records/s over the ceiling's median records/s."""
    cpu_ratio: float = 0.0
    """CPU seconds over the ceiling's median CPU seconds."""


@dataclass
class StreamResult:
    """Every run of one stream at one size."""

    name: str
    stream: str
    records: int
    page_size: int
    num_workers: int
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


def _argv(kind: str, job_path: Path, config_path: Path, catalog_path: Path) -> list[str]:
    if kind == "ceiling":
        return [sys.executable, str(LOOP_SCRIPT), str(job_path)]
    prefix = runner_command("manifest")[0] if kind == "manifest" else [connector_executable()]
    return [*prefix, "read", "--config", str(config_path), "--catalog", str(catalog_path)]


def _env(kind: str) -> dict[str, str]:
    return {"plain": PLAIN_ENV, "manifest": runner_command("manifest")[1]}.get(kind, {})


@dataclass
class _Files:
    job: Path
    config: Path
    manifest_config: Path
    """The config with the manifest and components.py injected, for the manifest runner."""
    catalog: Path
    out: Path

    def config_for(self, kind: str) -> Path:
        return self.manifest_config if kind == "manifest" else self.config


def _measure(
    kind: str,
    index: int,
    setup: StreamSetup,
    server: ServerProcess,
    truth: dict[str, Any],
    expected: frozenset[str],
    files: _Files,
) -> Run:
    """Run ``kind`` once, check it read exactly the expected keys, and count its requests."""
    argv = _argv(kind, files.job, files.config_for(kind), files.catalog)
    server.reset()
    busy_before = server.counts().busy_seconds
    load_average = os.getloadavg()[0]
    began = datetime.now(timezone.utc)
    usage: Usage = run_measured(argv, files.out, run_timeout(len(expected)), _env(kind))
    counts = server.counts()
    output = read_output(files.out, setup.stream)
    check_exact(output, expected, f"{setup.name}: {kind} run {index}", files.out)
    files.out.unlink()
    files.out.with_suffix(".stderr").unlink()
    return Run(
        kind=kind,
        index=index,
        wall_seconds=usage.wall_seconds,
        cpu_seconds=usage.cpu_seconds,
        peak_rss_mb=usage.peak_rss_mb,
        records_per_second=len(expected) / usage.wall_seconds,
        records=output.records,
        distinct_ids=len(output.keys),
        requests=counts.total,
        requests_minimum=setup.minimum(kind, truth, began).requests,
        max_in_flight=counts.max_in_flight,
        server_busy_seconds=counts.busy_seconds - busy_before,
        load_average=load_average,
    )


def benchmark_stream(
    setup: StreamSetup,
    records: int,
    runs: int,
    num_workers: int,
    workdir: Path,
    profile: str | None = None,
    kinds: Sequence[str] = KINDS,
) -> StreamResult:
    """Alternate the runs of each of ``kinds`` (``runs`` of each) against a fake API in its own process;
    then, with ``profile`` (``"wall"`` or ``"cpu"``: see :mod:`benchmark.profiled`), one profiled read."""
    truth_path = workdir / f"{setup.name}-truth.json"
    spec = {
        "server": setup.server(records),
        "warm": [setup.warm],
        "truth": {
            "path": str(truth_path),
            "streams": [setup.stream],
            "polyai_windows": setup.windows(datetime.now(timezone.utc)),
        },
    }
    with ServerProcess(spec, workdir) as server:
        truth = orjson.loads(truth_path.read_bytes())
        expected = frozenset(truth[setup.stream]["keys"])
        if len(expected) != records:
            raise AssertionError(f"the fake API holds {len(expected):,} {setup.stream} records, not {records:,}")
        config = setup.config(server.sections, num_workers)
        job = {
            "job": setup.job,
            "stream": setup.stream,
            "config": config,
            "page_size": setup.page_size,
            "start_time": config["start_date"],
        }
        files = _Files(
            job=_write_json(workdir / f"{setup.name}-job.json", job),
            config=_write_json(workdir / f"{setup.name}-config.json", config),
            manifest_config=_write_json(workdir / f"{setup.name}-manifest-config.json", injected(config)),
            catalog=_write_json(
                workdir / f"{setup.name}-catalog.json", configured_catalog([setup.stream], "full_refresh")
            ),
            out=workdir / f"{setup.name}-out.jsonl",
        )
        result = StreamResult(setup.name, setup.stream, records, setup.page_size, num_workers, [])
        result.windows = setup.window_total(datetime.now(timezone.utc))
        for index in range(1, runs + 1):
            for kind in kinds:
                result.runs.append(_measure(kind, index, setup, server, truth, expected, files))
        if profile:
            result.profile = profile_connector(setup, files, workdir, records, profile)
    truth_path.unlink()
    ceiling = result.median("ceiling")
    for run in result.runs:
        run.rate_ratio = run.records_per_second / ceiling.records_per_second
        run.cpu_ratio = run.cpu_seconds / ceiling.cpu_seconds
    return result


def profile_connector(setup: StreamSetup, files: _Files, workdir: Path, records: int, timer: str) -> dict[str, Any]:
    """One more connector read under cProfile (every thread); returns the profiles' paths and phase seconds."""
    base = workdir / f"{setup.name}-profile-{timer}"
    argv = [sys.executable, str(PROFILER_SCRIPT), str(base), timer, "source-conversations"]
    argv += _argv("connector", files.job, files.config, files.catalog)[1:]
    usage = run_measured(argv, files.out, 5 * run_timeout(records))
    files.out.unlink()
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
    """Requests of one incremental PolyAI v3 sync (one project) over windows of which some are empty."""

    window_days: int
    page_size: int
    rows_per_window: list[int]
    windows: int
    requests: int
    minimum: int
    """One in-progress probe + the sum over windows of max(1, ceil(rows / page size))."""
    allowance: int
    """ceil(rows / page size) + windows + one probe: the issue's bound."""
    distinct_ids: int
    records: int

    @property
    def extra_requests(self) -> int:
        return self.requests - self.minimum


def sparse_incremental(
    workdir: Path, rows: Sequence[int] = SPARSE_ROWS, days: int = SPARSE_WINDOW_DAYS
) -> SparseResult:
    """One incremental PolyAI v3 sync (no state) over ``len(rows)`` windows of ``days``, ``rows[k]`` in window k."""
    setup = SETUPS["polyai"]
    step = timedelta(days=days)
    start = (datetime.now(timezone.utc) - (len(rows) - 1) * step - timedelta(days=days / 2)).replace(microsecond=0)
    page_size = setup.page_size
    spec = {"server": {"polyai_count": 0, "vectara_count": 0, "vectara_agent_count": 0}}
    with ServerProcess(spec, workdir) as server:
        for k, count in enumerate(rows):
            if count:
                started_at = start + k * step + timedelta(days=1)
                server.control("POST", "polyai/add", {"n": count, "started_at": started_at.timestamp()})
        config = {
            "start_date": iso(start),
            "num_workers": spec_default("num_workers"),
            "polyai": {**server.sections["polyai_v3"], "window_days": days},
        }
        config_path = _write_json(workdir / "sparse-config.json", config)
        catalog_path = _write_json(workdir / "sparse-catalog.json", configured_catalog([setup.stream], "incremental"))
        out_path = workdir / "sparse-out.jsonl"
        server.reset()
        run_measured(_argv("connector", config_path, config_path, catalog_path), out_path, run_timeout(sum(rows)))
        requests = server.counts().total
    output = read_output(out_path, setup.stream)
    out_path.unlink()
    out_path.with_suffix(".stderr").unlink()
    if len(output.keys) != sum(rows):
        raise AssertionError(f"the sparse sync read {len(output.keys)} distinct ids, not {sum(rows)}")
    windows = len(rows)
    return SparseResult(
        window_days=days,
        page_size=page_size,
        rows_per_window=list(rows),
        windows=windows,
        requests=requests,
        minimum=1 + sum(pages(count, page_size) for count in rows),
        allowance=1 + pages(sum(rows), page_size) + windows,
        distinct_ids=len(output.keys),
        records=output.records,
    )


# ----------------------------------------------------------------------------------------------------
# The turns lookback: what a second vectara_chat_turns sync costs, and which appended turns it delivers
# ----------------------------------------------------------------------------------------------------

LOOKBACK_DAYS = 30
LOOKBACK_CHATS_PER_DAY = 10
LOOKBACK_SETTINGS = (0, 7)
LOOKBACK_APPENDED_AGE_DAYS = (3, 20)
"""A turn is appended to one chat made this many days ago (one inside the default lookback, one outside)."""


@dataclass
class LookbackRun:
    """One second sync of vectara_chat_turns at one ``turns_lookback_days``."""

    lookback_days: int
    list_requests: int
    expected_list_requests: int
    """ceil(chats / page size): the whole list, every sync."""
    turns_requests: int
    expected_turns_requests: int
    """New chats + chats made within the lookback before the saved state."""
    delivered: list[bool]
    """Per appended turn (in ``LOOKBACK_APPENDED_AGE_DAYS`` order): did this sync emit it."""
    records: int


@dataclass
class LookbackResult:
    chats: int
    new_chats: int
    first_sync_requests: int
    runs: list[LookbackRun] = field(default_factory=list)


def _lookback_chat_time(now: float, age_days: int) -> int:
    """When the chats of the day ``age_days`` ago were made: mid-day, and 37 s later each day further back,
    so that no chat sits exactly a whole number of days before another (on a lookback's edge)."""
    return int(now - age_days * 86400 + 43200 + 37 * age_days)


def turns_lookback(workdir: Path, settings: Sequence[int] = LOOKBACK_SETTINGS) -> LookbackResult:
    """A first incremental sync of vectara_chat_turns (v2) over ``LOOKBACK_DAYS`` days of chats, then new
    chats and a turn appended to an old chat at each of ``LOOKBACK_APPENDED_AGE_DAYS``, then the second sync
    from the first one's state at each ``turns_lookback_days`` of ``settings``: its requests, against new chats
    + chats made within the lookback before the saved state, and which appended turns it delivered."""
    now = datetime.now(timezone.utc).timestamp()
    day = 86400.0
    made: list[tuple[str, float]] = []
    spec = {"server": {"polyai_count": 0, "vectara_count": 0, "vectara_agent_count": 0}}
    stream = "vectara_chat_turns"
    with ServerProcess(spec, workdir) as server:
        for age in range(LOOKBACK_DAYS, 0, -1):
            created = _lookback_chat_time(now, age)
            ids = server.control("POST", "vectara/add", {"n": LOOKBACK_CHATS_PER_DAY, "epoch_secs": created})["ids"]
            made += [(chat, created) for chat in ids]
        page_size = spec_default("page_size", "vectara")
        base = {
            "start_date": "2017-01-01T00:00:00Z",
            "num_workers": spec_default("num_workers"),
            "vectara": {**server.sections["vectara_v2"], "sync_agents": False},
        }
        catalog_path = _write_json(workdir / "lookback-catalog.json", configured_catalog([stream], "incremental"))
        config_path = _write_json(workdir / "lookback-config.json", base)
        first_out = workdir / "lookback-first.jsonl"
        server.reset()
        run_measured(_argv("connector", config_path, config_path, catalog_path), first_out, 600)
        first_requests = server.counts().total
        state = last_state(first_out)
        saved = max(turn_times(first_out))
        new = server.control("POST", "vectara/add", {"n": LOOKBACK_CHATS_PER_DAY, "epoch_secs": int(now - 120)})["ids"]
        appended = []  # the time of each appended turn, one chat per age, each its own second
        for k, age in enumerate(LOOKBACK_APPENDED_AGE_DAYS):
            chat = next(chat for chat, created in made if created == _lookback_chat_time(now, age))
            appended.append(int(now - 60 - 30 * k))
            server.control("POST", "vectara/turns", {"conversation_id": chat, "n": 1, "epoch_secs": appended[-1]})
        first_out.unlink()
        first_out.with_suffix(".stderr").unlink()
        state_path = _write_json(workdir / "lookback-state.json", [state])
        result = LookbackResult(chats=len(made), new_chats=len(new), first_sync_requests=first_requests)
        for lookback in settings:
            config = {**base, "vectara": {**base["vectara"], "turns_lookback_days": lookback}}
            config_path = _write_json(workdir / f"lookback-config-{lookback}.json", config)
            out = workdir / f"lookback-{lookback}.jsonl"
            server.reset()
            argv = [*_argv("connector", config_path, config_path, catalog_path), "--state", str(state_path)]
            run_measured(argv, out, 600)
            counts = server.counts().requests
            times = turn_times(out)
            within = sum(1 for _, created in made if created > saved - lookback * day)
            result.runs.append(
                LookbackRun(
                    lookback_days=lookback,
                    list_requests=counts.get("vectara_chats", 0),
                    expected_list_requests=pages(len(made) + len(new), page_size),
                    turns_requests=counts.get("vectara_turns", 0),
                    expected_turns_requests=len(new) + within,
                    delivered=[moment in times for moment in appended],
                    records=len(times),
                )
            )
            out.unlink()
            out.with_suffix(".stderr").unlink()
    return result


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
        medians[name] = Usage(
            *(statistics.median(values) for values in zip(*(asdict(u).values() for u in usages), strict=True))
        )
    return Startup(repeats=repeats, **medians)


@dataclass
class CpuReport:
    """Everything the CPU mode measured."""

    records: int
    runs: int
    num_workers: int
    startup: Startup | None = None
    streams: list[StreamResult] = field(default_factory=list)
    sparse: SparseResult | None = None
    lookback: LookbackResult | None = None
    big: list[StreamResult] = field(default_factory=list)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    started_at: str = ""
    finished_at: str = ""
