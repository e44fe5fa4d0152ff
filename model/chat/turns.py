"""A conversation's turns begun: its id and tab, a new user turn, a follow-up's video taken again when
the settings changed, its files released."""

from __future__ import annotations

from dataclasses import replace

from model.chat.conversation import Conversation, Turn, latest_video
from model.chat.options import MediaOptions
from model.chat.sampling import span_words
from model.media.clip import format_timestamp
from model.serving.sessions import Tabs
from model.serving.storage import remove_conversation


def start_session(conv: Conversation, tab: str | None = None, tabs: Tabs | None = None) -> None:
    """Give the conversation its id (random: the key of its caches and the name of its folder) and
    note it under the browser tab that opened it, so that a closed tab frees it."""
    conv.ensure_id()
    if tab and tabs is not None:
        tabs.add(tab, conv.session_id)


def start_turn(conv: Conversation, text: str, files: list[str], options: MediaOptions) -> Turn:
    """Append a user turn whose files are still to be read (the page shows it at once)."""
    turn = Turn(text=text, frame_times=options.frame_times, loading=list(files))
    conv.turns.append(turn)
    return turn


def resample_latest(
    conv: Conversation, files: list[str], options: MediaOptions
) -> tuple[list[str], str | None, MediaOptions]:
    """A message without a file is about the newest video: when the frame settings now set differ
    from those its frames were taken with, it is sampled again. Returns the files to read, a note
    saying what changed (or why a setting could not apply), and the options to read them with."""
    video = latest_video(conv)
    if files or video is None or video.clip is None:
        return files, None, options
    note = None
    if options.start is not None and options.start > video.clip.duration + 0.25:
        note = (
            f"The clip start ({format_timestamp(options.start)}) is after the end of {video.name} "
            f"({format_timestamp(video.clip.duration)} long), so it was not used."
        )
        options = replace(options, start=video.clip_range[0], end=video.clip_range[1])
    if video.asked is None:  # a scan's or the camera's frames: only a new range takes others
        changes = [] if video.clip_range == (options.start, options.end) else [span_words(options.start, options.end)]
    else:
        changes = options.sampling.changes_from(video.asked.with_range(video.clip_range))
    if not changes:
        return files, note, options
    taken = f"Frames of {video.name} taken again for this question: {', '.join(changes)}."
    return [video.path], " ".join(filter(None, (note, taken))), options


def release_media(conv: Conversation) -> None:
    """Delete the files written for the conversation (frame images, exports, previews)."""
    remove_conversation(conv.session_id)
