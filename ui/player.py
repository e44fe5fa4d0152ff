"""The player beside the chat: the newest video, and every time on the page seeks it.

Gradio has no Python API to seek a video player, so a small script (passed to launch) listens for
clicks anywhere on the page: a frame of a strip (its `data-t`), a frame of the side panel (its time
caption) or a time written in an answer, a note or the timeline (a link to `#t=SECONDS`) sets the
player's `currentTime`. A video the browser cannot play is shown through a small H.264 preview,
made once per file and conversation (model/media/preview.py) in the conversation's own folder: no URL of
it names anyone, and another visitor who uploads the same file gets a preview of their own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import av
import gradio as gr

from model.chat.conversation import Conversation, MediaItem, latest_video
from model.media.preview import browser_playable, make_preview
from model.scan.subtitles import write_subtitles
from model.serving.storage import item_dir, new_id
from ui.messages import escape_markdown

log = logging.getLogger(__name__)

NOT_PLAYABLE = "This video's format can't be played in the browser; its frames below still show what the model saw."

PLAYER_JS = (Path(__file__).parent / "player.js").read_text()


def player_value(path: str | None, conv: Conversation) -> str | None:
    """What the player plays for `path`: the file itself, or its preview, made once into the
    conversation's folder (removed with it) (None when neither works)."""
    if path is None:
        return None
    if browser_playable(path):
        return path
    made = conv.previews.get(path, "")
    if made is None or (made and Path(made).exists()):
        return made
    try:
        preview = make_preview(path, item_dir(conv.ensure_id(), "previews") / f"{new_id()}.mp4").path
    except (av.FFmpegError, OSError, IndexError) as exc:
        log.warning("no preview could be made: %s", type(exc).__name__)  # no file name in the log
        preview = None
    conv.previews[path] = preview
    return preview


def player_subtitles(conv: Conversation, video: MediaItem | None) -> str | None:
    """The WebVTT file of the video's timeline, its parts as the player's subtitles (written once per
    timeline into the conversation's folder); None before a scan."""
    if video is None or not video.timeline:
        return None
    key = f"{video.path}|{len(video.timeline)}"
    made = conv.subtitles.get(key)
    if made is None or not Path(made).exists():
        _, vtt = write_subtitles(video.timeline, item_dir(conv.ensure_id(), "subtitles", new_id()))
        made = conv.subtitles[key] = str(vtt)
    return made


class PlayerUpdate(NamedTuple):
    """The player's update and its note's (either may be `gr.skip()`)."""

    video: gr.Video
    note: gr.Markdown


def player_update(conv: Conversation, previews: bool = True) -> PlayerUpdate:
    """The player and its note for the conversation's newest video, with its timeline as subtitles
    (the same file and timeline: left as it is, so a playing video does not restart). Without
    `previews`, a video that needs a preview not made yet is left for a later update
    (`show_player`), so that making it never delays an answer."""
    video = latest_video(conv)
    path = video.path if video is not None else None
    if not previews and path is not None and not browser_playable(path) and path not in conv.previews:
        making = f"Making a playable copy of {escape_markdown(video.name)} for your browser…"
        return PlayerUpdate(
            gr.skip(), gr.Markdown(making, visible=True)
        )  # said at once; the copy comes with `show_player`
    subtitles = player_subtitles(conv, video)
    if conv.player_shows == (path, subtitles):
        return PlayerUpdate(gr.skip(), gr.skip())
    conv.player_shows = (path, subtitles)
    value = player_value(path, conv)
    note = "" if path is None or value is not None else NOT_PLAYABLE
    player = gr.Video(value=value, subtitles=subtitles, visible=value is not None)
    return PlayerUpdate(player, gr.Markdown(note, visible=bool(note)))
