"""Find the code in a model's answer and say what language it is.

    >>> from studio.iac import extract_code
    >>> found = extract_code('Here you go:\\n```hcl\\nresource "aws_s3_bucket" "b" {\\n  bucket = "b"\\n}\\n```\\nDone.')
    >>> found.language, found.fenced, found.code.splitlines()[0]
    ('terraform', True, 'resource "aws_s3_bucket" "b" {')

Handles fenced blocks (```hcl, terraform, tf, yaml, yml, or no tag; ~~~ too), several blocks of one language
(joined: Terraform with blank lines, YAML as separate documents), a fence the model never closed, and bare
code with prose around it. The language comes from the content first and the fence tag second, because
small models label Python as ```hcl.

When a kind is asked for and the answer holds only other code (Python with boto3, a shell script, a
CloudFormation template, Terraform when Kubernetes was asked), `wrong_language` names it: the rewards turn
that into a penalty.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

TERRAFORM = "terraform"
KUBERNETES = "kubernetes"
KINDS = (TERRAFORM, KUBERNETES)

# Fence tags and the language they announce. YAML is only a candidate for Kubernetes: the content decides.
TAGS = {
    "hcl": TERRAFORM, "hcl2": TERRAFORM, "terraform": TERRAFORM, "tf": TERRAFORM, "tfvars": TERRAFORM,
    "yaml": "yaml", "yml": "yaml", "kubernetes": KUBERNETES, "k8s": KUBERNETES,
    "python": "python", "py": "python", "python3": "python",
    "bash": "bash", "sh": "bash", "shell": "bash", "console": "bash", "zsh": "bash", "shell-session": "bash",
    "json": "json", "typescript": "typescript", "ts": "typescript", "javascript": "typescript", "js": "typescript",
    "go": "go", "golang": "go", "dockerfile": "dockerfile", "docker": "dockerfile",
}

# An opening fence: at least three backticks or tildes at the start of a line, then an optional tag; whatever
# follows on the line (a title) is ignored. Matched one line at a time (see `_fenced_blocks`): the whole-text
# regex this replaced backtracked quadratically on a long run of backticks (1 MB of them took minutes).
FENCE_OPEN = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[\w+#.-]*)")

# A Terraform block header: `resource "aws_s3_bucket" "logs" {`, `provider "aws" {`, `locals {`.
TF_HEADER = re.compile(
    r'^[ \t]*(?:(?:resource|data)[ \t]+"?[\w-]+"?[ \t]+"?[\w-]+"?'
    r'|(?:provider|variable|output|module|check)[ \t]+"?[\w-]+"?'
    r'|terraform|locals|moved|import|removed)[ \t]*\{',
    re.MULTILINE,
)
# HCL that names a resource without the `resource` keyword still is (broken) Terraform.
TF_LOOSE = re.compile(r'^[ \t]*(?:resource|data)[ \t]+"?aws_\w+', re.MULTILINE)
K8S_API = re.compile(r"^[ \t]*(?:- )?apiVersion:[ \t]*['\"]?[\w./-]+", re.MULTILINE)
K8S_KIND = re.compile(r"^[ \t]*kind:[ \t]*['\"]?[A-Z]\w*", re.MULTILINE)
CLOUDFORMATION = re.compile(r"AWSTemplateFormatVersion|[\"']?Type[\"']?[ \t]*:[ \t]*[\"']?AWS::\w+::")
PYTHON = re.compile(
    r"^[ \t]*(?:import [\w.]+|from [\w.]+ import |def \w+\(|class \w+[(:])|\bboto3\.(?:client|resource|Session)\b",
    re.MULTILINE,
)
TYPESCRIPT = re.compile(
    r"^[ \t]*(?:import .+ from ['\"]|const \w+ = require\(|new [\w.]+\(this,|export (?:class|const|default) )",
    re.MULTILINE,
)
BASH = re.compile(
    r"^[ \t]*(?:#!/(?:usr/)?bin/(?:env )?(?:ba|z)?sh|\$ |(?:aws|kubectl|terraform|helm|eksctl|sudo|apt-get|"
    r"yum|curl|export|echo|cd|mkdir|chmod)[ \t]+\S)",
    re.MULTILINE,
)
YAML_KEY = re.compile(r"^[\w-]+:(?:[ \t]|$)", re.MULTILINE)
DOCKERFILE = re.compile(r"^FROM [\w./:-]+", re.MULTILINE)

# Lines kept when cutting bare Terraform out of prose, at nesting depth 0.
TF_TOP_LINE = re.compile(r'^[ \t]*(?:[\w-]+[ \t]*=|#|//|/\*|\*|\}|$)|' + TF_HEADER.pattern.lstrip("^"))
# YAML at column 0 that belongs to a manifest: lowercase camelCase keys, list items, separators, comments.
YAML_TOP_LINE = re.compile(r"^(?:[a-z][A-Za-z0-9]*:(?:[ \t]|$)|- |-$|---|\.\.\.|#|[ \t]|$)")
HEREDOC_START = re.compile(r'<<-?[ \t]*"?(\w+)"?[ \t]*$')
STRINGS_AND_COMMENTS = re.compile(r'"(?:[^"\\\n]|\\.)*"|#.*$|//.*$')

LANGUAGE_NAMES = {
    TERRAFORM: "Terraform", KUBERNETES: "Kubernetes YAML", "python": "Python", "bash": "a shell script",
    "cloudformation": "a CloudFormation template", "json": "JSON", "yaml": "YAML that is not a Kubernetes manifest",
    "typescript": "TypeScript/JavaScript", "go": "Go", "dockerfile": "a Dockerfile",
}


@dataclass(frozen=True)
class Extraction:
    """The code found in an answer.

    `code` is empty when nothing of the wanted language was found; `reason` then says why. `fenced` is
    False for bare code, `tagged` is True when every block used carried a tag naming its language,
    `truncated` when a fence was never closed. `found` lists the languages of every piece of code seen.
    """

    code: str
    language: str | None
    fenced: bool = False
    tagged: bool = False
    truncated: bool = False
    blocks: int = 0
    found: tuple[str, ...] = field(default_factory=tuple)
    wrong_language: str | None = None
    reason: str | None = None

    @property
    def format_score(self) -> float:
        """1 for a fenced block tagged with its language, less for untagged, mislabelled, bare or cut off."""
        if not self.code:
            return 0.0
        score = (1.0 if self.tagged else 0.8) if self.fenced else 0.5
        return score - (0.2 if self.truncated else 0.0)


def sniff_language(code: str) -> str | None:
    """The language a piece of code is written in, from its content alone; None when unsure.

    >>> sniff_language('import boto3\\nboto3.client("s3").create_bucket(Bucket="b")')
    'python'
    """
    if CLOUDFORMATION.search(code):
        return "cloudformation"
    if K8S_API.search(code) and K8S_KIND.search(code):
        return KUBERNETES
    if TF_HEADER.search(code) or TF_LOOSE.search(code):
        return TERRAFORM
    if PYTHON.search(code):
        return "python"
    if TYPESCRIPT.search(code):
        return "typescript"
    if DOCKERFILE.search(code):
        return "dockerfile"
    if BASH.search(code):
        return "bash"
    stripped = code.strip()
    if stripped[:1] in "{[" and len(stripped) < 200_000:
        try:
            json.loads(stripped)
            return "json"
        except (ValueError, RecursionError):  # 23,000 `[` are not JSON worth naming
            pass
    if len(YAML_KEY.findall(code)) >= 2:
        return "yaml"
    return None


def looks_binary(text: str) -> bool:
    """True for answers that are mostly control characters or hold NUL bytes: nothing to extract."""
    if "\x00" in text:
        return True
    sample = text[:4000]
    controls = sum(1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r") or ch == "\ufffd")
    return controls > max(8, len(sample) // 20)


def _fenced_blocks(text: str) -> list[tuple[str, str, bool]]:
    """(tag, body, closed) for every fenced block; an unclosed fence runs to the end of the answer.

    One pass over the lines, so the time grows with the answer's length whatever it holds. A block closes at
    the first line that is the same fence (same character, same length) alone, blanks aside.

    >>> _fenced_blocks("Sure:\\n```hcl\\nlocals {}\\n```\\n~~~\\ncut off")
    [('hcl', 'locals {}\\n', True), ('', 'cut off', False)]
    """
    lines = text.split("\n")
    blocks = []
    i = 0
    while i < len(lines) - 1:  # an opening fence needs a line after it
        opened = FENCE_OPEN.match(lines[i])
        if opened is None:
            i += 1
            continue
        fence, tag = opened.group("fence"), opened.group("tag").lower()
        close = next((j for j in range(i + 1, len(lines)) if lines[j].strip(" \t") == fence), None)
        if close is None:
            blocks.append((tag, "\n".join(lines[i + 1:]), False))
            break
        blocks.append((tag, "".join(line + "\n" for line in lines[i + 1:close]), True))
        i = close + 1
    return blocks


def _block_language(tag: str, body: str) -> str | None:
    sniffed = sniff_language(body)
    tagged = TAGS.get(tag)
    if sniffed == "yaml" and tagged == KUBERNETES:
        return KUBERNETES
    if sniffed is not None:
        return sniffed
    return tagged


def _matches_kind(language: str | None, kind: str) -> bool:
    # Plain YAML under a Kubernetes question is a broken manifest, not another language: the schema stage
    # says which field is missing.
    return language == kind or (kind == KUBERNETES and language == "yaml")


def _tag_agrees(tag: str, language: str) -> bool:
    tagged = TAGS.get(tag)
    return tagged == language or (language == KUBERNETES and tagged == "yaml")


def _bare_terraform(text: str) -> str:
    """Cut Terraform out of prose: from the first block header, keeping lines that can be HCL at depth 0."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if TF_HEADER.match(line) or TF_LOOSE.match(line)), None)
    if start is None:
        return ""
    kept, depth, heredoc = [], 0, None
    for line in lines[start:]:
        if heredoc is not None:
            kept.append(line)
            if line.strip() == heredoc:
                heredoc = None
            continue
        if depth <= 0 and not TF_TOP_LINE.match(line):
            continue  # prose between or after blocks
        kept.append(line)
        bare = STRINGS_AND_COMMENTS.sub("", line)
        depth += bare.count("{") - bare.count("}")
        opened = HEREDOC_START.search(line)
        if opened:
            heredoc = opened.group(1)
    return "\n".join(kept).strip("\n")


def _bare_yaml(text: str) -> str:
    """Cut a manifest out of prose: from the first `apiVersion:`/`kind:`, keeping lines YAML can hold."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"(?:apiVersion|kind):", line)), None)
    if start is None:
        return ""
    if start > 0 and lines[start - 1].strip() == "---":
        start -= 1
    kept = [line for line in lines[start:] if YAML_TOP_LINE.match(line)]
    return "\n".join(kept).strip("\n")


def _join(pieces: list[str], language: str) -> str:
    pieces = [p.strip("\n") for p in pieces if p.strip()]
    if language == TERRAFORM:
        return "\n\n".join(pieces)
    return "\n---\n".join(pieces)


def extract_code(text: str | None, kind: str | None = None) -> Extraction:
    """The code of `kind` ("terraform", "kubernetes"; None picks the first of those found) in `text`."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be 'terraform', 'kubernetes' or None, not {kind!r}")
    if text is None or not text.strip():
        return Extraction("", None, reason="the answer is empty")
    if looks_binary(text):
        return Extraction("", None, reason="the answer is not text (NUL bytes or control characters)")
    # Windows line ends would hide a closing fence (```\r) and reach the parsers.
    text = text.replace("\r\n", "\n").replace("\r", "\n")

    fenced = _fenced_blocks(text)
    if fenced:
        labelled = [(tag, body, closed, _block_language(tag, body)) for tag, body, closed in fenced]
        found = tuple(dict.fromkeys(lang for *_, lang in labelled if lang))
        target = kind or next((lang for lang in found if lang in KINDS), None)
        if target is None and any(lang == "yaml" for lang in found):
            target = KUBERNETES
        chosen = [item for item in labelled if target and _matches_kind(item[3], target)]
        if chosen:
            return Extraction(
                code=_join([body for _, body, _, _ in chosen], target),
                language=target,
                fenced=True,
                tagged=all(_tag_agrees(tag, target) for tag, *_ in chosen),
                truncated=not all(closed for _, _, closed, _ in chosen),
                blocks=len(chosen),
                found=found,
            )
        # No fenced block of the wanted language: maybe the code sits outside the fences.
        bare = _bare_extraction(text, kind)
        if bare.code:
            return bare
        return _nothing(kind, found)

    bare = _bare_extraction(text, kind)
    if bare.code:
        return bare
    sniffed = sniff_language(text)
    return _nothing(kind, (sniffed,) if sniffed else ())


def _bare_extraction(text: str, kind: str | None) -> Extraction:
    order = (kind,) if kind else KINDS
    for language in order:
        code = _bare_terraform(text) if language == TERRAFORM else _bare_yaml(text)
        if code.strip():
            return Extraction(code, language, fenced=False, blocks=1, found=(language,))
    return Extraction("", None)


def _nothing(kind: str | None, found: tuple[str, ...]) -> Extraction:
    other = next((lang for lang in found if lang != kind), None)
    wanted = LANGUAGE_NAMES.get(kind, "Terraform or Kubernetes")
    if other is not None and (kind is None or other != kind):
        what = LANGUAGE_NAMES.get(other, other)
        return Extraction("", None, found=found, wrong_language=other,
                          reason=f"asked for {wanted} but the answer is {what}")
    return Extraction("", None, found=found, reason=f"no {wanted} code found in the answer")
