"""A turn's files read into it: in the visitor's decoder slot, by one deadline a message, off the
handler's thread, each file's failure a note of its own; a turn's default question once they are read."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from model.chat.conversation import Conversation, MediaItem, Turn, keep_earlier_timeline
from model.chat.options import MediaOptions
from model.chat.turns import start_session, start_turn
from model.media.decode import media_kind, sample_video
from model.media.files import MediaError
from model.media.frame_times import RangeError
from model.media.images import load_image
from model.media.stamp import stamp_times
from model.media.work import MediaWork
from model.serving.logs import summary

log = logging.getLogger(__name__)

DISK_FULL = "The demo's disk is full right now; please try again in a few minutes."
DEFAULT_VIDEO_QUESTION = "Describe this video in detail."
DEFAULT_IMAGE_QUESTION = "Describe this image in detail."


@dataclass(frozen=True)
class Reading:
    """Whose files are read, within which bounds: a decoder slot of `owner` (the visitor's address)
    and one deadline for all the files of a message (set by `started`)."""

    work: MediaWork = field(default_factory=MediaWork)
    owner: str = ""
    deadline: float | None = None

    def started(self) -> Reading:
        """These bounds, with the message's deadline counted from now."""
        return self if self.deadline is not None else replace(self, deadline=self.work.deadline())

    def read(self, path: str, options: MediaOptions, conv: Conversation | None) -> MediaItem:
        """One file, in a decoder slot, by the deadline."""
        reading = self.started()
        return reading.work.run(reading.owner, reading.deadline, load_media, path, options, conv)


def load_media(
    path: str, options: MediaOptions, conv: Conversation | None = None, deadline: float | None = None
) -> MediaItem:
    """Read one upload as the model will see it (raises MediaError with a readable reason); its
    frame images go into the folder of `conv` (none without one). A video's decoding stops at
    `deadline` (a time.monotonic() value) and keeps the frames it has."""
    kind = media_kind(path)
    if kind == "video":
        sample = partial(
            sample_video,
            path,
            options.frames,
            size=options.size,
            exact=options.exact_frames,
            every_s=options.every_s,
            deadline=deadline,
        )
        clip_range = (options.start, options.end)
        try:
            clip = sample(start=options.start, end=options.end)
        except RangeError as exc:  # the file is fine: use all of it and say why
            clip, clip_range = sample(), (None, None)
            clip.notes.append(f"{str(exc).rstrip('.')}; the whole video was used")
        if options.stamp_times:
            clip = stamp_times(clip)
        item = MediaItem(
            path=path,
            kind="video",
            clip=clip,
            clip_range=clip_range,
            sampling=f"one every {options.every_s:g} s" if options.every_s else "",
            asked=options.sampling.with_range(clip_range),
        )
        if options.thumbnails and conv is not None:
            conv.write_frames(item)
        return item
    return MediaItem(path=path, kind="image", image=load_image(path))


def load_file(conv: Conversation, turn: Turn, path: str, options: MediaOptions, reading: Reading | None = None) -> None:
    """Read one of the turn's files into it; a file that cannot be read makes it an error turn."""
    start_session(conv)
    reading = reading or Reading()
    try:
        item: MediaItem | MediaError = reading.read(path, options, conv)
    except MediaError as exc:
        item = exc
    apply_file(turn, path, item)


def apply_file(turn: Turn, path: str, item: MediaItem | MediaError) -> None:
    """Put a read file (or the reason it cannot be read) into the turn."""
    if path in turn.loading:
        turn.loading.remove(path)
    if isinstance(item, MediaError):
        turn.status = "error"
        turn.rejected.append(Path(path).name)
        turn.warn(f"{Path(path).name}: {item}")
        return
    turn.media.append(item)
    if item.clip is not None:
        turn.notes.extend(f"{item.name}: {note}" for note in item.clip.notes)


def read_files(
    conv: Conversation, turn: Turn, options: MediaOptions, reading: Reading | None = None, poll_s: float = 0.25
) -> Iterator[Turn]:
    """Read the turn's files one at a time off this thread, yielding as the progress line changes.

    Ends early, leaving the rest unread, once the turn is marked stopped (Stop during sampling): a
    file being read then finishes in the background (within its decoder slot and deadline) and is
    thrown away.
    """
    start_session(conv)
    reading = (reading or Reading()).started()
    files, began = list(turn.loading), time.monotonic()
    for i, path in enumerate(files, start=1):
        name = Path(path).name
        worker, box = _run_in_thread(reading.read, path, options, conv)
        while worker.is_alive():
            turn.progress = (
                f"Sampling frames from {name}"
                + (f" (file {i} of {len(files)})" if len(files) > 1 else "")
                + f"… {time.monotonic() - began:.1f} s"
            )
            yield turn
            worker.join(poll_s)
            if turn.status == "stopped":
                turn.loading.clear()
                turn.progress = ""
                return
        error = box.get("error")
        if error is not None and not isinstance(error, MediaError):
            log.error("reading a file failed: %s", summary(error))  # no file name in the log
            error = MediaError(
                DISK_FULL
                if isinstance(error, OSError) and error.errno == errno.ENOSPC
                else "This file could not be read; please try another file."
            )
        apply_file(turn, path, error or box["value"])
        if isinstance(box.get("value"), MediaItem) and not box["value"].timeline:
            keep_earlier_timeline(conv, box["value"])  # new frames of a scanned video
    finish_turn(turn)
    yield turn


def _run_in_thread(fn: Callable, *args) -> tuple[threading.Thread, dict]:
    """Start fn(*args) in a daemon thread; its result lands in box['value'] or box['error']."""
    box: dict = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the caller
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, box


def finish_turn(turn: Turn) -> Turn:
    """After its files are read: a question by default, no progress line."""
    turn.progress = ""
    if not turn.text:
        kinds = {m.kind for m in turn.media}
        turn.text = DEFAULT_VIDEO_QUESTION if "video" in kinds else DEFAULT_IMAGE_QUESTION
    return turn


def add_turn(
    conv: Conversation, text: str, files: list[str], options: MediaOptions, reading: Reading | None = None
) -> Turn:
    """Append a user turn and read its files; a file that cannot be read makes it an error turn."""
    turn = start_turn(conv, text, files, options)
    reading = (reading or Reading()).started()
    for path in files:
        load_file(conv, turn, path, options, reading)
    return finish_turn(turn)
