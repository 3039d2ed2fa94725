"""From a generated answer (a Terraform `Spec` or a Kubernetes manifest spec) to a dataset row: the request in
words, the context lines, the fenced answer and the intent built from exactly the stated values.

    >>> import random
    >>> from studio.synth.terraform import resource_row
    >>> row = terraform_row(resource_row("aws_sns_topic", random.Random(1)), random.Random(1), "gen-tf-000001")
    >>> row.kind, row.intent["require"][0]["resource"], row.output.startswith("```hcl")
    ('terraform', 'aws_sns_topic', True)
"""

from __future__ import annotations

import random

from studio.dataset import Row
from studio.synth import words
from studio.synth.hcl import render
from studio.synth.terraform import Fact, Spec
from studio.synth.values import Draw


def terraform_intent(spec: Spec) -> dict:
    """One clause per block with stated facts: its type, the stated values as `where`, its references."""
    clauses: dict[str, dict] = {}
    for fact in spec.facts:
        clause = clauses.setdefault(fact.address, {fact.keyword: fact.tf_type})
        matcher = fact.matcher
        if isinstance(matcher, dict) and list(matcher) == ["refers_to"] and fact.path:
            refers = clause.setdefault("refers_to", [])
            if matcher["refers_to"] not in refers:
                refers.append(matcher["refers_to"])
            continue
        clause.setdefault("where", {})[fact.path] = matcher
    for block in spec.blocks:
        if block.keyword == "resource" and block.address not in clauses:
            clauses[block.address] = {"resource": block.labels[0]}
    ordered = []
    for block in spec.blocks:
        clause = clauses.get(block.address)
        if clause is None:
            continue
        if clause.get("refers_to") and len(clause["refers_to"]) == 1:
            clause["refers_to"] = clause["refers_to"][0]
        ordered.append(clause)
    return {"require": ordered + spec.extra_clauses}


def context_lines(facts: list[Fact]) -> list[str]:
    seen, lines = set(), []
    for fact in facts:
        if fact.label and (fact.label, fact.shown) not in seen:
            seen.add((fact.label, fact.shown))
            lines.append(f"{fact.label}: {fact.shown}")
    return lines


def terraform_row(spec: Spec, rng: random.Random, row_id: str) -> Row:
    draw = Draw(rng)
    instruction = words.frame(draw, spec.frames, spec.what)
    lines = context_lines(spec.facts)
    if lines and draw.coin(0.3):
        lines.insert(0, draw.choice(("Use these:", "Existing resources:", "Context:")))
    output = f"```hcl\n{render(spec.blocks)}```"
    return Row(instruction=instruction, input="\n".join(lines), output=output, kind="terraform",
               intent=terraform_intent(spec), tags=list(spec.tags), id=row_id)
