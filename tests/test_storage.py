"""Conversation folders, tabs and the janitor: nothing a client sends becomes a path."""

from __future__ import annotations

import os
import time

import pytest

from model.serving.sessions import Tabs, tab_of
from model.serving.storage import (
    conversation_dir,
    frames_root,
    inside_root,
    item_dir,
    new_id,
    remove_conversation,
    remove_item,
    remove_tree,
)
from ui.janitor import remove_partial_uploads, remove_stale_conversations


@pytest.fixture()
def uploads(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))
    (tmp_path / "uploads").mkdir()
    return tmp_path / "uploads"


@pytest.mark.parametrize("crafted", ["..", ".", "", "../x", "a/b", "x" * 7, "x" * 129, "héllo-123", None, 42])
def test_only_session_hashes_of_gradio_shape_are_tabs(crafted):
    assert tab_of(crafted) is None
    assert tab_of("1a2b3c4d5e6") == "1a2b3c4d5e6" and tab_of(new_id()) is not None


@pytest.mark.parametrize("crafted", ["..", ".", "", "../" + new_id(), new_id() + "/..", new_id().upper(), "export"])
def test_folders_are_built_from_ids_this_app_made(uploads, crafted):
    with pytest.raises(ValueError):
        conversation_dir(crafted)
    with pytest.raises(ValueError):
        item_dir(new_id(), crafted if crafted != "export" else "..")
    assert not remove_conversation(crafted) and not remove_item(crafted, new_id())


def test_a_delete_stays_inside_the_frames_root(uploads, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    conv = new_id()
    folder = item_dir(conv, new_id())
    folder.mkdir(parents=True)
    (folder / "frame.jpg").write_text("x")
    link = conversation_dir(conv) / "link"
    link.symlink_to(outside)
    assert not remove_tree(outside) and not remove_tree(frames_root()) and not remove_tree(uploads)
    assert not inside_root(frames_root()) and inside_root(folder)
    assert remove_tree(link) and (outside / "keep.txt").exists()  # the link goes, not what it points to
    assert remove_conversation(conv) and not conversation_dir(conv).exists() and frames_root().exists()


def test_a_closed_tab_gives_back_only_its_own_conversations():
    tabs = Tabs(capacity=2)
    a, b, c = new_id(), new_id(), new_id()
    tabs.add("tab-aaaaaaaa", a)
    tabs.add("tab-aaaaaaaa", b)
    tabs.add("tab-bbbbbbbb", c)
    tabs.discard(b)  # cleared
    assert tabs.close("tab-aaaaaaaa") == [a] and tabs.close("tab-aaaaaaaa") == [] and tabs.close(None) == []
    for i in range(3):
        tabs.add(f"tab-{i:08d}", new_id())
    assert len(tabs) == 2  # bounded: the tabs not heard of for longest are forgotten


def test_the_janitor_removes_abandoned_partial_uploads_and_stale_folders(uploads):
    partial, fresh, kept = uploads / "tmpabc123", uploads / "tmpdef456", uploads / "tmpdir"
    partial.write_bytes(b"x" * 100)
    fresh.write_bytes(b"x")
    kept.mkdir()
    old = time.time() - 300
    os.utime(partial, (old, old))
    assert remove_partial_uploads(uploads, idle_s=120) == 1
    assert not partial.exists() and fresh.exists() and kept.exists()
    stale, live = conversation_dir(new_id()), conversation_dir(new_id())
    for folder in (stale, live):
        folder.mkdir(parents=True)
    other = frames_root() / "not-a-conversation"
    other.mkdir()
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert remove_stale_conversations(older_than_s=120) == 1
    assert not stale.exists() and live.exists() and other.exists()
