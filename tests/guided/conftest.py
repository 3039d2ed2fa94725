"""Grammars built once per test session into a temporary cache, and a byte-level tokenizer to check texts
against them (one token per byte: the grammar, not a vocabulary, decides what is accepted)."""

import pytest


@pytest.fixture(scope="session")
def grammars(tmp_path_factory):
    from studio.guided.grammars import grammar

    folder = tmp_path_factory.mktemp("grammars")
    return {kind: grammar(kind, folder) for kind in ("terraform", "kubernetes")}


@pytest.fixture(scope="session")
def byte_matchers(grammars):
    """kind -> a function telling whether a text is a whole answer of the grammar (None) or where it fails."""
    import llguidance
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    from studio.guided.decoding import _LIMITS

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)} | {"<|im_end|>": len(alphabet)}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(["<|im_end|>"])
    tokenizer = llguidance.LLTokenizer(core.to_str(), eos_token=vocab["<|im_end|>"])
    limits = llguidance.LLParserLimits(**_LIMITS)
    prototypes = {kind: llguidance.LLMatcher(tokenizer, llguidance.LLMatcher.grammar_from_lark(g.lark),
                                             limits=limits, log_level=0)
                  for kind, g in grammars.items()}

    def check(kind: str):
        def failure(text: str, whole: bool = True) -> str | None:
            """None when `text` is a whole answer of the grammar (or, with whole=False, the start of one)."""
            matcher = prototypes[kind].deep_copy()
            if matcher.consume_tokens(tokenizer.tokenize_str(text)) and (
                    not whole or matcher.consume_token(tokenizer.eos_token)):
                return None
            return matcher.get_error().split("<state>")[0] or "not a whole answer"
        return failure

    return {kind: check(kind) for kind in grammars}
