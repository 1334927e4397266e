"""wrk, the load generator: installs it if missing, runs one scenario, parses its JSON line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson

LUA = Path(__file__).with_name("wrk.lua")
THREADS = 2
CONNECTIONS = 16


class LoadError(Exception):
    """wrk is missing or failed; the message says what to do."""


def ensure_wrk() -> str:
    """The path of wrk, installing the Debian package when we are allowed to."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk not found: installing the Debian package 'wrk'", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False)  # noqa: S607
        found = shutil.which("wrk")
        if found:
            return found
    raise LoadError(
        "wrk is not installed: run 'sudo apt-get install -y wrk' (or 'brew install wrk')"
    )


def run_wrk(
    wrk: str,
    url: str,
    tokens: Path,
    body: Path,
    seconds: float,
    *,
    steps: tuple[str, ...] = (),
    key_prefix: str = "k",
    start: int = 0,
    bodies: Path | None = None,
) -> dict[str, Any]:
    """One timed run: requests/s and latency percentiles in milliseconds. With `bodies` (one
    a line), each request sends the next of them and no token."""
    env = {
        **os.environ,
        "BENCH_TOKENS": str(tokens),
        "BENCH_BODY": str(body),
        "BENCH_STEPS": ",".join(steps),
        "BENCH_KEY_PREFIX": key_prefix,
        "BENCH_THREADS": str(THREADS),
        "BENCH_START": str(start),
    }
    if bodies is not None:
        env["BENCH_BODIES"] = str(bodies)
    command = [wrk, "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds:g}s"]
    command += ["--timeout", "10s", "-s", str(LUA), url]
    done = subprocess.run(  # noqa: S603 - our own arguments
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith('{"requests"')), None)
    if done.returncode != 0 or line is None:
        raise LoadError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    raw = orjson.loads(line)
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "requests": raw["requests"],
        "errors": errors,
    }
