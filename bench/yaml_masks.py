"""Where a Kubernetes mask's time goes: one llguidance mask at four states of a Deployment, with Qwen's vocabulary.

    python bench/yaml_masks.py                 # the grammar as the studio builds it, then without blank/comment lines

Each state's mask is computed 20 times on fresh copies of a matcher that has consumed the prefix (the lexer's cache
warm, as in a worker after its warm-up); the fastest is printed. The baseline is the grammar as is (Lark form,
`studio.guided.grammars.grammar("kubernetes").lark`); the variant drops the blank and comment lines (`GAP`) that
every mapping's repetition allows between its entries, an experiment on where the time goes, not a grammar the
studio could ship (it would refuse comment lines). On 2026-12-05, this 2-core CPU (fifteenth session):

| state | as built | without GAP in the repetitions |
| --- | --- | --- |
| a value at column 2 (`  name: we`) | 0.79 ms | 0.55 ms |
| a value at column 14 (`memory: 12`) | 4.02 ms | 1.37 ms |
| a line's start at column 10 | 1.79 ms | 0.016 ms |
| a list item's value at column 12 (`- --por`) | 2.21 ms | 0.56 ms |

A blank or comment line may close any of the mappings open around a line, so after every line-ending token the
parser keeps a way for it at every level, and the cost grows with the depth. A grammar that takes those lines at
one place only (after the line before them, not in every mapping's repetition) would keep the language and drop
most of the cost; llguidance's greedy lexer rules out folding them into the line's lexeme (after a newline, the
spaces of a blank line and of the next line's indentation read alike).
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
    """The Lark grammar with the GAP alternative taken out of every `x_more` repetition."""
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

    from studio.guided.grammars import grammar

    tokenizer = qwen25_tokenizer(Path(tempfile.mkdtemp()))
    vocab = 151936  # Qwen2.5-0.5B's logits
    lark = grammar("kubernetes").lark
    built = masks(lark, tokenizer, vocab, args.repeats)
    bare = masks(without_gaps(lark), tokenizer, vocab, args.repeats)
    print(f"{'state':<36} {'as built':>20} {'without GAP in the repetitions':>32}")
    for name in STATES:
        (a, allowed_a), (b, allowed_b) = built[name], bare[name]
        print(f"{name:<36} {a * 1000:9.3f} ms ({allowed_a:6d}) {b * 1000:20.3f} ms ({allowed_b:6d})")


if __name__ == "__main__":
    main()
