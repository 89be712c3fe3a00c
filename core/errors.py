"""The core's exception hierarchy; adapters turn these into status codes or spoken apologies."""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every error the core raises on purpose."""


class ModelMissingError(AgentError):
    """A bundled model file is absent or corrupt; the message names the package to reinstall."""


class ProviderError(AgentError):
    """A speech or language provider failed to serve a request."""


class UnsupportedAudioError(AgentError):
    """The bytes are not in an audio format the agent accepts."""


class UndecodableAudioError(AgentError):
    """The bytes look like a supported format but cannot be decoded."""


class DecodeTimeoutError(UndecodableAudioError):
    """Decoding the bytes took longer than the wall-clock limit (a pathological file)."""


class AudioTooLongError(AgentError):
    """The decoded audio is longer than the configured limit."""


class TranscriptionError(AgentError):
    """Speech-to-text failed for reasons other than the input's format."""


class NothingToAnswerError(AgentError):
    """A turn was requested with no text and no pending transcription in the session."""


class NotFoundError(AgentError):
    """The requested object does not exist or belongs to someone else."""


class ConflictError(AgentError):
    """The object already exists (for example a username that is taken)."""


class InvalidInputError(AgentError):
    """A value given by the user is not acceptable (unknown personality, language, ...)."""


class OverloadedError(AgentError):
    """The server is at capacity; `retry_after` says in how many seconds to try again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDeniedError(AgentError):
    """The signed-in user may not do this on this server (for example, place a call)."""


class NotConfiguredError(AgentError):
    """A feature needs settings that are not set; the message names them."""


class UpstreamError(AgentError):
    """A remote service (Twilio's REST API) refused a request or could not be reached; the
    message gives its reason, never a secret or a full phone number."""


class StorageFullError(AgentError):
    """The database has no room for a change (its disk is full): the change was not made, and
    the same request works again once there is space. Reads go on meanwhile."""
