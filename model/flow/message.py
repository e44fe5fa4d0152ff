"""One message taken down the layers at once. The page hands it over as a `Message` (its text, files and
settings, the camera's clip when one runs, whose it is) and renders the conversation each time it
changes; the checks, reading the files, taking the newest video again, the camera's clip and the
scan's timeline all happen here, below the page, and never call up to it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from model.camera.live import CAMERA_QUESTION, attach_camera
from model.chat.conversation import Conversation, Turn
from model.chat.ledger import MediaLedger
from model.chat.limits import ChatLimits, MediaSupport, validate_message
from model.chat.options import MediaOptions
from model.chat.reading import Reading, read_files
from model.chat.turns import resample_latest, start_turn
from model.media.clip import VideoClip
from model.scan.runner import answer_from_timeline


@dataclass(frozen=True)
class Message:
    """A visitor's message as the page sends it: nothing in it is checked yet."""

    text: str | None
    files: list | None
    options: MediaOptions
    from_scan: bool = True  # a follow-up about a scanned video reads its timeline
    camera: VideoClip | None = None  # the live camera's last seconds, when it runs
    owner: str = ""  # the visitor (their address): whose turn at the decoders and the model


@dataclass(frozen=True)
class MessageServices:
    """What taking a message needs of the app: its limits, what the backend takes, the media budget,
    and how this visitor's files are read."""

    limits: ChatLimits
    support: MediaSupport
    ledger: MediaLedger
    reading: Reading


def take_message(conv: Conversation, message: Message, services: MessageServices) -> Iterator[Conversation]:
    """Check the message now (a UserInputError before anything changes), then return the steps that
    add its turn and read its files, yielding the conversation as it changes; at their end the turn
    is ready for its answer, or marked for what went wrong (a file that cannot be read, Stop)."""
    camera = message.camera
    question = message.text if (message.text or "").strip() or camera is None else CAMERA_QUESTION
    text, files = validate_message(question, message.files, conv, services.limits)
    return _taken(conv, message, services, text, files)


def _taken(
    conv: Conversation, message: Message, services: MessageServices, text: str, files: list[str]
) -> Iterator[Conversation]:
    options, camera, resampled = message.options, message.camera, None
    if camera is None:  # a follow-up without a file may take the newest video again
        files, resampled, options = resample_latest(conv, files, options)
    conv.owner = message.owner
    turn = start_turn(conv, text, files, options)
    turn.notes.extend(note for note in (services.ledger.take_notice(conv), resampled) if note)
    if camera is not None:
        attach_camera(conv, turn, camera, one_video=services.support.max_videos is not None)
    for _ in read_files(conv, turn, options, services.reading):
        yield conv
    services.ledger.note(conv)
    if from_timeline(message, turn, files):
        answer_from_timeline(conv, turn, options.frames, with_frames=services.support.max_videos != 1)
    yield conv


def from_timeline(message: Message, turn: Turn, files: list[str]) -> bool:
    """A question with no file of its own and no camera, about a video that may have been scanned."""
    return not files and message.camera is None and message.from_scan and turn.status == "pending"
