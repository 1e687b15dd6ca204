"""metadata.yaml follows Airbyte's connector metadata schema, and docs/conversations.md is a complete
Airbyte connector page whose changelog is current.

The schema is Airbyte's `ConnectorMetadataDefinitionV0` (airbytehq/airbyte,
airbyte-ci/connectors/metadata_service/lib/metadata_service/models/src/ConnectorMetadataDefinitionV0.yaml
and its generated models), written out below for the fields this connector uses; like Airbyte's,
the models reject a key they do not know. Version agreement between setup.py, metadata.yaml, CHANGELOG.md
and the Dockerfile is tested in unit_tests/test_docs_and_metadata.py; the Dockerfile's base image
against `connectorBuildOptions` in test_docker_contract.py.
"""

from __future__ import annotations

import re
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Optional
from urllib.parse import urlparse
from uuid import UUID

import pytest
import yaml
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, ValidationError

from airbyte_cdk.models.connector_metadata import ConnectorLanguage, MetadataFile

ROOT = Path(__file__).resolve().parents[1]
METADATA_PATH = ROOT / "metadata.yaml"
DOCS_PATH = ROOT / "docs" / "conversations.md"
MANIFEST = yaml.safe_load((ROOT / "source_conversations" / "manifest.yaml").read_text(encoding="utf-8"))
SPEC = MANIFEST["spec"]["connection_specification"]
STREAM_NAMES = sorted(
    stream["$ref"].rsplit("/", 1)[-1] for group in MANIFEST["streams"] for stream in group["streams"]
)


def _setup_version() -> str:
    match = re.search(r'^VERSION = "([^"]+)"', (ROOT / "setup.py").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, "setup.py defines no VERSION"
    return match.group(1)


# ---- Airbyte's ConnectorMetadataDefinitionV0, for the parts this connector sets ----


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistryOverride(_Strict):
    enabled: bool
    name: Optional[str] = None
    dockerRepository: Optional[str] = None
    dockerImageTag: Optional[str] = None
    documentationUrl: Optional[AnyUrl] = None


class RegistryOverrides(_Strict):
    oss: Optional[RegistryOverride] = None
    cloud: Optional[RegistryOverride] = None


class AllowedHosts(BaseModel):
    hosts: Optional[list[str]] = None


class ConnectorBuildOptions(_Strict):
    baseImage: Optional[str] = None


class AirbyteInternal(BaseModel):
    sl: Optional[Literal[0, 100, 200, 300]] = None
    ql: Optional[Literal[0, 100, 200, 300, 400, 500, 600]] = None
    isEnterprise: Optional[bool] = False
    requireVersionIncrementsInPullRequests: Optional[bool] = True


class SuiteOptions(_Strict):
    suite: Literal["unitTests", "integrationTests", "acceptanceTests", "liveTests"]
    testSecrets: Optional[list[dict[str, Any]]] = None
    testConnections: Optional[list[dict[str, Any]]] = None


class ExternalDocumentationUrl(_Strict):
    title: str
    url: AnyUrl
    type: Optional[
        Literal[
            "api_deprecations",
            "api_reference",
            "api_release_history",
            "authentication_guide",
            "data_model_reference",
            "developer_community",
            "migration_guide",
            "openapi_spec",
            "other",
            "permissions_scopes",
            "rate_limits",
            "sql_reference",
            "status_page",
        ]
    ] = None
    requiresLogin: Optional[bool] = False


class ConnectorSubtype(str, Enum):
    api = "api"
    database = "database"
    datalake = "datalake"
    file = "file"
    custom = "custom"
    message_queue = "message_queue"
    unknown = "unknown"
    vectorstore = "vectorstore"


class MetadataData(_Strict):
    # Required by the schema.
    name: str = Field(min_length=1)
    definitionId: UUID
    connectorType: Literal["source", "destination"]
    dockerRepository: str
    dockerImageTag: str
    license: str
    documentationUrl: AnyUrl
    githubIssueLabel: str
    connectorSubtype: ConnectorSubtype
    releaseStage: Literal["alpha", "beta", "generally_available", "custom"]
    # Optional fields of the schema.
    icon: Optional[str] = None
    supportLevel: Optional[Literal["community", "certified", "archived"]] = None
    tags: list[str] = []
    allowedHosts: Optional[AllowedHosts] = None
    connectorBuildOptions: Optional[ConnectorBuildOptions] = None
    connectorTestSuitesOptions: Optional[list[SuiteOptions]] = None
    externalDocumentationUrls: Optional[list[ExternalDocumentationUrl]] = None
    registryOverrides: Optional[RegistryOverrides] = None
    ab_internal: Optional[AirbyteInternal] = None
    releaseDate: Optional[date] = None
    protocolVersion: Optional[str] = None
    maxSecondsBetweenMessages: Optional[int] = None
    suggestedStreams: Optional[dict[str, Any]] = None
    releases: Optional[dict[str, Any]] = None
    resourceRequirements: Optional[dict[str, Any]] = None
    supportsRefreshes: Optional[bool] = False
    supportsFileTransfer: Optional[bool] = False
    supportsDataActivation: Optional[bool] = False
    erdUrl: Optional[str] = None


class ConnectorMetadataDefinitionV0(_Strict):
    metadataSpecVersion: str
    data: MetadataData


RAW = yaml.safe_load(METADATA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def metadata() -> ConnectorMetadataDefinitionV0:
    try:
        return ConnectorMetadataDefinitionV0.model_validate(RAW)
    except ValidationError as error:
        pytest.fail(f"metadata.yaml does not follow ConnectorMetadataDefinitionV0:\n{error}", pytrace=False)


# ---- metadata.yaml ----


def test_metadata_follows_airbytes_schema(metadata: ConnectorMetadataDefinitionV0) -> None:
    assert metadata.metadataSpecVersion == "1.0"
    assert isinstance(RAW["metadataSpecVersion"], str), "quote it: YAML reads 1.0 as a number"
    assert isinstance(RAW["data"]["dockerImageTag"], str)
    assert re.fullmatch(r"\d+\.\d+\.\d+", metadata.data.dockerImageTag)


def test_the_cdk_reads_metadata_as_a_python_connector() -> None:
    parsed = MetadataFile.from_file(METADATA_PATH)
    assert parsed.data.language == ConnectorLanguage.PYTHON  # which image template the CDK would build


def test_identity_fields_name_this_connector(metadata: ConnectorMetadataDefinitionV0) -> None:
    data = metadata.data
    assert data.connectorType == "source"
    assert data.connectorSubtype == ConnectorSubtype.api
    assert re.fullmatch(r"[a-z0-9-]+/source-[a-z0-9-]+", data.dockerRepository)
    assert data.githubIssueLabel == data.dockerRepository.split("/")[1]
    assert data.name == SPEC["title"], "the name shown in the catalog matches the spec's title"
    assert data.definitionId.version == 4
    assert data.license == re.search(r'license="([^"]+)"', (ROOT / "setup.py").read_text()).group(1)
    assert "language:python" in data.tags and "cdk:low-code" in data.tags
    assert data.supportLevel == "community" and data.releaseStage == "alpha"
    assert data.registryOverrides is not None and data.registryOverrides.oss is not None
    assert {suite.suite for suite in data.connectorTestSuitesOptions or []} == {
        "unitTests",
        "integrationTests",
        "acceptanceTests",
    }


def test_documentation_url_points_at_the_docs_page(metadata: ConnectorMetadataDefinitionV0) -> None:
    url = urlparse(str(metadata.data.documentationUrl))
    assert url.scheme == "https"
    assert url.path.endswith("/docs/conversations.md")
    assert DOCS_PATH.is_file()


def test_allowed_hosts_cover_every_default_host_the_connector_calls(metadata: ConnectorMetadataDefinitionV0) -> None:
    hosts = set(metadata.data.allowedHosts.hosts or [])
    polyai = SPEC["properties"]["polyai"]["properties"]
    vectara = SPEC["properties"]["vectara"]["properties"]
    needed = {f"api.{region}.platform.polyai.app" for region in polyai["region"]["enum"]}
    needed.add(urlparse(vectara["base_url"]["default"]).hostname)
    # The default token URL, https://vectara-prod-{customer_id}.auth.us-west-2.amazoncognito.com/oauth2/token:
    # one host per customer, so a wildcard on the first label.
    token_url = re.search(r"https://\S+/oauth2/token", vectara["credentials"]["oneOf"][1]["properties"]["token_url"]["description"])
    needed.add("*." + urlparse(token_url.group(0)).netloc.split(".", 1)[1])
    assert needed <= hosts, f"allowedHosts misses {sorted(needed - hosts)}"


def test_release_date_is_the_first_changelog_entry(metadata: ConnectorMetadataDefinitionV0) -> None:
    rows = _changelog_rows()
    assert metadata.data.releaseDate == date.fromisoformat(rows[-1]["Date"])


# ---- docs/conversations.md ----

DOCS = DOCS_PATH.read_text(encoding="utf-8")
SECTIONS = (
    "Prerequisites",
    "Setup guide",
    "Supported sync modes",
    "Supported streams",
    "Performance considerations",
    "Changelog",
)


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", DOCS, re.MULTILINE | re.DOTALL | re.IGNORECASE)
    assert match, f"docs/conversations.md has no `## {title}` section"
    return match.group(1)


def _table(text: str) -> list[dict[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    assert len(lines) >= 3, "no table"
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert all(re.fullmatch(r":?-+:?", cell.strip()) for cell in lines[1].strip("|").split("|"))
    return [dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def _changelog_rows() -> list[dict[str, str]]:
    return _table(_section("Changelog"))


def test_docs_page_has_airbytes_sections_in_order() -> None:
    assert DOCS.startswith(f"# {SPEC['title']}\n")
    headings = re.findall(r"^## (.+?)\s*$", DOCS, re.MULTILINE)
    assert [heading for heading in headings if heading in SECTIONS] == list(SECTIONS)
    for title in SECTIONS:
        assert _section(title).strip(), f"`## {title}` is empty"


def test_prerequisites_say_where_each_credential_comes_from() -> None:
    prerequisites = _section("Prerequisites")
    polyai, vectara = prerequisites.split("### Vectara", 1)
    assert "### PolyAI" in polyai
    for term in ("API Keys", "Agent Studio", "account ID", "project ID", "region", "v3"):
        assert term.lower() in polyai.lower(), f"PolyAI prerequisites do not mention {term}"
    for term in ("customer ID", "API key", "client ID", "client secret", "authentication URL", "console"):
        assert term.lower() in vectara.lower(), f"Vectara prerequisites do not mention {term}"


def test_supported_streams_table_lists_exactly_the_connectors_streams() -> None:
    rows = _table(_section("Supported streams"))
    assert sorted(row["Stream"].strip("`") for row in rows) == STREAM_NAMES
    cursors = {"polyai_conversations": "started_at", "vectara_conversations": "epochSecs"}
    for row in rows:
        assert row["Primary key"].strip("`") == "id"
        assert row["Cursor"].strip("`") == cursors[row["Stream"].strip("`")]


def test_changelog_newest_version_is_setup_pys_and_rows_are_well_formed() -> None:
    rows = _changelog_rows()
    assert list(rows[0]) == ["Version", "Date", "Pull Request", "Subject"]
    assert rows[0]["Version"] == _setup_version(), "add a changelog row for the new version"
    versions = [tuple(int(part) for part in row["Version"].split(".")) for row in rows]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions), "newest first, once each"
    for row in rows:
        date.fromisoformat(row["Date"])
        assert row["Subject"], row
        assert row["Pull Request"] == "—" or re.fullmatch(r"\[\d+\]\(https://github\.com/\S+/pull/\d+\)", row["Pull Request"])
    dates = [row["Date"] for row in rows]
    assert dates == sorted(dates, reverse=True)
