"""One message's trip through the code: the page's send handler run once on a 2-second video (the
tiny model's engine, no server, the file-reading thread traced too). Prints the calls into the
project's modules, the modules they are in, the calls from a lower layer into a higher one (and
which), and the functions of `model/` that the handler (`ui/handlers.py`) calls itself.

    python -m bench.message_trip

No baseline ratio: the figures are counts, compared in docs/architecture.md with the tree before
`model/flow/` (copy this file into a checkout of that commit and run it there).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# docs/architecture.md's layers, top first (the page above all of model/)
RANKS = {"ui": 9, "flow": 8, "scan": 7, "camera": 7, "export": 7, "engines": 6, "chat": 5, "media": 4, "serving": 3}


def layer(module: str) -> str | None:
    """The layer a module is in (None: not the project's)."""
    parts = module.split(".")
    if parts[0] in ("ui", "app"):
        return "ui"
    if parts[0] == "model" and len(parts) > 1:
        return parts[1] if parts[1] in RANKS else "settings"
    return None


class Trip:
    """What a trace saw."""

    def __init__(self) -> None:
        self.calls, self.modules, self.ups, self.direct = 0, set(), [], set()

    def __call__(self, frame, event, arg):
        if event != "call":
            return None
        callee = frame.f_globals.get("__name__", "")
        if layer(callee) is None:
            return None
        self.calls += 1
        self.modules.add(callee)
        caller = frame.f_back
        while caller is not None and layer(caller.f_globals.get("__name__", "")) is None:
            caller = caller.f_back
        if caller is None:
            return None
        source = caller.f_globals.get("__name__", "")
        if RANKS.get(layer(source), 0) < RANKS.get(layer(callee), 0):
            self.ups.append(f"{source}.{caller.f_code.co_name} -> {callee}.{frame.f_code.co_name}")
        if source == "ui.handlers" and callee.startswith("model."):
            self.direct.add(f"{callee}.{frame.f_code.co_name}")
        return None


def main() -> None:
    from gradio.utils import get_upload_folder

    import app
    from model.chat.conversation import Conversation

    try:
        from model.engines.tiny import tiny_checkpoint_dir
    except ImportError:  # a tree from before the layers (it was in model/dev/)
        from model.dev.tiny import tiny_checkpoint_dir
    from model.settings import AppSettings
    from tests.support.videos import make_video

    os.makedirs(get_upload_folder(), exist_ok=True)
    video = make_video(Path(tempfile.mkdtemp(dir=get_upload_folder())) / "clip.mp4", seconds=2.0, fps=25)
    os.environ["LLAVA_TINY_DIR"] = str(tiny_checkpoint_dir(Path(tempfile.mkdtemp()) / "tiny"))
    settings = AppSettings(model="tiny", frames=4)
    demo = app.build_demo(app.transformers_engine(settings), settings)
    send = next(block.fn for block in demo.fns.values() if getattr(block, "api_name", None) == "send")
    conv, trip = Conversation(), Trip()
    sys.settrace(trip)
    threading.settrace(trip)
    try:
        for _ in send({"text": "What happens?", "files": [str(video)]}, conv, None):
            pass
    finally:
        sys.settrace(None)
        threading.settrace(None)
    assert conv.last.media and conv.last.status == "pending", "the message did not become a turn"
    print(f"calls into the project: {trip.calls}, in {len(trip.modules)} modules")
    print(f"calls from a lower layer into a higher one: {len(trip.ups)}")
    for up in trip.ups:
        print(f"  {up}")
    print(f"functions of model/ the handler calls itself: {len(trip.direct)}")
    for name in sorted(trip.direct):
        print(f"  {name}")


if __name__ == "__main__":
    main()
