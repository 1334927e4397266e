"""Schema-generated requests against a running `heed serve` (schemathesis's GraphQL mode, with
a member's token): no generated query, mutation or argument may make a server error.

Bounded to stay under half a minute in `make test`: 25 examples per root field and generation
mode (valid and invalid), no shrinking, no deadline (the machine is shared)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import schemathesis
from graphql import BooleanValueNode, IntValueNode, ListValueNode, StringValueNode
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.conftest import ROOT

EXAMPLES_PER_FIELD = 25

# Heed's open JSON inputs (a survey answer's value, track properties) as GraphQL literals: the
# scalars, a list of them, the kinds of answer a survey takes.
_JSON_SCALARS = st.one_of(
    st.integers(min_value=-5, max_value=20).map(lambda n: IntValueNode(value=str(n))),
    st.text(max_size=30).map(lambda text: StringValueNode(value=text)),
    st.booleans().map(lambda flag: BooleanValueNode(value=flag)),
)
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        _JSON_SCALARS, st.lists(_JSON_SCALARS, max_size=3).map(lambda v: ListValueNode(values=v))
    ),
)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def heed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`heed serve` on its own SQLite data folder; yields (url, the printed member token)."""
    data = tmp_path_factory.mktemp("schemathesis")
    port = _free_port()
    base = {key: value for key, value in os.environ.items() if not key.startswith("HEED_")}
    base.pop("DATABASE_URL", None)
    env = {
        **base,
        "HEED_DATA_DIR": str(Path(data)),
        # Generated traffic from one member: the rate limits are tested on their own.
        "HEED_RATE_PER_MEMBER": "1000000",
        "HEED_RATE_PER_ORGANIZATION": "1000000",
        "HEED_RATE_PER_ADDRESS": "1000000",
        "HEED_RATE_INVITATIONS_PER_MEMBER": "1000000",
        "HEED_RATE_INVITATIONS_PER_ORGANIZATION": "1000000",
        # The insight job runs all along, on the same SQLite connection as the requests.
        "HEED_NUDGE_INTERVAL_SECONDS": "0.5",
    }
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        token = ""
        for _ in range(10):  # the banner: the URL, then `export TOKEN=…`
            line = process.stdout.readline()
            if line.startswith("export TOKEN="):
                token = line.removeprefix("export TOKEN=").strip()
                break
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url, token
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_generated_requests_get_no_server_error(heed_server: tuple[str, str]) -> None:
    """Every root field (queries and mutations), positive and negative generation modes.

    Driven through hypothesis directly: schemathesis's pytest plugin does not load under
    pytest 9."""
    url, token = heed_server
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.graphql.from_url(f"{url}/graphql", headers=headers, timeout=30)
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [operation.label for operation in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_FIELD,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def no_server_error(case: schemathesis.Case) -> None:
                response = case.call(headers=headers, timeout=30)
                statuses[response.status_code] += 1
                assert response.status_code < 500, (case.body, response.text[:500])
                errors = orjson.loads(response.content).get("errors") or []
                codes = [(error.get("extensions") or {}).get("code") for error in errors]
                assert "INTERNAL_SERVER_ERROR" not in codes, (case.body, errors)

            no_server_error()
    print(f"schemathesis: {sum(statuses.values())} requests, statuses {dict(statuses)}")
    assert sum(statuses.values()) >= len(operations) * 2
