"""Tiny, deterministic, random-weight LLaVA-NeXT-Video checkpoint built fully offline.

The checkpoint mirrors the layout of ``llava-hf/LLaVA-NeXT-Video-7B-hf`` (hub weight names,
chat template, processor classes) at toy sizes, so the app, its tests and other engines can
run without downloading anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = [
    "CHAT_TEMPLATE",
    "HUB_PREFIXES",
    "bias_tokens_",
    "build_once",
    "build_tiny_checkpoint",
    "reinit_",
    "rewrite_to_hub_layout",
    "train_byte_bpe",
    "tensor_digest",
    "tiny_checkpoint_dir",
]

# The hub's llava-hf/LLaVA-NeXT-Video-7B-hf chat template, reproduced verbatim.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{# Render all video then #}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}{% endfor %}"
    "{# Render all text next #}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' '}}{% endfor %}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

# Top-level weight-name prefixes used by the hub checkpoint (and accepted by vLLM).
HUB_PREFIXES = (
    "vision_tower.vision_model.",
    "multi_modal_projector.",
    "language_model.model.",
    "language_model.lm_head.",
    "image_newline",
)

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", "<image>", "<video>"]
VOCAB_SIZE = 512
INIT_STD = 0.2


@dataclass(frozen=True)
class CheckpointShape:
    """Sizes of a random-weight checkpoint (vision tower, text model, context), and whether its
    answers may end by themselves."""

    image_size: int = 32
    patch_size: int = 4
    vision_hidden: int = 64
    vision_layers: int = 2
    text_hidden: int = 128
    text_intermediate: int = 256
    text_heads: int = 2
    text_layers: int = 2
    max_positions: int = 4096
    # False: the end-of-answer token is suppressed like the media tokens, so every answer runs to
    # its token limit, on any CPU (where a random model's greedy answer ends differs between CPUs).
    ends_answers: bool = True

    @property
    def grid_pinpoints(self) -> list[list[int]]:
        s = self.image_size
        return [[s, 2 * s], [2 * s, s], [2 * s, 2 * s], [s, 3 * s], [3 * s, s]]


TINY = CheckpointShape()
# Realistic token counts for benchmarks: 336 px frames with patch 14 give 144 tokens per frame as
# in the 7B, and a text model wide enough that prefill dominates on a CPU.
MEDIUM = CheckpointShape(
    image_size=336,
    patch_size=14,
    vision_hidden=64,
    vision_layers=2,
    text_hidden=768,
    text_intermediate=2048,
    text_heads=12,
    text_layers=4,
    max_positions=8192,
)
# The tiny vision tower with a text model big enough that vLLM on a CPU generates about 15 tokens/s,
# slower than its HTTP layer streams: like the 7B on a GPU, so Stop lands while the model still works.
# Its answers never end before their token limit, so there is always an answer left to stop.
PACED = CheckpointShape(text_hidden=1024, text_intermediate=4096, text_heads=16, text_layers=8, ends_answers=False)
SUPPRESS_SCALE = 1000.0
SEED = 0
MARKER = ".tiny-complete"
VERSION = "tiny-v1"

_CORPUS = """\
The video shows a person walking along a quiet street at night while cars pass by.
A small dog runs across the green park and jumps over a wooden fence.
In this clip, a woman is cooking dinner in a bright kitchen and talking to the camera.
The man opens the door, looks around the room, and sits down at the table.
Two children are playing football on a sunny beach near the blue water.
What happens in the video? The camera moves slowly from left to right.
Describe the image in detail. There is a red car parked in front of a white house.
A cat sleeps on the sofa while the rain falls outside the window.
The people in the video are dancing, laughing, and singing together at a party.
First the bird lands on the branch, then it flies away into the cloudy sky.
This is a short video about a train arriving at a busy station in the morning.
The answer is yes. The answer is no. I think the person is happy and relaxed.
Please tell me what you see. I can see a tree, a road, a river, and a mountain.
The scene changes quickly, and a large crowd gathers around the street musician.
USER: What is happening in this video? ASSISTANT: A man is riding a bicycle.
USER: Why is the video funny? ASSISTANT: Because the baby laughs at the dog.
ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz 0123456789 3.5 10% $20 #1 @home
Punctuation: ! ? , . : ; ' " ( ) [ ] { } < > - _ / \\ | ~ ^ ` * + = & 	 tab.
"""


def train_byte_bpe(specials: list[str], unk: str | None = "<unk>"):
    """A deterministic byte-level BPE tokenizer (`tokenizers.Tokenizer`) trained in memory on a small
    corpus, `specials` first in its vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=specials, show_progress=False)
    # Only bytes seen in the corpus enter the vocab, so every token decodes to printable text;
    # anything else (accents, emoji) encodes as <unk>.
    tok.train_from_iterator(_CORPUS.splitlines(keepends=True), trainer=trainer)
    return tok


def _build_tokenizer():
    """Train a deterministic byte-level BPE tokenizer in memory and wrap it for transformers."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tok = train_byte_bpe(SPECIAL_TOKENS)
    bos_id = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
        padding_side="left",
        model_max_length=4096,
    )


def _build_processor(tokenizer, shape: CheckpointShape):
    """Build the LLaVA-NeXT-Video processor with the hub's settings at the shape's resolution."""
    from transformers import LlavaNextImageProcessor, LlavaNextVideoProcessor
    from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, PILImageResampling
    from transformers.models.llava_next_video import LlavaNextVideoVideoProcessor

    common = dict(
        size={"shortest_edge": shape.image_size},
        crop_size={"height": shape.image_size, "width": shape.image_size},
        resample=PILImageResampling.BICUBIC,
        image_mean=list(OPENAI_CLIP_MEAN),
        image_std=list(OPENAI_CLIP_STD),
        do_resize=True,
        do_center_crop=True,
        do_rescale=True,
        do_normalize=True,
        do_convert_rgb=True,
    )
    image_processor = LlavaNextImageProcessor(image_grid_pinpoints=shape.grid_pinpoints, do_pad=True, **common)
    video_processor = LlavaNextVideoVideoProcessor(**common)
    return LlavaNextVideoProcessor(
        video_processor=video_processor,
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        patch_size=shape.patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )


def _build_config(tokenizer, shape: CheckpointShape):
    """Build the LlavaNextVideoConfig (CLIP vision tower + Llama text model) of a shape."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaNextVideoConfig

    vision = CLIPVisionConfig(
        image_size=shape.image_size,
        patch_size=shape.patch_size,
        hidden_size=shape.vision_hidden,
        intermediate_size=2 * shape.vision_hidden,
        num_attention_heads=max(1, shape.vision_hidden // 64),
        num_hidden_layers=shape.vision_layers,
        projection_dim=shape.vision_hidden,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.text_hidden,
        intermediate_size=shape.text_intermediate,
        num_attention_heads=shape.text_heads,
        num_key_value_heads=shape.text_heads,
        num_hidden_layers=shape.text_layers,
        max_position_embeddings=shape.max_positions,
        rms_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=INIT_STD,
    )
    config = LlavaNextVideoConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.image_token_id,
        video_token_index=tokenizer.video_token_id,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        spatial_pool_stride=2,
        spatial_pool_mode="average",
        image_grid_pinpoints=shape.grid_pinpoints,
        projector_hidden_act="gelu",
        tie_word_embeddings=False,
    )
    config.image_seq_length = (shape.image_size // shape.patch_size) ** 2
    config.video_seq_length = (shape.image_size // shape.patch_size // 2) ** 2
    return config


def reinit_(model: torch.nn.Module) -> None:
    """Deterministically re-initialise every parameter (normal std INIT_STD; norms 1, biases 0)."""
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            is_norm = "norm" in name or "layrnorm" in name
            if is_norm and name.endswith("weight"):
                param.fill_(1.0)
            elif name.endswith(".bias"):
                param.zero_()
            else:
                param.copy_(torch.randn(param.shape, generator=gen, dtype=torch.float32) * INIT_STD)


def _suppress_tokens_(model: torch.nn.Module, token_ids: list[int]) -> None:
    """Make ``token_ids`` (specials, by default other than EOS) practically never generated, in any
    engine: generated media tokens would otherwise corrupt later turns that reuse generated ids."""
    bias_tokens_(model, token_ids, -SUPPRESS_SCALE)


def bias_tokens_(model: torch.nn.Module, token_ids: list[int], bias: float) -> None:
    """A logit bias of about ``bias`` for ``token_ids`` (the rest none) that needs no sampler support
    (vLLM, plain ``generate``): the last hidden channel carries a constant 1.0 through the residual
    stream (embeddings write it, no layer writes to it), and the LM head reads it for those rows only."""
    lm = model.model.language_model
    ch = model.config.text_config.hidden_size - 1
    with torch.no_grad():
        lm.embed_tokens.weight[:, ch] = 1.0
        for layer in lm.layers:
            layer.self_attn.o_proj.weight[ch, :] = 0.0
            layer.mlp.down_proj.weight[ch, :] = 0.0
        model.lm_head.weight[:, ch] = 0.0
        model.lm_head.weight[token_ids, ch] = bias


def hub_name(key: str) -> str:
    """Map a transformers-5.x state-dict key to the hub (and vLLM) checkpoint layout."""
    key = key.removeprefix("model.")
    rules = (
        ("language_model.model.", "language_model.model."),
        ("language_model.lm_head.", "language_model.lm_head."),
        ("language_model.", "language_model.model."),
        ("lm_head.", "language_model.lm_head."),
        ("vision_tower.vision_model.", "vision_tower.vision_model."),
        ("vision_tower.", "vision_tower.vision_model."),
    )
    for old, new in rules:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def rewrite_to_hub_layout(path: Path) -> None:
    """Rewrite the saved safetensors keys to the hub layout if transformers wrote another one."""
    from safetensors.torch import load_file, save_file

    files = sorted(path.glob("*.safetensors"))
    if len(files) != 1 or (path / "model.safetensors.index.json").exists():
        raise RuntimeError(f"expected a single model.safetensors in {path}, got {files}")
    tensors = load_file(files[0])
    renamed = {hub_name(k): v.contiguous() for k, v in sorted(tensors.items())}
    if len(renamed) != len(tensors):
        raise RuntimeError("weight renaming produced duplicate keys")
    bad = [k for k in renamed if not k.startswith(HUB_PREFIXES)]
    if bad:
        raise RuntimeError(f"weights outside the hub layout: {bad[:5]}")
    if list(renamed) != sorted(tensors):
        save_file(renamed, str(files[0]), metadata={"format": "pt"})


def build_tiny_checkpoint(path: str | os.PathLike[str], shape: CheckpointShape = TINY) -> Path:
    """Build a random-weight LLaVA-NeXT-Video checkpoint (tiny by default) into ``path``."""
    from transformers import LlavaNextVideoForConditionalGeneration

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _build_tokenizer()
    processor = _build_processor(tokenizer, shape)
    config = _build_config(tokenizer, shape)
    torch.manual_seed(SEED)
    model = LlavaNextVideoForConditionalGeneration(config).to(torch.float32).eval()
    reinit_(model)
    banned = [
        tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS if t != tokenizer.eos_token or not shape.ends_answers
    ]
    _suppress_tokens_(model, banned)
    model.generation_config.do_sample = False
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    rewrite_to_hub_layout(out)
    _write_legacy_files(out, processor)
    _verify_round_trip(out, model)
    return out


def _verify_round_trip(path: Path, model: torch.nn.Module) -> None:
    """Check the saved folder loads back with no missing/unexpected keys and identical tensors."""
    from transformers import LlavaNextVideoForConditionalGeneration

    loaded, info = LlavaNextVideoForConditionalGeneration.from_pretrained(
        path, dtype=torch.float32, output_loading_info=True
    )
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise RuntimeError(f"tiny checkpoint does not round-trip: {problems}")
    expected, got = model.state_dict(), loaded.state_dict()
    if expected.keys() != got.keys() or any(not torch.equal(expected[k], got[k]) for k in expected):
        raise RuntimeError("tiny checkpoint tensors changed on reload")


def _write_legacy_files(path: Path, processor) -> None:
    """Also write the hub's per-component files so loaders expecting the 4.x layout find them."""
    processor.image_processor.save_pretrained(path)  # preprocessor_config.json
    processor.video_processor.save_pretrained(path)  # video_preprocessor_config.json
    cfg_file = path / "tokenizer_config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg["extra_special_tokens"] = {"image_token": "<image>", "video_token": "<video>"}
    cfg_file.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def tensor_digest(path: str | os.PathLike[str]) -> str:
    """Return a sha256 over the names, dtypes, shapes and bytes of all tensors in a checkpoint."""
    from safetensors.torch import load_file

    digest = hashlib.sha256()
    for file in sorted(Path(path).glob("*.safetensors")):
        for name, tensor in sorted(load_file(file).items()):
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor.contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _default_cache_dir() -> Path:
    """Return the default cache folder ($LLAVA_TINY_DIR or ~/.cache/llava-next-video-chat/tiny-v1)."""
    env = os.environ.get("LLAVA_TINY_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "llava-next-video-chat" / VERSION


def tiny_checkpoint_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the cached tiny checkpoint folder, building it once (atomically) if needed."""
    target = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    return build_once(target, build_tiny_checkpoint, MARKER, VERSION)


def build_once(target: Path, build, marker: str, version: str) -> Path:
    """`target`, written by `build(folder)` the first time: in a temporary folder renamed into place
    once complete, so a crash or a concurrent build never leaves half a checkpoint behind."""
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        (tmp / marker).write_text(version + "\n")
        for file in tmp.iterdir():
            file.chmod(0o644)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared
        try:
            os.rename(tmp, target)  # atomic; fails if another process won the race
        except OSError:
            if not (target / marker).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
