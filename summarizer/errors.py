"""One exception root for the whole product; subclasses carry the context needed to act on them.

Every error has a stable ``code`` (used in HTTP error bodies, batch error lines and CLI messages) and a
message that says what to do about it.
"""

from __future__ import annotations


class SummarizerError(Exception):
    """Root of every error raised by summarizer."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InputError(SummarizerError):
    """The article given is not usable (empty, binary, not UTF-8, too large, unreadable HTML)."""

    code = "bad_input"


class InputTooLargeError(InputError):
    code = "input_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"input is {size:,} characters, over the limit of {limit:,} "
            "(raise SUMMARIZER_MAX_INPUT_CHARS or --max-input-chars to accept it)"
        )
        self.size = size
        self.limit = limit


class ConfigError(SummarizerError):
    """Settings are missing or contradictory."""

    code = "bad_config"


class TemplateError(ConfigError):
    """A prompt template is missing, malformed, or references an unknown variable."""

    code = "bad_template"


class ModelFileError(ConfigError):
    """The local model file is missing, incomplete or does not match its checksum."""

    code = "model_file"


class BackendError(SummarizerError):
    """The model backend failed: transport, server, or output that never validated."""

    code = "backend_error"

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        status_code: int | None = None,
        original: BaseException | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.backend = backend
        self.status_code = status_code
        self.original = original


class BackendUnavailableError(BackendError):
    """The backend cannot be reached (connection refused, server not started, process died)."""

    code = "backend_unavailable"


class BackendTimeoutError(BackendError):
    code = "backend_timeout"


class OutputValidationError(BackendError):
    """The model's output did not validate against the schema after every re-ask."""

    code = "invalid_model_output"
