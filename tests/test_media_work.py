"""Reading files within bounds no file can stretch: decoder slots and one deadline per message."""

from __future__ import annotations

import threading
import time

import pytest

from model.chat.conversation import Conversation
from model.chat.options import MediaOptions
from model.chat.reading import Reading, add_turn
from model.media.decode import sample_video
from model.media.files import MediaError
from model.media.work import DecodeSlots, MediaBusy, MediaWork


def test_a_slot_is_one_at_a_time_per_owner_and_bounded_in_all():
    slots = DecodeSlots(2)
    soon = time.monotonic() + 0.3
    with slots.held("a", soon):
        with pytest.raises(MediaBusy), slots.held("a", time.monotonic() + 0.2):  # a visitor waits for its own
            pass
        with slots.held("b", soon):
            assert slots.in_use() == 2
            with pytest.raises(MediaBusy, match="busy reading other visitors' files"), slots.held("c", soon):
                pass
    assert slots.in_use() == 0


def test_a_waiting_file_gets_the_slot_as_soon_as_it_is_free():
    slots, order = DecodeSlots(1), []
    released = threading.Event()

    def first():
        with slots.held("a", time.monotonic() + 5):
            order.append("a")
            released.wait(5)

    worker = threading.Thread(target=first)
    worker.start()
    while not order:
        time.sleep(0.01)
    threading.Timer(0.2, released.set).start()
    with slots.held("b", time.monotonic() + 5):
        order.append("b")
    worker.join()
    assert order == ["a", "b"]


def test_a_deadline_stops_decoding_and_says_so(video_path):
    with pytest.raises(MediaError, match="took longer than this demo allows"):
        sample_video(video_path, 8, deadline=time.monotonic() - 1)
    assert len(sample_video(video_path, 8, deadline=time.monotonic() + 30).timestamps) == 8


def test_the_files_of_a_message_share_one_deadline(video_path, image_path):
    """Files reached after --media-seconds are left out with a message; the message is not held."""
    work = MediaWork(seconds=0.0)
    conv = Conversation()
    began = time.monotonic()
    turn = add_turn(conv, "What?", [str(video_path), str(image_path)], MediaOptions(frames=2), Reading(work, "a"))
    assert time.monotonic() - began < 5
    assert turn.status == "error" and "took longer than 0 s" in " ".join(turn.notes)
