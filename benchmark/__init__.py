"""Benchmark of the connector (issue 13): a latency table and a CPU table.

    python -m benchmark [--mode both|latency|cpu] [--runs 3] [--json PATH]
      latency mode: [--latency-ms 150] [--bandwidth-mbps 20] [--workers 1,2,4,8,12,16,20] [--scenarios ...] [--scale 1]
      CPU mode:     [--records 100000] [--big] [--streams polyai,vectara] [--cpu-workers 20] [--profile]

Latency mode: the fake API holds every response ``latency_ms`` plus its size at ``bandwidth_mbps``, as a
vendor across the internet would. On each scenario (a PolyAI v3 backfill over 13 monthly windows and 3
projects, a Vectara v2 list walk, Vectara v1 and v2 turns, Vectara Agents events) a sequential plain loop
(``requests`` + orjson, one request at a time, ``benchmark/loop.py``) and the installed connector alternate.
Printed per scenario: the wall time of each, the speed-up, the requests against the fewest possible, and
the most requests in flight at once; with ``--workers``, the same for each ``num_workers``; and whether
each target holds.

CPU mode: the same loop (the ceiling) and the connector alternate on one stream per provider against the
fake API in fast mode with no latency: records/s and CPU seconds against the ceiling at ``--records``
and, with ``--big``, at a million records (peak RSS must stay flat), start-up cost, one sparse
incremental PolyAI sync's requests, and with ``--profile`` a cProfile of one connector read per stream.

Every run is a child process and must read exactly the keys the fake API holds. benchmark/README.md
tells how to read the tables and holds the latest figures.
"""
