"""What the real 7B would cost on this CPU, measured on cut-depth models of its real widths.

`python -m bench.bench_cpu` builds random-weight models with the 7B's widths (model/dev/standin.py) at
1 and 2 text layers and 1 and 2 vision layers, in fp32 as the app runs on a CPU, and answers one
16-frame video question through the app's own engine on each. Time to first token and decode time
per token grow linearly with depth, so the per-layer cost and the rest (embeddings, LM head, the
app's own work) come out of the differences; scaled to 32 text + 24 vision layers they estimate the
real 7B. Memory is counted from the 7B's parameters (built on the meta device). Baseline: none; the
numbers feed the advice `python app.py` prints on a machine without a GPU (model/engines/loading.py).
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.gpu_proof import Device, answer, video_conversation
from model.dev.standin import FULL_7B, RealShape, build_model, build_processor
from model.engines.loading import LoadedModel
from model.engines.transformers_engine import TransformersEngine

FRAMES = 16
NEW_TOKENS = 24


REPEATS = 2  # the best of these answers counts: other work on a 2-core machine only adds time


def run(shape: RealShape, processor) -> tuple[float, float]:
    """(time to first token s, decode s per token) of greedy answers on `shape` in fp32, best of REPEATS."""
    model = build_model(shape, dtype=torch.float32)
    model.generation_config.eos_token_id = None  # every answer runs to NEW_TOKENS
    engine = TransformersEngine(
        LoadedModel(model=model, processor=processor, name="bench", device="cpu", dtype=torch.float32)
    )
    stats = [answer(engine, video_conversation(FRAMES), NEW_TOKENS, Device("cpu")).stats for _ in range(REPEATS)]
    return min(s.ttft_s for s in stats), min(1.0 / s.tokens_per_s for s in stats)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    torch.set_num_threads(torch.get_num_threads())
    processor = build_processor(FULL_7B)
    started = time.perf_counter()
    base = run(RealShape(text_layers=1, vision_layers=1), processor)
    text2 = run(RealShape(text_layers=2, vision_layers=1), processor)
    vision2 = run(RealShape(text_layers=1, vision_layers=2), processor)
    per_text = (text2[0] - base[0], text2[1] - base[1])
    per_vision = vision2[0] - base[0]
    ttft = base[0] + (FULL_7B.text_layers - 1) * per_text[0] + (FULL_7B.vision_layers - 1) * per_vision
    per_token = base[1] + (FULL_7B.text_layers - 1) * per_text[1]
    params = sum(p.numel() for p in build_model(FULL_7B, device="meta", dtype=torch.float32).parameters())
    print(
        f"# The 7B's widths on this CPU ({torch.get_num_threads()} threads, fp32), {FRAMES}-frame video, "
        f"{NEW_TOKENS} new tokens, best of {REPEATS}"
    )
    print("| model | first token | decode per token |")
    print("|---|---|---|")
    print(f"| 1 text + 1 vision layer | {base[0]:.2f} s | {base[1] * 1000:.0f} ms |")
    print(f"| 2 text + 1 vision layers | {text2[0]:.2f} s | {text2[1] * 1000:.0f} ms |")
    print(f"| 1 text + 2 vision layers | {vision2[0]:.2f} s | {vision2[1] * 1000:.0f} ms |")
    print(f"| per text layer | {per_text[0]:.2f} s | {per_text[1] * 1000:.0f} ms |")
    print(f"| per vision layer | {per_vision:.2f} s | |")
    print(
        f"| **7B scaled (32 text + 24 vision)** | **{ttft:.0f} s** | **{per_token:.2f} s "
        f"({1 / per_token:.2f} tokens/s)** |"
    )
    print(
        f"7B parameters: {params / 1e9:.2f} B = {params * 4 / 2**30:.1f} GiB in fp32 "
        f"(plus the KV cache, 1 MiB per token in fp32)"
    )
    print(f"measured in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
