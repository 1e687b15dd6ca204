"""Latency mode, in-flight counting and the command line of the fake server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from fake_api import (
    REALISTIC_BANDWIDTH_MBPS,
    REALISTIC_LATENCY_MS,
    FakeApiServer,
    Fault,
)
from fake_api.__main__ import parse_projects

REPO_ROOT = Path(__file__).resolve().parents[1]


def polyai_get(server: FakeApiServer, version: str = "v1", timeout: float = 10, **params: object) -> requests.Response:
    config = server.polyai_config()
    url = f"{server.base_url}/{version}/{config['account_id']}/{config['project_id']}/conversations"
    return requests.get(url, params=params, headers={"x-api-key": config["api_key"]}, timeout=timeout)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_given_realistic_constants_then_they_are_the_documented_defaults() -> None:
    assert (REALISTIC_LATENCY_MS, REALISTIC_BANDWIDTH_MBPS) == (150, 20)


def test_given_latency_then_every_vendor_response_waits_at_least_that_long() -> None:
    with FakeApiServer(polyai_count=20, vectara_count=5, latency_ms=200) as server:
        assert timed(lambda: polyai_get(server, limit=5)) >= 0.2
        assert timed(lambda: polyai_get(server, "v3", limit=5)) >= 0.2

        def chats() -> None:
            requests.get(f"{server.base_url}/v2/chats", headers={"x-api-key": server.vectara_api_key}, timeout=10)

        def unknown() -> None:
            requests.get(f"{server.base_url}/nowhere", timeout=10)

        assert timed(chats) >= 0.2
        assert timed(unknown) >= 0.2
        assert timed(lambda: requests.get(f"{server.base_url}/_fake/stats", timeout=10)) < 0.15  # control: at once


def test_given_bandwidth_then_big_bodies_take_longer() -> None:
    with FakeApiServer(polyai_count=400, vectara_count=1, bandwidth_mbps=1.0) as server:
        small = polyai_get(server, limit=2)
        started = time.perf_counter()
        big = polyai_get(server, limit=300)
        seconds = time.perf_counter() - started
        assert len(big.content) > 400_000 > len(small.content)
        assert seconds >= len(big.content) / 1e6


def test_given_stop_during_a_latency_wait_then_the_server_stops_promptly() -> None:
    server = FakeApiServer(polyai_count=5, vectara_count=1, latency_ms=5000).start()
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(polyai_get(server, timeout=10).status_code)
        except requests.RequestException as error:  # the connection may be dropped instead
            outcome.append(error)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.3)
    started = time.perf_counter()
    server.stop()
    worker.join(timeout=5)
    assert time.perf_counter() - started < 2 and not worker.is_alive() and len(outcome) == 1


def test_given_concurrent_requests_then_max_in_flight_counts_them() -> None:
    threads = 4
    with FakeApiServer(polyai_count=30, vectara_count=5, latency_ms=800) as server:
        barrier = threading.Barrier(threads)
        statuses: list[int] = []

        def call(version: str) -> None:
            barrier.wait()
            statuses.append(polyai_get(server, version, limit=5).status_code)

        workers = [threading.Thread(target=call, args=("v1" if k % 2 else "v3",)) for k in range(threads)]
        for worker in workers:
            worker.start()
        deadline = time.perf_counter() + 0.6
        in_flight = 0
        while in_flight < threads and time.perf_counter() < deadline:
            time.sleep(0.05)
            in_flight = requests.get(f"{server.base_url}/_fake/stats", timeout=10).json()["in_flight"]["total"]
        assert in_flight == threads
        for worker in workers:
            worker.join()
        stats = server.stats()
        assert statuses == [200] * threads
        assert stats["max_in_flight"] == {"total": threads, "polyai": threads}  # v1 and v3 are both "polyai"
        assert sum(entry.path.startswith("/v3/") for entry in server.requests.entries("polyai")) == threads // 2
        assert stats["in_flight"] == {"total": 0} and server.max_in_flight()["total"] == threads
        server.reset_log()
        assert server.stats()["max_in_flight"] == {"total": 0}
        polyai_get(server, limit=5)
        assert server.stats()["max_in_flight"] == {"total": 1, "polyai": 1}


def test_given_sequential_requests_and_faults_then_in_flight_returns_to_zero() -> None:
    with FakeApiServer(polyai_count=30, vectara_count=5) as server:
        server.inject(Fault("polyai", "reset"))
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
            polyai_get(server, limit=20)
        server.inject(Fault("polyai", "delay", delay_seconds=0.5))
        with pytest.raises(requests.exceptions.ReadTimeout):
            polyai_get(server, timeout=0.1)
        for _ in range(3):
            polyai_get(server)
        deadline = time.perf_counter() + 5  # the delayed response is written (or fails) after the client gave up
        while server.stats()["in_flight"]["total"] and time.perf_counter() < deadline:
            time.sleep(0.05)
        stats = server.stats()
        # the delayed request was still being handled while the next ones were served
        assert stats["in_flight"] == {"total": 0} and stats["max_in_flight"] == {"total": 2, "polyai": 2}


@pytest.mark.slow  # starts `python -m fake_api` as a subprocess
def test_given_cli_flags_then_the_server_has_projects_agents_and_latency() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fake_api",
            "--polyai",
            "30",
            "--vectara",
            "10",
            "--polyai-projects",
            "3",
            "--agents",
            "1",
            "--sessions-per-agent",
            "4",
            "--events-per-session",
            "6",
            "--realistic",
            "--polyai-v3-next-offset",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = json.loads(process.stdout.readline())
        v3 = line["polyai_v3_config"]
        assert len(v3["project_ids"]) == 3 and v3["project_ids"][0] == line["config"]["polyai"]["project_id"]
        headers = {"x-api-key": v3["api_key"]}
        url = f"{line['base_url']}/v3/{v3['account_id']}/{v3['project_ids'][2]}/conversations"
        started = time.perf_counter()
        page = requests.get(url, params={"limit": 5}, headers=headers, timeout=10).json()
        assert time.perf_counter() - started >= REALISTIC_LATENCY_MS / 1000
        assert page["next_offset"] == 5 and page["conversations"][0]["project_id"] == v3["project_ids"][2]
        agents = requests.get(
            f"{line['base_url']}/v2/agents",
            headers={"x-api-key": line["config"]["vectara"]["credentials"]["api_key"]},
            timeout=10,
        )
        assert len(agents.json()["agents"]) == 1
        query = line["vectara_query_config"]["credentials"]["api_key"]
        assert (
            requests.get(f"{line['base_url']}/v2/agents", headers={"x-api-key": query}, timeout=10).status_code == 403
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()


@pytest.mark.parametrize(
    "text, expected", [("2", 2), ("PROJECT-a=5,PROJECT-b=7", 2), ("PROJECT-a,PROJECT-b,PROJECT-c", 3)]
)
def test_given_projects_flag_then_it_parses_counts_and_ids(text: str, expected: int) -> None:
    projects = parse_projects(text, 11)
    assert len(projects) == expected
    if "=" in text:
        assert projects == {"PROJECT-a": 5, "PROJECT-b": 7}
    else:
        assert set(projects.values()) == {11}
