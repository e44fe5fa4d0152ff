"""The side panel: the newest video in a player, and its frames under a title (a frame seeks the player)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from model.chat.conversation import Conversation
from ui.messages import latest_strip
from ui.player import player_update
from ui.scan import timeline_for
from ui.strips import strip_html

FRAMES_TITLE = '<h2 class="panel-title">Frames the model saw</h2>'
NO_FRAMES = FRAMES_TITLE + '<p class="frames-empty">Send a video: the frames the model sees of it show here.</p>'


def frames_html(conv: Conversation) -> str:
    """The newest video's frames under their title."""
    strip = latest_strip(conv)
    return NO_FRAMES if strip is None else FRAMES_TITLE + strip_html(strip, label=strip.summary(), grid=True)


ABOUT = (
    "[LLaVA-NeXT-Video](https://huggingface.co/llava-hf/LLaVA-NeXT-Video-7B-hf) reads a video as a few "
    "sampled frames and answers questions about them "
    "([code](https://github.com/LLaVA-VL/LLaVA-NeXT), "
    "[transformers docs](https://huggingface.co/docs/transformers/model_doc/llava_next_video))"
)


def upload_limits(limits, max_file_mb: int, images: bool) -> str:
    """One line under the question box: what may be attached, and how much."""
    kinds = (
        "videos (MP4, WebM, MOV, MKV, AVI, GIF…) and images" if images else "videos (MP4, WebM, MOV, MKV, AVI, GIF…)"
    )
    size = f"{max_file_mb / 1024:g} GB" if max_file_mb >= 1024 else f"{max_file_mb} MB"
    return (
        f"<sub>Attach {kinds}: up to {size} a file, {limits.max_media_per_message} files a message, "
        f"{limits.max_media_per_conversation} a conversation; 1–{limits.max_frames} frames per video.</sub>"
    )


@dataclass
class SidePanel:
    """The side panel's components; its methods give their updates by component, for a handler to
    return (a part left out of the dict stays as it is)."""

    player: gr.Video
    player_note: gr.Markdown
    frames: gr.HTML
    timeline: gr.HTML

    @property
    def outputs(self) -> list:
        return [self.player, self.player_note, self.frames, self.timeline]

    def player_of(self, conv: Conversation, previews: bool = True) -> dict:
        """The player and its note for the newest video (`player_update`)."""
        shown = player_update(conv, previews)
        return {self.player: shown.video, self.player_note: shown.note}

    def showing(self, conv: Conversation, previews: bool = True) -> dict:
        """Every part for the conversation: the player and its note (a preview still to be made left
        for later without `previews`), the newest video's frames, and its timeline."""
        return {**self.player_of(conv, previews), self.frames: frames_html(conv), self.timeline: timeline_for(conv)}


def player_and_frames() -> tuple[gr.Video, gr.Markdown, gr.HTML]:
    """The panel's player, its note, and the frames under their title (placed where it is called)."""
    player = gr.Video(
        label="The newest video",
        interactive=False,
        visible=False,
        elem_id="player",
        buttons=["download"],
        autoplay=False,
    )
    note = gr.Markdown(visible=False, elem_id="player-note")
    frames = gr.HTML(NO_FRAMES, elem_id="frames")
    return player, note, frames
