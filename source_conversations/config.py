"""The connector's settings as typed models, and the errors a user can act on.

The JSON schema in `manifest.yaml` (`spec`) is what the Airbyte UI shows and what the CDK checks
first. These models check what a JSON schema cannot say well: rules across fields (both variant
fields, at least one provider), and messages that name the field and the fix.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Mapping, Optional, Union

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

POLYAI_STREAM = "polyai_conversations"
_START_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
VECTARA_STREAM = "vectara_conversations"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PolyAISettings(_Settings):
    api_key: SecretStr = Field(min_length=1)
    account_id: str = Field(min_length=1)
    project_id: str = Field(min_length=1)
    region: Literal["us-1", "uk-1", "euw-1"] = "us-1"
    base_url: Optional[AnyHttpUrl] = None
    client_env: Literal["sandbox", "pre-release", "live"] = "live"
    variant_id: Optional[str] = None
    variant_name: Optional[str] = None
    include_context_state: bool = False
    page_size: int = Field(default=1000, ge=2, le=4999)
    window_days: int = Field(default=30, ge=1, le=3650)

    @model_validator(mode="after")
    def _one_variant_at_most(self) -> "PolyAISettings":
        if self.variant_id and self.variant_name:
            raise ValueError(
                "polyai.variant_id and polyai.variant_name are both set; the API accepts one or the "
                "other. Keep one of them and clear the other."
            )
        return self


class VectaraApiKey(_Settings):
    auth_type: Literal["api_key"]
    api_key: SecretStr = Field(min_length=1)


class VectaraOAuth2(_Settings):
    auth_type: Literal["oauth2_client_credentials"]
    client_id: str = Field(min_length=1)
    client_secret: SecretStr = Field(min_length=1)
    token_url: Optional[AnyHttpUrl] = None


class VectaraSettings(_Settings):
    customer_id: str = Field(pattern=r"^[0-9]+$")
    credentials: Annotated[Union[VectaraApiKey, VectaraOAuth2], Field(discriminator="auth_type")]
    base_url: AnyHttpUrl = AnyHttpUrl("https://api.vectara.io")
    page_size: int = Field(default=100, ge=1, le=1000)
    request_timeout: int = Field(default=30, ge=1, le=300)


class ConnectorSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start_date: Optional[datetime] = None
    read_timeout_seconds: int = Field(default=120, ge=1, le=600)
    polyai: Optional[PolyAISettings] = None
    vectara: Optional[VectaraSettings] = None

    @field_validator("start_date", mode="before")
    @classmethod
    def _utc_seconds_only(cls, value: Any) -> Any:
        # The cursors read the start date as YYYY-MM-DDTHH:MM:SSZ; anything else (a number pydantic
        # would take as Unix time, a fraction of a second, an offset) is refused here, by name.
        if value is not None and not (isinstance(value, str) and _START_DATE.fullmatch(value.strip())):
            raise ValueError("must be a UTC date-time to the second, ending in Z")
        return value

    @model_validator(mode="after")
    def _at_least_one_provider(self) -> "ConnectorSettings":
        if self.polyai is None and self.vectara is None:
            raise ValueError(
                "No provider is configured. Fill in the `polyai` settings, the `vectara` settings, or both."
            )
        return self

    @property
    def stream_names(self) -> list[str]:
        """The streams this config turns on, in a stable order."""
        names = []
        if self.polyai is not None:
            names.append(POLYAI_STREAM)
        if self.vectara is not None:
            names.append(VECTARA_STREAM)
        return names


# Extra advice for fields whose pydantic message alone doesn't tell the user what to type.
_FIXES = {
    "start_date": "Use a UTC date-time like 2025-01-01T00:00:00Z.",
    "read_timeout_seconds": "Use a whole number of seconds from 1 to 600.",
    "polyai.region": "Use us-1, uk-1 or euw-1 (the region the API key was created in).",
    "polyai.base_url": "Use a full URL like https://api.us-1.platform.polyai.app, or leave it empty.",
    "polyai.client_env": "Use sandbox, pre-release or live.",
    "polyai.page_size": "Use a whole number from 2 to 4999.",
    "vectara.customer_id": "Use the digits of your Vectara customer ID, as a string.",
    "vectara.base_url": "Use a full URL like https://api.vectara.io.",
    "vectara.credentials": "Set auth_type to api_key (with api_key) or oauth2_client_credentials (with client_id and client_secret).",
    "vectara.page_size": "Use a whole number from 1 to 1000.",
}


class ConfigError(AirbyteTracedException):
    """A config the user must fix; becomes a FAILED `check` or a `config_error` trace."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)


def _describe(error: Mapping[str, Any]) -> str:
    path = [str(part) for part in error["loc"]]
    if path[:2] == ["vectara", "credentials"] and len(path) > 3:
        del path[2]  # pydantic names the union member (the auth_type) in the path
    location = ".".join(path)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required but missing"
    elif error["type"] == "extra_forbidden":
        message = "is not a known setting; remove it or check its spelling"
    fix = next((hint for field, hint in _FIXES.items() if location.startswith(field)), "")
    text = message if not location or location in message else f"`{location}` {message}"
    return f"{text.rstrip('.')}.{' ' + fix if fix else ''}"


def parse_settings(config: Mapping[str, Any]) -> ConnectorSettings:
    """Validates a config; raises `ConfigError` naming every field that is wrong and how to fix it."""
    try:
        return ConnectorSettings.model_validate(config or {})
    except ValidationError as error:
        problems = " ".join(_describe(detail) for detail in error.errors(include_url=False, include_input=False))
        raise ConfigError(f"The configuration is not valid: {problems}") from None
