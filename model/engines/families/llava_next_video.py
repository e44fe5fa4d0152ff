"""LLaVA-NeXT-Video (`LlavaNextVideoForConditionalGeneration`): the family's adapter.

Five checkpoints under llava-hf share the CLIP ViT-L/14-336 tower, feature layer -2, the anyres grid
and 2x2 pooling (144 tokens a frame), and differ in their text model:

- 7B and 7B-DPO: Vicuna-7B, `USER: … ASSISTANT:`, </s> ends an answer, 4,096 positions x 2
  (linear RoPE scaling). The DPO one answers nonsense from about 30 frames on (LLaVA-NeXT issue 468;
  20 or fewer are fine), so its frames stop at 20.
- 7B-32K: Mistral-7B-Instruct-v0.2, 32,768 positions, trained in Mistral's `[INST] … [/INST]`
  format; the hub's chat_template.json is the Vicuna one, so the demo carries the Mistral template
  (mistral_video.jinja) and says so in the log.
- 34B and 34B-DPO: Nous-Hermes-2-Yi-34B, ChatML, <|im_end|> ends an answer, 64,064 tokens with
  <video>/<image> at 64000/64001, 4,096 positions: 32 frames (4,608 tokens) do not fit, so its frame
  limit is what fits with room for an answer.
"""

from __future__ import annotations

from pathlib import Path

from model.chat.limits import MediaSupport
from model.engines.checkpoint_files import chat_template, checkpoint_file, read_json
from model.engines.families.family import Member, by_hub_id, token_ids

MISTRAL_TEMPLATE = (Path(__file__).parent / "mistral_video.jinja").read_text(encoding="utf-8")
HUB = "llava-hf/LLaVA-NeXT-Video-"

SEVEN_B = Member(HUB + "7B-hf", "Vicuna-7B v1.5", "vicuna", 8192, weights_gb=14.1)
MEMBERS = (
    SEVEN_B,
    Member(HUB + "7B-DPO-hf", "Vicuna-7B v1.5", "vicuna", 8192, weights_gb=14.1, max_frames=20),
    Member(
        HUB + "7B-32K-hf",
        "Mistral-7B-Instruct-v0.2",
        "mistral",
        32768,
        weights_gb=15.1,
        template=MISTRAL_TEMPLATE,
        why_template="its hub chat_template.json is the Vicuna one; it was trained in Mistral's [INST] format",
    ),
    Member(HUB + "34B-hf", "Nous-Hermes-2-Yi-34B", "chatml", 4096, weights_gb=69.6),
    Member(HUB + "34B-DPO-hf", "Nous-Hermes-2-Yi-34B", "chatml", 4096, weights_gb=69.6),
)
STOP_TOKENS = {"vicuna": ("</s>",), "mistral": ("</s>",), "chatml": ("<|im_end|>",)}

# What the video processor shares with the image processor in the 4.x layout (one preprocessor file).
VIDEO_SETTINGS = (
    "size",
    "crop_size",
    "resample",
    "image_mean",
    "image_std",
    "do_resize",
    "do_center_crop",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "do_convert_rgb",
)
PROCESSOR_SETTINGS = ("patch_size", "vision_feature_select_strategy", "num_additional_image_tokens")


class LlavaNextVideo:
    """The adapter of the LLaVA-NeXT-Video family."""

    name = "LLaVA-NeXT-Video"
    model_type = "llava_next_video"
    members = MEMBERS

    def model_class(self) -> type:
        from transformers import LlavaNextVideoForConditionalGeneration

        return LlavaNextVideoForConditionalGeneration

    def load_processor(self, source: str, local_only: bool = False):
        """The checkpoint's LlavaNextVideoProcessor, in either file layout.

        A checkpoint with a `video_preprocessor_config.json` (written by transformers 5) loads through
        AutoProcessor. The hub's 4.x layout has none, and AutoProcessor then recurses until
        RecursionError (it infers the video processor from the image processor's type and lands on
        the processor class again), so the processor is built from its parts instead.
        """
        from transformers import AutoProcessor

        if checkpoint_file(source, "video_preprocessor_config.json", local_only) is not None:
            return AutoProcessor.from_pretrained(source, local_files_only=local_only)
        return processor_from_parts(source, local_only)

    def member(self, name: str, config, tokenizer) -> Member:
        """By hub id; a local copy by its text model (Mistral: the 32K; <|im_end|>: the 34B) and a
        folder name that says DPO."""
        if (member := by_hub_id(MEMBERS, name)) is not None:
            return member
        dpo = "dpo" in Path(name).name.lower()
        if config.text_config.model_type == "mistral":
            return MEMBERS[2]
        if "<|im_end|>" in tokenizer.get_vocab():
            return MEMBERS[4] if dpo else MEMBERS[3]
        return MEMBERS[1] if dpo else SEVEN_B

    def tokens_per_frame(self, config) -> int:
        grid = config.vision_config.image_size // config.vision_config.patch_size
        return (grid // config.spatial_pool_stride) ** 2

    def media_token_ids(self, config) -> dict[str, int]:
        return {"image": config.image_token_index, "video": config.video_token_index}

    def encoder_output(self, kind: str, features: list):
        return features  # the model concatenates the items' features itself

    def stop_ids(self, member: Member, tokenizer) -> list[int]:
        return token_ids(tokenizer, STOP_TOKENS[member.prompt_format])

    def server_media(self, max_frames: int, frame_tokens: int) -> MediaSupport:
        """vLLM's LLaVA-NeXT-Video model takes one video per prompt and no image: an image goes as a
        video of one frame (no anyres tiles), and a newer one takes the older one's place."""
        return MediaSupport(images=True, max_videos=1, max_frames=max_frames, image_tokens=frame_tokens)

    def tiny_checkpoint(self) -> Path:
        from model.engines.tiny import tiny_checkpoint_dir

        return tiny_checkpoint_dir()


def processor_from_parts(source: str, local_only: bool = False):
    """Tokenizer, image processor, a video processor with the image processor's resize/crop/mean/std,
    the processor settings (`processor_config.json`, else the model config) and the chat template."""
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer, LlavaNextVideoProcessor
    from transformers.models.llava_next_video import LlavaNextVideoVideoProcessor

    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
    image_processor = AutoImageProcessor.from_pretrained(source, local_files_only=local_only)
    video_processor = LlavaNextVideoVideoProcessor(
        **{
            key: getattr(image_processor, key)
            for key in VIDEO_SETTINGS
            if getattr(image_processor, key, None) is not None
        }
    )
    settings = read_json(source, "processor_config.json", local_only)
    if not settings:
        config = AutoConfig.from_pretrained(source, local_files_only=local_only)
        settings = {
            "patch_size": config.vision_config.patch_size,
            "vision_feature_select_strategy": config.vision_feature_select_strategy,
            "num_additional_image_tokens": 1,
        }  # the CLS token of a CLIP vision tower
    template = chat_template(source, local_only) or getattr(tokenizer, "chat_template", None)
    return LlavaNextVideoProcessor(
        video_processor=video_processor,
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=template,
        **{key: settings[key] for key in PROCESSOR_SETTINGS if key in settings},
    )


FAMILY = LlavaNextVideo()
