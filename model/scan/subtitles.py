"""A scanned video's timeline as subtitles: SRT and WebVTT text, one cue per part."""

from __future__ import annotations

import re
from pathlib import Path

from model.media.clip import Segment

_SPACE = re.compile(r"\s+")


def cue_text(text: str) -> str:
    """A part's description as one cue line: no blank line or arrow that would end the cue early."""
    return _SPACE.sub(" ", text.replace("-->", "->")).strip() or "…"


def _clock(seconds: float, mark: str) -> str:
    """'hh:mm:ss,mmm' (SRT, `mark` ',') or 'hh:mm:ss.mmm' (WebVTT, '.')."""
    ms = int(round(max(seconds, 0.0) * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{mark}{ms:03d}"


def srt(segments: list[Segment]) -> str:
    return "".join(
        f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{cue_text(s.text)}\n\n"
        for i, s in enumerate(segments, start=1)
    )


def webvtt(segments: list[Segment]) -> str:
    cues = "".join(f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{cue_text(s.text)}\n\n" for s in segments)
    return "WEBVTT\n\n" + cues


def write_subtitles(segments: list[Segment], folder: Path, video_name: str = "") -> tuple[Path, Path]:
    """NAME.timeline.srt and NAME.timeline.vtt in `folder`, NAME from the video's name kept to letters,
    digits, '.', '_' and '-' (a visitor's file name never becomes a path of its own), else timeline.*."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_stem(video_name)
    base = f"{stem}.timeline" if stem else "timeline"
    srt_path, vtt_path = folder / f"{base}.srt", folder / f"{base}.vtt"
    srt_path.write_text(srt(segments), encoding="utf-8")
    vtt_path.write_text(webvtt(segments), encoding="utf-8")
    return srt_path, vtt_path


def safe_stem(name: str, limit: int = 60) -> str:
    """A file name's stem reduced to [A-Za-z0-9._-] (other characters become '_'), no leading dots."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:limit]
    return stem.lstrip("._-")
