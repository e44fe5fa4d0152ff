"""The answer settings: how long an answer may be and how it is sampled. One group that knows its
inputs (passed to handlers by name, as the video settings are) and builds `GenerationParams`.

Adding a setting: a component here, a field in `AnswerChoice` of the same name, and its use in
`AnswerChoice.params`.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from model.engines.base import GenerationParams
from model.settings import AppSettings
from ui.controls import ByName


@dataclass(frozen=True)
class AnswerChoice:
    """The settings' values as the page or a program sends them (any of them may be odd)."""

    max_new_tokens: float = 256
    temperature: float = 0.0
    top_p: float = 0.9

    def params(self, most_tokens: int, cap: int | None = None) -> GenerationParams:
        """What the engine gets: at least 1 and at most `most_tokens` new tokens (and `cap`, when a
        caller has a lower one of its own)."""
        limit = most_tokens if cap is None else min(most_tokens, cap)
        return GenerationParams(
            max_new_tokens=max(1, min(int(self.max_new_tokens), limit)),
            temperature=float(self.temperature),
            top_p=float(self.top_p),
        )

    def recorded(self) -> dict:
        """As the conversation's downloads record them."""
        return {
            "max new tokens": int(self.max_new_tokens),
            "temperature": float(self.temperature),
            "top-p": float(self.top_p),
        }


@dataclass
class AnswerSettings(ByName):
    """The components, one per `AnswerChoice` field and of the same name."""

    max_new_tokens: gr.Slider
    temperature: gr.Slider
    top_p: gr.Slider


def answer_accordion(settings: AppSettings) -> AnswerSettings:
    """The "Answer" accordion (placed where it is called)."""
    with gr.Accordion("Answer", open=True):
        max_new = gr.Slider(
            16,
            settings.max_new_tokens,
            value=min(256, settings.max_new_tokens),
            step=16,
            label="Max new tokens",
            elem_id="max-new-tokens",
        )
        temperature = gr.Slider(
            0.0, 1.5, value=0.0, step=0.05, label="Temperature", info="0 answers greedily (the same every time)."
        )
        top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p")
    return AnswerSettings(max_new, temperature, top_p)
