"""The review page in a real headless Chromium (Debian's chromium and chromedriver, driven by Selenium): quotes
highlighted at their offsets, records and spans that lead to each other, a review exported as gold YAML that
``summarizer eval`` loads, and the page of a live ``summarizer serve``."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from summarizer import Settings, Summarizer
from summarizer._input import ArticleInput
from summarizer.api import ServerThread, create_app
from summarizer.backends.fake import FakeBackend
from summarizer.cli import app
from summarizer.evals.gold import load_gold_file
from summarizer.review import page

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_4542c6a513510e75.txt"
RECORDED = ROOT / "evals" / "recorded" / "000_4542c6a513510e75.json"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver; .ci/run installs them)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def seed_result() -> tuple[Any, str]:
    settings = Settings(backend="fake", no_cache=True)
    engine = Summarizer(settings, FakeBackend(settings, json.loads(RECORDED.read_text(encoding="utf-8"))))
    article = engine.prepare(ArticleInput(SEED.read_text(encoding="utf-8"), published="2025-11-27"))
    import asyncio

    return asyncio.run(engine.summarize_article(article)), article.text


def open_page(browser: Any, tmp_path: Path, result: Any, text: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(page(result, text, name=SEED.name), encoding="utf-8")
    browser.get(path.as_uri())
    return path


def marks(browser: Any) -> list[dict[str, Any]]:
    script = """return [...document.querySelectorAll('#article-text mark')].map(m => ({
        start: +m.dataset.start, end: +m.dataset.end, ids: m.dataset.records.split(' '), text: m.textContent}));"""
    return list(browser.execute_script(script))


def test_every_grounded_quote_is_highlighted_at_its_offsets(browser: Any, tmp_path: Path, seed_result: Any) -> None:
    result, text = seed_result
    open_page(browser, tmp_path, result, text)
    found = marks(browser)
    assert found and all(text[m["start"] : m["end"]] == m["text"] for m in found)
    letters = {"positions": "P", "demands": "D", "territorial_figures": "F", "upcoming_meetings": "M"}
    checked = 0
    for item in result.grounding.items:
        if item.category not in letters:
            continue
        record = f"{letters[item.category]}{item.index + 1}"
        for quote in item.quotes:
            if quote.status not in ("exact", "fuzzy"):
                continue
            mine = sorted((m["start"], m["end"]) for m in found if record in m["ids"])
            covered = [(s, e) for s, e in mine if quote.start <= s and e <= quote.end]
            # the marks of this record tile the quote's span exactly, with no gap
            assert covered and covered[0][0] == quote.start and covered[-1][1] == quote.end, (record, quote)
            assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False)), (record, covered)
            checked += 1
    assert checked >= 3
    cards = browser.execute_script("return [...document.querySelectorAll('.card')].map(c => c.dataset.record)")
    assert {f"{letters[c]}{i + 1}" for c in letters for i in range(len(getattr(result.summary, c)))} <= set(cards)
    rejected = browser.find_element("css selector", ".rejected").text
    assert all(r.code in rejected for r in result.rejected)
    assert "prompt extract" in browser.find_element("id", "provenance").text


def test_records_and_spans_lead_to_each_other(browser: Any, tmp_path: Path, seed_result: Any) -> None:
    result, text = seed_result
    open_page(browser, tmp_path, result, text)
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    target = next(m for m in marks(browser) if "F1" in m["ids"])
    browser.find_element("css selector", "#card-F1 button.locate").click()
    mark = browser.find_element("css selector", f'mark[data-records~="F1"][data-start="{target["start"]}"]')
    assert "flash" in mark.get_attribute("class")
    assert browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;", mark
    )
    browser.execute_script("window.scrollTo(0, 0)")
    mark.click()
    card = browser.find_element("id", "card-F1")
    assert "flash" in card.get_attribute("class")
    assert browser.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.top < window.innerHeight && r.bottom > 0;", card
    )


def test_the_review_exports_gold_yaml_that_the_eval_loads(browser: Any, tmp_path: Path, seed_result: Any) -> None:
    from selenium.webdriver.support.ui import Select

    result, text = seed_result
    open_page(browser, tmp_path, result, text)
    browser.find_element("css selector", "#card-D1 button.correct").click()
    Select(browser.find_element("css selector", "#card-D2 select.reason")).select_by_value("wrong type")
    browser.find_element("css selector", "#card-F1 button.edit").click()
    browser.find_element("css selector", '#card-F1 input[data-field="controller"]').clear()
    browser.find_element("css selector", '#card-F1 input[data-field="controller"]').send_keys("Russian forces")
    # a missed meeting: select its sentence in the article, then add it
    sentence = "a US delegation led by special envoy Steve Witkoff is expected to arrive in Moscow"
    start = text.index(sentence)
    browser.execute_script(
        """const box = document.getElementById('article-text'); const [start, end] = arguments;
        const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
        let pos = 0, node, range = document.createRange();
        while ((node = walker.nextNode())) { const n = node.textContent.length;
          if (pos <= start && start < pos + n) range.setStart(node, start - pos);
          if (pos < end && end <= pos + n) { range.setEnd(node, end - pos); break; } pos += n; }
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);""",
        start,
        start + len(sentence),
    )
    Select(browser.find_element("id", "missed-category")).select_by_value("upcoming_meetings")
    browser.find_element("id", "add-missed").click()
    for field, value in (("participants", "Steve Witkoff, US delegation"), ("location", "Moscow")):
        browser.find_element("css selector", f'#missed input[data-field="{field}"]').send_keys(value)
    browser.find_element("css selector", '#missed input[data-field="when_text"]').send_keys(
        "in the first half of next week"
    )
    browser.find_element("id", "export-gold").click()
    exported = browser.find_element("id", "export").get_attribute("value")
    gold_dir, articles = tmp_path / "gold", tmp_path / "articles"
    gold_dir.mkdir()
    articles.mkdir()
    shutil.copy(SEED, articles / SEED.name)
    (gold_dir / f"{SEED.stem}.yaml").write_text(exported, encoding="utf-8")
    gold = load_gold_file(gold_dir / f"{SEED.stem}.yaml")
    demands = [item.first("demand") for item in gold.items["demands"]]
    assert demands == [result.summary.demands[0].demand]  # D1 marked correct, D2 wrong: left out
    assert [item.first("controller") for item in gold.items["territorial_figures"]] == ["Russian forces"]
    (meeting,) = gold.items["upcoming_meetings"]
    assert list(meeting.evidence) == [sentence] and meeting.first("location") == "Moscow"
    assert meeting.first("participants") == ["Steve Witkoff", "US delegation"]
    run = CliRunner().invoke(
        app,
        ["eval", "--gold", str(gold_dir), "--articles", str(articles), "--backend", "fake", "--fake-script",
         str(RECORDED), "--out", str(tmp_path / "eval"), "--no-details"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    scored = json.loads((tmp_path / "eval" / "run.json").read_text())
    assert scored["totals"]["categories"]["demands"]["tp"] == 1  # the reviewed record is the gold's, found again
    browser.find_element("id", "export-audit").click()
    audit = [json.loads(line) for line in browser.find_element("id", "export").get_attribute("value").splitlines()]
    assert {(a["category"], a["index"], a["type_ok"]) for a in audit} >= {("demands", 0, "yes"), ("demands", 1, "no")}


def test_the_page_of_a_live_server_summarizes_through_the_public_api(browser: Any, tmp_path: Path) -> None:
    script = json.loads(RECORDED.read_text(encoding="utf-8"))
    settings = Settings(backend="fake", no_cache=True, api_keys=["review-key"], cache_dir=tmp_path / "cache")
    with ServerThread(create_app(settings, FakeBackend(settings, script))) as server:
        browser.get(server.url + "/")
        browser.find_element("id", "api-key").send_keys("review-key")
        browser.execute_script("document.getElementById('input').value = arguments[0];", SEED.read_text("utf-8"))
        browser.find_element("id", "published").send_keys("2025-11-27")
        browser.find_element("id", "summarize").click()
        deadline = time.monotonic() + 30
        while not marks(browser) and time.monotonic() < deadline:
            time.sleep(0.1)
        found = marks(browser)
        assert found, browser.find_element("id", "status").text
        assert any("D1" in m["ids"] for m in found)
        # a batch's result opens in its article too (the page asks the API for the batch's article text)
        headers = {"Authorization": "Bearer review-key"}
        body = {"articles": [{"id": "seed", "text": SEED.read_text("utf-8"), "published": "2025-11-27"}]}
        batch_id = httpx.post(server.url + "/v1/batches", json=body, headers=headers, timeout=10).json()["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = httpx.get(f"{server.url}/v1/batches/{batch_id}", headers=headers, timeout=10).json()["status"]
            if state == "done":
                break
            time.sleep(0.1)
        browser.get(server.url + "/")
        browser.find_element("id", "api-key").send_keys("review-key")
        browser.find_element("id", "batch-id").send_keys(batch_id)
        browser.find_element("id", "open-batch").click()
        deadline = time.monotonic() + 10
        while not browser.find_elements("css selector", 'button[data-id="seed"]') and time.monotonic() < deadline:
            time.sleep(0.1)
        browser.find_element("css selector", 'button[data-id="seed"]').click()
        deadline = time.monotonic() + 10
        while not marks(browser) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("D1" in m["ids"] for m in marks(browser)), browser.find_element("id", "status").text
        # without the key the API refuses, and the page says why
        browser.get(server.url + "/")
        browser.execute_script("document.getElementById('input').value = 'Talks resume in Vell on Monday.';")
        browser.find_element("id", "summarize").click()
        deadline = time.monotonic() + 10
        while "unauthorized" not in browser.find_element("id", "status").text and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "unauthorized" in browser.find_element("id", "status").text
