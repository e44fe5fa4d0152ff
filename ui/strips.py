"""Frame strips as light HTML: one scrollable row of the thumbnails the page already serves.

A strip is sent once with the message that adds it; while an answer streams, gradio sends only
the diff of the chat value, so an unchanged strip does not travel again (a nested Gallery
component was rebuilt, re-serialised and re-rendered on every token).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from ui.gradio_internals import html_block_props
from ui.messages import FrameStrip

STRIP_CLASS = "frame-strip"


def file_url(path: str) -> str:
    """The page-relative URL gradio serves a file under (works behind a proxy's path prefix)."""
    return "gradio_api/file=" + quote(path, safe="/")


def strip_html(strip: FrameStrip, label: str | None = None, grid: bool = False) -> str:
    """The strip's label (`label` instead of its own, when given), then its frames, each with its time
    under it: one row (or a `grid`) that is a single tab stop, arrow keys moving between frames, and
    Enter, Space or a click seeking the page's player to a frame's time (ui/player.js)."""
    name = escape(strip.label)
    total = len(strip.frames)
    seconds = strip.seconds or (None,) * total
    width, height = strip.size
    room = f' width="{round(72 * width / height)}" height="72"' if width and height else ""
    figures = "".join(
        _figure(path, time, t, i, total, first=i == 1, room=room)
        for i, ((path, time), t) in enumerate(zip(strip.frames, seconds), start=1)
    )
    layout = "strip-grid" if grid else "strip-row"
    return (
        f'<div class="{STRIP_CLASS}" role="group" aria-label="{name}">'
        f'<div class="strip-label">{escape(label) if label is not None else name}</div>'
        f'<div class="{layout}" role="toolbar" aria-label="Frames: arrow keys move, Enter plays from one">'
        f"{figures}</div></div>"
    )


def _figure(path: str, time: str, seconds: float | None, i: int, total: int, first: bool, room: str = "") -> str:
    """One frame: a button named by the time it shows, when its time is known (a seek target); `room`:
    the picture's size attributes, so that it takes its place before it loads."""
    img = f'<img src="{escape(file_url(path))}" loading="lazy" alt=""{room}>'
    caption = f"<figcaption>{escape(time)}</figcaption>"
    if seconds is None:
        return f'<figure role="img" aria-label="{escape(time)}, frame {i} of {total}">{img}{caption}</figure>'
    return (
        f'<figure role="button" tabindex="{0 if first else -1}" data-t="{seconds:.3f}" '
        f'aria-label="{escape(time)}, frame {i} of {total}: play from here" title="Play from here">'
        f"{img}{caption}</figure>"
    )


HTML_PROPS = html_block_props()  # built once, outside any page: gr.HTML cannot be made inside a handler


def strip_message(strip: FrameStrip) -> dict:
    """A Chatbot content part showing the strip (an HTML block, ready-made: nothing to rebuild)."""
    return {
        "type": "component",
        "component": "html",
        "value": strip_html(strip),
        "constructor_args": {},
        "props": HTML_PROPS,
    }
