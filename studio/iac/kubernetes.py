"""Kubernetes: parse every YAML document safely and validate it strictly against a pinned Kubernetes version.

    >>> from studio.iac.kubernetes import parse_kubernetes, check_kubernetes_schema
    >>> parsed = parse_kubernetes("apiVersion: apps/v1\\nkind: Deployment\\nmetadata:\\n  name: web\\nspec:\\n"
    ...                           "  template:\\n    spec:\\n      containers: [{name: web, image: nginx:1.27}]\\n")
    >>> print(check_kubernetes_schema(parsed).reasons[0])
    line 5: Deployment web: spec: missing required field "selector"

The schemas are those `kubernetes-validate` ships (its strict variant: unknown fields are errors), loaded
through its own file layout, but compiled once per kind and Kubernetes version and reused:
`kubernetes_validate.validate` reads a 1.4 MB definitions file on every call, which would cost more than
everything else here together. All errors of a document are reported, not only the first.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from dataclasses import dataclass
from typing import Any

import jsonschema
import kubernetes_validate.utils as kubernetes_validate
import yaml
from referencing import Registry, Resource

from studio.iac import limits
from studio.iac.report import Reason, Verdict

# Pinned so a verdict never changes under us; override per call or with INFRAMIND_K8S_VERSION.
DEFAULT_KUBERNETES_VERSION = os.environ.get("INFRAMIND_K8S_VERSION", "1.33")
MAX_ERRORS_PER_DOCUMENT = 10
DOCUMENT_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$|^\.\.\.[ \t]*$")
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Limited:
    """Refuses what would crash or stall the loader (`studio.iac.limits`): nesting past MAX_NESTING (counted
    by the pure-Python composer; the C one is only given text whose nesting bound is small) and aliases that
    expand past MAX_EXPANDED_NODES."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > limits.MAX_NESTING:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {limits.MAX_NESTING} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, TokenClass):
        # The pure-Python scanner revisits every open `[`/`{` at each token: 20,000 of them take seconds and
        # 200,000 minutes. Refused at the first level past the limit, so the scan stays linear.
        if self.flow_level >= limits.MAX_NESTING:
            raise yaml.scanner.ScannerError(None, None, f"nested deeper than {limits.MAX_NESTING} levels",
                                            self.get_mark())
        return super().fetch_flow_collection_start(TokenClass)

    def construct_document(self, node):
        if limits.expanded_nodes(node) > limits.MAX_EXPANDED_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"its aliases expand to more than {limits.MAX_EXPANDED_NODES:,} nodes (an alias bomb?)",
                node.start_mark)
        return super().construct_document(node)


class _UniqueKeyLoader(_Limited, SafeLoader):
    """The safe loader, refusing a key defined twice in one mapping (kubectl refuses it too)."""


class _PureUniqueKeyLoader(_Limited, yaml.SafeLoader):
    """The same in pure Python, for text deep enough to overflow the C composer's stack."""


def _construct_unique_mapping(loader, node, deep=False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f'key "{key}" is defined twice (first on line {seen[key] + 1})', key_node.start_mark)
        try:
            seen[key] = key_node.start_mark.line
        except TypeError:  # an unhashable key; let the safe constructor say what is wrong with it
            break
    return SafeLoader.construct_mapping(loader, node, deep=deep)


for _loader in (_UniqueKeyLoader, _PureUniqueKeyLoader):
    _loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _loader_for(text: str):
    return _UniqueKeyLoader if limits.yaml_nesting_bound(text) <= limits.C_LOADER_MAX_NESTING else _PureUniqueKeyLoader


@dataclass
class Manifest:
    """One YAML document: its 1-based `number`, the `line` it starts on, its text and its parsed value."""

    number: int
    line: int
    text: str
    value: Any
    # Where the object sits inside its document: [] for a plain document, ["items", 2] inside a `kind: List`.
    within: tuple = ()

    @property
    def kind(self) -> str:
        return str(self.value.get("kind", "")) if isinstance(self.value, dict) else ""

    @property
    def name(self) -> str:
        meta = self.value.get("metadata") if isinstance(self.value, dict) else None
        return str(meta.get("name", "")) if isinstance(meta, dict) and meta.get("name") is not None else ""

    @property
    def label(self) -> str:
        """How messages name it: `Deployment web`, or `document 2` before a kind is known."""
        if self.kind:
            return f"{self.kind} {self.name}" if self.name else f"{self.kind} (document {self.number})"
        return f"document {self.number}"


@dataclass
class ParsedKubernetes:
    code: str
    documents: list[Manifest]
    verdict: Verdict

    @property
    def objects(self) -> list[Manifest]:
        """Documents that are mappings (the candidates for Kubernetes objects)."""
        return [doc for doc in self.documents if isinstance(doc.value, dict)]


def _split_documents(code: str) -> list[tuple[int, str]]:
    """(first line, text) of every document; `---` and `...` lines separate them."""
    pieces, start, current = [], 1, []
    for number, line in enumerate(code.splitlines(), 1):
        if DOCUMENT_SEPARATOR.match(line):
            pieces.append((start, "\n".join(current)))
            start, current = number + 1, []
        else:
            current.append(line)
    pieces.append((start, "\n".join(current)))
    return [(line, text) for line, text in pieces if text.strip() and not _only_comments(text)]


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def parse_kubernetes(code: str) -> ParsedKubernetes:
    """Parse every document with a safe loader; each one that fails gives a located reason."""
    documents, reasons = [], []
    pieces = _split_documents(code)
    for number, (start, text) in enumerate(pieces, 1):
        try:
            value = yaml.load(text, Loader=_loader_for(text))
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            context = getattr(error, "context", None)
            line = start + mark.line if mark is not None else start
            column = f"column {mark.column + 1}: " if mark is not None else ""
            detail = f" ({context})" if context else ""
            reasons.append(Reason(f"{column}document {number} is not valid YAML: {problem}{detail}", line))
            continue
        if isinstance(value, dict) and value.get("kind") == "List" and isinstance(value.get("items"), list):
            # kubectl accepts a v1 List: its items are the objects.
            documents.extend(Manifest(number, start, text, item, ("items", i)) for i, item in enumerate(value["items"]))
            continue
        documents.append(Manifest(number, start, text, value))
    if not pieces:
        return ParsedKubernetes(code, [], Verdict("failed", [Reason("no YAML documents in the code")], 0.0))
    score = len(documents) / len(pieces)
    return ParsedKubernetes(code, documents, Verdict.from_reasons(reasons, score if reasons else 1.0))


# ---------------------------------------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _schema_folder(version: str) -> tuple[str, str]:
    """(schema folder, the version it holds): the newest bundled version not newer than `version`."""
    wanted = kubernetes_validate.major_minor(version.lstrip("v"))
    available = [v for v in kubernetes_validate.all_versions()
                 if tuple(map(int, kubernetes_validate.major_minor(v).split("."))) <= tuple(map(int, wanted.split(".")))]
    if not available:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}; "
                         f"it ships {', '.join(kubernetes_validate.all_versions())}")
    chosen = available[-1]
    return f"kubernetes-json-schema/v{chosen}-local-strict", kubernetes_validate.major_minor(chosen)


@functools.lru_cache(maxsize=4)
def _definitions(folder: str) -> Registry:
    definitions = kubernetes_validate.schema_contents(f"{folder}/_definitions.json", folder)
    return Resource.from_contents(definitions) @ Registry()


@functools.lru_cache(maxsize=4)
def _known_kinds(folder: str) -> dict[str, list[str]]:
    """lower-case kind -> file stems (`deployment-apps-v1`), from the folder listing only."""
    files = kubernetes_validate.importlib_resources.files("kubernetes_validate").joinpath(folder)
    kinds: dict[str, list[str]] = {}
    for entry in files.iterdir():
        stem = entry.name[:-5] if entry.name.endswith(".json") else None
        if stem and not stem.startswith("_") and stem != "all":
            kinds.setdefault(stem.split("-", 1)[0], []).append(stem)
    return kinds


@functools.lru_cache(maxsize=512)
def _validator(folder: str, kind: str, api_version: str):
    """The compiled strict validator for one kind and apiVersion, or None if Kubernetes has no such pair."""
    # kubernetes-validate's own file naming: rbac.authorization.k8s.io/v1 -> rbac-v1
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kubernetes_validate.schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", folder)
    except (FileNotFoundError, OSError, kubernetes_validate.VersionNotSupportedError):
        return None
    registry = Resource.from_contents(schema) @ _definitions(folder)
    return jsonschema.Draft202012Validator(schema, registry=registry)


@functools.lru_cache(maxsize=256)
def _api_versions_of(folder: str, kind_lower: str) -> list[str]:
    """The apiVersions Kubernetes has for a kind, read from the schemas' group-version-kind tags."""
    found = []
    for stem in _known_kinds(folder).get(kind_lower, []):
        schema = kubernetes_validate.schema_contents(f"{folder}/{stem}.json", folder)
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if gvk.get("kind", "").lower() == kind_lower:
                group = gvk.get("group")
                found.append(f"{group}/{gvk['version']}" if group else gvk["version"])
    return sorted(set(found))


def _is_custom_resource(api_version: str) -> bool:
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    return "." in group and not group.endswith(".k8s.io")


def check_kubernetes_schema(parsed: ParsedKubernetes, kubernetes_version: str | None = None) -> Verdict:
    """Strict schema check of every object; the score is the mean over objects of 1 / (1 + errors)."""
    if not parsed.verdict.passed:
        return Verdict.skipped("the code does not parse")
    folder, version = _schema_folder(kubernetes_version or DEFAULT_KUBERNETES_VERSION)
    reasons: list[Reason] = []
    scores: list[float] = []
    seen: dict[tuple[str, str, str], int] = {}
    for doc in parsed.documents:
        before = len(reasons)
        counted = _check_document(doc, folder, version, reasons)
        if isinstance(doc.value, dict) and doc.kind and doc.name:
            meta = doc.value.get("metadata") or {}
            key = (doc.kind, str(meta.get("namespace", "")), doc.name)
            if key in seen:
                reasons.append(Reason(f"{doc.label} is declared twice (first in document {seen[key]})", doc.line))
            seen.setdefault(key, doc.number)
        errors = sum(1 for r in reasons[before:] if r.severity == "error")
        if counted == "unknown":
            scores.append(0.0)
        elif counted == "checked" or errors:
            scores.append(1.0 / (1 + errors))
    if not parsed.documents:
        reasons.append(Reason("no Kubernetes objects in the code"))
        scores.append(0.0)
    return Verdict.from_reasons(reasons, sum(scores) / len(scores) if scores else 0.0)  # nothing checked: no credit


def _check_document(doc: Manifest, folder: str, version: str, reasons: list[Reason]) -> str | None:
    value = doc.value
    if not isinstance(value, dict):
        what = {"list": "a list", "str": "a string", "bool": "a boolean", "int": "a number", "float": "a number",
                "date": "a date", "datetime": "a timestamp"}.get(type(value).__name__, "a plain value")
        reasons.append(Reason(f"document {doc.number} is {what}, not a Kubernetes object", doc.line))
        return "unknown"
    api_version, kind = value.get("apiVersion"), value.get("kind")
    missing = [field for field, v in (("apiVersion", api_version), ("kind", kind)) if not isinstance(v, str) or not v]
    if missing:
        reasons.append(Reason(f"{doc.label}: missing {' and '.join(missing)}", doc.line, missing[0]))
        return "unknown"
    validator = _validator(folder, kind, api_version)
    if validator is None:
        if _is_custom_resource(api_version):
            reasons.append(Reason(f"not checked: {kind} ({api_version}) is a custom resource", doc.line,
                                  severity="note"))
            return None
        reasons.append(Reason(_unknown_kind_message(doc, folder, version), doc.line, "apiVersion"))
        return "unknown"
    meta = value.get("metadata")
    if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
        reasons.append(Reason(f"{doc.label}: metadata.name is missing", _line_of(doc, ["metadata"]), "metadata.name"))
    errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors[:MAX_ERRORS_PER_DOCUMENT]:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            # One reason per unknown field, each on its own line.
            known = list((error.schema.get("properties") or {}).keys())
            for key in [k for k in error.instance if k not in known]:
                guess = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                hint = f' (did you mean "{guess[0]}"?)' if guess else ""
                at = f"{_dotted(path)}: " if path else ""
                reasons.append(Reason(f'{doc.label}: {at}unknown field "{key}"{hint}', _line_of(doc, [*path, key]),
                                      _dotted([*path, str(key)])))
            continue
        reasons.append(Reason(f"{doc.label}: {_describe(error)}", _line_of(doc, path), _dotted(path) or None))
    if len(errors) > MAX_ERRORS_PER_DOCUMENT:
        reasons.append(Reason(f"{doc.label}: {len(errors) - MAX_ERRORS_PER_DOCUMENT} more errors", doc.line))
    return "checked"


def _unknown_kind_message(doc: Manifest, folder: str, version: str) -> str:
    kind, api_version = doc.value["kind"], doc.value["apiVersion"]
    versions = _api_versions_of(folder, kind.lower())
    if versions:
        use = " or ".join(f'"{v}"' for v in versions)
        return f'{doc.label}: apiVersion "{api_version}" has no {kind} in Kubernetes {version} (use {use})'
    guess = difflib.get_close_matches(kind.lower(), list(_known_kinds(folder)), n=1, cutoff=0.75)
    hint = ""
    if guess:
        proper = _proper_kind(folder, guess[0])
        hint = f' (did you mean "{proper}"?)' if proper else ""
    return f'{doc.label}: unknown kind "{kind}" for apiVersion "{api_version}" in Kubernetes {version}{hint}'


def _proper_kind(folder: str, kind_lower: str) -> str | None:
    stem = _known_kinds(folder).get(kind_lower, [None])[0]
    if stem is None:
        return None
    schema = kubernetes_validate.schema_contents(f"{folder}/{stem}.json", folder)
    tags = schema.get("x-kubernetes-group-version-kind", [])
    return tags[0]["kind"] if tags else None


def _dotted(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# The YAML names of Python's types, bool before int (a bool is an int).
_TYPE_NAMES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "list"),
               (dict, "mapping"), (type(None), "null"))


def _type_name(value: Any) -> str:
    return next((name for kind, name in _TYPE_NAMES if isinstance(value, kind)), type(value).__name__)


def _describe(error: jsonschema.ValidationError) -> str:
    """A jsonschema error in the words of a Kubernetes user: field path, what is wrong, a suggestion."""
    path = _dotted(list(error.absolute_path))
    at = f"{path}: " if path else ""
    if error.validator == "required":
        match = re.match(r"'(.+)' is a required property", error.message)
        field = match.group(1) if match else error.message
        return f'{at}missing required field "{field}"'
    if error.validator == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        wanted = [w for w in wanted if w != "null"] or wanted
        shown = json.dumps(error.instance) if not isinstance(error.instance, (dict, list)) else _type_name(error.instance)
        wanted_text = " or ".join("mapping" if w == "object" else "list" if w == "array" else w for w in wanted)
        return f"{at}expected {wanted_text}, got {_type_name(error.instance)} {shown}".rstrip()
    if error.validator == "enum":
        allowed = ", ".join(json.dumps(v) for v in error.validator_value if v is not None)
        return f"{at}{json.dumps(error.instance)} is not one of {allowed}"
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{at}{message}"


def _line_of(doc: Manifest, path: list) -> int:
    """The line of the deepest node of `path` that exists (composed only when a reason needs a line)."""
    try:
        node = yaml.compose(doc.text, Loader=SafeLoader)
    except yaml.YAMLError:
        return doc.line
    line = node.start_mark.line if node is not None else 0
    for part in [*doc.within, *path]:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                break
            # Point at the key (`spec:`), which is where a reader looks, not at the value below it.
            line, node = pair[0].start_mark.line, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return doc.line + line
