"""Start-up settings of the demo: command-line flags with environment-variable fallbacks.

Every flag has a `LLAVA_*` environment variable so that a Hugging Face Space (which runs
`python app.py` with no arguments) can be configured from its settings page.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass

DEFAULT_MODEL = "llava-hf/LLaVA-NeXT-Video-7B-hf"
# gradio runs at most 40 events at once, and a camera stream holds one of them while it waits for
# frames: past 32 cameras too few would be left for questions
MAX_CAMERA_VISITORS = 32
TINY_MODEL = "tiny"


@dataclass(frozen=True)
class AppSettings:
    """What the app was asked to run: model, precision, server and default sampling."""

    model: str = DEFAULT_MODEL
    model_explicit: bool = False  # True when the user named the model (no silent fallback then)
    load_in_4bit: bool = False
    load_in_8bit: bool = False
    attn: str = "auto"  # auto | sdpa | flash_attention_2 | eager
    device: str = "auto"  # auto | cpu | cuda
    frames: int = 16
    max_frames: int = 32
    max_new_tokens: int = 512
    host: str = "127.0.0.1"
    port: int = 7860
    concurrency: int = 1
    queue_size: int = 32
    max_file_mb: int = 4096  # an hour of 720p phone video is about 3.4 GB
    cache_gb: float = 4.0
    session_ttl: int = 3600  # seconds a conversation is kept after its last use
    file_ttl: int = 3600  # seconds an uploaded file is kept
    backend: str = "transformers"  # transformers (the model in this process) | vllm (a vLLM server)
    server_url: str = ""  # the vLLM server's OpenAI API root, e.g. http://127.0.0.1:8000/v1
    served_model_name: str | None = None  # None: the one model the server lists
    server_frames: int = 32  # frames per video the vLLM server keeps (its num_frames)
    server_timeout: float = 60.0  # seconds to wait for the server's next bytes
    server_api_key: str | None = None  # from LLAVA_SERVER_API_KEY only, never a flag
    camera_seconds: float = 8.0  # the live camera's window: a question is about its last seconds
    commentary_every: float = 8.0  # seconds between live commentaries
    camera_visitors: int = 8  # cameras streaming at once, all visitors together; more are refused
    camera_time_limit: float = 600.0  # seconds one camera run may last (Record starts another)
    camera_idle: float = 10.0  # seconds without a picture that end a camera run
    scans: int = 1  # scans running at once, all visitors together; more wait in the queue
    scan_max_frames: int = 8  # frames per part a scan may ask for
    scan_max_tokens: int = 128  # words (tokens) per part a scan may ask for
    media_gb: float = 2.0  # decoded frames and images all conversations may hold together
    uploads_per_minute: int = 240  # uploads one client address may make in a minute
    uploads_gb: float = 20.0  # what the upload folder may hold; uploads past it are refused
    media_seconds: float = 60.0  # wall-clock bound on reading one message's files (decoding, sampling)
    decoders: int = 2  # files decoded at once, all visitors together (one at a time per visitor)
    jobs_per_visitor: int = 4  # requests one browser tab may have waiting or running in the queue
    jobs_per_address: int = 8  # the same for one client address (all its tabs and programs)
    trusted_proxies: str = ""  # addresses whose X-Forwarded-For is believed (comma-separated; * for any)
    ssl_certfile: str | None = None  # serve over https (browsers give cameras only to https or localhost)
    ssl_keyfile: str | None = None
    mcp: bool = False  # also serve /ask and /scan as MCP tools at /gradio_api/mcp
    remote_files: bool = True  # file inputs may name public http(s) URLs (fetched with the upload limit)

    @property
    def is_tiny(self) -> bool:
        return self.model == TINY_MODEL

    @property
    def at_model(self) -> int:
        """Handlers that may run at once in the groups that use the model ("gpu", "api"): they wait at
        the model gate (`concurrency` turns at once), which serves visitors in turn, rather than in
        gradio's queue, which serves them first come first served."""
        return self.concurrency + 16


def env_flag(name: str) -> bool:
    """An environment variable read as a yes/no flag (1, true, yes, on)."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


STATED_DEFAULT = re.compile(r"[(;] ?default:? [^)]")  # a help text that says its default itself


class _DefaultsShown(argparse.HelpFormatter):
    """Help that ends with each flag's default, unless its text already says it (a switch is off)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if STATED_DEFAULT.search(text) or action.default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: {'none' if action.default == '' else '%(default)s'})"


def build_parser() -> argparse.ArgumentParser:
    """The command line of `python app.py`; defaults come from LLAVA_* environment variables."""
    p = argparse.ArgumentParser(
        description="Chat with videos and images through LLaVA-NeXT-Video.", formatter_class=_DefaultsShown
    )
    _model_flags(p)
    _serving_flags(p)
    _fair_use_flags(p)
    _vllm_flags(p)
    _camera_flags(p)
    _program_flags(p)
    return p


def _model_flags(p: argparse.ArgumentParser) -> None:
    """Which checkpoint, how it is loaded, and how much it reads and writes."""
    env = os.environ.get
    p.add_argument(
        "--model",
        default=env("LLAVA_MODEL"),
        help=f"hub id or local folder of a LLaVA-NeXT-Video checkpoint, or 'tiny' "
        f"for the offline random-weight model (default {DEFAULT_MODEL}; env LLAVA_MODEL)",
    )
    p.add_argument(
        "--load-in-4bit",
        action="store_true",
        default=env_flag("LLAVA_LOAD_IN_4BIT"),
        help="4-bit NF4 weights through bitsandbytes (CUDA only; env LLAVA_LOAD_IN_4BIT)",
    )
    p.add_argument(
        "--load-in-8bit",
        action="store_true",
        default=env_flag("LLAVA_LOAD_IN_8BIT"),
        help="8-bit weights through bitsandbytes (CUDA only; env LLAVA_LOAD_IN_8BIT)",
    )
    p.add_argument(
        "--attn",
        default=env("LLAVA_ATTN", "auto"),
        choices=["auto", "sdpa", "flash_attention_2", "eager"],
        help="attention kernel; auto picks flash_attention_2 when installed on CUDA, else sdpa",
    )
    p.add_argument(
        "--device",
        default=env("LLAVA_DEVICE", "auto"),
        choices=["auto", "cpu", "cuda"],
        help="where the model runs: auto picks cuda when a GPU is there, else cpu (default auto; env LLAVA_DEVICE)",
    )
    p.add_argument(
        "--frames",
        type=int,
        default=_env_int("LLAVA_FRAMES", 16),
        help="frames sampled per video unless a visitor picks another number (env LLAVA_FRAMES)",
    )
    p.add_argument(
        "--max-frames",
        type=int,
        default=_env_int("LLAVA_MAX_FRAMES", 32),
        help="largest number of frames a user may pick (env LLAVA_MAX_FRAMES)",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=_env_int("LLAVA_MAX_NEW_TOKENS", 512),
        help="longest answer a visitor may ask for, in tokens (default 512; env LLAVA_MAX_NEW_TOKENS)",
    )


def _serving_flags(p: argparse.ArgumentParser) -> None:
    """Where the page listens, how many it serves at once, and how long it keeps things."""
    env = os.environ.get
    on_spaces = bool(env("SPACE_ID"))
    p.add_argument(
        "--host",
        default=env("LLAVA_HOST", "0.0.0.0" if on_spaces else "127.0.0.1"),
        help="address to listen on (default 127.0.0.1, 0.0.0.0 on Spaces; env LLAVA_HOST)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=_env_int("LLAVA_PORT", _env_int("PORT", 7860)),
        help="port to listen on (default 7860; env LLAVA_PORT or PORT)",
    )
    p.add_argument(
        "--trusted-proxies",
        default=env("LLAVA_TRUSTED_PROXIES", "*" if on_spaces else ""),
        help="comma-separated addresses of proxies whose X-Forwarded-For header is believed, * for "
        "any; without one every visitor behind a proxy shares one address and its limits (default "
        "none, * on Spaces, which are reached only through their proxy; env LLAVA_TRUSTED_PROXIES)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=_env_int("LLAVA_CONCURRENCY", 0) or None,
        help="answers generated at the same time (default 1, or 16 with --backend vllm; env LLAVA_CONCURRENCY)",
    )
    p.add_argument(
        "--queue-size",
        type=int,
        default=_env_int("LLAVA_QUEUE_SIZE", 32),
        help="visitors that may wait in the queue (env LLAVA_QUEUE_SIZE)",
    )
    p.add_argument(
        "--max-file-mb",
        type=int,
        default=_env_int("LLAVA_MAX_FILE_MB", 4096),
        help="largest upload accepted, in MB (env LLAVA_MAX_FILE_MB)",
    )
    p.add_argument(
        "--cache-gb",
        type=float,
        default=float(os.environ.get("LLAVA_CACHE_GB") or 4.0),
        help="memory for caches kept between turns (KV cache and vision features), all "
        "sessions together, at most 3 GB each; 0 turns caching off (env LLAVA_CACHE_GB)",
    )
    p.add_argument(
        "--session-ttl",
        type=int,
        default=_env_int("LLAVA_SESSION_TTL", 3600),
        help="seconds a conversation (and its caches) is kept after its last use (env LLAVA_SESSION_TTL)",
    )
    p.add_argument(
        "--file-ttl",
        type=int,
        default=_env_int("LLAVA_FILE_TTL", 3600),
        help="seconds uploaded files are kept on disk (env LLAVA_FILE_TTL)",
    )


def _fair_use_flags(p: argparse.ArgumentParser) -> None:
    """What one visitor may take of the model, the memory and the disk."""
    fair = p.add_argument_group("fair use", "what one visitor may take of the model, the memory and the disk")
    fair.add_argument(
        "--scans",
        type=int,
        default=_env_int("LLAVA_SCANS", 1),
        help="scans running at once, all visitors together; more wait in the queue; a scan "
        "leaves the model to waiting questions between its batches (env LLAVA_SCANS)",
    )
    fair.add_argument(
        "--scan-max-frames",
        type=int,
        default=_env_int("LLAVA_SCAN_MAX_FRAMES", 8),
        help="frames per part a scan may ask for (env LLAVA_SCAN_MAX_FRAMES)",
    )
    fair.add_argument(
        "--scan-max-tokens",
        type=int,
        default=_env_int("LLAVA_SCAN_MAX_TOKENS", 128),
        help="new tokens per part a scan may ask for (env LLAVA_SCAN_MAX_TOKENS)",
    )
    fair.add_argument(
        "--media-gb",
        type=float,
        default=_env_float("LLAVA_MEDIA_GB", 2.0),
        help="memory for decoded frames and images, all conversations together; past it the "
        "idle conversations' media are freed, oldest first (env LLAVA_MEDIA_GB)",
    )
    fair.add_argument(
        "--uploads-per-minute",
        type=int,
        default=_env_int("LLAVA_UPLOADS_PER_MINUTE", 240),
        help="uploads one client address may make in a minute; behind a proxy that hides "
        "addresses this is all visitors together (env LLAVA_UPLOADS_PER_MINUTE)",
    )
    fair.add_argument(
        "--jobs-per-visitor",
        type=int,
        default=_env_int("LLAVA_JOBS_PER_VISITOR", 4),
        help="requests one browser tab may have waiting or running at once; more are refused "
        "with HTTP 429 for that visitor alone (env LLAVA_JOBS_PER_VISITOR)",
    )
    fair.add_argument(
        "--jobs-per-address",
        type=int,
        default=_env_int("LLAVA_JOBS_PER_ADDRESS", 8),
        help="the same for one client address, all its tabs, programs and agents together (env LLAVA_JOBS_PER_ADDRESS)",
    )
    fair.add_argument(
        "--media-seconds",
        type=float,
        default=_env_float("LLAVA_MEDIA_SECONDS", 60.0),
        help="seconds the files of one message may take to read (decoding and sampling, waiting "
        "for a decoder included); past it the visitor is told (env LLAVA_MEDIA_SECONDS)",
    )
    fair.add_argument(
        "--decoders",
        type=int,
        default=_env_int("LLAVA_DECODERS", 2),
        help="files decoded at once, all visitors together, one at a time per visitor; bounds "
        "the memory of decoding (env LLAVA_DECODERS)",
    )
    fair.add_argument(
        "--uploads-gb",
        type=float,
        default=_env_float("LLAVA_UPLOADS_GB", 20.0),
        help="disk the upload folder may fill; uploads past it are refused until old files "
        "expire (env LLAVA_UPLOADS_GB)",
    )


def _vllm_flags(p: argparse.ArgumentParser) -> None:
    """The vLLM backend."""
    env = os.environ.get
    vllm = p.add_argument_group("vLLM backend", "answer through an OpenAI-compatible vLLM server")
    vllm.add_argument(
        "--backend",
        default=env("LLAVA_BACKEND", "transformers"),
        choices=["transformers", "vllm"],
        help="transformers runs the model in this process (default); vllm sends each "
        "question to --server-url (env LLAVA_BACKEND)",
    )
    vllm.add_argument(
        "--server-url",
        default=env("LLAVA_SERVER_URL", ""),
        help="the vLLM server's API root, e.g. http://127.0.0.1:8000/v1 (env LLAVA_SERVER_URL)",
    )
    vllm.add_argument(
        "--served-model-name",
        default=env("LLAVA_SERVED_MODEL_NAME"),
        help="the model name the server serves (default: the only one it lists; env LLAVA_SERVED_MODEL_NAME)",
    )
    vllm.add_argument(
        "--server-frames",
        type=int,
        default=_env_int("LLAVA_SERVER_FRAMES", 32),
        help="frames per video the server keeps: its num_frames, 32 unless started with "
        "--media-io-kwargs (env LLAVA_SERVER_FRAMES)",
    )
    vllm.add_argument(
        "--server-timeout",
        type=float,
        default=float(env("LLAVA_SERVER_TIMEOUT") or 60),
        help="seconds to wait for the server's next bytes (env LLAVA_SERVER_TIMEOUT); "
        "a key for a server started with --api-key goes in LLAVA_SERVER_API_KEY",
    )


def _camera_flags(p: argparse.ArgumentParser) -> None:
    """The live camera, and https (browsers give the camera only to https pages)."""
    env = os.environ.get
    camera = p.add_argument_group("live camera", "questions and commentary about the visitor's webcam")
    camera.add_argument(
        "--camera-seconds",
        type=float,
        default=_env_float("LLAVA_CAMERA_SECONDS", 8.0),
        help="seconds of camera a question is about, 1-60 (env LLAVA_CAMERA_SECONDS)",
    )
    camera.add_argument(
        "--commentary-every",
        type=float,
        default=_env_float("LLAVA_COMMENTARY_EVERY", 8.0),
        help="seconds between live commentaries, 2-600 (env LLAVA_COMMENTARY_EVERY)",
    )
    camera.add_argument(
        "--camera-visitors",
        type=int,
        default=_env_int("LLAVA_CAMERA_VISITORS", 8),
        help=f"cameras streaming at once, all visitors together, 1-{MAX_CAMERA_VISITORS}; more are "
        "told to try again (env LLAVA_CAMERA_VISITORS)",
    )
    camera.add_argument(
        "--camera-time-limit",
        type=float,
        default=_env_float("LLAVA_CAMERA_TIME_LIMIT", 600.0),
        help="seconds one camera run may last, 10-86400; Record starts another (env LLAVA_CAMERA_TIME_LIMIT)",
    )
    camera.add_argument(
        "--camera-idle",
        type=float,
        default=_env_float("LLAVA_CAMERA_IDLE", 10.0),
        help="seconds without a picture that end a camera run, 1-300 (env LLAVA_CAMERA_IDLE)",
    )
    camera.add_argument(
        "--ssl-certfile",
        default=env("LLAVA_SSL_CERTFILE"),
        help="serve over https with this certificate (PEM); browsers give the camera only "
        "to https pages or localhost (default: plain http; env LLAVA_SSL_CERTFILE)",
    )
    camera.add_argument(
        "--ssl-keyfile",
        default=env("LLAVA_SSL_KEYFILE"),
        help="the certificate's private key (PEM; default none; env LLAVA_SSL_KEYFILE)",
    )


def _program_flags(p: argparse.ArgumentParser) -> None:
    """Programs and agents: the MCP server, and files named by URL."""
    programs = p.add_argument_group("programs and agents", "the API for programs, and MCP tools for agents")
    programs.add_argument(
        "--mcp",
        action="store_true",
        default=env_flag("LLAVA_MCP"),
        help="also serve /ask and /scan as MCP tools (ask, scan) at /gradio_api/mcp; needs gradio[mcp] (env LLAVA_MCP)",
    )
    programs.add_argument(
        "--remote-files",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("LLAVA_REMOTE_FILES", "1").strip().lower() not in {"0", "false", "no", "off"},
        help="let programs name files by public http(s) URL, fetched with the upload size limit; "
        "--no-remote-files takes uploads only (env LLAVA_REMOTE_FILES=0)",
    )


def check_tls(certfile: str | None, keyfile: str | None) -> None:
    """Both TLS files or neither, and readable; SystemExit with the reason otherwise."""
    if bool(certfile) != bool(keyfile):
        raise SystemExit("error: --ssl-certfile and --ssl-keyfile go together (https needs both)")
    for flag, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        if path and not os.path.isfile(path):
            raise SystemExit(f"error: {flag}: no such file")


def check_ranges(args: argparse.Namespace) -> None:
    """SystemExit naming the flags whose values do not fit together or are out of range."""
    if args.load_in_4bit and args.load_in_8bit:
        raise SystemExit("error: choose one of --load-in-4bit and --load-in-8bit")
    if args.frames < 1 or args.max_frames < args.frames:
        raise SystemExit("error: --frames must be at least 1 and at most --max-frames")
    if args.backend == "vllm" and not args.server_url.startswith(("http://", "https://")):
        raise SystemExit("error: --backend vllm needs --server-url http://HOST:PORT/v1 (or LLAVA_SERVER_URL)")
    if args.server_frames < 1 or args.server_timeout <= 0:
        raise SystemExit("error: --server-frames and --server-timeout must be positive")
    if (
        not 1 <= args.camera_seconds <= 60
        or not 2 <= args.commentary_every <= 600
        or not 1 <= args.camera_visitors <= MAX_CAMERA_VISITORS
    ):
        raise SystemExit(
            f"error: --camera-seconds must be 1-60, --commentary-every 2-600, --camera-visitors 1-{MAX_CAMERA_VISITORS}"
        )
    if not 10 <= args.camera_time_limit <= 86400 or not 1 <= args.camera_idle <= 300:
        raise SystemExit("error: --camera-time-limit must be 10-86400 and --camera-idle 1-300 (seconds)")
    if (
        min(
            args.scans,
            args.scan_max_frames,
            args.scan_max_tokens,
            args.uploads_per_minute,
            args.jobs_per_visitor,
            args.jobs_per_address,
            args.decoders,
        )
        < 1
        or min(args.media_gb, args.uploads_gb, args.media_seconds) <= 0
    ):
        raise SystemExit(
            "error: --scans, --scan-max-frames, --scan-max-tokens, --uploads-per-minute, --jobs-per-visitor, "
            "--jobs-per-address, --decoders, --media-gb, --uploads-gb and --media-seconds must be positive"
        )
    check_tls(args.ssl_certfile, args.ssl_keyfile)


def parse_settings(argv: list[str] | None = None) -> AppSettings:
    """Parse the command line (and environment) into AppSettings."""
    args = build_parser().parse_args(argv)
    check_ranges(args)
    vllm = args.backend == "vllm"
    return AppSettings(
        model=args.model or DEFAULT_MODEL,
        model_explicit=bool(args.model),
        load_in_4bit=args.load_in_4bit,
        load_in_8bit=args.load_in_8bit,
        attn=args.attn,
        device=args.device,
        frames=args.frames,
        max_frames=args.max_frames,
        max_new_tokens=args.max_new_tokens,
        host=args.host,
        port=args.port,
        concurrency=max(1, args.concurrency or (16 if vllm else 1)),
        queue_size=max(1, args.queue_size),
        max_file_mb=max(1, args.max_file_mb),
        cache_gb=max(0.0, args.cache_gb),
        session_ttl=max(1, args.session_ttl),
        file_ttl=max(1, args.file_ttl),
        backend=args.backend,
        server_url=args.server_url,
        served_model_name=args.served_model_name or None,
        server_frames=args.server_frames,
        server_timeout=args.server_timeout,
        server_api_key=os.environ.get("LLAVA_SERVER_API_KEY") or None,
        camera_seconds=args.camera_seconds,
        commentary_every=args.commentary_every,
        camera_visitors=args.camera_visitors,
        camera_time_limit=args.camera_time_limit,
        camera_idle=args.camera_idle,
        scans=args.scans,
        scan_max_frames=args.scan_max_frames,
        scan_max_tokens=args.scan_max_tokens,
        media_gb=args.media_gb,
        uploads_per_minute=args.uploads_per_minute,
        uploads_gb=args.uploads_gb,
        media_seconds=args.media_seconds,
        decoders=args.decoders,
        jobs_per_visitor=args.jobs_per_visitor,
        jobs_per_address=args.jobs_per_address,
        trusted_proxies=args.trusted_proxies.strip(),
        ssl_certfile=args.ssl_certfile or None,
        ssl_keyfile=args.ssl_keyfile or None,
        mcp=args.mcp,
        remote_files=args.remote_files,
    )
