"""Fixtures of the reliability suite.

Tests marked ``@pytest.mark.scenario(fn)`` get ``outcome``: the result of ``fn(ctx, **params)`` for
their own parameters. The first such test of a module starts *all* the module's selected scenarios on
two worker threads (each one is subprocess work: a connector run against its own fake server), so
while one test asserts, the next scenarios are already running.

Modules with in-process HttpMocker tests (which freeze time) hold no scenarios, so no worker thread
ever runs while time is frozen: the module pool is drained at module teardown.
"""

from __future__ import annotations

import inspect
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Tuple

import pytest

from reliability_tests.support import Context

WORKERS = 3


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario(fn): the test asserts on the Outcome of fn(ctx, **params)")


def _key(item: pytest.Item) -> Tuple[Callable[..., Any], Tuple[Tuple[str, Any], ...]] | None:
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return None
    fn = marker.args[0]
    wanted = inspect.signature(fn).parameters
    params = getattr(getattr(item, "callspec", None), "params", {})
    return fn, tuple(sorted((name, value) for name, value in params.items() if name in wanted))


class ScenarioPool:
    """Runs a module's scenarios, two at a time, in the order its tests were collected."""

    def __init__(self, items: list, workdir: Path) -> None:
        self._items = items
        self._workdir = workdir
        self._executor: ThreadPoolExecutor | None = None
        self._futures: Dict[Any, Future] = {}
        self._contexts: list[Context] = []

    def _start(self) -> None:
        self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="scenario")
        for item in self._items:
            key = _key(item)
            if key is None or key in self._futures:
                continue
            fn, params = key
            label = fn.__name__.strip("_") + "".join(f"-{value}" for _, value in params)
            context = Context(self._workdir / label, label)
            self._contexts.append(context)
            self._futures[key] = self._executor.submit(fn, context, **dict(params))

    def outcome(self, item: pytest.Item) -> Any:
        if self._executor is None:
            self._start()
        return self._futures[_key(item)].result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        for context in self._contexts:
            context.stop()


@pytest.fixture(scope="module")
def scenario_pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioPool]:
    items = [item for item in request.session.items if item.module is request.module]
    pool = ScenarioPool(items, tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    yield pool
    pool.close()


@pytest.fixture
def outcome(request: pytest.FixtureRequest, scenario_pool: ScenarioPool) -> Any:
    if request.node.get_closest_marker("scenario") is None:
        raise pytest.UsageError("the `outcome` fixture needs @pytest.mark.scenario(fn)")
    return scenario_pool.outcome(request.node)
