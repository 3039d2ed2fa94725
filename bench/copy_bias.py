"""An experiment: do guided answers meet more of a request when the tokens of the request's own words are favoured?

    python bench/copy_bias.py --adapter workspace/runs/cpu20-sft/adapter --bias 0      # guided as the studio is
    python bench/copy_bias.py --adapter workspace/runs/cpu20-sft/adapter --bias 2

Half the clauses the models miss name an argument's value (`bench/type_hints.py`'s reading): the retention in days,
the regions, the capacities, the names a request spells out ("14-day backups", "replicas in eu-west-1 and
ap-southeast-2", "between 0.5 and 8 ACUs"). Here every token that spells one of the request's words (as it would
begin a value after a quote or a space) gets `--bias` added to its logit at each step before the guided decoding's
mask, so the grammar still decides what may come and the bias only tips close choices towards what was asked. Words
of no content ("the", "with", "create", ...) and tokens without a letter or digit get none. Only the request (the
user turn) is read. The rest is the studio's guided evaluation (`evaluation.evaluate`, llama.cpp on a CPU), the
bias added to `studio.guided.decoding.GuidedLogitsProcessor` through a patch in this process: an experiment, not a
feature.

On 2026-12-06 (twenty-third session), this 2-core CPU, the cpu recipe's SFT adapter (`cpu20-sft`, the only trained
adapter on this machine), guided, greedy, 512 new tokens, the 121 eval rows, about 5 minutes a run; in %:

| bias | te schema | te intent | te intent score | ku schema | ku intent | ku intent score | all intent score | loops |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| 0 (the studio) | 94.4 | 0.0 | 8.3 | 95.9 | 0.0 | 8.1 | 8.2 | 12.4 |
| 2 | 94.4 | 0.0 | 9.7 | 95.9 | 0.0 | 7.2 | 8.7 | 17.4 |
| 4 | 95.8 | 1.4 | 10.5 | 83.7 | 0.0 | 7.4 | 9.2 | 12.4 |

Terraform gains 1.4 and 2.2 points of score and, at 4, the cpu model's first Terraform answer that meets its request
whole (1 of 72); Kubernetes loses a little score and, at 4, 12 points of schema-valid answers. This model mostly
writes the wrong resource types (an SQS queue for an Aurora cluster), which no bias on the request's words fixes, so
the gain is small; a model that writes the right types (the gpu recipe's) was not at hand here to try. Not a setting
of the studio.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from one_shot import eval_rows, evaluate_and_print, experiment_parser  # noqa: E402
from studio import generation  # noqa: E402
from studio.guided import decoding  # noqa: E402

_USER_TURN = re.compile(r"<\|im_start\|>user\n(.*?)<\|im_end\|>", re.S)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]|[A-Za-z0-9]")
PLAIN = frozenset("""a an the and or but of to in on at for from by with without as is are be been being it its this
that these those each every all any some one our we you your me my i please should must can will would so then than into
onto over under up down out off via per also only just not no yes create make write set setup add use using give
need needs want wants terraform kubernetes resource resources manifest config configuration code module called named
which who whose what when where how there their them they he she his her""".split())


def request_tokens(tokenizer, text: str) -> list[int]:
    """The token ids that spell the request's content words, alone or after a space, a quote or a dash."""
    ids: set[int] = set()
    for word in set(_WORD.findall(text)):
        if word.lower() in PLAIN:
            continue
        for spelled in (word, " " + word, '"' + word, "-" + word):
            for token in tokenizer.encode(spelled, add_special_tokens=False):
                piece = tokenizer.decode([token]).strip().lower()
                if re.search(r"[a-z0-9]", piece) and piece not in PLAIN:
                    ids.add(token)
    return sorted(ids)


def favour_request_words(bias: float) -> None:
    """Patch the guided decoding: each row's request tokens get `bias` added before the grammar's mask."""
    import torch

    call = decoding.GuidedLogitsProcessor.__call__

    def patched(self, input_ids, scores):
        if not hasattr(self, "_favoured"):
            self._favoured = []
            for prompt in self.tokenizer.batch_decode(input_ids, skip_special_tokens=False):
                turn = _USER_TURN.search(prompt)
                self._favoured.append(torch.tensor(request_tokens(self.tokenizer, turn[1] if turn else ""),
                                                   dtype=torch.long))
        for row, tokens in enumerate(self._favoured):
            if len(tokens):
                scores[row, tokens[tokens < scores.shape[-1]]] += bias
        return call(self, input_ids, scores)

    decoding.GuidedLogitsProcessor.__call__ = patched


def main() -> None:
    parser = experiment_parser(__doc__)
    parser.add_argument("--bias", type=float, default=2.0, help="added to the logits of the request's tokens (0: none)")
    args = parser.parse_args()

    rows = eval_rows(args)
    if args.bias:
        favour_request_words(args.bias)
    evaluate_and_print(rows, args.adapter, generation.Settings(max_new_tokens=args.tokens, guided=True), args.keep,
                       "bias", args.bias)


if __name__ == "__main__":
    main()
