"""Making a conversation fit the model's context: drop the oldest media, or thin the newest video."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from model.chat.conversation import Conversation, MediaItem, Turn
from model.chat.limits import MediaSupport
from model.media.clip import VideoClip


def spread(count: int, keep: int) -> list[int]:
    """`keep` indices spread evenly over range(count), first and last included."""
    return sorted({int(i) for i in np.linspace(0, count - 1, max(1, min(keep, count))).round()})


def thin_clip(clip: VideoClip, keep: list[int]) -> VideoClip:
    """The clip with only the frames at indices `keep`."""
    return replace(clip, frames=clip.frames[keep], timestamps=[clip.timestamps[i] for i in keep])


MIN_FRAMES = 4  # a video is thinned to this many frames before older media is dropped


def make_room(conv: Conversation, overflow: int, tokens_per_frame: int, floor: int = MIN_FRAMES) -> str | None:
    """Change the conversation so it needs about `overflow` fewer tokens; returns a note for the user.

    Videos keep fewer frames first, oldest first, down to `floor` frames each (a follow-up about
    one video keeps that video); then the oldest media of earlier turns leaves the context (its turn
    keeps its text and answer); last, the newest turn's videos go below the floor, down to 1 frame.
    None: nothing left to cut.
    """
    turns = conv.context_turns()
    videos = [
        (turn, item)
        for turn in turns
        for item in turn.context_media()
        if item.kind == "video" and item.clip is not None
    ]
    for turn, item in videos:
        if len(item.clip.timestamps) > floor:
            return _thin(turn, item, overflow, tokens_per_frame, floor)
    for turn in turns[:-1]:
        for item in turn.context_media():
            leave_out(turn, item)
            return (
                f"{item.name} no longer fits in the model's context together with the rest, so it "
                "was left out of this answer."
            )
    for turn, item in reversed(videos):
        if turn is turns[-1] and len(item.clip.timestamps) > 1:
            return _thin(turn, item, overflow, tokens_per_frame, 1)
    return None


def _thin(turn: Turn, item: MediaItem, overflow: int, tokens_per_frame: int, floor: int) -> str:
    """Keep fewer frames of one video (no fewer than `floor`), spread over the same span."""
    have = len(item.clip.timestamps)
    keep = max(floor, have - math.ceil(overflow / tokens_per_frame))
    indices = spread(have, keep)
    item.replace_clip(thin_clip(item.clip, indices), [item.thumbnails[i] for i in indices] if item.thumbnails else [])
    turn.prompt_ids = None
    return f"Used {keep} of {have} frames of {item.name} so that the conversation fits in the model's context."


def leave_out(turn: Turn, item: MediaItem) -> None:
    """Leave one media item of `turn` out of the model's context (the chat still shows it)."""
    item.dropped = True
    turn.prompt_ids = None  # the turn is tokenized again without it


def make_way(conv: Conversation, support: MediaSupport) -> list[str]:
    """Leave the oldest media out of the context while it holds more than the backend takes at once:
    a newer video (or image, where images go as videos) takes the place of the one before. Returns
    a note for each."""
    if support.max_videos is None:
        return []
    counted = support.counted(conv)
    what = "video or image" if support.image_tokens is not None else "video"
    notes = []
    for item in counted[: max(0, len(counted) - support.max_videos)]:
        turn = next(t for t in conv.turns if any(m is item for m in t.media))
        leave_out(turn, item)
        notes.append(
            f"{item.name} left the model's context: the model server takes one {what} at a time, "
            "so this answer is about the newest (earlier answers stay in the chat)."
            if support.max_videos == 1
            else f"{item.name} left the model's context: the model server takes {support.max_videos} at a time."
        )
    return notes
