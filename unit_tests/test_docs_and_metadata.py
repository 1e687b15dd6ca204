"""The docs and packaging files agree with the code: settings table, versions, metadata, Dockerfile."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from source_conversations.config import ConnectorSettings, PolyAISettings, VectaraSettings
from source_conversations.source import MANIFEST_PATH

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
SPEC = MANIFEST["spec"]["connection_specification"]


def _spec_keys(schema: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for name, field in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        yield key
        yield from _spec_keys(field, f"{key}.")
        for branch in field.get("oneOf", []):
            yield from _spec_keys(branch, f"{key}.")


def _readme_settings_keys() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_.]+)` \|", section, flags=re.MULTILINE)


def test_readme_settings_table_lists_exactly_the_spec_fields() -> None:
    readme_keys = _readme_settings_keys()
    assert len(readme_keys) == len(set(readme_keys)), "a setting is listed twice"
    assert set(readme_keys) == set(_spec_keys(SPEC))


def test_typed_settings_know_every_spec_field() -> None:
    models = {"": ConnectorSettings, "polyai.": PolyAISettings, "vectara.": VectaraSettings}
    for key in _spec_keys(SPEC):
        if key.startswith("vectara.credentials."):
            continue  # a discriminated union, checked through its own models in test_config
        prefix, _, name = key.rpartition(".")
        assert name in models[f"{prefix}." if prefix else ""].model_fields, key


def test_every_secret_in_spec_is_marked_airbyte_secret() -> None:
    secret_names = {"api_key", "client_secret"}
    properties = SPEC["properties"]
    fields = [properties["polyai"]["properties"]["api_key"]]
    for branch in properties["vectara"]["properties"]["credentials"]["oneOf"]:
        fields += [field for name, field in branch["properties"].items() if name in secret_names]
    assert len(fields) == 3
    assert all(field.get("airbyte_secret") is True for field in fields)


def test_each_stream_description_links_the_vendor_doc() -> None:
    for name in ("polyai_conversations", "vectara_conversations"):
        assert "https://docs." in MANIFEST["definitions"][name]["description"]


def test_versions_agree_across_setup_metadata_changelog_and_dockerfile() -> None:
    setup_version = re.search(r'^VERSION = "([^"]+)"', (ROOT / "setup.py").read_text(), re.MULTILINE).group(1)
    metadata = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
    changelog_version = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE).group(1)
    docker_label = re.search(r"io\.airbyte\.version=(\S+)", (ROOT / "Dockerfile").read_text()).group(1)
    assert setup_version == metadata["dockerImageTag"] == changelog_version == docker_label
