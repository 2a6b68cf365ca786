"""Batch summarization: one engine shared by the ``summarizer batch`` command and the HTTP API.

- ``run_batch(records, summarizer, store, concurrency=..., on_progress=...) -> BatchReport``
- ``BatchRecord``: one input article (or the error that kept it from being read)
- ``BatchStore``: the protocol a store implements (``should_run``, ``record_result``, ``record_error``)
- ``RecordError``: ``{code, message}`` of a failed record
- ``JsonlStore``: the CLI's store, a JSON Lines output plus a SQLite state file for exact resume
- ``read_records`` / ``record_from_json``: batch input from a directory or JSON Lines file
"""

from ._engine import BatchRecord, BatchReport, BatchStore, Progress, RecordError, Records, run_batch
from ._inputs import content_id, count_records, read_records, record_from_json
from ._jsonl import JsonlStore, scan_output, state_path

__all__ = [
    "BatchRecord",
    "BatchReport",
    "BatchStore",
    "JsonlStore",
    "Progress",
    "RecordError",
    "Records",
    "content_id",
    "count_records",
    "read_records",
    "record_from_json",
    "run_batch",
    "scan_output",
    "state_path",
]
