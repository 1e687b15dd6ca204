"""The house rules: components.py stands alone, facts are written once, the manifest is layered, every
private CDK member in use is listed (and still there), and the docs agree with the code."""

import ast
import importlib
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest
import yaml

from source_conversations import cdk_private, registry
from source_conversations.source import COMPONENTS_PATH, MANIFEST_PATH, manifest
from test_support.inprocess import components, discover_streams

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = manifest()
SPEC = MANIFEST["spec"]["connection_specification"]
README = (ROOT / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# components.py stands alone
# --------------------------------------------------------------------------------------------------


def imported_modules(path: Path) -> set:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or "").split(".")[0])
    return names


def test_components_import_only_the_cdk_its_dependencies_and_the_standard_library():
    allowed_third_party = {"airbyte_cdk", "orjson", "requests", "urllib3"}
    for name in imported_modules(COMPONENTS_PATH):
        assert not name.startswith("."), "a relative import cannot work in the manifest runner"
        assert name != "source_conversations"
        assert name in allowed_third_party or name in __import__("sys").stdlib_module_names, name


def test_components_do_not_postpone_annotations():
    # The manifest runner executes the text before registering the module; @dataclass then cannot
    # resolve postponed annotations ('NoneType' object has no attribute '__dict__').
    tree = ast.parse(COMPONENTS_PATH.read_text(encoding="utf-8"))
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "__future__"]


def test_every_class_name_of_the_manifest_resolves_in_the_registered_components_module():
    names = re.findall(r"class_name: (\S+?)[,}\s]", MANIFEST_PATH.read_text(encoding="utf-8"))
    assert names
    for name in names:
        module, _, attribute = name.rpartition(".")
        assert module == "source_declarative_manifest.components", name
        assert hasattr(components(), attribute), name


def test_every_component_class_says_why_yaml_cannot_do_its_job():
    used = {
        name.rpartition(".")[2]
        for name in re.findall(r"class_name: (\S+?)[,}\s]", MANIFEST_PATH.read_text(encoding="utf-8"))
    }
    for name in used:
        doc = getattr(components(), name).__doc__ or ""
        assert "Why" in doc, f"{name}'s docstring does not say why a stock component cannot do it"


# --------------------------------------------------------------------------------------------------
# Facts once; a layered manifest
# --------------------------------------------------------------------------------------------------


def test_the_registry_is_what_discover_lists():
    config = {
        "polyai": {"api_key": "house-rules-key-1f8e2d7c", "account_id": "a", "project_ids": ["p"]},
        "vectara": {"credentials": {"auth_type": "api_key", "api_key": "house-rules-key-6a0b3e9d"}},
    }
    assert tuple(discover_streams(config)) == registry.streams_for(config)
    config["vectara"].update(api_version="v1", customer_id="1")
    assert (
        tuple(discover_streams(config))
        == registry.streams_for(config)
        == ("polyai_conversations", "vectara_conversations", "vectara_turns")
    )


def stream_definitions() -> Iterator[Mapping[str, Any]]:
    for group in MANIFEST["streams"]:
        for entry in group["streams"]:
            yield MANIFEST["definitions"][entry["$ref"].rsplit("/", 1)[1]]


def test_each_stream_is_a_few_lines_over_shared_definitions_with_a_vendor_doc_link():
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    for name in registry.STREAMS:
        block = text.split(f"\n  {name}:\n", 1)[1].split("\n\n", 1)[0]
        assert len(block.splitlines()) <= 12, f"{name} is {len(block.splitlines())} lines"
    for stream in stream_definitions():
        assert stream["$ref"] == "#/definitions/base_stream"
        assert re.search(r"https://docs\.(poly\.ai|vectara\.com)/", stream["description"]), stream["name"]


def test_each_spec_default_is_written_once_in_the_spec_and_at_most_once_in_the_manifest():
    text = MANIFEST_PATH.read_text(encoding="utf-8")
    templates = text.split("\nspec:\n", 1)[0]
    for key, schema in spec_fields(SPEC):
        if "default" not in schema or isinstance(schema["default"], bool):
            continue
        default = str(schema["default"])
        # a default repeated as a fallback in Jinja: `or 'us-1'`, `or 8`
        repeats = len(re.findall(rf"or '?{re.escape(default)}'?\b", templates))
        assert repeats <= 1, f"{key}'s default {default} is written {repeats} times in the manifest"


# --------------------------------------------------------------------------------------------------
# Private CDK members, in one place
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use", cdk_private.PRIVATE_USES, ids=lambda use: use.attribute)
def test_every_private_cdk_member_the_project_touches_still_exists(use):
    target: Any = importlib.import_module(use.module)
    for part in use.attribute.split("."):
        target = getattr(target, part)
    assert target is not None


def test_no_module_of_the_connector_reaches_into_another_objects_private_members():
    # `cdk_private.PRIVATE_USES` names what the package touches beyond the CDK's public API; nothing else
    # may reach into a private member (`obj._name`) of an object that is not its own.
    private_access = re.compile(r"\b(?!self\b|cls\b)[A-Za-z_]\w*\._(?!_)\w+")
    for path in (ROOT / "source_conversations").glob("*.py"):
        found = private_access.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.name}: {found}"


def test_the_private_cdk_members_in_use_are_each_used_where_the_list_says():
    for use in cdk_private.PRIVATE_USES:
        module, _, function = use.used_by.rpartition(".")
        text = (ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        assert use.attribute.split(".")[-1] in text or use.attribute.split(".")[0] in text, use


def test_the_cdks_date_time_cursor_reads_a_cursor_text_without_strptime(monkeypatch):
    """`cdk_private.BEHAVIOURS`: the concurrent cursor, built as the manifest's date-time cursors build it,
    reads a record's `CursorText` with no strptime call, to the same instant strptime gives the text."""
    import _strptime

    from airbyte_cdk.sources.streams.concurrent.state_converters.datetime_stream_state_converter import (
        CustomFormatConcurrentStreamStateConverter,
    )

    formats = list(MANIFEST["definitions"]["date_time_formats"])
    converter = CustomFormatConcurrentStreamStateConverter("%Y-%m-%dT%H:%M:%S.%f%z", formats)
    text = "2026-01-01T05:30:00.123456+05:30"
    by_strptime = converter.parse_value(text)

    def no_strptime(*args: Any) -> None:
        raise AssertionError(f"strptime called with {args}")

    monkeypatch.setattr(_strptime, "_strptime_datetime", no_strptime)
    assert converter.parse_value(components().CursorText(text)) == by_strptime
    with pytest.raises(AssertionError, match="strptime called"):
        converter.parse_value(text)  # a plain text (a saved state) still goes to strptime


@pytest.mark.parametrize("behaviour", cdk_private.BEHAVIOURS, ids=lambda behaviour: behaviour.test.split("::")[-1])
def test_each_cdk_behaviour_the_components_count_on_names_a_test_that_exists(behaviour):
    path, _, name = behaviour.test.partition("::")
    assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------------------
# Docs agree with the code
# --------------------------------------------------------------------------------------------------


def spec_fields(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple]:
    for name, field in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        yield key, field
        yield from spec_fields(field, f"{key}.")
        for branch in field.get("oneOf", []):
            yield from spec_fields(branch, f"{key}.")


def readme_table_keys(section: str) -> list:
    body = README.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_.]+)` \|", body, flags=re.MULTILINE)


def test_the_readme_settings_table_lists_exactly_the_spec_fields():
    keys = readme_table_keys("Settings")
    assert len(keys) == len(set(keys)), "a setting is listed twice"
    assert set(keys) == {key for key, _ in spec_fields(SPEC)}


def test_the_readme_settings_table_gives_each_spec_default():
    body = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    for key, field in spec_fields(SPEC):
        if "default" in field:
            row = re.search(rf"^\| `{re.escape(key)}` \|[^|]*\|([^|]*)\|", body, flags=re.MULTILINE)
            assert row and str(field["default"]).lower() in row.group(1).lower(), key


def test_the_readme_streams_table_lists_exactly_the_streams_with_their_keys_and_cursors():
    body = README.split("## Streams", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z_]+)` \|.*$", body, flags=re.MULTILINE)}
    assert set(rows) == set(registry.STREAMS)
    for name, info in registry.STREAMS.items():
        assert f"`{info.cursor_field}`" in rows[name], name
        assert all(f"`{key}`" in rows[name] for key in info.primary_key), name


def test_every_secret_in_the_spec_is_marked_airbyte_secret():
    secrets = [field for key, field in spec_fields(SPEC) if key.rsplit(".", 1)[-1] in ("api_key", "client_secret")]
    assert len(secrets) == 3 and all(field.get("airbyte_secret") is True for field in secrets)


def test_versions_agree_across_setup_metadata_changelog_and_dockerfile():
    setup_version = re.search(r'^VERSION = "([^"]+)"', (ROOT / "setup.py").read_text(), re.MULTILINE).group(1)
    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    changelog = re.search(r"^## (\S+) — (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    docker_label = re.search(r"io\.airbyte\.version=(\S+)", (ROOT / "Dockerfile").read_text()).group(1)
    assert setup_version == metadata["dockerImageTag"] == changelog.group(1) == docker_label
    assert metadata["releaseDate"] == changelog.group(2)


def test_the_readme_quickstart_is_exactly_the_two_commands_ci_runs():
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = quickstart.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_nothing_outside_the_tests_imports_a_test_folder():
    for folder in ("source_conversations", "fake_api", "test_support", "demo", "benchmark"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in imported_modules(path):
                assert name not in ("unit_tests", "integration_tests", "fake_api_tests", "reliability_tests"), (
                    path,
                    name,
                )


def test_the_manifest_parses_as_yaml_and_has_no_file_schema_loader():
    assert "JsonFileSchemaLoader" not in MANIFEST_PATH.read_text(encoding="utf-8")
    assert yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))["version"].startswith("7.39")
