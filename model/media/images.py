"""Images for the model: decoded no larger than what is kept (a JPEG at a reduced scale, the middle part
of a very long picture), upright, in RGB, bounded in pixels before and after decoding."""

from __future__ import annotations

import math
import os
import struct
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model.media.files import MediaError, check_file
from model.media.formats import ACCEPTED

MAX_IMAGE_PIXELS = 40_000_000  # decompression-bomb guard for images
MAX_IMAGE_SIDE = 32_768  # and on a side: decoding costs by the row too (a 76 KB PNG of 1 x 39,000,000)
KEEP_SHORT, KEEP_LONG = 672, 1008  # an image is kept at least this large on its short and long sides
MAX_KEPT_IMAGE_PIXELS = 4_000_000  # and never larger than this once loaded (12 MB of RGB)
MAX_ASPECT = 4  # frames wider or taller than this keep their middle part (32:9 is 3.6)


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB image from any PIL mode: 16-bit/float gray scaled, alpha composited on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im).astype(np.float64)
        top = 65535.0 if im.mode.startswith("I") and arr.max(initial=0) > 255 else max(arr.max(initial=0), 255.0)
        if im.mode == "F":
            top = arr.max(initial=0) if arr.max(initial=0) > 1.0 else 1.0
        im = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("LA", "La", "PA", "RGBa") or (im.mode != "RGBA" and "transparency" in im.info):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")


def middle_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The middle part of a picture no wider or taller than MAX_ASPECT:1 (left, top, right, bottom);
    the processor's tiling takes the middle anyway. The same box whichever way the picture is turned."""
    keep_w, keep_h = min(width, height * MAX_ASPECT), min(height, width * MAX_ASPECT)
    left, top = (width - keep_w) // 2, (height - keep_h) // 2
    return left, top, left + keep_w, top + keep_h


def kept_scale(width: int, height: int) -> float:
    """How much a picture of this size is scaled down to be kept: the processor never uses more than
    1008 px on a side, and its choice of tiling is the same for any size at least 672 px short and
    1008 px long; MAX_KEPT_IMAGE_PIXELS bounds the rest."""
    return min(
        1.0,
        max(KEEP_SHORT / min(width, height), KEEP_LONG / max(width, height)),
        math.sqrt(MAX_KEPT_IMAGE_PIXELS / (width * height)),
    )


def kept_size(image: Image.Image) -> Image.Image:
    """The image no larger than the model and the page need (its middle part past MAX_ASPECT:1, at
    most MAX_KEPT_IMAGE_PIXELS)."""
    box = middle_box(*image.size)
    if box != (0, 0, *image.size):
        image = image.crop(box)
    w, h = image.size
    scale = kept_scale(w, h)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)


def _decode_small(im: Image.Image) -> Image.Image:
    """Decode only what will be kept: a JPEG at the smallest scale (1/2, 1/4, 1/8) that still gives
    the kept size, then the middle part of a very long picture, before any copy in RGB is made."""
    left, top, right, bottom = middle_box(*im.size)
    scale = kept_scale(right - left, bottom - top)
    if im.format == "JPEG" and scale < 0.5:
        im.draft("RGB", (math.ceil(im.width * scale), math.ceil(im.height * scale)))
    im.load()
    box = middle_box(*im.size)
    return im.crop(box) if box != (0, 0, *im.size) else im


def load_image(path: str | os.PathLike) -> Image.Image:
    """Load an image as upright RGB (EXIF orientation applied), refusing decompression bombs; what is
    decoded is bounded by MAX_IMAGE_PIXELS, what is kept by `kept_size`."""
    p = check_file(path)
    bomb = MediaError(
        f"This image is too large (over {MAX_IMAGE_PIXELS // 1_000_000} megapixels); please upload a smaller image."
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise bomb
                if max(w, h) > MAX_IMAGE_SIDE:
                    raise MediaError(
                        f"This image is {w:,}x{h:,} pixels, too long and thin to read; please upload one of at "
                        f"most {MAX_IMAGE_SIDE:,} pixels on a side."
                    )
                if getattr(im, "n_frames", 1) > 1:
                    im.seek(0)
                exif = im.getexif()  # read before decoding: a draft or a crop is a new image without it
                small = _decode_small(im)
                if small is not im and "exif" not in small.info:
                    small.info["exif"] = exif.tobytes()
                small = ImageOps.exif_transpose(small) or small
                out = _to_rgb(small)
                out.load()
                return kept_size(out)
    except MediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise bomb from e
    except UnidentifiedImageError as e:
        raise MediaError(f"This file is not an image that can be read; please upload {ACCEPTED}.") from e
    except (OSError, ValueError, SyntaxError, struct.error, MemoryError) as e:
        raise MediaError(
            "This image is damaged or incomplete and could not be read; please upload another copy."
        ) from e
