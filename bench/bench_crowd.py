"""Eight honest visitors asking about videos while one client runs each attack of issue 32 in turn.

    python -m bench.bench_crowd [--seconds 30] [--app-dir DIR] [--old]

Serves `python app.py --model tiny` (from this checkout, or from `--app-dir`, e.g. a worktree of an
older commit; `--old` leaves out the flags it does not know) on 127.0.0.1 in its own process with
its own upload folder. Each visitor has an address of its own, sent as X-Forwarded-For (the server
believes it from 127.0.0.1; no traffic goes anywhere else). For each phase (`--seconds` long): the
honest visitors' time to first token (from the request to the first streamed words of `/ask`, an
upload of a 2-second clip included), median and 95th percentile, their failures, and the server's
peak resident memory above where it stood. Baseline: the quiet phase, no attacker. Goal: p95
within 2x of the quiet run, peak memory within 2 GB of it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from tests.support.app_process import status_kb  # noqa: E402
from tests.support.videos import make_video  # noqa: E402
from tests.support.vllm_server import free_port, stop_group, wait_until_up  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HONEST = 8
ANSWER_TIMEOUT_S = 60  # an honest answer not done by then is a failure
NEW_FLAGS = ["--trusted-proxies", "127.0.0.1", "--media-seconds", "20"]


class Server:
    """`python app.py --model tiny` in its own process and upload folder."""

    def __init__(self, app_dir: Path, folder: Path, flags: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "app.log"
        env = {**os.environ, "GRADIO_TEMP_DIR": str(folder / "uploads"), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "app.py", "--model", "tiny", "--port", str(self.port), "--frames", "4"]
        command += ["--max-new-tokens", "64", "--uploads-gb", "0.3", *flags]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_until_up(self.process, self.url + "/config", self.log_path, "the app", 120)

    def kb(self, field: str) -> int:
        return status_kb(self.process.pid, field)

    def reset_peak(self) -> float:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        return self.kb("VmRSS") / 1024

    def stop(self) -> None:
        stop_group(self.process, wait_s=20)


def honest_visitor(url: str, address: str, video: Path, until: float, ttfts: list, failures: list) -> None:
    """Ask about the clip again and again until `until`; record each time to the first words."""
    client = Client(url, verbose=False, download_files=False, headers={"X-Forwarded-For": address})
    while time.monotonic() < until:
        began = time.perf_counter()
        try:
            job = client.submit(
                files=[handle_file(str(video))], question="What happens?", max_new_tokens=16, api_name="/ask"
            )
            first = None
            while not job.done() and time.perf_counter() - began < ANSWER_TIMEOUT_S:
                if first is None and any(partial and partial.strip() for partial in job.outputs()):
                    first = time.perf_counter() - began
                time.sleep(0.01)
            job.result(timeout=1)
            ttfts.append(first if first is not None else time.perf_counter() - began)
        except Exception as exc:  # noqa: BLE001 - counted as a failure of an honest visitor
            failures.append(type(exc).__name__)
            time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# The attacks, each run in a loop until the phase ends


def attack_needle(url: str, media: Path, until: float) -> None:
    """Two visitors at a time send a 76 KB PNG of 1 x 39,000,000 pixels."""
    png = media / "needle.png"

    def one(address: str) -> None:
        client = Client(url, verbose=False, download_files=False, headers={"X-Forwarded-For": address})
        while time.monotonic() < until:
            try:
                client.predict(files=[handle_file(str(png))], question="What?", max_new_tokens=4, api_name="/ask")
            except Exception:  # noqa: BLE001, S110 - an attacker's refusal is the point
                pass

    threads = [threading.Thread(target=one, args=(f"203.0.113.{i}",)) for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def attack_flood(url: str, media: Path, until: float) -> None:
    """Joins of /ask whose results are never read, 40 at a time, again every 0.3 s."""
    config = httpx.get(url + "/config").json()
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "ask")
    with httpx.Client(timeout=10, headers={"X-Forwarded-For": "203.0.113.9"}) as http:
        i = 0
        while time.monotonic() < until:
            for _ in range(40):
                i += 1
                body = {"data": ["What?", [], 4, 64, 0.0, 0.9, False], "fn_index": fn, "session_hash": f"flood{i:010d}"}
                try:
                    http.post(url + "/gradio_api/queue/join", json={**body, "event_data": None, "trigger_id": None})
                except httpx.HTTPError:
                    pass
            time.sleep(0.3)


def attack_chunked(url: str, media: Path, until: float) -> None:
    """Six 30 MB uploads at a time from one client, sent chunked (no Content-Length)."""

    def body():
        yield b'--XX\r\nContent-Disposition: form-data; name="files"; filename="a.mp4"\r\n'
        yield b"Content-Type: video/mp4\r\n\r\n"
        chunk = os.urandom(1 << 20)
        for _ in range(30):
            yield chunk
        yield b"\r\n--XX--\r\n"

    def one(i: int) -> None:
        headers = {"Content-Type": "multipart/form-data; boundary=XX", "X-Forwarded-For": "203.0.113.20"}
        while time.monotonic() < until:
            try:
                httpx.post(url + "/gradio_api/upload", content=body(), headers=headers, timeout=60)
            except httpx.HTTPError:
                pass

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def attack_declared(url: str, media: Path, until: float) -> None:
    """Upload headers declaring 200 MB, no body, a new one every 0.2 s, each held for 5 s."""
    port = int(url.rsplit(":", 1)[1])
    held: list[tuple[float, socket.socket]] = []
    while time.monotonic() < until:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(
            b"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 203.0.113.30\r\n"
            b"Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 200000000\r\n\r\n"
        )
        held.append((time.monotonic(), s))
        while held and time.monotonic() - held[0][0] > 5:
            held.pop(0)[1].close()
        time.sleep(0.2)
    for _, s in held:
        s.close()


def attack_gifs(url: str, media: Path, until: float) -> None:
    """/ask with the same GIF four times (a 6000x6000 canvas, 5,000 frames of 1x1), again and again."""
    gif = media / "canvas.gif"
    client = Client(url, verbose=False, download_files=False, headers={"X-Forwarded-For": "203.0.113.40"})
    while time.monotonic() < until:
        try:
            client.predict(files=[handle_file(str(gif))] * 4, question="What?", max_new_tokens=4, api_name="/ask")
        except Exception:  # noqa: BLE001, S110 - an attacker's refusal is the point
            pass


ATTACKS: dict[str, Callable[[str, Path, float], None] | None] = {
    "quiet (baseline)": None,
    "1. 1x39,000,000 PNGs, two at a time": attack_needle,
    "2. queue flood, 40 joins every 0.3 s": attack_flood,
    "3. six chunked 30 MB uploads at a time": attack_chunked,
    "3b. upload headers declaring 200 MB, every 0.2 s": attack_declared,
    "4. four 6000x6000 GIFs of 5,000 frames a request": attack_gifs,
}


def make_media(folder: Path) -> None:
    Image.new("L", (1, 39_000_000), 0).save(folder / "needle.png", optimize=True)
    frames = [Image.new("P", (1, 1), i % 256) for i in range(5000)]
    Image.new("P", (6000, 6000), 0).save(
        folder / "canvas.gif", save_all=True, append_images=frames, duration=40, loop=0, optimize=False, disposal=1
    )


def phase(server: Server, name: str, attack, video: Path, media: Path, seconds: float) -> dict:
    base = server.reset_peak()
    until = time.monotonic() + seconds
    ttfts: list[float] = []
    failures: list[str] = []
    threads = [
        threading.Thread(target=honest_visitor, args=(server.url, f"198.51.100.{i + 1}", video, until, ttfts, failures))
        for i in range(HONEST)
    ]
    if attack is not None:
        threads.append(threading.Thread(target=attack, args=(server.url, media, until), daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads[:HONEST]:
        thread.join()
    peak = server.kb("VmHWM") / 1024 - base
    time.sleep(3)  # let the attack's last requests end before the next phase
    ordered = sorted(ttfts) or [float("nan")]
    return {
        "name": name,
        "answers": len(ttfts),
        "failures": len(failures),
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "peak_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout whose app.py to serve")
    parser.add_argument("--old", action="store_true", help="an app without this round's flags")
    parser.add_argument("--only", nargs="*", help="phases whose name starts with these (the quiet one always runs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = make_video(folder / "clip.mp4", seconds=2.0, fps=10, size=(160, 96), gop=10)
        make_media(folder)
        server = Server(args.app_dir.resolve(), folder, [] if args.old else NEW_FLAGS)
        try:
            rows = []
            for name, attack in ATTACKS.items():
                if attack is not None and args.only and not name.startswith(tuple(args.only)):
                    continue
                rows.append(phase(server, name, attack, video, folder, args.seconds))
                row = rows[-1]
                print(
                    f"{row['name']}: {row['answers']} answers, {row['failures']} failed, "
                    f"median {row['median']:.2f} s, p95 {row['p95']:.2f} s, peak +{row['peak_mb']:.0f} MB",
                    flush=True,
                )
        finally:
            server.stop()
    quiet = rows[0]
    print(f"\n{HONEST} honest visitors, {args.seconds:.0f} s a phase, app from {args.app_dir}\n")
    print("| attack | honest answers | failed | median TTFT (s) | p95 TTFT (s) | p95 vs quiet | peak memory (MB) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['name']} | {row['answers']} | {row['failures']} | {row['median']:.2f} | {row['p95']:.2f} | "
            f"{row['p95'] / quiet['p95']:.2f}x | +{row['peak_mb']:.0f} |"
        )
    worst = max(rows[1:], key=lambda r: r["p95"], default=quiet)
    print(
        f"\nratio: the worst attack's p95 is {worst['p95'] / quiet['p95']:.2f}x the quiet run's (goal <= 2x); "
        f"the highest peak memory {max(r['peak_mb'] for r in rows[1:] or rows) - quiet['peak_mb']:+.0f} MB against "
        "the quiet run's (goal <= 2048)"
    )


if __name__ == "__main__":
    main()
