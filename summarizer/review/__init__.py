"""The review page: an article with every record's evidence highlighted where it stands, the records as cards,
the rejected items with their reasons, and a review that exports gold YAML (SPEC §3) and AUDIT.md judgements.

One self-contained HTML file (``page.html``: inline CSS and script, no network) serves three uses: the page of
one result (``summarizer summarize --format html``), the pages and index of a batch (``summarizer view``), and the
page ``summarizer serve`` shows at ``/``, which calls the public API routes.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from ..schemas import CATEGORY, SummaryResult

_TEMPLATE = "page.html"


def _template() -> str:
    return resources.files("summarizer.review").joinpath(_TEMPLATE).read_text(encoding="utf-8")


def categories() -> list[dict[str, Any]]:
    """What the page needs to know of each category (from the registry): title, letter, columns, gold fields."""
    return [
        {
            "name": c.name,
            "title": c.title,
            "letter": c.letter,
            "columns": list(c.columns),
            "fields": {f: kind for f, kind in c.kinds.items() if f not in c.computed},
        }
        for c in CATEGORY.values()
    ]


def _render(title: str, data: dict[str, Any]) -> str:
    # JSON inside <script>: "</" and "<!--" could end or comment out the element, so they are escaped
    payload = json.dumps({**data, "categories": categories()}, ensure_ascii=False)
    payload = payload.replace("</", "<\\/").replace("<!--", "<\\!--")
    return _template().replace("__TITLE__", html.escape(title)).replace("__DATA__", payload)


def page(result: SummaryResult, text: str | None, *, name: str | None = None) -> str:
    """The page of one result; ``text`` is the article as the summarizer read it (the quotes' offsets point into
    it), or None to show each record with its quotes only."""
    article = {
        "name": name,
        "title": result.source.title,
        "text": text,
        "published": result.source.published.isoformat() if result.source.published else None,
        "result": result.model_dump(mode="json"),
    }
    return _render(result.source.title or name or "Summary", {"mode": "page", "articles": [article]})


def app_page() -> str:
    """The page at ``/`` of ``summarizer serve``: paste or open an article, or open a batch's results."""
    return _render("summarizer", {"mode": "app", "articles": []})


def page_name(record_id: str) -> str:
    """A file name for a record's page: its id made safe, plus a short hash so that two ids never share one."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", record_id).strip("._")[:80] or "article"
    digest = hashlib.sha256(record_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe}-{digest}.html"


def write_site(lines: Iterable[dict[str, Any]], texts: dict[str, str], out: Path, *, title: str) -> tuple[int, int]:
    """A batch's output lines as a site: ``out/index.html`` (counts and filters) and one page per done record.
    ``texts`` maps record ids to their articles' texts where they are known. Returns (pages, failed)."""
    (out / "pages").mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    pages = failed = 0
    for line in lines:
        record_id = str(line.get("id"))
        if line.get("status") == "done":
            result = SummaryResult.model_validate(line["result"])
            name = page_name(record_id)
            (out / "pages" / name).write_text(page(result, texts.get(record_id), name=record_id), encoding="utf-8")
            summary = result.model_dump(mode="json", include={"summary", "rejected"})
            entries.append({"name": record_id, "href": f"pages/{name}", "result": summary})
            pages += 1
        else:
            entries.append({"name": record_id, "result": None, "error": line.get("error")})
            failed += 1
    (out / "index.html").write_text(_render(title, {"mode": "index", "title": title, "articles": entries}), "utf-8")
    return pages, failed
