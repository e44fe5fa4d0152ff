"""Random-weight stand-ins of each LLaVA-NeXT-Video checkpoint on the hub, in the hub's 4.x layout.

Each keeps what makes its checkpoint differ (text model type, vocabulary and special ids, chat
template as the hub ships it, stop token, positions and RoPE) with depth and widths cut, and 336 px
frames with 14 px patches, so a frame is 144 tokens as in the real ones. `always_stops=True` makes
the model emit the checkpoint's stop token first, every time. Built offline in a second or two.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from model.dev.standin import RealShape, build_llama_tokenizer, build_model, hub_config, processor_files, write_shards
from model.engines.tiny import bias_tokens_

CUT = RealShape(
    text_layers=1,
    vision_layers=1,
    text_hidden=64,
    text_intermediate=128,
    text_heads=2,
    vision_hidden=32,
    vision_intermediate=64,
    vision_heads=2,
)
CHATML_TEMPLATE = (  # the hub's 34B template: ChatML, images then videos then the text of each message
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n'}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{{'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
YI_SPECIALS = ("<unk>", "<|startoftext|>", "<|endoftext|>", "<|reserved3|>", "<|reserved4|>", "<|reserved5|>")
YI_SPECIALS += ("<|im_start|>", "<|im_end|>")  # 6 and 7 as in Nous-Hermes-2-Yi-34B


@dataclass(frozen=True)
class MemberShape:
    """How one checkpoint's files differ from the 7B's."""

    name: str  # the folder's name, as the hub's id ends
    text_model_type: str = "llama"
    positions: int = 4096
    rope_factor: float | None = 2.0  # linear RoPE scaling (the 7B's); None: none
    rope_theta: float = 10000.0
    chatml: bool = False  # Yi's vocabulary of 64,064 with ChatML, <|im_end|> ending answers


YI = {"positions": 4096, "rope_factor": None, "rope_theta": 5e6, "chatml": True}  # Nous-Hermes-2-Yi-34B
MEMBER_SHAPES = {
    "7B": MemberShape("LLaVA-NeXT-Video-7B-hf"),
    "7B-DPO": MemberShape("LLaVA-NeXT-Video-7B-DPO-hf"),
    "7B-32K": MemberShape("LLaVA-NeXT-Video-7B-32K-hf", "mistral", 32768, None, 1e6),
    "34B": MemberShape("LLaVA-NeXT-Video-34B-hf", **YI),
    "34B-DPO": MemberShape("LLaVA-NeXT-Video-34B-DPO-hf", **YI),
}


def member_files(member: MemberShape, shape: RealShape = CUT) -> tuple[dict, dict[str, dict], object]:
    """(config.json, the other JSON files, the tokenizer) of a member's checkpoint."""
    config, files = hub_config(shape), processor_files(shape)
    text = config["text_config"]
    text.update(max_position_embeddings=member.positions, rope_theta=member.rope_theta)
    if member.rope_factor is None:
        del text["rope_scaling"]
    else:
        text["rope_scaling"] = {"factor": member.rope_factor, "type": "linear"}
    if member.text_model_type == "mistral":
        text.update(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=None)
        text["_name_or_path"] = "mistralai/Mistral-7B-Instruct-v0.2"
    files["tokenizer_config.json"]["model_max_length"] = member.positions
    if not member.chatml:
        return config, files, build_llama_tokenizer()
    text.update(vocab_size=64064, _name_or_path="NousResearch/Nous-Hermes-2-Yi-34B", eos_token_id=7, bos_token_id=1)
    config.update(vocab_size=64064, image_token_index=64001, video_token_index=64000)
    tokenizer = build_llama_tokenizer(specials=YI_SPECIALS, base_vocab=64000, bos=None)
    special = dict(files["tokenizer_config.json"]["added_tokens_decoder"]["0"], content=None)
    decoder = {str(i): dict(special, content=t) for i, t in enumerate(YI_SPECIALS)}
    decoder.update({"64000": dict(special, content="<video>"), "64001": dict(special, content="<image>")})
    files["tokenizer_config.json"].update(
        added_tokens_decoder=decoder,
        add_bos_token=False,
        bos_token="<|startoftext|>",
        eos_token="<|im_end|>",
        pad_token="<unk>",
    )
    files["special_tokens_map.json"].update(
        bos_token=dict(special, content="<|startoftext|>"), eos_token=dict(special, content="<|im_end|>")
    )
    files["added_tokens.json"] = {"<image>": 64001, "<video>": 64000}
    files["chat_template.json"] = {"chat_template": CHATML_TEMPLATE}
    files["generation_config.json"].update(eos_token_id=7, bos_token_id=1)
    return config, files, tokenizer


def build_member_standin(folder: str | os.PathLike[str], key: str, always_stops: bool = False) -> Path:
    """Write the stand-in of member `key` ("7B", "7B-DPO", "7B-32K", "34B", "34B-DPO") into
    `folder`/<its hub name>; returns that path."""
    member = MEMBER_SHAPES[key]
    config, files, tokenizer = member_files(member)
    out = Path(folder) / member.name
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_text(json.dumps(content, indent=2) + "\n")
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tokenizer.save(str(out / "tokenizer.json"))
    model = build_model(CUT, config=config)
    if always_stops:
        bias_tokens_(model, [files["generation_config.json"]["eos_token_id"]], 1000.0)
    write_shards(model, out)
    return out
