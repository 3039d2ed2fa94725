"""Build a generated dataset: rows drawn round-robin over resource types, patterns and kinds, each one checked by
the studio's validators against its own intent, deduplicated, and kept away from the eval split.

    >>> from studio.synth.build import generate
    >>> result = generate(40, seed=1)
    >>> len(result.rows), result.stats["invalid"]
    (40, 0)
    >>> result.rows[0].id, result.rows[0].kind
    ('gen-tf-000000', 'terraform')

The same arguments give the same rows (every row draws from its own `random.Random` seeded by the seed, the
kind of row and its number). `python -m studio.synth` writes them to a file (see `studio/synth/__main__.py`).
"""

from __future__ import annotations

import collections
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from studio import dataset
from studio.dataset import Row
from studio.synth import kubernetes as k8s
from studio.synth import rows as tf_rows
from studio.synth import terraform
from studio.synth.patterns import PATTERNS

EVAL_SPLIT = Path(__file__).resolve().parents[2] / "data" / "eval.jsonl"
# A generated row at or above this word-3-shingle Jaccard with any eval row is dropped (the bound).
EVAL_DISTANCE = 0.5
TERRAFORM_SHARE = 0.6
PATTERN_SHARE = 0.3  # of the Terraform rows


@dataclass
class BuildResult:
    rows: list[Row]
    stats: dict = field(default_factory=dict)
    rejected: list[tuple[Row, str]] = field(default_factory=list)


class EvalGuard:
    """Word-3-shingle Jaccard of a row against every eval row, through an index of the eval rows' shingles."""

    def __init__(self, eval_rows: list[Row], limit: float = EVAL_DISTANCE):
        self.limit = limit
        self.sets = [dataset.shingles(row) for row in eval_rows]
        self.ids = [row.id for row in eval_rows]
        self.index: dict[tuple, list[int]] = collections.defaultdict(list)
        for number, shingles in enumerate(self.sets):
            for shingle in shingles:
                self.index[shingle].append(number)

    def closest(self, row: Row) -> tuple[float, str]:
        mine = dataset.shingles(row)
        shared = collections.Counter(i for s in mine for i in self.index.get(s, ()))
        best, best_id = 0.0, ""
        for number, common in shared.items():
            score = common / (len(mine) + len(self.sets[number]) - common)
            if score > best:
                best, best_id = score, self.ids[number]
        return best, best_id


def select_types(services: list[str] | None = None) -> list[str]:
    """Supported resource types, those of the given services (keys of POPULAR_SERVICES or type prefixes)."""
    types = list(terraform.supported_types())
    if not services:
        return types
    wanted = []
    for tf_type in types:
        if any(terraform.service_of(tf_type) == s or tf_type.startswith(f"aws_{s}_") or tf_type == f"aws_{s}"
               for s in services):
            wanted.append(tf_type)
    return wanted


def select_patterns(services: list[str] | None = None) -> list[str]:
    if not services:
        return list(PATTERNS)
    types = set(select_types(services))
    found = []
    for name, make in PATTERNS.items():
        spec = make(random.Random(0))
        if any(b.keyword == "resource" and b.labels[0] in types for b in spec.blocks):
            found.append(name)
    return found


def select_kinds(kinds: list[str] | None = None) -> list[str]:
    if not kinds:
        return list(k8s.KINDS)
    unknown = [k for k in kinds if k not in k8s.KINDS]
    if unknown:
        raise ValueError(f"unknown Kubernetes kind(s) {', '.join(unknown)}; known: {', '.join(k8s.KINDS)}")
    return list(kinds)


def _weighted(names: list[str], heavy: set[str], weight: int) -> list[str]:
    """`names` once each, then the `heavy` ones `weight - 1` more times, for a round-robin in those shares."""
    return names + [n for _ in range(weight - 1) for n in names if n in heavy]


def _plan(count: int, terraform_share: float, types: list[str], patterns: list[str], kinds: list[str]):
    """(source, list of names) per row: round-robin over types, patterns and kinds in their shares.

    The types with a profile (the ones people write most) and the seed's kinds come up three times as often as
    the rest; a row whose draws keep failing falls back to the next name of its list.
    """
    from studio.synth.profiles import PROFILES

    if not (types or patterns):
        terraform_share = 0.0
    elif not kinds:
        terraform_share = 1.0
    tf_count = round(count * terraform_share)
    pattern_count = round(tf_count * PATTERN_SHARE) if types else tf_count
    if not patterns:
        pattern_count = 0
    types = _weighted(types, set(PROFILES), 3)
    kinds = _weighted(kinds, set(k8s.SEED_KINDS) | {"App"}, 3)
    plan = [("pattern", patterns, i) for i in range(pattern_count)]
    plan += [("resource", types, i) for i in range(tf_count - pattern_count)]
    plan += [("kubernetes", kinds, i) for i in range(count - tf_count)]
    return plan


def make_row(source: str, name: str, seed: int, number: int, attempt: int = 0) -> Row:
    rng = random.Random(f"{seed}:{source}:{name}:{number}:{attempt}")
    if source == "kubernetes":
        return k8s.manifest_row(name, rng, "")
    spec = PATTERNS[name](rng) if source == "pattern" else terraform.resource_row(name, rng)
    return tf_rows.terraform_row(spec, rng, "")


def check(row: Row) -> str:
    """Why a generated row is not valid ("" when it passes the validators and its own intent)."""
    from studio.iac import validate

    report = validate(row.output, row.kind, row.intent, best_practice=False)
    if report.ok:
        return ""
    reasons = [str(r) for v in report.verdicts.values() for r in v.reasons if r.severity == "error"]
    return reasons[0] if reasons else report.summary()


def generate(count: int, seed: int = 0, *, terraform_share: float = TERRAFORM_SHARE,
             services: list[str] | None = None, kinds: list[str] | None = None,
             eval_rows: list[Row] | None = None, existing: list[Row] = (), max_attempts: int = 4,
             progress=None) -> BuildResult:
    """`count` valid rows, seeded; a row that fails a check is drawn again (up to `max_attempts` times)."""
    if count < 0:
        raise ValueError(f"count must be 0 or more, not {count}")
    if not 0 <= terraform_share <= 1:
        raise ValueError(f"terraform_share must be between 0 and 1, not {terraform_share}")
    started = time.monotonic()
    types = select_types(services) if terraform_share > 0 else []
    patterns = select_patterns(services) if terraform_share > 0 else []
    kind_names = select_kinds(kinds) if terraform_share < 1 else []
    if services and not (types or patterns):
        raise ValueError(f"no resource type matches the services {', '.join(services)}; services are "
                         f"{', '.join(terraform.POPULAR_SERVICES)} or a type prefix like s3 or lambda")
    plan = _plan(count, terraform_share, types, patterns, kind_names)
    guard = EvalGuard(eval_rows if eval_rows is not None else dataset.read_jsonl(EVAL_SPLIT))
    seen = {dataset.content_key(row) for row in existing}
    kept: list[Row] = []
    rejected: list[tuple[Row, str]] = []
    counts = collections.Counter()
    numbers = collections.Counter()
    for step, (source, names, turn) in enumerate(plan):
        placed = False
        for shift in range(min(len(names), 8)):
            name = names[(turn + shift) % len(names)]
            for attempt in range(max_attempts):
                row = make_row(source, name, seed, step, attempt + max_attempts * shift)
                counts["generated"] += 1
                why = check(row)
                if not why:
                    key = dataset.content_key(row)
                    if key in seen:
                        why = "duplicate"
                        counts["duplicates"] += 1
                    else:
                        score, close = guard.closest(row)
                        if score >= guard.limit:
                            why = f"too close to eval row {close} (Jaccard {score:.2f})"
                            counts["near_eval"] += 1
                else:
                    counts["invalid"] += 1
                if why:
                    rejected.append((row, why))
                    continue
                seen.add(key)
                prefix = "gen-k8s" if row.kind == "kubernetes" else "gen-tf"
                row.id = f"{prefix}-{numbers[prefix]:06d}"
                numbers[prefix] += 1
                row.tags = list(dict.fromkeys([*row.tags, source if source != "kubernetes" else name.lower()]))
                kept.append(row)
                placed = True
                break
            if placed:
                break
        if progress is not None and step % 200 == 0:
            progress(step, len(plan))
    stats = coverage(kept)
    stats.update(generated=counts["generated"], invalid=counts["invalid"], duplicates=counts["duplicates"],
                 near_eval=counts["near_eval"], seconds=round(time.monotonic() - started, 1),
                 validity=round(1 - counts["invalid"] / max(1, counts["generated"]), 4))
    return BuildResult(kept, stats, rejected)


RESOURCE = re.compile(r'^\s*(resource|data)\s+"([\w-]+)"', re.M)
KIND_LINE = re.compile(r"^kind:\s*(\w+)", re.M)


def resource_types(row: Row) -> set[str]:
    """The resource types (and `data.<type>` data sources) a Terraform row's answer declares."""
    return {(t if keyword == "resource" else f"data.{t}") for keyword, t in RESOURCE.findall(row.output)}


def coverage(rows: list[Row]) -> dict:
    """What a set of rows covers: rows by kind, resource types, patterns, Kubernetes kinds."""
    types, kinds, patterns = set(), set(), set()
    for row in rows:
        if row.kind == "terraform":
            types |= {t for t in resource_types(row) if not t.startswith("data.")}
            if "pattern" in row.tags:
                patterns.add(row.tags[2])
        else:
            kinds |= set(KIND_LINE.findall(row.output))
    by_kind = collections.Counter(row.kind for row in rows)
    return {"rows": len(rows), "terraform": by_kind["terraform"], "kubernetes": by_kind["kubernetes"],
            "resource_types": len(types), "patterns": len(patterns), "kinds": len(kinds)}


def unseen_share(eval_rows: list[Row], train_rows: list[Row]) -> tuple[float, list[str], set[str]]:
    """The share of the eval split's Terraform types (resources and data sources) no training row declares."""
    wanted = set().union(*(resource_types(r) for r in eval_rows if r.kind == "terraform"))
    seen = set().union(*(resource_types(r) for r in train_rows if r.kind == "terraform"))
    missing = sorted(wanted - seen)
    return (len(missing) / len(wanted) if wanted else 0.0), missing, wanted
