"""Warehouse loading end to end: the fake API, the installed console script, PyAirbyte, a DuckDB file.

The same path as the demo (``bash scripts/demo.sh``), through the same code (:mod:`demo.warehouse`):
a first sync of both streams, then new conversations and finished in-progress ones on the fake API,
then an incremental sync. Checked against the fake API's ground truth: row counts, unique ids, what
the second sync read, TIMESTAMP typing of the date-time columns, and text byte for byte.

Needs the ``warehouse`` extra (``pip install '.[tests,warehouse]'``; ``scripts/test.sh`` installs it).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

if importlib.util.find_spec("airbyte") is None:
    pytest.skip(
        "PyAirbyte is not installed: install the warehouse extra, pip install '.[tests,warehouse]' "
        "(bash scripts/test.sh does)",
        allow_module_level=True,
    )

from demo import warehouse  # noqa: E402  (after the skip: the module needs nothing, but reads better here)
from demo.warehouse import POLYAI, STREAMS, VECTARA  # noqa: E402
from test_support import leaks  # noqa: E402

pytestmark = pytest.mark.slow

POLYAI_COUNT = 1200
VECTARA_COUNT = 800
IN_PROGRESS = 6
ADD_POLYAI = 70
ADD_VECTARA = 40
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """PyAirbyte configured as the demo configures it; the process is left as it was found.

    Yields a folder for the DuckDB file (made before TMPDIR moves under .local/).
    """
    db_dir = tmp_path_factory.mktemp("warehouse")
    airbyte_logger = logging.getLogger("airbyte")  # PyAirbyte takes over the CDK's logger name
    saved_logger = (airbyte_logger.level, airbyte_logger.propagate, list(airbyte_logger.handlers))
    saved_tempdir = tempfile.tempdir
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in warehouse.pyairbyte_settings(live_progress=False).items():
            patch.setenv(variable, value)
        warehouse.configure_pyairbyte(live_progress=False)
        yield db_dir
    tempfile.tempdir = saved_tempdir
    for handler in list(airbyte_logger.handlers):
        if handler not in saved_logger[2]:
            airbyte_logger.removeHandler(handler)
            handler.close()
    airbyte_logger.setLevel(saved_logger[0])
    airbyte_logger.propagate = saved_logger[1]


@dataclass
class Run:
    """Everything the scenario did and saw; the tests below only look."""

    server: Any
    cache: Any
    first_truth: Dict[str, int]
    first_loads: Dict[str, warehouse.StreamLoad]
    first_counts: Dict[str, warehouse.TableCounts]
    change: warehouse.DataChange
    second_loads: Dict[str, warehouse.StreamLoad]
    written_by_second: Dict[str, List[str]]
    truth: Dict[str, int]
    counts: Dict[str, warehouse.TableCounts]


@pytest.fixture(scope="module")
def run(warehouse_dir: Path) -> Iterator[Run]:
    server = warehouse.start_fake_server(POLYAI_COUNT, VECTARA_COUNT, IN_PROGRESS)
    cache = None
    try:
        assert server.polyai_ids(in_progress=True), "the scenario needs live conversations in progress"
        source = warehouse.get_source(server.config())
        cache = warehouse.duckdb_cache(warehouse_dir / "conversations.duckdb", fresh=True)
        first_truth = warehouse.ground_truth(server)
        first_loads = warehouse.load_streams(source, cache, STREAMS, heartbeat_seconds=0)
        first_counts = {stream: warehouse.table_counts(cache, stream) for stream in STREAMS}
        before = {stream: warehouse.last_loaded_at(cache, stream) for stream in STREAMS}

        change = warehouse.change_data(server, ADD_POLYAI, ADD_VECTARA)
        second_loads = warehouse.load_streams(source, cache, STREAMS, heartbeat_seconds=0)
        yield Run(
            server=server,
            cache=cache,
            first_truth=first_truth,
            first_loads=first_loads,
            first_counts=first_counts,
            change=change,
            second_loads=second_loads,
            written_by_second={s: warehouse.ids_loaded_after(cache, s, before[s]) for s in STREAMS},
            truth=warehouse.ground_truth(server),
            counts={stream: warehouse.table_counts(cache, stream) for stream in STREAMS},
        )
    finally:
        if cache is not None:
            cache.close()
        server.stop()


def _rows(run: Run, stream: str, columns: str) -> Dict[str, tuple]:
    rows = warehouse.fetch_all(run.cache, f"SELECT id, {columns} FROM {warehouse.table_name(run.cache, stream)}")
    return {row[0]: row[1:] for row in rows}


def _json(value: Any) -> Any:
    """A JSON column's value: SQLAlchemy hands it over parsed, a raw DuckDB cursor as text."""
    return json.loads(value) if isinstance(value, str) else value


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("stream", STREAMS)
def test_first_sync_loads_every_conversation_once(run: Run, stream: str) -> None:
    assert run.first_loads[stream].records_read == run.first_truth[stream]
    assert run.first_counts[stream] == warehouse.TableCounts(run.first_truth[stream], run.first_truth[stream])


@pytest.mark.parametrize("stream", STREAMS)
def test_second_sync_reads_only_the_new_and_finished_conversations(run: Run, stream: str) -> None:
    expected = run.change.expected_reads[stream]
    assert expected > 0
    finished = len(run.change.finished) if stream == POLYAI else 0
    assert run.second_loads[stream].records_read == expected, (
        f"{stream}: the incremental sync read {run.second_loads[stream].records_read} records, expected "
        f"{expected} ({len(run.change.added[stream])} new, {finished} finished)"
    )
    assert sorted(run.written_by_second[stream]) == sorted(run.change.expected_ids(stream))


@pytest.mark.parametrize("stream", STREAMS)
def test_one_row_per_conversation_after_the_second_sync(run: Run, stream: str) -> None:
    assert run.truth[stream] == run.first_truth[stream] + len(run.change.added[stream]) + (
        len(run.change.finished) if stream == POLYAI else 0
    )
    assert run.counts[stream] == warehouse.TableCounts(run.truth[stream], run.truth[stream])


def test_finished_conversations_arrive_complete(run: Run) -> None:
    """A conversation read after it finished has its full transcript, not the in-progress one."""
    truth = {record["id"]: record for record in run.server.polyai_records(in_progress=False)}
    rows = _rows(run, POLYAI, "in_progress, num_turns, turns")
    for conversation_id in run.change.finished:
        in_progress, num_turns, turns = rows[conversation_id]
        assert in_progress is False
        assert num_turns == truth[conversation_id]["num_turns"]
        assert _json(turns) == truth[conversation_id]["turns"]


@pytest.mark.parametrize("stream, column", [(POLYAI, "started_at"), (VECTARA, "created_at")])
def test_date_time_columns_are_timestamps_with_the_right_instants(run: Run, stream: str, column: str) -> None:
    types = warehouse.column_types(run.cache, stream)
    assert types[column] == "TIMESTAMP WITH TIME ZONE", types
    assert types["id"] == "VARCHAR"
    if stream == VECTARA:
        assert "epochsecs" in types and "epochSecs" not in types  # PyAirbyte lower-cases column names
    if stream == POLYAI:
        expected = {r["id"]: _instant(r["started_at"]) for r in run.server.polyai_records(in_progress=False)}
    else:
        expected = {
            r["id"]: datetime.fromtimestamp(int(r["epochSecs"]), tz=timezone.utc) for r in run.server.vectara_records()
        }
    loaded = {row_id: values[0] for row_id, values in _rows(run, stream, column).items()}
    assert loaded.keys() == expected.keys()
    wrong = [row_id for row_id, moment in loaded.items() if moment != expected[row_id]]
    assert not wrong, f"{len(wrong)} {column} values are not the API's instant, e.g. {wrong[0]}: {loaded[wrong[0]]!r}"


def test_transcripts_survive_byte_for_byte(run: Run) -> None:
    """Emoji, accents, right-to-left scripts and CRLF: what DuckDB holds is what the API sent."""
    polyai_truth = {r["id"]: r for r in run.server.polyai_records(in_progress=False)}
    polyai_rows = _rows(run, POLYAI, "turns")
    assert polyai_rows.keys() == polyai_truth.keys()
    for row_id, (turns,) in polyai_rows.items():
        assert _json(turns) == polyai_truth[row_id]["turns"], row_id

    vectara_truth = {r["id"]: r for r in run.server.vectara_records()}
    vectara_rows = _rows(run, VECTARA, "query, answer")
    assert vectara_rows.keys() == vectara_truth.keys()
    for row_id, (query, answer) in vectara_rows.items():
        assert (query, answer) == (vectara_truth[row_id]["query"], vectara_truth[row_id]["answer"]), row_id

    # And one emoji text of each stream, compared as UTF-8 bytes straight from a SQL text column.
    polyai_id, turn_index, text = next(
        (row_id, index, turn["user_input"])
        for row_id, record in polyai_truth.items()
        for index, turn in enumerate(record["turns"])
        if EMOJI.search(turn.get("user_input") or "")
    )
    [(stored,)] = warehouse.fetch_all(
        run.cache,
        f"SELECT json_extract_string(turns, '$[{turn_index}].user_input') "
        f"FROM {warehouse.table_name(run.cache, POLYAI)} WHERE id = :id",
        id=polyai_id,
    )
    assert stored.encode("utf-8") == text.encode("utf-8")
    vectara_id, answer = next((i, r["answer"]) for i, r in vectara_truth.items() if EMOJI.search(r["answer"] or ""))
    assert vectara_rows[vectara_id][1].encode("utf-8") == answer.encode("utf-8")


def test_a_utc_offset_keeps_its_instant(warehouse_dir: Path) -> None:
    """The fake API sends UTC only; real data may carry an offset. Stock PyAirbyte 0.71 loads a
    timestamp_with_timezone column as DuckDB TIMESTAMP, which keeps 10:00 of 10:00+05:30 (the wrong
    instant); the demo's cache declares TIMESTAMP WITH TIME ZONE. Checked with the column type the
    cache's converter gives and the same read_json call PyAirbyte makes."""
    import duckdb

    converter = warehouse.conversations_cache_class()._sql_processor_class.type_converter_class()
    schema = json.loads((warehouse.PROJECT_ROOT / "source_conversations/schemas/polyai_conversations.json").read_text())
    column_type = str(converter.to_sql_type(schema["properties"]["started_at"]))
    assert column_type == "TIMESTAMP WITH TIME ZONE"
    lines = warehouse_dir / "offsets.jsonl"
    lines.write_text('{"started_at": "2026-01-01T10:00:00.500000+05:30"}\n', encoding="utf-8")
    [(loaded,)] = duckdb.sql(
        f"SELECT started_at FROM read_json_auto(['{lines}'], format = 'newline_delimited', "
        f"columns = {{started_at: '{column_type}'}})"
    ).fetchall()
    assert loaded == datetime(2026, 1, 1, 4, 30, 0, 500000, tzinfo=timezone.utc)


def test_pyairbyte_runs_offline_without_telemetry_and_writes_only_under_git_ignored_local(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AIRBYTE_LOGGING_ROOT", "AIRBYTE_CACHE_ROOT", "AIRBYTE_TEMP_DIR", "AIRBYTE_PROJECT_DIR", "AIRBYTE_INSTALL_DIR", "TMPDIR"):
        monkeypatch.delenv(variable, raising=False)  # the defaults, as on a fresh machine
    settings = warehouse.pyairbyte_settings(live_progress=False)
    assert settings["DO_NOT_TRACK"] == "1"
    assert settings["AIRBYTE_OFFLINE_MODE"] == "1"
    folders = {name: Path(value) for name, value in settings.items() if name.endswith(("_ROOT", "_DIR")) or name == "TMPDIR"}
    assert {"AIRBYTE_LOGGING_ROOT", "AIRBYTE_CACHE_ROOT", "AIRBYTE_TEMP_DIR", "TMPDIR"} <= set(folders)
    for name, folder in folders.items():
        assert warehouse.LOCAL_DIR in folder.resolve().parents, f"{name} is outside .local/: {folder}"
    ignored = (warehouse.PROJECT_ROOT / ".gitignore").read_text().split()
    assert ".local/" in ignored


def test_pyairbyte_logs_of_both_syncs_hold_no_secret(run: Run) -> None:
    logs = [path for path in Path(os.environ["AIRBYTE_LOGGING_ROOT"]).rglob("*") if path.is_file()]
    assert logs, "PyAirbyte wrote its logs under AIRBYTE_LOGGING_ROOT"
    for path in logs:
        leaks.record_output(f"PyAirbyte log {path.name}", path.read_text(encoding="utf-8", errors="replace"))
    assert leaks.scan(leaks.take_outputs()) == [], "a credential the fake handed out is in PyAirbyte's logs"


def test_leftover_connector_configs_are_removed_only_from_the_demos_own_temp_folders(tmp_path: Path) -> None:
    inside = warehouse.LOCAL_DIR / "test-temp" / f"run-{os.getpid()}"
    leftover = inside / "tmpab12cd" / "config.json"
    leftover.parent.mkdir(parents=True)
    leftover.write_text('{"api_key": "…"}')
    outside = tmp_path / "user-tmp"
    (outside / "keep.txt").parent.mkdir(parents=True)
    (outside / "keep.txt").write_text("the user's")
    try:
        removed = warehouse.remove_temporary_files({"TMPDIR": str(inside), "AIRBYTE_TEMP_DIR": str(outside)})
        assert removed == 1
        assert not leftover.exists() and inside.is_dir()
        assert (outside / "keep.txt").read_text() == "the user's"
    finally:
        import shutil

        shutil.rmtree(inside.parent, ignore_errors=True)
