"""LLaVA-OneVision (`LlavaOnevisionForConditionalGeneration`): the family's adapter.

A SigLIP so400m tower at 384 px (27x27 patches) and a Qwen2 text model, ChatML (<|im_end|> ends an
answer), 32,768 positions. A video frame is pooled to 14x14 = 196 tokens (and one newline a
video); an image is its base view and anyres tiles (up to about 7,300 tokens). It takes images,
several videos and several images, in process and through vLLM. The 0.5B is small enough to answer
on a CPU (docs/benchmarks.md has its figures there).
"""

from __future__ import annotations

import math
from pathlib import Path

from model.chat.limits import MediaSupport
from model.engines.families.family import Member, by_hub_id, token_ids

HUB = "llava-hf/llava-onevision-qwen2-"
MEMBERS = (
    Member(HUB + "0.5b-ov-hf", "Qwen2-0.5B", "chatml", 32768, weights_gb=1.8, cpu_bf16=True, cpu_frames=8),
    Member(HUB + "7b-ov-hf", "Qwen2-7B", "chatml", 32768, weights_gb=16.1),
    Member(HUB + "72b-ov-hf", "Qwen2-72B", "chatml", 32768, weights_gb=146.0),
)
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")


class LlavaOnevision:
    """The adapter of the LLaVA-OneVision family."""

    name = "LLaVA-OneVision"
    model_type = "llava_onevision"
    members = MEMBERS

    def model_class(self) -> type:
        from transformers import LlavaOnevisionForConditionalGeneration

        return LlavaOnevisionForConditionalGeneration

    def load_processor(self, source: str, local_only: bool = False):
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(source, local_files_only=local_only)

    def member(self, name: str, config, tokenizer) -> Member:
        """By hub id; a local copy by the width of its text model (896: the 0.5B, 3,584: the 7B, 8,192:
        the 72B); any other (a fine-tune of another size, the tiny test model) as itself."""
        if (member := by_hub_id(MEMBERS, name)) is not None:
            return member
        text = config.text_config
        widths = {896: MEMBERS[0], 3584: MEMBERS[1], 8192: MEMBERS[2]}
        return widths.get(text.hidden_size) or Member(name, "Qwen2", "chatml", text.max_position_embeddings, 0.0)

    def tokens_per_frame(self, config) -> int:
        grid = config.vision_config.image_size // config.vision_config.patch_size
        return math.ceil(grid / 2) ** 2  # bilinear pooling to half the grid, rounded up (27 -> 14)

    def media_token_ids(self, config) -> dict[str, int]:
        return {"image": config.image_token_index, "video": config.video_token_index}

    def encoder_output(self, kind: str, features: list):
        """Images as a list; videos as one (1, tokens, hidden) tensor, which the model flattens."""
        if kind == "video":
            import torch

            return torch.cat(features, dim=0)[None]
        return features

    def stop_ids(self, member: Member, tokenizer) -> list[int]:
        return token_ids(tokenizer, STOP_TOKENS)

    def server_media(self, max_frames: int, frame_tokens: int) -> MediaSupport:
        """vLLM's LLaVA-OneVision model takes images and several videos as they are."""
        return MediaSupport(images=True, max_frames=max_frames)

    def tiny_checkpoint(self) -> Path:
        from model.engines.tiny_onevision import tiny_onevision_dir

        return tiny_onevision_dir()


FAMILY = LlavaOnevision()
