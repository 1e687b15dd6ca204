"""Suite-wide checks for every test folder: the secret scan (issue 5, I4).

After each test, everything it printed or logged (pytest's capture of every phase) and every output
the harnesses recorded (connector subprocesses, in-process reads) is searched for every credential
the fake API handed out or a test registered. A leak fails that test; the session ends with one line
that says how much was searched.
"""

from __future__ import annotations

import pytest

from test_support import leaks


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    outcome = yield
    report = outcome.get_result()
    if report.when != "teardown":
        return
    captured = [(f"{item.nodeid} [{when} {key}]", content) for when, key, content in item._report_sections]
    recorded = [(f"{item.nodeid} [{label}]", text) for label, text in leaks.take_outputs()]
    found = leaks.scan(captured + recorded)
    if found:
        report.outcome = "failed"
        report.longrepr = f"secret scan: {len(found)} leak(s): " + "; ".join(found[:10])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    totals = leaks.TOTALS
    verdict = f"{len(totals.leaks)} leak(s)" if totals.leaks else "no leak"
    terminalreporter.write_line(
        f"secret scan: searched {totals.outputs} outputs ({totals.characters / 1e6:.1f} MB) "
        f"for {totals.secrets} secrets: {verdict}"
    )
