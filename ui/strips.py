"""Frame strips as light HTML: one scrollable row of the thumbnails the page already serves.

A strip is sent once with the message that adds it; while an answer streams, gradio sends only
the diff of the chat value, so an unchanged strip does not travel again (a nested Gallery
component was rebuilt, re-serialised and re-rendered on every token).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

import gradio as gr

from ui.messages import FrameStrip

STRIP_CLASS = "frame-strip"


def file_url(path: str) -> str:
    """The page-relative URL gradio serves a file under (works behind a proxy's path prefix)."""
    return "gradio_api/file=" + quote(path, safe="/")


def strip_html(strip: FrameStrip) -> str:
    """The strip's label, then one row of frames, each with its time under it; a click enlarges one."""
    label = escape(strip.label)
    total = len(strip.frames)
    seconds = strip.seconds or (None,) * total
    figures = "".join(
        f'<figure tabindex="0"{_seek(t)}><img src="{escape(file_url(path))}" loading="lazy" '
        f'alt="frame {i} of {total}, at {escape(time)}"><figcaption>{escape(time)}</figcaption></figure>'
        for i, ((path, time), t) in enumerate(zip(strip.frames, seconds), start=1)
    )
    return (
        f'<div class="{STRIP_CLASS}" role="group" aria-label="{label}">'
        f'<div class="strip-label">{label}</div><div class="strip-row">{figures}</div></div>'
    )


def _seek(seconds: float | None) -> str:
    """The attribute the page's player reads when the frame is clicked."""
    return "" if seconds is None else f' data-t="{seconds:.3f}" title="Play from here"'


def _html_props() -> dict:
    """The configuration of a plain gr.HTML block, without its value and click script."""
    return {**gr.HTML(render=False).get_config(), "value": None, "js_on_load": None}


HTML_PROPS = _html_props()  # built once, outside any page: gr.HTML cannot be made inside a handler


def strip_message(strip: FrameStrip) -> dict:
    """A Chatbot content part showing the strip (an HTML block, ready-made: nothing to rebuild)."""
    return {
        "type": "component",
        "component": "html",
        "value": strip_html(strip),
        "constructor_args": {},
        "props": HTML_PROPS,
    }
