"""Warehouse loading, end to end: the connector into a local DuckDB file through PyAirbyte.

* :mod:`demo.warehouse`: the reusable part (PyAirbyte settings, the DuckDB cache, per-stream loads,
  table checks, the fake API scenario), shared by the demo and ``integration_tests/test_warehouse_e2e.py``.
* ``python -m demo``: the demo itself (``bash scripts/demo.sh`` installs what it needs, then runs it).

Nothing here imports PyAirbyte at module level: :func:`demo.warehouse.configure_pyairbyte` must set
PyAirbyte's environment before the first ``import airbyte``, because PyAirbyte reads it at import time.
"""
