"""Times in answers become links that seek the player."""

from __future__ import annotations

import pytest

from ui.times import find_times, link_times


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("At 1:23 the man opens the door.", [83]),
        ("at 0:01:23 and again at 1:02:03.5", [83, 3723.5]),
        ("Around 83.5 s, then 12 seconds later, at 4s.", [83.5, 12, 4]),
        ("from 1:10 to 1:20", [70, 80]),
        ("Frames taken at 00:00.4, 00:02.1 and 00:10.0.", [0.4, 2.1, 10.0]),
        ("A 16:9 picture, version 3.5, 10% of 20 cars, http://host:8080/x, 12:345", []),
    ],
)
def test_times_are_found(text, seconds):
    assert [m.seconds for m in find_times(text)] == pytest.approx(seconds)


def test_times_past_the_video_are_left_alone():
    assert [m.seconds for m in find_times("at 0:30 and at 9:00", duration=60)] == [30]


def test_times_become_links_and_the_rest_stays():
    assert (
        link_times("From 1:10 to 1:20 the ball rolls (83.5 s).")
        == "From [1:10](#t=70) to [1:20](#t=80) the ball rolls ([83.5 s](#t=83.5))."
    )
    assert link_times("no times here") == "no times here"


def test_lengths_of_time_are_not_moments():
    note = "The clip start (02:00.0) is after the end of vtest.mp4 (01:19.5 long), so it was not used."
    assert [m.seconds for m in find_times(note, duration=79.5)] == []  # past the end, and a length
    assert "[00:30.0]" in link_times("a clip at 00:30.0 of a 10:00.0 long scan", duration=600)
    assert "[10:00.0]" not in link_times("a clip at 00:30.0 of a 10:00.0 long scan", duration=600)
