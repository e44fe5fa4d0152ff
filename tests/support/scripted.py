"""A scripted engine: answers chosen by the test, for tests of the page's steps, so that an assertion
about an answer checks that answer (the tiny model's random text passes any "an answer came" check).

It records what each answer was asked with (`Heard`), can hold an answer after its first words
until the test releases it (`hold`), and describes a scan's parts as the test says.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from model.chat.conversation import Conversation
from model.chat.limits import MediaSupport
from model.engines.base import Finished, GenerationParams, GenerationStats
from model.media.clip import VideoClip


@dataclass(frozen=True)
class Heard:
    """What one answer was asked with."""

    question: str
    questions: int  # user turns in the conversation the engine was given
    earlier_answers: tuple[str, ...]  # the answers it was given as history
    frames: tuple[int, ...]  # frames of each video in the conversation, in order
    images: int
    params: GenerationParams


@dataclass
class ScriptedEngine:
    """Answers `script(question)`, word by word; `hold`, when given, is waited for (5 s at most) after
    the first word, so a test can press Stop mid-answer without racing the answer."""

    script: Callable[[str], str] = lambda question: f"You asked: {question}"
    media_support: MediaSupport = field(default_factory=MediaSupport)
    hold: threading.Event | None = None
    description: str = "a scripted engine (tests)"
    notice: str | None = None
    needs_gpu: bool = False
    family_name: str = "LLaVA-NeXT-Video"
    heard: list[Heard] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    started: threading.Event = field(default_factory=threading.Event)  # set when an answer's first word is out

    def prepare_turn(self, conv: Conversation, params: GenerationParams) -> list[str]:
        turn = conv.last
        media = conv.media()
        self.heard.append(
            Heard(
                question=turn.text,
                questions=len(conv.turns),
                earlier_answers=tuple(t.answer for t in conv.turns[:-1]),
                frames=tuple(len(m.clip.frames) for m in media if m.clip is not None),
                images=sum(m.image is not None for m in media),
                params=params,
            )
        )
        return []

    def stream(self, conv: Conversation, params: GenerationParams, stop: threading.Event) -> Iterator[str | Finished]:
        started = time.perf_counter()
        words = self.script(conv.last.text).split(" ")
        for i, word in enumerate(words[: params.max_new_tokens]):
            if stop.is_set():
                break
            yield word if i == 0 else " " + word
            if i == 0:
                self.started.set()
                if self.hold is not None:
                    self.hold.wait(5)
        new = min(len(words), params.max_new_tokens)
        yield Finished(GenerationStats.timed(0, 10, new, started, started), answer_ids=None)

    def describe(
        self, clips: list[VideoClip], question: str, params: GenerationParams, stop: threading.Event | None = None
    ) -> list[str]:
        return [f"part with {len(clip.frames)} frames" for clip in clips]

    def scan_batch(self, frames_per_segment: int, new_tokens: int, limit: int = 16) -> int:
        return 2

    def forget(self, session_prefix: str) -> None:
        self.forgotten.append(session_prefix)
