"""Times written in answers and notes ('1:23', '0:01:23', '83.5 s', 'from 1:10 to 1:20'), found so
the page can turn each into a link that seeks the video player."""

from __future__ import annotations

import re
from dataclasses import dataclass

from model.media.clip import parse_clock

# h:mm:ss(.s) or m:ss(.s), or seconds with a unit; not inside a longer number or word.
_CLOCK = r"(?P<clock>(?:\d{1,2}:)?\d{1,3}:[0-5]\d(?:\.\d+)?)"
_SECONDS = r"(?P<sec>\d+(?:\.\d+)?)\s?(?:s|sec|secs|seconds?)\b"
TIME = re.compile(rf"(?<![\w:.])(?:{_CLOCK}|{_SECONDS})(?![\w:])")


@dataclass(frozen=True)
class TimeMention:
    """One time in a text: where it stands and the second it means."""

    start: int
    end: int
    seconds: float


_LENGTH = re.compile(r"\s+long\b")  # '(01:19.5 long)': a length of time, not a moment


def find_times(text: str, duration: float | None = None) -> list[TimeMention]:
    """Every moment written in `text`, in order; times past `duration` (when known) and lengths
    ('10:00.0 long') are left out."""
    found = []
    for match in TIME.finditer(text):
        seconds = float(match["sec"]) if match["sec"] is not None else parse_clock(match["clock"])
        if (duration is not None and seconds > duration + 0.5) or _LENGTH.match(text, match.end()):
            continue
        found.append(TimeMention(match.start(), match.end(), seconds))
    return found


def link_times(text: str, duration: float | None = None, href=lambda s: f"#t={s:g}") -> str:
    """The text with each time as a markdown link to `href(seconds)` (the page's player seeks there)."""
    out, last = [], 0
    for mention in find_times(text, duration):
        out.append(text[last : mention.start])
        out.append(f"[{text[mention.start : mention.end]}]({href(round(mention.seconds, 2))})")
        last = mention.end
    out.append(text[last:])
    return "".join(out)
