"""Benchmark of video frame sampling: model-card recipe vs model.media.decode vs a keyframe floor.

Run from the repository root:  python -m bench.bench_media  [--quick] [--repeats N]

Videos are generated once into bench/.cache/ (H.264, 360p and 720p, 10 s / 60 s / 10 min,
GOP 250 and GOP 30, 30 fps, 3 B-frames, panning textured background with a moving block).
Each (method, video, frame count) cell runs in a fresh subprocess so its peak memory
(ru_maxrss growth over the call) is its own; the time is the median over the repeats.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"
FPS = 30
SIZES = {"360p": (640, 360), "720p": (1280, 720)}
DURATIONS = {"10s": 10, "60s": 60, "10min": 600}
GOPS = (250, 30)
COUNTS = (8, 16, 32)
METHODS = ("seed", "exact", "default", "floor")


# ---------------------------------------------------------------------------------------------
# Test videos


def video_path(res: str, dur: str, gop: int) -> Path:
    return CACHE / f"h264_{res}_{dur}_gop{gop}.mp4"


def generate(path: Path, size: tuple[int, int], seconds: int, gop: int) -> None:
    """Write a moving-content H.264 MP4 quickly (YUV planes drawn with numpy, x264 ultrafast + B-frames)."""
    w, h = size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0 : 2 * w].astype(np.float32)
    luma = 128 + 70 * np.sin(xx / 53.0) * np.cos(yy / 31.0) + rng.normal(0, 7, (h, 2 * w))
    luma = luma.clip(16, 235).astype(np.uint8)
    cu = (128 + 40 * np.sin(xx[::2, ::2] / 40.0)).astype(np.uint8)
    cv = (128 + 40 * np.cos(yy[::2, ::2] / 30.0)).astype(np.uint8)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream(
            "libx264",
            rate=FPS,
            options={
                "preset": "ultrafast",
                "crf": "26",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=3",
            },
        )
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        bw, bh = w // 6, h // 5
        for i in range(seconds * FPS):
            off = (i * 3) % w
            y = luma[:, off : off + w].copy()
            bx, by = (i * 9) % (w - bw), (i * 5) % (h - bh)
            y[by : by + bh, bx : bx + bw] = 235 - (i % 50) * 3
            u = cu[:, off // 2 : off // 2 + w // 2]
            v = cv[:, off // 2 : off // 2 + w // 2]
            yuv = np.concatenate([y, u.reshape(h // 4, w), v.reshape(h // 4, w)])
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.rename(path)


def ensure_videos(durations: list[str]) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = []
    for dur in durations:
        for res in SIZES:
            for gop in GOPS:
                p = video_path(res, dur, gop)
                if not p.exists():
                    t0 = time.perf_counter()
                    generate(p, SIZES[res], DURATIONS[dur], gop)
                    print(f"generated {p.name} in {time.perf_counter() - t0:.0f} s", flush=True)
                paths.append(p)
    return paths


# ---------------------------------------------------------------------------------------------
# Methods


def seed_recipe(path: str, num_frames: int) -> np.ndarray:
    """The model card's read_video_pyav, reproduced faithfully."""
    container = av.open(path)
    total_frames = container.streams.video[0].frames
    indices = np.arange(0, total_frames, total_frames / num_frames).astype(int)
    frames = []
    container.seek(0)
    start_index = indices[0]
    end_index = indices[-1]
    for i, frame in enumerate(container.decode(video=0)):
        if i > end_index:
            break
        if i >= start_index and i in indices:
            frames.append(frame)
    return np.stack([x.to_ndarray(format="rgb24") for x in frames])


def keyframe_floor(path: str, num_frames: int, size: int = 336) -> np.ndarray:
    """Floor: for each target time, seek to the keyframe before it and decode only that frame."""
    from av.video.reformatter import VideoReformatter

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(stream.duration * stream.time_base)
        scaler = VideoReformatter()
        w, h = stream.codec_context.width, stream.codec_context.height
        scale = size / min(w, h)
        out = []
        for i in range(num_frames):
            t = (i + 0.5) * duration / num_frames
            container.seek(int(t / stream.time_base), stream=stream)
            for packet in container.demux(stream):
                frames = list(packet.decode()) + list(stream.codec_context.decode(None))
                if frames:
                    f = scaler.reformat(
                        frames[0], width=round(w * scale), height=round(h * scale), format="rgb24", interpolation="AREA"
                    )
                    out.append(f.to_ndarray())
                    break
        return np.stack(out)


def run_method(method: str, path: str, n: int) -> np.ndarray:
    from model.media.decode import sample_video

    if method == "seed":
        return seed_recipe(path, n)
    if method == "exact":
        return sample_video(path, n, exact=True).frames
    if method == "default":
        return sample_video(path, n).frames
    return keyframe_floor(path, n)


def measure_cell(method: str, path: str, n: int, repeats: int) -> dict:
    """Time one cell in this process; memory is the ru_maxrss growth during the first call."""
    import model.media.decode  # noqa: F401  (imports outside the timing)

    try:  # the resize kernel the media layer uses; the app has torch loaded anyway
        import torchvision.transforms.v2.functional  # noqa: F401
    except ImportError:
        pass

    with av.open(path) as c:  # warm the file cache and codec libraries
        next(c.decode(video=0))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    shape = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        frames = run_method(method, path, n)
        times.append(time.perf_counter() - t0)
        shape = frames.shape
        del frames
        if times[0] > 8:  # slow cells: one run is enough to rank them
            break
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": statistics.median(times),
        "runs": len(times),
        "mem_mb": (peak - base) / 1024,
        "shape": list(shape),
    }


def cell_in_subprocess(method: str, path: Path, n: int, repeats: int) -> dict:
    arg = json.dumps({"method": method, "path": str(path), "n": n, "repeats": repeats})
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_media", "--cell", arg], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def decoded_frames(path: Path, n: int) -> dict:
    """Frames each method decodes (deterministic, unlike times on a shared machine)."""
    from model.media import decode as media

    bounds = []
    init = media._Bounds.__init__

    def recording_init(self):
        init(self)
        bounds.append(self)

    media._Bounds.__init__ = recording_init
    try:
        counts = {}
        for name, exact in (("exact", True), ("default", False)):
            media.sample_video(path, n, exact=exact)
            counts[name] = media.MAX_DECODED_FRAMES - bounds[-1].frames_left
    finally:
        media._Bounds.__init__ = init
    with av.open(str(path)) as c:
        total = c.streams.video[0].frames
    counts["seed"] = int(np.arange(0, total, total / n).astype(int)[-1]) + 1
    counts["floor"] = n
    return counts


def print_decoded_table(durations: list[str], counts: list[int]) -> None:
    print("\nframes decoded (non-reference frames dropped with skip_frame are not counted)\n")
    print("| video | GOP | frames | seed | exact | default | floor |")
    print("|---|---|---|---|---|---|---|")
    for dur in durations:
        for res in SIZES:
            for gop in GOPS:
                for n in counts:
                    c = decoded_frames(video_path(res, dur, gop), n)
                    print(
                        f"| {res} {dur} | {gop} | {n} | {c['seed']} | {c['exact']} | {c['default']} | {n} |", flush=True
                    )


# ---------------------------------------------------------------------------------------------
# Report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the 10 s and 60 s videos")
    ap.add_argument("--long", action="store_true", help="only the 10-minute videos (where the speed class is set)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--counts", default=",".join(map(str, COUNTS)))
    ap.add_argument("--decoded-only", action="store_true", help="only count decoded frames (no timing)")
    ap.add_argument("--cell", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cell:
        c = json.loads(args.cell)
        print(json.dumps(measure_cell(c["method"], c["path"], c["n"], c["repeats"])))
        return
    durations = ["10s", "60s"] if args.quick else ["10min"] if args.long else list(DURATIONS)
    ensure_videos(durations)
    counts = [int(x) for x in args.counts.split(",")]
    if args.decoded_only:
        print_decoded_table(durations, counts)
        return
    print(
        f"\nmedian seconds over up to {args.repeats} runs (one run when a run takes > 8 s); "
        "memory = peak RSS growth in MB\n"
    )
    header = (
        "| video | GOP | frames | seed s | exact s | default s | floor s | seed/exact | seed/default "
        "| default/floor | mem MB seed/exact/default |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    rows = []
    for dur in durations:
        for res in SIZES:
            for gop in GOPS:
                path = video_path(res, dur, gop)
                for n in counts:
                    r = {m: cell_in_subprocess(m, path, n, args.repeats) for m in METHODS}
                    s = {m: r[m]["seconds"] for m in METHODS}
                    line = (
                        f"| {res} {dur} | {gop} | {n} | {s['seed']:.3f} | {s['exact']:.3f} | {s['default']:.3f} "
                        f"| {s['floor']:.3f} | {s['seed'] / s['exact']:.1f}x | {s['seed'] / s['default']:.1f}x "
                        f"| {s['default'] / s['floor']:.2f} "
                        f"| {r['seed']['mem_mb']:.0f} / {r['exact']['mem_mb']:.0f}"
                        f" / {r['default']['mem_mb']:.0f} |"
                    )
                    print(line, flush=True)
                    rows.append({"video": f"{res} {dur}", "gop": gop, "frames": n, **{m: r[m] for m in METHODS}})
    (CACHE / "last_run.json").write_text(json.dumps(rows, indent=1))
    print_decoded_table(durations, counts)


if __name__ == "__main__":
    main()
