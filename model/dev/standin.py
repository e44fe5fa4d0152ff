"""A random-weight stand-in of llava-hf/LLaVA-NeXT-Video-7B-hf, written in the hub's 4.x file layout.

The real checkpoint was saved by transformers 4.42-era code: no `video_preprocessor_config.json`,
a `preprocessor_config.json` holding the `LlavaNextImageProcessor`, `processor_config.json`,
`chat_template.json`, a Llama-2 SentencePiece tokenizer (`LlamaTokenizer`, byte fallback) with
`<video>`/`<image>` added as 32000/32001, and `rope_scaling` in its 4.x form. This module writes
the same files with the 7B's real widths (CLIP ViT-L/14 at 336 px, a 4096-wide Llama) and only the
depth cut, so the loader and the engine meet the real shapes without downloading 15 GB.
`STANDIN_7B` keeps 2+2 layers (about 1.4 GB in bf16); `FULL_7B` has the real 32+24.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from model.engines.tiny import CHAT_TEMPLATE, build_once, hub_name

VERSION = "standin-7b-v1"
MARKER = ".standin-complete"
BASE_VOCAB = 32000  # SentencePiece pieces; <video> and <image> are added after them
PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

_CORPUS = """\
USER: What is happening in this video? ASSISTANT: A man is riding a bicycle along the river.
The video shows a person walking along a quiet street at night while cars pass by.
A small dog runs across the green park and jumps over a wooden fence.
In this clip, a woman is cooking dinner in a bright kitchen and talking to the camera.
Two children are playing football on a sunny beach near the blue water.
Describe the image in detail. There is a red car parked in front of a white house.
First the bird lands on the branch, then it flies away into the cloudy sky.
The answer is yes. The answer is no. I think the person is happy and relaxed.
"""


@dataclass(frozen=True)
class RealShape:
    """The 7B's widths with a chosen depth."""

    text_layers: int = 2
    vision_layers: int = 2
    text_hidden: int = 4096
    text_intermediate: int = 11008
    text_heads: int = 32
    vision_hidden: int = 1024
    vision_intermediate: int = 4096
    vision_heads: int = 16
    image_size: int = 336
    patch_size: int = 14
    max_positions: int = 4096
    rope_factor: float = 2.0
    vocab_size: int = 32064


STANDIN_7B = RealShape()
FULL_7B = RealShape(text_layers=32, vision_layers=24)


def build_llama_tokenizer(
    specials: tuple[str, ...] = ("<unk>", "<s>", "</s>"),
    added: tuple[str, ...] = ("<video>", "<image>"),
    base_vocab: int = BASE_VOCAB,
    bos: str | None = "<s>",
):
    """A Llama-2-style byte-fallback SentencePiece tokenizer: `specials` first (<unk>/<s>/</s> = 0/1/2),
    byte tokens next, `base_vocab` pieces in all, then `added` as specials (<video> = 32000 and
    <image> = 32001); `bos` opens every text (None: nothing does)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    # Learn merges on a small corpus, then lay the vocabulary out as Llama-2's: specials, bytes, pieces.
    learner = Tokenizer(models.BPE())
    learner.normalizer = normalizers.Replace(" ", "▁")
    learner.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    learner.train_from_iterator(_CORPUS.splitlines(), trainers.BpeTrainer(vocab_size=600, show_progress=False))
    learned = json.loads(learner.to_str())["model"]
    vocab = {token: i for i, token in enumerate(specials)}
    vocab.update({f"<0x{b:02X}>": len(specials) + b for b in range(256)})
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        vocab.setdefault(piece, len(vocab))
    filler = 0
    while len(vocab) < base_vocab:  # unreachable pieces stand in for the rest of the vocabulary
        vocab.setdefault(f"▁piece{filler}", len(vocab))
        filler += 1
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=specials[0], fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    )
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in added])
    if bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])]
        )
    return tok


def hub_config(shape: RealShape) -> dict:
    """config.json as transformers 4.x wrote it (defaults of the day left out, rope_scaling in 4.x form)."""
    grid = shape.image_size // shape.patch_size
    return {
        "architectures": ["LlavaNextVideoForConditionalGeneration"],
        "ignore_index": -100,
        "image_grid_pinpoints": PINPOINTS,
        "image_seq_length": grid * grid,
        "image_token_index": 32001,
        "model_type": "llava_next_video",
        "projector_hidden_act": "gelu",
        "spatial_pool_mode": "average",
        "spatial_pool_stride": 2,
        "text_config": {
            "_name_or_path": "lmsys/vicuna-7b-v1.5",
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": shape.text_hidden,
            "intermediate_size": shape.text_intermediate,
            "max_position_embeddings": shape.max_positions,
            "model_type": "llama",
            "num_attention_heads": shape.text_heads,
            "num_hidden_layers": shape.text_layers,
            "num_key_value_heads": shape.text_heads,
            "pad_token_id": 0,
            "rms_norm_eps": 1e-05,
            "rope_scaling": {"factor": shape.rope_factor, "type": "linear"},
            "torch_dtype": "bfloat16",
            "vocab_size": shape.vocab_size,
        },
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.42.0.dev0",
        "use_image_newline_parameter": True,
        "video_seq_length": (grid // 2) ** 2 * 2,
        "video_token_index": 32000,
        "vision_config": {
            "hidden_act": "quick_gelu",
            "hidden_size": shape.vision_hidden,
            "image_size": shape.image_size,
            "intermediate_size": shape.vision_intermediate,
            "layer_norm_eps": 1e-05,
            "model_type": "clip_vision_model",
            "num_attention_heads": shape.vision_heads,
            "num_hidden_layers": shape.vision_layers,
            "patch_size": shape.patch_size,
            "projection_dim": 768,
            "vocab_size": 32000,
        },
        "vision_feature_layer": -2,
        "vision_feature_select_strategy": "default",
        "vocab_size": shape.vocab_size,
    }


def processor_files(shape: RealShape) -> dict[str, dict]:
    """The processor's and tokenizer's JSON files, as the hub holds them."""
    special = {
        "content": None,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": True,
    }
    decoder = {
        str(i): {**special, "content": t}
        for i, t in [(0, "<unk>"), (1, "<s>"), (2, "</s>"), (32000, "<video>"), (32001, "<image>")]
    }
    return {
        "preprocessor_config.json": {
            "aspect_ratio_setting": "anyres",
            "crop_size": {"height": shape.image_size, "width": shape.image_size},
            "do_center_crop": True,
            "do_convert_rgb": True,
            "do_normalize": True,
            "do_pad": True,
            "do_rescale": True,
            "do_resize": True,
            "image_grid_pinpoints": PINPOINTS,
            "image_mean": CLIP_MEAN,
            "image_std": CLIP_STD,
            "image_processor_type": "LlavaNextImageProcessor",
            "processor_class": "LlavaNextVideoProcessor",
            "resample": 3,
            "rescale_factor": 0.00392156862745098,
            "size": {"shortest_edge": shape.image_size},
        },
        "processor_config.json": {
            "num_additional_image_tokens": 1,
            "patch_size": shape.patch_size,
            "processor_class": "LlavaNextVideoProcessor",
            "vision_feature_select_strategy": "default",
        },
        "chat_template.json": {"chat_template": CHAT_TEMPLATE},
        "tokenizer_config.json": {
            "add_bos_token": True,
            "add_eos_token": False,
            "added_tokens_decoder": decoder,
            "bos_token": "<s>",
            "clean_up_tokenization_spaces": False,
            "eos_token": "</s>",
            "legacy": False,
            "model_max_length": shape.max_positions,
            "pad_token": "<unk>",
            "padding_side": "left",
            "processor_class": "LlavaNextVideoProcessor",
            "sp_model_kwargs": {},
            "spaces_between_special_tokens": False,
            "tokenizer_class": "LlamaTokenizer",
            "unk_token": "<unk>",
            "use_default_system_prompt": False,
        },
        "special_tokens_map.json": {
            "bos_token": {**special, "content": "<s>"},
            "eos_token": {**special, "content": "</s>"},
            "pad_token": {**special, "content": "<unk>"},
            "unk_token": {**special, "content": "<unk>"},
        },
        "added_tokens.json": {"<image>": 32001, "<video>": 32000},
        "generation_config.json": {
            "_from_model_config": True,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 0,
            "transformers_version": "4.42.0.dev0",
        },
    }


def build_model(
    shape: RealShape,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
    config: dict | None = None,
):
    """The random-weight model of a shape (or of a config.json's contents), built directly on `device`
    (no checkpoint on disk)."""
    from transformers import LlavaNextVideoConfig, LlavaNextVideoForConditionalGeneration

    written = config or hub_config(shape)
    config = LlavaNextVideoConfig(
        **{k: v for k, v in written.items() if k not in ("architectures", "transformers_version", "torch_dtype")}
    )
    torch.manual_seed(seed)
    with torch.device(device):
        model = LlavaNextVideoForConditionalGeneration(config).to(dtype)
    return model.eval()


def build_processor(shape: RealShape, folder: str | os.PathLike[str] | None = None):
    """The 7B's processor (writing the hub's processor and tokenizer files into `folder`), loaded back
    through the project's loader, so it is the processor the app would use."""
    from model.engines.families import LLAVA_NEXT_VIDEO

    out = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="standin-processor-"))
    _write_processor_files(out, shape)
    return LLAVA_NEXT_VIDEO.load_processor(str(out))


def _write_processor_files(out: Path, shape: RealShape) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, content in processor_files(shape).items():
        (out / name).write_text(json.dumps(content, indent=2) + "\n")
    build_llama_tokenizer().save(str(out / "tokenizer.json"))


def write_shards(model, out: Path, shard_bytes: int = 1 << 30) -> None:
    """Weights in the hub's names, in shards with an index, as the hub ships them."""
    from safetensors.torch import save_file

    tensors = {hub_name(k): v.detach().to("cpu", copy=False).contiguous() for k, v in model.state_dict().items()}
    shards: list[dict] = [{}]
    size = 0
    for name in sorted(tensors):
        nbytes = tensors[name].numel() * tensors[name].element_size()
        if shards[-1] and size + nbytes > shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensors[name]
        size += nbytes
    weight_map = {}
    for i, shard in enumerate(shards, 1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(out / file), metadata={"format": "pt"})
        weight_map.update({name: file for name in shard})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (out / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n"
    )


def build_standin_checkpoint(path: str | os.PathLike[str], shape: RealShape = STANDIN_7B) -> Path:
    """Write a random-weight checkpoint of `shape` in the hub's 4.x layout (bf16 shards) into `path`."""
    return write_checkpoint(build_model(shape), path, shape)


def write_checkpoint(model, path: str | os.PathLike[str], shape: RealShape) -> Path:
    """Write `model` (built from `shape`) with the hub's 4.x files into `path`."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    _write_processor_files(out, shape)
    (out / "config.json").write_text(json.dumps(hub_config(shape), indent=2) + "\n")
    write_shards(model, out)
    return out


def standin_checkpoint_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cached 2+2-layer stand-in (built once, atomically): $LLAVA_STANDIN_DIR or ~/.cache/..."""
    default = Path.home() / ".cache" / "llava-next-video-chat" / VERSION
    target = Path(cache_dir or os.environ.get("LLAVA_STANDIN_DIR") or default).expanduser()
    return build_once(target, build_standin_checkpoint, MARKER, VERSION)
