"""metadata.yaml follows Airbyte's connector metadata schema, and docs/conversations.md is a complete
Airbyte connector page whose changelog is current.

Stream facts (names, primary keys, cursors) come from `source_conversations.registry`, the hosts the
connector calls by default from the manifest's spec and `components.py`, the vendor pages from each
stream's description in the manifest: nothing is written here twice.

The schema is Airbyte's `ConnectorMetadataDefinitionV0` (airbytehq/airbyte,
airbyte-ci/connectors/metadata_service/lib/metadata_service/models/src/ConnectorMetadataDefinitionV0.yaml
and its generated models), written out below for the fields this connector uses; like Airbyte's,
the models reject a key they do not know. Version agreement between setup.py, metadata.yaml, CHANGELOG.md
and the Dockerfile is tested in unit_tests/test_house.py; the Dockerfile's base image against
`connectorBuildOptions` in test_docker_contract.py.
"""

from __future__ import annotations

import ast
import re
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Optional
from urllib.parse import urlparse
from uuid import UUID

import pytest
import yaml
from airbyte_cdk.models.connector_metadata import ConnectorLanguage, MetadataFile
from packaging.specifiers import SpecifierSet
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, ValidationError

from source_conversations import registry

ROOT = Path(__file__).resolve().parents[1]
METADATA_PATH = ROOT / "metadata.yaml"
DOCS_PATH = ROOT / "docs" / "conversations.md"
MANIFEST = yaml.safe_load((ROOT / "source_conversations" / "manifest.yaml").read_text(encoding="utf-8"))
SPEC = MANIFEST["spec"]["connection_specification"]
COMPONENTS_PATH = ROOT / "source_conversations" / "components.py"
CHANGELOG_PATH = ROOT / "CHANGELOG.md"
POLYAI_V1_PAGE = "https://docs.poly.ai/api-reference/conversations/v1/endpoint/get-conversations"
"""polyai_conversations links PolyAI's introduction (v3 and v1); the v1 endpoint has a page of its own."""


def stream_doc_url(stream: str) -> str:
    """The vendor page a stream's description in the manifest links."""
    found = re.findall(r"https://\S+", MANIFEST["definitions"][stream].get("description", ""))
    assert len(found) == 1, f"the description of {stream} in the manifest links no single vendor page"
    return found[0]


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


def _url_templates() -> set[str]:
    """Every URL the connector can call without a base URL or token URL in the config: the spec's
    defaults, and the URL string constants of components.py (hosts derived from the region, token
    URLs per API version)."""
    templates = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            default = node.get("default")
            if isinstance(default, str) and default.startswith(("http://", "https://")):
                templates.add(default)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SPEC)
    tree = ast.parse(COMPONENTS_PATH.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"https?://[^\s/]+(/\S*)?", node.value):
                templates.add(node.value)
    return templates


def _hosts_of(template: str) -> set[str]:
    """The hosts a URL template stands for: one per region for `{region}`; a wildcard on the first
    label for a per-customer host (Airbyte's allowedHosts take `*.` wildcards)."""
    if "{region}" in template:
        return {
            urlparse(template.format(region=region)).hostname
            for region in SPEC["properties"]["polyai"]["properties"]["region"]["enum"]
        }
    host = urlparse(re.sub(r"\{[a-z_]+\}", "placeholder", template)).hostname
    labels = host.split(".")
    templated = [index for index, label in enumerate(labels) if "placeholder" in label]
    if not templated:
        return {host}
    assert templated == [0], f"{template}: only the first label of a host can be a wildcard"
    return {"*." + ".".join(labels[1:])}


def test_allowed_hosts_cover_every_default_host_the_connector_calls(metadata: ConnectorMetadataDefinitionV0) -> None:
    hosts = set(metadata.data.allowedHosts.hosts or [])
    templates = _url_templates()
    # What the connector calls today; a new default URL is picked up by _url_templates() on its own.
    assert {
        "https://api.vectara.io",
        "https://api.{region}.platform.polyai.app",
        "https://auth.vectara.io/oauth2/token",
        "https://vectara-prod-{customer_id}.auth.us-west-2.amazoncognito.com/oauth2/token",
    } <= templates, sorted(templates)
    needed = {host for template in templates for host in _hosts_of(template)}
    assert {"api.us-1.platform.polyai.app", "api.uk-1.platform.polyai.app", "api.euw-1.platform.polyai.app"} <= needed
    assert needed <= hosts, f"allowedHosts misses {sorted(needed - hosts)}"


def test_allowed_hosts_are_bare_hosts_of_the_two_vendors(metadata: ConnectorMetadataDefinitionV0) -> None:
    hosts = metadata.data.allowedHosts.hosts or []
    assert len(hosts) == len(set(hosts)), "a host is listed twice"
    for host in hosts:
        assert re.fullmatch(r"(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+", host), f"{host}: a host name, no scheme, port or path"
        assert re.search(r"(\.polyai\.app|\.vectara\.io|\.vectara\.com|\.amazoncognito\.com)$", host), (
            f"{host} belongs to neither vendor"
        )


def test_external_docs_link_the_page_of_every_api_the_connector_calls(metadata: ConnectorMetadataDefinitionV0) -> None:
    links = [str(link.url) for link in metadata.data.externalDocumentationUrls or []]
    assert len(links) == len(set(links)), "a page is listed twice"
    titles = [link.title for link in metadata.data.externalDocumentationUrls or []]
    assert len(titles) == len(set(titles)), "two pages share a title"
    needed = {stream_doc_url(stream) for stream in registry.STREAMS} | {POLYAI_V1_PAGE}
    assert "https://docs.poly.ai/api-reference/conversations/introduction" in needed  # PolyAI v3's introduction
    assert needed <= set(links), f"externalDocumentationUrls misses {sorted(needed - set(links))}"
    for link in metadata.data.externalDocumentationUrls or []:
        assert urlparse(str(link.url)).scheme == "https" and link.type is not None, link


def test_build_options_pin_a_python_base_image_the_package_supports(metadata: ConnectorMetadataDefinitionV0) -> None:
    base_image = metadata.data.connectorBuildOptions.baseImage
    match = re.fullmatch(
        r"(?:docker\.io/)?(?:library/)?python:(3\.\d+)(?:\.\d+)?-slim(?:-[a-z]+)?@sha256:[0-9a-f]{64}", base_image
    )
    assert match, f"{base_image}: a slim Python image pinned by digest"
    requires = re.search(r'python_requires="([^"]+)"', (ROOT / "setup.py").read_text(encoding="utf-8")).group(1)
    assert match.group(1) in SpecifierSet(requires), (
        f"setup.py's python_requires {requires} excludes Python {match.group(1)}"
    )


def test_tags_say_how_the_connector_is_built(metadata: ConnectorMetadataDefinitionV0) -> None:
    tags = metadata.data.tags
    assert all(re.fullmatch(r"[a-z]+:[a-z0-9.-]+", tag) for tag in tags), tags
    assert len(tags) == len(set(tags))
    # A Python package with a Dockerfile (the CDK builds its image as a Python connector), whose
    # connector is a declarative manifest.
    assert [tag for tag in tags if tag.startswith("language:")] == ["language:python"]
    assert [tag for tag in tags if tag.startswith("cdk:")] == ["cdk:low-code"]


def _changelog_md_entries() -> list[tuple[str, str]]:
    """`(version, date)` of each `## <version> — <date>` heading of CHANGELOG.md, newest first."""
    return re.findall(r"^## (\S+) — (\d{4}-\d{2}-\d{2})\s*$", CHANGELOG_PATH.read_text(encoding="utf-8"), re.MULTILINE)


def test_release_date_is_the_date_of_the_newest_changelog_entry(metadata: ConnectorMetadataDefinitionV0) -> None:
    entries = _changelog_md_entries()
    assert entries, "CHANGELOG.md has no `## <version> — <date>` entry"
    version, released = entries[0]
    assert metadata.data.dockerImageTag == version
    assert metadata.data.releaseDate == date.fromisoformat(released)
    docs_row = [row for row in _changelog_rows() if row["Version"] == version]
    assert [row["Date"] for row in docs_row] == [released], "the docs page's changelog dates this version differently"


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


def _split_row(line: str) -> list[str]:
    """The cells of a Markdown table row; `\\|` inside a cell is a literal bar, not a separator."""
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def _table(text: str) -> list[dict[str, str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    assert len(lines) >= 3, "no table"
    header = _split_row(lines[0])
    assert all(re.fullmatch(r":?-+:?", cell) for cell in _split_row(lines[1]))
    rows = [_split_row(line) for line in lines[2:]]
    assert all(len(row) == len(header) for row in rows), "a row has more or fewer cells than the header"
    return [dict(zip(header, row, strict=True)) for row in rows]


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
    for term in ("customer ID", "API key", "Personal", "client ID", "client secret", "authentication URL", "console"):
        assert term.lower() in vectara.lower(), f"Vectara prerequisites do not mention {term}"


def _cells(cell: str) -> list[str]:
    """`a`, `b` -> ["a", "b"]."""
    return [part.strip().strip("`") for part in cell.split(",")]


def test_supported_streams_table_lists_every_stream_of_the_manifest() -> None:
    rows = _table(_section("Supported streams"))
    listed = [row["Stream"].strip("`") for row in rows]
    assert sorted(listed) == sorted(registry.STREAMS), f"missing {sorted(set(registry.STREAMS) - set(listed))}"
    assert len(listed) == len(set(listed))
    for row in rows:
        info = registry.stream(row["Stream"].strip("`"))
        assert _cells(row["Primary key"]) == list(info.primary_key), info.name
        assert _cells(row["Cursor"]) == [info.cursor_field], info.name
        assert f"]({stream_doc_url(info.name)})" in row["Vendor endpoint"], f"{info.name}: link its vendor page"


def test_changelog_newest_version_is_setup_pys_and_rows_are_well_formed() -> None:
    rows = _changelog_rows()
    assert list(rows[0]) == ["Version", "Date", "Pull Request", "Subject"]
    assert rows[0]["Version"] == _setup_version(), "add a changelog row for the new version"
    versions = [tuple(int(part) for part in row["Version"].split(".")) for row in rows]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions), "newest first, once each"
    for row in rows:
        date.fromisoformat(row["Date"])
        assert row["Subject"], row
        assert row["Pull Request"] == "—" or re.fullmatch(
            r"\[\d+\]\(https://github\.com/\S+/pull/\d+\)", row["Pull Request"]
        )
    dates = [row["Date"] for row in rows]
    assert dates == sorted(dates, reverse=True)
