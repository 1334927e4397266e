"""Parse many files on every core: worker processes that import only the parser.

Workers are plain child interpreters (`python -c`), not a `multiprocessing` pool: a spawned
pool re-imports the caller's main module in every worker (the benchmark's takes 1.6 s), and
forking is unsafe in a threaded server. Each worker reads batches of jobs from stdin and writes
the parsed files to stdout, both pickled; the parent hands out batches from one queue, so a
worker that starts late or gets long files simply takes fewer. A worker that cannot start or
dies leaves its files to be parsed in this process.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from api.content.parse import Job, Parsed, parse_file

BATCH = 16  # files per round trip: small enough to balance, large enough to amortize it
_PYTHONPATH = str(Path(__file__).resolve().parents[2])  # where `api` is, for the workers

logger = logging.getLogger("heed.content")


def parse_all(jobs: Sequence[Job], processes: int) -> list[Parsed]:
    """Every job parsed, in order, spread over `processes` workers."""
    results: list[Parsed | None] = [None] * len(jobs)
    queue = iter(range(0, len(jobs), BATCH))
    lock = threading.Lock()

    def take() -> range | None:
        with lock:
            start = next(queue, None)
        return None if start is None else range(start, min(start + BATCH, len(jobs)))

    def serve() -> None:
        try:
            _work(jobs, take, results)
        except (OSError, EOFError, pickle.PickleError) as exc:
            logger.warning("a content worker failed (%s): parsing its files here", exc)

    threads = [threading.Thread(target=serve, daemon=True) for _ in range(processes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [parse_file(jobs[i]) if r is None else r for i, r in enumerate(results)]


def _work(
    jobs: Sequence[Job], take: Callable[[], range | None], results: list[Parsed | None]
) -> None:
    """Feed one worker process batch after batch until the queue is empty."""
    path = os.pathsep.join(p for p in (_PYTHONPATH, os.environ.get("PYTHONPATH")) if p)
    with subprocess.Popen(
        [sys.executable, "-c", "from api.content.pool import main; main()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": path},
    ) as worker:
        send, receive = worker.stdin, worker.stdout
        assert send is not None
        assert receive is not None
        try:
            while (batch := take()) is not None:
                pickle.dump([jobs[i] for i in batch], send, pickle.HIGHEST_PROTOCOL)
                send.flush()
                # S301: our own child process, answering what we sent it
                for i, parsed in zip(batch, pickle.load(receive), strict=True):  # noqa: S301
                    results[i] = parsed
        finally:
            send.close()


def main() -> None:
    """A worker: parse each batch of jobs on stdin, answer with the parsed files on stdout."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but results may reach the parent's pipe
    while True:
        try:
            jobs = pickle.load(source)  # noqa: S301 - from the parent process
        except EOFError:
            return
        pickle.dump([parse_file(job) for job in jobs], sink, pickle.HIGHEST_PROTOCOL)
        sink.flush()
