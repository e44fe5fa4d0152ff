"""Camera turns in a conversation: the ring's clip as a video, older camera clips kept as text only.

A question asked while the camera runs, and each live commentary, becomes a turn whose video is
the last seconds of the camera. Only the newest camera clip stays in the model's context (and in
memory): earlier camera turns keep their text, answer and frame strip. A backend that takes one
video per conversation (vLLM) gets earlier turns as text and the newest clip as its video.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from model.chat.conversation import Conversation, MediaItem, Turn
from model.media.clip import VideoClip, format_clock

CAMERA_NAME = "camera"  # a camera item's path: never a file (uploads have absolute paths)
CAMERA_QUESTION = "What is happening in front of the camera?"
COMMENTARY_QUESTION = (
    "Describe in one or two sentences what is happening now. If something changed since "
    "your previous description, say what changed."
)
COMMENTARY_KEPT = 10  # commentary turns kept in the conversation; older ones leave it


def span(clip: VideoClip) -> str:
    """The clip's time range since the camera started, as '0:12-0:20'."""
    first, last = clip.timestamps[0], clip.timestamps[-1]
    return f"{format_clock(first)}-{format_clock(max(last, first))}"


def is_camera(item: MediaItem) -> bool:
    """True for a media item taken from the live camera."""
    return item.path == CAMERA_NAME or item.path.startswith(CAMERA_NAME + " ")


def camera_item(clip: VideoClip, conv: Conversation) -> MediaItem:
    """A video item of the camera's clip, its frame images written into the conversation's folder."""
    item = MediaItem(path=f"{CAMERA_NAME} {span(clip)}", kind="video", clip=clip)
    conv.write_frames(item)
    return item


def retire_videos(conv: Conversation, every_video: bool) -> None:
    """Leave earlier camera clips (every video, when `every_video`) out of the context; free their pixels."""
    for turn in conv.turns:
        for item in turn.media:
            if item.kind == "video" and not item.dropped and (every_video or is_camera(item)):
                item.dropped = True
                turn.prompt_ids = None  # tokenized again without the video
                if is_camera(item) and item.clip is not None:
                    empty = np.empty((0, *item.clip.frames.shape[1:]), np.uint8)  # the strip keeps its images
                    item.clip = replace(item.clip, frames=empty)


def add_camera_turn(conv: Conversation, text: str, clip: VideoClip, one_video: bool, commentary: bool = False) -> Turn:
    """Append a turn about the camera's clip; a commentary's question is read by the model, not shown."""
    retire_videos(conv, every_video=one_video)
    turn = Turn(
        text="" if commentary else text,
        preamble=COMMENTARY_QUESTION if commentary else "",
        label=span(clip) if commentary else "",
    )
    turn.media.append(camera_item(clip, conv))
    conv.turns.append(turn)
    return turn


def attach_camera(conv: Conversation, turn: Turn, clip: VideoClip, one_video: bool) -> None:
    """Put the camera's clip into a question's turn (the turn is already in the conversation)."""
    retire_videos(conv, every_video=one_video)
    turn.media.insert(0, camera_item(clip, conv))


def trim_commentary(conv: Conversation, keep: int = COMMENTARY_KEPT) -> int:
    """Remove the oldest commentary turns beyond `keep` (and their frame images); returns how many."""
    commentary = [turn for turn in conv.turns if turn.label]
    gone = commentary[: max(0, len(commentary) - keep)]
    for turn in gone:
        conv.turns.remove(turn)
        for item in turn.media:
            conv.remove_frames(item)
    return len(gone)
