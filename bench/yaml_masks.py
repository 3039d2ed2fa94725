"""Where a Kubernetes mask's time goes: one llguidance mask at four states of a Deployment, with Qwen's vocabulary.

    python bench/yaml_masks.py      # g18 (the baseline), the grammar as built now, and one without comment lines

Each state's mask is computed 20 times on fresh copies of a matcher that has consumed the prefix (the lexer's cache
warm, as in a worker after its warm-up); the fastest is printed. Three Lark forms of the same Kubernetes grammar:
g18, the baseline, takes blank and comment lines (`GAP`) in every mapping's and list's repetition and before a
mapping's first entry (`kubernetes_grammar.repeat_left_recursively` alone); the grammar as the studio builds it now
(g19, `refine_lark`) takes them right after the line before them (`gaps_after_lines`); the third drops them from the
repetitions without taking them anywhere else, an experiment on where the time goes (it refuses comment lines). On
2026-12-05, this 2-core CPU (fifteenth session; the same tokens allowed by g18 and g19 at each state):

| state | g18 | g19 (as built) | no comment lines (experiment) |
| --- | --- | --- | --- |
| a value at column 2 (`  name: we`) | 0.82 ms | 0.58 ms | 0.55 ms |
| a value at column 14 (`memory: 12`) | 4.05 ms | 1.44 ms | 1.43 ms |
| a line's start at column 10 | 1.79 ms | 0.11 ms | 0.016 ms |
| a list item's value at column 12 (`- --por`) | 2.21 ms | 0.62 ms | 0.56 ms |

A blank or comment line may close any of the mappings open around a line, so with g18 after every line-ending token
the parser kept a way for it at every open level, and the cost grew with the depth; taken after the line before it,
it has one way.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEPLOYMENT = ("```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n"
              "  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx\n")
STATES = {
    "a value at column 2": "```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: we",
    "a value at column 14": DEPLOYMENT + "          resources:\n            limits:\n              memory: 12",
    "a line's start at column 10": DEPLOYMENT,
    "a list item's value at column 12": DEPLOYMENT + "          args:\n            - --por",
}


def without_gaps(lark: str) -> str:
    """The g18 Lark grammar with the GAP alternative taken out of every `x_more` repetition."""
    lines = []
    for line in lark.split("\n"):
        if re.match(r"\w+_more: ", line):
            line = line.replace(" | GAP)", ")")
        lines.append(line)
    return "\n".join(lines)


def masks(lark: str, tokenizer, vocab: int, repeats: int) -> dict[str, tuple[float, int]]:
    import llguidance
    from llguidance.torch import allocate_token_bitmask

    from studio.guided import decoding

    matcher = llguidance.LLMatcher(decoding.llguidance_tokenizer(tokenizer, vocab),
                                   llguidance.LLMatcher.grammar_from_lark(lark),
                                   limits=llguidance.LLParserLimits(**decoding._LIMITS), log_level=0)
    if matcher.is_error():
        raise SystemExit(matcher.get_error())
    mask = allocate_token_bitmask(1, vocab)
    figures = {}
    for name, prefix in STATES.items():
        ready = matcher.deep_copy()
        if not all(ready.consume_token(t) for t in tokenizer.encode(prefix, add_special_tokens=False)):
            raise SystemExit(f"the grammar refuses the prefix of {name!r}: {ready.get_error()}")
        times = []
        for _ in range(repeats):
            copy = ready.deep_copy()
            started = time.perf_counter()
            copy.unsafe_compute_mask_ptr(mask.data_ptr(), mask.numel() * 4)
            times.append(time.perf_counter() - started)
        allowed = sum(bin(word & 0xFFFFFFFF).count("1") for word in mask[0].tolist())
        figures[name] = (min(times), allowed)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    from guided import qwen25_tokenizer  # bench/guided.py: Qwen2.5's tokenizer, offline

    from llguidance.gbnf_to_lark import gbnf_to_lark

    from studio.guided import kubernetes_grammar
    from studio.guided.grammars import grammar

    tokenizer = qwen25_tokenizer(Path(tempfile.mkdtemp()))
    vocab = 151936  # Qwen2.5-0.5B's logits
    g18 = kubernetes_grammar.repeat_left_recursively(gbnf_to_lark(grammar("kubernetes").gbnf))
    forms = {"g18": g18, "g19 (as built)": grammar("kubernetes").lark, "no comment lines": without_gaps(g18)}
    figures = {label: masks(lark, tokenizer, vocab, args.repeats) for label, lark in forms.items()}
    print(f"{'state':<34}" + "".join(f"{label:>24}" for label in forms))
    for name in STATES:
        print(f"{name:<34}" + "".join(f"{figures[label][name][0] * 1000:12.3f} ms ({figures[label][name][1]:6d})"
                                      for label in forms))


if __name__ == "__main__":
    main()
