"""Time to first token of a follow-up question, with and without the cache kept across turns.

    python -m bench.bench_cache [--frames 32] [--repeats 3]

Builds (once, into bench/.cache/) a medium random-weight LLaVA-NeXT-Video checkpoint with
realistic token counts (336 px frames, patch 14: 144 tokens per frame as in the 7B; a 4-layer,
768-wide Llama so that prefill dominates on a CPU), samples a 32-frame video, then measures in one
run: turn 1, a short follow-up served by the session cache, and the same follow-up recomputed
from scratch (the baseline). Prints the medians, the ratio (target: at least 30x), and the cache's
memory per session, measured here and computed for the 7B in fp16.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from model.chat.conversation import Conversation  # noqa: E402
from model.chat.options import MediaOptions  # noqa: E402
from model.chat.reading import add_turn  # noqa: E402
from model.chat.turns import start_session  # noqa: E402
from model.engines.base import Finished, GenerationParams  # noqa: E402
from model.engines.kv_cache import CacheStore  # noqa: E402
from model.engines.loading import load_model  # noqa: E402
from model.engines.tiny import MEDIUM, build_tiny_checkpoint  # noqa: E402
from model.engines.transformers_engine import TransformersEngine  # noqa: E402
from model.settings import AppSettings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / "bench" / ".cache"
VIDEO = ROOT / "assets" / "bouncing_ball.mp4"
PARAMS = GenerationParams(max_new_tokens=8)
# 7B (Vicuna-7B): 32 layers x 4096 hidden, keys and values in fp16
KV_BYTES_PER_TOKEN_7B = 2 * 32 * 4096 * 2
FEATURE_BYTES_PER_TOKEN_7B = 4096 * 2
TOKENS_PER_FRAME_7B = 144


def medium_checkpoint() -> Path:
    """The medium checkpoint folder, built once."""
    folder = CACHE_DIR / "medium-v1"
    if not (folder / "model.safetensors").exists():
        build_tiny_checkpoint(folder, MEDIUM)
    return folder


def first_token_seconds(engine: TransformersEngine, conv: Conversation) -> tuple[float, Finished]:
    """Seconds from the request to the first generated token (tokenizing, vision and prefill included)."""
    started = time.perf_counter()
    engine.prepare_turn(conv, PARAMS)
    prepared = time.perf_counter() - started
    finished = [x for x in engine.stream(conv, PARAMS, threading.Event()) if isinstance(x, Finished)][0]
    ttft = prepared + finished.stats.ttft_s
    last = conv.last
    last.answer_ids, last.status = finished.answer_ids, "done"
    return ttft, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    loaded = load_model(AppSettings(model=str(medium_checkpoint()), model_explicit=True, device="cpu"))
    cached = TransformersEngine(loaded, CacheStore(8 << 30, 4 << 30))
    uncached = TransformersEngine(loaded)
    turn1, follow_cached, follow_uncached, sizes = [], [], [], []
    for r in range(args.repeats):
        conv = Conversation()
        start_session(conv, f"bench-{r}")
        add_turn(conv, "What happens in this video?", [str(VIDEO)], MediaOptions(frames=args.frames))
        t, first = first_token_seconds(cached, conv)
        turn1.append(t)
        conv.last.answer = "answer"
        add_turn(conv, "What colour is the ball?", [], MediaOptions())
        baseline = copy.deepcopy(conv)
        t, follow = first_token_seconds(cached, conv)
        follow_cached.append(t)
        t, again = first_token_seconds(uncached, baseline)
        follow_uncached.append(t)
        assert follow.answer_ids == again.answer_ids, "cached and uncached answers differ"
        entry = cached.cache.take(conv.session_id)
        sizes.append((entry.kv_bytes(), entry.feature_bytes(), len(entry.ids)))
        cached.forget(conv.session_id)

    prompt = follow.stats.prompt_tokens
    t1, fc, fu = (statistics.median(x) for x in (turn1, follow_cached, follow_uncached))
    kv, feats, tokens = sizes[-1]
    frames = first.stats.frames
    print(
        f"checkpoint: medium random weights, {cached.tokens_per_frame} tokens per frame, "
        f"{loaded.model.config.text_config.num_hidden_layers} x {loaded.model.config.text_config.hidden_size} "
        f"Llama, fp32, CPU, {torch.get_num_threads()} threads"
    )
    print(f"video: {VIDEO.name}, {frames} frames; follow-up prompt {prompt:,} tokens; median of {args.repeats}")
    print()
    print("| request | time to first token (s) |")
    print("|---|---|")
    print(f"| turn 1 (video + question) | {t1:.3f} |")
    print(f"| follow-up, cache kept across turns | {fc:.3f} |")
    print(f"| follow-up, recomputed (baseline) | {fu:.3f} |")
    print()
    print(
        f"ratio: the cached follow-up reaches its first token {fu / fc:.1f}x sooner than the baseline (target >= 30x)"
    )
    print(
        f"cache per session here: {kv / 2**20:.1f} MiB KV for {tokens:,} tokens + "
        f"{feats / 2**20:.1f} MiB vision features"
    )
    tokens_7b = tokens - frames * cached.tokens_per_frame + frames * TOKENS_PER_FRAME_7B
    print(
        f"same conversation on the 7B in fp16 (computed): {tokens_7b * KV_BYTES_PER_TOKEN_7B / 2**30:.2f} GiB KV "
        f"+ {frames * TOKENS_PER_FRAME_7B * FEATURE_BYTES_PER_TOKEN_7B / 2**20:.1f} MiB vision features"
    )


if __name__ == "__main__":
    main()
