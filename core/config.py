"""The one place that reads the environment: every setting of the voice agent."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_JWT_SECRET_BYTES = 32


class Provider(StrEnum):
    """Which backend serves a capability; `auto` means Groq when a key is set, else local.
    `openai` is any OpenAI-compatible chat server (vLLM, llama.cpp's, OpenAI): answers only."""

    AUTO = "auto"
    LOCAL = "local"
    GROQ = "groq"
    OPENAI = "openai"


class TTSProvider(StrEnum):
    """Who speaks answers: the bundled voices, or Google's (gTTS) backed by the local ones."""

    LOCAL = "local"
    GTTS = "gtts"


class LocalLLM(StrEnum):
    """The bundled local language models, two presets measured side by side
    (docs/performance.md): `qwen2.5-1.5b`, the default, is right far more often;
    `qwen2.5-0.5b` speaks sooner. LOCAL_LLM_PATH picks any other GGUF file."""

    QWEN_05B = "qwen2.5-0.5b"
    QWEN_15B = "qwen2.5-1.5b"


class ExtraBuffers(StrEnum):
    """Whether llama.cpp may keep weights in its extra buffer types (AMX tiles, weights repacked
    for the CPU's vector units): `auto` leaves them out (no faster here, and the AMX one
    crashes), `on` uses them once a start-up self-test has passed."""

    AUTO = "auto"
    ON = "on"
    OFF = "off"


class TelephonyMode(StrEnum):
    """How phone calls are served: Media Streams (real time) or turn by turn with <Gather>."""

    STREAM = "stream"
    GATHER = "gather"


class Settings(BaseSettings):
    """All settings, read from the environment and `.env`; names are the upper-case field names."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Server
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    ui_enabled: bool = True
    cors_origins: Annotated[list[str], NoDecode] = [
        "http://localhost:3000",
        "http://127.0.0.1:3000",
    ]

    # Storage
    data_dir: Path = Path("data")
    database_url: str | None = None
    model_cache_dir: Path = Path.home() / ".cache" / "voice-agent"

    # Accounts and tokens
    jwt_secret: SecretStr | None = None
    jwt_expire_minutes: int = Field(default=24 * 60, ge=1)
    admin_username: str = "admin"
    admin_password: SecretStr | None = None
    allow_registration: bool = True
    login_max_failures: int = Field(default=5, ge=1)  # per account, within the window
    login_max_failures_per_client: int = Field(default=20, ge=1)
    login_window_s: float = Field(default=300, gt=0)

    # Providers
    stt_provider: Provider = Provider.AUTO
    llm_provider: Provider = Provider.AUTO
    groq_api_key: SecretStr | None = None
    groq_base_url: str | None = None
    groq_llm_model: str = "llama-3.3-70b-versatile"
    groq_stt_model: str = "whisper-large-v3-turbo"
    groq_timeout_s: float = Field(default=8.0, gt=0)
    groq_cooldown_s: float = Field(default=30.0, ge=0)  # Groq skipped this long after a failure
    # An OpenAI-compatible chat server (LLM_PROVIDER=openai); no base URL means OpenAI's own API
    openai_base_url: str | None = None  # e.g. http://llm.internal:8000/v1
    openai_api_key: SecretStr | None = None  # optional for a self-hosted server
    openai_model: str | None = None  # the name the server serves the model under
    openai_timeout_s: float = Field(default=8.0, gt=0)

    # Text-to-speech: the default voice of users who have not chosen one, and the gTTS switch
    tts_provider: TTSProvider = TTSProvider.LOCAL
    gtts_enabled: bool = True
    gtts_base_url: str = "https://translate.google.com"
    gtts_timeout_s: float = Field(default=5.0, gt=0)

    # Local models
    local_llm: LocalLLM = LocalLLM.QWEN_15B
    local_llm_path: Path | None = None
    llm_context_tokens: int = Field(default=4096, ge=512)
    llm_max_tokens: int = Field(default=256, ge=16)
    llm_temperature: float = Field(default=0.3, ge=0, le=2)
    llm_threads: int = Field(default=2, ge=1)
    # Memory for recent prompts' KV states (core/llm/llama_states.py); 0 keeps none.
    llm_state_cache_mb: int = Field(default=256, ge=0)
    llama_extra_buffers: ExtraBuffers = ExtraBuffers.AUTO  # see core/llm/llama_runtime.py
    stt_threads: int = Field(default=2, ge=1)
    whisper_beam_size: int = Field(default=1, ge=1, le=10)

    # Conversation
    default_personality: str = "casual"
    default_language: str = "en"

    # Real-time conversation (WebSocket, hands-free UI, phone): Silero VAD on 32 ms windows
    vad_threshold: float = Field(default=0.5, gt=0, lt=1)
    vad_start_ms: int = Field(default=96, ge=32)
    vad_stop_ms: int = Field(default=400, ge=64)
    vad_stop_finished_ms: int = Field(default=160, ge=32)
    # A pause the end-of-turn model (Smart Turn) hears as mid-sentence may last this long.
    vad_stop_unfinished_ms: int = Field(default=1200, ge=64)
    smart_turn: bool = True  # the end-of-turn model beside the VAD and the transcript rule
    # Its probability that the turn is complete: below SMART_TURN_UNFINISHED the pause may
    # last VAD_STOP_UNFINISHED_MS; at or above SMART_TURN_FINISHED, VAD_STOP_FINISHED_MS ends
    # it; between the two, VAD_STOP_MS as without the model.
    smart_turn_unfinished: float = Field(default=0.5, gt=0, lt=1)
    smart_turn_finished: float = Field(default=0.9, gt=0, le=1)
    speculative_stt_ms: int = Field(default=64, ge=32)
    # The local model reads the prompt of a pause's transcript while the user is still
    # silent, so an answer at the end of the turn only has to sample. Off: measured on two
    # cores, the transcript arrives about when the turn ends, so there is little to overlap,
    # and the reading slows Whisper down (docs/performance.md).
    llm_prefill: bool = False
    barge_in_ms: int = Field(default=192, ge=32)
    max_utterance_s: float = Field(default=30, gt=1, le=120)

    # Phone (Twilio)
    public_base_url: str | None = None  # e.g. https://agent.example.com, as Twilio reaches it
    twilio_auth_token: SecretStr | None = None
    telephony_mode: TelephonyMode = TelephonyMode.STREAM
    phone_greeting: str = "Hello! I am your voice assistant. How can I help you?"

    # Tools (docs/tools.md)
    tools_enabled: bool = True  # the built-in tools, and those of TOOLS_FILE
    tools_file: Path | None = None  # HTTP tools declared in JSON (docs/tools.md)
    time_zone: str = "UTC"  # the IANA zone the clock tool answers in, e.g. Europe/Paris
    # The local model calls a tool when its first token gives a call at least this probability
    # (core/llm/tool_choice.py; calibrated in docs/tools.md).
    llm_tool_threshold: float = Field(default=0.35, gt=0, le=1)
    # ...and ends or transfers the conversation only at this probability or more (a wrong
    # goodbye cuts the user off: "Hello" weighed 0.31 here, "Bye" 0.64)
    llm_action_threshold: float = Field(default=0.4, gt=0, le=1)
    # Whether the local model is offered tools (cloud models always are): off, since they cost
    # the bundled models answer quality (docs/tools.md)
    local_llm_tools: bool = False
    # Whether a local model's answer says "But I'm not sure about that." when its first clause
    # is unlikely under the model itself, and below which mean log-probability (measured on
    # the default model: core/llm/doubt.py, docs/performance.md)
    local_llm_hedge: bool = True
    local_llm_hedge_below: float = Field(default=-0.175, lt=0)
    # Whether an OpenAI-compatible server is offered tools: turn off for one that serves a small
    # model without a tool parser (llama.cpp's server with the bundled Qwen, docs/scaling.md)
    openai_tools: bool = True
    tool_timeout_s: float = Field(default=10.0, gt=0)  # the longest one tool call may run
    tool_filler_s: float = Field(default=1.0, ge=0)  # a tool slower than this: a filler is said
    transfer_number: str | None = None  # where "a person, please" goes, e.g. +15551230000
    # A live conversation that stays silent this long is asked "Are you still there?", and
    # ended politely after IDLE_HANGUP_S more silence; 0 turns either off.
    idle_prompt_s: float = Field(default=12.0, ge=0)
    idle_hangup_s: float = Field(default=30.0, ge=0)
    # Outbound calls (POST /calls): who may place them, and the number they come from
    twilio_account_sid: str | None = None
    twilio_api_base_url: str | None = None  # Twilio's REST API; set only to test against a stand-in
    twilio_from_number: str | None = None
    outbound_callers: Annotated[list[str], NoDecode] = []  # user names allowed to call out

    # Limits
    max_upload_mb: float = Field(default=25, gt=0)
    max_audio_seconds: float = Field(default=600, gt=0)
    # Admission: a request that would wait longer than this for a model is refused at once
    # (503 with Retry-After); live conversations (WebSocket and phone) beyond the limit too.
    max_queue_wait_s: float = Field(default=10, gt=0)
    max_conversations: int = Field(default=3, ge=1)  # bench/conversations.py on 2 cores
    # ... of which one account may hold this many (a browser tab's hands-free, a call) ...
    max_conversations_per_user: int = Field(default=1, ge=1)
    # ... and this many only phone calls may take, once Twilio is configured (issue 23).
    phone_reserved_conversations: int = Field(default=1, ge=0)
    max_decode_seconds: float = Field(default=10, gt=0)  # wall clock to decode one upload
    # The longest the local model may spend reading one turn's message; the limit in tokens is
    # this times the prompt speed measured at start (longer messages: 422 that says the limit)
    max_prompt_seconds: float = Field(default=4.0, gt=0)

    @field_validator("cors_origins", "outbound_callers", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept a comma-separated string as well as a JSON list."""
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                import json

                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """Refuse a JWT secret that is too short to resist brute force."""
        if value is not None and len(value.get_secret_value().encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes; "
                "leave it unset to have one generated and kept in DATA_DIR"
            )
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from core.tools.clock import check_zone

        return check_zone(value)

    @field_validator("default_personality")
    @classmethod
    def _known_personality(cls, value: str) -> str:
        from core.personalities import BUILTIN

        if value not in BUILTIN:
            raise ValueError(f"DEFAULT_PERSONALITY must be one of {', '.join(BUILTIN)}")
        return value

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL: `DATABASE_URL`, or a SQLite file in `DATA_DIR`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'agent.db').resolve()}"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def groq_enabled(self) -> bool:
        return self.groq_api_key is not None and bool(self.groq_api_key.get_secret_value())

    def resolved(self, provider: Provider) -> Provider:
        """Turn `auto` into `groq` or `local` depending on whether a Groq key is set."""
        if provider is Provider.AUTO:
            return Provider.GROQ if self.groq_enabled else Provider.LOCAL
        return provider
