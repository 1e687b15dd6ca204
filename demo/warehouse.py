"""Load the connector's streams into a local DuckDB file through PyAirbyte, and check what landed.

Shared by the demo (``python -m demo``, run by ``bash scripts/demo.sh``) and by
``integration_tests/test_warehouse_e2e.py``. The path is the one a user takes:

1. :func:`configure_pyairbyte` keeps PyAirbyte offline, without telemetry, and writing only under
   ``.local/`` (git-ignored). It must run before the first ``import airbyte``.
2. :func:`get_source` runs the *installed* ``source-conversations`` console script
   (``local_executable``), the way PyAirbyte runs any connector it did not install itself.
3. :func:`duckdb_cache` is a DuckDB cache whose column types are fixed for these schemas
   (see :func:`conversations_cache_class`).
4. :func:`sync` reads every stream into the cache in one PyAirbyte read. PyAirbyte keeps the state in the
   DuckDB file: the next sync of the same file is incremental, and its ``merge`` write keeps one row per
   primary key.
5. :func:`table_counts`, :func:`table_keys`, :func:`column_types`, :func:`chat_transcript`,
   :func:`polyai_transcript` and :func:`agent_session` read the tables back.

:class:`FakeScenario` drives the project's fake API for the demo and the test: the server, the config
(PolyAI v3 with several projects and Vectara v2 with the Agents streams by default, v1 on request), the
ground truth of every stream (:meth:`FakeScenario.truth`) and the data change between two syncs
(:meth:`FakeScenario.change`).

Stream facts (which streams a config shows, primary keys, cursor fields, spec defaults) come from
``source_conversations.registry`` and the manifest; this module only knows which fake API records each
stream carries. Nothing here imports PyAirbyte, the CDK or the connector at module level, so
``python -m demo --help`` works without an installed package.
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
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

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

# What each stream is on the fake API (its facts: source_conversations.registry). streams_for() fails on a
# stream the registry lists and this module does not know, so a renamed stream is never silently skipped.
POLYAI = "polyai_conversations"
V1_CONVERSATIONS = "vectara_conversations"
V1_TURNS = "vectara_turns"
CHATS = "vectara_chats"
CHAT_TURNS = "vectara_chat_turns"
SESSIONS = "vectara_agent_sessions"
EVENTS = "vectara_agent_events"
KNOWN_STREAMS = (POLYAI, V1_CONVERSATIONS, V1_TURNS, CHATS, CHAT_TURNS, SESSIONS, EVENTS)
CONVERSATIONS_WITH_TURNS = ((CHATS, CHAT_TURNS, "chat_id"), (V1_CONVERSATIONS, V1_TURNS, "conversationId"))
"""(list stream, turns stream, the turn's field naming its conversation), v2 first."""


# --------------------------------------------------------------------------------------------------
# PyAirbyte settings
# --------------------------------------------------------------------------------------------------

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
    os.environ.update(settings)
    if Path(tempfile.gettempdir()).resolve() != Path(settings["TMPDIR"]).resolve():
        tempfile.tempdir = None  # this process picks the new TMPDIR up too (gettempdir() caches it)
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
# Stream facts (from the registry and the manifest's spec)
# --------------------------------------------------------------------------------------------------


def _registry() -> Any:
    from source_conversations import registry

    return registry


def stream_facts(stream: str) -> Any:
    """The registry's ``StreamInfo`` of ``stream`` (name, provider, primary key, cursor field...)."""
    return _registry().stream(stream)


def streams_for(config: Mapping[str, Any]) -> Tuple[str, ...]:
    """The streams ``discover`` lists for ``config``, in the manifest's order."""
    shown = _registry().streams_for(config)
    unknown = [name for name in shown if name not in KNOWN_STREAMS]
    if unknown:
        raise RuntimeError(f"demo.warehouse does not know the stream(s) {unknown}: add them to KNOWN_STREAMS")
    return shown


def primary_key(stream: str) -> Tuple[str, ...]:
    return tuple(stream_facts(stream).primary_key)


def record_key(stream: str, record: Mapping[str, Any]) -> str:
    """A record's primary key, fields joined with ``/`` (as ``test_support.harness.ConnectorRun.ids``)."""
    return "/".join(str(record.get(name)) for name in primary_key(stream))


@functools.cache
def _spec_properties() -> Dict[str, Any]:
    from source_conversations.source import manifest

    return manifest()["spec"]["connection_specification"]["properties"]


def setting(config: Mapping[str, Any], name: str, provider: Optional[str] = None) -> Any:
    """A setting of ``config`` (``provider`` section or top level), or the spec's default for it."""
    properties = _spec_properties()
    if provider is None:
        return config.get(name, properties[name].get("default"))
    section = config.get(provider) or {}
    return section.get(name, properties[provider]["properties"][name].get("default"))


def connector_executable() -> str:
    """The installed console script, as the integration tests run it."""
    from test_support.harness import connector_executable as installed

    return installed()


# --------------------------------------------------------------------------------------------------
# The source and the cache
# --------------------------------------------------------------------------------------------------


def get_source(config: Mapping[str, Any], executable: Optional[str] = None) -> Source:
    """A PyAirbyte source that runs the installed console script with ``config``."""
    import airbyte as ab

    return ab.get_source(CONNECTOR_NAME, config=dict(config), local_executable=executable or connector_executable())


@functools.cache
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


def duckdb_cache(db_path: Path = DEFAULT_DB_PATH, *, fresh: bool = False) -> DuckDBCache:
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

    def __enter__(self) -> Heartbeat:
        self._started = time.monotonic()
        if self._every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


@dataclass
class TableCounts:
    """``SELECT count(*), count(DISTINCT <primary key>)`` of one table."""

    rows: int
    distinct_keys: int


@dataclass
class Sync:
    """One PyAirbyte read of every stream into the cache, and what it left in the tables."""

    streams: Tuple[str, ...]
    began: float
    """Unix seconds just before the read started (the connector's sync begins a little later)."""
    seconds: float
    read: Dict[str, int]
    """Records the connector sent, per stream (duplicates included)."""
    written: Dict[str, Set[str]]
    """Primary keys of the rows this read wrote or rewrote, per stream."""
    counts: Dict[str, TableCounts]
    keys: Dict[str, Set[str]]
    """Every primary key in each table after the read."""


def sync(
    source: Source,
    cache: DuckDBCache,
    streams: Sequence[str],
    *,
    heartbeat_seconds: float = 10.0,
    progress: Optional[Callable[[float], str]] = None,
    out: Callable[[str], None] = print,
) -> Sync:
    """Reads ``streams`` into ``cache`` in one PyAirbyte read; incremental when the cache holds a state.

    Every ``heartbeat_seconds`` a line says the read is still running (``progress(elapsed)`` words it).
    PyAirbyte's write strategy is ``auto``: ``merge`` on each stream's primary key.
    """
    streams = tuple(streams)
    before = {stream: last_extracted_at(cache, stream) for stream in streams}
    words = progress or (lambda elapsed: f"   ... still loading: {elapsed:.0f} s")
    began = time.time()
    started = time.monotonic()
    with Heartbeat(words, heartbeat_seconds, out):
        result = source.read(cache=cache, streams=list(streams))
    seconds = time.monotonic() - started
    # PyAirbyte 0.71 (setup.py pins <0.72) keeps the per-stream count only in its progress tracker;
    # ReadResult.processed_records is the total of every stream.
    per_stream = getattr(getattr(result, "_progress_tracker", None), "stream_read_counts", None)
    if per_stream is None:
        raise RuntimeError("this PyAirbyte has no per-stream read counts (ReadResult._progress_tracker)")
    return Sync(
        streams=streams,
        began=began,
        seconds=seconds,
        read={stream: int(per_stream.get(stream, 0)) for stream in streams},
        written={stream: set(keys_extracted_after(cache, stream, before[stream])) for stream in streams},
        counts={stream: table_counts(cache, stream) for stream in streams},
        keys={stream: set(table_keys(cache, stream)) for stream in streams},
    )


# --------------------------------------------------------------------------------------------------
# Reading the tables back
# --------------------------------------------------------------------------------------------------


def column(cache: DuckDBCache, name: str) -> str:
    """The quoted column PyAirbyte loads the field ``name`` into (it lower-cases: ``epochSecs`` is ``epochsecs``)."""
    return '"' + cache.processor.normalizer.normalize(name) + '"'


def table_name(cache: DuckDBCache, stream: str) -> str:
    """The quoted ``schema.table`` PyAirbyte loads ``stream`` into."""
    table = cache[stream].to_sql_table()
    return f'"{table.schema}"."{table.name}"'


def key_sql(cache: DuckDBCache, stream: str) -> str:
    """SQL for a row's primary key, fields joined with ``/`` like :func:`record_key`."""
    return "concat_ws('/', " + ", ".join(column(cache, name) for name in primary_key(stream)) + ")"


def fetch_all(cache: DuckDBCache, sql: str, **params: Any) -> List[tuple]:
    """Rows of ``sql`` (SQLAlchemy ``:name`` parameters) on the cache's own engine."""
    import sqlalchemy

    with cache.get_sql_engine().connect() as connection:
        return [tuple(row) for row in connection.execute(sqlalchemy.text(sql), params)]


def table_counts(cache: DuckDBCache, stream: str) -> TableCounts:
    """``SELECT count(*), count(DISTINCT <primary key>)`` of the stream's table."""
    sql = f"SELECT count(*), count(DISTINCT {key_sql(cache, stream)}) FROM {table_name(cache, stream)}"
    rows, distinct_keys = fetch_all(cache, sql)[0]
    return TableCounts(int(rows), int(distinct_keys))


def table_keys(cache: DuckDBCache, stream: str) -> List[str]:
    """The primary key of every row of the stream's table."""
    return [row[0] for row in fetch_all(cache, f"SELECT {key_sql(cache, stream)} FROM {table_name(cache, stream)}")]


def column_types(cache: DuckDBCache, stream: str) -> Dict[str, str]:
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


def time_column(stream: str) -> str:
    """The stream's date-time column: its cursor, or ``created_at`` the connector adds to v1's ``epochSecs``."""
    cursor = stream_facts(stream).cursor_field
    return "created_at" if cursor == "epochSecs" else cursor


def last_extracted_at(cache: DuckDBCache, stream: str) -> Any:
    """The newest ``_airbyte_extracted_at`` in the stream's table (None when empty or not made yet)."""
    if not _table_exists(cache, stream):
        return None
    return fetch_all(cache, f"SELECT max(_airbyte_extracted_at) FROM {table_name(cache, stream)}")[0][0]


def keys_extracted_after(cache: DuckDBCache, stream: str, moment: Any) -> List[str]:
    """Keys of rows a read extracted after ``moment`` (a :func:`last_extracted_at` value; None: every row)."""
    if moment is None:
        return table_keys(cache, stream)
    sql = f"SELECT {key_sql(cache, stream)} FROM {table_name(cache, stream)} WHERE _airbyte_extracted_at > :moment"
    return [row[0] for row in fetch_all(cache, sql, moment=moment)]


def _table_exists(cache: DuckDBCache, stream: str) -> bool:
    try:
        table = cache[stream].to_sql_table()
    except KeyError:  # PyAirbyte has not loaded the stream into this cache yet
        return False
    rows = fetch_all(
        cache,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = :schema AND table_name = :name",
        schema=table.schema,
        name=table.name,
    )
    return rows[0][0] > 0


# --------------------------------------------------------------------------------------------------
# Whole conversations, read back from the tables
# --------------------------------------------------------------------------------------------------


@dataclass
class Transcript:
    """One conversation as the tables hold it: a title and its lines ``(speaker, text)`` in order."""

    title: str
    key: str
    lines: List[Tuple[str, str]]
    turn_keys: List[str] = field(default_factory=list)
    line_turns: List[str] = field(default_factory=list)
    """The turn key of each line (Vectara chats: a question and its answer share their turn's key)."""

    def render(self, width: int = 0, marked: Iterable[str] = (), mark: str = "new") -> List[str]:
        """The title, then one ``speaker: text`` line per line, whitespace flattened (CRLF too), cut at
        ``width`` if given; lines of the turns in ``marked`` end with ``(mark)``."""
        marked = set(marked)
        speaker_width = max((len(speaker) for speaker, _ in self.lines), default=0)
        rendered = [self.title]
        for index, (speaker, text) in enumerate(self.lines):
            turn = self.line_turns[index] if index < len(self.line_turns) else None
            suffix = f"  ({mark})" if turn is not None and turn in marked else ""
            rendered.append(f"  {speaker:>{speaker_width}}: {flat(text, width)}{suffix}")
        return rendered


def flat(text: Optional[str], width: int = 0) -> str:
    """``text`` on one line (any whitespace run, CRLF included, is one space), cut at ``width`` (if not 0)
    with an ellipsis."""
    if not text:
        return "-"
    value = " ".join(str(text).split())
    return value if not width or len(value) <= width else value[: width - 1] + "…"


def chat_turn_lines(turns: Iterable[Mapping[str, Any]]) -> List[Tuple[str, str]]:
    """A Vectara chat's turns as lines: each turn's question, then its answer."""
    lines: List[Tuple[str, str]] = []
    for turn in turns:
        lines += [("Q", turn.get("query") or ""), ("A", turn.get("answer") or "")]
    return lines


def polyai_turn_lines(turns: Iterable[Mapping[str, Any]]) -> List[Tuple[str, str]]:
    """A PolyAI transcript as lines: per turn, what the caller said (keypad digits, or a silence the turn
    is flagged with), then the agent's response."""
    lines: List[Tuple[str, str]] = []
    for turn in turns:
        said = turn.get("user_input")
        if said:
            translated = turn.get("translated_user_input")
            lines.append(("caller", said if not translated or translated == said else f"{said}  [en: {translated}]"))
        elif turn.get("user_input_dtmf"):
            lines.append(("caller", f"(keypad: {turn['user_input_dtmf']})"))
        elif turn.get("is_silence"):
            lines.append(("caller", "(silence)"))
        if turn.get("agent_response"):
            lines.append(("agent", turn["agent_response"]))
    return lines


def _json(value: Any) -> Any:
    """A JSON column's value: SQLAlchemy hands it over parsed, a raw DuckDB cursor as text."""
    import json

    return json.loads(value) if isinstance(value, str) else value


def _moment_text(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "-" if value is None else str(value)


def chat_transcript(
    cache: DuckDBCache, streams: Sequence[str], conversation: Optional[str] = None
) -> Optional[Transcript]:
    """A Vectara chat (v2) or conversation (v1) with all its turns in order, from the turns table.

    ``conversation``: that one; default: one of 3 to 8 turns (else the one with the most), newest first.
    None when the streams have no chat with turns.
    """
    found = next(((p, c, link) for p, c, link in CONVERSATIONS_WITH_TURNS if p in streams and c in streams), None)
    if found is None:
        return None
    parent, child, link = found
    turns, link_column, created = table_name(cache, child), column(cache, link), column(cache, time_column(child))
    if conversation is None:
        picked = fetch_all(
            cache,
            f"SELECT {link_column}, count(*) AS n FROM {turns} GROUP BY 1 "
            f"ORDER BY CASE WHEN n BETWEEN 3 AND 8 THEN 0 ELSE 1 END, n DESC, max({created}) DESC, 1 LIMIT 1",
        )
        if not picked:
            return None
        conversation = picked[0][0]
    rows = fetch_all(
        cache,
        f"SELECT {key_sql(cache, child)}, {column(cache, 'query')}, {column(cache, 'answer')}, {created} "
        f"FROM {turns} WHERE {link_column} = :conversation ORDER BY {created}, 1",
        conversation=conversation,
    )
    started = fetch_all(
        cache,
        f"SELECT {column(cache, time_column(parent))} FROM {table_name(cache, parent)} WHERE {column(cache, 'id')} = :id",
        id=conversation,
    )
    kind = "chat" if parent == CHATS else "conversation"
    when = _moment_text(started[0][0]) if started else "not in " + parent
    return Transcript(
        title=f"Vectara {kind} {conversation} ({len(rows)} turns, created {when}), from {child}:",
        key=conversation,
        lines=chat_turn_lines({"query": query, "answer": answer} for _, query, answer, _ in rows),
        turn_keys=[row[0] for row in rows],
        line_turns=[row[0] for row in rows for _ in ("Q", "A")],
    )


def polyai_transcript(
    cache: DuckDBCache, streams: Sequence[str], key: Optional[Tuple[str, str]] = None
) -> Optional[Transcript]:
    """A PolyAI conversation's transcript from its ``turns`` column.

    ``key``: ``(project_id, id)``; default: an English one of 4 to 8 turns if there is one, newest first.
    """
    if POLYAI not in streams:
        return None
    table = table_name(cache, POLYAI)
    project, ident, started = column(cache, "project_id"), column(cache, "id"), column(cache, "started_at")
    columns = f"{project}, {ident}, {started}, {column(cache, 'channel')}, {column(cache, 'turns')}"
    if key is None:
        rows = fetch_all(
            cache,
            f"SELECT {columns} FROM {table} WHERE {column(cache, 'in_progress')} IS NOT TRUE ORDER BY "
            f"CASE WHEN json_extract_string({column(cache, 'metrics')}, '$.LANGUAGE') LIKE 'en%' THEN 0 ELSE 1 END, "
            f"CASE WHEN {column(cache, 'num_turns')} BETWEEN 4 AND 8 THEN 0 ELSE 1 END, "
            f"{column(cache, 'num_turns')} DESC, {started} DESC, 1, 2 LIMIT 1",
        )
    else:
        rows = fetch_all(
            cache,
            f"SELECT {columns} FROM {table} WHERE {project} = :project AND {ident} = :id",
            project=key[0],
            id=key[1],
        )
    if not rows:
        return None
    project_id, conversation_id, started_at, channel, turns = rows[0]
    turns = _json(turns) or []
    return Transcript(
        title=f"PolyAI conversation {conversation_id} (project {project_id}, {channel}, started "
        f"{_moment_text(started_at)}, {len(turns)} turns), from {POLYAI}.turns:",
        key=f"{project_id}/{conversation_id}",
        lines=polyai_turn_lines(turns),
    )


def agent_session(cache: DuckDBCache, streams: Sequence[str]) -> Optional[Transcript]:
    """A Vectara agent session's events in order, one line each (type; the event schema has no text columns)."""
    if SESSIONS not in streams or EVENTS not in streams:
        return None
    events = table_name(cache, EVENTS)
    session, created = column(cache, "session_key"), column(cache, "created_at")
    picked = fetch_all(
        cache,
        f"SELECT {session}, count(*) AS n FROM {events} GROUP BY 1 "
        f"ORDER BY CASE WHEN n BETWEEN 6 AND 12 THEN 0 ELSE 1 END, n DESC, max({created}) DESC, 1 LIMIT 1",
    )
    if not picked:
        return None
    key = picked[0][0]
    rows = fetch_all(
        cache,
        f"SELECT {key_sql(cache, EVENTS)}, {column(cache, 'agent_key')}, {column(cache, 'type')}, {created} "
        f"FROM {events} WHERE {session} = :key ORDER BY {created}, 1",
        key=key,
    )
    return Transcript(
        title=f"Vectara agent session {key} of {rows[0][1]} ({len(rows)} events), from {EVENTS}:",
        key=key,
        lines=[(_moment_text(moment)[11:], kind or "-") for _, _, kind, moment in rows],
        turn_keys=[row[0] for row in rows],
    )


# --------------------------------------------------------------------------------------------------
# The fake API scenario
# --------------------------------------------------------------------------------------------------


def seconds_of(value: Any) -> Optional[float]:
    """Unix seconds of an ISO 8601 date-time or of epoch seconds: the connector's own parser
    (`components.to_seconds`), so the demo's checks read times exactly as the connector does."""
    from source_conversations.source import components

    return components().to_seconds(value)


@dataclass
class FakeSizes:
    """How much data the fake API starts with, and what :meth:`FakeScenario.change` does to it."""

    projects: int = 3
    polyai: int = 3000
    """PolyAI conversations of every project and environment together (the projects get 3:2:1 shares)."""
    in_progress: int = 5
    """The newest conversations of each project (any environment) still in progress."""
    vectara: int = 2000
    """Vectara chats (v2) or conversations (v1)."""
    agents: int = 2
    sessions: int = 25
    """Sessions per agent."""
    events: int = 22
    """Events per session."""
    add_polyai: int = 50
    """New conversations per project before the second sync."""
    add_vectara: int = 150
    append_turns: int = 3
    """Turns appended to one old chat."""
    add_sessions: int = 1
    """New sessions per agent, each with ``append_events`` events."""
    append_events: int = 4
    """Events appended to one old session (and given to each new session)."""


PROJECT_NAMES = ("PROJECT-support", "PROJECT-bookings", "PROJECT-billing", "PROJECT-sales", "PROJECT-returns")


def project_sizes(projects: int, conversations: int) -> Dict[str, int]:
    """``projects`` project ids with shares of ``conversations`` in ratio n : n-1 : ... : 1 (each at least 1)."""
    names = [PROJECT_NAMES[k] if k < len(PROJECT_NAMES) else f"PROJECT-{k + 1}" for k in range(projects)]
    weights = list(range(projects, 0, -1))
    sizes = {name: max(1, conversations * weight // sum(weights)) for name, weight in zip(names, weights, strict=True)}
    sizes[names[0]] += max(0, conversations - sum(sizes.values()))
    return sizes


@dataclass
class Change:
    """What :meth:`FakeScenario.change` did, as primary keys of the streams it touches."""

    polyai_added: Dict[str, List[str]] = field(default_factory=dict)
    """Per project: the new conversations."""
    polyai_finished: Dict[str, List[str]] = field(default_factory=dict)
    """Per project: the conversations (of the synced environment) that were in progress and are now finished."""
    polyai_finished_all_environments: int = 0
    conversations_added: List[str] = field(default_factory=list)
    """New Vectara chats (v2) or conversations (v1)."""
    conversations_stream: str = ""
    old_conversation: str = ""
    """The old chat (or v1 conversation) that got new turns, and when it was made."""
    old_conversation_created: str = ""
    turns_appended: List[str] = field(default_factory=list)
    turns_stream: str = ""
    sessions_added: List[str] = field(default_factory=list)
    events_of_new_sessions: List[str] = field(default_factory=list)
    old_session: str = ""
    old_session_created: str = ""
    events_appended: List[str] = field(default_factory=list)
    listed_from: float = 0.0
    """Unix seconds from which a sync lists every change (the connector reads up to one second before it began)."""

    def wait_until_listed(self) -> float:
        """Sleeps until a sync that starts now sees every change; returns the seconds slept."""
        remaining = self.listed_from - time.time()
        if remaining > 0:
            time.sleep(remaining)
        return max(0.0, remaining)


class FakeScenario:
    """The project's fake API on 127.0.0.1 (a free port) with :class:`FakeSizes` of data, its connector
    config, the ground truth of every stream and a data change. Stop it with :meth:`stop`.

    ``polyai_version`` / ``vectara_version``: None is the spec's default (PolyAI v3 with every project,
    Vectara v2 with the Agents streams); ``"v1"`` selects the older APIs.
    """

    def __init__(
        self,
        sizes: FakeSizes,
        polyai_version: Optional[str] = None,
        vectara_version: Optional[str] = None,
        **options: Any,
    ) -> None:
        from fake_api import FakeApiServer
        from test_support import configs

        defaults = _registry().DEFAULT_VERSIONS
        self.sizes = sizes
        self.polyai_version = polyai_version or defaults["polyai"]
        self.vectara_version = vectara_version or defaults["vectara"]
        self.server: FakeApiServer = FakeApiServer(
            polyai_projects=project_sizes(sizes.projects, sizes.polyai),
            in_progress_count=sizes.in_progress,
            vectara_count=sizes.vectara,
            vectara_agent_count=sizes.agents,
            vectara_sessions_per_agent=sizes.sessions,
            vectara_events_per_session=sizes.events,
            **options,
        ).start()
        self.config: Dict[str, Any] = configs.connector_config(
            self.server, polyai_version=self.polyai_version, vectara_version=self.vectara_version
        )
        self.streams = streams_for(self.config)

    def stop(self) -> None:
        self.server.stop()

    # -- ground truth -------------------------------------------------------------------------------

    def truth(self, moment: Optional[float] = None) -> Dict[str, Dict[str, Dict[str, Any]]]:
        """Per stream, the records (by primary key, as the API serves them) a complete sync that begins at
        ``moment`` (default now) has loaded, following the connector's documented rules:

        * PolyAI, per project, the configured environment: conversations that started before the project's
          hold, i.e. before its oldest conversation still in progress (started within
          ``in_progress_max_hours``), or, if none, before ``settle_seconds`` ago;
        * Vectara lists, turns and events: everything made up to one second before the sync began
          (turns and events appended to old conversations inside ``turns_lookback_days`` included: the
          scenario appends inside it). Hidden events are left out, as the config does.
        """
        moment = time.time() if moment is None else moment
        start = seconds_of(setting(self.config, "start_date")) or 0.0
        cap = moment - 1
        found: Dict[str, Dict[str, Dict[str, Any]]] = {}
        for stream in self.streams:
            records = self._records(stream, moment) if stream == POLYAI else self._records(stream, cap)
            found[stream] = {
                record_key(stream, record): record for record in records if self._after(stream, record, start)
            }
        return found

    def _after(self, stream: str, record: Mapping[str, Any], start: float) -> bool:
        moment = seconds_of(record.get(stream_facts(stream).cursor_field))
        return moment is None or moment >= start

    def _records(self, stream: str, until: float) -> List[Dict[str, Any]]:
        server = self.server
        cursor = stream_facts(stream).cursor_field

        def made_by(records: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
            return [record for record in records if (seconds_of(record.get(cursor)) or 0.0) <= until]

        if stream == POLYAI:
            return self._polyai_records(until)
        if stream == V1_CONVERSATIONS:
            return made_by(server.vectara_records())
        if stream == V1_TURNS:
            return made_by(server.vectara_turns("v1"))
        if stream == CHATS:
            return made_by(server.vectara_chats())
        if stream == CHAT_TURNS:
            return made_by(server.vectara_turns("v2"))
        if stream == SESSIONS:
            return made_by(session for agent in self._agents() for session in server.vectara_sessions(agent))
        if stream == EVENTS:
            hidden = bool(setting(self.config, "include_hidden_events", "vectara"))
            return made_by(
                event
                for agent in self._agents()
                for session in made_by(server.vectara_sessions(agent))
                for event in server.vectara_events(agent, session["key"], include_hidden=hidden)
            )
        raise ValueError(f"no ground truth for {stream}")

    def _agents(self) -> List[str]:
        return list(setting(self.config, "agent_keys", "vectara") or self.server.vectara_agent_keys())

    def _polyai_records(self, now: float) -> List[Dict[str, Any]]:
        environment = setting(self.config, "client_env", "polyai")
        max_hours = float(setting(self.config, "in_progress_max_hours", "polyai"))
        settle = _polyai_settle_seconds()
        found = []
        for project in self.config["polyai"]["project_ids"]:
            records = self.server.polyai_records(
                client_env=environment, project_id=project, version=self.polyai_version
            )
            hold = now - settle
            running = [
                seconds_of(record["started_at"])
                for record in records
                if record.get("in_progress") and seconds_of(record["started_at"]) >= now - max_hours * 3600
            ]
            if running and min(running) < hold:
                hold = min(running)
            found += [record for record in records if seconds_of(record["started_at"]) < hold]
        return found

    # -- the data change ----------------------------------------------------------------------------

    def change(self) -> Change:
        """Changes the data as time would between two syncs:

        * PolyAI, every project: ``add_polyai`` new conversations (just after the newest one), and every
          conversation still in progress finishes;
        * Vectara: ``add_vectara`` new chats (v1: conversations), ``append_turns`` turns appended to the
          oldest chat made inside ``turns_lookback_days`` (less a day of margin), and with the Agents streams
          ``add_sessions`` new sessions per agent with ``append_events`` events each and ``append_events``
          events appended to the oldest session inside the lookback.

        Everything new is made now: after any state the previous sync saved (at most one second before
        it began). :meth:`Change.wait_until_listed` waits until a sync would list it all.
        """
        server, sizes = self.server, self.sizes
        now = time.time()
        epoch = int(now)
        change = Change()
        newest = now
        if POLYAI in self.streams:
            environment = setting(self.config, "client_env", "polyai")
            for project in self.config["polyai"]["project_ids"]:
                running = server.polyai_ids(in_progress=True, client_env=environment, project_id=project)
                change.polyai_finished[project] = [f"{project}/{ident}" for ident in running]
                latest = max(
                    (
                        seconds_of(r["started_at"]) or 0.0
                        for r in server.polyai_records(client_env=None, project_id=project)
                    ),
                    default=now - 3600,
                )
                added = (
                    server.add_polyai(sizes.add_polyai, started_at=latest + 1, project_id=project)
                    if sizes.add_polyai
                    else []
                )
                change.polyai_added[project] = [f"{project}/{ident}" for ident in added]
            change.polyai_finished_all_environments = server.finish_polyai_in_progress()

        lookback_days = float(setting(self.config, "turns_lookback_days", "vectara"))
        inside_lookback = now - max(lookback_days - 1, lookback_days / 2) * 86400
        pair = next(((p, c) for p, c, _ in CONVERSATIONS_WITH_TURNS if p in self.streams and c in self.streams), None)
        if pair is not None:
            parent, child = pair
            change.conversations_stream, change.turns_stream = parent, child
            added = server.add_vectara(sizes.add_vectara, epoch_secs=epoch) if sizes.add_vectara else []
            change.conversations_added = [server.vectara_chat_id(i) if parent == CHATS else i for i in added]
            old = self._oldest(server.vectara_records(), "epochSecs", inside_lookback, now)
            if old is not None and sizes.append_turns:
                change.old_conversation = server.vectara_chat_id(old["id"]) if parent == CHATS else old["id"]
                change.old_conversation_created = _moment_text(
                    datetime.fromtimestamp(seconds_of(old["epochSecs"]), timezone.utc)
                )
                v1_ids = server.add_vectara_turns(old["id"], sizes.append_turns, epoch_secs=epoch)
                if child == CHAT_TURNS:
                    change.turns_appended = [
                        t["id"] for t in server.vectara_chat_turns(change.old_conversation)[-len(v1_ids) :]
                    ]
                else:
                    change.turns_appended = list(v1_ids)
                newest = max(newest, epoch + sizes.append_turns - 1)
        if SESSIONS in self.streams and EVENTS in self.streams:
            touched = []
            for agent in self._agents():
                for k in range(sizes.add_sessions):
                    key = server.add_vectara_session(agent, name=f"Demo session {k + 1}", created_at=now)
                    change.sessions_added.append(f"{agent}/{key}")
                    touched.append((agent, key))
                    if sizes.append_events:
                        change.events_of_new_sessions += server.add_vectara_events(
                            agent, key, sizes.append_events, created_at=now
                        )
            sessions = [session for agent in self._agents() for session in server.vectara_sessions(agent)]
            old = self._oldest(sessions, "created_at", inside_lookback, now)
            if old is not None and sizes.append_events:
                change.old_session = f"{old['agent_key']}/{old['key']}"
                change.old_session_created = _moment_text(
                    datetime.fromtimestamp(seconds_of(old["created_at"]), timezone.utc)
                )
                change.events_appended = server.add_vectara_events(
                    old["agent_key"], old["key"], sizes.append_events, created_at=now
                )
                touched.append((old["agent_key"], old["key"]))
            for agent, key in touched:  # events are 1 ms apart, after the session's last one
                events = server.vectara_events(agent, key)
                if events:
                    newest = max(newest, seconds_of(events[-1]["created_at"]) or now)
        # The connector lists what was made up to one second before its sync began; a little margin on top.
        change.listed_from = newest + 1.2
        return change

    @staticmethod
    def _oldest(
        records: Iterable[Mapping[str, Any]], cursor: str, since: float, now: float
    ) -> Optional[Mapping[str, Any]]:
        """The oldest record made after ``since`` and at least an hour before ``now`` (else the oldest after ``since``)."""
        inside = sorted(
            (r for r in records if (seconds_of(r.get(cursor)) or 0.0) >= since),
            key=lambda r: seconds_of(r.get(cursor)) or 0.0,
        )
        settled = [r for r in inside if (seconds_of(r.get(cursor)) or 0.0) <= now - 3600]
        return (settled or inside or [None])[0]


@functools.lru_cache(maxsize=1)
def _polyai_settle_seconds() -> float:
    """``PolyAIProjects.settle_seconds``: how long before now the hold starts when nothing is in progress."""
    import dataclasses

    from source_conversations.source import components

    router = components().PolyAIProjects
    return float(next(f.default for f in dataclasses.fields(router) if f.name == "settle_seconds"))
