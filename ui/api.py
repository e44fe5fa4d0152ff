"""The API for programs: `/ask` (a question about files, answered as a stream) and `/scan` (a
video described part by part into a timeline). No page event triggers them; typed hidden
components check every file, as the page's own inputs do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from model.chat.conversation import Conversation, Turn, latest_video
from model.chat.turns import MediaOptions, UserInputError, add_turn, stream_answer, validate_message
from model.engines.base import GenerationParams
from model.media.decode import VIDEO_EXTENSIONS, MediaError
from model.scan.runner import ScanOptions, run_scan, scan_file, timeline_question
from model.scan.segments import FRAMES_PER_SEGMENT, SCAN_NEW_TOKENS, SEGMENT_S
from ui.context import AppContext


class ProgramApi:
    """The handlers of /ask and /scan, sharing the page's context."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.scan_limits = (
            min(ctx.limits.max_frames, ctx.settings.scan_max_frames),
            min(ctx.settings.max_new_tokens, ctx.settings.scan_max_tokens),
        )

    def ask(
        self,
        files: list[str] | None,
        question: str,
        frames: float,
        max_new_tokens: float,
        temperature: float,
        top_p: float,
        scan: bool = False,
    ) -> Iterator[str]:
        """Answer one question about the given videos/images; streams the answer text. With `scan`,
        the answer comes from the scanned timeline of the (first) video and its relevant parts."""
        ctx, conv = self.ctx, Conversation(keep_cache=False)
        paths = [str(f) for f in (files or [])]
        try:
            text, paths = validate_message(question, paths, conv, ctx.limits)
        except UserInputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        options = MediaOptions(frames=max(1, min(int(frames), ctx.limits.max_frames)), thumbnails=False)
        turn = add_turn(conv, text, paths, options)
        if turn.rejected:
            raise gr.Error(" ".join(turn.plain_notes), print_exception=False)
        if scan:
            self._answer_from_scan(conv, turn, text, options.frames)
        params = GenerationParams(
            max_new_tokens=max(1, min(int(max_new_tokens), ctx.settings.max_new_tokens)),
            temperature=float(temperature),
            top_p=float(top_p),
        )
        for _ in stream_answer(conv, params, ctx.engine, ctx.generate):
            if turn.status == "error":
                raise gr.Error(" ".join(turn.plain_notes), print_exception=False)
            yield turn.answer

    def _answer_from_scan(self, conv: Conversation, turn: Turn, text: str, frames: int) -> None:
        """Scan the newest video, then let the turn read its timeline (and the parts that fit)."""
        ctx, video = self.ctx, latest_video(conv)
        if video is None:
            raise gr.Error("scan=True needs a video among the files.", print_exception=False)
        batch = ctx.engine.scan_batch(FRAMES_PER_SEGMENT, SCAN_NEW_TOKENS)
        options = ScanOptions().bounded(*self.scan_limits)
        for _ in run_scan(conv, ctx.describe, ctx.timelines, ctx.engine.description, options, batch):
            pass
        turn.preamble, clip = timeline_question(
            video.path, video.name, text, video.clip.duration, video.timeline, frames
        )
        if ctx.support.max_videos != 1:
            video.replace_clip(clip, [])

    def scan(
        self,
        video: str | None,
        segment_seconds: float,
        frames_per_segment: float,
        max_new_tokens: float,
        progress=gr.Progress(),
    ) -> Iterator[list[dict]]:
        """Describe every part of a video; streams the timeline so far, as [{start, end, text}, ...]."""
        ctx, conv = self.ctx, Conversation(keep_cache=False)
        try:
            _, paths = validate_message("", [str(video)] if video else [], conv, ctx.limits)
        except UserInputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        if Path(paths[0]).suffix.lower() not in VIDEO_EXTENSIONS:
            raise gr.Error(f"{Path(paths[0]).name} is not a video: /scan takes one video.", print_exception=False)
        options = ScanOptions(
            float(segment_seconds or SEGMENT_S), int(frames_per_segment or 1), int(max_new_tokens or 1)
        ).bounded(*self.scan_limits)
        batch = ctx.engine.scan_batch(options.frames_per_segment, options.max_new_tokens)
        try:
            for state in scan_file(paths[0], ctx.describe, ctx.timelines, ctx.engine.description, options, batch):
                progress((len(state.segments), max(state.total, 1)), desc=state.line())
                yield [segment.as_dict() for segment in state.segments]
        except MediaError as exc:
            raise gr.Error(f"{Path(paths[0]).name}: {exc}", print_exception=False) from None


def wire_api(ctx: AppContext) -> None:
    """Register /ask and /scan inside the page being built."""
    api, settings, limits = ProgramApi(ctx), ctx.settings, ctx.limits
    with gr.Group(visible=False):  # the /ask API's inputs: typed components check every file
        api_files = gr.File(file_count="multiple", label="files")
        api_question = gr.Textbox(label="question")
        api_frames = gr.Number(min(settings.frames, limits.max_frames), label="frames", precision=0)
        api_max_new = gr.Number(256, label="max_new_tokens", precision=0)
        api_temperature = gr.Number(0.0, label="temperature")
        api_top_p = gr.Number(0.9, label="top_p")
        api_answer = gr.Textbox(label="answer")
        api_scan = gr.Checkbox(False, label="scan")
        api_video = gr.File(label="video")
        api_segment_s = gr.Number(SEGMENT_S, label="segment_seconds")
        api_segment_frames = gr.Number(FRAMES_PER_SEGMENT, label="frames_per_segment", precision=0)
        api_scan_tokens = gr.Number(SCAN_NEW_TOKENS, label="max_new_tokens", precision=0)
        api_timeline = gr.JSON(label="timeline")
    # No triggers: called through the API only (`triggers=None` would also run it at every page load).
    # Programs have slots of their own, beside the page's: the model gate serves both in turn.
    gr.on(
        triggers=[],
        fn=api.ask,
        api_name="ask",
        concurrency_id="api",
        concurrency_limit=settings.concurrency,
        inputs=[api_files, api_question, api_frames, api_max_new, api_temperature, api_top_p, api_scan],
        outputs=api_answer,
    )
    gr.on(
        triggers=[],
        fn=api.scan,
        api_name="scan",
        concurrency_id="scan",
        concurrency_limit=settings.scans,
        inputs=[api_video, api_segment_s, api_segment_frames, api_scan_tokens],
        outputs=api_timeline,
    )
