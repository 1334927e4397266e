"""The benchmark harness: seeds Postgres, serves Heed as production does, drives it with wrk.

Run with `python -m bench.run [--quick]`; results land in `bench/results/`.
"""
