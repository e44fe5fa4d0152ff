"""A tiny, deterministic, random-weight LLaVA-OneVision checkpoint, built fully offline: the second
family's test model (`LlavaOnevisionForConditionalGeneration`: a SigLIP tower and a Qwen2 text model
at toy widths, ChatML, the hub's processor classes and weight names).

Its frames are 64 px with 8 px patches, pooled 2x2 as OneVision pools them: 16 tokens a frame and
one newline a video; an image is its base view and anyres tiles. Answers end at <|im_end|>.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from model.engines.tiny import (
    INIT_STD,
    SEED,
    bias_tokens_,
    build_once,
    reinit_,
    rewrite_to_hub_layout,
    train_byte_bpe,
)

VERSION = "tiny-onevision-v2"
MARKER = ".tiny-onevision-complete"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"]
IMAGE_SIZE, PATCH = 64, 8
PINPOINTS = [[64, 64], [64, 128], [128, 64], [128, 128], [64, 192], [192, 64]]
SIGLIP_MEAN = SIGLIP_STD = [0.5, 0.5, 0.5]
# LLaVA-OneVision's prompt format (Qwen's ChatML), images then videos before the text of a message
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}"
    "{% endif %}{{ '<|im_end|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def build_tokenizer():
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=train_byte_bpe(SPECIALS, unk=None),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens={"image_token": "<image>", "video_token": "<video>"},
        padding_side="left",
        model_max_length=32768,
    )


def onevision_processor(tokenizer, image_size: int, patch: int, pinpoints: list[list[int]] | None = None):
    """A LlavaOnevisionProcessor for `image_size` views cut in `patch` px patches (SigLIP's mean and
    std, anyres up to 9 tiles over `pinpoints`, the image processor's own by default)."""
    from transformers import LlavaOnevisionImageProcessor, LlavaOnevisionProcessor, LlavaOnevisionVideoProcessor

    common = {
        "size": {"height": image_size, "width": image_size},
        "image_mean": SIGLIP_MEAN,
        "image_std": SIGLIP_STD,
        "do_convert_rgb": True,
    }
    grid = {"image_grid_pinpoints": pinpoints} if pinpoints else {}
    return LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(do_pad=True, **grid, **common),
        video_processor=LlavaOnevisionVideoProcessor(**common),
        tokenizer=tokenizer,
        num_image_tokens=(image_size // patch) ** 2,
        vision_feature_select_strategy="full",
        chat_template=CHAT_TEMPLATE,
        vision_aspect_ratio="anyres_max_9",
    )


def onevision_config(tokenizer, vision, text, pinpoints: list[list[int]] | None = None):
    """A LlavaOnevisionConfig of a SigLIP `vision` and a Qwen2 `text` config, with the hub's feature
    choices and `tokenizer`'s media ids."""
    from transformers import LlavaOnevisionConfig

    grid = {"image_grid_pinpoints": pinpoints} if pinpoints else {}
    return LlavaOnevisionConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        vision_aspect_ratio="anyres_max_9",
        tie_word_embeddings=text.tie_word_embeddings,
        **grid,
    )


def _config(tokenizer):
    from transformers import Qwen2Config, SiglipVisionConfig

    vision = SiglipVisionConfig(
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
        hidden_size=64,
        intermediate_size=128,
        num_attention_heads=2,
        num_hidden_layers=2,
        vision_use_head=False,
    )
    text = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_attention_heads=2,
        num_key_value_heads=2,
        num_hidden_layers=2,
        max_position_embeddings=32768,
        rope_theta=1e6,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=INIT_STD,
    )
    return onevision_config(tokenizer, vision, text, PINPOINTS)


def build_tiny_onevision(path: str | os.PathLike[str]) -> Path:
    """Write the tiny LLaVA-OneVision checkpoint (weights, config, processor) into `path`."""
    from transformers import LlavaOnevisionForConditionalGeneration

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    torch.manual_seed(SEED)
    model = LlavaOnevisionForConditionalGeneration(_config(tokenizer)).to(torch.float32).eval()
    reinit_(model)
    bias_tokens_(model, [tokenizer.convert_tokens_to_ids(t) for t in SPECIALS if t != "<|im_end|>"], -1000.0)
    model.generation_config.do_sample = False
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    rewrite_to_hub_layout(out)  # the hub's weight names, which vLLM reads (transformers reads both)
    onevision_processor(tokenizer, IMAGE_SIZE, PATCH, PINPOINTS).save_pretrained(out)
    return out


def tiny_onevision_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cached tiny OneVision checkpoint ($LLAVA_TINY_DIR's sibling or ~/.cache/...), built once."""
    default = Path.home() / ".cache" / "llava-next-video-chat" / VERSION
    target = Path(cache_dir or os.environ.get("LLAVA_TINY_ONEVISION_DIR") or default).expanduser()
    return build_once(target, build_tiny_onevision, MARKER, VERSION)
