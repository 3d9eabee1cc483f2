"""The test suite.  Its helpers (memstream, prosody, ejabberd, leakcheck,
...) are modules of this package: the demo (``python -m tests.demo``) and
the benchmarks (``python -m benchmarks.run``) import them from here."""
