"""rnnkit's speed and memory benchmarks: ``python -m benchmarks`` (or ``make bench``).

* ``variants``: the rows (torch baselines, the Python loops, every rnnkit cell and option).
* ``measure``: interleaved timing, medians, peak memory, the GEMM peak.
* ``report``: the table, the targets of DESIGN.md §3 / issue 3, and RESULTS.md.
"""
