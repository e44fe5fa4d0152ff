"""The question box's two states: idle (typing, no Stop) and busy (locked, Stop shown)."""

from __future__ import annotations

import gradio as gr


def busy_box(**kwargs) -> gr.MultimodalTextbox:
    """Locked while something runs for this chat; its Stop square is the only control."""
    return gr.MultimodalTextbox(interactive=False, stop_btn=True, **kwargs)


def idle_box(**kwargs) -> gr.MultimodalTextbox:
    """Open for the next question; no Stop, as nothing runs."""
    return gr.MultimodalTextbox(interactive=True, stop_btn=False, **kwargs)
