"""Count the SQL statements Tortoise sends, from its debug log.

Speed is judged by statements per request rather than by timings (machines are shared and
noisy): the tests assert these counts and the benchmark reports them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from api.db import in_background

LOGGER = "tortoise.db_client"


class StatementCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if in_background():
            return  # handlers run in the logging task's context: a worker's, not a request's
        message = record.getMessage()
        if not message.startswith(("Created connection", "Closed connection")):
            self.statements.append(message)


@contextmanager
def counting_statements() -> Iterator[StatementCounter]:
    logger = logging.getLogger(LOGGER)
    counter, level = StatementCounter(), logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
