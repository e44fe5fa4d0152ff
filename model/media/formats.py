"""The files this demo reads, by name: video and image extensions, and the sentence that lists them
(no decoder imported: the model's layers below the media decoding can name them)."""

from __future__ import annotations

VIDEO_EXTENSIONS = (
    ".mp4",
    ".mov",
    ".m4v",
    ".webm",
    ".mkv",
    ".avi",
    ".gif",
    ".mpg",
    ".mpeg",
    ".ts",
    ".flv",
    ".ogv",
    ".3gp",
    ".wmv",
)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
ACCEPTED = "MP4, MOV, WebM, MKV, AVI or GIF videos, or PNG, JPEG, WebP, BMP or TIFF images"
