"""What the tiny model hides, measured at the 7B's real widths on this CPU.

    python -m bench.bench_real_size [--frames 8 16 32] [--page-loads 10]

Uses the random-weight stand-in of LLaVA-NeXT-Video-7B (`model/dev/standin.py`: CLIP ViT-L/14-336,
a 4096-wide Llama, 2 + 2 layers, the hub's 4.x layout; built once into ~/.cache, about 20 s) and
prints, as Markdown tables:

1. `python app.py --model STANDIN` against `python app.py --model tiny` (the baseline), each in its
   own process on 127.0.0.1: a page load (`GET /` and `GET /config`, the median of `--page-loads`)
   and the process's peak memory growth (VmHWM, reset before each step) for one page load and one
   answer (16 frames, 16 new tokens, through `/ask`). Target: a page load within 2x the tiny's.
2. Memory per conversation at each `--frames`: the KV cache and the vision features the session
   cache keeps, per token and per frame, measured here (fp32, 2 text layers) and computed for the
   7B (bf16, 32 layers); a follow-up's first token from the cache against recomputing the prompt.
3. What `--cache-gb` admits: 32-frame conversations put into a `CacheStore` of 4 GiB (the default)
   until it evicts, against what its accounting says; the same computed for the 7B.
4. What a ZeroGPU call pickles with 32 real frames (a 1280x720 video): its arguments and its yields.
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402

from model.chat.conversation import Conversation  # noqa: E402
from model.chat.options import MediaOptions  # noqa: E402
from model.chat.reading import add_turn  # noqa: E402
from model.chat.turns import start_session  # noqa: E402
from model.dev.standin import FULL_7B, STANDIN_7B, standin_checkpoint_dir  # noqa: E402
from model.engines.base import Finished, GenerationParams  # noqa: E402
from model.engines.gpu import engine_key, generate_stream  # noqa: E402
from model.engines.kv_cache import CacheStore  # noqa: E402
from model.engines.loading import load_model  # noqa: E402
from model.engines.transformers_engine import TransformersEngine  # noqa: E402
from model.settings import AppSettings  # noqa: E402
from tests.support.app_process import status_kb  # noqa: E402
from tests.support.videos import make_video  # noqa: E402
from tests.support.vllm_server import free_port, stop_group, wait_until_up  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MiB, GiB = 2**20, 2**30
PARAMS = GenerationParams(max_new_tokens=8)
# the 7B against the stand-in: 16x the text layers, half the bytes (bf16 instead of fp32)
KV_SCALE = FULL_7B.text_layers / STANDIN_7B.text_layers * 2 / 4
FEATURE_SCALE = 2 / 4  # the projected features are 4096 wide in both; bf16 instead of fp32


# ---------------------------------------------------------------------------------------------
# 1. The page and one answer, in a process of their own


def peak_growth_mb(pid: int, step) -> float:
    """How far the process's resident memory peaks above where it stood, while `step()` runs."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
    before = status_kb(pid, "VmRSS")
    step()
    return (status_kb(pid, "VmHWM") - before) / 1024


def page_load_s(url: str, loads: int) -> float:
    took = []
    with httpx.Client(timeout=120) as http:
        for _ in range(loads):
            began = time.perf_counter()
            http.get(url + "/").raise_for_status()
            http.get(url + "/config").raise_for_status()
            took.append(time.perf_counter() - began)
    return statistics.median(took)


def serve_and_measure(model: str, video: Path, loads: int, folder: Path) -> dict:
    """`python app.py --model MODEL` in its own process: start-up, page loads, one answer."""
    port = free_port()
    log_path = folder / f"app-{port}.log"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(folder / f"uploads-{port}"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "app.py", "--model", model, "--port", str(port), "--frames", "16"]
    began = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, url + "/config", log_path, f"python app.py --model {model}", 300)
        started = time.perf_counter() - began
        page_load_s(url, 2)  # warm-up
        load = page_load_s(url, loads)
        load_peak = peak_growth_mb(process.pid, lambda: page_load_s(url, 1))
        client = Client(url, verbose=False, download_files=False)
        answer = {}

        def ask() -> None:
            t = time.perf_counter()
            client.predict(
                files=[handle_file(str(video))], question="What happens?", frames=16, max_new_tokens=16, api_name="/ask"
            )
            answer["s"] = time.perf_counter() - t

        answer_peak = peak_growth_mb(process.pid, ask)
        rss = status_kb(process.pid, "VmRSS") / 1024
    finally:
        stop_group(process, wait_s=20)
    return {
        "start_s": started,
        "load_s": load,
        "load_peak_mb": load_peak,
        "answer_s": answer["s"],
        "answer_peak_mb": answer_peak,
        "rss_mb": rss,
    }


def part_page(standin: Path, video: Path, loads: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tiny = serve_and_measure("tiny", video, loads, Path(tmp))
        real = serve_and_measure(str(standin), video, loads, Path(tmp))
    print("## 1. The page and one answer (`python app.py`, its own process)\n")
    print("| | tiny (baseline) | 7B widths, 2 + 2 layers, fp32 |")
    print("|---|---|---|")
    print(f"| start-up until the page answers (s) | {tiny['start_s']:.1f} | {real['start_s']:.1f} |")
    print(f"| page load, `GET /` + `/config` (s, median of {loads}) | {tiny['load_s']:.3f} | {real['load_s']:.3f} |")
    print(f"| peak memory growth, one page load (MiB) | {tiny['load_peak_mb']:.1f} | {real['load_peak_mb']:.1f} |")
    print(f"| one answer, 16 frames, 16 tokens, `/ask` (s) | {tiny['answer_s']:.1f} | {real['answer_s']:.1f} |")
    print(f"| peak memory growth, that answer (MiB) | {tiny['answer_peak_mb']:.0f} | {real['answer_peak_mb']:.0f} |")
    print(f"| resident memory after it (MiB) | {tiny['rss_mb']:.0f} | {real['rss_mb']:.0f} |")
    ratio = real["load_s"] / tiny["load_s"]
    print(f"\nratio: a page load at the 7B's widths takes {ratio:.2f}x the tiny's (target <= 2x)\n")


# ---------------------------------------------------------------------------------------------
# 2. Memory per conversation, and a follow-up from the cache


def first_token_s(engine: TransformersEngine, conv: Conversation) -> tuple[float, Finished]:
    """Seconds from the request to the first generated token (tokenizing, vision and prefill)."""
    began = time.perf_counter()
    engine.prepare_turn(conv, PARAMS)
    prepared = time.perf_counter() - began
    finished = [x for x in engine.stream(conv, PARAMS, threading.Event()) if isinstance(x, Finished)][0]
    conv.last.answer_ids, conv.last.status, conv.last.answer = finished.answer_ids, "done", "answer"
    return prepared + finished.stats.ttft_s, finished


def conversation_at(engine: TransformersEngine, video: Path, frames: int) -> dict:
    """Turn 1 about `frames` frames, then a follow-up from the cache and recomputed."""
    conv = Conversation()
    start_session(conv, f"bench-{frames}")
    add_turn(conv, "What happens in this video?", [str(video)], MediaOptions(frames=frames))
    turn1, _ = first_token_s(engine, conv)
    entry = engine.cache.take(conv.session_id)
    kv, features, tokens = entry.kv_bytes(), entry.feature_bytes(), len(entry.ids)
    engine.cache.put(conv.session_id, entry)
    add_turn(conv, "What colour is it?", [], MediaOptions(frames=frames))
    baseline = copy.deepcopy(conv)
    cached, follow = first_token_s(engine, conv)
    engine.forget(conv.session_id)
    recomputed, again = first_token_s(TransformersEngine(engine.loaded), baseline)
    assert follow.answer_ids == again.answer_ids, "the cached and the recomputed follow-ups differ"
    return {"frames": frames, "turn1": turn1, "cached": cached, "recomputed": recomputed}, (kv, features, tokens)


def part_memory(engine: TransformersEngine, video: Path, frame_counts: list[int]) -> dict[int, tuple]:
    rows, sizes = [], {}
    for frames in frame_counts:
        row, size = conversation_at(engine, video, frames)
        rows.append(row)
        sizes[frames] = size
    print("## 2. Memory per conversation (turn 1 cached; measured at 2 layers fp32, computed for the 7B)\n")
    print(
        "| frames | tokens cached | KV here (MiB) | KV per token here (KiB) | features here (MiB) "
        "| features per frame here (KiB) | 7B bf16: KV (MiB) | 7B bf16: features (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for frames, (kv, features, tokens) in sizes.items():
        print(
            f"| {frames} | {tokens:,} | {kv / MiB:.1f} | {kv / tokens / 1024:.1f} | {features / MiB:.1f} | "
            f"{features / frames / 1024:.0f} | {kv * KV_SCALE / MiB:,.0f} | {features * FEATURE_SCALE / MiB:.1f} |"
        )
    print("\n| frames | turn 1, first token (s) | follow-up from the cache (s) | recomputed (s) | ratio |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['frames']} | {row['turn1']:.2f} | {row['cached']:.3f} | {row['recomputed']:.2f} | "
            f"{row['recomputed'] / row['cached']:.0f}x |"
        )
    print()
    return sizes


# ---------------------------------------------------------------------------------------------
# 3. What --cache-gb admits


def part_admission(engine: TransformersEngine, video: Path, sizes: dict[int, tuple]) -> None:
    frames = max(sizes)
    conv = Conversation()
    start_session(conv, "bench-admit")
    add_turn(conv, "What happens in this video?", [str(video)], MediaOptions(frames=frames))
    first_token_s(engine, conv)
    entry = engine.cache.take(conv.session_id)
    engine.forget(conv.session_id)
    store = CacheStore(total_bytes=4 * GiB, session_bytes=3 * GiB)  # --cache-gb 4, as app.py builds it
    admitted = 0
    while store.evictions == 0 and admitted < 64:
        store.put(f"bench-admit-{admitted}", copy.deepcopy(entry))
        admitted += 1
    held = len(store)
    print("## 3. What `--cache-gb 4` admits (3 GiB at most a conversation)\n")
    print(
        f"Measured here: {frames}-frame conversations of {entry.nbytes() / MiB:.0f} MiB each; the store held "
        f"{held} at once (4 GiB / {entry.nbytes() / MiB:.0f} MiB = {4 * GiB / entry.nbytes():.1f}), "
        f"and the {admitted}th put evicted the oldest.\n"
    )
    print("| frames | 7B bf16 cache a conversation (MiB) | conversations that `--cache-gb 4` holds at once on the 7B |")
    print("|---|---|---|")
    for count, (kv, features, _tokens) in sizes.items():
        one = kv * KV_SCALE + features * FEATURE_SCALE
        print(f"| {count} | {one / MiB:,.0f} | {int(4 * GiB // one)} |")
    print()


# ---------------------------------------------------------------------------------------------
# 4. What ZeroGPU pickles


def part_zerogpu(engine: TransformersEngine, hd_video: Path) -> None:
    conv = Conversation()
    start_session(conv, "bench-zerogpu")
    add_turn(conv, "What happens in this video?", [str(hd_video)], MediaOptions(frames=32))
    engine.prepare_turn(conv, GenerationParams(max_new_tokens=64))
    key = engine_key(engine)
    arguments = pickle.dumps((key, conv, GenerationParams(max_new_tokens=64)))
    yields = [pickle.dumps(item) for item in generate_stream(key, conv, GenerationParams(max_new_tokens=64))]
    frames = conv.videos()[0].frames
    print("## 4. What a ZeroGPU call pickles (32 frames of a 1280x720 video, 64 new tokens)\n")
    print("| what | bytes |")
    print("|---|---|")
    print(f"| the frames kept ({frames.shape[1]}x{frames.shape[2]} each, uint8) | {frames.nbytes:,} |")
    print(f"| the call's arguments (engine key, conversation, parameters) | {len(arguments):,} |")
    print(f"| its {len(yields)} yields together (text pieces, then the stats and ids) | {sum(map(len, yields)):,} |")
    print(f"| the largest yield | {max(map(len, yields)):,} |")
    engine.forget(conv.session_id)
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--page-loads", type=int, default=10)
    parser.add_argument("--skip-page", action="store_true", help="leave out part 1 (two server processes)")
    args = parser.parse_args()
    standin = standin_checkpoint_dir()
    print(f"stand-in: {standin}; CPU, {torch.get_num_threads()} threads\n")
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "clip.mp4", seconds=8.0, fps=10, size=(640, 360), gop=10)
        hd_video = make_video(Path(tmp) / "hd.mp4", seconds=8.0, fps=5, size=(1280, 720), gop=10)
        if not args.skip_page:
            part_page(standin, video, args.page_loads)
        loaded = load_model(AppSettings(model=str(standin), model_explicit=True, device="cpu"))
        engine = TransformersEngine(loaded, CacheStore(8 * GiB, 4 * GiB))
        sizes = part_memory(engine, video, sorted(args.frames))
        part_admission(engine, video, sizes)
        part_zerogpu(engine, hd_video)


if __name__ == "__main__":
    main()
