"""What one llama.cpp decode step costs on this machine as the number of tokens in it grows.

Generating one token means one decode of one token. Two ways to get more tokens per second both decode
several tokens in one step: checking drafted tokens (speculative decoding, e.g. prompt lookup, where the
model's answer copies the article) and decoding several answers side by side (the pipeline's calls are
independent once the article is read). Either only pays when a step of k tokens costs much less than k
single steps. This prints the time of one decode step of k tokens, with logits for every one of them as both
uses need, after an article prefix in the KV cache, and the time per token relative to k = 1.

    python bench/decode.py                     # default model, k = 1 2 3 4 6 8 11 16
    python bench/decode.py --model small --sizes 1,4,8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.local import open_llama  # noqa: E402
from summarizer.backends._gguf import CATALOGUE, TextProgress, ensure_model  # noqa: E402
from summarizer.config import Settings  # noqa: E402

SEED = ROOT / "seeds" / "000_4542c6a513510e75.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", choices=sorted(CATALOGUE))
    parser.add_argument("--sizes", default="1,2,3,4,6,8,11,16", help="tokens per decode step")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()

    model = ensure_model(Settings(backend="local", local_model=args.model), progress=TextProgress())
    llm = open_llama(model, args.threads, n_ctx=4096)
    try:
        ids = llm.tokenize(SEED.read_text(encoding="utf-8")[:3000].encode("utf-8"))
        llm.eval(ids)  # the article prefix, as when an answer is being generated
        prefix = llm.n_tokens
        print(f"{CATALOGUE[args.model].model_id}, {args.threads} threads, {prefix} tokens in the KV cache")
        print(f"{'k':>3} {'step ms (median)':>17} {'min':>7} {'ms/token':>9} {'vs k=1':>7}")
        base = None
        for k in (int(x) for x in args.sizes.split(",")):
            times = []
            for _ in range(args.repeats + 1):  # the first step of each size warms up
                llm._ctx.kv_cache_seq_rm(-1, prefix, -1)
                llm._batch.set_batch(batch=ids[100 : 100 + k], n_past=prefix, logits_all=True)
                started = time.perf_counter()
                llm._ctx.decode(llm._batch)
                times.append((time.perf_counter() - started) * 1000)
            median = statistics.median(times[1:])
            base = base or median
            print(f"{k:>3} {median:>17.1f} {min(times[1:]):>7.1f} {median / k:>9.1f} {median / base:>7.2f}", flush=True)
    finally:
        llm.close()


if __name__ == "__main__":
    main()
