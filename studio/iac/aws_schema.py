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
    releases: tuple[str, ...] = ()
    _names: list[str] | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, raw: dict) -> "BlockSchema":
        return cls(
            arguments=raw.get("arguments", {}),
            blocks={name: cls.from_json(child) for name, child in raw.get("blocks", {}).items()},
            required=raw.get("required", False),
            nesting=raw.get("nesting", "block"),
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
        """The closest resource (or data source) type name, looking first within the same service."""
        names = self._raw_data if data else self._raw_resources
        parts = tf_type.split("_")
        service = "_".join(parts[:2]) + "_" if len(parts) > 2 else None
        if service:
            same_service = [n for n in names if n.startswith(service)]
            # The usual invention is a real type with a word added or changed: prefer the longest real
            # prefix (`aws_s3_bucket_versioning_policy` -> `aws_s3_bucket_versioning`).
            prefixes = [n for n in same_service if tf_type.startswith(n + "_")]
            if prefixes:
                return max(prefixes, key=len)
            match = difflib.get_close_matches(tf_type, same_service, n=1, cutoff=0.75)
            if match:
                return match[0]
        match = difflib.get_close_matches(tf_type, list(names), n=1, cutoff=0.8)
        return match[0] if match else None

    @staticmethod
    def suggest_argument(name: str, block: BlockSchema, tf_type: str = "") -> str | None:
        """The argument or block the writer probably meant, by spelling or by role.

        Spelling comes first (`versioning_configuraton` -> `versioning_configuration`). Then the role of a
        name: models write `name` for the identifying argument, which AWS spells after the resource
        (`bucket` on aws_s3_bucket, `function_name` on aws_lambda_function, `identifier` on aws_db_instance).
        """
        candidates = block.names
        match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.72)
        if match:
            return match[0]
        words = tf_type.split("_")[1:]
        if name in ("name", "id", "identifier") or name.endswith("_name"):
            for word in reversed(words):
                for guess in (word, f"{word}_name"):
                    if guess in block.arguments and guess != name:
                        return guess
            named = [arg for arg in block.arguments if arg.endswith("_name")]
            if len(named) == 1:
                return named[0]
            if "identifier" in block.arguments and name != "identifier":
                return "identifier"
        if len(name) >= 4:
            # `versioning_status` for `status`, `bucket_name` for `bucket`: one contains the other.
            contained = [c for c in candidates if len(c) >= 4 and (c in name or name in c)]
            if len(contained) == 1:
                return contained[0]
        return None


@functools.lru_cache(maxsize=1)
def aws_schema(path: str | None = None) -> AwsSchema:
    """The schema, loaded once per process."""
    with gzip.open(path or SCHEMA_PATH, "rt", encoding="utf-8") as handle:
        return AwsSchema(json.load(handle))
