"""Scanning a 10-minute video: segments per second one at a time against batched, and memory.

    python -m bench.bench_scan [--batch 4] [--tokens 32]          (VLLM_PYTHON=... adds vLLM)

A generated 10-minute 360p H.264 video (bench/.cache) is scanned in 45-second segments of 8 frames
(13 segments), each described in `--tokens` greedy tokens (no early end), on the CPU by the tiny and
the medium checkpoints (model/engines/tiny.py), one segment per `generate` call (the baseline) and
`--batch` segments per call; with VLLM_PYTHON set, also through a vLLM server on the tiny
checkpoint, one request at a time against `--batch` in flight. Each configuration runs in a fresh
process, which reports its peak resident memory. Prints segments per second and the ratio to one at
a time. Frame sampling (the same in both) is included in the time, as a visitor would wait for it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SEGMENT_S, FRAMES_PER_SEGMENT = 45.0, 8


def long_video() -> Path:
    from bench.bench_media import CACHE, generate

    path = CACHE / "h264_360p_10min_gop250.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        generate(path, (640, 360), 600, 250)
    return path


def checkpoint(model: str) -> Path:
    from model.engines.tiny import tiny_checkpoint_dir

    if model == "medium":
        from bench.bench_cache import medium_checkpoint

        return medium_checkpoint()
    return tiny_checkpoint_dir()


def one(model: str, batch: int, tokens: int, server_url: str | None) -> dict:
    """Scan the video once (in this process) and report time and peak memory."""
    from model.scan.runner import ScanOptions, scan_file
    from model.scan.segments import TimelineStore

    if server_url:
        from model.engines.vllm_engine import ServerConfig, VLLMEngine

        engine = VLLMEngine(ServerConfig(url=server_url))
    else:
        from model.engines.loading import load_model
        from model.engines.transformers_engine import TransformersEngine
        from model.settings import AppSettings

        loaded = load_model(AppSettings(model=str(checkpoint(model)), model_explicit=True, device="cpu"))
        loaded.model.generation_config.eos_token_id = None  # every description runs to `tokens`
        engine = TransformersEngine(loaded)
    options = ScanOptions(segment_s=SEGMENT_S, frames_per_segment=FRAMES_PER_SEGMENT, max_new_tokens=tokens)
    started = time.perf_counter()
    final = list(scan_file(str(long_video()), engine.describe, TimelineStore(), model, options, batch))[-1]
    seconds = time.perf_counter() - started
    return {
        "segments": len(final.segments),
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_subprocess(model: str, batch: int, tokens: int, server_url: str | None = None) -> dict:
    command = [sys.executable, "-m", "bench.bench_scan", "--one", model, str(batch), "--tokens", str(tokens)]
    if server_url:
        command += ["--server-url", server_url]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--one", nargs=2, metavar=("MODEL", "BATCH"), help=argparse.SUPPRESS)
    p.add_argument("--server-url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], int(args.one[1]), args.tokens, args.server_url)))
        return
    long_video()
    print(
        f"# Scanning a 10-minute video: {SEGMENT_S:.0f}-second segments of {FRAMES_PER_SEGMENT} frames, "
        f"{args.tokens} tokens each (CPU, {os.cpu_count()} cores)\n"
    )
    print("| backend · model | segments per call | time | segments/s | vs one at a time | peak memory |")
    print("|---|---|---|---|---|---|")
    for backend, model in (("transformers", "tiny"), ("transformers", "medium")):
        report(backend, model, args, None)
    if os.environ.get("VLLM_PYTHON"):  # after the in-process rows: an idle vLLM server still uses the CPU
        from tests.support.vllm_server import vllm_server

        with vllm_server(checkpoint("tiny"), Path(tempfile.mkdtemp()) / "vllm.log", max_model_len=2048) as server:
            report("vllm", "tiny", args, server.url)


def report(backend: str, model: str, args, url: str | None) -> None:
    """One row at one segment per call (the baseline), one at `--batch`."""
    base = None
    for batch in (1, args.batch):
        result = in_subprocess(model, batch, args.tokens, url)
        rate = result["segments"] / result["seconds"]
        base = base or rate
        memory = f"{result['peak_mb']:.0f} MB" + (" (app side)" if url else "")
        print(
            f"| {backend} · {model} | {batch} | {result['seconds']:.1f} s | {rate:.2f} | "
            f"{rate / base:.2f}x | {memory} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
