"""Entry point of the local model server: llama-cpp-python's OpenAI-compatible server, with faster greedy
sampling under a grammar and model weights used in place on CPUs with AVX-512.

llama-cpp-python samples every token through one llama.cpp sampler chain (penalties, grammar, greedy), so the
grammar is checked against every token of the vocabulary (151,936 for Qwen2.5) at every step: tens of
milliseconds per generated token on this kind of CPU. llama.cpp's own sampler (``common/sampling.cpp``) first
picks the token without the grammar and checks the grammar against that one token only; only when the grammar
rejects it does it filter the whole vocabulary and pick again. For greedy decoding (temperature 0) both ways
give the same token: the grammar only removes candidates, so the unconstrained best token is the constrained
best token whenever the grammar accepts it. This module installs that order for greedy sampling with a grammar
and leaves every other sampling configuration to llama-cpp-python.

Weights: llama.cpp can copy the weights into "extra buffer types" at load: repacked layouts for its AVX2
kernels, and AMX tiles when the build has AMX. On a build with AVX-512 this module turns them off
(``use_extra_bufts = False``): AMX kernels crash on some Xeon CPUs, and the AVX-512 kernels read prompts faster
with the weights in place than repacked. On an AVX2-only build repacking is the faster layout and stays on.
``bench/local.py`` measures both on the machine at hand.

    python -m summarizer.backends._patched_llama_server --model FILE ...   # same arguments as llama_cpp.server
"""

from __future__ import annotations

import ctypes
import inspect
import math
import re
import sys
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import llama as _llama

from ._server_process import check_llama_cpp

_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class GreedyGrammarSampler:
    """Greedy sampling with repetition penalties under a grammar, grammar checked on the chosen token first.

    Same interface as llama-cpp-python's ``LlamaSampler`` as used by ``Llama.sample``: ``sample(ctx, idx)``
    returns the token and records it in the penalties' and the grammar's state.
    """

    def __init__(
        self,
        vocab: Any,
        n_vocab: int,
        grammar: str,
        root: str,
        *,
        penalty_last_n: int,
        penalty_repeat: float,
        penalty_freq: float,
        penalty_present: float,
    ) -> None:
        self.n_vocab = n_vocab
        self.penalties = llama_cpp.llama_sampler_init_penalties(
            n_vocab, penalty_last_n, penalty_repeat, penalty_freq, penalty_present
        )
        self.grammar = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), root.encode("utf-8"))
        if not self.grammar:
            llama_cpp.llama_sampler_free(self.penalties)
            self.penalties = None
            raise ValueError("llama.cpp could not parse the grammar")
        self._full = (llama_cpp.llama_token_data * n_vocab)()
        self._full_np = np.frombuffer(memoryview(self._full), dtype=_TOKEN_DATA)
        self._ids = np.arange(n_vocab, dtype=np.intc)
        self._full_array = llama_cpp.llama_token_data_array(data=self._full, size=n_vocab, selected=-1, sorted=False)
        self._one = (llama_cpp.llama_token_data * 1)()
        self._one_array = llama_cpp.llama_token_data_array(data=self._one, size=1, selected=-1, sorted=False)
        self.full_checks = 0
        self.samples = 0

    def _reset_full(self, logits: np.ndarray) -> None:
        self._full_np["id"] = self._ids
        self._full_np["logit"] = logits
        self._full_np["p"] = 0.0
        self._full_array.size = self.n_vocab
        self._full_array.selected = -1
        self._full_array.sorted = False

    def sample(self, ctx: Any, idx: int) -> int:
        pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        self._reset_full(logits)
        llama_cpp.llama_sampler_apply(self.penalties, ctypes.byref(self._full_array))
        token = int(np.argmax(self._full_np["logit"]))
        self._one[0] = llama_cpp.llama_token_data(token, float(self._full_np["logit"][token]), 0.0)
        self._one_array.size = 1
        self._one_array.selected = -1
        self._one_array.sorted = False
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(self._one_array))
        if self._one[0].logit == -math.inf:  # the grammar rejects the best token
            self.full_checks += 1
            llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(self._full_array))
            token = int(np.argmax(self._full_np["logit"]))
            if math.isinf(float(self._full_np["logit"][token])):
                raise RuntimeError("the grammar accepts no token at this point")
        llama_cpp.llama_sampler_accept(self.penalties, token)
        llama_cpp.llama_sampler_accept(self.grammar, token)
        self.samples += 1
        return token

    def close(self) -> None:
        for name in ("penalties", "grammar"):
            sampler = getattr(self, name, None)
            if sampler:
                llama_cpp.llama_sampler_free(sampler)
            setattr(self, name, None)

    def __del__(self) -> None:
        self.close()


_original_init_sampler = _llama.Llama._init_sampler
_INIT_SAMPLER = inspect.signature(_original_init_sampler)


def _init_sampler(self: _llama.Llama, *args: Any, **kwargs: Any) -> Any:
    bound = _INIT_SAMPLER.bind(self, *args, **kwargs)
    bound.apply_defaults()  # llama-cpp-python's own defaults for what the caller left out
    options = bound.arguments
    grammar = options["grammar"]
    if grammar is None or options["temp"] != 0.0 or options["logits_processor"] is not None or options["mirostat_mode"]:
        return _original_init_sampler(self, *args, **kwargs)
    return GreedyGrammarSampler(
        self._model.vocab,
        self._n_vocab,
        grammar._grammar,
        grammar._root,
        penalty_last_n=self.last_n_tokens_size,
        penalty_repeat=options["repeat_penalty"],
        penalty_freq=options["frequency_penalty"],
        penalty_present=options["presence_penalty"],
    )


def install() -> None:
    """Make ``Llama`` use :class:`GreedyGrammarSampler` for greedy sampling under a grammar."""
    _llama.Llama._init_sampler = _init_sampler  # type: ignore[method-assign]


def use_extra_buffer_types(system_info: str) -> bool:
    """Whether llama.cpp should repack the weights, given its ``llama_print_system_info()`` line."""
    return not re.search(r"\b(AVX512|AMX_INT8) = 1\b", system_info)


def set_weight_layout() -> bool:
    """Apply :func:`use_extra_buffer_types` to every model this process loads; returns the choice."""
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    extra = use_extra_buffer_types(info)
    defaults = llama_cpp.llama_model_default_params

    def model_params() -> llama_cpp.llama_model_params:
        params = defaults()
        params.use_extra_bufts = extra
        return params

    _llama.llama_cpp.llama_model_default_params = model_params  # type: ignore[attr-defined]
    print(f"summarizer: llama.cpp {info.strip()} -> use_extra_bufts={extra}", file=sys.stderr, flush=True)
    return extra


def main() -> None:
    check_llama_cpp()
    install()
    set_weight_layout()
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
