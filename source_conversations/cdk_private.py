"""Every part of airbyte-cdk this project touches that is not the CDK's public, declarative API.

`unit_tests/test_cdk_private.py` resolves each entry and checks the behaviour we count on, so a CDK upgrade
that moves or changes one fails there, loudly, at one place. Nothing in `components.py` is here: the
manifest and its components use only the declarative framework's public classes and hooks.

`BEHAVIOURS` lists what the components count on beyond what the CDK documents. Each is for speed only: if
the CDK changes it, records and states stay the same and the test named there fails, so the lost speed is
seen rather than measured months later.
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


class Behaviour(NamedTuple):
    what: str
    used_by: str
    if_it_changes: str
    test: str


BEHAVIOURS: Tuple[Behaviour, ...] = (
    Behaviour(
        "airbyte_cdk.sources.declarative.datetime.datetime_parser.DatetimeParser.parse reads the format "
        "`%epoch_microseconds` as `int(value)`",
        "components.CursorText, and the manifest's date_time_formats (listed first)",
        "the format fails for a CursorText and the ISO formats after it read the value with strptime, as "
        "they read a saved state: the same records and states, and threads queue on strptime's lock again",
        "unit_tests/test_house.py::test_the_cdks_date_time_cursor_reads_a_cursor_text_without_strptime",
    ),
)
