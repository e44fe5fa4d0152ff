"""The side panel: the newest video's frames, a title line above them, click one to enlarge it."""

from __future__ import annotations

import gradio as gr

from model.conversation import Conversation, latest_strip

EMPTY_TITLE = "**Frames the model saw** · the newest video's, once you send one"


def frames_panel(conv: Conversation) -> tuple[gr.Markdown, gr.Gallery]:
    """The panel's title and gallery for the conversation (title above: no label over the frames)."""
    strip = latest_strip(conv)
    if strip is None:
        return gr.Markdown(EMPTY_TITLE), gr.Gallery(value=None)
    return gr.Markdown(f"**Frames the model saw** · {strip.label}"), gr.Gallery(value=strip.frames)
