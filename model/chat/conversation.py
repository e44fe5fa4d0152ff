"""One visitor's conversation: turns of text and media, with the frames the model saw.

The conversation is the single source of truth of a chat session. The chat template messages fed
to the model and the messages shown in the Chatbot are both derived from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from model.chat.plain import plain_text
from model.chat.sampling import Sampling
from model.media.clip import Segment, VideoClip, format_timestamp
from model.media.thumbnails import write_thumbnails
from model.serving.storage import item_dir, new_id, remove_item

MediaKind = Literal["image", "video"]
WARNING = "⚠️ "  # before a note that says something went wrong
TurnStatus = Literal["pending", "done", "stopped", "error"]


@dataclass
class MediaItem:
    """An uploaded file as the model sees it: a sampled video clip or a loaded image."""

    path: str
    kind: MediaKind
    clip: VideoClip | None = None
    image: Image.Image | None = None
    key: str = field(default_factory=new_id)  # identifies cached vision features and names the frames' folder
    dropped: bool = False  # left out of the model's context to make room (still shown in the chat)
    thumbnails: list[str] = field(default_factory=list)  # one small image per sampled frame
    timeline: list[Segment] = field(default_factory=list)  # what happens when, from a scan of the whole video
    timeline_parts: int = 0  # the parts of that scan in all (more than the timeline's when it was stopped)
    clip_range: tuple[float | None, float | None] = (None, None)  # the part of the video asked for, seconds
    sampling: str = ""  # how its frames were picked, when not evenly by count ("one every 2 s")
    asked: Sampling | None = None  # the settings its frames were sampled with (None: a scan's or camera's)

    @property
    def name(self) -> str:
        return Path(self.path).name

    def replace_clip(self, clip: VideoClip, thumbnails: list[str]) -> None:
        """Use other frames of the same video (features computed for the old ones no longer apply)."""
        self.clip, self.thumbnails, self.key = clip, thumbnails, new_id()

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
    stats: str = ""  # one line under the answer: frames, tokens, speed
    status: TurnStatus = "pending"
    notes: list[str] = field(default_factory=list)  # user-facing remarks (e.g. fewer frames)
    rejected: list[str] = field(default_factory=list)  # names of attached files that could not be read
    frame_times: bool = False  # tell the model when each video frame was taken
    preamble: str = ""  # text the model reads before the question, not shown in the chat (a timeline)
    loading: list[str] = field(default_factory=list)  # attached files still being read (shown by name)
    progress: str = ""  # what is happening before the answer starts (e.g. sampling frames)
    label: str = ""  # shown before the answer, not read by the model (a live commentary's time range)
    prompt_ids: list[int] | None = None  # token ids fed for this turn (None: not tokenized yet)
    answer_ids: list[int] | None = None  # token ids generated (None: only the text is known)

    def warn(self, text: str) -> None:
        """Add a note that says something went wrong."""
        self.notes.append(WARNING + text)

    @property
    def plain_notes(self) -> list[str]:
        """The notes without their warning sign (for programs and downloads)."""
        return [note.replace(WARNING, "") for note in self.notes]

    def context_media(self) -> list[MediaItem]:
        """This turn's media the model sees, in the order the chat templates render them."""
        kept = [m for m in self.media if not m.dropped]
        return [m for m in kept if m.kind == "image"] + [m for m in kept if m.kind == "video"]

    def reset_answer(self) -> None:
        """Forget the answer so it can be generated again."""
        self.answer, self.stats, self.status, self.answer_ids = "", "", "pending", None


@dataclass
class Conversation:
    """All turns of one chat session, oldest first."""

    turns: list[Turn] = field(default_factory=list)
    system_prompt: str = ""
    session_id: str = ""  # this conversation's random id: its caches' key, its folder's name ("" until first use)
    keep_cache: bool = True  # False for one-off API questions: nothing to reuse later
    owner: str = ""  # the visitor's address: whose turn at the model and at a decoder this is
    player_shows: tuple | None = None  # (video, subtitles) the page's player shows now (None: not set yet)
    previews: dict[str, str | None] = field(default_factory=dict)  # playable copies of its videos (None: none)
    subtitles: dict[str, str] = field(default_factory=dict)  # WebVTT files of its timelines, by video and parts

    def ensure_id(self) -> str:
        """This conversation's id, made (at random) on first use."""
        if not self.session_id:
            self.session_id = new_id()
        return self.session_id

    def write_frames(self, item: MediaItem) -> None:
        """Write a video item's frames as the page's thumbnails, into this conversation's folder."""
        item.thumbnails = write_thumbnails(item.clip, item_dir(self.ensure_id(), item.key))

    def remove_frames(self, item: MediaItem) -> None:
        """Delete a media item's thumbnails."""
        remove_item(self.session_id, item.key)

    def context_turns(self) -> list[Turn]:
        """Turns the model sees: all but those that failed."""
        return [turn for turn in self.turns if turn.status != "error"]

    def media(self) -> list[MediaItem]:
        """Every media item in the model's context, in the order the model sees it."""
        return [item for turn in self.context_turns() for item in turn.context_media()]

    def images(self) -> list[Image.Image]:
        return [m.image for m in self.media() if m.kind == "image" and m.image is not None]

    def videos(self) -> list[VideoClip]:
        return [m.clip for m in self.media() if m.kind == "video" and m.clip is not None]

    def frame_count(self) -> int:
        """Video frames in the model's context, all videos together."""
        return sum(len(clip.timestamps) for clip in self.videos())

    def count(self, kind: MediaKind) -> int:
        return sum(1 for m in self.media() if m.kind == kind)

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    @property
    def running(self) -> bool:
        """An answer is being prepared or written (the last turn is pending)."""
        return self.last is not None and self.last.status == "pending"


def placeholder_part(item: MediaItem) -> dict:
    """A media part as chat templates take it: {'type': 'video'} or {'type': 'image'}."""
    return {"type": item.kind}


def template_messages(
    conv: Conversation, answers: list[str] | None = None, media_part: Callable[[MediaItem], dict] = placeholder_part
) -> list[dict]:
    """Chat messages (typed content parts) for the conversation's context turns.

    By default the answers of finished turns are included and the last turn's answer is left out
    while it is being generated. `answers`, when given, replaces the answer of turn i by
    answers[i] (even an empty one) and leaves later turns without an answer. `media_part` makes
    the content part of each media item (a placeholder for chat templates, the data itself for an
    OpenAI-compatible server).
    """
    messages: list[dict] = []
    if conv.system_prompt:
        messages.append({"role": "system", "content": [{"type": "text", "text": conv.system_prompt}]})
    for i, turn in enumerate(conv.context_turns()):
        media = turn.context_media()
        parts = [media_part(m) for m in media]
        hint = frame_times_hint(media) if turn.frame_times else ""
        text = "\n".join(part for part in (turn.preamble, hint, turn.text) if part)
        parts.append({"type": "text", "text": plain_text(text)})
        messages.append({"role": "user", "content": parts})
        if answers is not None:
            answer = answers[i] if i < len(answers) else None
        else:
            answer = plain_text(turn.answer) if turn.status != "pending" and turn.answer else None
        if answer is not None:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return messages


def frame_times_hint(media: list[MediaItem]) -> str:
    """'Frames of clip.mp4 (12.0 s long) were taken at 0.4 s, 1.1 s, ...' for each video."""
    lines = []
    for item in media:
        if item.clip is not None:
            times = ", ".join(f"{t:.1f} s" for t in item.clip.timestamps)
            lines.append(f"Frames of {item.name} ({item.clip.duration:.1f} s long) were taken at {times}.")
    return " ".join(lines)


def attached_files(conv: Conversation, turn: Turn) -> list[str]:
    """The files the visitor attached to `turn` (not those taken again from earlier turns)."""
    earlier = {m.path for t in conv.turns if t is not turn for m in t.media}
    return [m.path for m in turn.media if m.path not in earlier]


def keep_earlier_timeline(conv: Conversation, item: MediaItem) -> None:
    """Give new frames of a scanned file the timeline of its newest scan, if any."""
    scanned = [m for t in conv.turns for m in t.media if m.path == item.path and m.timeline]
    if scanned:
        item.timeline, item.timeline_parts = scanned[-1].timeline, scanned[-1].timeline_parts


def latest_video(conv: Conversation) -> MediaItem | None:
    """The newest video file of the conversation (the one a follow-up, a scan or the player is
    about); a live camera's clip is no file and is left out."""
    videos = [m for turn in conv.turns for m in turn.media if m.kind == "video" and Path(m.path).is_file()]
    return videos[-1] if videos else None


SCAN_QUESTION = "Describe what happens in this part of the video in one or two sentences."


def segment_conversation(clip: VideoClip, question: str = SCAN_QUESTION) -> Conversation:
    """A one-turn conversation asking `question` about one segment's frames."""
    return Conversation(
        turns=[Turn(text=question, media=[MediaItem(path="segment.mp4", kind="video", clip=clip)])], keep_cache=False
    )
