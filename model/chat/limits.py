"""What one message and one conversation may hold: the server's limits, what the backend takes,
and the check of a message before anything of it is loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.chat.conversation import Conversation, MediaItem
from model.media.formats import ACCEPTED, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS


class UserInputError(ValueError):
    """The message cannot be sent as it is; the text says what to change."""


@dataclass(frozen=True)
class ChatLimits:
    """Server-side limits on what one message and one conversation may hold."""

    max_media_per_message: int = 4
    max_media_per_conversation: int = 8
    max_question_chars: int = 4000
    max_frames: int = 32
    allowed_roots: tuple[str, ...] = ()  # folders files may come from (uploads, examples); empty: any
    images: bool = True  # False when the backend takes text and video only
    max_videos: int | None = None  # videos in context the backend takes (older ones make way); None: no own limit
    images_as_videos: bool = False  # an image goes as a one-frame video, and counts as one
    suggested_frames: int | None = None  # the backend's own frame default, when lower than the demo's

    def frames_default(self, asked: int) -> int:
        """The frames a video gets unless the visitor picks another number: the demo's `--frames`,
        no more than the backend suggests or takes."""
        return max(1, min(asked, self.max_frames, self.suggested_frames or asked))

    @classmethod
    def for_backend(cls, support: MediaSupport, max_frames: int, allowed_roots: tuple[str, ...]) -> ChatLimits:
        """The demo's limits narrowed to what the backend accepts."""
        frames = min(max_frames, support.max_frames) if support.max_frames else max_frames
        return cls(
            max_frames=frames,
            allowed_roots=allowed_roots,
            images=support.images,
            max_videos=support.max_videos,
            images_as_videos=support.image_tokens is not None,
            suggested_frames=support.frames,
        )


@dataclass(frozen=True)
class MediaSupport:
    """What a backend accepts: images or not (or as one-frame videos), videos in context, frames it
    keeps per video."""

    images: bool = True
    max_videos: int | None = None  # in the context at once (a newer one takes an older one's place); None: any
    max_frames: int | None = None  # frames per video; None: any number
    image_tokens: int | None = None  # an image goes as a one-frame video of this many tokens; None: as an image
    frames: int | None = None  # the frame default that suits the model where it runs (None: the demo's)

    def counted(self, conv: Conversation) -> list[MediaItem]:
        """The conversation's media that count against `max_videos`, oldest first."""
        kinds = ("video", "image") if self.image_tokens is not None else ("video",)
        return [m for m in conv.media() if m.kind in kinds]

    def summary(self, frames_asked: int | None = None) -> str:
        """The limits in one line for the page ('' when there are none); the frame limit only when
        it is below the `frames_asked` of the demo's settings."""
        parts = []
        if not self.images:
            parts.append("text and video only (no images)")
        if self.image_tokens is not None:
            parts.append(f"an image as one video frame ({self.image_tokens} tokens, without high-resolution tiles)")
        if self.max_videos is not None:
            what = "video or image" if self.image_tokens is not None else "video"
            parts.append(
                f"one {what} at a time (a new one takes the place of the one before)"
                if self.max_videos == 1
                else f"at most {self.max_videos} {what}s at a time"
            )
        if self.max_frames is not None and (frames_asked is None or self.max_frames < frames_asked):
            parts.append(f"at most {self.max_frames} frames per video")
        return "; ".join(parts)


def check_file_count(files: list, limits: ChatLimits) -> None:
    """UserInputError when a message names more files than one message may hold."""
    if len(files) > limits.max_media_per_message:
        raise UserInputError(f"Attach at most {limits.max_media_per_message} files per message.")


def validate_message(
    text: str | None, files: list[str] | None, conv: Conversation, limits: ChatLimits
) -> tuple[str, list[str]]:
    """Check a message before anything is loaded; returns (question, file paths)."""
    text = (text or "").strip()
    files = [str(f) for f in (files or []) if f]
    if not text and not files:
        raise UserInputError(
            "Type a question, or attach a video or an image."
            if limits.images
            else "Type a question, or attach a video."
        )
    if len(text) > limits.max_question_chars:
        raise UserInputError(
            f"The question is {len(text):,} characters long; please keep it under {limits.max_question_chars:,}."
        )
    check_file_count(files, limits)
    if len(conv.media()) + len(files) > limits.max_media_per_conversation:
        raise UserInputError(
            f"A conversation holds at most {limits.max_media_per_conversation} files: press Clear to start a new one."
        )
    for f in files:
        if limits.allowed_roots and not _inside(f, limits.allowed_roots):
            raise UserInputError(f"{Path(f).name} was not uploaded to this demo; attach the file itself.")
        if Path(f).suffix.lower() not in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS:
            raise UserInputError(f"{Path(f).name} is not a video or an image this demo reads: attach {ACCEPTED}.")
        if not limits.images and Path(f).suffix.lower() in IMAGE_EXTENSIONS:
            raise UserInputError(
                f"{Path(f).name} is an image; this demo's model server takes text and "
                "video only. Attach a video instead."
            )
    counted = VIDEO_EXTENSIONS + (IMAGE_EXTENSIONS if limits.images_as_videos else ())
    if limits.max_videos is not None and sum(Path(f).suffix.lower() in counted for f in files) > limits.max_videos:
        what = "video or image" if limits.images_as_videos else "video"
        raise UserInputError(
            f"This demo's model server takes one {what} at a time: attach one per message."
            if limits.max_videos == 1
            else f"This demo's model server takes at most {limits.max_videos} {what}s at a time: attach fewer."
        )
    return text, files


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    """True when `path` (links resolved) lies inside one of `roots`."""
    real = Path(path).resolve()
    return any(real.is_relative_to(Path(root).resolve()) for root in roots)
