"""Hostile and broken inputs, sent to the launched app the way a browser or a program would.

Every case is a file (or message) built here, sent through the real server with gradio_client,
and must end in one of three ways:

* ``answer``  - the model runs and a non-empty answer comes back;
* ``message`` - the upload is accepted but the file cannot be used: a readable message naming the
  file and the problem (an assistant bubble in the chat, an AppError from ``/ask``), no model run;
* ``refused`` - the message is refused before anything is loaded (a warning with the chat left
  unchanged, or an AppError), no model run.

A readable message has no traceback, errno, exception class name or server path in it. After
every case the server must still answer a normal question about a valid video.
"""

from __future__ import annotations

import re
import shutil
import struct
import time
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from model.settings import AppSettings
from tests.support.client import send_with_warnings as send
from tests.support.client import step
from tests.support.serving import cached_engine, serve
from tests.support.videos import inflate_avi_frame_count, make_audio_only, make_video

TIMEOUT = 60  # seconds any one request may take
QUESTION = "What is in this file?"
LEAK = re.compile(r"Traceback|Errno|Exception|\b[A-Z][A-Za-z]*Error\b|File \"|(?:/[^\s/]+){3,}")


# ---------------------------------------------------------------------------------------------
# Making the files (each maker writes into its own empty folder and returns the files to attach)


def valid_video(d: Path, name: str = "clip.mp4") -> Path:
    """A 2-second 10 fps H.264 clip."""
    return make_video(d / name, seconds=2.0, fps=10, size=(160, 96), gop=10)


def make_empty(d: Path) -> list[Path]:
    (d / "empty.mp4").write_bytes(b"")
    return [d / "empty.mp4"]


def make_random(d: Path) -> list[Path]:
    (d / "noise.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    return [d / "noise.mp4"]


def make_text_mp4(d: Path) -> list[Path]:
    (d / "notes.mp4").write_text("Meeting notes: this is plain text renamed to .mp4\n" * 40)
    return [d / "notes.mp4"]


def make_html_png(d: Path) -> list[Path]:
    (d / "page.png").write_text("<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n")
    return [d / "page.png"]


def make_audio_mp4(d: Path) -> list[Path]:
    return [make_audio_only(d / "song.mp4", seconds=1.0)]


def make_audio_m4a(d: Path) -> list[Path]:
    return [make_audio_only(d / "song.m4a", seconds=1.0)]


def _cut_in_half(full: Path, cut: Path) -> list[Path]:
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return [cut]


def make_truncated_faststart(d: Path) -> list[Path]:
    """moov first, so the index survives and points past the end of the file."""
    full = make_video(d / "full.mp4", seconds=4, fps=10, size=(128, 96), gop=10, faststart=True)
    return _cut_in_half(full, d / "cut_faststart.mp4")


def make_truncated_regular(d: Path) -> list[Path]:
    """moov last, so cutting the file loses the whole index."""
    full = make_video(d / "full.mp4", seconds=4, fps=10, size=(128, 96), gop=10)
    return _cut_in_half(full, d / "cut_regular.mp4")


def make_corrupt_middle(d: Path) -> list[Path]:
    path = make_video(d / "corrupt.mp4", seconds=4, fps=25, size=(192, 112), gop=25)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 4000] = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return [path]


def make_one_frame(d: Path) -> list[Path]:
    return [make_video(d / "single.mp4", seconds=0.04, fps=25, size=(96, 64))]


def make_lying_avi(d: Path) -> list[Path]:
    """An AVI whose headers claim ten times the frames it holds."""
    path = make_video(d / "liar.avi", seconds=2, fps=25, size=(128, 96), gop=12, codec="mpeg4")
    return [inflate_avi_frame_count(path)]


def make_lying_mp4(d: Path) -> list[Path]:
    """An MP4 whose mvhd, tkhd, mdhd and elst durations claim ten times its length.

    FFmpeg takes an MP4's duration from its sample table, so the lie goes unseen: the app must
    simply sample the real 2 seconds (no note expected, unlike the AVI).
    """
    path = make_video(d / "liar.mp4", seconds=2, fps=10, size=(128, 96), gop=10)
    data = bytearray(path.read_bytes())
    for tag, off in ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20), (b"elst", 12)):
        at = data.find(tag)
        assert at > 0 and data[at + 4] == 0, tag  # version 0 boxes: 32-bit duration
        (duration,) = struct.unpack_from(">I", data, at + off)
        struct.pack_into(">I", data, at + off, duration * 10)
    path.write_bytes(bytes(data))
    return [path]


def make_png_bomb(d: Path) -> list[Path]:
    """A real 16384 x 16384 1-bit PNG of zeros: about 30 KB on disk, 268 megapixels decoded."""
    side = 16384
    row = b"\x00" * (1 + side // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path = d / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return [path]


def make_huge_resolution(d: Path) -> list[Path]:
    return [make_video(d / "uhd.mp4", seconds=1.5, fps=2, size=(4096, 2160), gop=3)]


def make_very_long(d: Path) -> list[Path]:
    """20 minutes at 1 fps with a single keyframe."""
    return [make_video(d / "long.mp4", seconds=1200, fps=1, size=(64, 48), gop=1200)]


def make_unicode_name(d: Path) -> list[Path]:
    return [valid_video(d, "vidéo 📹 テスト.mp4")]


def make_long_name(d: Path) -> list[Path]:
    """199 characters: just under gradio's 200-byte cap on upload names."""
    return [valid_video(d, "a_very_long_name_" + "x" * 178 + ".mp4")]


def make_txt(d: Path) -> list[Path]:
    (d / "notes.txt").write_text("Just some notes.\n")
    return [d / "notes.txt"]


def make_five_videos(d: Path) -> list[Path]:
    first = valid_video(d, "v0.mp4")
    return [first] + [Path(shutil.copy(first, d / f"v{i}.mp4")) for i in range(1, 5)]


def make_valid_video(d: Path) -> list[Path]:
    return [valid_video(d)]


def make_valid_image(d: Path) -> list[Path]:
    path = d / "picture.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 50, 3), dtype=np.uint8)).save(path)
    return [path]


# ---------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class Case:
    """One hostile input: how to make it, how it must end, what a message about it must say.

    `words`: lower-case phrases the message must contain ('a|b' accepts either).
    `note`: for answers, a remark the chat must show above the answer (e.g. that the file is cut off).
    """

    name: str
    make: Callable[[Path], list[Path]]
    expect: str  # 'answer' | 'message' | 'refused'
    words: tuple[str, ...] = ()
    note: str = ""

    def __str__(self) -> str:
        return self.name


CASES = [
    Case("empty-file", make_empty, "message", ("empty",)),
    Case("random-bytes", make_random, "message", ("could not be read as a video",)),
    Case("text-as-mp4", make_text_mp4, "message", ("text, not",)),
    Case("html-as-png", make_html_png, "message", ("text, not",)),
    Case("audio-only-mp4", make_audio_mp4, "message", ("no video track",)),
    Case("audio-only-m4a", make_audio_m4a, "refused", ("file type|not a video or an image",)),
    Case("truncated-faststart", make_truncated_faststart, "answer", note="cut off"),
    Case("truncated-regular", make_truncated_regular, "message", ("incomplete",)),
    Case("corrupt-middle", make_corrupt_middle, "answer"),
    Case("one-frame", make_one_frame, "answer", note="only 1 frame"),
    Case("lying-avi-header", make_lying_avi, "answer", note="header claims"),
    Case("lying-mp4-duration", make_lying_mp4, "answer"),
    Case("png-bomb-16k", make_png_bomb, "message", ("megapixels",)),
    Case("huge-resolution-4k", make_huge_resolution, "answer"),
    Case("twenty-minutes-1fps", make_very_long, "answer"),
    Case("unicode-name", make_unicode_name, "answer"),
    Case("200-char-name", make_long_name, "answer"),
    Case("wrong-type-txt", make_txt, "refused", ("file type|not a video or an image",)),
    Case("five-files", make_five_videos, "refused", ("at most 4 files",)),
    Case("valid-video", make_valid_video, "answer"),
    Case("valid-image", make_valid_image, "answer"),
]


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers


@dataclass
class Server:
    url: str
    engine: object
    control: Path  # a valid video for the "still serving" check

    def client(self) -> Client:
        """A fresh client: its own session, so conversations never mix between cases."""
        return Client(self.url, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def files_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def server(loaded_tiny, files_root):
    engine = cached_engine(loaded_tiny)
    control = valid_video(files_root, "control.mp4")
    with serve(engine, AppSettings(model="tiny", frames=4, max_new_tokens=64), max_file_size="5mb") as url:
        yield Server(url, engine, control)


@pytest.fixture(scope="module")
def made(files_root) -> Callable[[Case], list[Path]]:
    """The files of a case, made once and shared by its chat and /ask tests."""
    cache: dict[str, list[Path]] = {}

    def get(case: Case) -> list[Path]:
        if case.name not in cache:
            folder = files_root / case.name
            folder.mkdir()
            cache[case.name] = case.make(folder)
        return cache[case.name]

    return get


@contextmanager
def model_calls(engine):
    """Collects one entry per forward pass of the language model while the block runs."""
    calls: list[int] = []
    hook = engine.model.register_forward_hook(lambda *a: calls.append(1))
    try:
        yield calls
    finally:
        hook.remove()


def answer(client: Client, max_new_tokens: int = 16) -> list[dict]:
    """The page's second step (/answer); returns the chat once the answer is complete."""
    return step(client, "/answer", max_new_tokens=max_new_tokens).result(timeout=TIMEOUT)


def ask(client: Client, files, question: str = QUESTION, max_new_tokens: int = 16) -> str:
    job = client.submit(
        files=[handle_file(str(f)) for f in files], question=question, max_new_tokens=max_new_tokens, api_name="/ask"
    )
    return job.result(timeout=TIMEOUT)


def text_of(message: dict) -> str:
    """A chat message's text; a file reads as its path, a component as its label."""
    content = message["content"]
    parts = content if isinstance(content, list) else [content]
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part.get("type") == "text":
            out.append(part["text"])
        elif "component" in part:
            out.append(f"[{part['component']}: {part.get('props', {}).get('label', '')}]")
        else:
            out.append(str(part.get("file", part).get("path", "")))
    return " ".join(out)


def last_reply(history: list[dict]) -> str:
    """The last assistant bubble that is not a frames strip."""
    replies = [text_of(m) for m in history if m["role"] == "assistant"]
    replies = [r for r in replies if not r.startswith("[html")]
    assert replies, history
    return replies[-1]


def assert_readable(text: str, words: tuple[str, ...] = (), name: str | None = None) -> None:
    """A message fit for a person: says what is wrong, leaks no internals."""
    assert text and text.strip(), "empty message"
    assert not LEAK.search(text), f"message leaks internals: {text!r}"
    low = text.lower()
    for word in words:
        assert any(alt in low for alt in word.split("|")), f"{word!r} missing from {text!r}"
    if name is not None:
        assert name in text, f"{name!r} not named in {text!r}"


def assert_still_serving(server: Server) -> None:
    """The next normal request (a short /ask about a valid video) gets an answer."""
    reply = ask(server.client(), [server.control], "Still there?", max_new_tokens=4)
    assert isinstance(reply, str) and reply.strip()


# ---------------------------------------------------------------------------------------------
# File cases, through the chat (/send then /answer) and through the /ask API


@pytest.mark.parametrize("case", CASES, ids=str)
def test_file_in_chat(server, made, case):
    files = made(case)
    client = server.client()
    t0 = time.monotonic()
    with model_calls(server.engine) as calls:
        try:
            history, warned = send(client, QUESTION, files)
        except AppError as exc:  # gradio refused the upload itself (the textbox's file types)
            assert case.expect == "refused", f"unexpected error: {exc}"
            assert_readable(str(exc), case.words)
            history, warned = None, []
        else:
            if case.expect == "refused":
                assert history == [], "a refused message must leave the chat unchanged"
                assert len(warned) == 1, warned
                assert_readable(warned[0], case.words)
            else:
                assert not warned, warned
            history = answer(client)
    elapsed = time.monotonic() - t0

    if case.expect == "refused":
        assert not calls, "the model ran for a refused message"
        assert history in (None, []), history
    elif case.expect == "message":
        assert not calls, "the model ran for an unusable file"
        reply = last_reply(history)
        assert "⚠️" in reply and "tok/s" not in reply, reply
        assert_readable(reply, case.words, name=files[0].name)
    else:
        assert calls, "the model did not run"
        reply = last_reply(history)
        assert reply.endswith("tok/s"), f"no finished answer: {reply!r}"  # the stats line of a done answer
        assert "⚠️" not in reply and "went wrong" not in reply, reply
        assert reply.rsplit("\n\n", 1)[0].strip(), reply
        assert case.note in reply, f"{case.note!r} missing from {reply!r}"
        shown = " ".join(text_of(m) for m in history if m["role"] == "user")
        assert all(f.name in shown for f in files), (files, shown)  # names survive the upload
    assert elapsed < 45, f"{case.name} took {elapsed:.1f} s"
    assert_still_serving(server)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_file_through_ask(server, made, case):
    files = made(case)
    client = server.client()
    with model_calls(server.engine) as calls:
        if case.expect == "answer":
            reply = ask(client, files)
            assert isinstance(reply, str) and reply.strip()
            assert calls, "the model did not run"
        else:
            with pytest.raises(AppError) as exc:
                ask(client, files)
            assert_readable(str(exc.value), case.words, name=files[0].name if case.expect == "message" else None)
            assert not calls, "the model ran for an unusable file"
    assert_still_serving(server)


# ---------------------------------------------------------------------------------------------
# Message cases without files, upload size, and a long conversation


QUESTION_CASES = {
    "empty-question": ("", ("type a question",)),
    "whitespace-question": (" \n\t ", ("type a question",)),
    "20000-char-question": ("a" * 20_000, ("20,000", "4,000")),
}


@pytest.mark.parametrize("channel", ["chat", "ask"])
@pytest.mark.parametrize("name", list(QUESTION_CASES))
def test_bad_question_is_refused(server, name, channel):
    text, words = QUESTION_CASES[name]
    client = server.client()
    with model_calls(server.engine) as calls:
        if channel == "chat":
            history, warned = send(client, text)
            assert history == [] and len(warned) == 1, (history, warned)
            assert_readable(warned[0], words)
            assert answer(client) == []
        else:
            with pytest.raises(AppError) as exc:
                ask(client, [], text)
            assert_readable(str(exc.value), words)
    assert not calls, "the model ran for a refused question"
    assert_still_serving(server)


def test_oversize_upload_is_refused(server, files_root):
    """Over the 5 MB limit: gradio_client refuses before uploading, the server answers 413."""
    big = files_root / "big.mp4"
    big.write_bytes(np.random.default_rng(2).integers(0, 256, 6_000_000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="exceeds the maximum file size of 5242880 bytes"):
        send(server.client(), QUESTION, [big])
    with pytest.raises(ValueError, match="exceeds the maximum file size"):
        ask(server.client(), [big])
    reply = httpx.post(
        f"{server.url}/gradio_api/upload", files={"files": (big.name, big.read_bytes())}, timeout=TIMEOUT
    )
    assert reply.status_code == 413, reply.status_code
    assert "maximum allowed size" in reply.text and "Traceback" not in reply.text
    assert_still_serving(server)


def test_a_video_every_turn_for_30_turns(server, files_root):
    """Turns 1-8 are answered; from the 9th on the conversation cap refuses; text follow-ups work."""
    video = valid_video(files_root, "every_turn.mp4")
    client = server.client()
    history: list[dict] = []
    for turn in range(1, 31):
        with model_calls(server.engine) as calls:
            sent, warned = send(client, f"Turn {turn}: what now?", [video], frames=1)  # keeps the context small
            after = answer(client, max_new_tokens=16)  # the slider's minimum
        if turn <= 8:
            assert not warned, (turn, warned)
            assert calls and "tok/s" in last_reply(after), (turn, last_reply(after))
        else:
            assert sent == history and after == history, f"turn {turn} changed the chat"
            assert len(warned) == 1, (turn, warned)
            assert_readable(warned[0], ("at most 8 files", "clear"))
            assert not calls, f"the model ran for refused turn {turn}"
        history = after
    sent, warned = send(client, "And what colour was it?")
    assert not warned
    reply = last_reply(answer(client, max_new_tokens=16))
    assert "tok/s" in reply and "⚠️" not in reply, reply
    assert_still_serving(server)
