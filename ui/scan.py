"""The long-video panel: the timeline of the newest video, with a status line while it is scanned."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import gradio as gr

from model.chat.conversation import Conversation, latest_video
from model.scan.runner import scanned_parts
from model.scan.segments import MAX_SEGMENT_S, MIN_SEGMENT_S, SEGMENT_S, ScanProgress

EMPTY = (
    '<div class="timeline-empty">The model sees only a few frames of a video. <b>Scan</b> describes every '
    "part of the newest video; later questions are then answered from that timeline, with times.</div>"
)


def timeline_html(name: str, progress: ScanProgress | None, cost: str = "") -> str:
    """A status line, then one row per segment described so far."""
    if progress is None:
        return EMPTY
    rows = "".join(
        f'<li><a class="span" href="#t={s.start:.2f}" title="Play from here">{escape(s.span)}</a> {escape(s.text)}</li>'
        for s in progress.segments
    )
    status = escape(progress.line()) + (f" {escape(cost)}" if cost and not progress.segments else "")
    return (
        f'<div class="timeline" aria-live="polite"><div class="timeline-status"><b>{escape(name)}</b> · '
        f"{status}</div><ol>{rows}</ol></div>"
    )


def timeline_for(conv: Conversation) -> str:
    """The panel for the conversation's newest video: its timeline once scanned, else what a scan does."""
    video = latest_video(conv)
    if video is None or not video.timeline:
        return EMPTY
    duration = video.clip.duration if video.clip is not None else 0.0
    parts = scanned_parts(video)
    progress = ScanProgress(parts, video.timeline, duration=duration, stopped=len(video.timeline) < parts)
    return timeline_html(video.name, progress)


@dataclass
class ScanControls:
    """The "Whole video" accordion: the timeline, the scan button and its options."""

    timeline: gr.HTML
    button: gr.Button
    segment_s: gr.Number
    from_scan: gr.Checkbox


def scan_accordion() -> ScanControls:
    """The accordion (placed where it is called)."""
    with gr.Accordion("Whole video", open=True, elem_id="whole-video"):
        timeline = gr.HTML(EMPTY, elem_id="timeline")
        with gr.Row():
            button = gr.Button("Scan the newest video", size="sm", elem_id="scan", scale=2)
            segment_s = gr.Number(
                SEGMENT_S,
                label="Seconds a part",
                elem_id="segment-s",
                scale=1,
                min_width=90,
                info=f"{MIN_SEGMENT_S:g} to {MAX_SEGMENT_S:g}",
            )
        from_scan = gr.Checkbox(
            True,
            label="Answer follow-ups from the scan",
            elem_id="from-scan",
            info="The timeline, and the frames of the parts that fit the question.",
        )
    return ScanControls(timeline, button, segment_s, from_scan)
