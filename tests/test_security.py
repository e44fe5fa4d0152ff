"""Attacks a stranger could try, replayed against `python app.py --model tiny` in a subprocess.

Each server has its own upload folder (GRADIO_TEMP_DIR) and listens on 127.0.0.1 only; every loop
is bounded in count and time. A test asserts what must hold after its attack: no file lost,
nothing written outside the upload folder, nothing of another visitor reachable, memory bounded
(read from /proc), the log free of what was sent, and other visitors still served.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gradio_client import Client, handle_file

from tests.videos import make_video

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
SPREAD = "Spread over the video"


# ---------------------------------------------------------------------------------------------
# The server under attack


@dataclass
class App:
    url: str
    port: int
    proc: subprocess.Popen
    uploads: Path  # its GRADIO_TEMP_DIR
    log: Path

    def client(self, session_hash: str | None = None) -> Client:
        client = Client(self.url, verbose=False, download_files=False)
        if session_hash is not None:
            client.session_hash = session_hash
        return client

    def status_kb(self, field: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

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
    env = {**os.environ, "GRADIO_TEMP_DIR": str(uploads), "LLAVA_TINY_DIR": str(tiny_dir),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--model", "tiny", "--port", str(port), "--frames", "4",
                                 "--max-new-tokens", "64", *flags], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
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


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("attack-media")


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_dir) -> Iterator[App]:
    with launched(tmp_path_factory.mktemp("app"), tiny_dir) as served:
        yield served


@pytest.fixture(scope="module")
def visitors() -> Iterator[list[Client]]:
    """Clients kept open until the module ends."""
    kept: list[Client] = []
    yield kept
    kept.clear()


@pytest.fixture(scope="module")
def video(media) -> Path:
    return make_video(media / "clip.mp4", seconds=2.0, fps=10, size=(160, 96), gop=10)


@pytest.fixture(scope="module")
def avi(media) -> Path:
    """A video browsers cannot play: the page makes it a preview."""
    return make_video(media / "clip.avi", seconds=2.0, fps=10, size=(160, 96), gop=10, codec="mpeg4")


def submit_send(client: Client, text: str, files=(), frames: int = 4, pick: str = SPREAD, every: float = 2.0):
    """The page's /send, run to its end; returns the finished job."""
    message = {"text": text, "files": [handle_file(str(f)) for f in files]}
    job = client.submit(message, frames, False, "", "", False, pick, every, True, False, api_name="/send")
    job.result(timeout=TIMEOUT)
    return job


def send(client: Client, text: str, files=(), frames: int = 4) -> list:
    """The page's /send; returns every update it streamed."""
    return submit_send(client, text, files, frames).outputs()


def toasts(job) -> list[str]:
    """The gr.Warning/gr.Info texts a finished job received."""
    texts = []
    while not job.communicator.updates.empty():
        log = getattr(job.communicator.updates.get_nowait(), "log", None)
        if log:
            texts.append(log[0])
    return texts


def answer(client: Client) -> list:
    job = client.submit(16, 0.0, 0.9, api_name="/answer")
    job.result(timeout=TIMEOUT)
    return job.outputs()


def ask(app: App, question: str = "What happens?", files=(), **options) -> str:
    return app.client().predict(files=[handle_file(str(f)) for f in files], question=question,
                                max_new_tokens=8, api_name="/ask", **options)


def still_serving(app: App, video: Path) -> None:
    assert ask(app, "Still there?", [video]).strip()


def raw_get(app: App, path: str, read_s: float = 1.0) -> bytes:
    """A GET sent byte for byte (no client normalises the path), then the connection closed."""
    with socket.create_connection(("127.0.0.1", app.port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        s.settimeout(read_s)
        try:
            return s.recv(4096)
        except TimeoutError:
            return b""


def wait_until(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


# ---------------------------------------------------------------------------------------------
# Session hashes are keys, never paths


@pytest.mark.parametrize("crafted", ["..", ".", "%2e%2e", "..%2f..", "llava-video-frames"])
def test_a_closed_heartbeat_with_a_crafted_session_deletes_nothing(app, video, avi, crafted, visitors):
    """Before: `GET /gradio_api/heartbeat/..` then closing the connection removed every visitor's files."""
    visitor = app.client()
    visitors.append(visitor)  # kept open: a client that goes away frees its own files, rightly
    send(visitor, "What happens?", [video])
    answer(visitor)
    send(visitor, "And here?", [avi])
    answer(visitor)
    before = app.files()
    assert len(before) >= 10
    raw_get(app, f"/gradio_api/heartbeat/{crafted}")
    time.sleep(2.0)  # the unload handlers run as the connection closes
    assert app.files() >= before, f"{len(before - app.files())} files were deleted"
    assert httpx.get(f"{app.url}/gradio_api/file={ROOT / 'assets' / 'clock.mp4'}").status_code == 200
    still_serving(app, video)


@pytest.mark.parametrize("crafted", ["../../x", "../llava-video-frames", "a/b", "x" * 300])
def test_a_crafted_session_hash_writes_nothing_and_is_told_to_reload(app, video, crafted):
    """Before: a session hash '../../x' put frame images and previews outside the upload folder."""
    outside = set(app.uploads.parent.iterdir())
    before = app.files()
    job = submit_send(app.client(crafted), "What happens?", [video])
    assert set(app.uploads.parent.iterdir()) == outside, "something was written beside the upload folder"
    written = {p for p in app.files() - before if "llava-video-frames" in str(p)}
    assert not written, written
    assert all(o[1] == {"__type__": "update"} for o in job.outputs()), "the chat changed"
    assert toasts(job) == ["This page's session is not valid; please reload the page."]
    still_serving(app, video)


def urls_in(outputs) -> str:
    return json.dumps(outputs, default=str)


def test_no_url_of_a_visitor_names_them_and_the_same_upload_gets_its_own_preview(app, avi):
    """Before: visitor B who uploaded A's AVI was handed a preview URL holding A's session hash."""
    a, b = app.client(), app.client()
    a_out = send(a, "What happens?", [avi]) + answer(a)
    b_out = send(b, "What happens?", [avi]) + answer(b)
    for name, outputs in (("A", a_out), ("B", b_out)):
        text = urls_in(outputs)
        assert a.session_hash not in text and b.session_hash not in text, f"{name}'s page names a session"
    players = [urls_in(o[2]) for o in a_out + b_out if isinstance(o, (list, tuple)) and len(o) > 2]  # /send's player
    previews = {p for p in players if "previews" in p}
    assert len(previews) == 2, players  # one preview each, in each conversation's own folder


def test_a_visitor_cannot_reach_another_chat_by_the_urls_it_shows(app, video):
    """The only credential of the page's steps is the session hash, which no URL carries: the
    folder names in a visitor's URLs are not a way into their chat."""
    a = app.client()
    shown = urls_in(send(a, "Secret question about my video", [video]) + answer(a))
    folders = {part for part in re.split(r"[/\\\"=]", shown) if re.fullmatch(r"[A-Za-z0-9_-]{8,128}", part)}
    assert len(folders) > 2, "the chat shows frame images"
    for guess in folders:
        outputs = send(app.client(guess), "", [])
        assert "Secret question" not in urls_in(outputs)
