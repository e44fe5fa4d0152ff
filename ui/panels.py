"""The side panel: the newest video's frames, a title line above them, click one to enlarge it."""

from __future__ import annotations

from dataclasses import dataclass, fields

import gradio as gr

from model.chat.conversation import Conversation
from ui.messages import escape_markdown, latest_strip
from ui.player import player_update
from ui.scan import timeline_for

EMPTY_TITLE = "**Frames the model saw** · the newest video's, once you send one"


def frames_panel(conv: Conversation) -> tuple:
    """The side panel for the conversation: the player and its note, the frames' title and gallery
    (title above: no label over the frames), and the newest video's timeline."""
    strip = latest_strip(conv)
    if strip is None:
        return *player_update(conv), gr.Markdown(EMPTY_TITLE), gr.Gallery(value=None, visible=False), timeline_for(conv)
    return (
        *player_update(conv),
        gr.Markdown(f"**Frames the model saw** · {escape_markdown(strip.label)}"),
        gr.Gallery(value=strip.frames, visible=True),
        timeline_for(conv),
    )


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
    """The side panel's components, in the order `frames_panel` updates them."""

    player: gr.Video
    player_note: gr.Markdown
    frames_title: gr.Markdown
    frames: gr.Gallery
    timeline: gr.HTML

    @property
    def outputs(self) -> list:
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def unchanged(cls) -> tuple:
        """An update that leaves every part of the panel as it is."""
        return (gr.skip(),) * len(fields(cls))


def player_and_frames() -> tuple[gr.Video, gr.Markdown, gr.Markdown, gr.Gallery]:
    """The panel's player, its note, and the frames with their title (placed where it is called)."""
    player = gr.Video(
        label="The newest video",
        interactive=False,
        visible=False,
        elem_id="player",
        buttons=["download"],
        autoplay=False,
    )
    note = gr.Markdown(visible=False, elem_id="player-note")
    title = gr.Markdown(EMPTY_TITLE, elem_id="frames-title")
    frames = gr.Gallery(
        show_label=False,
        columns=2,
        height="auto",
        object_fit="contain",
        allow_preview=True,
        elem_id="frames",
        buttons=["fullscreen"],
        visible=False,  # shown with the first video's frames
    )
    return player, note, title, frames
