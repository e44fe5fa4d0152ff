"""The API for programs: `/ask` (a question about files, answered as a stream) and `/scan` (a
video described part by part into a timeline). No page event triggers them; typed hidden
components check every file, as the page's own inputs do."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from model.chat.conversation import Conversation, Turn, latest_video
from model.chat.limits import UserInputError, check_file_count, validate_message
from model.chat.options import MediaOptions
from model.chat.reading import add_turn
from model.engines.answering import stream_answer
from model.media.files import MediaError
from model.media.formats import VIDEO_EXTENSIONS
from model.media.remote import RemoteFileError, is_url, resolve_url
from model.scan.runner import ScanOptions, run_scan, scan_file, timeline_question
from model.scan.segments import FRAMES_PER_SEGMENT, SCAN_NEW_TOKENS, SEGMENT_S
from ui.answer_settings import AnswerChoice
from ui.context import AppContext
from ui.examples import API_EXAMPLE, SCAN_EXAMPLE, server_root
from ui.inputs import ProgramFiles, describe_inputs, program_files, with_example


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
        question: str,
        files: list[str] | None = None,
        frames: float = 16,
        max_new_tokens: float = 256,
        temperature: float = 0.0,
        top_p: float = 0.9,
        scan: bool = False,
        request: gr.Request = None,
    ) -> Iterator[str]:
        """Answer a question about videos and images with LLaVA-NeXT-Video; streams the answer text.

        Videos: MP4, WebM, MOV, MKV, AVI, GIF; images: PNG, JPEG, WebP, BMP, TIFF. A follow-up is a new call:
        nothing is kept between calls, so send the files again.

        Args:
            question: The question, in plain text (at most 4,000 characters); it may come without files.
            files: Up to 4 videos or images, each a URL: from this app's upload (…/gradio_api/file=…) or public.
            frames: Frames sampled evenly from each video (1 to the server's limit, 32 unless it says otherwise).
            max_new_tokens: Longest answer, in tokens (about 3/4 of a word each); the server caps it.
            temperature: 0 answers the same every time (greedy); higher values vary the wording.
            top_p: Nucleus sampling mass, used when temperature is above 0.
            scan: True answers from a scanned timeline of the first video (better for long videos; slower).

        Returns:
            The answer text. A file or question the demo cannot take is refused with a message saying why.
        """
        ctx, conv = self.ctx, Conversation(keep_cache=False, owner=self.ctx.visitor(request).address)
        try:
            text, paths = validate_message(question, self._local_files(files), conv, ctx.limits)
        except UserInputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        options = MediaOptions(frames=max(1, min(int(frames), ctx.limits.max_frames)), thumbnails=False)
        turn = add_turn(conv, text, paths, options, ctx.reading(request))
        if turn.rejected:
            raise gr.Error(" ".join(turn.plain_notes), print_exception=False)
        if scan:
            self._answer_from_scan(conv, turn, text, options.frames)
        params = AnswerChoice(max_new_tokens, temperature, top_p).params(ctx.settings.max_new_tokens)
        for _ in stream_answer(conv, params, ctx.engine, ctx.generate):
            if turn.status == "error":
                raise gr.Error(" ".join(turn.plain_notes), print_exception=False)
            yield turn.answer

    def _local_files(self, files: list[str] | None) -> list[str]:
        """The files as local paths: a URL among them (gradio passes a list's URLs as they came) resolved."""
        files = [str(f) for f in files or [] if f]
        check_file_count(files, self.ctx.limits)
        try:
            return [asyncio.run(resolve_url(f, self.ctx.remote)) if is_url(f) else f for f in files]
        except RemoteFileError as exc:
            raise UserInputError(str(exc)) from None

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
        segment_seconds: float = SEGMENT_S,
        frames_per_segment: float = FRAMES_PER_SEGMENT,
        max_new_tokens: float = SCAN_NEW_TOKENS,
        progress=gr.Progress(),
    ) -> Iterator[list[dict]]:
        """Describe a video part by part into a timeline; streams the timeline so far.

        Args:
            video: One video (MP4, WebM, MOV, MKV, AVI, GIF), a URL: from this app's upload or a public one.
            segment_seconds: Length of each part, in seconds (the last part may be shorter).
            frames_per_segment: Frames the model sees per part (the server caps it).
            max_new_tokens: Longest description of one part, in tokens (the server caps it).

        Returns:
            Parts [{"start": seconds, "end": seconds, "text": description}] covering the video; kept by content.
        """
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


def program_file(ctx: AppContext, label: str, example: str, **kwargs) -> ProgramFiles:
    """A file parameter: URLs resolved by the app's rules, a file of the app's own as the API page's example."""
    return with_example(program_files(ctx.remote, label=label, **kwargs), [example], server_root(ctx.settings))


def wire_api(ctx: AppContext) -> None:
    """Register /ask and /scan inside the page being built."""
    api, settings, limits = ProgramApi(ctx), ctx.settings, ctx.limits
    with gr.Group(visible=False):  # the /ask API's inputs: typed components check every file
        api_question = with_example(gr.Textbox(label="question"), API_EXAMPLE["text"])
        api_files = program_file(ctx, "files", API_EXAMPLE["files"][0], file_count="multiple")
        api_frames = gr.Number(limits.frames_default(settings.frames), label="frames", precision=0)
        api_max_new = gr.Number(256, label="max_new_tokens", precision=0)
        api_temperature = gr.Number(0.0, label="temperature")
        api_top_p = gr.Number(0.9, label="top_p")
        api_answer = gr.Textbox(label="answer")
        api_scan = gr.Checkbox(False, label="scan")
        api_video = program_file(ctx, "video", SCAN_EXAMPLE)
        api_segment_s = gr.Number(SEGMENT_S, label="segment_seconds")
        api_segment_frames = gr.Number(FRAMES_PER_SEGMENT, label="frames_per_segment", precision=0)
        api_scan_tokens = gr.Number(SCAN_NEW_TOKENS, label="max_new_tokens", precision=0)
        api_timeline = gr.JSON(label="timeline")
    ask_inputs = [api_question, api_files, api_frames, api_max_new, api_temperature, api_top_p, api_scan]
    scan_inputs = [api_video, api_segment_s, api_segment_frames, api_scan_tokens]
    describe_inputs(api.ask, ask_inputs)
    describe_inputs(api.scan, scan_inputs)
    # No triggers: called through the API only (`triggers=None` would also run it at every page load).
    # Programs have slots of their own, beside the page's: the model gate serves both in turn.
    gr.on(
        triggers=[],
        fn=api.ask,
        api_name="ask",
        concurrency_id="api",
        concurrency_limit=settings.at_model,
        inputs=ask_inputs,
        outputs=api_answer,
    )
    gr.on(
        triggers=[],
        fn=api.scan,
        api_name="scan",
        concurrency_id="scan",
        concurrency_limit=settings.scans,
        inputs=scan_inputs,
        outputs=api_timeline,
    )
