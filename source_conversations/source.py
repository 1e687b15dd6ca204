"""The source: `manifest.yaml` and `components.py`, loaded the way Airbyte's manifest runner loads them.

`components.py` is registered with the CDK's own `register_components_module_from_string`, the function
`source-declarative-manifest` uses for injected code, under the same module names
(`source_declarative_manifest.components` and `components`). So the manifest's `class_name`s resolve the
same way here, in the manifest runner and in the Connector Builder, and nothing here adds behaviour:
the package's console script only adds process-level extras (`extras.py`).
"""

import hashlib
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, List, Mapping, Optional

import yaml
from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.declarative.parsers.custom_code_compiler import (
    SDM_COMPONENTS_MODULE_NAME,
    register_components_module_from_string,
)

PACKAGE_DIR = Path(__file__).parent
MANIFEST_PATH = PACKAGE_DIR / "manifest.yaml"
COMPONENTS_PATH = PACKAGE_DIR / "components.py"


def manifest() -> dict:
    """A fresh copy of the parsed manifest (the CDK resolves references in place)."""
    return yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))


def components_text() -> str:
    return COMPONENTS_PATH.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def components() -> ModuleType:
    """`components.py`, registered once per process as the manifest runner registers injected code."""
    text = components_text()
    existing = sys.modules.get(SDM_COMPONENTS_MODULE_NAME)
    if existing is not None and getattr(existing, "__source_conversations_md5__", None) == _md5(text):
        return existing
    module = register_components_module_from_string(text, {"md5": _md5(text)})
    module.__source_conversations_md5__ = _md5(text)  # type: ignore[attr-defined]
    return module


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class SourceConversations(ConcurrentDeclarativeSource):
    """Airbyte source for PolyAI and Vectara conversation logs: `manifest.yaml` with `components.py`."""

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
        config_path: Optional[str] = None,
    ) -> None:
        components()
        super().__init__(
            catalog=catalog,
            config=config,
            state=state,
            source_config=manifest(),
            config_path=config_path,
        )
