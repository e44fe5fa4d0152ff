"""The frames the model saw, written as small JPEG files for the page's frame strips."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from PIL import Image

from model.clip import VideoClip, format_timestamp

THUMB_HEIGHT = 240  # pixels; the strip shows them small and enlarges one on click


def frames_root() -> Path:
    """Folder holding every session's frame images.

    It lies inside gradio's upload folder (GRADIO_TEMP_DIR, else <tmp>/gradio, gradio's own rule),
    so the page serves the images as they are instead of copying each into its cache.
    """
    uploads = os.environ.get("GRADIO_TEMP_DIR") or str(Path(tempfile.gettempdir()) / "gradio")
    return Path(uploads).resolve() / "llava-video-frames"


def write_thumbnails(clip: VideoClip, key: str) -> list[str]:
    """One JPEG per sampled frame, in order, under frames_root()/key; returns their paths.

    Keys may contain '/' (session/item), so a whole session's images can be removed at once.
    """
    folder = frames_root() / key
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(clip.frames):
        image = Image.fromarray(frame)
        if image.height > THUMB_HEIGHT:
            image = image.resize((max(1, round(image.width * THUMB_HEIGHT / image.height)), THUMB_HEIGHT),
                                 Image.Resampling.BILINEAR)
        path = folder / f"frame_{i:03d}.jpg"
        image.save(path, quality=85)
        paths.append(str(path))
    return paths


def captions(clip: VideoClip) -> list[str]:
    """'mm:ss.s' of each frame."""
    return [format_timestamp(t) for t in clip.timestamps]


def remove_thumbnails(key: str) -> None:
    """Delete the frame images under one key (a media item, or a whole session prefix)."""
    if key.strip("/"):
        shutil.rmtree(frames_root() / key, ignore_errors=True)
