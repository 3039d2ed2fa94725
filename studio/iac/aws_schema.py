"""The AWS provider schema (5.x and 6.x together) and "did you mean" suggestions against it.

    >>> from studio.iac.aws_schema import aws_schema
    >>> schema = aws_schema()
    >>> schema.resource("aws_s3_bucket_versioning").arguments["bucket"]
    'required'
    >>> schema.suggest_argument("name", schema.resource("aws_s3_bucket"), "aws_s3_bucket")
    'bucket'

The data is `data/aws_schema.json.gz`, written by `scripts/build_aws_schema.py` from the
`cdktf-cdktf-provider-aws` wheels (MPL-2.0, see `data/aws_schema.LICENSE`). Loading takes a few tens of
milliseconds and happens once per process.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "aws_schema.json.gz"


@dataclass
class BlockSchema:
    """Arguments (name -> "required"/"optional") and nested blocks of a resource, data source or block.

    `nesting` is "block" for `name { ... }` blocks and "attribute" for nested attributes that may also be
    written `name = [{ ... }]` (security group `ingress`, for instance). `releases` lists the provider
    releases that have a top-level type when not all of them do.
    """

    arguments: dict[str, str]
    blocks: dict[str, "BlockSchema"]
    required: bool = False
    nesting: str = "block"
    single: bool = False  # at most one of this block in its parent (the provider's MaxItems 1)
    releases: tuple[str, ...] = ()
    _names: list[str] | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, raw: dict) -> "BlockSchema":
        return cls(
            arguments=raw.get("arguments", {}),
            blocks={name: cls.from_json(child) for name, child in raw.get("blocks", {}).items()},
            required=raw.get("required", False),
            nesting=raw.get("nesting", "block"),
            single=raw.get("single", False),
            releases=tuple(raw.get("releases", ())),
        )

    @property
    def names(self) -> list[str]:
        if self._names is None:
            self._names = sorted({*self.arguments, *self.blocks})
        return self._names


class AwsSchema:
    """Resource and data-source schemas of the union of the provider releases in the data file."""

    def __init__(self, raw: dict):
        self.releases: dict[str, dict] = raw["releases"]
        self.notice: str = raw["notice"]
        self._raw_resources: dict = raw["resource"]
        self._raw_data: dict = raw["data"]
        self.provider = BlockSchema.from_json(raw["provider"])
        # Blocks are built on first use: most answers touch a handful of the 2,200 types.
        self._resources: dict[str, BlockSchema] = {}
        self._data: dict[str, BlockSchema] = {}

    @property
    def resource_types(self) -> list[str]:
        return list(self._raw_resources)

    @property
    def data_types(self) -> list[str]:
        return list(self._raw_data)

    def resource(self, tf_type: str) -> BlockSchema | None:
        return self._lookup(tf_type, self._raw_resources, self._resources)

    def data_source(self, tf_type: str) -> BlockSchema | None:
        return self._lookup(tf_type, self._raw_data, self._data)

    @staticmethod
    def _lookup(tf_type: str, raw: dict, built: dict) -> BlockSchema | None:
        schema = built.get(tf_type)
        if schema is None and tf_type in raw:
            schema = built[tf_type] = BlockSchema.from_json(raw[tf_type])
        return schema

    def suggest_type(self, tf_type: str, *, data: bool = False) -> str | None:
        """The closest resource (or data source) type name.

        Models invent types by adding or changing a word of a real one. The candidates are the real types
        the name starts with (`aws_s3_bucket_versioning_policy`), those left after dropping one of its
        words (`aws_vpc_subnet`), and close spellings among types sharing a word or the service with it;
        the closest of them by spelling wins. Comparing the spelling with all 1,600 types instead would
        cost about 50 ms per unknown type.
        """
        return self._suggest_type(tf_type, data)

    @functools.lru_cache(maxsize=2048)
    def _suggest_type(self, tf_type: str, data: bool) -> str | None:
        names = self._raw_data if data else self._raw_resources
        words = tf_type.split("_")
        candidates = {n for n in names if tf_type.startswith(n + "_") and n.count("_") >= 2}
        candidates.update(shorter for i in range(1, len(words))
                          if (shorter := "_".join(words[:i] + words[i + 1:])) in names)
        index = self._word_index(data)
        related = set(index.get(("service", words[1] if len(words) > 1 else ""), ()))
        for word in words[1:]:
            related.update(n for n in index.get(("word", word), ()) if abs(len(n) - len(tf_type)) <= 8)
        candidates.update(difflib.get_close_matches(tf_type, sorted(related), n=3, cutoff=0.75))
        if not candidates:
            return None
        return max(sorted(candidates), key=lambda n: difflib.SequenceMatcher(None, tf_type, n).ratio())

    @functools.lru_cache(maxsize=2)
    def _word_index(self, data: bool) -> dict[tuple[str, str], list[str]]:
        """("word", w) and ("service", s) -> the type names holding that word, or of that service."""
        index: dict[tuple[str, str], list[str]] = {}
        for name in self._raw_data if data else self._raw_resources:
            words = name.split("_")[1:]
            index.setdefault(("service", words[0] if words else ""), []).append(name)
            for word in set(words):
                if len(word) > 1:
                    index.setdefault(("word", word), []).append(name)
        return index

    @staticmethod
    def suggest_argument(name: str, block: BlockSchema, tf_type: str = "") -> str | None:
        """The argument or block the writer probably meant, by spelling or by role.

        Spelling comes first (`versioning_configuraton` -> `versioning_configuration`). Then the role of a
        name: models write `name` for the identifying argument, which AWS spells after the resource
        (`bucket` on aws_s3_bucket, `function_name` on aws_lambda_function, `cluster_identifier` on
        aws_rds_cluster), or, for resources that have no name at all, as a `Name` tag. The answer is an
        argument name, or a short snippet (`tags = { Name = ... }`) when that is what was meant.
        """
        candidates = block.names
        match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.72)
        if match:
            return match[0]
        words = tf_type.split("_")[1:]
        if name in ("name", "id", "identifier") or name.endswith("_name"):
            # Longest tails of the type first (`node_group_name` on aws_eks_node_group), then single words.
            stems = ["_".join(words[i:]) for i in range(len(words))] + list(reversed(words))
            for stem in stems:
                for guess in (stem, f"{stem}_name", f"{stem}_identifier", f"{stem}_id"):
                    if guess in block.arguments and guess != name:
                        return guess
            if "identifier" in block.arguments and name != "identifier":
                return "identifier"
            if "tags" in block.arguments:
                return "tags = { Name = ... }"
        if len(name) >= 6:
            # `bucket_name` for `bucket`, `versioning_status` for `status`: a real name inside the wrong one.
            inside = [c for c in candidates if len(c) >= 4 and c in name]
            if len(inside) == 1:
                return inside[0]
        return None


@functools.lru_cache(maxsize=1)
def aws_schema(path: str | None = None) -> AwsSchema:
    """The schema, loaded once per process."""
    with gzip.open(path or SCHEMA_PATH, "rt", encoding="utf-8") as handle:
        return AwsSchema(json.load(handle))
