"""Fixtures of the reliability suite.

Tests marked ``@pytest.mark.scenario(fn)`` (``support.uses(fn)``) get ``outcome``: the result of
``fn(ctx, **params)`` for their own parameters. The first such test of the session starts *every* selected
scenario of the suite: most on ``RELIABILITY_WORKERS`` threads (default 6), in the order the tests were
collected, and those marked ``support.idle`` (long waits, little work) on threads of their own. Each
scenario is subprocess work against its own fake server, so while one test asserts, the next scenarios are
already running; the suite stays short on two cores without pytest-xdist.

``test_units.py`` freezes time process-wide (freezegun): it waits for the pool to drain first
(``drained_scenario_pool``), so no scenario thread ever runs while time is frozen.
"""

from __future__ import annotations

import inspect
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from integration_tests.reliability.support import Context

WORKERS = int(os.environ.get("RELIABILITY_WORKERS", "6"))
HERE = Path(__file__).parent

Key = Tuple[Callable[..., Any], Tuple[Tuple[str, Any], ...]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(fn): the test asserts on the Outcome of fn(ctx, **params)")


def _key(item: pytest.Item) -> Optional[Key]:
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return None
    fn = marker.args[0]
    wanted = inspect.signature(fn).parameters
    params = getattr(getattr(item, "callspec", None), "params", {})
    return fn, tuple(sorted((name, value) for name, value in params.items() if name in wanted))


def _label(key: Key) -> str:
    fn, params = key
    return fn.__name__.strip("_") + "".join(f"-{value}" for _, value in params).replace("/", "_").replace("+", "_")


class ScenarioPool:
    """Runs the session's selected scenarios, each once, whichever tests share it."""

    def __init__(self, items: List[pytest.Item], workdir: Path) -> None:
        self._items = items
        self._workdir = workdir
        self._executors: List[ThreadPoolExecutor] = []
        self._futures: Dict[Key, Future] = {}
        self.contexts: List[Context] = []
        self.seconds: Dict[str, float] = {}

    def _start(self) -> None:
        keys: List[Key] = []
        for item in self._items:
            key = _key(item)
            if key is not None and key not in keys:
                keys.append(key)
        waiting = [key for key in keys if getattr(key[0], "idle", False)]
        working = [key for key in keys if key not in waiting]
        if waiting:
            self._executors.append(ThreadPoolExecutor(len(waiting), thread_name_prefix="idle-scenario"))
            for key in waiting:
                self._submit(self._executors[-1], key)
        self._executors.append(ThreadPoolExecutor(WORKERS, thread_name_prefix="scenario"))
        for key in working:
            self._submit(self._executors[-1], key)

    def _submit(self, executor: ThreadPoolExecutor, key: Key) -> None:
        fn, params = key
        label = _label(key)
        context = Context(self._workdir / label, label)
        self.contexts.append(context)
        self._futures[key] = executor.submit(_run, fn, context, dict(params), self.seconds)

    def outcome(self, item: pytest.Item) -> Any:
        if not self._executors:
            self._start()
        return self._futures[_key(item)].result()

    def drain(self) -> None:
        """Waits until no scenario is running (their outcomes stay available)."""
        wait(list(self._futures.values()))

    def close(self) -> None:
        for executor in self._executors:
            executor.shutdown(wait=True, cancel_futures=True)
        for context in self.contexts:
            context.stop()


def _run(fn: Callable[..., Any], context: Context, params: Dict[str, Any], seconds: Dict[str, float]) -> Any:
    """A scenario, its servers stopped once it is over (their ground truth stays readable)."""
    started = time.monotonic()
    try:
        return fn(context, **params)
    finally:
        context.stop()
        seconds[context.label] = time.monotonic() - started


_POOLS: List[ScenarioPool] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for pool in _POOLS:
        if pool.seconds:
            shown = int(os.environ.get("RELIABILITY_LONGEST", "3"))
            longest = sorted(pool.seconds.items(), key=lambda item: -item[1])[:shown]
            runs = sum(context.runs for context in pool.contexts)
            terminalreporter.write_line(
                f"reliability scenarios: {len(pool.seconds)} ({runs} connector runs) in {sum(pool.seconds.values()):.0f} s of worker time "
                f"({WORKERS} workers); longest: " + ", ".join(f"{label} {seconds:.0f} s" for label, seconds in longest)
            )


@pytest.fixture(scope="session")
def scenario_pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioPool]:
    items = [item for item in request.session.items if HERE in Path(str(item.fspath)).parents]
    pool = ScenarioPool(items, tmp_path_factory.mktemp("reliability"))
    _POOLS.append(pool)
    yield pool
    pool.close()


@pytest.fixture
def outcome(request: pytest.FixtureRequest, scenario_pool: ScenarioPool) -> Any:
    if request.node.get_closest_marker("scenario") is None:
        raise pytest.UsageError("the `outcome` fixture needs @pytest.mark.scenario(fn)")
    return scenario_pool.outcome(request.node)


@pytest.fixture(scope="module")
def drained_scenario_pool(scenario_pool: ScenarioPool) -> ScenarioPool:
    """For in-process tests that freeze time: no scenario thread runs while they do."""
    scenario_pool.drain()
    return scenario_pool
