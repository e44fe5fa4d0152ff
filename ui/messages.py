"""The conversation as chat messages: files and text, each video's frame strip, answers with their notes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from model.chat.conversation import Conversation, MediaItem, Turn, latest_video
from model.media.clip import format_timestamp
from ui.times import link_times


@dataclass(frozen=True)
class FrameStrip:
    """The frames the model saw of one video: (image path, 'mm:ss.s') pairs, for the chat."""

    name: str
    frames: list[tuple[str, str]]
    dropped: bool = False
    detail: str = ""  # how the frames were picked, when not spread over the whole video
    seconds: tuple[float, ...] = ()  # each frame's time (the page's player seeks there)
    size: tuple[int, int] = (0, 0)  # the frames' width and height (the page keeps their room while they load)

    @property
    def label(self) -> str:
        """'clip.mp4 · 16 frames the model saw (one every 2 s)', as the chat shows it."""
        return self.summary("frames the model saw")

    def summary(self, frames: str = "frames") -> str:
        """The name, the count and how the frames were picked: 'clip.mp4 · 16 frames (…)'."""
        state = " · left out of the context" if self.dropped else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.name} · {len(self.frames)} {frames}{detail}{state}"


def frame_strip(item: MediaItem) -> FrameStrip | None:
    """The strip of a video item (None for images, or before frames were written)."""
    if item.clip is None or not item.thumbnails:
        return None
    times = [format_timestamp(t) for t in item.clip.timestamps]
    start, end = item.clip_range
    span = (
        ""
        if start is None and end is None
        else f"{format_timestamp(start or 0)} to {format_timestamp(end) if end is not None else 'the end'}"
    )
    detail = ", ".join(part for part in (item.sampling, span) if part)
    return FrameStrip(
        name=item.name,
        frames=list(zip(item.thumbnails, times)),
        dropped=item.dropped,
        detail=detail,
        seconds=tuple(item.clip.timestamps),
        size=(int(item.clip.frames.shape[2]), int(item.clip.frames.shape[1])),  # (n, H, W, 3)
    )


def latest_strip(conv: Conversation) -> FrameStrip | None:
    """The strip of the newest video in the conversation, if any."""
    for turn in reversed(conv.turns):
        for item in reversed(turn.media):
            strip = frame_strip(item)
            if strip is not None:
                return strip
    return None


def chatbot_messages(conv: Conversation) -> list[dict]:
    """Messages for a gradio Chatbot: the user's files and text; the frames strips, answer and notes.

    Strips are FrameStrip values, which the page turns into galleries.
    """
    out: list[dict] = []
    shown: set[str] = set()  # a file taken again (a new clip range, a scan's parts) is not attached again
    video = latest_video(conv)  # moments of it written in answers and notes seek the page's player
    seekable = video is not None
    duration = video.clip.duration if video is not None and video.clip is not None else None
    for turn in conv.turns:
        for path in [m.path for m in turn.media] + turn.loading:
            if path not in shown:
                out.append({"role": "user", "content": {"path": path}})
        shown.update(m.path for m in turn.media)
        if turn.text:
            out.append({"role": "user", "content": turn.text})
        for item in turn.media:
            strip = frame_strip(item)
            if strip is not None:
                out.append({"role": "assistant", "content": strip})
        answer = answer_markdown(turn, seekable, duration)
        if answer:
            out.append({"role": "assistant", "content": answer})
    return out


_MARKUP = re.compile(r"([\\\[\]<>&])")  # what links, images, HTML tags and entities are made of


def escape_markdown(text: str) -> str:
    """`text` shown as it is in markdown: no link, image, emphasis, HTML tag or entity comes of it
    (a file named `![x](http://host/x).mp4` or `&#47;&#47;host&#58;…` stays a name)."""
    return _MARKUP.sub(r"\\\1", text)


def answer_markdown(turn: Turn, seekable: bool = False, duration: float | None = None) -> str:
    """The assistant bubble: notes, answer text (after its label, e.g. a commentary's time range), and a
    marker for stopped or failed answers; with `seekable`, the moments they mention (inside the
    video's `duration`, when known) are links the page's player follows."""
    link = (lambda text: link_times(text, duration)) if seekable else (lambda text: text)
    lines = [f"*{link(escape_markdown(note))}*" for note in turn.notes]  # notes quote file names
    label = f"**{turn.label}:** " if turn.label else ""
    if turn.answer:
        lines.append(label + link(turn.answer))
    if turn.status == "stopped":
        lines.append("*⏹ stopped*")
    elif turn.status == "pending" and not turn.answer:
        lines.append(label + (f"*{turn.progress}*" if turn.progress else "…"))
    if turn.stats and turn.status in ("done", "stopped"):
        lines.append(turn.stats)  # plain text: screen readers read a message's raw text
    return "\n\n".join(lines)
