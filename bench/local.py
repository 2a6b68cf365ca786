"""The embedded local model on the seed articles: wall time, tokens, prompt cache, speed, pipeline overhead.

For each model chosen, the shared llama.cpp server is started once (start-up timed separately), then every
article is summarized through the full pipeline (5 model calls each). Per article it prints:

- wall: seconds from the article text to the grounded result;
- calls, prompt and completion tokens as the pipeline counts them (every attempt);
- cached: prompt tokens the server reused from its KV cache instead of evaluating them. llama-cpp-python's
  server reports ``cached_tokens: 0`` in its usage, so the local backend reads the figure from the server's
  own log (its ``Llama.generate: N prefix-match hit`` line for each request);
- p-eval and gen: time the server spent in llama.cpp evaluating prompt tokens and generating tokens (its
  ``llama_perf_context_print`` lines for each request), and gen t/s = generated tokens / gen seconds;
- compute: p-eval + gen; overhead = 1 - compute / wall: everything that is not llama.cpp evaluating tokens
  (grammar-constrained sampling, HTTP, JSON, validation, grounding). Time spent waiting for this machine's
  turn (another summarizer process computing, see ``summarizer/backends/_compute_lock.py``) is shown apart
  and left out of the overhead.

Side by side, in the same run and with the same threads, the raw runtime: ``llama_cpp.Llama`` in this process
evaluates the same article prompt and then generates ``--raw-tokens`` tokens without a grammar. ``raw x``
is the article's wall time over what the raw runtime would need for the same work (the tokens the server had
to evaluate at the raw prompt speed, plus the completion tokens at the raw generation speed).

    python bench/local.py                          # default model, both seeds
    python bench/local.py --models default,small   # both models
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from summarizer.backends import _server_process as srv  # noqa: E402
from summarizer.backends._gguf import CATALOGUE, TextProgress, ensure_model  # noqa: E402
from summarizer.backends.local import LocalBackend  # noqa: E402
from summarizer.config import Settings  # noqa: E402
from summarizer.pipeline import Summarizer  # noqa: E402


def open_llama(model: Path, threads: int, n_ctx: int) -> Any:
    """``llama_cpp.Llama`` in this process, with the weight layout the local model server uses."""
    import llama_cpp

    from summarizer.backends import _patched_llama_server

    _patched_llama_server.set_weight_layout()  # the server's weight layout, so both read prompts the same way
    return llama_cpp.Llama(
        model_path=str(model), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, logits_all=False, verbose=False
    )


def raw_speed(model: Path, prompt: str, threads: int, n_ctx: int, tokens: int) -> dict[str, float]:
    """llama.cpp alone: prompt evaluation and unconstrained generation speed for this model and prompt."""
    import llama_cpp

    llm = open_llama(model, threads, n_ctx)
    try:
        ids = llm.tokenize(prompt.encode("utf-8"))
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        out = llm.create_completion(ids, max_tokens=tokens, temperature=0.0, logit_bias={llm.token_eos(): -1e9})
        perf = llama_cpp.llama_perf_context(llm._ctx.ctx)
        assert isinstance(out, dict)
        generated = int(out["usage"]["completion_tokens"])
    finally:
        llm.close()
    return {
        "prompt_tokens": perf.n_p_eval,
        "prompt_tps": perf.n_p_eval / (perf.t_p_eval_ms / 1000),
        "gen_tokens": generated,
        "gen_tps": perf.n_eval / (perf.t_eval_ms / 1000),
    }


async def run_model(name: str, seeds: list[Path], raw_tokens: int) -> list[dict[str, Any]]:
    settings = Settings(backend="local", local_model=name, no_cache=True)
    started = time.perf_counter()
    model = ensure_model(settings, progress=TextProgress())
    assembled = time.perf_counter() - started
    engine = Summarizer(settings)
    backend = engine.backend
    assert isinstance(backend, LocalBackend)
    try:
        started = time.perf_counter()
        server = await backend.start()
        print(
            f"\n== {name}: {CATALOGUE[name].model_id}  model ready in {assembled:.1f} s, "
            f"server up in {time.perf_counter() - started:.1f} s, {server.options.n_threads} threads, "
            f"n_ctx {server.options.n_ctx}",
            flush=True,
        )
        rows = []
        for seed in seeds:
            text = seed.read_text(encoding="utf-8")
            before = len(backend.server_timings)
            started = time.perf_counter()
            result = await engine.summarize(text)
            wall = time.perf_counter() - started
            t = srv.Timings()
            for one in backend.server_timings[before:]:
                for field in vars(t):
                    setattr(t, field, getattr(t, field) + getattr(one, field))
            s = result.summary
            rows.append(
                {
                    "model": name,
                    "article": seed.name,
                    "wall_s": wall,
                    "calls": result.usage.model_calls,
                    "retries": result.usage.retries,
                    "prompt_tokens": result.usage.prompt_tokens,
                    "completion_tokens": result.usage.completion_tokens,
                    "cached_prompt_tokens": result.usage.cached_prompt_tokens,
                    "evaluated_prompt_tokens": t.prompt_eval_tokens,
                    "prompt_eval_s": t.prompt_eval_ms / 1000,
                    "gen_s": t.eval_ms / 1000,
                    "queue_wait_s": t.queue_wait_ms / 1000,
                    "gen_tps": t.eval_tokens / (t.eval_ms / 1000) if t.eval_ms else 0.0,
                    "records": {
                        c: len(getattr(s, c))
                        for c in ("positions", "demands", "territorial_figures", "upcoming_meetings")
                    },  # fmt: skip
                    "rejected": len(result.rejected),
                }
            )
            print_row(rows[-1])
    finally:
        await engine.aclose()
    shared = engine.prompts.article(text=seeds[0].read_text(encoding="utf-8"), title=None, published=None)
    prompt = engine.prompts.messages("overview", shared)[1]["content"]
    raw = raw_speed(model, prompt, server.options.n_threads, server.options.n_ctx, raw_tokens)
    print(
        f"   raw llama.cpp, same model and threads: prompt {raw['prompt_tps']:.1f} t/s ({raw['prompt_tokens']} tok), "
        f"generation {raw['gen_tps']:.1f} t/s ({raw['gen_tokens']} tok, no grammar)"
    )
    for row in rows:
        ideal = row["evaluated_prompt_tokens"] / raw["prompt_tps"] + row["completion_tokens"] / raw["gen_tps"]
        row["raw_s"] = ideal
        row["raw_ratio"] = (row["wall_s"] - row["queue_wait_s"]) / ideal
        row["raw"] = raw
        print(
            f"   {row['article']}: raw runtime would need {ideal:.1f} s for the same tokens; "
            f"wall / raw = {row['raw_ratio']:.2f}; gen {row['gen_tps']:.1f} vs raw {raw['gen_tps']:.1f} t/s"
        )
    return rows


def print_row(r: dict[str, Any]) -> None:
    compute = r["prompt_eval_s"] + r["gen_s"]
    own = r["wall_s"] - r["queue_wait_s"]
    overhead = 1 - compute / own if own > 0 else 0.0
    recs = " ".join(f"{k}={v}" for k, v in r["records"].items())
    print(
        f"   {r['article']}: wall {r['wall_s']:.1f} s | calls {r['calls']} (retries {r['retries']}) | "
        f"prompt {r['prompt_tokens']} tok (cached {r['cached_prompt_tokens']}, evaluated "
        f"{r['evaluated_prompt_tokens']}) | completion {r['completion_tokens']} tok\n"
        f"      llama.cpp: prompt eval {r['prompt_eval_s']:.1f} s, generation {r['gen_s']:.1f} s "
        f"({r['gen_tps']:.1f} t/s) = compute {compute:.1f} s; overhead {overhead:.1%} of wall"
        f"{f' (after {wait:.1f} s waiting for other processes)' if (wait := r['queue_wait_s']) > 0.05 else ''}\n"
        f"      records: {recs} rejected={r['rejected']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="default", help="Comma-separated: default, small.")
    parser.add_argument("--seeds", nargs="*", type=Path, default=sorted((ROOT / "seeds").glob("*.txt")))
    parser.add_argument("--raw-tokens", type=int, default=96, help="Tokens the raw runtime generates.")
    parser.add_argument("--json", type=Path, help="Also write the rows to this JSON file.")
    args = parser.parse_args()
    print(f"cpu cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f} (shared machine: figures are noisy)")
    rows: list[dict[str, Any]] = []
    for name in args.models.split(","):
        if name not in CATALOGUE:
            parser.error(f"unknown model {name!r}; choose from {sorted(CATALOGUE)}")
        rows += asyncio.run(run_model(name, args.seeds, args.raw_tokens))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
