"""The Connector Builder backend runs the same manifest and components.py, where the package cannot be
imported: `resolve_manifest` resolves it, and `test_read` shows records of every stream, each one the fake
API serves (the Builder reads only a few slices and pages, so not all of them)."""

import time

import pytest

from fake_api import FakeApiServer
from source_conversations import registry
from test_support.configs import connector_config, utc
from test_support.harness import configured_catalog, run_builder
from test_support.truth import expected_ids

DATA_END = int(time.time()) - 600


@pytest.fixture(scope="module")
def server():
    with FakeApiServer(
        polyai_projects={"PROJECT-alpha": 60, "PROJECT-beta": 30},
        vectara_count=40,
        vectara_sessions_per_agent=3,
        vectara_events_per_session=4,
        polyai_end=DATA_END,
        vectara_end=DATA_END,
    ) as fake:
        yield fake


def test_given_the_manifest_when_resolved_by_the_builder_then_every_stream_and_the_spec_come_back(server, tmp_path):
    run = run_builder("resolve_manifest", tmp_path, connector_config(server))
    assert run.returncode == 0, run.output[-2000:]
    resolved = run.of_type("RECORD")[0]["record"]["data"]["manifest"]
    names = [stream["name"] for group in resolved["streams"] for stream in group.get("streams", [group])]
    assert sorted(names) == sorted(registry.STREAMS)
    assert resolved["spec"]["connection_specification"]["properties"]["polyai"]["properties"]["project_ids"]


@pytest.mark.parametrize("versions", [("v3", "v2"), ("v1", "v1")], ids=["v3-v2", "v1-v1"])
def test_given_a_recent_start_date_when_test_read_then_every_stream_shows_records(server, tmp_path, versions):
    # The Builder reads only the first few slices and pages: a start date just before the data puts
    # records in the first window of each PolyAI project.
    config = connector_config(
        server, start_date=utc(DATA_END - 6 * 3600), polyai_version=versions[0], vectara_version=versions[1]
    )
    config["polyai"]["window_days"] = 1
    served = expected_ids(server, registry.streams_for(config))
    for stream in registry.streams_for(config):
        run = run_builder(
            "test_read",
            tmp_path / stream,
            config,
            configured_catalog([stream]),
            test_read_limits={"max_records": 100, "max_pages_per_slice": 2, "max_slices": 3},
        )
        assert run.returncode == 0, run.output[-2000:]
        result = run.of_type("RECORD")[0]["record"]["data"]
        records = [record for slice_ in result["slices"] for page in slice_["pages"] for record in page["records"]]
        errors = [log["message"] for log in result["logs"] if log.get("level") == "ERROR"]
        assert records, f"{stream}: no records; logs: {errors}"
        assert not errors, f"{stream}: {errors}"
        keys = registry.stream(stream).primary_key
        ids = {"/".join(str(record.get(key)) for key in keys) for record in records}
        assert ids <= set(served[stream]), (
            f"{stream}: records the API does not serve: {sorted(ids - set(served[stream]))[:3]}"
        )
