"""Live camera visitors: how many one server holds while another visitor asks.

    python -m bench.bench_camera [--visitors 0 8 16 32 48] [--asks 5]

Starts `python app.py --model tiny` (its own process, so only its memory is measured), then for
each count of camera visitors: that many simulated browsers stream 448x336 JPEG frames through
gradio's own streaming routes (queue/join, then /stream/<event> every 0.5 s, each waiting for the
server to take its previous frame, as the page does), and meanwhile another visitor asks `/ask`
about a 2-second video `--asks` times. Prints the frames taken per camera per second (the page
sends 2), the other visitor's answer time (median / worst) against no cameras, and the server's
memory. Also prints one ring's bytes at a full window, measured on the ring itself.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from model.camera.frames import FrameRing, decode_frame, frame_bytes_bound  # noqa: E402
from model.settings import MAX_CAMERA_VISITORS  # noqa: E402
from tests.support.videos import make_video  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PORT = 7871
MB = 2**20
EVERY_S = 0.5  # the page's stream_every


def camera_jpeg(index: int) -> str:
    """A 448x336 JPEG data URL with some detail (a camera frame compresses about like this)."""
    y, x = np.mgrid[0:336, 0:448]
    rgb = np.stack([(x + 7 * index) % 256, (y * 2) % 256, ((x + y) // 3 + index) % 256], axis=2).astype(np.uint8)
    rgb[100:200, (index * 9) % 300 : (index * 9) % 300 + 120] = (230, 40, 40)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def stream_ids(url: str) -> tuple[int, int]:
    """(fn index of the camera's stream event, the camera component's id), from the page's config."""
    config = httpx.get(f"{url}/config").json()
    camera = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "camera")
    for dep in config["dependencies"]:
        if [camera, "stream"] in [list(t) for t in dep["targets"]]:
            return dep["id"], camera
    raise RuntimeError("no stream event on the camera")


class Camera(threading.Thread):
    """One simulated browser streaming its camera until `stop` is set."""

    def __init__(self, url: str, fn: int, trigger: int, frames: list[str], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.fn, self.trigger, self.frames, self.stop = url, fn, trigger, frames, stop
        self.session = uuid.uuid4().hex[:11]
        self.taken = 0
        self.started_at: float | None = None
        self.took = threading.Event()
        self.refused = False  # gradio answered "Queue is full" to its join

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
            "GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session}, timeout=None
        ) as response:
            for line in response.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_streaming":
                        self.taken += 1
                        self.took.set()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            joined = client.post(f"{self.url}/gradio_api/queue/join", json=self.body(None)).json()
            if "event_id" not in joined:
                self.refused = True
                return
            event_id = joined["event_id"]
            threading.Thread(target=self.listen, args=(client,), daemon=True).start()
            self.took.wait(30)  # the stream runs (the first, empty chunk was taken)
            self.taken, self.started_at, i = 0, time.monotonic(), 0
            while not self.stop.is_set():
                began = time.monotonic()
                self.took.clear()
                client.post(
                    f"{self.url}/gradio_api/stream/{event_id}", json=self.body(self.frames[i % len(self.frames)])
                )
                self.took.wait(10)  # the page sends its next frame once the last one was taken
                i += 1
                self.stop.wait(max(0.0, EVERY_S - (time.monotonic() - began)))
            client.post(f"{self.url}/gradio_api/stream/{event_id}/close", json={})

    def rate(self) -> float:
        return self.taken / max(time.monotonic() - (self.started_at or time.monotonic()), 1e-6)


def ask_times(url: str, video: Path, asks: int) -> list[float]:
    client = Client(url, verbose=False, download_files=False)
    times = []
    for _ in range(asks):
        began = time.monotonic()
        client.predict(
            files=[handle_file(str(video))], question="What happens?", frames=8, max_new_tokens=64, api_name="/ask"
        )
        times.append(time.monotonic() - began)
    return times


def ring_at_full_window() -> int:
    """Bytes of one ring fed 448x336 frames at the page's rate for longer than its window."""
    ring, frame = FrameRing(), decode_frame(camera_jpeg(0))
    for i in range(40):
        ring.add(frame, now=i * EVERY_S)
    return ring.nbytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=[0, 8, 16, 32])
    parser.add_argument("--asks", type=int, default=5)
    args = parser.parse_args()
    print(
        f"one ring at a full 8 s window, 448x336 at 2 frames/s: {ring_at_full_window() / MB:.2f} MiB "
        f"(bound whatever a browser sends: {frame_bytes_bound() / MB:.2f} MiB)"
    )
    url = f"http://127.0.0.1:{PORT}"
    server = subprocess.Popen(
        [
            sys.executable,
            "app.py",
            "--model",
            "tiny",
            "--port",
            str(PORT),
            "--camera-visitors",
            str(min(MAX_CAMERA_VISITORS, max(max(args.visitors), 1))),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the app did not start")
            time.sleep(0.5)
        fn, trigger = stream_ids(url)
        frames = [camera_jpeg(i) for i in range(8)]
        video = make_video(Path("/tmp") / "bench_camera.mp4", seconds=2.0)
        ask_times(url, video, 2)  # warm-up
        process = psutil.Process(server.pid)
        baseline = None
        print(
            "| cameras (refused: queue full) | frames taken per camera per s (min / median) "
            "| other visitor's answer, median / worst | server memory |"
        )
        print("|---|---|---|---|")
        for count in args.visitors:
            stop = threading.Event()
            cameras = [Camera(url, fn, trigger, frames, stop) for _ in range(count)]
            for camera in cameras:
                camera.start()
            time.sleep(10 if count else 1)  # every ring holds a full window
            times = ask_times(url, video, args.asks)
            rates = [camera.rate() for camera in cameras if not camera.refused]
            refused = sum(camera.refused for camera in cameras)
            rss = process.memory_info().rss / MB
            stop.set()
            for camera in cameras:
                camera.join(15)
            median, worst = statistics.median(times), max(times)
            baseline = baseline or median
            rate = f"{min(rates):.2f} / {statistics.median(rates):.2f}" if rates else "-"
            print(
                f"| {count} ({refused} refused) | {rate} "
                f"| {median:.2f} s ({median / baseline:.2f}x) / {worst:.2f} s | {rss:,.0f} MB |",
                flush=True,
            )
            time.sleep(3)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
