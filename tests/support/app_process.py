"""`python app.py --model tiny` in a process of its own, for attack tests: its own upload folder
(GRADIO_TEMP_DIR) and log, 127.0.0.1 only, its memory read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from gradio_client import Client

ROOT = Path(__file__).resolve().parents[2]


def status_kb(pid: int, field: str) -> int:
    """A field of /proc/PID/status in kB (VmRSS: resident now, VmHWM: its peak since the last reset)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@dataclass
class App:
    url: str
    port: int
    proc: subprocess.Popen
    uploads: Path  # its GRADIO_TEMP_DIR
    log: Path

    def client(self, session_hash: str | None = None, address: str | None = None) -> Client:
        """A gradio client; with `address`, sent as X-Forwarded-For (believed only by a server started
        with --trusted-proxies 127.0.0.1: a header, no traffic to that address)."""
        headers = {"X-Forwarded-For": address} if address else None
        client = Client(self.url, verbose=False, download_files=False, headers=headers)
        if session_hash is not None:
            client.session_hash = session_hash
        return client

    def status_kb(self, field: str) -> int:
        return status_kb(self.proc.pid, field)

    def reset_peak(self) -> None:
        """Start measuring peak memory (VmHWM) from now on."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def peak_mb(self) -> float:
        return self.status_kb("VmHWM") / 1024

    def rss_mb(self) -> float:
        return self.status_kb("VmRSS") / 1024

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def files(self) -> set[Path]:
        return {p for p in self.uploads.rglob("*") if p.is_file()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def launched(tmp: Path, tiny_dir: Path, *flags: str) -> Iterator[App]:
    """`python app.py --model tiny` on a free local port, its own upload folder and log."""
    uploads, log = tmp / "uploads", tmp / "app.log"
    uploads.mkdir(parents=True)
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_TEMP_DIR": str(uploads),
        "LLAVA_TINY_DIR": str(tiny_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "app.py",
                "--model",
                "tiny",
                "--port",
                str(port),
                "--frames",
                "4",
                "--max-new-tokens",
                "64",
                *flags,
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    app = App(f"http://127.0.0.1:{port}", port, proc, uploads, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, app.log_text()[-3000:]
            try:
                if httpx.get(app.url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.3)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
