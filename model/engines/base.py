"""What every engine backend shares: the `Engine` protocol, decoding parameters, answer stats.

A backend takes a `Conversation` and streams the answer to its last turn: `prepare_turn` runs
first (on the CPU, before any GPU time) and may refuse or trim the conversation; `stream` yields
text pieces, then one `Finished`. Closing the stream, or setting `stop`, ends the generation
itself, not only the display.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from model.chat.conversation import Conversation
from model.chat.limits import MediaSupport
from model.media.clip import VideoClip


class EngineError(RuntimeError):
    """Generation cannot go on; the message is one sentence fit for the chat."""


@dataclass(frozen=True)
class GenerationParams:
    """How to decode: answer length and sampling (temperature 0 is greedy)."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 0.9


@dataclass(frozen=True)
class GenerationStats:
    """What one answer cost: sizes and speed."""

    frames: int
    prompt_tokens: int
    new_tokens: int
    ttft_s: float
    tokens_per_s: float
    cached_tokens: int = 0
    stopped: bool = False

    @classmethod
    def timed(
        cls, frames: int, prompt_tokens: int, new_tokens: int, started: float, first_at: float | None, **rest
    ) -> GenerationStats:
        """The stats of an answer that began at `started` and ends now, its first token at `first_at`
        (`time.perf_counter()` times; None: no token came); speed is counted after the first token."""
        now = time.perf_counter()
        first_at = first_at or now
        speed = (new_tokens - 1) / max(now - first_at, 1e-6) if new_tokens > 1 else 0.0
        return cls(frames, prompt_tokens, new_tokens, ttft_s=first_at - started, tokens_per_s=speed, **rest)

    def line(self) -> str:
        """'16 frames in context · 2,410 prompt tokens (2,300 cached) · 87 new · first token 1.20 s · 24.1 tok/s'
        (the frames of every video the model was given, not only the newest one's)."""
        cached = f" ({self.cached_tokens:,} cached)" if self.cached_tokens else ""
        plural = "s" if self.frames != 1 else ""
        frames = f"{self.frames} frame{plural} in context · " if self.frames else ""  # images alone: none
        return (
            f"{frames}{self.prompt_tokens:,} prompt tokens{cached} · "
            f"{self.new_tokens} new · first token {self.ttft_s:.2f} s · "
            f"{self.tokens_per_s:.1f} tok/s"
        )


@dataclass(frozen=True)
class Finished:
    """The end of an answer: its cost and the token ids generated (None when a backend has none)."""

    stats: GenerationStats
    answer_ids: list[int] | None = None


Describer = Callable[[list[VideoClip], str, GenerationParams, threading.Event], list[str]]  # a scan's batch


class Engine(Protocol):
    """What the UI needs from a backend."""

    description: str  # what is answering, for the page's header
    notice: str | None  # a warning to show at the top of the page (e.g. a fallback model)
    media_support: MediaSupport
    needs_gpu: bool  # True when `stream` runs the model in this process (ZeroGPU claims a GPU for it)
    family_name: str  # the checkpoint family that answers ("LLaVA-NeXT-Video"), for the page's title

    def prepare_turn(self, conv: Conversation, params: GenerationParams) -> list[str]: ...

    def stream(
        self, conv: Conversation, params: GenerationParams, stop: threading.Event
    ) -> Iterator[str | Finished]: ...

    def describe(
        self, clips: list[VideoClip], question: str, params: GenerationParams, stop: threading.Event | None = None
    ) -> list[str]:
        """One answer per clip to the same question (a scan's batch); `stop` ends it early."""
        ...

    def scan_batch(self, frames_per_segment: int, new_tokens: int, limit: int = 16) -> int:
        """How many clips one `describe` call should take."""
        ...

    def forget(self, session_prefix: str) -> None:
        """Drop what is kept for the conversations whose ids start with `session_prefix` (caches)."""
        ...
