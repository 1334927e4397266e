"""The `heed` command as a user runs it: real processes, real server, real databases."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from api.db import open_database, pending_model_changes
from schema import schema_sdl
from tests.conftest import ROOT

HEED = [sys.executable, "-m", "api.cli"]


def heed(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own CLI)
        [*HEED, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for the CLI, with its own data folder."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("HEED_")}
    base.pop("DATABASE_URL", None)
    return {**base, "HEED_DATA_DIR": str(tmp_path / "data")}


def test_token_prints_only_a_token_signed_with_the_configured_secret(
    env: dict[str, str],
) -> None:
    secret = "s" * 40
    result = heed(
        "token",
        "--org",
        "acme",
        "--member",
        "ann",
        "--roles",
        "admin,billing",
        "--name",
        "Ann Lee",
        "--email",
        "ann@acme.test",
        "--locale",
        "ru",
        "--attr",
        "plan=pro",
        env={**env, "HEED_JWT_SECRET": secret},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    claims = jwt.decode(lines[0], secret, algorithms=["HS256"])
    assert claims["sub"] == "ann"
    assert claims["org"] == "acme"
    assert claims["roles"] == ["admin", "billing"]
    assert (claims["name"], claims["email"], claims["locale"]) == ("Ann Lee", "ann@acme.test", "ru")
    assert claims["attrs"] == {"plan": "pro"}
    assert claims["exp"] > time.time()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HEED_ENV", "staging", "HEED_ENV must be"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must start with"),
        ("HEED_JWT_SECRET", "short", "at least 32 characters"),
        ("HEED_MAX_DEPTH", "deep", "HEED_MAX_DEPTH must be a whole number"),
        ("HEED_JWT_ALGORITHM", "RS256", "needs HEED_JWT_PUBLIC_KEY"),
    ],
)
def test_invalid_configuration_fails_with_one_line(
    env: dict[str, str], variable: str, value: str, message: str
) -> None:
    result = heed("migrate", env={**env, variable: value})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_production_without_a_key_is_refused(env: dict[str, str]) -> None:
    result = heed("migrate", env={**env, "HEED_ENV": "production"})
    assert result.returncode == 2
    assert "needs HEED_JWT_SECRET or HEED_JWT_PUBLIC_KEY" in result.stderr


def test_unreachable_database_fails_with_one_line(env: dict[str, str]) -> None:
    result = heed("migrate", env={**env, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert result.stderr.startswith("heed: cannot reach the database")
    assert "Traceback" not in result.stderr


def test_committed_schema_matches_the_code() -> None:
    assert (ROOT / "schema.graphql").read_text() == schema_sdl(), "run 'heed export-schema'"


def test_export_schema_check(env: dict[str, str]) -> None:
    result = heed("export-schema", "--check", env=env)
    assert result.returncode == 0, result.stderr


async def test_models_and_migrations_agree(database_url: str) -> None:
    database = await open_database(database_url, migrate=False)
    try:
        assert await pending_model_changes(database) == [], "run 'tortoise makemigrations'"
    finally:
        await database.close_connections()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(env: dict[str, str], database_url: str) -> Iterator[tuple[str, str]]:
    """`heed serve` in its own process, as the quickstart runs it; yields (url, token)."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [*HEED, "serve", "--port", str(port)],
        cwd=ROOT,
        env={**env, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert lines[0].startswith(("published release", "release ")), lines
        assert lines[1].startswith("Heed is serving GraphQL"), lines
        assert f"{url}/graphql" in lines[1]
        assert lines[3].startswith("export TOKEN="), lines
        yield url, lines[3].strip().removeprefix("export TOKEN=")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_answers_the_quickstart_query_with_the_printed_token(
    served: tuple[str, str],
) -> None:
    url, token = served
    response = httpx.post(
        f"{url}/graphql",
        json={"query": "{ viewer { member { id } organization { id } } }"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] == {"viewer": {"member": {"id": "dev"}, "organization": {"id": "demo"}}}
    assert body["extensions"]["cost"] == {"requestedQueryCost": 2, "maximumAvailable": 10_000}
    assert httpx.get(f"{url}/readyz").json()["ready"] is True


def test_serve_on_a_taken_port_says_so_before_any_banner(
    env: dict[str, str], database_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = heed("serve", "--port", str(port), env={**env, "DATABASE_URL": database_url})
    assert result.returncode == 1
    assert "Heed is serving" not in result.stdout
    assert "TOKEN" not in result.stdout
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_help_shows_defaults(env: dict[str, str]) -> None:
    result = heed("serve", "--help", env=env)
    assert "(default: 8000)" in result.stdout
    assert "(default: 127.0.0.1)" in result.stdout


def test_production_logs_one_json_line_per_request_and_no_access_log(
    env: dict[str, str], database_url: str
) -> None:
    secret = "cli-production-secret-" + "p" * 20
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own CLI)
        [*HEED, "serve", "--port", str(port)],
        cwd=ROOT,
        env={
            **env,
            "DATABASE_URL": database_url,
            "HEED_ENV": "production",
            "HEED_JWT_SECRET": secret,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        bearer = jwt.encode(
            {"sub": "ann", "org": "acme", "exp": int(time.time()) + 60}, secret, algorithm="HS256"
        )
        response = httpx.post(
            f"{url}/graphql",
            json={"query": "query Me { viewer { member { id } } }"},
            headers={"Authorization": f"Bearer {bearer}", "x-request-id": "cli-req-1"},
        )
        assert response.status_code == 200, response.text
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "heed.request"]
    graphql = [line for line in requests if line.get("request_id") == "cli-req-1"]
    assert len(graphql) == 1, stderr
    assert graphql[0]["operation"] == "Me"
    assert graphql[0]["organization"] == "acme"
    assert graphql[0]["status"] == 200
    assert graphql[0]["duration_ms"] >= 0
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert bearer not in stderr
