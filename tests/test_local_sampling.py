"""Greedy sampling under a grammar in the local model server: same tokens as llama-cpp-python's sampler chain.

Runs the real embedded model in this process (a few seconds); skipped when the model is not installed.
"""

from __future__ import annotations

import json

import pytest

from summarizer.backends._gguf import ensure_model
from summarizer.config import Settings
from summarizer.errors import ModelFileError

pytestmark = pytest.mark.local_model

llama_cpp = pytest.importorskip("llama_cpp")
from llama_cpp import llama as llama_module  # noqa: E402

from summarizer.backends import _patched_llama_server as patched  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {
        "holder": {"type": "string", "maxLength": 40},
        "demands": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 2},
    },
    "required": ["holder", "demands"],
}
PROMPT = (
    "The foreign minister of Norland said on Monday that Southia must withdraw its troops from the border "
    "and pay for the damaged bridge before any talks.\n\n"
    "Describe who demands what in the text above as a JSON object. Answer:"
)


@pytest.fixture(scope="module")
def llm(tmp_path_factory: pytest.TempPathFactory) -> object:
    cache = tmp_path_factory.mktemp("sampling-model")
    try:
        path = ensure_model(Settings(cache_dir=cache))
    except ModelFileError as exc:
        pytest.skip(f"embedded model not installed: {exc}")
    model = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=2, n_threads_batch=2, verbose=False)
    yield model
    model.close()


def generate(llm: object, grammar: object) -> tuple[list[int], str]:
    assert isinstance(llm, llama_cpp.Llama)
    llm.reset()
    tokens = llm.tokenize(PROMPT.encode("utf-8"))
    out: list[int] = []
    for token in llm.generate(tokens, temp=0.0, repeat_penalty=1.1, grammar=grammar):
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or len(out) >= 80:
            break
        out.append(token)
    return out, llm.detokenize(out).decode("utf-8", errors="replace")


def test_greedy_grammar_sampling_picks_the_same_tokens_as_the_full_vocabulary_check(
    llm: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    reference, reference_text = generate(llm, grammar)

    made: list[patched.GreedyGrammarSampler] = []

    def spy(self: object, *args: object, **kwargs: object) -> object:
        sampler = patched._init_sampler(self, *args, **kwargs)  # type: ignore[arg-type]
        if isinstance(sampler, patched.GreedyGrammarSampler):
            made.append(sampler)
        return sampler

    monkeypatch.setattr(llama_module.Llama, "_init_sampler", spy)
    fast, fast_text = generate(llm, grammar)

    assert len(made) == 1, "greedy sampling with a grammar did not use GreedyGrammarSampler"
    sampler = made[0]
    assert fast == reference, f"{fast_text!r} != {reference_text!r}"
    parsed = json.loads(fast_text)  # the grammar held: a complete JSON object of the schema
    assert set(parsed) == {"holder", "demands"} and len(parsed["demands"]) <= 2
    # Both paths ran: most tokens passed the one-token check, and at least one (the opening "{", which the
    # unconstrained model would not choose after "Answer:") needed the whole vocabulary filtered.
    assert sampler.samples == len(fast) + 1  # the last one is the end-of-generation token
    assert 0 < sampler.full_checks < sampler.samples


def test_other_sampling_settings_keep_llama_cpp_pythons_sampler(llm: object) -> None:
    assert isinstance(llm, llama_cpp.Llama)
    grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    assert isinstance(patched._init_sampler(llm, temp=0.0, grammar=grammar), patched.GreedyGrammarSampler)
    for kwargs in ({"temp": 0.7, "grammar": grammar}, {"temp": 0.0, "grammar": None}, {"temp": 0.0}):
        sampler = patched._init_sampler(llm, **kwargs)  # type: ignore[arg-type]
        assert not isinstance(sampler, patched.GreedyGrammarSampler), kwargs


@pytest.mark.parametrize(
    ("system_info", "repack"),
    [  # the lines printed by the three builds measured on this kind of machine
        (
            "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
            "OPENMP = 1 | REPACK = 1 | ",
            True,
        ),
        (
            "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | AVX512 = 1 | "
            "AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ",
            False,
        ),
        (
            "CPU : SSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | AVX512 = 1 | AMX_INT8 = 1 | "
            "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ",
            False,
        ),
    ],  # fmt: skip
)
def test_weights_stay_in_place_on_avx512_and_amx_builds(system_info: str, repack: bool) -> None:
    assert patched.use_extra_buffer_types(system_info) is repack


def test_the_installed_build_loads_models_with_the_chosen_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_module.llama_cpp, "llama_model_default_params", llama_cpp.llama_model_default_params)
    info = llama_cpp.llama_print_system_info().decode()
    chosen = patched.set_weight_layout()
    assert chosen is patched.use_extra_buffer_types(info)
    assert llama_module.llama_cpp.llama_model_default_params().use_extra_bufts is chosen
