"""Worked examples: each request asked with the nearest training row's request and answer after it, for a model
that learns to adapt an example rather than to recall one.

    from studio import examples
    shown = examples.training_rows(rows, pool=rows + generated)     # the SFT's rows, each with its example
    examples.save_pool(run / "adapter", rows + generated)           # the pool travels with the adapter
    examples.attach(eval_rows, adapter_folder)                      # every later request gets its example

An SFT with `worked_examples` on (jobs.specs.SFTJob) trains on such rows and keeps its pool, the rows its examples
come from (its dataset and the whole of its mix dataset), as `examples.jsonl` in the adapter's folder. Whatever asks
that adapter later (the Generate and Compare tabs, the evaluation, GRPO and DPO from it, a merged export) gives each
request its nearest example from that pool, as in training: a model trained with examples answers worse without
one (bench/sweeps/results/retrieved-examples-cpu.md).

The example of a row is the pool row of the same kind whose instruction and input are nearest to it (TF-IDF cosine
over words). A training row's own row is left out and so are rows as near to it as no eval row is to a training row
(word 3-shingle Jaccard of the request above 0.31, the largest between an eval row and a training row,
data/README.md): without that a generated row's example would be its own template's twin, and the model would learn
to copy. A request asked later may take any pool row. With the SFT's `example_rerank` k, the example is instead, of
the k nearest such rows, the one whose answer holds the most of the request's words; the pool's `examples.json` keeps
k, so that later requests get theirs the same way. The example goes into the row's `input`, after its own, so the
rows stay Alpaca rows.

On 2026-12-07, one H100, the gpu recipe (LoRA r=512, 1,200 steps, seed 42, then its GRPO) on such rows against the
recipe's rows, guided, the 121 eval rows: requests met whole 9.9 → 14.9% after SFT and 9.1 → 13.2% after GRPO, the
intent score 30.5 → 33.9 and 28.6 → 32.9; seed 1 at 600 steps 5.0 → 10.7% (bench/sweeps/results/
retrieved-examples-cpu.md). The rows are about twice as long: the SFT's steps take about twice the time. At a
7.5-minute SFT budget (759 steps, `example_rerank` 40) 9.9 → 13.2% and 9.1 → 12.4%, so the gpu recipe trains with them
(bench/sweeps/results/recipe-gpu-h100.md); the nearest example instead (`example_rerank` 0) gave the same 13.2%. At the
recipe's 7.2 minutes on a slower H100 (556 steps) 10.7% and 9.9%: the gain follows the steps the budget leaves.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from studio import dataset, workspace

POOL_FILE = "examples.jsonl"
# How the examples are chosen from the pool (`rerank`), kept beside it: a model is asked as it was trained.
SETTINGS_FILE = "examples.json"
# The largest word 3-shingle Jaccard between an eval row and a training row (data/README.md, over whole rows:
# `dataset.shingles`); here it bounds the requests' shingles alone, the part an example is found by.
NEAREST_EVAL = 0.31
# Nearest rows looked at for one far enough from a training row.
CANDIDATES = 40
LEAD = "A similar request from the dataset and its answer, for reference; follow the request above, not this one:"


def words(row: dataset.Row) -> list[str]:
    return re.findall(r"[a-z0-9]+", f"{row.instruction} {row.input}".lower())


def shingles(row: dataset.Row) -> set[tuple[str, ...]]:
    tokens = words(row)
    return {tuple(tokens[i:i + 3]) for i in range(max(1, len(tokens) - 2))}


class Index:
    """TF-IDF vectors of the pool's requests, unit length, kept sparse: each pool row's words and weights (a dense
    matrix of 10,619 rows by their 9,653 words would take 410 MB)."""

    def __init__(self, pool: list[dataset.Row], rerank: int = 0):
        if not pool:
            raise ValueError("worked examples need a pool of rows to draw them from: it is empty")
        self.pool = pool
        self.rerank = rerank  # `examples`' default
        documents = [words(row) for row in pool]
        counts = Counter(word for document in documents for word in set(document))
        self.vocabulary = {word: i for i, word in enumerate(sorted(counts))}
        self.idf = np.array([np.log((len(pool) + 1) / (counts[word] + 1)) for word in sorted(counts)], np.float32)
        columns, weights, starts = [], [], [0]
        for start in range(0, len(pool), 256):  # a few rows at a time as dense vectors, kept as their non-zeros
            block = self.vectors(pool[start:start + 256])
            for vector in block:
                found = np.flatnonzero(vector)
                columns.append(found)
                weights.append(vector[found])
                starts.append(starts[-1] + len(found))
        self.columns = np.concatenate(columns)
        self.weights = np.concatenate(weights)
        self.starts = np.array(starts)
        self.kinds = np.array([row.kind for row in pool])
        self.shingles = [shingles(row) for row in pool]

    def vectors(self, rows: list[dataset.Row]) -> np.ndarray:
        matrix = np.zeros((len(rows), len(self.vocabulary)), np.float32)
        for i, row in enumerate(rows):
            for word, n in Counter(words(row)).items():
                if word in self.vocabulary:
                    matrix[i, self.vocabulary[word]] = n
        matrix *= self.idf
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        return matrix

    def similarity(self, rows: list[dataset.Row]) -> np.ndarray:
        """The cosine of each row's request with each pool row's (rows x pool)."""
        queries = self.vectors(rows)
        found = np.zeros((len(rows), len(self.pool)), np.float32)
        empty = self.starts[:-1] == self.starts[1:]
        for start in range(0, len(rows), 32):
            products = queries[start:start + 32][:, self.columns] * self.weights
            # A zero after the last product, so that every row's start (an empty last row's too) is an index.
            products = np.concatenate([products, np.zeros((len(products), 1), np.float32)], axis=1)
            sums = np.add.reduceat(products, self.starts[:-1], axis=1)
            sums[:, empty] = 0.0  # reduceat gives a row without words the next row's first product
            found[start:start + 32] = sums
        return found

    def examples(self, rows: list[dataset.Row], exclude_near: bool,
                 rerank: int | None = None) -> list[dataset.Row | None]:
        """The nearest pool row of the same kind for each row (None where none is far enough): the row itself left
        out, and with `exclude_near` (training rows) every row nearer to it than NEAREST_EVAL. `rerank` k > 0: of
        the k nearest such rows, the one whose answer holds the most of the request's words (the nearest of those
        that tie), an answer that names what was asked rather than a request worded alike; None: the index's."""
        rerank = self.rerank if rerank is None else rerank
        found: list[dataset.Row | None] = []
        for start in range(0, len(rows), 512):
            part = rows[start:start + 512]
            similarity = self.similarity(part)
            for i, row in enumerate(part):
                similarity[i, self.kinds != row.kind] = -1.0
                own = shingles(row)
                eligible = []
                for j in np.argsort(-similarity[i])[:CANDIDATES]:
                    candidate = self.pool[j]
                    if candidate.kind != row.kind:
                        break
                    if candidate.id == row.id and candidate.output == row.output:
                        continue
                    if exclude_near and dataset.jaccard(own, self.shingles[j]) > NEAREST_EVAL:
                        continue
                    eligible.append(candidate)
                    if len(eligible) >= max(1, rerank):
                        break
                if rerank and eligible:
                    asked = set(words(row))
                    overlap = [len(asked & set(re.findall(r"[a-z0-9]+", c.output.lower()))) for c in eligible]
                    eligible = [eligible[overlap.index(max(overlap))]]  # index(): the nearest of those that tie
                found.append(eligible[0] if eligible else None)
        return found


def choice(rerank: int) -> str:
    """How the examples are chosen, in words (the jobs' logs).

    >>> choice(0), choice(40)
    ('the nearest', 'of the 40 nearest, the one whose answer names the most of the request')
    """
    return f"of the {rerank} nearest, the one whose answer names the most of the request" if rerank else "the nearest"


def with_example(row: dataset.Row, example: dataset.Row | None) -> dataset.Row:
    """`row` with `example`'s request and answer after its input (`row` itself where there is no example)."""
    if example is None:
        return row
    request = f"{example.instruction}\n{example.input}".strip()
    shown = f"{LEAD}\n\nRequest: {request}\n\nAnswer:\n{example.output}"
    return dataclasses.replace(row, input=f"{row.input.strip()}\n\n{shown}" if row.input.strip() else shown)


def has_example(row: dataset.Row) -> bool:
    return LEAD in row.input


def training_rows(rows: list[dataset.Row], pool: "list[dataset.Row] | Index",
                  exclude_near: bool = True) -> list[dataset.Row]:
    """Each training row with its nearest pool row far enough from it as its example (rows that carry one already,
    or have none far enough, as they are); `exclude_near` False for held-out rows (an SFT's eval rows), which may
    take any pool row. `pool`: the rows, or their Index where it serves more than one call."""
    index = pool if isinstance(pool, Index) else Index(pool)
    todo = [row for row in rows if not has_example(row)]
    found = dict(zip(map(id, todo), index.examples(todo, exclude_near=exclude_near)))
    return [with_example(row, found[id(row)]) if id(row) in found else row for row in rows]


def save_pool(folder: str | Path, pool: list[dataset.Row], rerank: int = 0) -> Path:
    """Keep `pool` in `folder` (an adapter's or a merged model's), where `attach` finds it, and how its examples are
    chosen (`rerank`, Index.examples)."""
    path = Path(folder) / POOL_FILE
    workspace.atomic_write_text(path, "".join(json.dumps(row.to_dict()) + "\n" for row in pool))
    workspace.atomic_write_text(Path(folder) / SETTINGS_FILE, json.dumps({"rerank": rerank}) + "\n")
    return path


def copy_pool(source: str | Path | None, target: str | Path) -> bool:
    """Carry a pool and its settings from one model folder to another (an adapter to its merged export); whether
    there was one."""
    if source is None or not (Path(source) / POOL_FILE).is_file():
        return False
    for name in (POOL_FILE, SETTINGS_FILE):
        if (Path(source) / name).is_file():
            workspace.atomic_write_text(Path(target) / name, (Path(source) / name).read_text(encoding="utf-8"))
    return True


def rerank_of(folder: str | Path) -> int:
    """The `rerank` a model folder's pool was saved with; 0 where no settings were kept (pools saved before them)."""
    try:
        return int(json.loads((Path(folder) / SETTINGS_FILE).read_text(encoding="utf-8")).get("rerank", 0))
    except FileNotFoundError:
        return 0
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{Path(folder) / SETTINGS_FILE} is not a JSON object with a whole number `rerank`: "
                         f"{error}. Save the pool again (studio.examples.save_pool) or delete the file.") from error


_INDEXES: dict[tuple, Index] = {}


def index_of(folder: str | Path | None) -> Index | None:
    """The index over the pool kept in a model folder (an adapter's, a merged export's); None where there is none.
    Built once per pool file."""
    if folder is None:
        return None
    path = Path(folder) / POOL_FILE
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    rerank = rerank_of(folder)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, rerank)
    if key not in _INDEXES:
        pool = dataset.read_jsonl(path)
        _INDEXES.clear()  # one pool at a time (10,619 rows: about 3 MB of weights, built in about a second)
        _INDEXES[key] = Index(pool, rerank)
    return _INDEXES[key]


def attach(rows: list[dataset.Row], folder: str | Path | None, exclude_near: bool = False) -> list[dataset.Row]:
    """`rows` each with its nearest example from the pool kept in `folder`, as the model there was trained to be
    asked; `rows` as they are where `folder` keeps no pool (a model trained without examples) and for rows that
    carry an example already. `exclude_near` for training rows (GRPO's prompts, DPO's mined requests): as in the
    SFT, never a row as near as a twin, whose answer would be theirs to copy."""
    index = index_of(folder)
    if index is None:
        return rows
    todo = [row for row in rows if not has_example(row)]
    found = dict(zip(map(id, todo), index.examples(todo, exclude_near=exclude_near)))
    return [with_example(row, found[id(row)]) if id(row) in found else row for row in rows]


def shown(input_text: str) -> tuple[str, str]:
    """The request and the answer of the example an input carries (two empty strings where it carries none).

    >>> shown(with_example(dataset.Row("A queue.", "", "terraform"), dataset.Row("A topic.", "x", "terraform")).input)
    ('A topic.', 'x')
    """
    if LEAD not in input_text:
        return "", ""
    request, _, answer = input_text.split(LEAD, 1)[1].partition("\n\nAnswer:\n")
    return request.strip().removeprefix("Request: "), answer


def own_input(input_text: str) -> str:
    """An input without the example it carries: the row's own input.

    >>> row = dataset.Row("A queue.", "", "terraform", input="FIFO")
    >>> own_input(with_example(row, dataset.Row("A topic.", "x", "terraform")).input)
    'FIFO'
    """
    return input_text.split(LEAD, 1)[0].strip()


def request_input(folder: str | Path | None, instruction: str, kind: str, input_text: str = "") -> str:
    """The input one request is asked with: `input_text`, and the nearest example after it where `folder` keeps a
    pool."""
    row = dataset.Row(instruction, "", kind, input=input_text)
    return attach([row], folder)[0].input
