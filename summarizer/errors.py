"""One exception root for the whole product; subclasses carry the context needed to act on them.

Every error has a stable ``code`` (used in HTTP error bodies, batch error lines and CLI messages) and a
message that says what to do about it.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every error code the product gives: library and CLI errors, batch error lines and HTTP error bodies."""

    ERROR = "error"
    # the article or a command's input
    BAD_INPUT = "bad_input"
    INPUT_TOO_LARGE = "input_too_large"
    EMPTY_INPUT = "empty_input"
    BINARY_INPUT = "binary_input"
    NOT_UTF8 = "not_utf8"
    BAD_PUBLISHED = "bad_published"
    BAD_OPTION = "bad_option"
    FILE_NOT_FOUND = "file_not_found"
    UNREADABLE = "unreadable"
    # a batch input's line or file
    BAD_RECORD = "bad_record"
    BAD_JSON = "bad_json"
    # settings, prompts, the model file
    BAD_CONFIG = "bad_config"
    BAD_TEMPLATE = "bad_template"
    MODEL_FILE = "model_file"
    # the model backend
    BACKEND_ERROR = "backend_error"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    BACKEND_TIMEOUT = "backend_timeout"
    INVALID_MODEL_OUTPUT = "invalid_model_output"
    # the HTTP API
    BAD_REQUEST = "bad_request"
    MALFORMED_JSON = "malformed_json"
    INVALID_REQUEST = "invalid_request"
    UNAUTHORIZED = "unauthorized"
    ROUTE_NOT_FOUND = "not_found"
    BATCH_NOT_FOUND = "batch_not_found"
    ARTICLE_NOT_FOUND = "article_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    REQUEST_TOO_LARGE = "request_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    BATCH_TOO_LARGE = "batch_too_large"
    DUPLICATE_ID = "duplicate_id"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    INTERNAL_ERROR = "internal_error"
    # a runner that sends articles elsewhere
    WORKER_LOST = "worker_lost"
    BATCH_INCOMPLETE = "batch_incomplete"


class SummarizerError(Exception):
    """Root of every error raised by summarizer."""

    code: ErrorCode = ErrorCode.ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InputError(SummarizerError):
    """The article given is not usable (empty, binary, not UTF-8, too large, unreadable HTML)."""

    code = ErrorCode.BAD_INPUT


class InputTooLargeError(InputError):
    code = ErrorCode.INPUT_TOO_LARGE

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"input is {size:,} characters, over the limit of {limit:,} "
            "(raise SUMMARIZER_MAX_INPUT_CHARS or --max-input-chars to accept it)"
        )
        self.size = size
        self.limit = limit


class ConfigError(SummarizerError):
    """Settings are missing or contradictory."""

    code = ErrorCode.BAD_CONFIG


class TemplateError(ConfigError):
    """A prompt template is missing, malformed, or references an unknown variable."""

    code = ErrorCode.BAD_TEMPLATE


class ModelFileError(ConfigError):
    """The local model file is missing, incomplete or does not match its checksum."""

    code = ErrorCode.MODEL_FILE


class BackendError(SummarizerError):
    """The model backend failed: transport, server, or output that never validated."""

    code = ErrorCode.BACKEND_ERROR

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        status_code: int | None = None,
        original: BaseException | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.backend = backend
        self.status_code = status_code
        self.original = original


class BackendUnavailableError(BackendError):
    """The backend cannot be reached (connection refused, server not started, process died)."""

    code = ErrorCode.BACKEND_UNAVAILABLE


class BackendTimeoutError(BackendError):
    code = ErrorCode.BACKEND_TIMEOUT


class OutputValidationError(BackendError):
    """The model's output did not validate against the schema after every re-ask."""

    code = ErrorCode.INVALID_MODEL_OUTPUT
