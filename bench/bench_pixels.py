"""The model's pixel values: this app's frames against the model card's recipe, at the same instants.

The recipe (the LLaVA-NeXT-Video-7B-hf model card) decodes full-size RGB frames and hands them to
the processor, which resizes them (bicubic) and crops the middle 336x336. This app resizes while
decoding; this benchmark feeds both to the installed transformers' processor and prints how far
the pixel values are apart, for this app's resize and for the baseline it replaced (FFmpeg's area
scaling to 336 px, commit d0db1fe). Run it under the transformers of the model card's era too:

    python -m bench.bench_pixels                       # the installed transformers (5.x)
    pip install --target /tmp/t446 --no-deps transformers==4.46.3 huggingface_hub==0.26.5 tokenizers==0.20.3
    PYTHONPATH=/tmp/t446 python -m bench.bench_pixels  # 4.46: the PIL-based processor
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np
import transformers
from av.video.reformatter import VideoReformatter

from model.media.decode import _Converter

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 8
SIZE = 336


def processor():
    """The 7B's video preprocessing as the installed transformers does it (built offline)."""
    sizes = {"size": {"shortest_edge": SIZE}, "crop_size": {"height": SIZE, "width": SIZE}}
    try:
        from transformers import LlavaNextVideoVideoProcessor

        video = LlavaNextVideoVideoProcessor(**sizes)
        return lambda frames: video(videos=[frames], return_tensors="np")["pixel_values_videos"][0]
    except ImportError:  # 4.x: the image processor took videos
        from transformers import LlavaNextVideoImageProcessor

        image = LlavaNextVideoImageProcessor(**sizes)
        return lambda frames: image(images=[frames], return_tensors="np")["pixel_values_videos"][0]


def recipe_frames(path: Path) -> list[av.VideoFrame]:
    """The model card's `read_video_pyav` instants: indices spread by `np.arange`, decoded in order."""
    with av.open(str(path)) as container:
        total = container.streams.video[0].frames
        indices = set(np.arange(0, total, total / FRAMES).astype(int).tolist())
        frames = []
        for i, frame in enumerate(container.decode(video=0)):
            if i > max(indices):
                break
            if i in indices:
                frames.append(frame)
        return frames


def area_scaled(frame: av.VideoFrame) -> np.ndarray:
    """The baseline: FFmpeg's area scaling to SIZE px on the short side."""
    scale = SIZE / min(frame.width, frame.height)
    w, h = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    return VideoReformatter().reformat(frame, width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path, help="videos to compare (default: the assets' MP4s)")
    videos = parser.parse_args().videos or sorted((ROOT / "assets").glob("*.mp4"))
    prepare = processor()
    print(f"transformers {transformers.__version__}, {FRAMES} frames a video, normalised units\n")
    print("| video | size | this app: mean / max | baseline (area): mean / max | ratio of means |")
    print("|---|---|---|---|---|")
    for path in videos:
        frames = recipe_frames(path)
        recipe = prepare(np.stack([f.to_ndarray(format="rgb24") for f in frames]))
        convert = _Converter(SIZE)
        ours = np.abs(prepare(np.stack([convert(f) for f in frames])) - recipe)
        area = np.abs(prepare(np.stack([area_scaled(f) for f in frames])) - recipe)
        ratio = f"{area.mean() / ours.mean():.1f}x closer" if ours.mean() > 0 else "identical"
        print(
            f"| {path.name} | {frames[0].width}x{frames[0].height} | {ours.mean():.5f} / {ours.max():.3f} "
            f"| {area.mean():.4f} / {area.max():.3f} | {ratio} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
