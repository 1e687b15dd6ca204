"""Smoke test of the benchmark (``python -m benchmark``) at a small size: it completes, every run read exactly
the records the fake API holds, and every sync made the fewest requests it could. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
RECORDS = 2000


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_benchmark_runs_at_small_size(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmark", "--records", str(RECORDS), "--runs", "1", "--skip-startup",
         "--json", str(results), "--workdir", str(tmp_path / "work")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(results.read_text())

    assert [stream["stream"] for stream in report["streams"]] == ["polyai_conversations", "vectara_conversations"]
    for stream in report["streams"]:
        assert [run["kind"] for run in stream["runs"]] == ["ceiling", "connector"]
        for run in stream["runs"]:
            where = f"{stream['stream']} {run['kind']}"
            assert run["distinct_ids"] == RECORDS, where
            assert run["records"] == RECORDS, where
            assert run["requests"] == run["requests_minimum"], where
        assert stream["server_rate"]["server_records_per_second"] > 0

    sparse = report["sparse"]
    assert sparse["distinct_ids"] == sum(sparse["rows_per_window"])
    assert sparse["requests"] == sparse["minimum"] <= sparse["allowance"]
    assert "connector median" in completed.stdout
