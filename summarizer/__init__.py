"""summarizer: strict, typed, source-grounded summaries of news about diplomacy and conflict."""

from ._input import ArticleInput
from ._version import __version__
from .backends import Backend, CallResult, create_backend
from .config import Settings
from .errors import (
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    ConfigError,
    ErrorCode,
    InputError,
    InputTooLargeError,
    ModelFileError,
    OutputValidationError,
    SummarizerError,
    TemplateError,
)
from .pipeline import Summarizer, asummarize, summarize
from .schemas import ArticleSummary, SummaryResult

__all__ = [
    "ArticleInput",
    "ArticleSummary",
    "Backend",
    "BackendError",
    "BackendTimeoutError",
    "BackendUnavailableError",
    "CallResult",
    "ConfigError",
    "ErrorCode",
    "InputError",
    "InputTooLargeError",
    "ModelFileError",
    "OutputValidationError",
    "Settings",
    "SummarizerError",
    "Summarizer",
    "SummaryResult",
    "TemplateError",
    "__version__",
    "asummarize",
    "create_backend",
    "summarize",
]
