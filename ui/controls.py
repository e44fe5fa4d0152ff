"""The question box's two states: idle (typing, no Stop) and busy (locked, Stop shown); sliders that
keep a typed number within their range."""

from __future__ import annotations

from dataclasses import fields

import gradio as gr


def busy_box(**kwargs) -> gr.MultimodalTextbox:
    """Locked while something runs for this chat; its Stop square is the only control."""
    return gr.MultimodalTextbox(interactive=False, stop_btn=True, **kwargs)


def idle_box(**kwargs) -> gr.MultimodalTextbox:
    """Open for the next question; no Stop, as nothing runs."""
    return gr.MultimodalTextbox(interactive=True, stop_btn=False, **kwargs)


def keep_in_range(slider: gr.Slider) -> None:
    """A number typed into the slider's box past its ends is brought back to them, in the browser. gradio
    refuses an out-of-range value of the whole event that sends it: typed past Max new tokens, it
    left the question sent and its answer never started."""
    low, high = slider.minimum, slider.maximum
    slider.change(
        None,
        slider,
        slider,
        js=f"(v) => Math.min(Math.max(Number(v) || {low}, {low}), {high})",
        queue=False,
        api_visibility="private",
    )


class ByName:
    """A dataclass of settings components whose values reach handlers by field name."""

    @property
    def by_name(self) -> dict[str, gr.components.Component]:
        """The handlers' `inputs_kwargs`: each value reaches them under its field's name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
