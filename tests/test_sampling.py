"""What a follow-up's frame settings change, in words."""

from __future__ import annotations

from model.chat.sampling import Sampling, span_words


def test_nothing_changed_says_nothing():
    assert Sampling(16).changes_from(Sampling(16)) == []


def test_each_change_in_words():
    old = Sampling(16)
    new = Sampling(4, every_s=2.0, start=2.0, end=None, exact=True, stamp=True)
    assert new.changes_from(old) == [
        "4 frames instead of 16",
        "one every 2 s",
        "from 00:02.0 to the end",
        "at exact times",
        "the time written on each frame",
    ]
    assert old.changes_from(new)[1:3] == ["spread over the video", "the whole video"]


def test_span_words():
    assert span_words(None, None) == "the whole video"
    assert span_words(None, 7.5) == "from 00:00.0 to 00:07.5"
