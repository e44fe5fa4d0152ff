"""Loading a LLaVA-NeXT-Video checkpoint: device, dtype, quantization and attention choices.

`load_model` takes a hub id, a local folder or "tiny" (the offline random-weight checkpoint) and
returns the model with its processor. When the default checkpoint cannot be had (no network,
nothing cached) it falls back to the tiny one and says why; a model the user named explicitly
that fails to load is an error.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass

import torch

from model.settings import TINY_MODEL, AppSettings

log = logging.getLogger(__name__)


TINY_NOTICE = ("This is the tiny random-weight test model: answers are random text. "
               "Start with --model llava-hf/LLaVA-NeXT-Video-7B-hf on a GPU for real answers.")


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


def on_zero_gpu() -> bool:
    """True on a Hugging Face ZeroGPU Space, where CUDA exists only inside `spaces.GPU` calls."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in {"1", "true"}


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
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True)
    return BitsAndBytesConfig(load_in_8bit=True)


def _from_pretrained(source: str, settings: AppSettings) -> LoadedModel:
    """Load model and processor from a hub id or folder with the settings' precision."""
    from transformers import AutoProcessor, LlavaNextVideoForConditionalGeneration

    device = pick_device(settings.device)
    dtype = pick_dtype(device)
    attn = pick_attention(settings.attn, device)
    quant = quantization_config(settings, device, dtype)
    kwargs: dict = {"dtype": dtype, "attn_implementation": attn}
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": 0}
    processor = AutoProcessor.from_pretrained(source)
    model = LlavaNextVideoForConditionalGeneration.from_pretrained(source, **kwargs)
    if quant is None:
        model = model.to(device)  # on ZeroGPU this is the one CUDA call allowed outside spaces.GPU
    model.eval()
    if processor.tokenizer.pad_token_id is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    qname = "4-bit nf4" if settings.load_in_4bit else "8-bit" if settings.load_in_8bit else None
    return LoadedModel(model=model, processor=processor, name=settings.model, device=device,
                       dtype=dtype, quantization=qname, attn=attn)


def load_model(settings: AppSettings) -> LoadedModel:
    """Load the checkpoint the settings name, falling back to the tiny one only for the default."""
    if settings.model == TINY_MODEL:
        return load_tiny(settings)
    try:
        return _from_pretrained(settings.model, settings)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any loading failure becomes one readable reason
        reason = _short_reason(exc)
        if settings.model_explicit:
            raise LoadError(f"Could not load the model '{settings.model}': {reason}") from exc
        log.warning("Could not load %s (%s); starting on the tiny random-weight model instead.",
                    settings.model, reason)
        loaded = load_tiny(settings)
        loaded.notice = (f"Answers are random: the real model ({settings.model}) could not be "
                         f"loaded because {reason}. This demo runs a tiny random-weight model.")
        return loaded


def load_tiny(settings: AppSettings) -> LoadedModel:
    """The offline tiny random-weight checkpoint, always on the CPU in fp32."""
    from model.tiny import tiny_checkpoint_dir

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
