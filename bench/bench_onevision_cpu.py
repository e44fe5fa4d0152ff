"""What LLaVA-OneVision-0.5B costs on this CPU: a random-weight model of its exact configuration.

`python -m bench.bench_onevision_cpu` builds `LlavaOnevisionForConditionalGeneration` with the
configuration of llava-hf/llava-onevision-qwen2-0.5b-ov-hf (SigLIP so400m at 384 px, 26 layers;
Qwen2-0.5B, 24 layers, 151,936 tokens; about 0.9 B parameters) and random weights, and answers
through the app's own engine: an image (640x480: its base view and anyres tiles) and videos of 4, 8
and 16 frames (196 tokens each), NEW_TOKENS new tokens each (its stop tokens suppressed, so every
answer runs that long), best of REPEATS. First it compares precisions and threads on 4 frames; the
table uses the fastest. Baseline: fp32 at this machine's threads, as the app runs on a CPU today;
the ratios say how much faster each choice is.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from bench.gpu_proof import Device, answer, video_conversation
from model.chat.conversation import Conversation, MediaItem, Turn
from model.engines.families import LLAVA_ONEVISION
from model.engines.loading import LoadedModel
from model.engines.tiny import bias_tokens_
from model.engines.tiny_onevision import build_tokenizer, onevision_config, onevision_processor
from model.engines.transformers_engine import TransformersEngine

NEW_TOKENS = 16
REPEATS = 2  # the best counts: other work on a 2-core machine only adds time


def onevision_05b(tokenizer):
    """The 0.5B's configuration (the hub's config.json, its media token ids this tokenizer's)."""
    from transformers import Qwen2Config, SiglipVisionConfig

    vision = SiglipVisionConfig(
        hidden_size=1152,
        intermediate_size=4304,
        num_hidden_layers=26,
        num_attention_heads=16,
        image_size=384,
        patch_size=14,
        vision_use_head=False,
    )
    text = Qwen2Config(
        vocab_size=151936,
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1e6,
        tie_word_embeddings=True,
    )
    return onevision_config(tokenizer, vision, text)


def engine_for(dtype: torch.dtype, tokenizer, processor) -> TransformersEngine:
    from transformers import LlavaOnevisionForConditionalGeneration

    torch.manual_seed(0)
    model = LlavaOnevisionForConditionalGeneration(onevision_05b(tokenizer)).to(dtype).eval()
    loaded = LoadedModel(
        model=model,
        processor=processor,
        name="onevision-0.5b",
        device="cpu",
        dtype=dtype,
        family=LLAVA_ONEVISION,
        member=LLAVA_ONEVISION.members[0],
    )
    engine = TransformersEngine(loaded)
    bias_tokens_(model, engine.stop_ids, -1000.0)  # random weights: every answer runs NEW_TOKENS
    return engine


def image_conversation() -> Conversation:
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8))
    conv = Conversation(session_id="bench/image")
    conv.turns.append(Turn(text="Describe this picture.", media=[MediaItem(path="p.png", kind="image", image=picture)]))
    return conv


def measure(engine: TransformersEngine, make) -> tuple[float, float, int]:
    """(first token s, tokens/s, prompt tokens), best of REPEATS."""
    stats = [answer(engine, make(), NEW_TOKENS, Device("cpu")).stats for _ in range(REPEATS)]
    return min(s.ttft_s for s in stats), max(s.tokens_per_s for s in stats), stats[0].prompt_tokens


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    tokenizer = build_tokenizer()
    processor = onevision_processor(tokenizer, 384, 14)  # 729 tokens a view, its anyres grid
    threads = torch.get_num_threads()
    started = time.perf_counter()
    print(f"# LLaVA-OneVision-0.5B's configuration, random weights, on this CPU ({threads} threads)")
    print(f"# choices on a 4-frame question, {NEW_TOKENS} new tokens, best of {REPEATS}")
    print(f"# baseline: fp32 at {threads} threads")
    print("| choice | first token | decode | first token vs baseline |")
    print("|---|---|---|---|")
    results = {}
    for name, dtype, n in [
        ("fp32", torch.float32, threads),
        ("bf16", torch.bfloat16, threads),
        ("fp32, 1 thread", torch.float32, 1),
    ]:
        torch.set_num_threads(n)
        engine = engine_for(dtype, tokenizer, processor)
        results[name] = (dtype, n, measure(engine, lambda: video_conversation(4)))
        ttft, speed, _ = results[name][2]
        base = results["fp32"][2][0]
        print(f"| {name} | {ttft:.1f} s | {speed:.1f} tok/s | {base / ttft:.2f}x |")
        del engine
    best = min(results, key=lambda k: results[k][2][0])
    dtype, n, _ = results[best]
    torch.set_num_threads(n)
    engine = engine_for(dtype, tokenizer, processor)
    print(f"\n# the fastest ({best}): an image and 4, 8, 16 frames, {NEW_TOKENS} new tokens, best of {REPEATS}")
    print("| question | prompt tokens | first token | decode |")
    print("|---|---|---|---|")
    cases = [("image, 640x480", image_conversation)] + [
        (f"{f} frames", lambda f=f: video_conversation(f)) for f in (4, 8, 16)
    ]
    for label, make in cases:
        ttft, speed, prompt = measure(engine, make)
        print(f"| {label} | {prompt:,} | {ttft:.1f} s | {speed:.1f} tok/s |")
    params = sum(p.numel() for p in engine.model.parameters())
    print(f"\n{params / 1e9:.2f} B parameters; {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
