"""The benchmarks (make bench, make bench-compare, make leaks): run from the
project's root as modules, ``python -m benchmarks.run``; the tests' helpers
come from the package ``tests``."""
