"""Batch summarization: one engine shared by the ``summarizer batch`` command and the HTTP API.

- ``run_batch(records, summarizer, store, concurrency=..., on_progress=...) -> BatchReport``
- ``BatchRecord``: one input article (or the error that kept it from being read)
- ``BatchStore``: the protocol a store implements (``should_run``, ``record_result``, ``record_error``)
- ``RecordError``: ``{code, message}`` of a failed record
"""

from ._engine import BatchRecord, BatchReport, BatchStore, Progress, RecordError, Records, run_batch

__all__ = ["BatchRecord", "BatchReport", "BatchStore", "Progress", "RecordError", "Records", "run_batch"]
