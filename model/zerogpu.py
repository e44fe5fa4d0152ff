"""The GPU time a ZeroGPU Space asks for per answer (pure: bench/gpu_proof.py checks it on a GPU)."""

from __future__ import annotations

from model.backend import GenerationParams
from model.conversation import Conversation


def gpu_seconds(conv: Conversation, params: GenerationParams) -> int:
    """GPU time to ask ZeroGPU for: vision encoding per frame plus decoding per token."""
    frames = sum(len(clip.timestamps) for clip in conv.videos()) + 5 * len(conv.images())
    return int(min(180, 15 + 0.25 * frames + params.max_new_tokens / 20))


def describe_seconds(clips: list, question: str, params: GenerationParams) -> int:
    """GPU time for one batch of a scan: the frames of every segment, then one batched decode."""
    frames = sum(len(clip.timestamps) for clip in clips)
    return int(min(180, 15 + 0.25 * frames + params.max_new_tokens / 20))
