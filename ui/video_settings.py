"""The video settings: how many frames, how they are picked, which part of the video, what the model
is told. One group that knows its inputs (passed to handlers by name) and builds `MediaOptions`.

Adding an option: a component here, a field in `VideoChoice` of the same name, and its use in
`VideoChoice.options`.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from model.chat.limits import ChatLimits, UserInputError
from model.chat.options import MediaOptions, clip_range
from model.settings import AppSettings
from ui.controls import ByName

SPREAD, EVERY = "Spread over the video", "One every N seconds"


@dataclass(frozen=True)
class VideoChoice:
    """The settings' values as the page sends them (any of them may be missing or odd)."""

    frames: float = 16
    exact: bool = False
    start: str | None = None
    end: str | None = None
    frame_times: bool = False
    pick: str = SPREAD
    every: float | None = None
    from_scan: bool = True
    stamp: bool = False

    def frame_count(self, limits: ChatLimits) -> int:
        return max(1, min(int(self.frames), limits.max_frames))

    def options(self, limits: ChatLimits) -> MediaOptions:
        """The options they mean; a clip range out of order or a bad interval is a UserInputError."""
        start, end = clip_range(self.start, self.end)
        every_s = float(self.every or 0) if self.pick == EVERY else None
        if every_s is not None and not 0 < every_s < 1e6:  # 0, negative or NaN: said here, not by gradio
            raise UserInputError("The seconds between frames must be more than 0.")
        return MediaOptions(
            frames=self.frame_count(limits),
            exact_frames=bool(self.exact),
            start=start,
            end=end,
            frame_times=bool(self.frame_times),
            every_s=every_s,
            stamp_times=bool(self.stamp),
        )


@dataclass
class VideoSettings(ByName):
    """The components, one per `VideoChoice` field and of the same name."""

    frames: gr.Slider
    exact: gr.Checkbox
    start: gr.Textbox
    end: gr.Textbox
    frame_times: gr.Checkbox
    pick: gr.Radio
    every: gr.Number
    from_scan: gr.Checkbox
    stamp: gr.Checkbox

    def wire(self) -> None:
        """The interval box shows only when frames are picked by interval."""
        self.pick.change(
            lambda choice: gr.Number(visible=choice == EVERY),
            self.pick,
            self.every,
            queue=False,
            api_visibility="private",
        )


def video_accordion(limits: ChatLimits, settings: AppSettings, from_scan: gr.Checkbox) -> VideoSettings:
    """The "Video" accordion (placed where it is called); `from_scan` lives with the scan's controls."""
    with gr.Accordion("Video", open=True):
        gr.Markdown(
            "<sub>These apply to the next message. A follow-up without a file takes the newest "
            "video's frames again when they changed, and its answer says so.</sub>",
            elem_id="video-rule",
        )
        frames = gr.Slider(
            1,
            limits.max_frames,
            value=limits.frames_default(settings.frames),
            step=1,
            label="Frames per video",
            elem_id="frames-per-video",
            info=f"1 to {limits.max_frames}. More frames see more, but cost time and context.",
        )
        pick = gr.Radio([SPREAD, EVERY], value=SPREAD, label="How frames are picked", elem_id="pick")
        every = gr.Number(
            2.0,
            label="Seconds between frames",
            visible=False,  # checked by VideoChoice.options
            elem_id="every-s",
            info="Up to the frames per video above.",
        )
        with gr.Row():
            start = gr.Textbox(label="Clip start", placeholder="0:00", min_width=90, max_lines=1, elem_id="clip-start")
            end = gr.Textbox(label="Clip end", placeholder="end", min_width=90, max_lines=1, elem_id="clip-end")
        gr.Markdown("<sub>Seconds (83.5) or mm:ss (1:23.5).</sub>")
        with gr.Accordion("Frame times", open=False, elem_id="frame-times"):
            exact = gr.Checkbox(
                False, label="Exact frame times", info="Slower on long videos; default takes a nearby keyframe."
            )
            frame_times = gr.Checkbox(
                False,
                label="Tell the model the frame times",
                info="Adds 'frames taken at 0.0 s, 2.1 s, …' to the question.",
            )
            stamp = gr.Checkbox(
                False,
                label="Write the time on each frame",
                elem_id="stamp",
                info="In a corner of the picture the model sees (and the strip shows).",
            )
    return VideoSettings(frames, exact, start, end, frame_times, pick, every, from_scan, stamp)
