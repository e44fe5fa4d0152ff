"""Long uptime: many visitors that upload, ask and vanish; is everything given back?

    python -m bench.bench_soak [--sessions 200] [--ttl 5]

Serves the app (tiny checkpoint, caches on) on 127.0.0.1 with short time-to-lives, then runs
`--sessions` visitors one after another through gradio_client, from a separate process so that
only the server's memory is measured: each uploads its own small video,
asks, reads the answer and disappears without closing anything. Prints the server's resident
memory at the start (after a warm-up), right after the last visitor and once the time-to-lives
have passed, with the per-session caches, frame images and uploaded files still held. Target:
memory back within 200 MB of the start, caches and files gone.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import psutil  # noqa: E402
from gradio.utils import get_upload_folder  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from model.engines.loading import load_tiny  # noqa: E402
from model.serving.storage import frames_root  # noqa: E402
from model.settings import AppSettings  # noqa: E402
from tests.support.client import step  # noqa: E402
from tests.support.serving import cached_engine, serve  # noqa: E402
from tests.support.videos import make_video  # noqa: E402

MB = 2**20


def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / MB


def count_files(folder: Path, since: float = 0.0) -> int:
    """Files under `folder` written after `since` (a time.time() value)."""
    count = 0
    for root, _dirs, files in os.walk(folder):  # tolerates folders removed while walking
        for name in files:
            try:
                count += os.stat(os.path.join(root, name)).st_mtime >= since
            except FileNotFoundError:
                continue
    return count


def visitor(url: str, video: Path) -> None:
    """Upload, ask, read the answer, vanish."""
    client = Client(url, verbose=False, download_files=False)
    message = {"text": "What happens?", "files": [handle_file(str(video))]}
    step(client, "/send", message=message, frames=8).result()
    step(client, "/answer", max_new_tokens=16).result()


def run_visitors(url: str, videos: list[Path]) -> None:
    """The visitors, in a child process: `python -m bench.bench_soak --visit URL VIDEO...`."""
    subprocess.run(
        [sys.executable, "-m", "bench.bench_soak", "--visit", url, *map(str, videos)],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--ttl", type=int, default=5, help="session and file time-to-live, seconds")
    parser.add_argument("--visit", nargs="+", metavar="URL VIDEO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.visit:
        url, *paths = args.visit
        for path in paths:
            visitor(url, Path(path))
        return

    work = Path(tempfile.mkdtemp(prefix="soak-"))
    videos = [
        make_video(
            work / f"visitor-{i:03d}.mp4",
            seconds=1.0,
            fps=12,
            size=(96, 64),
            color=(i * 37 % 256, i * 91 % 256, i * 53 % 256),
        )
        for i in range(args.sessions)
    ]
    engine = cached_engine(load_tiny(AppSettings(model="tiny")), total_bytes=1 << 30)
    settings = AppSettings(model="tiny", frames=8, max_new_tokens=64, session_ttl=args.ttl, file_ttl=args.ttl)
    uploads = Path(get_upload_folder())
    with serve(engine, settings, queue_size=64) as url:
        run_visitors(url, videos[:5])  # warm-up: imports, first allocations
        time.sleep(args.ttl + 3)
        start = rss_mb()
        started, since = time.monotonic(), time.time()
        run_visitors(url, videos)
        elapsed = time.monotonic() - started
        peak = rss_mb()
        held = (len(engine.cache), engine.cache.nbytes() / MB, count_files(frames_root(), since))
        uploaded = count_files(uploads, since)
        deadline = time.monotonic() + 3 * args.ttl + 30
        while time.monotonic() < deadline and (len(engine.cache) or count_files(frames_root(), since)):
            time.sleep(1)
        time.sleep(args.ttl + 2)  # one more file sweep
        end = rss_mb()
        after = (len(engine.cache), engine.cache.nbytes() / MB, count_files(frames_root(), since))
        left = count_files(uploads, since)
    print(
        f"{args.sessions} visitors in {elapsed:.0f} s ({elapsed / args.sessions:.2f} s each), "
        f"time-to-live {args.ttl} s for sessions and files"
    )
    print()
    print("| moment | server RSS (MB) | session caches | cache MB | frame images |")
    print("|---|---|---|---|---|")
    print(f"| start (after warm-up) | {start:.0f} | | | |")
    print(f"| after the last visitor | {peak:.0f} | {held[0]} | {held[1]:.1f} | {held[2]} |")
    print(f"| after the time-to-lives | {end:.0f} | {after[0]} | {after[1]:.1f} | {after[2]} |")
    print()
    print(f"memory back within {end - start:+.0f} MB of the start (target: within 200 MB)")
    print(
        f"files in gradio's upload folder from this run: {uploaded} after the last visitor, {left} "
        f"after the time-to-lives"
    )


if __name__ == "__main__":
    main()
