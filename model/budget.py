"""Making a conversation fit the model's context: drop the oldest media, or thin the newest video."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from model.conversation import Conversation
from model.media import VideoClip


def spread(count: int, keep: int) -> list[int]:
    """`keep` indices spread evenly over range(count), first and last included."""
    return sorted({int(i) for i in np.linspace(0, count - 1, max(1, min(keep, count))).round()})


def thin_clip(clip: VideoClip, keep: list[int]) -> VideoClip:
    """The clip with only the frames at indices `keep`."""
    return replace(clip, frames=clip.frames[keep], timestamps=[clip.timestamps[i] for i in keep])


def make_room(conv: Conversation, overflow: int, tokens_per_frame: int) -> str | None:
    """Change the conversation so it needs about `overflow` fewer tokens; returns a note for the user.

    The oldest media of earlier turns goes first (its turn keeps its text and answer); when only
    the last turn's media is left, its newest video keeps fewer frames. None: nothing left to cut.
    """
    turns = conv.context_turns()
    for turn in turns[:-1]:
        for item in turn.context_media():
            item.dropped = True
            turn.prompt_ids = None  # this turn is tokenized again without the media
            return (f"{item.name} no longer fits in the model's context together with the rest, so it "
                    "was left out of this answer.")
    last = turns[-1] if turns else None
    videos = [m for m in last.context_media() if m.kind == "video" and m.clip is not None] if last else []
    if videos:
        item = videos[-1]
        have = len(item.clip.timestamps)
        keep = have - math.ceil(overflow / tokens_per_frame)
        if keep >= 1:
            indices = spread(have, keep)
            item.replace_clip(thin_clip(item.clip, indices), [item.thumbnails[i] for i in indices]
                              if item.thumbnails else [])
            last.prompt_ids = None
            return f"Used {keep} of {have} frames of {item.name} so that it fits in the model's context."
    return None
