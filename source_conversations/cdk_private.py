"""Every part of airbyte-cdk this project touches that is not the CDK's public, declarative API.

`unit_tests/test_cdk_private.py` resolves each entry and checks the behaviour we count on, so a CDK upgrade
that moves or changes one fails there, loudly, at one place. Nothing in `components.py` is here: the
manifest and its components use only the declarative framework's public classes and hooks.
"""

from typing import NamedTuple, Tuple


class PrivateUse(NamedTuple):
    module: str
    attribute: str  # dotted path inside the module
    used_by: str
    why: str


PRIVATE_USES: Tuple[PrivateUse, ...] = (
    PrivateUse(
        "airbyte_cdk.entrypoint",
        "AirbyteEntrypoint.airbyte_message_to_string",
        "source_conversations.extras.install",
        "Replaced while the console script's extras are on: the entrypoint serialises every message through "
        "this static method (by class name), the one place to keep a record's nulls and write bytes.",
    ),
    PrivateUse(
        "airbyte_cdk.logger",
        "PRINT_BUFFER.lock",
        "source_conversations.extras.stdout_writer",
        "The lock the CDK holds while it flushes log lines from worker threads; record batches are written "
        "under it so a log line never lands inside a batch on a pipe.",
    ),
    PrivateUse(
        "airbyte_cdk.sources.declarative.parsers.custom_code_compiler",
        "register_components_module_from_string",
        "source_conversations.source.components",
        "How source-declarative-manifest registers injected components.py; the package registers the same "
        "file the same way, so class names resolve identically in every runner.",
    ),
)
