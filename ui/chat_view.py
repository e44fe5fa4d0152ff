"""The conversation as the Chatbot's value: text and files as they are, frame strips as HTML."""

from __future__ import annotations

from pathlib import Path

from model.camera.live import is_camera
from model.chat.conversation import Conversation, MediaItem
from model.media.formats import IMAGE_EXTENSIONS
from ui.messages import FrameStrip, chatbot_messages, escape_markdown
from ui.strips import strip_message

PLAYABLE_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".ogv")  # containers a browser's <video> plays


def render_chat(conv: Conversation) -> list[dict]:
    """Chatbot messages; earlier messages come out identical each time, so streaming sends diffs."""
    items = {m.path: m for turn in conv.turns for m in turn.media}
    out = []
    for message in chatbot_messages(conv):
        content = message["content"]
        if isinstance(content, FrameStrip):
            content = strip_message(content)
        elif isinstance(content, dict) and "path" in content:
            if items.get(content["path"]) is not None and is_camera(items[content["path"]]):
                continue  # camera frames show as their strip only
            out.append({"role": "user", "content": f"Attached: {escape_markdown(Path(content['path']).name)}"})
            content = media_preview(content["path"], items.get(content["path"]))
        out.append({**message, "content": content})
    return out


def media_preview(path: str, item: MediaItem | None) -> dict | str:
    """The file itself when the browser shows it; else a sampled frame as its poster, or nothing yet."""
    if Path(path).suffix.lower() in PLAYABLE_SUFFIXES + IMAGE_EXTENSIONS:
        return {"path": path}
    if item is not None and item.thumbnails:
        return {"path": item.thumbnails[len(item.thumbnails) // 2]}
    kind = Path(path).suffix.lstrip(".").upper()
    return f"*{kind} video: browsers cannot play it; one of its frames shows here once sampled*"
