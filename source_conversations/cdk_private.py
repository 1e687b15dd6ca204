"""Every part of airbyte-cdk this project touches that is not the CDK's public, declarative API.

`unit_tests/test_house.py` resolves each entry of `PRIVATE_USES` and runs the test each entry of `BEHAVIOURS`
names, so a CDK upgrade that moves or changes one fails there, loudly. Nothing in `components.py` is here: the
manifest and its components use only the declarative framework's public classes and hooks.

`BEHAVIOURS` lists what the project counts on beyond what the CDK documents: what happens if the CDK
changes it, and the test that then fails.
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
        "airbyte_cdk.logger",
        "PRINT_BUFFER",
        "source_conversations.extras.run",
        "Entered around the read, as the CDK's own `launch` does, so log lines from worker threads are buffered "
        "and flushed under its lock while the console script writes records itself.",
    ),
    PrivateUse(
        "airbyte_cdk.sources.declarative.parsers.custom_code_compiler",
        "SDM_COMPONENTS_MODULE_NAME",
        "source_conversations.source.components",
        "The module name source-declarative-manifest gives injected components.py "
        "(`source_declarative_manifest.components`), where the manifest's class names point.",
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
    Behaviour(
        "the CDK's concurrent read ends a failed sync with a `config_error` trace whose internal message is "
        "`Concurrent read failure` (airbyte_cdk.sources.concurrent_source.concurrent_read_processor)",
        "extras.CDK_READ_FAILURE_SUMMARY: the console script folds that summary away",
        "the console script's one error trace would also carry the CDK's summary, typed config_error",
        "unit_tests/test_behaviour_matrix.py::test_given_5xx_forever_when_read_then_transient_error_after_the_retry_budget",
    ),
)
