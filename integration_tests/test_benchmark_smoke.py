"""Smoke test of the benchmark (``python -m benchmark``, issue 13) at a small size: the latency mode (every
scenario, two num_workers values, a small latency) and the CPU mode both complete, every run read exactly
the keys the fake API holds with the fewest requests, and both tables are printed. No timing is asserted:
the machine may be shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from benchmark.scenarios import SCENARIOS, spec_default
from fake_api import DEFAULT_POLYAI_API_KEY, DEFAULT_VECTARA_API_KEY, DEFAULT_VECTARA_QUERY_API_KEY
from test_support import leaks

REPO_ROOT = Path(__file__).resolve().parent.parent
RECORDS = 2000
WORKERS = (2, spec_default("num_workers"))  # the benchmark always measures the default
ARGUMENTS = (
    f"--runs 1 --records {RECORDS} --skip-startup --scale 0.02 --latency-ms 10 --bandwidth-mbps 100 "
    f"--workers {','.join(map(str, WORKERS))}"
)


@pytest.fixture(scope="module")
def benchmark_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.CompletedProcess, Any]]:
    """One small ``python -m benchmark`` run (both modes), its output and its JSON results."""
    tmp_path = tmp_path_factory.mktemp("benchmark")
    results = tmp_path / "results.json"
    # The benchmark's fake API runs in another process: its keys are the defaults. Its output must hold none.
    leaks.register_secret(DEFAULT_POLYAI_API_KEY, DEFAULT_VECTARA_API_KEY, DEFAULT_VECTARA_QUERY_API_KEY)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark",
            *ARGUMENTS.split(),
            "--json",
            str(results),
            "--workdir",
            str(tmp_path / "w"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )
    leaks.record_output("python -m benchmark", completed.stdout + completed.stderr)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-5000:]
    yield completed, json.loads(results.read_text())


@pytest.mark.timeout(600)
def test_given_small_latency_when_benchmark_runs_then_every_scenario_reads_exact_keys_with_fewest_requests(
    benchmark_run: tuple[subprocess.CompletedProcess, Any],
) -> None:
    _, results = benchmark_run
    scenarios = results["latency"]["scenarios"]
    assert [scenario["name"] for scenario in scenarios] == list(SCENARIOS)
    for scenario in scenarios:
        kinds = [(run["kind"], run["workers"]) for run in scenario["runs"]]
        assert kinds == [("loop", None)] + [("connector", workers) for workers in WORKERS], scenario["name"]
        assert scenario["expected_keys"] > 0, scenario["name"]
        for run in scenario["runs"]:
            where = f"{scenario['name']} {run['kind']} {run['workers']}"
            assert run["distinct"] == scenario["expected_keys"], where
            assert run["requests"] == run["minimum"], (where, run["requests_by_endpoint"])
            assert 1 <= run["max_in_flight"] <= (run["workers"] or 1), where


@pytest.mark.timeout(600)
def test_given_small_size_when_benchmark_runs_in_cpu_mode_then_every_stream_reads_exact_keys_with_fewest_requests(
    benchmark_run: tuple[subprocess.CompletedProcess, Any],
) -> None:
    _, results = benchmark_run
    cpu = results["cpu"]
    assert [stream["stream"] for stream in cpu["streams"]] == ["polyai_conversations", "vectara_chats"]
    for stream in cpu["streams"]:
        assert [run["kind"] for run in stream["runs"]] == ["ceiling", "connector"]
        for run in stream["runs"]:
            where = f"{stream['stream']} {run['kind']}"
            assert run["distinct_ids"] == RECORDS, where
            assert run["requests"] == run["requests_minimum"], where
    sparse = cpu["sparse"]
    assert sparse["distinct_ids"] == sum(sparse["rows_per_window"])
    assert sparse["requests"] == sparse["minimum"] <= sparse["allowance"]
    # the turns lookback: a second sync asks for the new chats and those within the lookback, nothing more,
    # and delivers the turn appended 3 days back only with a lookback of 7 days, the one 20 days back never
    runs = {run["lookback_days"]: run for run in cpu["lookback"]["runs"]}
    for run in runs.values():
        assert (run["list_requests"], run["turns_requests"]) == (
            run["expected_list_requests"],
            run["expected_turns_requests"],
        ), run
    assert runs[0]["turns_requests"] == cpu["lookback"]["new_chats"]
    assert runs[0]["delivered"] == [False, False] and runs[7]["delivered"] == [True, False]


@pytest.mark.timeout(600)
def test_given_both_modes_when_benchmark_runs_then_latency_sweep_and_cpu_tables_are_printed(
    benchmark_run: tuple[subprocess.CompletedProcess, Any],
) -> None:
    completed, _ = benchmark_run
    out = completed.stdout
    assert "Latency mode: every response held 10 ms" in out
    assert "num_workers sweep" in out
    assert "CPU mode: fast fake API, no latency" in out
    latency_rows = [line.split()[0] for line in out.split("\n") if line.split()[:1] and line.split()[0] in SCENARIOS]
    assert latency_rows[: len(SCENARIOS)] == list(SCENARIOS)
    for name in SCENARIOS:
        assert f"  {name}" in out.split("Targets")[1], name
    assert out.count("connector median") == 2
    assert "Sparse incremental PolyAI v3 sync" in out
    assert "Turns lookback (vectara_chat_turns, v2)" in out
