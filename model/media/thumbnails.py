"""The frames the model saw, written as small JPEG files for the page's frame strips."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from model.media.clip import VideoClip, format_timestamp
from model.media.pictures import shrink_to_height
from model.serving.storage import inside_root

THUMB_HEIGHT = 240  # pixels; the strips show them small, the side panel larger (two a row)


def write_thumbnails(clip: VideoClip, folder: Path) -> list[str]:
    """One JPEG per sampled frame, in order, into `folder` (a media item's, from model.serving.storage);
    returns their paths."""
    if not inside_root(folder):
        raise ValueError("frame images go inside the frames root")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(clip.frames):
        image = shrink_to_height(Image.fromarray(frame), THUMB_HEIGHT)
        path = folder / f"frame_{i:03d}.jpg"
        image.save(path, quality=85)
        paths.append(str(path))
    return paths


def captions(clip: VideoClip) -> list[str]:
    """'mm:ss.s' of each frame."""
    return [format_timestamp(t) for t in clip.timestamps]
