"""Load the connector's streams into a local DuckDB file through PyAirbyte, and check what landed.

Shared by the demo (``python -m demo``, run by ``bash scripts/demo.sh``) and by
``integration_tests/test_warehouse_e2e.py``. The path is the one a user takes:

1. :func:`configure_pyairbyte` keeps PyAirbyte offline, without telemetry, and writing only under
   ``.local/`` (git-ignored). It must run before the first ``import airbyte``.
2. :func:`get_source` runs the *installed* ``source-conversations`` console script
   (``local_executable``), the way PyAirbyte runs any connector it did not install itself.
3. :func:`duckdb_cache` is a DuckDB cache whose column types are fixed for these schemas
   (see :func:`conversations_cache_class`).
4. :func:`load_streams` reads one stream at a time, so each stream's record count and time are its own.
   PyAirbyte keeps the state in the DuckDB file: the next load of the same file is incremental, and
   its ``merge`` write keeps one row per primary key.
5. :func:`table_counts`, :func:`column_types`, :func:`sample_rows` and :func:`ids_loaded_after` read the
   tables back.

:func:`start_fake_server`, :func:`ground_truth` and :func:`change_data` drive the project's fake API
server for the demo and the test.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence

if TYPE_CHECKING:  # PyAirbyte is imported lazily, after configure_pyairbyte()
    from airbyte.caches import DuckDBCache
    from airbyte.sources.base import Source

    from fake_api import FakeApiServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = PROJECT_ROOT / ".local"
"""Everything the demo and PyAirbyte write goes under here; ``.gitignore`` lists ``.local/``."""
PYAIRBYTE_DIR = LOCAL_DIR / "pyairbyte"
DEMO_DIR = LOCAL_DIR / "demo"
DEFAULT_DB_PATH = DEMO_DIR / "conversations.duckdb"

CONNECTOR_NAME = "source-conversations"
POLYAI = "polyai_conversations"
VECTARA = "vectara_conversations"
STREAMS = (POLYAI, VECTARA)
TIMESTAMP_COLUMNS = {POLYAI: "started_at", VECTARA: "created_at"}
"""The date-time column of each stream (PyAirbyte lower-cases names: ``epochSecs`` is ``epochsecs``)."""
FIRST_USER_TEXT = {
    # turns[0] is usually the agent's greeting (user_input null): take the first turn the user spoke in.
    POLYAI: "list_filter(json_extract_string(turns, '$[*].user_input'), x -> x IS NOT NULL AND x <> '')[1]",
    VECTARA: "query",
}

# Folders PyAirbyte reads from the environment once, at import time. Left unset, logs go to
# /tmp/airbyte/logs, the config of each connector run to a /tmp/tmp*.json file, and the cache's batch
# files to ./.cache of whatever the current directory is.
_FOLDER_VARIABLES = {
    "AIRBYTE_LOGGING_ROOT": "logs",
    "AIRBYTE_CACHE_ROOT": "cache",
    "AIRBYTE_TEMP_DIR": "temp",
    "AIRBYTE_PROJECT_DIR": "project",
    "AIRBYTE_INSTALL_DIR": "install",
}


def pyairbyte_settings(root: Path = PYAIRBYTE_DIR, *, live_progress: Optional[bool] = None) -> Dict[str, str]:
    """The environment :func:`configure_pyairbyte` sets (folders already set in the environment are kept).

    * ``DO_NOT_TRACK=1`` and ``AIRBYTE_OFFLINE_MODE=1``: no telemetry, no registry download.
    * ``AIRBYTE_LOGGING_ROOT``, ``AIRBYTE_CACHE_ROOT``, ``AIRBYTE_TEMP_DIR`` (the config file handed to
      each connector run: it holds the credentials), ``AIRBYTE_PROJECT_DIR``, ``AIRBYTE_INSTALL_DIR``.
    * ``TMPDIR``: the CDK entrypoint of every connector run (``spec``, ``check``, ``read``...) writes the
      config, credentials included, to ``$TMPDIR/tmp*/config.json`` until the run ends.
    * ``live_progress=False`` (default: when stdout is not a terminal) sets ``NO_LIVE_PROGRESS=1``, so a
      log file gets one line per finished sync instead of a redrawn panel.
    """
    settings = {"DO_NOT_TRACK": "1", "AIRBYTE_OFFLINE_MODE": "1"}
    for variable, folder in _FOLDER_VARIABLES.items():
        settings[variable] = os.environ.get(variable) or str(root / folder)
    settings["TMPDIR"] = os.environ.get("TMPDIR") or str(root / "temp")
    if live_progress is None:
        live_progress = sys.stdout.isatty()
    if not live_progress:
        settings["NO_LIVE_PROGRESS"] = "1"
    return settings


def configure_pyairbyte(root: Path = PYAIRBYTE_DIR, *, live_progress: Optional[bool] = None) -> Dict[str, str]:
    """Keep PyAirbyte offline, without usage reporting, and writing only under ``root``; returns the settings.

    Sets :func:`pyairbyte_settings` in ``os.environ`` (connectors started from now on inherit it) and
    creates the folders. Call it before the first ``import airbyte``: PyAirbyte reads these at import.
    Raises RuntimeError if PyAirbyte was already imported with other folders: it would ignore these.
    """
    settings = pyairbyte_settings(root, live_progress=live_progress)
    if "airbyte" in sys.modules:
        ignored = sorted(k for k in _FOLDER_VARIABLES if os.environ.get(k) != settings[k])
        if ignored:
            raise RuntimeError(
                f"PyAirbyte was imported before configure_pyairbyte(), so it ignores {', '.join(ignored)} "
                "and writes to its defaults (/tmp/airbyte, ./.cache). Call configure_pyairbyte() first."
            )
    for variable in [*_FOLDER_VARIABLES, "TMPDIR"]:
        Path(settings[variable]).mkdir(parents=True, exist_ok=True)
    if os.environ.get("TMPDIR") != settings["TMPDIR"]:
        tempfile.tempdir = None  # this process picks the new TMPDIR up too
    os.environ.update(settings)
    # Google's client libraries (BigQuery support, imported by PyAirbyte) warn about Python versions.
    warnings.filterwarnings("ignore", message=r".*Google will stop supporting", category=FutureWarning)
    return settings


def remove_temporary_files(settings: Mapping[str, str]) -> int:
    """Empties the temporary folders `configure_pyairbyte` made under ``.local/``; returns how many entries.

    A connector run that ends normally removes the copy of the config (credentials included) it wrote
    there; one that was killed (Ctrl-C during a sync) leaves it behind. Folders outside ``.local/``, set
    by the user, are never touched.
    """
    removed = 0
    for variable in ("TMPDIR", "AIRBYTE_TEMP_DIR"):
        folder = Path(settings[variable]).resolve()
        if LOCAL_DIR.resolve() not in folder.parents or not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed += 1
    return removed


# --------------------------------------------------------------------------------------------------
# The source and the cache
# --------------------------------------------------------------------------------------------------


def connector_executable() -> str:
    """The installed console script, as the integration tests run it."""
    from integration_tests.harness import connector_executable as installed

    return installed()


def get_source(config: Mapping[str, Any], executable: Optional[str] = None) -> "Source":
    """A PyAirbyte source that runs the installed console script with ``config``."""
    import airbyte as ab

    return ab.get_source(CONNECTOR_NAME, config=dict(config), local_executable=executable or connector_executable())


@functools.lru_cache(maxsize=None)
def conversations_cache_class() -> type:
    """``ConversationsDuckDBCache``: PyAirbyte's DuckDB cache with this project's column-type fixes.

    Built on first use, since it subclasses PyAirbyte classes (see :func:`configure_pyairbyte`).
    """
    import sqlalchemy
    from airbyte._processors.sql.duckdb import DuckDBSqlProcessor
    from airbyte.caches import DuckDBCache
    from airbyte.types import SQLTypeConverter

    class TimestampWithTimeZone(sqlalchemy.types.TIMESTAMP):
        """``TIMESTAMP(timezone=True)`` that also says so when PyAirbyte turns it into SQL text.

        PyAirbyte writes column types into its DDL and its ``read_json`` call with ``str(type)``, and
        ``str(TIMESTAMP(timezone=True))`` is plain ``TIMESTAMP``. DuckDB then drops the UTC offset of
        ``10:00:00+05:30`` and stores 10:00, the wrong instant. ``TIMESTAMP WITH TIME ZONE`` keeps it.
        """

        def __init__(self) -> None:
            super().__init__(timezone=True)

        def __str__(self) -> str:
            return "TIMESTAMP WITH TIME ZONE"

    class ConversationsTypeConverter(SQLTypeConverter):
        def to_sql_type(self, json_schema_property_def: Dict[str, Any]) -> Any:
            sql_type = super().to_sql_type(json_schema_property_def)
            if isinstance(sql_type, sqlalchemy.types.TIMESTAMP) and sql_type.timezone:
                return TimestampWithTimeZone()
            return sql_type

    class ConversationsSqlProcessor(DuckDBSqlProcessor):
        type_converter_class = ConversationsTypeConverter

    class ConversationsDuckDBCache(DuckDBCache):
        """PyAirbyte's DuckDB cache with one column-type fix for these schemas.

        ``format: date-time`` + ``airbyte_type: timestamp_with_timezone`` columns (``started_at``,
        ``created_at``) become ``TIMESTAMP WITH TIME ZONE``: stock PyAirbyte 0.71 makes them
        ``TIMESTAMP`` and DuckDB then loses any non-UTC offset (see ``TimestampWithTimeZone``).
        """

        _sql_processor_class = ConversationsSqlProcessor

    return ConversationsDuckDBCache


def duckdb_cache(db_path: Path = DEFAULT_DB_PATH, *, fresh: bool = False) -> "DuckDBCache":
    """A DuckDB cache in the file ``db_path`` (its folder is created). ``fresh``: delete the file first."""
    db_path = Path(db_path)
    if fresh:
        for leftover in (db_path, db_path.with_name(db_path.name + ".wal")):
            leftover.unlink(missing_ok=True)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(os.environ.get("AIRBYTE_CACHE_ROOT") or PYAIRBYTE_DIR / "cache")
    return conversations_cache_class()(db_path=db_path, cache_dir=cache_dir)


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


@dataclass
class StreamLoad:
    """One stream's load: how many records the connector sent, and how long the load took."""

    stream: str
    records_read: int
    seconds: float


class Heartbeat:
    """Prints ``describe(elapsed_seconds)`` every ``every`` seconds until the ``with`` block ends."""

    def __init__(self, describe: Callable[[float], str], every: float = 10.0, out: Callable[[str], None] = print):
        self._describe = describe
        self._every = every
        self._out = out
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-heartbeat", daemon=True)
        self._started = 0.0

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self._out(self._describe(time.monotonic() - self._started))

    def __enter__(self) -> "Heartbeat":
        self._started = time.monotonic()
        if self._every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def load_streams(
    source: "Source",
    cache: "DuckDBCache",
    streams: Sequence[str] = STREAMS,
    *,
    heartbeat_seconds: float = 10.0,
    progress: Optional[Callable[[str, float], str]] = None,
    out: Callable[[str], None] = print,
) -> Dict[str, StreamLoad]:
    """Read each stream into ``cache``, one after the other; incremental when the cache holds a state.

    Every ``heartbeat_seconds`` a line says the load is still running (``progress(stream, elapsed)``
    words it). PyAirbyte's write strategy is ``auto``, i.e. ``merge`` on the primary key ``id``.
    """
    words = progress or (lambda stream, elapsed: f"   ... still loading {stream}: {elapsed:.0f} s")
    loads: Dict[str, StreamLoad] = {}
    for stream in streams:
        started = time.monotonic()
        with Heartbeat(functools.partial(words, stream), heartbeat_seconds, out):
            result = source.read(cache=cache, streams=[stream])
        loads[stream] = StreamLoad(stream, result.processed_records, time.monotonic() - started)
    return loads


# --------------------------------------------------------------------------------------------------
# Reading the tables back
# --------------------------------------------------------------------------------------------------


def table_name(cache: "DuckDBCache", stream: str) -> str:
    """The quoted ``schema.table`` PyAirbyte loads ``stream`` into."""
    table = cache[stream].to_sql_table()
    return f'"{table.schema}"."{table.name}"'


def fetch_all(cache: "DuckDBCache", sql: str, **params: Any) -> List[tuple]:
    """Rows of ``sql`` (SQLAlchemy ``:name`` parameters) on the cache's own engine."""
    import sqlalchemy

    with cache.get_sql_engine().connect() as connection:
        return [tuple(row) for row in connection.execute(sqlalchemy.text(sql), params)]


@dataclass
class TableCounts:
    rows: int
    distinct_ids: int


def table_counts(cache: "DuckDBCache", stream: str) -> TableCounts:
    """``SELECT count(*), count(DISTINCT id)`` of the stream's table."""
    rows, distinct_ids = fetch_all(cache, f"SELECT count(*), count(DISTINCT id) FROM {table_name(cache, stream)}")[0]
    return TableCounts(int(rows), int(distinct_ids))


def column_types(cache: "DuckDBCache", stream: str) -> Dict[str, str]:
    """DuckDB's type of each column of the stream's table, e.g. ``{"started_at": "TIMESTAMP WITH TIME ZONE"}``."""
    table = cache[stream].to_sql_table()
    rows = fetch_all(
        cache,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = :schema AND table_name = :name ORDER BY ordinal_position",
        schema=table.schema,
        name=table.name,
    )
    return {name: data_type for name, data_type in rows}


def sample_rows(cache: "DuckDBCache", stream: str, limit: int = 3) -> List[tuple]:
    """``(id, timestamp, first user text)`` of the ``limit`` newest rows."""
    timestamp = TIMESTAMP_COLUMNS[stream]
    return fetch_all(
        cache,
        f"SELECT id, {timestamp}, {FIRST_USER_TEXT[stream]} AS first_user_text FROM {table_name(cache, stream)} "
        f"ORDER BY {timestamp} DESC, id LIMIT {int(limit)}",
    )


def last_loaded_at(cache: "DuckDBCache", stream: str) -> Any:
    """The newest ``_airbyte_extracted_at`` in the stream's table (None when empty)."""
    return fetch_all(cache, f"SELECT max(_airbyte_extracted_at) FROM {table_name(cache, stream)}")[0][0]


def ids_loaded_after(cache: "DuckDBCache", stream: str, moment: Any) -> List[str]:
    """Ids of rows written by a load that read them after ``moment`` (a :func:`last_loaded_at` value)."""
    if moment is None:
        return [row[0] for row in fetch_all(cache, f"SELECT id FROM {table_name(cache, stream)}")]
    rows = fetch_all(
        cache, f"SELECT id FROM {table_name(cache, stream)} WHERE _airbyte_extracted_at > :moment", moment=moment
    )
    return [row[0] for row in rows]


# --------------------------------------------------------------------------------------------------
# The fake API scenario
# --------------------------------------------------------------------------------------------------


def start_fake_server(polyai: int, vectara: int, in_progress: int, **options: Any) -> "FakeApiServer":
    """The project's fake API on 127.0.0.1 (a free port), started. Stop it with ``.stop()``."""
    from fake_api import FakeApiServer

    return FakeApiServer(polyai_count=polyai, vectara_count=vectara, in_progress_count=in_progress, **options).start()


def ground_truth(server: "FakeApiServer") -> Dict[str, int]:
    """How many rows each stream should have: finished ``live`` PolyAI conversations (the connector's
    default ``client_env``; in-progress ones are left for a later sync) and every Vectara conversation."""
    return {POLYAI: len(server.polyai_ids(in_progress=False)), VECTARA: len(server.vectara_ids())}


@dataclass
class DataChange:
    """What :func:`change_data` did to the fake API, and what an incremental sync should then read."""

    added: Dict[str, List[str]] = field(default_factory=dict)
    finished: List[str] = field(default_factory=list)
    """Live PolyAI conversations that were in progress and are now finished."""
    finished_all_environments: int = 0

    @property
    def expected_reads(self) -> Dict[str, int]:
        return {POLYAI: len(self.added.get(POLYAI, [])) + len(self.finished), VECTARA: len(self.added.get(VECTARA, []))}

    def expected_ids(self, stream: str) -> List[str]:
        return self.added.get(stream, []) + (self.finished if stream == POLYAI else [])


def change_data(server: "FakeApiServer", add_polyai: int, add_vectara: int) -> DataChange:
    """Add conversations to both vendors and finish every PolyAI conversation still in progress."""
    finished = server.polyai_ids(in_progress=True)
    added_polyai = server.add_polyai(add_polyai) if add_polyai else []
    # One second in the past: the connector leaves records of the very second a sync starts to the next sync.
    added_vectara = server.add_vectara(add_vectara, epoch_secs=int(time.time()) - 1) if add_vectara else []
    finished_all = server.finish_polyai_in_progress()
    return DataChange(
        added={POLYAI: added_polyai, VECTARA: added_vectara},
        finished=finished,
        finished_all_environments=finished_all,
    )
