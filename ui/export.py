"""Download buttons under the chat: the conversation as one HTML page and as JSON data, and the
newest video's scanned timeline as subtitles (SRT, WebVTT) once there is one.

The files are written after each answer (and after Undo or Clear) into the session's own folder of
frame images, so one click downloads them, and Clear or a closed tab removes them with the frames.
"""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from model.chat.conversation import Conversation, latest_video
from model.export import ExportInfo, write_exports
from model.scan.subtitles import write_subtitles
from model.serving.logs import summary
from model.serving.storage import item_dir, remove_tree

log = logging.getLogger(__name__)


def export_buttons() -> tuple[gr.DownloadButton, ...]:
    """The buttons, disabled until there is an answer to keep; the timeline's hidden until a scan."""
    with gr.Row(elem_id="export"):
        page = gr.DownloadButton(PAGE_LABEL, interactive=False, size="sm", variant="secondary", elem_id="export-html")
        data = gr.DownloadButton(DATA_LABEL, interactive=False, size="sm", variant="secondary", elem_id="export-json")
        srt = gr.DownloadButton(SRT_LABEL, visible=False, size="sm", variant="secondary", elem_id="export-srt")
        vtt = gr.DownloadButton(VTT_LABEL, visible=False, size="sm", variant="secondary", elem_id="export-vtt")
    return page, data, srt, vtt


PAGE_LABEL, DATA_LABEL = "⬇ Conversation (HTML)", "⬇ Data (JSON)"
SRT_LABEL, VTT_LABEL = "⬇ Timeline (SRT)", "⬇ Timeline (WebVTT)"
EXPORT_FAILED = (
    "The conversation could not be saved for download just now (the server's disk may be full); the chat goes on."
)


def _label(label: str, questions: int) -> str:
    """'⬇ Conversation (HTML) · 2 questions': what a click downloads."""
    return f"{label} · {questions} question{'s' if questions != 1 else ''}"


def lock_exports() -> tuple[gr.DownloadButton, ...]:
    """Every button off (a question is running: the files would miss its answer)."""
    return (
        gr.DownloadButton(PAGE_LABEL, value=None, interactive=False),
        gr.DownloadButton(DATA_LABEL, value=None, interactive=False),
        gr.DownloadButton(SRT_LABEL, value=None, interactive=False),
        gr.DownloadButton(VTT_LABEL, value=None, interactive=False),
    )


def timeline_downloads(conv: Conversation, folder: Path) -> tuple[gr.DownloadButton, gr.DownloadButton]:
    """The newest video's timeline as SRT and WebVTT files in `folder`; hidden before a scan."""
    video = latest_video(conv)
    if video is None or not video.timeline:
        return gr.DownloadButton(value=None, visible=False), gr.DownloadButton(value=None, visible=False)
    srt, vtt = write_subtitles(video.timeline, folder, video.name)
    return (
        gr.DownloadButton(SRT_LABEL, value=str(srt), interactive=True, visible=True),
        gr.DownloadButton(VTT_LABEL, value=str(vtt), interactive=True, visible=True),
    )


def refresh_exports(conv: Conversation, model: str, settings: dict) -> tuple[gr.DownloadButton, ...]:
    """Fresh files for the buttons; disabled while no turn has an answer (or note) to keep, or while a
    question runs (a refresh that comes late must not offer an older conversation)."""
    if conv.running:
        return lock_exports()
    folder = item_dir(conv.session_id, "export") if conv.session_id else None
    if folder is not None:
        remove_tree(folder)  # only the newest export is kept
    if folder is None or not any(turn.answer or turn.notes for turn in conv.turns):
        return lock_exports()
    try:
        page, data = write_exports(conv, ExportInfo(model=model, settings=settings), folder)
        timeline = timeline_downloads(conv, folder)
    except (OSError, ValueError) as exc:  # a full disk, a picture no encoder takes: the chat goes on
        log.warning("the conversation could not be exported: %s", summary(exc))
        gr.Warning(EXPORT_FAILED)
        return lock_exports()
    count = len(conv.turns)
    return (
        gr.DownloadButton(_label(PAGE_LABEL, count), value=str(page), interactive=True),
        gr.DownloadButton(_label(DATA_LABEL, count), value=str(data), interactive=True),
        *timeline,
    )
