"""Loading a LLaVA-NeXT-Video checkpoint: device, dtype, quantization and attention choices.

`load_model` takes a hub id, a local folder or "tiny" (the offline random-weight checkpoint) and
returns the model with its processor, from either file layout (the hub's, written by transformers
4.x, or 5.x's). Only the default checkpoint falls back to the tiny one, and only when its weights
cannot be had (or there is no GPU to run it on), saying why; every other failure is a LoadError.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from model.engines.families import LLAVA_NEXT_VIDEO, UnknownFamily, family_for
from model.engines.families.family import Family, Member
from model.engines.families.llava_next_video import SEVEN_B
from model.engines.zerogpu import on_zero_gpu
from model.settings import TINY_MODEL, AppSettings, env_flag

log = logging.getLogger(__name__)


ONEVISION_05B = "llava-hf/llava-onevision-qwen2-0.5b-ov-hf"  # the checkpoint that answers on a CPU
TINY_NOTICE = (
    "Answers are random text: this is the tiny random-weight test model. For real answers start with "
    f"--model llava-hf/LLaVA-NeXT-Video-7B-hf on a GPU, or --model {ONEVISION_05B} on a CPU."
)


FP32_GIB_7B = 28  # 7.06 B parameters in fp32 (26.3 GiB) and the activations of one answer


def cpu_advice(machine_gb: float | None = None) -> str:
    """Real answers on this CPU, and what each choice costs here: LLaVA-OneVision 0.5B (measured with
    `python -m bench.bench_onevision_cpu`: its exact configuration in bf16 on 2 cores), and the real
    7B (the memory figure for fp32 against this machine's memory; the times measured with
    `python -m bench.bench_cpu`: the 7B's widths at 1-2 layers on 2 cores, scaled to 32 + 24)."""
    machine_gb = machine_memory_gb() if machine_gb is None else machine_gb
    fits = (
        f"this machine has {machine_gb:.0f} GiB, so it would not fit"
        if machine_gb < FP32_GIB_7B
        else f"this machine has {machine_gb:.0f} GiB"
    )
    return (
        f"For real answers on this CPU: python app.py --model {ONEVISION_05B} (LLaVA-OneVision 0.5B, a 1.8 GB "
        "download; on 2 cores a question about its default 8 frames waits about 20 s for its first word, 4 "
        "frames about 10 s, 16 frames about 45 s, an image about 20 s; then 6 to 9 tokens/s). "
        "The real 7B on this CPU: python app.py --device cpu. It runs in fp32 there and "
        f"needs about {FP32_GIB_7B} GiB of memory ({fits}); on 2 cores a 16-frame question waits about 4 "
        "to 5 minutes for its first word, then about 0.5 tokens/s."
    )


def machine_memory_gb() -> float:
    """This machine's memory in GiB (0 where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return 0.0


class LoadError(RuntimeError):
    """The requested checkpoint cannot be loaded; the message says why and what to do."""


@dataclass
class LoadedModel:
    """A ready model with its processor and how it runs."""

    model: torch.nn.Module
    processor: object
    name: str
    device: str
    dtype: torch.dtype
    quantization: str | None = None
    attn: str = "sdpa"
    notice: str | None = None  # shown as a banner when the app runs something else than asked
    family: Family = LLAVA_NEXT_VIDEO  # its family's adapter: classes, ids, prompt format
    member: Member = SEVEN_B  # which checkpoint of the family it is

    @property
    def context_length(self) -> int:
        """Positions the text model handles (prompt plus answer), linear RoPE scaling included."""
        return context_length(self.model.config.text_config)

    @property
    def description(self) -> str:
        """One line for the page header: model, device, precision."""
        precision = self.quantization or str(self.dtype).removeprefix("torch.")
        return f"{self.name} · {self.device} · {precision} · {self.attn}"


def context_length(text_config) -> int:
    """max_position_embeddings, times the factor of a linear RoPE scaling (the 7B's 4,096 x 2)."""
    positions = int(text_config.max_position_embeddings)
    rope = getattr(text_config, "rope_parameters", None) or getattr(text_config, "rope_scaling", None) or {}
    kind = rope.get("rope_type") or rope.get("type")
    factor = float(rope.get("factor") or 1.0)
    return int(positions * factor) if kind == "linear" and factor > 1 else positions


def pick_device(requested: str = "auto") -> str:
    """'cuda' when a GPU is there (or ZeroGPU will lend one), else 'cpu'."""
    if requested == "cuda" and not (torch.cuda.is_available() or on_zero_gpu()):
        raise LoadError("--device cuda was asked for, but no CUDA GPU is visible to PyTorch.")
    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() or on_zero_gpu() else "cpu"


def pick_dtype(device: str) -> torch.dtype:
    """bf16 where the GPU supports it, fp16 on older GPUs, fp32 on the CPU."""
    if device != "cuda":
        return torch.float32
    if on_zero_gpu() or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def pick_attention(requested: str, device: str) -> str:
    """The attention kernel: flash_attention_2 when asked for or installed on CUDA, else sdpa."""
    has_flash = importlib.util.find_spec("flash_attn") is not None
    if requested == "flash_attention_2":
        if not has_flash:
            raise LoadError("--attn flash_attention_2 needs the flash-attn package: pip install flash-attn")
        if device != "cuda":
            raise LoadError("--attn flash_attention_2 runs only on a CUDA GPU.")
        return requested
    if requested == "auto":
        return "flash_attention_2" if has_flash and device == "cuda" else "sdpa"
    return requested


def quantization_config(settings: AppSettings, device: str, dtype: torch.dtype):
    """A BitsAndBytesConfig for --load-in-4bit/--load-in-8bit, or None."""
    if not (settings.load_in_4bit or settings.load_in_8bit):
        return None
    flag = "--load-in-4bit" if settings.load_in_4bit else "--load-in-8bit"
    if device != "cuda":
        raise LoadError(f"{flag} needs a CUDA GPU; on the CPU run without it.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise LoadError(f"{flag} needs the bitsandbytes package: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    if settings.load_in_4bit:
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def _from_pretrained(source: str, settings: AppSettings, local_only: bool = False) -> LoadedModel:
    """Load model and processor from a hub id or folder with the settings' precision, through the
    adapter of the checkpoint's family, as the checkpoint's authors meant it to run."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(source, local_files_only=local_only)
    try:
        family = family_for(config)
    except UnknownFamily as exc:
        raise LoadError(f"Could not load the model '{settings.model}': {exc}.") from None
    processor = family.load_processor(source, local_only)
    member = family.member(settings.model, config, processor.tokenizer)
    device = pick_device(settings.device)
    dtype = torch.bfloat16 if device == "cpu" and member.cpu_bf16 else pick_dtype(device)
    attn = pick_attention(settings.attn, device)
    quant = quantization_config(settings, device, dtype)
    kwargs: dict = {"dtype": dtype, "attn_implementation": attn, "local_files_only": local_only}
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": 0}
    if member.template is not None:
        processor.chat_template = member.template
        log.info("%s: uses the demo's %s template (%s)", member.short_name, member.prompt_format, member.why_template)
    model = family.model_class().from_pretrained(source, **kwargs)
    if quant is None:
        model = model.to(device)  # on ZeroGPU this is the one CUDA call allowed outside spaces.GPU
    model.eval()
    tokenizer = processor.tokenizer
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    # 4.x tokenizers say 4,096 (the positions before RoPE scaling): every longer prompt would warn.
    tokenizer.model_max_length = context_length(model.config.text_config)
    qname = "4-bit nf4" if settings.load_in_4bit else "8-bit" if settings.load_in_8bit else None
    return LoadedModel(
        model=model,
        processor=processor,
        name=settings.model,
        device=device,
        dtype=dtype,
        quantization=qname,
        attn=attn,
        family=family,
        member=member,
    )


def load_processor(source: str, local_only: bool = False):
    """The processor of a checkpoint of any family this demo serves, in either file layout."""
    from transformers import AutoConfig

    return family_for(AutoConfig.from_pretrained(source, local_files_only=local_only)).load_processor(
        source, local_only
    )


def load_model(settings: AppSettings) -> LoadedModel:
    """Load the checkpoint the settings name.

    Only for the default model, and only when its weights cannot be had (no network and not
    cached, gated, unauthorised), the app falls back to the tiny model and says why; so it does on a
    machine without CUDA when neither --model nor --device was given (no 15 GB download to run the
    7B in fp32 on a CPU). Every other failure is a LoadError that stops the app.
    """
    if settings.model == TINY_MODEL:
        return load_tiny(settings)
    if not settings.model_explicit and settings.device == "auto" and pick_device("auto") == "cpu":
        log.warning("No CUDA GPU and no --model or --device given: starting on the tiny random-weight model.")
        return _fallback(settings, f"no GPU here, so this demo runs a tiny random-weight model. {cpu_advice()}")
    local_only = not Path(settings.model).is_dir() and not hub_reachable()
    try:
        return _from_pretrained(settings.model, settings, local_only)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - sorted below into "cannot be had" and real failures
        unavailable = weights_unavailable(exc)
        reason = unavailable or _short_reason(exc)
        if settings.model_explicit or not unavailable:
            if not unavailable:
                log.exception("loading %s failed", settings.model)
            raise LoadError(f"Could not load the model '{settings.model}': {reason}") from exc
        log.warning("Could not load %s (%s); starting on the tiny random-weight model instead.", settings.model, reason)
        return _fallback(
            settings,
            f"the real model ({settings.model}) could not be loaded: {reason}. This demo runs a tiny "
            "random-weight model.",
        )


def _fallback(settings: AppSettings, why: str) -> LoadedModel:
    """The tiny model in place of the one asked for; its banner first says what a visitor will see."""
    loaded = load_tiny(settings)
    loaded.notice = f"Answers are random text: {why}"
    return loaded


def hub_reachable(timeout_s: float = 2.0) -> bool:
    """Whether the model hub answers at all (False at once in offline mode), so that an offline
    machine loads from the local cache in a second instead of minutes of retries."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or env_flag("TRANSFORMERS_OFFLINE"):
        return False
    import httpx

    try:
        httpx.head(constants.ENDPOINT, timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return True


def weights_unavailable(exc: BaseException) -> str | None:
    """Why the weights cannot be had (offline and not cached, gated, unauthorised, unknown repo),
    or None when the failure is something else (a bug, a broken file, an incompatible version)."""
    from huggingface_hub import errors

    seen = exc
    while seen is not None:
        if isinstance(seen, errors.GatedRepoError):
            return "the repository is gated: accept its terms on the hub and set HF_TOKEN"
        if isinstance(seen, errors.RepositoryNotFoundError):
            return "the hub does not know this repository, or it needs a token (set HF_TOKEN)"
        if isinstance(seen, errors.HfHubHTTPError) and getattr(seen.response, "status_code", None) in (401, 403):
            return "the hub refused access (set HF_TOKEN)"
        text = str(seen)
        if (
            isinstance(seen, (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled))
            or "couldn't connect" in text
            or "not in the cached files" in text
        ):
            return "the hub cannot be reached and the weights are not in the local cache"
        seen = seen.__cause__ or seen.__context__
    return None


def load_tiny(settings: AppSettings) -> LoadedModel:
    """The offline tiny random-weight checkpoint, always on the CPU in fp32."""
    from model.engines.tiny import tiny_checkpoint_dir

    folder = str(tiny_checkpoint_dir())
    tiny = AppSettings(model=folder, device="cpu", attn="sdpa", frames=settings.frames)
    loaded = _from_pretrained(folder, tiny)
    loaded.name = TINY_MODEL
    loaded.notice = TINY_NOTICE
    return loaded


def _short_reason(exc: Exception) -> str:
    """The first line of an exception's message, trimmed for a banner."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
