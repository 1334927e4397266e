"""How long an edit takes to show through `heed serve --watch`: save to visible over HTTP.

Starts `heed serve --watch` on a throwaway SQLite database and a copy of the demo content,
then edits one tip's title several times and polls `contentItem` until the new title is
served. Prints each latency and the median. Run: `python -m bench.watch_latency [--rounds N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIP = "tips/card-declined.md"
SECRET = "watch-latency-" + "s" * 40
TOKEN_ARGS = ("--org", "o", "--member", "m", "--roles", "admin")  # the tip is for admins


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _title(url: str, token: str) -> str | None:
    body = json.dumps({"query": '{ contentItem(id: "card-declined") { title } }'}).encode()
    request = urllib.request.Request(  # noqa: S310 - a local URL we built
        url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
            answer = json.load(response)
    except OSError:
        return None
    if answer.get("errors"):
        raise RuntimeError(answer["errors"])
    data = answer.get("data") or {}
    item = data.get("contentItem")
    return item["title"] if item else None


def measure(rounds: int) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="heed-watch-"))
    try:
        content = work / "content"
        shutil.copytree(ROOT / "content", content)
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite://{work / 'heed.sqlite3'}",
            "HEED_DATA_DIR": str(work / "data"),
            "HEED_CONTENT_DIR": str(content),
            "HEED_JWT_SECRET": SECRET,
        }
        log = (work / "serve.log").open("w")
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "api.cli", "serve", "--watch", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            token = subprocess.run(  # noqa: S603
                [sys.executable, "-m", "api.cli", "token", *TOKEN_ARGS],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            url = f"http://127.0.0.1:{port}/graphql"
            deadline = time.monotonic() + 60
            while _title(url, token) is None:
                if time.monotonic() > deadline or server.poll() is not None:
                    output = (work / "serve.log").read_text()[-3000:]
                    raise RuntimeError(f"the server did not start:\n{output}")
                time.sleep(0.1)
            path = content / TIP
            original = path.read_text()
            latencies = []
            for n in range(rounds):
                time.sleep(1.0)  # let the watcher settle between edits
                title = f"The card was declined, edit {n}"
                path.write_text(original.replace("The card was declined", title, 1))
                saved = time.monotonic()
                while _title(url, token) != title:
                    if time.monotonic() - saved > 20:
                        raise RuntimeError(f"edit {n} never showed")
                    time.sleep(0.005)
                latencies.append(time.monotonic() - saved)
            return latencies
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
            print("".join(line for line in (work / "serve.log").open() if "INFO:" not in line))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    latencies = measure(args.rounds)
    print(" ".join(f"{value:.3f}" for value in latencies))
    print(
        f"median {statistics.median(latencies):.3f} s, min {min(latencies):.3f} s, "
        f"max {max(latencies):.3f} s over {len(latencies)} edits"
    )


if __name__ == "__main__":
    main()
