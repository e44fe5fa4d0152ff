"""The guard's measure of the upload folder, while the folder changes under it."""

from __future__ import annotations

import os

from model.serving.guard import folder_bytes


def test_a_folder_removed_while_the_upload_folder_is_measured_is_passed_over(tmp_path, monkeypatch):
    """Before: `rglob` raised FileNotFoundError for a folder the janitor removed between listing and
    reading it, and the upload being counted got 500 (seen once in CI: test_uptime)."""
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "a.mp4").write_bytes(b"x" * 100)
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "b.mp4").write_bytes(b"y" * 50)
    (tmp_path / "link.mp4").symlink_to(tmp_path / "kept" / "a.mp4")
    real_scandir = os.scandir

    def scandir_then_remove(path="."):
        entries = list(real_scandir(path))  # the top folder is listed with "gone" in it...
        if os.fspath(path) == os.fspath(tmp_path):
            (tmp_path / "gone" / "b.mp4").unlink()  # ...then the janitor removes it
            (tmp_path / "gone").rmdir()
        return _Entries(entries)

    monkeypatch.setattr(os, "scandir", scandir_then_remove)
    assert folder_bytes(tmp_path) == 100  # the kept file; not the removed one, not the link


class _Entries:
    """A listing taken already, used as os.scandir's iterator is."""

    def __init__(self, entries):
        self._entries = iter(entries)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._entries)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def close(self):
        pass
