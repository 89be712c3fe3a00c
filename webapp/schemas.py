"""Request and response bodies of the REST API, one model per purpose.

A response body that shows a core record or result is made from it by `model_validate`
(`from_attributes`): each field reads the record's attribute of the same name, so a name is
written once from the table to the JSON. Where the API documents another name, the field keeps
the core's and serializes under the documented one (`serialization_alias`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import TTSProvider
from core.dialing import E164_PATTERN
from core.tools import ToolResult

FROM_RECORDS = ConfigDict(from_attributes=True)


class ErrorResponse(BaseModel):
    """An error in words; `error` names its kind when the agent itself refused."""

    detail: str
    error: str | None = None


class FieldError(BaseModel):
    """One reason a request failed validation, in FastAPI's format."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class InvalidRequest(BaseModel):
    """422: the fields that failed validation, or in words a value the agent does not accept
    (an unknown personality or language, a malformed username...)."""

    detail: list[FieldError] | str
    error: str | None = None


class Credentials(BaseModel):
    username: str = Field(max_length=64, examples=["admin"])
    password: str = Field(max_length=1024, examples=["change-me-please"])


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(
        max_length=1024, description="8-256 characters", examples=["a-new-passphrase"]
    )


class TokenResponse(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in: int


class UserPublic(BaseModel):
    model_config = FROM_RECORDS

    id: int
    username: str


class Timings(BaseModel):
    model_config = FROM_RECORDS

    stt_ms: float | None = None
    llm_first_token_ms: float | None = None
    total_ms: float | None = None


class RealtimeTimings(BaseModel):
    """A real-time turn's stages, in ms from the end of the user's speech."""

    model_config = FROM_RECORDS

    transcript_ms: float | None = None
    first_token_ms: float | None = None
    first_audio_ms: float | None = None


class TranscriptionResponse(BaseModel):
    model_config = FROM_RECORDS

    text: str = Field(serialization_alias="transcription")
    language: str
    duration: float
    session_id: str | None = Field(
        description="Null when no speech was heard and no session_id was sent (nothing stored)."
    )
    turn_id: int | None = Field(description="Null when no speech was heard (nothing stored).")
    provider: str
    stt_ms: float
    fallback: str | None = None


class AudioMode(StrEnum):
    """How /response delivers the spoken answer: not at all, as a link, or inline."""

    NONE = "none"
    URL = "url"
    BASE64 = "base64"


class ResponseRequest(BaseModel):
    text: str = Field(default="", max_length=8000)
    session_id: str | None = Field(default=None, max_length=64)
    stream: bool = False
    personality: str | None = Field(default=None, max_length=32)
    audio: AudioMode = Field(
        default=AudioMode.NONE,
        description='"url": `audio_url` to GET the spoken answer; "base64": the WAV inline.',
    )


class ToolCallPublic(BaseModel):
    """A tool the agent called while answering, with what came back."""

    model_config = FROM_RECORDS

    name: str
    arguments: dict[str, Any]
    result: Any = Field(description='The tool\'s JSON reply (or {"error": ...} when it failed).')
    ok: bool
    ms: float
    action: Literal["end", "transfer"] | None = Field(
        default=None, description="What the call asked the channel to do after the answer."
    )

    @model_validator(mode="before")
    @classmethod
    def _as_stored(cls, data: Any) -> Any:
        """A call as the turn stores it: an answer's `ToolResult`s are shown the same way."""
        return data.as_record() if isinstance(data, ToolResult) else data


class ResponseResponse(BaseModel):
    model_config = FROM_RECORDS

    answer: str = Field(serialization_alias="response")
    language: str
    session_id: str
    turn_id: int
    user_text: str = Field(
        serialization_alias="transcription", description="The user message that was answered."
    )
    personality: str
    provider: str
    fallback: str | None = None
    timings: Timings
    audio_url: str | None = Field(default=None, description='With `"audio": "url"`.')
    audio_base64: str | None = Field(
        default=None, description='With `"audio": "base64"`: the answer spoken, as a WAV file.'
    )
    tool_calls: list[ToolCallPublic] = Field(
        default_factory=list, description="The tools called for this answer, in order."
    )
    action: Literal["end", "transfer"] | None = Field(
        default=None,
        description='"end": the agent said goodbye, the conversation is over; "transfer": it '
        "handed the user over to a person (phone).",
    )

    @field_validator("action", mode="before")
    @classmethod
    def _kind(cls, action: Any) -> Any:
        """The result's `Action` by its kind."""
        return getattr(action, "kind", action)


class SpeakRequest(BaseModel):
    text: str = Field(min_length=1, max_length=2000, examples=["Hello! How can I help you?"])
    language: str | None = Field(
        default=None,
        max_length=8,
        description='ISO 639-1 code; null or "auto" detects it from the text.',
    )


class TurnPublic(BaseModel):
    model_config = FROM_RECORDS

    id: int
    source: str
    user_text: str
    answer: str | None
    status: str
    language: str
    personality: str | None
    stt_provider: str | None
    llm_provider: str | None
    fallback: str | None
    audio_seconds: float | None
    timings: Timings
    realtime: RealtimeTimings | None = None  # turns of a real-time conversation only
    interrupted: bool = False  # the user spoke over the answer; `answer` is what they heard
    tool_calls: list[ToolCallPublic] = Field(default_factory=list)
    created_at: datetime
    answered_at: datetime | None

    @field_validator("tool_calls", mode="before")
    @classmethod
    def _none_called(cls, calls: Any) -> Any:
        return [] if calls is None else calls  # stored as NULL when the turn called none


class SessionPublic(BaseModel):
    model_config = FROM_RECORDS

    id: str
    title: str | None
    channel: str
    personality: str | None
    language: str | None
    created_at: datetime
    updated_at: datetime
    turn_count: int


class SessionDetail(SessionPublic):
    custom_prompt: str | None
    turns: list[TurnPublic]


class SessionUpdate(BaseModel):
    """Fields left out are unchanged; null clears an override (back to the user's setting)."""

    title: str | None = Field(default=None, max_length=200)
    personality: str | None = Field(default=None, max_length=32)
    custom_prompt: str | None = Field(default=None, max_length=2000)
    language: str | None = Field(default=None, max_length=8)


class PersonalityPublic(BaseModel):
    name: str
    description: str
    prompt: str | None


class UserSettings(BaseModel):
    personality: str = Field(max_length=32)
    custom_prompt: str | None = Field(default=None, max_length=2000)
    language: str = Field(default="auto", max_length=8, description='"auto" or an ISO 639-1 code')
    tts_provider: TTSProvider | None = Field(
        default=None,
        description='Who speaks my answers: "local" (bundled voices) or "gtts" (Google, with the '
        "local voices as fallback). Left out of PUT: unchanged.",
    )
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description='My IANA time zone, e.g. "Europe/Paris", for the clock tool. Left out of '
        "PUT: unchanged.",
        examples=["Europe/Paris"],
    )


class ProviderHealth(BaseModel):
    provider: str
    kind: str
    loaded: bool
    fallback: str | None


class LlamaHealth(BaseModel):
    """The local model's llama.cpp: its CPU backend, the instruction sets it was built with, and
    whether its extra buffer types (AMX, repacked weights) are in use, and why."""

    version: str
    backend: str
    features: list[str]
    extra_buffers: bool
    extra_buffers_reason: str


class Health(BaseModel):
    status: str
    stt: ProviderHealth
    llm: ProviderHealth
    llama_cpp: LlamaHealth | None = None


class CallCreate(BaseModel):
    """A call to place: the agent rings `to` and talks with whoever answers."""

    to: str = Field(
        pattern=E164_PATTERN,
        description="The number to call in E.164 form: '+', country code and number, no spaces",
        examples=["+14155550123"],
    )


class CallPlaced(BaseModel):
    """A call Twilio accepted; its record follows it under `GET /calls`."""

    call_sid: str = Field(description="Twilio's id of the call: CA and 32 hex digits")
    status: str = Field(description='Twilio\'s status of the call, "queued" at first')
    to: str = Field(description="The number called, masked to its last two digits: ***23")
    session_id: str = Field(description="The session the call's turns are kept in")


class CallPublic(BaseModel):
    """A recorded call; the number is not kept (only a keyed hash of it), so it is not shown."""

    model_config = FROM_RECORDS

    call_sid: str
    status: str
    session_id: str | None
    duration_s: int | None
    created_at: datetime
    updated_at: datetime
