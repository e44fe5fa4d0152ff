"""ZeroGPU: whether this is such a Space, and the GPU time it asks for per call (pure:
bench/gpu_proof.py checks the times on a GPU)."""

from __future__ import annotations

import os

from model.chat.conversation import Conversation
from model.engines.base import GenerationParams


def on_zero_gpu() -> bool:
    """True on a Hugging Face ZeroGPU Space, where CUDA exists only inside `spaces.GPU` calls."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in {"1", "true"}


def request_seconds(frames: int, new_tokens: int) -> int:
    """GPU seconds for a call: vision encoding per frame plus decoding per token, 180 at most."""
    return int(min(180, 15 + 0.25 * frames + new_tokens / 20))


def gpu_seconds(conv: Conversation, params: GenerationParams) -> int:
    """GPU time to ask ZeroGPU for one answer (an image counts as 5 frames)."""
    frames = conv.frame_count() + 5 * len(conv.images())
    return request_seconds(frames, params.max_new_tokens)


def describe_seconds(clips: list, question: str, params: GenerationParams) -> int:
    """GPU time for one batch of a scan: the frames of every segment, then one batched decode."""
    return request_seconds(sum(len(clip.timestamps) for clip in clips), params.max_new_tokens)
