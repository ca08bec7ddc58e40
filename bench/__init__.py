"""Benchmarks: run from the repository root as ``python -m bench.<name>`` (they import the
project and the ``testing`` harness as packages and never edit ``sys.path``)."""
