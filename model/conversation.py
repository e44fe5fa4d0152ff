"""One visitor's conversation: turns of text and media, with the frames the model saw.

The conversation is the single source of truth of a chat session. The chat template messages fed
to the model and the messages shown in the Chatbot are both derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from model.media import VideoClip, format_timestamp

MediaKind = Literal["image", "video"]
TurnStatus = Literal["pending", "done", "stopped", "error"]


@dataclass
class MediaItem:
    """An uploaded file as the model sees it: a sampled video clip or a loaded image."""

    path: str
    kind: MediaKind
    clip: VideoClip | None = None
    image: Image.Image | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name

    def summary(self) -> str:
        """A short description for notes and logs: '8 frames, 0:00.0 to 0:05.6' or '640x400'."""
        if self.clip is not None:
            ts = self.clip.timestamps
            span = f"{format_timestamp(ts[0])} to {format_timestamp(ts[-1])}" if ts else "no frames"
            return f"{len(ts)} frames, {span}"
        if self.image is not None:
            return f"{self.image.width}x{self.image.height}"
        return self.kind


@dataclass
class Turn:
    """A user message (text and media) and the assistant's answer to it."""

    text: str
    media: list[MediaItem] = field(default_factory=list)
    answer: str = ""
    status: TurnStatus = "pending"
    notes: list[str] = field(default_factory=list)  # user-facing remarks (e.g. fewer frames)
    rejected: list[str] = field(default_factory=list)  # names of attached files that could not be read
    stats: str = ""  # one line under the answer: frames, tokens, speed


@dataclass
class Conversation:
    """All turns of one chat session, oldest first."""

    turns: list[Turn] = field(default_factory=list)
    system_prompt: str = ""

    def context_turns(self) -> list[Turn]:
        """Turns the model sees: all but those that failed."""
        return [turn for turn in self.turns if turn.status != "error"]

    def media(self) -> list[MediaItem]:
        """Every media item in the model's context, in the order the model sees it."""
        return [item for turn in self.context_turns() for item in _template_order(turn.media)]

    def images(self) -> list[Image.Image]:
        return [m.image for m in self.media() if m.kind == "image" and m.image is not None]

    def videos(self) -> list[VideoClip]:
        return [m.clip for m in self.media() if m.kind == "video" and m.clip is not None]

    def count(self, kind: MediaKind) -> int:
        return sum(1 for m in self.media() if m.kind == kind)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


def _template_order(media: list[MediaItem]) -> list[MediaItem]:
    """Media of one message as the chat templates render them: images first, then videos."""
    return [m for m in media if m.kind == "image"] + [m for m in media if m.kind == "video"]


def template_messages(conv: Conversation) -> list[dict]:
    """Chat-template messages (typed content parts) for the whole conversation.

    The last turn's answer is left out while it is being generated; finished answers of earlier
    turns are included so follow-ups keep the context. Stopped answers are kept as they were.
    """
    messages: list[dict] = []
    if conv.system_prompt:
        messages.append({"role": "system", "content": [{"type": "text", "text": conv.system_prompt}]})
    for turn in conv.context_turns():
        parts = [{"type": m.kind} for m in _template_order(turn.media)]
        parts.append({"type": "text", "text": turn.text})
        messages.append({"role": "user", "content": parts})
        if turn.status != "pending" and turn.answer:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": turn.answer}]})
    return messages


def chatbot_messages(conv: Conversation) -> list[dict]:
    """Messages for a gradio Chatbot: the user's files, their text, then the answer and notes."""
    out: list[dict] = []
    for turn in conv.turns:
        for item in turn.media:
            out.append({"role": "user", "content": {"path": item.path}})
        if turn.text:
            out.append({"role": "user", "content": turn.text})
        answer = _answer_markdown(turn)
        if answer:
            out.append({"role": "assistant", "content": answer})
    return out


def _answer_markdown(turn: Turn) -> str:
    """The assistant bubble: notes, answer text, and a marker for stopped or failed answers."""
    lines = [f"*{note}*" for note in turn.notes]
    if turn.answer:
        lines.append(turn.answer)
    if turn.status == "stopped":
        lines.append("*⏹ stopped*")
    elif turn.status == "pending" and not turn.answer:
        lines.append("…")
    if turn.stats and turn.status in ("done", "stopped"):
        lines.append(f"<sub>{turn.stats}</sub>")
    return "\n\n".join(lines)
