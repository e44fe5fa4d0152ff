"""The demo's own example files (assets/): the page's examples and the API page's example values."""

from __future__ import annotations

import os
from pathlib import Path

from model.settings import AppSettings

ASSETS = Path(__file__).resolve().parent.parent / "assets"

EXAMPLES = [
    {"text": "What does the ball do?", "files": [str(ASSETS / "bouncing_ball.mp4")]},
    {"text": "Describe the traffic light's colours in order.", "files": [str(ASSETS / "traffic_light.mp4")]},
    {"text": "What time does the clock show at the end?", "files": [str(ASSETS / "clock.mp4")]},
    {"text": "What is in this picture?", "files": [str(ASSETS / "shapes.png")]},
    {"text": "Which day had the most visitors?", "files": [str(ASSETS / "chart.png")]},
]

# What the API page's code examples send: they run as shown against this very server.
API_EXAMPLE = EXAMPLES[0]
SCAN_EXAMPLE = str(ASSETS / "clock.mp4")


def server_root(settings: AppSettings) -> str:
    """The server's URL as a program would write it: the Space's address on Spaces, else host and port.

    A file URL of the app's own is read in place whatever its host, so the example runs as shown even
    behind a proxy with another name.
    """
    if os.environ.get("SPACE_HOST"):
        return f"https://{os.environ['SPACE_HOST']}"
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"
