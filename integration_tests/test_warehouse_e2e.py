"""Warehouse loading end to end: the fake API, the installed console script, PyAirbyte, a DuckDB file.

The demo's own run (``demo.__main__.run_fake``, the code ``bash scripts/demo.sh`` runs, on
:mod:`demo.warehouse`), once with the default config (PolyAI v3 with three projects, Vectara v2 with
chats, chat turns and the Agents streams) and once with the v1 APIs: a first sync of every stream,
a whole conversation of each vendor printed, then new conversations in every project, the in-progress
ones finished, turns appended to an old chat, events to an old session, new chats and sessions, and an
incremental sync. Checked against the fake API's ground truth: exact keys and
``count(*)``/``count(DISTINCT <primary key>)`` per stream, every new, finished and appended record
arriving, TIMESTAMP typing, text byte for byte, no secret in PyAirbyte's logs, and every file under the
git-ignored ``.local/``.

Needs the ``warehouse`` extra (``pip install '.[tests,warehouse]'``; ``scripts/test.sh`` installs it).
Importing PyAirbyte takes about 10 s, each run about 15 s more.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping

import pytest

if importlib.util.find_spec("airbyte") is None:
    pytest.skip(
        "PyAirbyte is not installed: install the warehouse extra, pip install '.[tests,warehouse]' "
        "(bash scripts/test.sh does)",
        allow_module_level=True,
    )

from demo import __main__ as demo_cli  # noqa: E402
from demo import warehouse  # noqa: E402
from demo.warehouse import (  # noqa: E402
    CHAT_TURNS,
    CHATS,
    EVENTS,
    POLYAI,
    SESSIONS,
    V1_CONVERSATIONS,
    V1_TURNS,
    FakeScenario,
    FakeSizes,
)
from source_conversations import registry  # noqa: E402
from test_support import leaks  # noqa: E402

pytestmark = pytest.mark.slow

# Small enough to be quick, big enough for several pages, projects, agents and in-progress conversations.
SIZES = FakeSizes(
    projects=3,
    polyai=600,
    in_progress=3,
    vectara=150,
    agents=2,
    sessions=6,
    events=8,
    add_polyai=12,
    add_vectara=15,
    append_turns=2,
    add_sessions=1,
    append_events=3,
)
V1_SIZES = FakeSizes(projects=2, polyai=300, in_progress=2, vectara=120, add_polyai=8, add_vectara=10, append_turns=2)
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf]")
PYAIRBYTE_FOLDERS = (
    "AIRBYTE_LOGGING_ROOT",
    "AIRBYTE_CACHE_ROOT",
    "AIRBYTE_TEMP_DIR",
    "AIRBYTE_PROJECT_DIR",
    "AIRBYTE_INSTALL_DIR",
)


@dataclass
class Workspace:
    """This test run's own folder under ``.local/`` (the DuckDB files and PyAirbyte's folders)."""

    root: Path
    settings: Dict[str, str]
    dot_cache_existed: bool


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """PyAirbyte configured as the demo configures it, in a folder of its own under ``.local/`` (so a
    demo running at the same time shares nothing with it); the process is left as it was found.

    The environment (``TMPDIR`` included) is what the connector runs inherit; this process's own temporary
    folder, and pytest's ``tmp_path`` under it, stay where they were."""
    tmp_path_factory.getbasetemp()  # fixed before TMPDIR changes, so no test's tmp_path lands in this run's folder
    root = warehouse.LOCAL_DIR / "test-warehouse" / f"run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    airbyte_logger = logging.getLogger("airbyte")  # PyAirbyte takes over the CDK's logger name
    saved_logger = (airbyte_logger.level, airbyte_logger.propagate, list(airbyte_logger.handlers))
    saved_tempdir = tempfile.gettempdir()
    dot_cache_existed = (Path.cwd() / ".cache").exists()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for variable in (*PYAIRBYTE_FOLDERS, "TMPDIR", "NO_LIVE_PROGRESS", "DO_NOT_TRACK", "AIRBYTE_OFFLINE_MODE"):
                patch.delenv(variable, raising=False)  # the defaults, as on a fresh machine
            settings = warehouse.pyairbyte_settings(root / "pyairbyte", live_progress=False)
            for variable, value in settings.items():
                patch.setenv(variable, value)  # restored on the way out
            warehouse.configure_pyairbyte(root / "pyairbyte", live_progress=False)
            tempfile.tempdir = saved_tempdir
            yield Workspace(root, settings, dot_cache_existed)
    finally:
        tempfile.tempdir = saved_tempdir
        for handler in list(airbyte_logger.handlers):
            if handler not in saved_logger[2]:
                airbyte_logger.removeHandler(handler)
                handler.close()
        airbyte_logger.setLevel(saved_logger[0])
        airbyte_logger.propagate = saved_logger[1]
        shutil.rmtree(root, ignore_errors=True)
        try:
            root.parent.rmdir()  # unless another run is using it
        except OSError:
            pass


@dataclass
class Outcome:
    """One demo run on the fake API; the tests below only look."""

    scenario: FakeScenario
    cache: Any
    run: demo_cli.FakeRun
    report: demo_cli.Report
    output: List[str]
    db_path: Path
    files_with_secrets: List[str]
    """Files of this run's folder holding a credential once the run is over (the demo cleaned up)."""


@pytest.fixture(
    scope="module",
    params=[(None, None), ("v1", "v1")],
    ids=["default-polyai-v3-vectara-v2", "polyai-v1-vectara-v1"],
)
def outcome(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[Outcome]:
    polyai_version, vectara_version = request.param
    scenario = FakeScenario(SIZES if polyai_version is None else V1_SIZES, polyai_version, vectara_version)
    output: List[str] = []
    report = demo_cli.Report(steps=8, out=output.append)
    db_path = workspace.root / f"{scenario.polyai_version}-{scenario.vectara_version}.duckdb"
    cache = None
    try:
        source = warehouse.get_source(scenario.config)
        cache = warehouse.duckdb_cache(db_path, fresh=True)
        try:
            run = demo_cli.run_fake(report, scenario, source, cache, scenario.streams)
        finally:  # what the demo printed goes through the suite's secret scan too
            leaks.record_output(f"demo output {scenario.polyai_version}/{scenario.vectara_version}", "\n".join(output))
        warehouse.remove_temporary_files(workspace.settings)  # as the demo does when it ends
        cache.close()  # DuckDB writes everything out
        yield Outcome(scenario, cache, run, report, output, db_path, _files_with_secrets(workspace.root))
    finally:
        if cache is not None:
            cache.close()
        scenario.stop()
        warehouse.remove_temporary_files(workspace.settings)


def _files_with_secrets(root: Path) -> List[str]:
    """Every file under ``root`` (DuckDB files, PyAirbyte's logs, caches and temporary folders) that holds a
    credential the fake API handed out."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and leaks.find_leaks([(str(path), path.read_bytes().decode("utf-8", errors="replace"))]):
            found.append(str(path.relative_to(root)))
    return found


def _rows(outcome: Outcome, stream: str, columns: str) -> Dict[str, tuple]:
    cache = outcome.cache
    sql = f"SELECT {warehouse.key_sql(cache, stream)}, {columns} FROM {warehouse.table_name(cache, stream)}"
    return {row[0]: row[1:] for row in warehouse.fetch_all(cache, sql)}


def _json(value: Any) -> Any:
    """A JSON column's value: SQLAlchemy hands it over parsed, a raw DuckDB cursor as text."""
    return json.loads(value) if isinstance(value, str) else value


def _instant(value: Any) -> datetime:
    return datetime.fromtimestamp(warehouse.seconds_of(value), tz=timezone.utc)


def _cursor_seconds(stream: str, record: Mapping[str, Any]) -> float:
    return warehouse.seconds_of(record[registry.stream(stream).cursor_field])


def _partition(stream: str, key: str) -> str:
    """The state partition a record belongs to: the first field of a composite primary key (a PolyAI
    conversation's project, a session's agent); one partition for the others (their state is global)."""
    return key.split("/", 1)[0] if len(registry.stream(stream).primary_key) > 1 else ""


# ------------------------------------------------------------------------------------------------
# The run and its configuration
# ------------------------------------------------------------------------------------------------


def test_default_run_syncs_polyai_v3_projects_and_vectara_v2_with_the_agents_streams(outcome: Outcome) -> None:
    scenario = outcome.scenario
    if scenario.polyai_version == "v1":
        assert set(scenario.streams) == {POLYAI, V1_CONVERSATIONS, V1_TURNS}
        assert scenario.config["polyai"]["api_version"] == "v1" and scenario.config["vectara"]["api_version"] == "v1"
        return
    assert (scenario.polyai_version, scenario.vectara_version) == (
        registry.DEFAULT_VERSIONS["polyai"],
        registry.DEFAULT_VERSIONS["vectara"],
    )
    assert set(scenario.streams) == {POLYAI, CHATS, CHAT_TURNS, SESSIONS, EVENTS}
    assert scenario.config["polyai"]["project_ids"] == scenario.server.polyai_project_ids
    assert len(scenario.config["polyai"]["project_ids"]) == SIZES.projects


def test_every_check_the_demo_prints_passes(outcome: Outcome) -> None:
    assert outcome.report.failures == [], "\n".join(outcome.output)
    assert outcome.report.passed >= 3 * len(outcome.run.streams)


# ------------------------------------------------------------------------------------------------
# First sync
# ------------------------------------------------------------------------------------------------


def test_first_sync_loads_exactly_the_fake_apis_records_once_per_stream(outcome: Outcome) -> None:
    first, truth = outcome.run.first, outcome.run.first_truth
    wrong = {}
    for stream in outcome.run.streams:
        expected = set(truth[stream])
        figures = (
            first.read[stream],
            first.counts[stream].rows,
            first.counts[stream].distinct_keys,
            first.keys[stream],
        )
        if figures != (len(expected), len(expected), len(expected), expected):
            wrong[stream] = (figures[:3], len(expected), sorted(expected ^ first.keys[stream])[:3])
    assert not wrong, f"(read, rows, distinct), expected, differing keys: {wrong}"
    assert all(truth[stream] for stream in outcome.run.streams), "every stream has data to load"


def test_first_sync_leaves_conversations_in_progress_for_later(outcome: Outcome) -> None:
    held = {key for keys in outcome.run.change.polyai_finished.values() for key in keys}
    assert held, "the scenario has live conversations in progress"
    assert not held & outcome.run.first.keys[POLYAI]
    in_progress_rows = warehouse.fetch_all(
        outcome.cache, f'SELECT count(*) FROM {warehouse.table_name(outcome.cache, POLYAI)} WHERE "in_progress"'
    )
    assert in_progress_rows == [(0,)]


# ------------------------------------------------------------------------------------------------
# Second sync
# ------------------------------------------------------------------------------------------------


def test_second_sync_brings_every_new_and_finished_conversation_of_each_project(outcome: Outcome) -> None:
    change, first, second = outcome.run.change, outcome.run.first, outcome.run.second
    projects = outcome.scenario.config["polyai"]["project_ids"]
    assert sorted(change.polyai_added) == sorted(projects)
    arrived = {
        project: {key for key in second.written[POLYAI] - first.keys[POLYAI] if key.startswith(project + "/")}
        for project in projects
    }
    expected = {
        project: set(change.polyai_added[project]) | set(change.polyai_finished[project]) for project in projects
    }
    assert arrived == expected
    assert all(len(change.polyai_added[project]) == outcome.scenario.sizes.add_polyai for project in projects)
    assert sum(len(finished) for finished in change.polyai_finished.values()) > 0


def test_finished_conversations_arrive_with_their_final_transcript(outcome: Outcome) -> None:
    finished = [key for keys in outcome.run.change.polyai_finished.values() for key in keys]
    truth = outcome.run.second_truth[POLYAI]
    rows = _rows(outcome, POLYAI, '"in_progress", "num_turns", "turns"')
    for key in finished:
        in_progress, num_turns, turns = rows[key]
        assert (in_progress, num_turns, _json(turns)) == (False, truth[key]["num_turns"], truth[key]["turns"]), key


def test_second_sync_brings_the_turns_appended_to_an_old_chat(outcome: Outcome) -> None:
    change, second = outcome.run.change, outcome.run.second
    lookback_days = warehouse.setting(outcome.scenario.config, "turns_lookback_days", "vectara")
    created = warehouse.seconds_of(change.old_conversation_created.replace(" ", "T"))
    assert change.old_conversation not in change.conversations_added
    assert second.began - lookback_days * 86400 < created < second.began - 3600, "old, but inside the lookback"
    assert len(change.turns_appended) == outcome.scenario.sizes.append_turns
    assert set(change.turns_appended) <= second.written[change.turns_stream]
    # The chat in the table is the chat on the API: every turn, in order, the appended ones last.
    transcript = warehouse.chat_transcript(outcome.cache, outcome.run.streams, change.old_conversation)
    api_turns = _conversation_turns(outcome, change.old_conversation)
    assert transcript.turn_keys == [turn["id"] for turn in api_turns]
    assert transcript.turn_keys[-len(change.turns_appended) :] == change.turns_appended
    assert transcript.lines == warehouse.chat_turn_lines(api_turns)


def test_second_sync_brings_new_sessions_and_the_events_appended_to_an_old_session(outcome: Outcome) -> None:
    if SESSIONS not in outcome.run.streams:
        pytest.skip("the Agents streams are Vectara v2 only")
    change, second = outcome.run.change, outcome.run.second
    sizes = outcome.scenario.sizes
    agents = outcome.scenario.server.vectara_agent_keys()
    assert len(change.sessions_added) == sizes.add_sessions * len(agents)
    assert set(change.sessions_added) <= second.written[SESSIONS] - outcome.run.first.keys[SESSIONS]
    assert len(change.events_of_new_sessions) == sizes.append_events * len(change.sessions_added)
    assert len(change.events_appended) == sizes.append_events
    assert change.old_session in outcome.run.first.keys[SESSIONS]
    assert set(change.events_of_new_sessions) | set(change.events_appended) <= second.written[EVENTS]
    agent, session = change.old_session.split("/")
    in_table = _rows(outcome, EVENTS, '"session_key", "agent_key"')
    api_ids = outcome.scenario.server.vectara_event_ids(agent, session)
    assert sorted(key for key, (key_of_session, _) in in_table.items() if key_of_session == session) == sorted(api_ids)
    assert {in_table[event][1] for event in change.events_appended} == {agent}, "the connector adds agent_key"


def test_second_sync_writes_only_new_rows_and_rows_read_again_at_the_saved_states_edge(outcome: Outcome) -> None:
    """At-least-once: what an incremental sync sends besides the new records is already loaded, and was
    made at most the previous sync's duration before the newest loaded record of its state partition."""
    first, second, truth = outcome.run.first, outcome.run.second, outcome.run.second_truth
    for stream in outcome.run.streams:
        new = set(truth[stream]) - first.keys[stream]
        again = second.written[stream] - new
        assert again <= first.keys[stream], f"{stream}: rows that are neither new nor loaded before"
        assert second.read[stream] >= len(second.written[stream])
        newest: Dict[str, float] = {}
        for key in first.keys[stream]:
            part = _partition(stream, key)
            newest[part] = max(newest.get(part, 0.0), _cursor_seconds(stream, truth[stream][key]))
        far = [
            key
            for key in again
            if _cursor_seconds(stream, truth[stream][key]) < newest[_partition(stream, key)] - first.seconds - 1
        ]
        assert not far, f"{stream}: read again though far from the saved state: {far[:3]}"


def test_tables_hold_one_row_per_primary_key_as_the_fake_api_after_the_second_sync(outcome: Outcome) -> None:
    truth = outcome.run.second_truth
    wrong = {}
    for stream in outcome.run.streams:
        counts = warehouse.table_counts(outcome.cache, stream)  # SELECT count(*), count(DISTINCT <primary key>)
        keys = set(warehouse.table_keys(outcome.cache, stream))
        if (counts.rows, counts.distinct_keys, keys) != (len(truth[stream]), len(truth[stream]), set(truth[stream])):
            wrong[stream] = (counts, len(truth[stream]), sorted(keys ^ set(truth[stream]))[:3])
    assert not wrong
    first = outcome.run.first_truth
    assert all(len(truth[stream]) > len(first[stream]) for stream in outcome.run.streams), "every stream grew"


# ------------------------------------------------------------------------------------------------
# What the demo prints
# ------------------------------------------------------------------------------------------------


def _conversation_turns(outcome: Outcome, conversation: str) -> List[Dict[str, Any]]:
    server = outcome.scenario.server
    if CHATS in outcome.run.streams:
        return server.vectara_chat_turns(conversation)
    return server.vectara_conversation(conversation)["turn"]


def _printed_in_order(output: List[str], lines: List[str]) -> bool:
    text = [line.strip() for line in output]
    wanted = [line.strip() for line in lines]
    for start in range(len(text) - len(wanted) + 1):
        if text[start : start + len(wanted)] == wanted:
            return True
    return False


def test_the_demo_prints_a_whole_vectara_chat_with_every_turn_in_order(outcome: Outcome) -> None:
    chat = outcome.run.samples["chat"]
    api_turns = _conversation_turns(outcome, chat.key)
    assert len(api_turns) >= 3
    assert chat.turn_keys == [turn["id"] for turn in api_turns]
    assert chat.lines == warehouse.chat_turn_lines(api_turns)
    assert _printed_in_order(outcome.output, chat.render())


def test_the_demo_prints_a_polyai_conversations_whole_transcript(outcome: Outcome) -> None:
    sample = outcome.run.samples["polyai"]
    record = outcome.run.first_truth[POLYAI][sample.key]
    assert record["in_progress"] is False
    assert sample.lines == warehouse.polyai_turn_lines(record["turns"])
    assert [speaker for speaker, _ in sample.lines].count("caller") >= 1
    assert _printed_in_order(outcome.output, sample.render())


def test_the_demo_prints_the_old_chat_again_with_its_appended_turns_marked(outcome: Outcome) -> None:
    appended = outcome.run.appended
    marked = [line for line in appended.render(marked=outcome.run.change.turns_appended) if line.endswith("(new)")]
    assert len(marked) == 2 * len(outcome.run.change.turns_appended)  # a question and an answer each
    assert _printed_in_order(outcome.output, appended.render(marked=outcome.run.change.turns_appended))


def test_the_demo_prints_the_figures_of_each_sync(outcome: Outcome) -> None:
    text = "\n".join(outcome.output)
    for stream in outcome.run.streams:
        counts = outcome.run.second.counts[stream]
        assert f"{stream}: count(*) {counts.rows:,}, count(DISTINCT" in text
        assert f"{stream}: {len(outcome.run.second_truth[stream]) - len(outcome.run.first.keys[stream]):,} new" in text
    for project, added in outcome.run.change.polyai_added.items():
        assert (
            f"{POLYAI} {project}: {len(added)} new + {len(outcome.run.change.polyai_finished[project])} finished"
            in text
        )


# ------------------------------------------------------------------------------------------------
# Types and texts
# ------------------------------------------------------------------------------------------------


def test_date_time_columns_are_timestamps_with_the_apis_instants(outcome: Outcome) -> None:
    for stream in outcome.run.streams:
        column = warehouse.time_column(stream)
        types = warehouse.column_types(outcome.cache, stream)
        assert types[column] == "TIMESTAMP WITH TIME ZONE", (stream, types)
        expected = {
            key: _instant(record[registry.stream(stream).cursor_field])
            for key, record in outcome.run.second_truth[stream].items()
        }
        loaded = {key: values[0] for key, values in _rows(outcome, stream, f'"{column}"').items()}
        wrong = [key for key, moment in loaded.items() if moment != expected[key]]
        assert not wrong, (
            f"{stream}: {len(wrong)} {column} values are not the API's instant, e.g. {wrong[0]}: {loaded[wrong[0]]!r}"
        )
    if V1_CONVERSATIONS in outcome.run.streams:
        types = warehouse.column_types(outcome.cache, V1_CONVERSATIONS)
        assert "epochsecs" in types and "epochSecs" not in types  # PyAirbyte lower-cases column names


def test_transcripts_survive_byte_for_byte(outcome: Outcome) -> None:
    """Emoji, accents, right-to-left scripts and CRLF: what DuckDB holds is what the API sent."""
    polyai_truth = outcome.run.second_truth[POLYAI]
    polyai_rows = _rows(outcome, POLYAI, '"turns"')
    assert polyai_rows.keys() == polyai_truth.keys()
    assert [key for key, (turns,) in polyai_rows.items() if _json(turns) != polyai_truth[key]["turns"]] == []

    turns_stream = CHAT_TURNS if CHAT_TURNS in outcome.run.streams else V1_TURNS
    turn_truth = outcome.run.second_truth[turns_stream]
    turn_rows = _rows(outcome, turns_stream, '"query", "answer"')
    assert turn_rows.keys() == turn_truth.keys()
    assert [key for key, row in turn_rows.items() if row != (turn_truth[key]["query"], turn_truth[key]["answer"])] == []

    # One emoji answer compared as UTF-8 bytes straight from a SQL text column.
    key, answer = next((k, r["answer"]) for k, r in turn_truth.items() if EMOJI.search(r["answer"] or ""))
    [(stored,)] = warehouse.fetch_all(
        outcome.cache,
        f'SELECT "answer" FROM {warehouse.table_name(outcome.cache, turns_stream)} WHERE "id" = :id',
        id=key,
    )
    assert stored.encode("utf-8") == answer.encode("utf-8")


def test_a_utc_offset_keeps_its_instant(workspace: Workspace) -> None:
    """The fake API sends UTC only; real data may carry an offset. Stock PyAirbyte 0.71 loads a
    timestamp_with_timezone column as DuckDB TIMESTAMP, which keeps 10:00 of 10:00+05:30 (the wrong
    instant); the demo's cache declares TIMESTAMP WITH TIME ZONE. Checked with the column type the
    cache's converter gives and the same read_json call PyAirbyte makes."""
    import duckdb

    from source_conversations.source import manifest

    converter = warehouse.conversations_cache_class()._sql_processor_class.type_converter_class()
    schema = manifest()["definitions"]["schemas"]["polyai_conversation"]
    column_type = str(converter.to_sql_type(schema["properties"]["started_at"]))
    assert column_type == "TIMESTAMP WITH TIME ZONE"
    lines = workspace.root / "offsets.jsonl"
    lines.write_text('{"started_at": "2026-01-01T10:00:00.500000+05:30"}\n', encoding="utf-8")
    [(loaded,)] = duckdb.sql(
        f"SELECT started_at FROM read_json_auto(['{lines}'], format = 'newline_delimited', "
        f"columns = {{started_at: '{column_type}'}})"
    ).fetchall()
    assert loaded == datetime(2026, 1, 1, 4, 30, 0, 500000, tzinfo=timezone.utc)


# ------------------------------------------------------------------------------------------------
# Offline, no secret, nothing outside .local/
# ------------------------------------------------------------------------------------------------


def test_pyairbyte_runs_offline_without_telemetry_and_writes_only_under_git_ignored_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in (*PYAIRBYTE_FOLDERS, "TMPDIR"):
        monkeypatch.delenv(variable, raising=False)  # the defaults, as on a fresh machine
    settings = warehouse.pyairbyte_settings(live_progress=False)
    assert settings["DO_NOT_TRACK"] == "1"
    assert settings["AIRBYTE_OFFLINE_MODE"] == "1"
    folders = {name: Path(settings[name]) for name in (*PYAIRBYTE_FOLDERS, "TMPDIR")}
    for name, folder in folders.items():
        assert warehouse.LOCAL_DIR in folder.resolve().parents, f"{name} is outside .local/: {folder}"
    ignored = (warehouse.PROJECT_ROOT / ".gitignore").read_text().split()
    assert ".local/" in ignored


def test_everything_the_run_wrote_is_under_local(outcome: Outcome, workspace: Workspace) -> None:
    import airbyte.constants
    import airbyte.logs

    local = warehouse.LOCAL_DIR.resolve()
    assert local in outcome.db_path.resolve().parents and outcome.db_path.exists()
    assert airbyte.constants.AIRBYTE_OFFLINE_MODE is True
    used = {
        "logs": airbyte.logs.AIRBYTE_LOGGING_ROOT,
        "cache": airbyte.constants.DEFAULT_CACHE_ROOT,
        "temp": airbyte.constants.TEMP_DIR_OVERRIDE,
        "project": airbyte.constants.DEFAULT_PROJECT_DIR,
        "install": airbyte.constants.DEFAULT_INSTALL_DIR,
        "TMPDIR of the connector runs": Path(os.environ["TMPDIR"]),
        "batch files": Path(outcome.cache.cache_dir),
    }
    outside = {
        name: str(path) for name, path in used.items() if workspace.root.resolve() not in Path(path).resolve().parents
    }
    assert not outside, f"PyAirbyte writes outside this run's folder under .local/: {outside}"
    assert any(Path(used["logs"]).rglob("*.log")), "PyAirbyte wrote its logs under .local/"
    assert (Path.cwd() / ".cache").exists() == workspace.dot_cache_existed, "PyAirbyte made ./.cache"
    assert outcome.files_with_secrets == [], "a file the run left under .local/ holds a credential"


def test_pyairbyte_logs_of_both_syncs_hold_no_secret(outcome: Outcome) -> None:
    import airbyte.logs

    logs = [path for path in Path(airbyte.logs.AIRBYTE_LOGGING_ROOT).rglob("*") if path.is_file()]
    assert any("source-conversations" in str(path) for path in logs), "the connector's own log is there too"
    outputs = [(f"PyAirbyte log {path.name}", path.read_text(encoding="utf-8", errors="replace")) for path in logs]
    assert sum(len(text) for _, text in outputs) > 0
    assert leaks.scan(outputs) == [], "a credential the fake API handed out is in PyAirbyte's logs"


def test_leftover_connector_configs_are_removed_only_from_the_demos_own_temp_folders(tmp_path: Path) -> None:
    inside = warehouse.LOCAL_DIR / "test-temp" / f"run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
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
        shutil.rmtree(inside, ignore_errors=True)
        try:
            inside.parent.rmdir()  # unless another run is using it
        except OSError:
            pass
