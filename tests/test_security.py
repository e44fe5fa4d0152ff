"""Attacks a stranger could try, replayed against `python app.py --model tiny` in a subprocess.

Each server has its own upload folder (GRADIO_TEMP_DIR) and listens on 127.0.0.1 only; every loop
is bounded in count and time. A test asserts what must hold after its attack: no file lost,
nothing written outside the upload folder, nothing of another visitor reachable, memory bounded
(read from /proc), the log free of what was sent, and other visitors still served.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from tests.support.app_process import App, launched
from tests.support.client import step
from tests.support.videos import make_video

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
SPREAD = "Spread over the video"


# ---------------------------------------------------------------------------------------------
# The server under attack (tests/support/app_process.py starts it)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("attack-media")


# Every client here comes from 127.0.0.1: the share of one address (tests/test_crowd.py tries it) is
# lifted, so that these tests meet the limits they are about.
CAMERA_FLAGS = (
    "--camera-time-limit",
    "10",
    "--camera-idle",
    "3",
    "--camera-visitors",
    "2",
    "--jobs-per-address",
    "500",
)


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_dir) -> Iterator[App]:
    with launched(tmp_path_factory.mktemp("app"), tiny_dir, *CAMERA_FLAGS) as served:
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
    job = step(client, "/send", message=message, frames=frames, pick=pick, every=every)
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
    job = step(client, "/answer", max_new_tokens=16)
    job.result(timeout=TIMEOUT)
    return job.outputs()


def player(client: Client):
    """The page's player after an answer (a video the browser cannot play: its preview)."""
    return client.predict(api_name="/player")


def ask(app: App, question: str = "What happens?", files=(), **options) -> str:
    return app.client().predict(
        files=[handle_file(str(f)) for f in files], question=question, max_new_tokens=8, api_name="/ask", **options
    )


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


def test_a_crafted_session_hash_on_the_player_step_writes_nothing(app, avi):
    """/player makes a video's browser preview; for a hash not of gradio's making it has no video."""
    outside, before = set(app.uploads.parent.iterdir()), app.files()
    for crafted in ["../../x", "../llava-video-frames"]:
        outputs = app.client(crafted).predict(api_name="/player")
        assert outputs[0].get("value") is None and not outputs[0].get("visible"), outputs  # no video, no file
    assert set(app.uploads.parent.iterdir()) == outside and app.files() == before
    still_serving(app, avi)


def urls_in(outputs) -> str:
    return json.dumps(outputs, default=str)


def test_no_url_of_a_visitor_names_them_and_the_same_upload_gets_its_own_preview(app, avi):
    """Before: visitor B who uploaded A's AVI was handed a preview URL holding A's session hash."""
    a, b = app.client(), app.client()
    a_out = send(a, "What happens?", [avi]) + answer(a) + [player(a)]
    b_out = send(b, "What happens?", [avi]) + answer(b) + [player(b)]
    for name, outputs in (("A", a_out), ("B", b_out)):
        text = urls_in(outputs)
        assert a.session_hash not in text and b.session_hash not in text, f"{name}'s page names a session"
    previews = {urls_in(o[-1][0]) for o in (a_out, b_out)}  # the player, made beside the answer
    assert len(previews) == 2 and all("previews" in p for p in previews), previews  # each in its own folder


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


# ---------------------------------------------------------------------------------------------
# Pixels: every decoded thing is bounded by its pixels


def test_a_needle_thin_video_holds_megabytes_not_gigabytes(app, media, video):
    """Before: a 16x16000 MJPEG AVI of 273 KB held +640 MB with 2 frames (peak +1.8 GB); 16 frames
    extrapolated past 10 GB."""
    needle = make_video(media / "needle.avi", seconds=2, fps=8, size=(16, 16000), codec="mjpeg", gop=1)
    assert needle.stat().st_size < 1_000_000
    before = app.rss_mb()
    app.reset_peak()
    assert ask(app, "What is this?", [needle], frames=16).strip()
    peak = app.peak_mb() - before
    print(f"needle video, 16 frames: peak +{peak:.0f} MB")
    assert peak < 300, f"peak +{peak:.0f} MB"
    still_serving(app, video)


def png_bomb_40mp(path: Path) -> Path:
    """A 40-megapixel PNG of one colour: about 130 KB on disk."""
    Image.new("RGB", (8000, 5000), (200, 30, 30)).save(path, optimize=True)
    return path


def test_big_images_sent_and_abandoned_hold_little(app, media, video, visitors):
    """Before: four 40-megapixel PNGs sent and abandoned held +886 MB for the session's hour."""
    images = [png_bomb_40mp(media / f"big{i}.png") for i in range(4)]
    before = app.rss_mb()
    visitor = app.client()
    visitors.append(visitor)  # the tab stays open: its conversation stays
    send(visitor, "What are these?", images)
    time.sleep(1)
    held = app.rss_mb() - before
    print(f"four 40 MP PNGs: held +{held:.0f} MB")
    assert held < 150, f"held +{held:.0f} MB"
    still_serving(app, video)


# ---------------------------------------------------------------------------------------------
# The model is shared fairly


def test_a_question_asked_during_a_long_scan_is_answered_within_seconds(app, media, video):
    """Before: a /scan of a 15-minute video in 2 s parts held the model for 142 s; a question waited 136 s."""
    long = make_video(media / "long.mp4", seconds=900, fps=1, size=(64, 48), gop=60)
    scanner = app.client().submit(long_path := handle_file(str(long)), 2.0, 32, 512, api_name="/scan")
    assert long_path
    deadline = time.monotonic() + 60
    while not scanner.outputs() and time.monotonic() < deadline:  # the scan's first parts are described
        time.sleep(0.2)
    assert scanner.outputs(), "the scan did not start"
    began = time.monotonic()
    assert ask(app, "Still there?", [video]).strip()
    waited = time.monotonic() - began
    print(f"a question during a scan: answered in {waited:.1f} s")
    assert not scanner.done(), "the scan ended before the question: nothing was measured"
    scanner.cancel()
    assert waited < 20, f"the question took {waited:.1f} s"


def camera_jpeg(index: int = 0, size=(448, 336)) -> str:
    rgb = np.full((size[1], size[0], 3), (index * 40) % 256, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def big_png() -> str:
    """A 4000x4000 PNG frame (noise: costly to decode)."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (4000, 4000, 3), dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=1
    )
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class Camera(threading.Thread):
    """A raw camera stream: joins the page's stream event, posts `frames` every `every` s (None: none)
    and records how it ended ('' while it runs)."""

    def __init__(
        self,
        app: App,
        frames: list[str | None],
        every: float = 0.5,
        gap_at: int | None = None,
        gap_s: float = 0.0,
        hold_s: float = 0.0,
    ) -> None:
        super().__init__(daemon=True)
        self.app, self.frames, self.every, self.gap_at, self.gap_s = app, frames, every, gap_at, gap_s
        self.hold_s = hold_s  # how long it stays after its last frame, before it closes the stream
        self.session = uuid.uuid4().hex[:11]
        self.ended = ""
        self.refused = ""
        self.done = threading.Event()
        config = httpx.get(f"{app.url}/config").json()
        camera = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "camera")
        self.fn = next(d["id"] for d in config["dependencies"] if [camera, "stream"] in [list(t) for t in d["targets"]])
        self.trigger = camera

    def body(self, frame: str | None) -> dict:
        value = {"url": frame, "path": None, "meta": {"_type": "gradio.FileData"}} if frame else None
        return {
            "data": [value, False],
            "event_data": None,
            "fn_index": self.fn,
            "trigger_id": self.trigger,
            "session_hash": self.session,
        }

    def listen(self, client: httpx.Client) -> None:
        with client.stream(
            "GET", f"{self.app.url}/gradio_api/queue/data", params={"session_hash": self.session}, timeout=40
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        output = message.get("output") or {}
                        self.ended = output.get("error") or "ended"
                        self.done.set()
                        return

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            try:
                response = client.post(f"{self.app.url}/gradio_api/queue/join", json=self.body(self.frames[0]))
            except httpx.HTTPError as exc:
                self.refused = f"no answer: {type(exc).__name__}"
                self.done.set()
                return
            try:
                joined = response.json()
            except ValueError:
                joined = {"status": response.status_code, "text": response.text[:200]}
            if "event_id" not in joined:
                self.refused = json.dumps(joined)
                self.done.set()
                return
            listener = threading.Thread(target=self.listen, args=(client,), daemon=True)
            listener.start()
            for i, frame in enumerate(self.frames[1:], start=1):
                if self.done.wait(self.gap_s if i == self.gap_at else self.every):
                    break
                try:
                    client.post(f"{self.app.url}/gradio_api/stream/{joined['event_id']}", json=self.body(frame))
                except httpx.HTTPError:  # the server ended the stream under it
                    break
            if not self.done.wait(self.hold_s):
                try:  # as the page does when its camera stops: the place is given back
                    client.post(f"{self.app.url}/gradio_api/stream/{joined['event_id']}/close", json={})
                except httpx.HTTPError:
                    pass
            listener.join(40)  # before the client closes under it


def test_idle_camera_joins_leave_the_queue_to_questions(app, video):
    """Before: 66 stream joins that sent no frames filled the 32 camera slots and the queue: every
    other visitor's /ask got 'Queue is full'. Now the joins past --camera-visitors (2 here) are
    refused at once, without waiting in the queue."""
    cameras = [Camera(app, [None], hold_s=8) for _ in range(66)]
    for camera in cameras:
        camera.start()
    time.sleep(2)
    began = time.monotonic()
    assert ask(app, "Still there?", [video]).strip()
    took = time.monotonic() - began
    deadline = time.monotonic() + 20  # every join is answered: refused at once, or admitted (2 of them)
    while sum(bool(c.refused) for c in cameras) < 64 and time.monotonic() < deadline:
        time.sleep(0.2)
    refused = [c for c in cameras if "camera place is taken" in c.refused]
    print(f"66 idle camera joins: {len(refused)} refused, a question answered in {took:.1f} s")
    assert len(refused) >= 60 and took < 15, (len(refused), took)
    assert not any("Queue is full" in c.refused for c in cameras)
    for camera in cameras:
        camera.join(45)


def test_costly_camera_frames_are_refused_before_decoding(app, video):
    """Before: 8 streams posting 4000x4000 PNG frames slowed another visitor's /ask from ~1 s to 45 s."""
    png = big_png()
    cameras = [Camera(app, [png] * 20, every=0.05) for _ in range(8)]
    for camera in cameras:
        camera.start()
    began = time.monotonic()
    assert ask(app, "Still there?", [video]).strip()
    took = time.monotonic() - began
    for camera in cameras:
        camera.done.wait(30)
    print(f"8 streams of 4000x4000 PNGs: a question answered in {took:.1f} s")
    outcomes = [c.ended or c.refused for c in cameras]
    assert all(re.search("not a JPEG|camera place is taken|too large", o, re.I) for o in outcomes), outcomes
    assert took < 15, f"the question took {took:.1f} s"


def test_a_camera_run_is_bounded_in_time_silence_and_number(app):
    """Before: a stream had no time limit, a frame every 10 s kept one alive for ever, and one
    visitor could hold every camera place."""
    frames = [camera_jpeg(i) for i in range(40)]
    steady = Camera(app, frames, every=0.5)  # runs past --camera-time-limit 10
    steady.start()
    time.sleep(1.5)
    twice = Camera(app, frames[:4], every=0.5)
    twice.session = steady.session  # the same tab joins again: one camera a visitor
    twice.start()
    silent = Camera(app, frames[:3], every=0.5, gap_at=2, gap_s=5, hold_s=5)  # nothing for 5 s (--camera-idle 3)
    silent.start()
    time.sleep(1.5)
    third = Camera(app, frames[:4], every=0.5)  # --camera-visitors 2: no place left
    third.start()
    for camera in (steady, twice, silent, third):
        assert camera.done.wait(25), "the camera run was not ended"
    assert "This tab's camera is already streaming" in twice.refused, twice.refused
    assert "ran for its 10 s" in steady.ended, steady.ended
    assert "sent no picture for 3 s" in silent.ended, silent.ended
    assert "Every camera place is taken (2 at a time)" in third.refused, third.refused


def test_zero_seconds_between_frames_is_a_clear_warning(app, video):
    """Before: 'Seconds between frames' = 0 gave gradio's raw 'Value 0 is less than minimum value
    0.1' toast and a traceback in the log; a negative value is refused the same way."""
    for every in (0, -3):
        job = submit_send(app.client(), "What happens?", [video], pick="One every N seconds", every=every)
        assert toasts(job) == ["The seconds between frames must be more than 0."]
        assert all(o[1] == [] for o in job.outputs()), "the chat changed"
    assert "Traceback" not in app.log_text()


# ---------------------------------------------------------------------------------------------
# The disk and the log stay bounded


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory, tiny_dir) -> Iterator[App]:
    """A server whose files live 4 s, that takes 30 uploads a minute and 0.06 GiB of uploads in all."""
    with launched(
        tmp_path_factory.mktemp("short"),
        tiny_dir,
        "--file-ttl",
        "4",
        "--uploads-per-minute",
        "30",
        "--uploads-gb",
        "0.06",
    ) as served:
        yield served


def abort_upload(app: App, sent: int = 1_000_000, claimed: int = 10_000_000) -> None:
    """Start a multipart upload claiming `claimed` bytes, send `sent` of them, and hang up."""
    head = b'--XX\r\nContent-Disposition: form-data; name="files"; filename="a.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    with socket.create_connection(("127.0.0.1", app.port), timeout=5) as s:
        s.sendall(
            b"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
            b"boundary=XX\r\nContent-Length: " + str(claimed).encode() + b"\r\n\r\n" + head + b"x" * sent
        )
        time.sleep(0.5)


def partials(app: App) -> list[Path]:
    return [p for p in app.uploads.glob("tmp*") if p.is_file()]


def test_aborted_uploads_are_swept_and_leave_no_traceback(short_lived, wait_until):
    """Before: six aborted 10 MB uploads filled a 60 MB upload folder for good (every later upload
    got HTTP 500), and each logged a 70-line traceback."""
    for _ in range(6):
        abort_upload(short_lived)
    assert wait_until(lambda: partials(short_lived), 5), "the partial uploads were not written"
    print(f"aborted uploads: {len(partials(short_lived))} partial files")
    assert wait_until(lambda: not partials(short_lived), 15), [p.name for p in partials(short_lived)]
    log = short_lived.log_text()
    assert "Traceback" not in log and "ClientDisconnect" not in log, log[-2000:]


def uploads(app: App, address: str, path: Path, count: int) -> list[int]:
    """The status of `count` uploads of `path`, one after another, sent from `address`."""
    with httpx.Client(timeout=30, transport=httpx.HTTPTransport(local_address=address)) as client:
        return [
            client.post(f"{app.url}/gradio_api/upload", files={"files": ("u.mp4", path.read_bytes())}).status_code
            for _ in range(count)
        ]


def test_uploads_are_bounded_in_rate_and_in_disk(short_lived, media):
    """Before: 10,000 uploads in 10 s were accepted with no limit but the file time-to-live. Each
    part comes from an address of its own (the loopback range is all this machine's)."""
    small = media / "small.bin"
    small.write_bytes(b"x" * 1000)
    codes = uploads(short_lived, "127.0.0.2", small, 40)
    print(f"40 uploads in a burst: {codes.count(200)} taken, {codes.count(429)} refused")
    assert codes == [200] * 30 + [429] * 10, codes
    big = media / "big.bin"
    big.write_bytes(np.random.default_rng(3).integers(0, 256, 9_000_000, dtype=np.uint8).tobytes())
    codes = [uploads(short_lived, f"127.0.0.{10 + i}", big, 1)[0] for i in range(9)]  # 9 visitors
    print(f"9 uploads of 9 MB into 0.06 GiB: {codes}")
    assert codes == [200] * 7 + [507] * 2, codes  # 0.06 GiB is 64.4 MB


def queue_join(app: App, fn_index: int, data: list, session: str) -> httpx.Response:
    return httpx.post(
        f"{app.url}/gradio_api/queue/join",
        timeout=30,
        json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None},
    )


def event_end(app: App, session: str) -> dict:
    with httpx.stream("GET", f"{app.url}/gradio_api/queue/data", params={"session_hash": session}, timeout=30) as s:
        for line in s.iter_lines():
            if line.startswith("data:") and "process_completed" in line:
                return json.loads(line[5:])
    return {}


def test_the_log_holds_nothing_a_request_sent(app, video):
    """Before: a request with the wrong number of inputs was logged with its inputs verbatim, and a
    200 MB JSON body made a 209 MB log and +0.95 GB of memory that stayed."""
    config = httpx.get(f"{app.url}/config").json()
    send_fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "send")
    session = uuid.uuid4().hex
    assert queue_join(app, send_fn, ["my password is hunter2"], session).status_code == 200
    end = event_end(app, session)
    assert end.get("success") is False and "hunter2" not in app.log_text()
    before = app.rss_mb()
    huge = b'{"data": ["' + b"A" * 200_000_000 + b'"], "fn_index": 0, "session_hash": "abcdefgh"}'
    response = httpx.post(
        f"{app.url}/gradio_api/queue/join", content=huge, timeout=60, headers={"content-type": "application/json"}
    )
    grown = app.rss_mb() - before
    print(f"a 200 MB body: HTTP {response.status_code}, +{grown:.0f} MB, log {len(app.log_text()) // 1024} KB")
    assert response.status_code == 413 and grown < 50
    log = app.log_text()
    assert "hunter2" not in log and "AAAAAAAA" not in log and "Traceback" not in log, log[-2000:]
    assert len(log) < 200_000
    still_serving(app, video)


# ---------------------------------------------------------------------------------------------
# The page loads nothing from elsewhere


@contextmanager
def beacon() -> Iterator[tuple[int, list[str]]]:
    """An HTTP server on another local port that records every request it gets."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_in_the_chat_makes_a_browser_fetch_or_post_elsewhere(app, media, video):
    """Before: a question holding ![i](http://host/beacon) made the viewer's browser fetch it, a
    <form action=…> rendered and posted on click, and entities in a file name became a link."""
    from playwright.sync_api import expect

    from tests.support.browser import chromium, wait_for_answer_end

    with beacon() as (port, hits), chromium() as browser:
        host = f"127.0.0.1:{port}"
        named = media / f"&#47;&#47;{host.replace(':', '&#58;')}&#47;beacon-name.mp4"
        named.write_bytes(video.read_bytes())
        page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
        page.set_default_timeout(30_000)
        response = page.goto(app.url)
        assert "img-src 'self'" in response.headers.get("content-security-policy", "")
        page.locator("#question input[type=file]").set_input_files([str(named)])
        expect(page.locator('#question [aria-label="File thumbnail"]')).to_have_count(1)
        page.locator("#question textarea").fill(
            f'![i](http://{host}/beacon-markdown) <img src="http://{host}/beacon-tag"> '
            f'<form action="http://{host}/beacon-form" method="post"><button id="evil">go</button></form> '
            f'<video src="http://{host}/beacon-video"></video> <link rel=stylesheet href="http://{host}/beacon-css">'
        )
        page.locator("#question textarea").press("Enter")
        wait_for_answer_end(page)
        if page.locator("#evil").count():
            page.locator("#evil").first.click(no_wait_after=True)
        page.wait_for_timeout(1500)
        links = page.eval_on_selector_all("#chat a[href]", "els => els.map(e => e.href)")
        page.screenshot(path=str(ROOT / "test-artifacts" / "browser" / "security-chat.png"))
    assert not hits, f"the page reached another host: {hits}"
    assert not [href for href in links if urlsplit(href).netloc == host], links
