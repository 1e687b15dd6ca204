"""Benchmark of the connector's read throughput against its ceiling (issue 7).

    python -m benchmark [--records 100000] [--runs 2] [--big] [--streams polyai,vectara] [--json PATH]

For each stream, a fake API with exactly ``--records`` records is started in its own process and its own
rate is measured; then a plain ``requests`` + orjson loop (``benchmark/ceiling.py``, the ceiling) and the
installed connector's ``read`` alternate, each as a child process writing its output to a file. Every run
must return exactly ``--records`` distinct ids. Printed per run: records/s, CPU seconds, peak RSS, the
ratios to the ceiling's median, and HTTP requests against the minimum. Also measured: start-up (``spec``),
one sparse incremental PolyAI sync's requests, and with ``--big`` the same at a million records (peak RSS
must grow by at most 1.25x). ``--profile`` adds a cProfile of one connector read per stream.
"""
