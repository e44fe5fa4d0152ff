"""A conversation to take home: one self-contained HTML page, and the same as JSON data.

Both hold each question with its media names, the frames the model saw with their times, each
answer with its status, notes and stats, the model and the date; never a server path. Everything a
visitor or the model wrote is escaped, and the page carries a Content-Security-Policy that allows
no script at all, so a file named `<img src=x onerror=alert(1)>.mp4` shows as text.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from model.chat.conversation import Conversation, MediaItem, Turn
from model.chat.sampling import span_words
from model.media.clip import format_timestamp
from model.media.pictures import jpeg_base64, shrink_to_height

EXPORT_FRAME_HEIGHT = 120  # pixels of each embedded frame image
IMAGE_HEIGHT = 240  # pixels of an embedded uploaded image
MAX_WIDTH_RATIO = 8  # an embedded picture is at most this many times as wide as its height


@dataclass(frozen=True)
class ExportInfo:
    """What answered and how: shown at the top of the export."""

    model: str
    settings: dict = field(default_factory=dict)
    date: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M %Z"))


def conversation_data(conv: Conversation, info: ExportInfo) -> dict:
    """The conversation as plain data (what the JSON file holds)."""
    return {
        "model": info.model,
        "date": info.date,
        "settings": info.settings,
        "turns": [_turn_data(turn) for turn in conv.turns],
    }


def _turn_data(turn: Turn) -> dict:
    return {
        "question": turn.text,
        "media": [_media_data(item) for item in turn.media],
        "rejected_files": list(turn.rejected),
        "answer": turn.answer,
        "status": turn.status,
        "notes": turn.plain_notes,
        "stats": turn.stats,
    }


def _media_data(item: MediaItem) -> dict:
    data = {"name": item.name, "kind": item.kind, "left_out_of_context": item.dropped}
    if item.clip is not None:
        data.update(
            duration_s=round(item.clip.duration, 3),
            frames=[{"time_s": round(t, 3), "time": format_timestamp(t)} for t in item.clip.timestamps],
        )
        if item.clip_range != (None, None):
            data["clip_range_s"] = [None if t is None else round(t, 3) for t in item.clip_range]
        if item.sampling:
            data["sampling"] = item.sampling
    elif item.image is not None:
        data.update(width=item.image.width, height=item.image.height)
    if item.timeline:
        data["timeline"] = [segment.as_dict() for segment in item.timeline]
    return data


def conversation_json(conv: Conversation, info: ExportInfo) -> str:
    return json.dumps(conversation_data(conv, info), indent=2, ensure_ascii=False) + "\n"


def write_exports(conv: Conversation, info: ExportInfo, folder: Path) -> tuple[Path, Path]:
    """The page and the data written into `folder` under dated names; returns (html, json) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"llava-chat-{time.strftime('%Y%m%d-%H%M%S')}-{len(conv.turns)}-turns"
    page, data = folder / f"{stem}.html", folder / f"{stem}.json"
    page.write_text(conversation_html(conv, info), encoding="utf-8")
    data.write_text(conversation_json(conv, info), encoding="utf-8")
    return page, data


def conversation_html(conv: Conversation, info: ExportInfo) -> str:
    """One HTML page that opens offline: frames embedded as small JPEGs, no script."""
    e = html.escape
    settings = " · ".join(f"{e(str(k))}: {e(str(v))}" for k, v in info.settings.items())
    body = [
        "<h1>Chat with videos and images</h1>",
        f'<p class="meta">{e(info.model)} · {e(info.date)}{" · " + settings if settings else ""}</p>',
    ]
    for number, turn in enumerate(conv.turns, 1):
        body.append(f'<section class="turn"><h2>Question {number}</h2>')
        for item in turn.media:
            body.append(_media_html(item))
        for name in turn.rejected:
            body.append(f'<p class="media-name">{e(name)} (could not be read)</p>')
        body.append(f'<div class="question">{e(turn.text)}</div>')
        notes = "".join(f'<p class="note">{e(note)}</p>' for note in turn.plain_notes)
        status = {"stopped": "⏹ stopped", "error": "failed", "pending": "unfinished"}.get(turn.status, "")
        body.append(
            f'<div class="answer">{notes}<div class="text">{e(turn.answer)}</div>'
            + (f'<p class="status">{e(status)}</p>' if status else "")
            + (f'<p class="stats">{e(turn.stats)}</p>' if turn.stats else "")
            + "</div></section>"
        )
    return PAGE.format(title=e(f"Chat · {info.model} · {info.date}"), body="\n".join(body))


def _media_html(item: MediaItem) -> str:
    e = html.escape
    if item.clip is not None:
        frames = "".join(
            f'<figure><img alt="frame at {format_timestamp(t)}" src="{_jpeg(frame, EXPORT_FRAME_HEIGHT)}">'
            f"<figcaption>{format_timestamp(t)}</figcaption></figure>"
            for frame, t in zip(item.clip.frames, item.clip.timestamps)
        )
        state = " · left out of the context" if item.dropped else ""
        picked = ", ".join(
            part
            for part in (item.sampling, span_words(*item.clip_range) if item.clip_range != (None, None) else "")
            if part
        )
        state = (f" ({e(picked)})" if picked else "") + state
        timeline = "".join(f"<li><b>{s.span}</b> {e(s.text)}</li>" for s in item.timeline)
        return (
            f'<p class="media-name">Video: {e(item.name)} · {len(item.clip.timestamps)} frames the model saw'
            f'{state}</p><div class="strip">{frames}</div>'
            + (
                f'<p class="media-name">Timeline of the whole video</p><ol class="timeline">{timeline}</ol>'
                if timeline
                else ""
            )
        )
    if item.image is not None:
        picture = _jpeg(np.asarray(item.image.convert("RGB")), IMAGE_HEIGHT)
        return (
            f'<p class="media-name">Image: {e(item.name)} · {item.image.width}x{item.image.height}</p>'
            f'<img class="picture" alt="{e(item.name)}" src="{picture}">'
        )
    return f'<p class="media-name">{e(item.name)}</p>'


def _jpeg(pixels: np.ndarray, height: int) -> str:
    """A data: URI of the picture scaled to `height` pixels (and at most MAX_WIDTH_RATIO times as
    wide: JPEG takes no side over 65,500 pixels, and a 1,000,000x1 picture is no use wider)."""
    image = shrink_to_height(Image.fromarray(pixels), height, max_width=height * MAX_WIDTH_RATIO)
    return "data:image/jpeg;base64," + jpeg_base64(image, quality=80)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; color: #1f2937; }}
.meta {{ color: #6b7280; font-size: .9rem; }}
.turn {{ border-top: 1px solid #e5e7eb; padding: .5rem 0 1rem; }}
h2 {{ font-size: 1rem; color: #6b7280; margin: .5rem 0; }}
.question {{ background: #eef2ff; border-radius: .5rem; padding: .6rem .8rem; white-space: pre-wrap; }}
.answer {{ background: #f9fafb; border-radius: .5rem; padding: .6rem .8rem; margin-top: .5rem; }}
.answer .text {{ white-space: pre-wrap; }}
.note, .status {{ font-style: italic; color: #92400e; margin: .2rem 0; }}
.stats {{ font-size: .8rem; color: #6b7280; margin: .4rem 0 0; }}
.media-name {{ font-size: .9rem; margin: .4rem 0 .2rem; overflow-wrap: anywhere; }}
.strip {{ display: flex; gap: 4px; overflow-x: auto; padding-bottom: 4px; }}
figure {{ margin: 0; flex: none; text-align: center; }}
figure img {{ height: {frame}px; display: block; border-radius: 3px; }}
figcaption {{ font-size: .75rem; color: #374151; font-variant-numeric: tabular-nums; }}
.picture {{ max-width: 100%; height: auto; border-radius: 4px; }}
.timeline {{ font-size: .9rem; padding-left: 1.2rem; }}
.timeline b {{ font-variant-numeric: tabular-nums; font-weight: 600; margin-right: .4rem; }}
</style></head>
<body>
{body}
</body></html>
""".replace("{frame}", str(EXPORT_FRAME_HEIGHT))
