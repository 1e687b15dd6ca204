"""What the connector's streams are, read from `manifest.yaml`: the one place these facts are written.

The tests, the demo and the benchmark take stream names, providers, primary keys and cursor fields from
here instead of writing them again. `components.py` takes what it needs from the manifest's `$parameters`.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Mapping, Tuple

from source_conversations.source import manifest


@dataclass(frozen=True)
class StreamInfo:
    """One stream of the manifest."""

    name: str
    provider: str  # the config section that turns it on: "polyai" or "vectara"
    label: str  # the vendor's name in messages: "PolyAI" or "Vectara"
    api_versions: Tuple[str, ...]  # the provider's api_version values that show it
    primary_key: Tuple[str, ...]
    cursor_field: str
    agents: bool  # one of the Agents API streams (vectara.sync_agents)

    def shown_by(self, config: Mapping[str, Any]) -> bool:
        """Whether `discover` lists this stream for `config` (defaults applied as the connector does)."""
        section = config.get(self.provider)
        if not section:
            return False
        version = section.get("api_version") or DEFAULT_VERSIONS[self.provider]
        return version in self.api_versions and (not self.agents or section.get("sync_agents", True) is not False)


def _definition_of(stream: Mapping[str, Any], definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    """A stream definition with its `$ref`s into `definitions` followed, sibling keys winning."""
    reference = stream.get("$ref")
    if not reference:
        return stream
    base = _definition_of(_resolve(reference, definitions), definitions)
    return {**base, **{key: value for key, value in stream.items() if key != "$ref"}}


def _resolve(reference: str, definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    node: Any = {"definitions": definitions}
    for part in reference.lstrip("#/").split("/"):
        node = node[part]
    return node


def _condition_facts(condition: str) -> Tuple[str, Tuple[str, ...], bool]:
    provider = "polyai" if "'polyai'" in condition else "vectara"
    versions = tuple(version for version in ("v1", "v2", "v3") if f"== '{version}'" in condition)
    return provider, versions, "sync_agents" in condition


@lru_cache(maxsize=1)
def _streams() -> Dict[str, StreamInfo]:
    document = manifest()
    definitions = document["definitions"]
    found: Dict[str, StreamInfo] = {}
    for group in document["streams"]:
        provider, versions, agents = _condition_facts(group["condition"])
        versions = versions or SPEC_VERSIONS[provider]
        for entry in group["streams"]:
            stream = _definition_of(entry, definitions)
            cursor = _definition_of(stream["incremental_sync"], definitions)
            found[stream["name"]] = StreamInfo(
                name=stream["name"],
                provider=provider,
                label=stream["$parameters"]["api_name"],
                api_versions=versions,
                primary_key=tuple(stream["primary_key"]),
                cursor_field=cursor["cursor_field"],
                agents=agents,
            )
    return found


def _spec_versions() -> Dict[str, Tuple[str, ...]]:
    properties = manifest()["spec"]["connection_specification"]["properties"]
    return {name: tuple(properties[name]["properties"]["api_version"]["enum"]) for name in ("polyai", "vectara")}


SPEC_VERSIONS = _spec_versions()
DEFAULT_VERSIONS = {
    name: manifest()["spec"]["connection_specification"]["properties"][name]["properties"]["api_version"]["default"]
    for name in ("polyai", "vectara")
}
STREAMS: Dict[str, StreamInfo] = _streams()
"""Every stream of the manifest, by name, in the manifest's order."""


def stream(name: str) -> StreamInfo:
    return STREAMS[name]


def streams_for(config: Mapping[str, Any]) -> Tuple[str, ...]:
    """The streams `discover` lists for `config`, in the manifest's order."""
    return tuple(name for name, info in STREAMS.items() if info.shown_by(config))
