"""Connector configs pointed at a `fake_api.FakeApiServer`, for every API version the connector speaks."""

import time
from typing import Any, Dict, Optional

from fake_api import FakeApiServer

LONG_AGO = "2017-01-01T00:00:00Z"


def utc(seconds: float) -> str:
    """Unix seconds as the connector's `start_date` form, `YYYY-MM-DDTHH:MM:SSZ`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def days_ago(days: float) -> str:
    return utc(time.time() - days * 86400)


def polyai(
    server: FakeApiServer, version: str = "v3", projects: Optional[list] = None, **settings: Any
) -> Dict[str, Any]:
    """The `polyai` section: every project of the server (or `projects`), `api_version` `version`."""
    section = server.polyai_config(version="v3", projects=projects)
    section["api_version"] = version
    section.update(settings)
    return section


def vectara(server: FakeApiServer, version: str = "v2", auth: str = "api_key", **settings: Any) -> Dict[str, Any]:
    """The `vectara` section for `version` (`v1` needs the customer ID, `v2` does not send one)."""
    section = server.vectara_config(auth)
    section["api_version"] = version
    if version == "v2":
        section.pop("customer_id", None)
    section.update(settings)
    return section


def connector_config(
    server: FakeApiServer,
    start_date: str = LONG_AGO,
    polyai_version: Optional[str] = "v3",
    vectara_version: Optional[str] = "v2",
    auth: str = "api_key",
    **top_level: Any,
) -> Dict[str, Any]:
    """A whole config; pass `polyai_version=None` or `vectara_version=None` to leave a provider out."""
    config: Dict[str, Any] = {"start_date": start_date, **top_level}
    if polyai_version:
        config["polyai"] = polyai(server, polyai_version)
    if vectara_version:
        config["vectara"] = vectara(server, vectara_version, auth)
    return config
