"""Decoded media of all conversations under one budget: the oldest idle chats give theirs back."""

from __future__ import annotations

import numpy as np
from PIL import Image

from model.chat.conversation import Conversation, MediaItem, Turn
from model.chat.ledger import FREED, MediaLedger, held_bytes
from model.media.clip import VideoClip

MB = 1 << 20


def chat(status: str = "done") -> Conversation:
    clip = VideoClip(
        frames=np.zeros((4, 512, 512, 3), np.uint8), timestamps=[0, 1, 2, 3], duration=4, fps=1, source_size=(512, 512)
    )  # 3 MB
    turn = Turn(
        text="q",
        status=status,
        prompt_ids=[1, 2],
        media=[
            MediaItem(path="/u/a.mp4", kind="video", clip=clip),
            MediaItem(path="/u/b.png", kind="image", image=Image.new("RGB", (1024, 1024))),
        ],
    )  # 3 MB
    return Conversation(turns=[turn])


def test_past_the_budget_the_oldest_idle_chat_loses_its_pixels_and_is_told():
    ledger = MediaLedger(total_bytes=13 * MB)
    old, busy, newer, newest = chat(), chat("pending"), chat(), chat()
    for conv in (old, busy, newer):
        ledger.note(conv)
    assert ledger.nbytes() == 12 * MB and ledger.evictions == 1  # the third chat pushed out the oldest
    assert held_bytes(old) == 0 and all(m.dropped for m in old.turns[0].media) and old.turns[0].prompt_ids is None
    assert old.turns[0].media[0].clip.timestamps == [0, 1, 2, 3]  # the strip keeps its times
    ledger.note(newest)
    assert held_bytes(busy) == 6 * MB, "a chat that is answering keeps its media"
    assert held_bytes(newer) == 0 and ledger.nbytes() == 12 * MB
    assert ledger.take_notice(old) == FREED and ledger.take_notice(old) is None
    assert ledger.take_notice(newest) is None


def test_a_chat_gone_is_no_longer_counted():
    ledger = MediaLedger(total_bytes=100 * MB)
    conv = chat()
    ledger.note(conv)
    assert ledger.nbytes() == 6 * MB
    del conv
    assert ledger.nbytes() == 0
