"""The page against the model: how long each answer takes to appear in a real browser.

    python -m bench.bench_page [--turns 3] [--frames 16] [--tokens 256] [--videos A.mp4 B.mp4 ...]

Starts `python app.py --model tiny` on 127.0.0.1 and drives Debian's Chromium through Playwright
(1280x1000): one conversation, each turn uploads the next video and asks about it. The page time of
a turn runs from pressing Enter to the finished answer (its stats line) being on the screen. Then
the same file and question go through `/ask` (gradio_client, upload included), the baseline: the
model's own speed with no page in between. Prints per turn the page time, the `/ask` time, their
ratio, the target (1.2 x /ask + 0.5 s), the server's CPU seconds during the page turn and during /ask, and how long
the browser's main thread was busy then (Chromium's TaskDuration): where the page's time goes.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from tests.support.browser import CHROMIUM, FLAGS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = [ROOT / "assets" / name for name in ("bouncing_ball.mp4", "traffic_light.mp4", "clock.mp4")]
QUESTION = "Describe this video in detail."
# true once the chat shows `n` finished answers (each ends with its stats line)
FINISHED_JS = "n => (document.querySelector('#chat')?.innerText.match(/tok\\/s/g) || []).length >= n"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, frames: int, tokens: int, log_path: Path) -> subprocess.Popen:
    """`python app.py --model tiny` on 127.0.0.1:port; returns once its page answers."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        "app.py",
        "--model",
        "tiny",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--frames",
        str(frames),
        "--max-new-tokens",
        str(max(tokens, 16)),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("app.py did not start within 300 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def set_number(page, elem_id: str, value: int) -> None:
    """Type a value into a slider's number box."""
    field = page.locator(f"#{elem_id} input[type=number]")
    field.fill(str(value))
    field.press("Enter")


def browser_task_seconds(cdp) -> float:
    """Seconds the page's main thread has been busy so far (Chromium's TaskDuration)."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return metrics["TaskDuration"]


def page_turn(page, video: Path, turn: int, timeout_s: float) -> float:
    """Upload, ask, and time from Enter to the finished answer on the screen."""
    page.locator("#question input[type=file]").set_input_files([str(video)])
    page.locator('#question [aria-label="File thumbnail"]').first.wait_for()
    box = page.locator("#question textarea")
    box.fill(QUESTION)
    began = time.perf_counter()
    box.press("Enter")
    page.wait_for_function(FINISHED_JS, arg=turn, polling=20, timeout=timeout_s * 1000)
    return time.perf_counter() - began


def ask_time(url: str, video: Path, frames: int, tokens: int) -> float:
    """Seconds for /ask to answer the same question about the same file."""
    client = Client(url, verbose=False, download_files=False)
    began = time.perf_counter()
    client.predict(
        files=[handle_file(str(video))],
        question=QUESTION,
        frames=frames,
        max_new_tokens=tokens,
        temperature=0.0,
        top_p=0.9,
        api_name="/ask",
    )
    return time.perf_counter() - began


def new_tokens(page, turn: int) -> str:
    """The 'N new' count from the stats line of answer `turn` (1-based)."""
    found = re.findall(r"(\d+) new", page.locator("#chat").inner_text())
    return found[turn - 1] if len(found) >= turn else "?"


def main(argv: list[str] | None = None) -> None:
    """Run the conversation in Chromium and /ask side by side; print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=3)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--tokens", type=int, default=256, help="max new tokens per answer")
    p.add_argument("--videos", nargs="+", type=Path, default=VIDEOS)
    p.add_argument("--timeout", type=float, default=180.0, help="seconds one page turn may take")
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="bench_page_")) / "app.log"
    app = start_app(port, args.frames, args.tokens, log_path)
    rows = []
    try:
        ask_time(url, args.videos[0], args.frames, args.tokens)  # warm-up: first-call costs out of the table
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator("#question textarea").wait_for()
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            set_number(page, "max-new-tokens", args.tokens)
            set_number(page, "frames-per-video", args.frames)
            for turn in range(1, args.turns + 1):
                video = args.videos[(turn - 1) % len(args.videos)]
                cpu_before, busy_before = cpu_seconds(app.pid), browser_task_seconds(cdp)
                page_s = page_turn(page, video, turn, args.timeout)
                server_cpu = cpu_seconds(app.pid) - cpu_before
                browser_busy = browser_task_seconds(cdp) - busy_before
                tokens = new_tokens(page, turn)
                page.locator("#question textarea:enabled").wait_for()
                cpu_before = cpu_seconds(app.pid)
                api_s = ask_time(url, video, args.frames, args.tokens)
                api_cpu = cpu_seconds(app.pid) - cpu_before
                rows.append((turn, video.name, page_s, api_s, server_cpu, api_cpu, browser_busy, tokens))
                print(f"turn {turn}: page {page_s:.2f} s, /ask {api_s:.2f} s", flush=True)
            page.screenshot(path=str(log_path.parent / "page.png"), full_page=True)
            browser.close()
    finally:
        app.terminate()
        app.wait(30)
    print(
        f"\nBaseline: /ask (same file and question, no page). {args.frames} frames, "
        f"at most {args.tokens} new tokens, greedy, tiny checkpoint, Chromium 1280x1000."
    )
    print(
        f"{'turn':>4}  {'video':<18} {'page s':>7} {'/ask s':>7} {'ratio':>6} {'target s':>8} "
        f"{'ok':>3} {'server cpu s':>12} {'/ask cpu s':>10} {'page busy s':>11} {'new tok':>7}"
    )
    for turn, name, page_s, api_s, cpu, api_cpu, busy, tokens in rows:
        target = 1.2 * api_s + 0.5
        print(
            f"{turn:>4}  {name:<18} {page_s:>7.2f} {api_s:>7.2f} {page_s / api_s:>5.1f}x {target:>8.2f} "
            f"{'yes' if page_s <= target else 'no':>3} {cpu:>12.2f} {api_cpu:>10.2f} {busy:>11.2f} {tokens:>7}"
        )
    print(f"(screenshot and app log in {log_path.parent})")


if __name__ == "__main__":
    main()
