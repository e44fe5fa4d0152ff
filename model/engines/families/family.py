"""What every checkpoint family's adapter answers: the seam between the engines and a family.

A family is one transformers model class with its processor and conventions (LLaVA-NeXT-Video,
LLaVA-OneVision, ...); its members are the checkpoints published for it, which may differ in text
model, prompt format, stop tokens, context and the frame counts they answer well with. The engines,
the loader and the page ask the family (model/engines/families/<family>.py) and never hard-wire a
checkpoint's ids, template or limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from model.chat.limits import MediaSupport

ANSWER_ROOM = 512  # positions a frame limit leaves for the answer and the question's text


@dataclass(frozen=True)
class Member:
    """One published checkpoint of a family, as its authors meant it to run."""

    hub_id: str
    text_model: str
    prompt_format: str  # "vicuna", "mistral", "chatml": how a turn is written
    context: int  # positions (prompt and answer), RoPE scaling included
    weights_gb: float  # bf16 weights on the hub
    max_frames: int | None = None  # most frames it answers sensibly with (None: as many as fit)
    template: str | None = None  # a chat template the demo carries in place of the hub's, and why
    why_template: str = ""
    cpu_bf16: bool = False  # bf16 on a CPU too (measured faster there: bench/bench_onevision_cpu.py)
    cpu_frames: int | None = None  # the page's frame default on a CPU (None: the demo's --frames)

    @property
    def short_name(self) -> str:
        return self.hub_id.rsplit("/", 1)[-1]


def by_hub_id(members: tuple[Member, ...], name: str) -> Member | None:
    """The member a hub id names (any case, a trailing slash allowed), or None."""
    wanted = name.rstrip("/").lower()
    return next((m for m in members if m.hub_id.lower() == wanted), None)


def token_ids(tokenizer, tokens: tuple[str, ...]) -> list[int]:
    """The ids of those `tokens` the tokenizer has; its end-of-sequence id when it has none of them."""
    vocab = tokenizer.get_vocab()
    return sorted({vocab[t] for t in tokens if t in vocab} or {tokenizer.eos_token_id})


def frames_that_fit(context: int, tokens_per_frame: int, room: int = ANSWER_ROOM) -> int:
    """Frames of one video that fit the context with room left for the question and an answer."""
    return max(1, (context - room) // max(1, tokens_per_frame))


class Family(Protocol):
    """A family's adapter (one module per family, registered in model/engines/families/__init__.py)."""

    name: str
    model_type: str  # config.model_type of its checkpoints
    members: tuple[Member, ...]

    def model_class(self) -> type: ...

    def load_processor(self, source: str, local_only: bool = False): ...

    def member(self, name: str, config, tokenizer) -> Member:
        """The member a checkpoint is: by hub id, else by what its config and tokenizer hold."""
        ...

    def tokens_per_frame(self, config) -> int: ...

    def media_token_ids(self, config) -> dict[str, int]:
        """The placeholder id of each media kind in the prompt ({'image': id, 'video': id})."""
        ...

    def encoder_output(self, kind: str, features: list):
        """The `pooler_output` that `mm_encoder_outputs[kind]` takes, from one feature tensor per item."""
        ...

    def stop_ids(self, member: Member, tokenizer) -> list[int]:
        """The ids that end an answer in the member's prompt format."""
        ...

    def server_media(self, max_frames: int, frame_tokens: int) -> MediaSupport:
        """What an OpenAI-compatible vLLM server of this family takes per conversation (`max_frames` per
        video, `frame_tokens` a frame)."""
        ...

    def tiny_checkpoint(self) -> Path:
        """The family's tiny random-weight checkpoint (built offline, cached)."""
        ...
