"""Times written into the frames: each frame's mm:ss.s in its corner, as the model and the strip see it.

Some video models' authors found a time drawn on the picture more reliable than times in the text.
Off by default (the page's "Write the time on each frame").
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from model.media.clip import VideoClip, format_timestamp


def stamp_times(clip: VideoClip) -> VideoClip:
    """The clip with each frame's time drawn in white on black in its bottom-left corner."""
    height = clip.frames.shape[1]
    font = ImageFont.load_default(size=max(10, height // 14))
    stamped = []
    for frame, t in zip(clip.frames, clip.timestamps):
        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        text = format_timestamp(t)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        pad = max(2, height // 80)
        box = (0, height - (bottom - top) - 3 * pad, right - left + 2 * pad, height)
        draw.rectangle(box, fill=(0, 0, 0))
        draw.text((pad - left, box[1] + pad - top), text, font=font, fill=(255, 255, 255))
        stamped.append(np.asarray(image))
    return replace(clip, frames=np.stack(stamped))
