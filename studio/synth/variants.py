"""More rows in the hand-written rows' own words: each seed row again with its names, IDs and numbers changed.

    python -m studio.synth.variants --per-row 8 --seed 0 --out data/train-variants.jsonl

    >>> from studio.synth.variants import Variants
    >>> from studio.dataset import read_jsonl
    >>> rows = Variants(read_jsonl("data/train.jsonl")).build(per_row=2, seed=0).rows   # originals, then variants

A model trained for many epochs on a few hundred hand-written rows learns their answers by heart, values included,
and on a new request writes the value it has seen (`priority = 50` where 5 was asked). A variant changes, through
request, answer and intent alike, the literals the request states and the answer copies:

- names of the row's own: a word of the request that the answer uses as a name (a resource label, the value of a
  `name`-like key, a Kubernetes name or label), that no Terraform type or argument spells and that at most
  `RARE_ROWS` seed answers use (`catalog`, `bastion`; never `postgres` or `cpu`), replaced by a project word;
- IDs (`vpc-0aa1`, `sg-0f1e2d3c4b5a69788`, account numbers), by as many random hex digits or digits;
- e-mail addresses and domains, by others;
- numbers the answer sets as the whole value of a key (`threshold = 80`, `containerPort: 8080`), by a value that
  the same key takes in another seed or generated answer, so that a variant never asks for a value nobody writes,
  within half and twice the original (`plausible`: a `threshold` is a CPU percentage in one answer and bytes in
  another).

A variant is kept only when the studio's validators pass it and it meets its own changed intent (as its original
does), when it is not near an eval row (`build.EvalGuard`), and when it is new. Rows with nothing to change give
none. The output holds the originals first, so it can replace `data/train.jsonl` as an SFT job's `dataset`.

Measured on the gpu recipe's SFT (twenty-sixth session, one H100, 600 steps, two seeds; `bench/sweeps/README.md`):
the seed rows' 2,403 variants as 09939a4 wrote them (before `plausible`) raised the eval split's intent score by 0.4
points (sd 1.3) beside as many generated rows, by 1.6 (sd 2.0) beside all 10,000, within one run's noise; the models
copy the request's numbers as often either way. The recipes do not use them; a dataset of few hand-written rows may
gain more. Now 2,155 variants of 319 seed rows (`plausible` keeps 740 of those draws' numbers from straying).
"""

from __future__ import annotations

import argparse
import collections
import copy
import gzip
import json
import random
import re
import string
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio import dataset, workspace
from studio.dataset import Row
from studio.synth import build
from studio.synth.values import DOMAINS, PROJECTS, TEAMS

# A name is the row's own when at most this many seed answers use the word.
RARE_ROWS = 3
NAMES = tuple(dict.fromkeys(PROJECTS + TEAMS + ("atlas", "beacon", "harbor", "summit", "falcon", "orchid",
                                                 "quartz", "nimbus", "cobalt", "meadow", "juniper", "ember")))
# Domains of the platforms themselves (API groups, registries, device plugins): never another's.
KEPT_DOMAINS = ("k8s.io", "kubernetes.io", "amazonaws.com", "amazon.com", "aws.dev", "nvidia.com", "nvcr.io",
                "docker.io", "docker.com", "azurecr.io", "gcr.io", "ghcr.io", "quay.io", "github.com",
                "githubusercontent.com", "googleapis.com", "cert-manager.io", "istio.io", "prometheus.io",
                "grafana.com", "helm.sh", "letsencrypt.org", "pagerduty.com", "slack.com", "datadoghq.com",
                "jetstack.io", "opentelemetry.io")
# Keys whose value names something (Terraform arguments, Kubernetes fields, tag keys), matched on the key's end.
NAME_KEY = re.compile(r"(?:name|identifier|bucket|family|app|Name|id|group|repository|topic|queue|cluster|"
                      r"alias|title|component|secretName|claimName|serviceName|host|hostname|subject)$")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_ID = re.compile(r"(?<![A-Za-z0-9-])([a-z]{1,6})-((?=[0-9a-f]*[0-9])[0-9a-f]{4,17})(?![A-Za-z0-9-])")
_LONG_NUMBER = re.compile(r"(?<![\w.\-/:$])(\d{6,})(?![\w/]|[.:\-]\d)")
_NUMBER = re.compile(r"(?<![\w.\-/:$,])(\d{1,5})(?![\w/]|[.:,\-]\d)")
_EMAIL = re.compile(r"(?<![\w.+-])([a-z0-9][\w.+-]*)@((?:[a-z0-9-]+\.)+[a-z]{2,})(?![\w-])")
_DOMAIN = re.compile(r"(?<![\w.@-])((?:[a-z0-9-]+\.)*([a-z0-9-]+\.(?:com|net|org|io|dev|app|cloud|tech|internal)))"
                     r"(?![\w-])")
# `key = 80`, `key = "80"`, `key: 80`, `- key: 80` on a line of its own.
_KEY_VALUE = re.compile(r'^(\s*(?:-\s+)?"?([A-Za-z_][\w.-]*)"?\s*[=:]\s*"?)(\d+)("?\s*,?\s*)$', re.M)
_LABEL = re.compile(r'^\s*(?:resource|data|module)\s+(?:"[\w-]+"\s+)?"([\w-]+)"', re.M)
_STRING_VALUE = re.compile(r'^\s*(?:-\s+)?"?([A-Za-z_][\w.-]*)"?\s*[=:]\s*"?([^"\n{}\[\]]+)"?\s*,?\s*$', re.M)


def _tokens(text: str) -> set[str]:
    """The lowercased words of `text`, split at case changes too (`slackBot` -> slack, bot)."""
    words = set()
    for word in _WORD.findall(text):
        for part in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", word):
            words.add(part.lower())
    return words


def _schema_words() -> set[str]:
    """Every word of an AWS resource type or argument name (the schema's keys), which a name must not be."""
    from studio.iac.aws_schema import SCHEMA_PATH

    with gzip.open(SCHEMA_PATH, "rt", encoding="utf-8") as handle:
        text = handle.read()
    return {part for key in re.findall(r'"([a-z][a-z0-9_]*)":', text) for part in key.split("_") if part}


def _case_like(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def word_pattern(word: str) -> re.Pattern:
    """`word` in lower, Title or UPPER case as a whole word or a word of an identifier (`bastion_cpu`)."""
    lower, title, upper = word.lower(), word[:1].upper() + word[1:].lower(), word.upper()
    return re.compile(rf"(?<![A-Za-z0-9])(?:{re.escape(lower)}(?![a-z0-9])|{re.escape(title)}(?![a-z0-9])|"
                      rf"{re.escape(upper)}(?![A-Z0-9]))")


def plausible(number: int, request: str) -> tuple[int, int]:
    """The values a number of `request` may change to: within half and twice it (a key such as `threshold` takes
    CPU percentages in one answer and bytes in another), at most 100 where the request writes it as a percentage.

    >>> plausible(80, "averages over 80% CPU"), plausible(3, "a 3-replica StatefulSet"), plausible(0, "0 days")
    ((40, 100), (1, 6), (0, 0))
    """
    low, high = (max(1, number // 2) if number else 0), number * 2
    if re.search(rf"(?<![\w.]){number}\s*(?:%|percent)", request):
        high = min(high, 100)
    return low, high


@dataclass
class Change:
    """One literal of a row and what a variant writes instead."""

    kind: str  # "word", "text" (an ID, e-mail or domain, replaced as written) or "number"
    old: str
    new: str
    keys: frozenset = frozenset()  # numbers: the keys whose whole value it is


@dataclass
class VariantsResult:
    rows: list[Row]
    stats: dict = field(default_factory=dict)


class Variants:
    """Variants of seed rows; `values` (key -> integers seen as its whole value) comes from `rows` and `more`."""

    def __init__(self, rows: list[Row], more: list[Row] = (), eval_rows: list[Row] | None = None):
        self.rows = list(rows)
        self.used_in = collections.Counter(word for row in self.rows for word in _tokens(row.output))
        self.schema = _schema_words()
        self.values: dict[str, set[int]] = collections.defaultdict(set)
        for row in list(self.rows) + list(more):
            for match in _KEY_VALUE.finditer(row.output):
                self.values[match.group(2)].add(int(match.group(3)))
        self.guard = build.EvalGuard(eval_rows if eval_rows is not None else dataset.read_jsonl(build.EVAL_SPLIT))

    # -- what a row lets change ------------------------------------------------------------------------------

    def name_words(self, row: Row) -> list[str]:
        """Words of the request that the answer uses as names of the row's own."""
        request = f"{row.instruction}\n{row.input}"
        named: set[str] = set()
        for label in _LABEL.findall(row.output):
            named |= _tokens(label)
        for key, value in _STRING_VALUE.findall(row.output):
            if NAME_KEY.search(key.split(".")[-1]) or key in ("Name", "app", "name"):
                named |= _tokens(value)
        return [word for word in sorted(_tokens(request) & named)
                if len(word) >= 3 and word.isalpha() and word not in self.schema and self.used_in[word] <= RARE_ROWS]

    def numbers(self, row: Row) -> list[tuple[str, frozenset]]:
        """Numbers of the request that the answer sets as the whole value of keys, and nowhere else."""
        request = f"{row.instruction}\n{row.input}"
        stated = collections.Counter(_NUMBER.findall(request))
        found = []
        for number, times in stated.items():
            keys = {m.group(2) for m in _KEY_VALUE.finditer(row.output) if m.group(3) == number}
            elsewhere = len(re.findall(rf"(?<![\w.\-/:$]){number}(?![\w/]|[.:\-]\d)", row.output))
            if times == 1 and keys and elsewhere == sum(1 for m in _KEY_VALUE.finditer(row.output)
                                                          if m.group(3) == number):
                found.append((number, frozenset(keys)))
        return found

    @staticmethod
    def ids(row: Row) -> list[str]:
        """IDs of the request (`vpc-0aa1`, `sg-0f1e2d3c4b5a69788`) that the answer or the intent uses."""
        request, intent = f"{row.instruction}\n{row.input}", json.dumps(row.intent)
        found = (f"{prefix}-{digits}" for prefix, digits in _ID.findall(request))
        return [old for old in dict.fromkeys(found) if old in row.output or old in intent]

    def changes(self, row: Row, rng: random.Random) -> list[Change]:
        """One draw of new values for everything `row` lets change."""
        request = f"{row.instruction}\n{row.input}"
        everything = f"{request}\n{row.output}\n{json.dumps(row.intent)}".lower()
        out: list[Change] = []
        names = [n for n in NAMES if n not in everything]
        rng.shuffle(names)
        for word in self.name_words(row):
            if names:
                out.append(Change("word", word, names.pop()))
        for old in self.ids(row):
            prefix, digits = old.split("-", 1)
            out.append(Change("text", old, f"{prefix}-" + "".join(rng.choice("0123456789abcdef") for _ in digits)))
        for old in dict.fromkeys(_LONG_NUMBER.findall(request)):
            if old in row.output:
                out.append(Change("text", old, rng.choice("123456789") + "".join(
                    rng.choice(string.digits) for _ in old[1:])))
        for local, domain in dict.fromkeys(_EMAIL.findall(request)):
            old = f"{local}@{domain}"
            if old in row.output or old in json.dumps(row.intent):
                out.append(Change("text", old, f"{rng.choice(('oncall', 'alerts', 'ops', 'team', 'admin'))}-"
                                               f"{rng.choice(NAMES)}@{rng.choice(DOMAINS)}"))
        for _, root in dict.fromkeys(_DOMAIN.findall(request)):
            if (root in row.output and not any(root in c.old for c in out)
                    and root not in KEPT_DOMAINS and sum(root in r.output for r in self.rows) <= RARE_ROWS):
                others = [d for d in DOMAINS if d not in everything]
                if others:
                    out.append(Change("text", root, rng.choice(others)))
        for number, keys in self.numbers(row):
            seen = set.intersection(*(self.values.get(k, set()) for k in keys))
            low, high = plausible(int(number), request)
            choices = sorted(v for v in seen if str(v) != number and low <= v <= high
                             and not re.search(rf"(?<!\d){v}(?!\d)", request))
            if choices:
                out.append(Change("number", number, str(rng.choice(choices)), frozenset(keys)))
        return out

    # -- applying them ---------------------------------------------------------------------------------------

    @staticmethod
    def _apply_text(text: str, changes: list[Change], where: str) -> str:
        for change in changes:
            if change.kind == "word":
                text = word_pattern(change.old).sub(lambda m, c=change: _case_like(c.new, m.group(0)), text)
            elif change.kind == "text":
                text = text.replace(change.old, change.new)
            elif where == "request":
                text = _NUMBER.sub(lambda m, c=change: c.new if m.group(1) == c.old else m.group(0), text)
            elif where == "output":
                text = _KEY_VALUE.sub(lambda m, c=change: m.group(1) + c.new + m.group(4)
                                      if m.group(3) == c.old and m.group(2) in c.keys else m.group(0), text)
        return text

    @staticmethod
    def _apply_intent(value, changes: list[Change], key: str = ""):
        if isinstance(value, dict):
            return {k: Variants._apply_intent(v, changes, k if k not in ("gte", "lte", "gt", "lt", "eq") else key)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [Variants._apply_intent(v, changes, key) for v in value]
        if isinstance(value, (int, str)) and not isinstance(value, bool):
            for change in changes:  # a number the answer sets, as the intent states it (`14` or `"14"`)
                if change.kind == "number" and str(value) == change.old and key.split(".")[-1] in change.keys:
                    return type(value)(change.new)
        if isinstance(value, str):
            return Variants._apply_text(value, [c for c in changes if c.kind != "number"], "intent")
        return value

    def variant(self, row: Row, changes: list[Change], number: int) -> Row:
        return Row(instruction=self._apply_text(row.instruction, changes, "request"),
                   input=self._apply_text(row.input, changes, "request"),
                   output=self._apply_text(row.output, changes, "output"), kind=row.kind,
                   intent=self._apply_intent(copy.deepcopy(row.intent), changes),
                   tags=list(row.tags) + (["variant"] if "variant" not in row.tags else []),
                   id=f"{row.id}-v{number}")

    def build(self, per_row: int = 8, seed: int = 0, rows: list[Row] | None = None,
              on_progress=None) -> VariantsResult:
        """`rows` (the seed rows by default), then up to `per_row` checked variants of each."""
        started = time.monotonic()
        counts = collections.Counter()
        rows = self.rows if rows is None else rows
        seen = {(r.instruction, r.input) for r in self.rows}
        out = list(rows)
        for done, row in enumerate(rows):
            rng = random.Random(f"{seed}:{row.id}")
            if build.check(row):
                counts["original_fails"] += 1
                continue
            made = 0
            for attempt in range(per_row * 2):
                if made >= per_row:
                    break
                changes = self.changes(row, rng)
                if not changes:
                    counts["nothing_to_change"] += 1
                    break
                new = self.variant(row, changes, made + 1)
                if (new.instruction, new.input) in seen:
                    counts["duplicate"] += 1
                    continue
                if build.check(new):
                    counts["fails_checks"] += 1
                    continue
                if self.guard.closest(new)[0] >= self.guard.limit:
                    counts["near_eval"] += 1
                    continue
                seen.add((new.instruction, new.input))
                out.append(new)
                made += 1
            counts["rows_with_variants"] += made > 0
            counts["variants"] += made
            if on_progress:
                on_progress(done + 1, len(rows))
        return VariantsResult(out, dict(counts, seconds=round(time.monotonic() - started, 1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.synth.variants", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="data/train.jsonl", help="the seed rows")
    parser.add_argument("--values-from", default="data/generated.jsonl",
                        help="more answers whose key values a number may take ('' for the seed rows' only)")
    parser.add_argument("--per-row", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="data/train-variants.jsonl")
    args = parser.parse_args(argv)
    rows = dataset.read_jsonl(args.rows)
    more = dataset.read_jsonl(args.values_from) if args.values_from and Path(args.values_from).exists() else []
    result = Variants(rows, more).build(args.per_row, args.seed)
    workspace.atomic_write_text(Path(args.out), dataset.jsonl_text(result.rows))
    print(json.dumps({"out": args.out, "rows": len(result.rows), **result.stats}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
