"""A message taken down once (`model/flow/message.py`): checked before anything changes, then its turn
made ready for the answer below the page."""

from __future__ import annotations

import numpy as np
import pytest

from model.camera.live import CAMERA_QUESTION
from model.chat.conversation import Conversation
from model.chat.ledger import MediaLedger
from model.chat.limits import ChatLimits, MediaSupport, UserInputError
from model.chat.options import MediaOptions
from model.chat.reading import Reading
from model.flow.message import Message, MessageServices, take_message
from model.media.clip import VideoClip


@pytest.fixture()
def services(media_dir):
    return MessageServices(
        limits=ChatLimits(max_frames=8, allowed_roots=(str(media_dir),)),
        support=MediaSupport(),
        ledger=MediaLedger(1 << 30),
        reading=Reading(),
    )


def camera_clip(frames: int = 3) -> VideoClip:
    return VideoClip(
        frames=np.zeros((frames, 32, 32, 3), np.uint8),
        timestamps=[float(i) for i in range(frames)],
        duration=float(frames),
        fps=1.0,
        source_size=(32, 32),
    )


def test_a_refused_message_changes_nothing(services):
    conv = Conversation()
    with pytest.raises(UserInputError):
        take_message(conv, Message(text="  ", files=[], options=MediaOptions(frames=4)), services)
    assert conv.turns == [] and conv.owner == ""


def test_a_message_becomes_a_turn_ready_for_its_answer(services, video_path):
    conv = Conversation()
    message = Message(text="What happens?", files=[str(video_path)], options=MediaOptions(frames=3), owner="1.2.3.4")
    seen = list(take_message(conv, message, services))
    turn = conv.last
    assert seen and all(step is conv for step in seen)
    assert turn.text == "What happens?" and turn.status == "pending" and not turn.loading
    assert [len(m.clip.frames) for m in turn.media] == [3] and conv.owner == "1.2.3.4"
    follow_up = Message(text="And then?", files=[], options=MediaOptions(frames=5))
    list(take_message(conv, follow_up, services))
    assert [len(m.clip.frames) for m in conv.last.media] == [5]  # other settings: the video taken again
    assert any("taken again" in note for note in conv.last.notes)


def test_the_cameras_clip_joins_the_turn_and_an_empty_question_asks_what_happens(services):
    conv = Conversation()
    message = Message(text="", files=[], options=MediaOptions(frames=3), camera=camera_clip())
    list(take_message(conv, message, services))
    turn = conv.last
    assert turn.text == CAMERA_QUESTION and len(turn.media) == 1 and turn.media[0].clip.frames.shape[0] == 3
