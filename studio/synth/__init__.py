"""Training rows generated from the AWS provider schema and the Kubernetes schemas.

    python -m studio.synth --rows 10000 --seed 0 --out data/generated.jsonl

    >>> from studio.synth.build import generate
    >>> rows = generate(20, seed=0).rows      # valid, deduplicated, away from the eval split

`terraform` (single resources from the schema), `profiles` (the types people write most), `patterns` (several
resources wired by reference), `kubernetes` (every stable kind), `rows` (request, answer and intent), `build`
(checks and the dataset). Nothing here imports the UI.
"""
