"""The page's layout: the header, the chat column and the side column, each built where it is
called and returned as a dataclass of its components; `Page` holds them all for the wiring."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import gradio as gr

from model.media.formats import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from ui.answer_settings import AnswerSettings, answer_accordion
from ui.camera import CameraPanel, camera_panel
from ui.context import AppContext
from ui.export import export_buttons
from ui.inputs import ChatInput
from ui.panels import ABOUT, SidePanel, player_and_frames, upload_limits
from ui.scan import ScanControls, scan_accordion
from ui.video_settings import VideoSettings, video_accordion


@dataclass
class ChatColumn:
    """The chat, the question box under it, the downloads and the camera."""

    chatbot: gr.Chatbot
    textbox: gr.MultimodalTextbox
    exports: list  # the download buttons: conversation (HTML, JSON), timeline (SRT, WebVTT)
    camera: CameraPanel


@dataclass
class Page:
    """Every component the wiring needs."""

    conv: gr.State
    chat: ChatColumn
    side: SidePanel
    scan: ScanControls
    video: VideoSettings
    answer: AnswerSettings


def header(ctx: AppContext) -> None:
    """The title, what runs, and the engine's notice and limits when it has them."""
    gr.Markdown(
        f"# Chat with videos and images · {ctx.engine.family_name}\n<sub>Running **{ctx.engine.description}**</sub>",
        elem_id="title",
    )
    gr.Markdown(f"<sub>{ABOUT}</sub>", elem_id="about")  # left out on a phone: the question box comes first
    if ctx.engine.notice:
        headline, details = notice_parts(ctx.engine.notice)
        gr.HTML(
            f"<details><summary>⚠️ <strong>{escape(headline)}</strong></summary><p>{escape(details)}</p></details>"
            if details
            else f"<p>⚠️ <strong>{escape(headline)}</strong></p>",
            elem_id="notice",
        )
    limits = ctx.support.summary(frames_asked=ctx.settings.max_frames)
    if limits:
        who = "This model" if ctx.engine.needs_gpu else "This model server"  # in this process, or behind HTTP
        gr.Markdown(f"ℹ️ {who} takes {limits}.", elem_id="limits")


def notice_parts(notice: str) -> tuple[str, str]:
    """(what a visitor must know, the rest): the banner shows the first, the second behind a disclosure,
    so that a long banner never pushes the question box off a phone's first screen."""
    for mark in (": ", ". "):
        head, found, rest = notice.partition(mark)
        if found and rest.strip():
            rest = rest.strip()
            return head.rstrip(".") + ".", rest[0].upper() + rest[1:]
    return notice, ""


def chat_column(ctx: AppContext, examples: list[dict]) -> ChatColumn:
    """The main column (placed where it is called)."""
    images = ctx.support.images
    chatbot = gr.Chatbot(
        label="Chat",
        height="min(560px, 56vh)",
        buttons=["copy"],
        show_label=False,
        elem_id="chat",
        placeholder=f"Upload {'a video or an image' if images else 'a video'}, "
        "then ask about it. Follow-up questions keep the same media.",
    )
    textbox = ChatInput(
        file_types=[*VIDEO_EXTENSIONS, *(IMAGE_EXTENSIONS if images else ())],
        file_count="multiple",
        placeholder=("Ask about a video or image" if images else "Ask about a video") + "…",
        show_label=False,
        stop_btn=False,
        sources=["upload"],
        max_plain_text_length=4000,
        elem_id="question",
    )
    settings = ctx.settings
    gr.Markdown(upload_limits(ctx.limits, settings.max_file_mb, images), elem_id="upload-limits")
    exports = list(export_buttons())
    camera = camera_panel(settings.camera_seconds, settings.commentary_every, settings.camera_time_limit)
    gr.Examples(examples=examples, inputs=textbox, label="Examples")
    return ChatColumn(chatbot, textbox, exports, camera)


def side_column(ctx: AppContext) -> tuple[SidePanel, ScanControls, VideoSettings, AnswerSettings]:
    """The narrow column (placed where it is called): player, frames, scan, and the settings."""
    player, note, frames = player_and_frames()
    scan = scan_accordion()
    side = SidePanel(player, note, frames, scan.timeline)
    video = video_accordion(ctx.limits, ctx.settings, scan.from_scan)
    answer = answer_accordion(ctx.settings)
    return side, scan, video, answer
