"""The server under test, run as production runs it: `heed serve`, one uvicorn worker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _heed_command() -> list[str]:
    heed = Path(sys.executable).with_name("heed")
    if heed.exists():
        return [str(heed)]
    return [sys.executable, "-c", "from api.cli import main; main()"]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        """The serving process and its children (uvicorn forks workers only when > 1)."""
        pids = [self.process.pid]
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            pids += [int(p) for p in task.read_text().split()]
        return pids

    def rss_mb(self) -> float:
        """Resident memory of the worker(s), from /proc (VmRSS), in MB."""
        total_kb = 0
        for pid in self.pids():
            status = Path(f"/proc/{pid}/status").read_text()
            line = next(ln for ln in status.splitlines() if ln.startswith("VmRSS:"))
            total_kb += int(line.split()[1])
        return round(total_kb / 1024, 1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def start_process(command: list[str], env: dict[str, str], log_path: Path, port: int) -> Server:
    """A server process listening on `port`, its output in `log_path`."""
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command
        command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    return Server(process, port, log)


def start_server(env: dict[str, str], log_path: Path) -> Server:
    port = free_port()
    command = [*_heed_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return start_process(command, env, log_path, port)


def start_floor(env: dict[str, str], log_path: Path) -> Server:
    """The bare Starlette endpoint (bench/floor.py) under `heed serve`'s uvicorn settings."""
    port = free_port()
    return start_process([sys.executable, "-m", "bench.floor", str(port)], env, log_path, port)


async def wait_ready(server: Server, limit_s: float = 90, probe: bytes | None = None) -> None:
    """Poll until the server answers 200 (/readyz, or a POST of `probe` to /graphql); fail
    early if it exits."""
    deadline = time.monotonic() + limit_s
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited ({server.process.returncode}): see log")
            try:
                if probe is None:
                    response = await client.get(f"{server.url}/readyz")
                else:
                    response = await client.post(
                        f"{server.url}/graphql", content=probe, headers=headers
                    )
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {limit_s:.0f} s")


async def seconds_until_release(server: Server, number: int, limit_s: float = 60) -> float:
    """From now until /readyz reports release `number` (polled every 2 ms)."""
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=2) as client:
        while time.perf_counter() - started < limit_s:
            response = await client.get(f"{server.url}/readyz")
            if response.json().get("release") == number:
                return time.perf_counter() - started
            await asyncio.sleep(0.002)
    raise RuntimeError(f"release {number} was not served within {limit_s:.0f} s")
