"""Small picture helpers shared by thumbnails, downloads and the vLLM backend."""

from __future__ import annotations

import base64
import io

from PIL import Image


def shrink_to_height(image: Image.Image, height: int, max_width: int | None = None) -> Image.Image:
    """The picture scaled down (never up) to `height` pixels high, and to at most `max_width` wide."""
    if max_width is not None and image.width * height > max_width * image.height:  # the width binds
        scale = max_width / image.width
    else:
        scale = height / image.height
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR)


def jpeg_base64(image: Image.Image, quality: int) -> str:
    """The picture as JPEG bytes in base64 (the payload of a data: URL)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
