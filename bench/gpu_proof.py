"""The one-command GPU check: the real 7B's shapes with random weights, through the app's own engine.

`python -m bench.gpu_proof` builds LLaVA-NeXT-Video-7B's architecture at full depth (32 text + 24
vision layers, model/dev/standin.py) directly on the GPU in bf16, with the 7B's processor, and measures
what the README otherwise only computes: weights memory and build time; time to first token and
peak memory at 8, 16 and 32 frames; decode tokens/s over 256 greedy tokens (sdpa, and
flash-attention 2 where installed); a follow-up's first token with the session cache against
recomputed; four conversations at once (as `--concurrency 4`); the ZeroGPU duration the app would
ask for against the time measured; then (part `nf4`) the checkpoint written to disk in the hub's
layout and loaded back through the app's loader, in bf16 and in 4-bit NF4 through bitsandbytes.

Every row is printed and written (JSON and markdown) as soon as it is measured, so a run cut off at
its time limit still reports. `--dry-run` runs the same code on the CPU with 2 + 2 layers, fp32 and
tiny budgets, in a few minutes; the main test suite runs it. No gradio, PyAV or spaces import:
bench/README.md says what to carry to a bare GPU machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.chat.conversation import Conversation, MediaItem, Turn
from model.dev.standin import (
    FULL_7B,
    STANDIN_7B,
    RealShape,
    build_model,
    build_processor,
    standin_checkpoint_dir,
    write_checkpoint,
)
from model.engines.base import Finished, GenerationParams, GenerationStats
from model.engines.kv_cache import CacheStore
from model.engines.loading import LoadedModel, context_length, load_model
from model.engines.transformers_engine import TransformersEngine
from model.engines.zerogpu import gpu_seconds
from model.media.clip import VideoClip
from model.settings import AppSettings

GIB = 2**30


@dataclass(frozen=True)
class Plan:
    """What one run measures, and with which sizes."""

    shape: RealShape
    device: str
    dtype: torch.dtype
    frames: tuple[int, ...]  # the first-token / peak-memory cases
    new_tokens: int  # greedy tokens per measured answer (the app's default answer length is 256)
    decode_frames: int  # the video of the decode, attention and follow-up cases
    conversations: int  # answered at once, as --concurrency N
    budget_s: float  # the run skips what would not fit in this


FULL = Plan(FULL_7B, "cuda", torch.bfloat16, (8, 16, 32), 256, 16, 4, 480.0)
DRY = Plan(STANDIN_7B, "cpu", torch.float32, (1, 2), 8, 2, 2, 900.0)


def video_conversation(frames: int, seed: int = 0, question: str = "Describe this video in detail.") -> Conversation:
    """A one-turn conversation about a `frames`-frame 336x448 video of random pixels."""
    rng = np.random.default_rng(seed)
    clip = VideoClip(
        frames=rng.integers(0, 255, (frames, 336, 448, 3), dtype=np.uint8),
        timestamps=[i * 0.5 for i in range(frames)],
        duration=frames * 0.5,
        fps=2.0,
        source_size=(448, 336),
    )
    conv = Conversation(session_id=f"proof/{seed}")
    conv.turns.append(Turn(text=question, media=[MediaItem(path="video.mp4", kind="video", clip=clip)]))
    return conv


class Report:
    """Rows of measurements, printed and written to JSON and markdown as each one comes."""

    def __init__(self, out: Path, name: str, meta: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.json_path, self.md_path = out / f"{name}.json", out / f"{name}.md"
        self.meta, self.rows = meta, []
        print(
            f"# {meta['title']}\n{meta['environment']}\n\n| measurement | value | unit | note |\n|---|---|---|---|",
            flush=True,
        )
        self._write()

    def add(self, what: str, value, unit: str = "", note: str = "") -> None:
        if isinstance(value, float):
            value = round(value, 3)
        self.rows.append({"what": what, "value": value, "unit": unit, "note": note})
        print(f"| {what} | {value} | {unit} | {note} |", flush=True)
        self._write()

    def _write(self) -> None:
        self.json_path.write_text(json.dumps({**self.meta, "rows": self.rows}, indent=2) + "\n")
        lines = [
            f"# {self.meta['title']}",
            "",
            self.meta["environment"],
            "",
            "| measurement | value | unit | note |",
            "|---|---|---|---|",
        ]
        lines += [f"| {r['what']} | {r['value']} | {r['unit']} | {r['note']} |" for r in self.rows]
        self.md_path.write_text("\n".join(lines) + "\n")


class Device:
    """Synchronisation and memory counters of the device the run uses (CPU: no peaks)."""

    def __init__(self, name: str) -> None:
        self.cuda = name == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        return torch.cuda.max_memory_allocated() / GIB if self.cuda else None

    def allocated_gib(self, model: torch.nn.Module) -> float:
        if self.cuda:
            return torch.cuda.memory_allocated() / GIB
        return sum(p.numel() * p.element_size() for p in model.parameters()) / GIB

    def free(self) -> None:
        if self.cuda:
            torch.cuda.empty_cache()


@dataclass
class Answer:
    stats: GenerationStats
    wall_s: float
    peak_gib: float | None
    answer_ids: list[int]


def answer(engine: TransformersEngine, conv: Conversation, new_tokens: int, device: Device) -> Answer:
    """Prepare and stream the last turn's answer to its end, as the app does; with its wall time."""
    params = GenerationParams(max_new_tokens=new_tokens)
    device.reset_peak()
    started = time.perf_counter()
    engine.prepare_turn(conv, params)
    finished = [x for x in engine.stream(conv, params, threading.Event()) if isinstance(x, Finished)][0]
    device.sync()
    wall = time.perf_counter() - started
    turn = conv.last
    turn.answer_ids, turn.status = finished.answer_ids, "done"
    turn.answer = engine.tokenizer.decode(finished.answer_ids, skip_special_tokens=True)
    return Answer(finished.stats, wall, device.peak_gib(), finished.answer_ids)


def ready(
    model: torch.nn.Module,
    processor,
    plan: Plan,
    attn: str = "sdpa",
    name: str = "random 7B shapes",
    quantization: str | None = None,
) -> LoadedModel:
    """The model as the app holds it; answers never end before their token limit (no EOS stop)."""
    model.generation_config.eos_token_id = None
    processor.tokenizer.model_max_length = context_length(model.config.text_config)
    return LoadedModel(
        model=model,
        processor=processor,
        name=name,
        device=plan.device,
        dtype=plan.dtype,
        quantization=quantization,
        attn=attn,
    )


def measure_bf16(plan: Plan, report: Report, device: Device, deadline: float) -> None:
    """Build on the device; first token and peak memory per frame count; decode; follow-up; concurrency."""
    precision = str(plan.dtype).removeprefix("torch.")
    processor = build_processor(plan.shape)
    device.sync()
    started = time.perf_counter()
    model = build_model(plan.shape, device=plan.device, dtype=plan.dtype)
    device.sync()
    report.add(
        f"build on {plan.device} ({precision}, random weights)",
        time.perf_counter() - started,
        "s",
        "built in place, no checkpoint read",
    )
    report.add(f"weights memory ({precision})", device.allocated_gib(model), "GiB")
    loaded = ready(model, processor, plan)
    engine = TransformersEngine(loaded)
    answer(engine, video_conversation(1, seed=99), 4, device)  # warm-up: kernels, allocator
    for frames in plan.frames:
        if not _time_left(report, deadline, f"{frames} frames"):
            return
        conv = video_conversation(frames)
        result = answer(engine, conv, plan.new_tokens, device)
        asked = gpu_seconds(conv, GenerationParams(max_new_tokens=plan.new_tokens))
        tag = f"{frames} frame{'s' if frames > 1 else ''} ({result.stats.prompt_tokens:,} prompt tokens)"
        report.add(f"{tag}: first token", result.stats.ttft_s, "s")
        if result.peak_gib is not None:
            report.add(f"{tag}: peak memory", result.peak_gib, "GiB")
        report.add(
            f"{tag}: decode, sdpa", result.stats.tokens_per_s, "tokens/s", f"{result.stats.new_tokens} greedy tokens"
        )
        report.add(
            f"{tag}: ZeroGPU duration asked / answer measured",
            f"{asked} / {result.wall_s:.1f}",
            "s",
            f"{result.stats.new_tokens} new tokens; asked {asked / result.wall_s:.1f}x the time",
        )
    if (
        importlib.util.find_spec("flash_attn") is not None
        and plan.device == "cuda"
        and _time_left(report, deadline, "flash-attention 2")
    ):
        _try(report, "flash-attention 2", lambda: _flash(engine, model, plan, report, device))
    elif plan.device == "cuda":
        report.add("decode, flash_attention_2", "not installed", "", "pip install flash-attn to measure it")
    if _time_left(report, deadline, "follow-up"):
        _try(report, "follow-up", lambda: _follow_up(loaded, plan, report, device))
    if _time_left(report, deadline, "concurrency"):
        _try(report, "concurrency", lambda: _at_once(engine, plan, report, device))


def _flash(engine: TransformersEngine, model, plan: Plan, report: Report, device: Device) -> None:
    model.set_attn_implementation("flash_attention_2")
    result = answer(engine, video_conversation(plan.decode_frames), plan.new_tokens, device)
    report.add(
        f"{plan.decode_frames} frames: decode, flash_attention_2",
        result.stats.tokens_per_s,
        "tokens/s",
        f"first token {result.stats.ttft_s:.2f} s",
    )
    model.set_attn_implementation("sdpa")


def _follow_up(loaded: LoadedModel, plan: Plan, report: Report, device: Device) -> None:
    """The same two turns with the session cache and recomputed; the second turn's first token."""
    results = {}
    for label, cache in (("session cache", CacheStore(64 * GIB, 64 * GIB)), ("recomputed", CacheStore(0, 0))):
        engine = TransformersEngine(loaded, cache)
        conv = video_conversation(plan.decode_frames, seed=7)
        answer(engine, conv, min(32, plan.new_tokens), device)
        conv.turns.append(Turn(text="What happens at the end?"))
        results[label] = answer(engine, conv, min(32, plan.new_tokens), device)
        engine.forget("proof/")
    cached, recomputed = results["session cache"], results["recomputed"]
    same = "same greedy tokens" if cached.answer_ids == recomputed.answer_ids else "greedy tokens differ"
    report.add(
        f"follow-up first token, session cache ({cached.stats.cached_tokens:,} cached)", cached.stats.ttft_s, "s"
    )
    report.add(
        "follow-up first token, recomputed",
        recomputed.stats.ttft_s,
        "s",
        f"{recomputed.stats.ttft_s / max(cached.stats.ttft_s, 1e-9):.1f}x the cached; {same}",
    )


def _at_once(engine: TransformersEngine, plan: Plan, report: Report, device: Device) -> None:
    """`plan.conversations` answers generated at the same time, as the app's worker threads do."""
    n = plan.conversations
    convs = [video_conversation(8 if plan.device == "cuda" else 1, seed=20 + i) for i in range(n)]
    results: list[Answer | BaseException] = [None] * n  # type: ignore[list-item]
    gate = threading.Barrier(n)

    def one(i: int) -> None:
        gate.wait()
        try:
            results[i] = answer(engine, convs[i], plan.new_tokens, device)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    each = sorted(r.stats.tokens_per_s for r in results)
    total = sum(r.stats.new_tokens for r in results)
    report.add(
        f"{n} conversations at once: decode each (min / median / max)",
        f"{each[0]:.1f} / {statistics.median(each):.1f} / {each[-1]:.1f}",
        "tokens/s",
        f"{convs[0].videos()[0].frames.shape[0]} frames each",
    )
    report.add(
        f"{n} conversations at once: total",
        total / wall,
        "tokens/s",
        f"{total} tokens in {wall:.1f} s, first tokens included",
    )


def measure_from_disk(plan: Plan, report: Report, device: Device, deadline: float, workdir: Path) -> None:
    """The checkpoint on disk in the hub's layout, loaded by the app's loader: bf16, then 4-bit NF4."""
    if plan.device == "cuda":
        folder = workdir / "gpu-proof-7b"
        started = time.perf_counter()
        model = build_model(plan.shape, device="cuda", dtype=plan.dtype)
        write_checkpoint(model, folder, plan.shape)
        del model
        device.free()
        report.add(
            "write the checkpoint (hub 4.x layout, bf16 shards)",
            time.perf_counter() - started,
            "s",
            f"{sum(f.stat().st_size for f in folder.iterdir()) / GIB:.1f} GiB",
        )
    else:
        folder = standin_checkpoint_dir()  # the suite's cached 2+2-layer stand-in
    cases = [("bf16" if plan.device == "cuda" else "fp32", {})]
    if plan.device == "cuda":
        if importlib.util.find_spec("bitsandbytes") is not None:
            cases.append(("4-bit nf4", {"load_in_4bit": True}))
        else:
            report.add("4-bit nf4", "bitsandbytes not importable", "", "carry its wheel (bench/README.md)")
    for label, flags in cases:
        if not _time_left(report, deadline, f"load {label}"):
            return
        _try(
            report,
            f"load {label}",
            lambda label=label, flags=flags: _load_and_answer(folder, label, flags, plan, report, device),
        )


def _load_and_answer(folder: Path, label: str, flags: dict, plan: Plan, report: Report, device: Device) -> None:
    device.free()
    device.reset_peak()
    started = time.perf_counter()
    loaded = load_model(AppSettings(model=str(folder), model_explicit=True, device=plan.device, attn="sdpa", **flags))
    device.sync()
    report.add(f"load from disk through load_model, {label}", time.perf_counter() - started, "s")
    report.add(f"weights memory, {label}", device.allocated_gib(loaded.model), "GiB")
    loaded = ready(loaded.model, loaded.processor, plan, quantization=loaded.quantization)
    engine = TransformersEngine(loaded)
    answer(engine, video_conversation(1, seed=99), 4, device)  # warm-up
    result = answer(engine, video_conversation(plan.decode_frames), plan.new_tokens, device)
    report.add(f"{label}, {plan.decode_frames} frames: first token", result.stats.ttft_s, "s")
    report.add(
        f"{label}, {plan.decode_frames} frames: decode",
        result.stats.tokens_per_s,
        "tokens/s",
        f"peak {result.peak_gib:.1f} GiB" if result.peak_gib is not None else "",
    )
    del engine, loaded


def _time_left(report: Report, deadline: float, what: str) -> bool:
    if time.monotonic() < deadline:
        return True
    report.add(what, "skipped", "", "the run's time budget is spent")
    return False


def _try(report: Report, what: str, step) -> None:
    """Run one step; a failure becomes a row (and a traceback on stderr), and the run goes on."""
    try:
        step()
    except Exception as exc:  # noqa: BLE001 - a partial report beats none
        traceback.print_exc()
        report.add(what, "failed", "", f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")


def environment() -> str:
    import transformers

    parts = [f"torch {torch.__version__}", f"transformers {transformers.__version__}"]
    for name in ("tokenizers", "torchvision", "bitsandbytes", "flash_attn"):
        spec = importlib.util.find_spec(name)
        if spec is None:
            parts.append(f"{name} missing")
            continue
        try:
            parts.append(f"{name} {__import__(name).__version__}")
        except Exception as exc:  # noqa: BLE001 - a package that imports badly is worth saying
            parts.append(f"{name} broken ({type(exc).__name__})")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA"
    return f"{gpu}; " + ", ".join(parts)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="CPU, 2+2 layers, fp32, tiny sizes: checks the script")
    p.add_argument(
        "--part",
        choices=["bf16", "nf4", "all"],
        default="all",
        help="bf16: built on the GPU; nf4: written to disk and loaded (bf16 and 4-bit); all: both",
    )
    p.add_argument(
        "--out",
        default=os.environ.get("OUT") or "test-artifacts",
        help="folder for gpu_proof-PART.json and .md (default $OUT, else test-artifacts)",
    )
    p.add_argument("--budget-s", type=float, default=None, help="stop starting new steps after this many seconds")
    p.add_argument("--workdir", default=tempfile.gettempdir(), help="where part nf4 writes the 14 GB checkpoint")
    args = p.parse_args(argv)
    plan = DRY if args.dry_run else FULL
    if plan.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run with --dry-run on a CPU")
    deadline = time.monotonic() + (args.budget_s or plan.budget_s)
    kind = "dry run: 2+2 layers, CPU, fp32" if args.dry_run else "random weights of the real shapes"
    meta = {
        "title": f"bench.gpu_proof --part {args.part} ({kind})",
        "environment": environment(),
        "date": time.strftime("%Y-%m-%d"),
        "plan": {
            "frames": plan.frames,
            "new_tokens": plan.new_tokens,
            "text_layers": plan.shape.text_layers,
            "vision_layers": plan.shape.vision_layers,
        },
    }
    report = Report(Path(args.out), f"gpu_proof-{args.part}", meta)
    device = Device(plan.device)
    torch.manual_seed(0)
    if args.part in ("bf16", "all"):
        _try(report, "bf16 part", lambda: measure_bf16(plan, report, device, deadline))
    if args.part in ("nf4", "all"):
        _try(report, "from-disk part", lambda: measure_from_disk(plan, report, device, deadline, Path(args.workdir)))
    print(f"\nwritten: {report.json_path} and {report.md_path}", flush=True)


if __name__ == "__main__":
    main()
