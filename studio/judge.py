"""An optional LLM judge: a model behind an OpenAI-compatible server scores answers against their request.

    >>> from studio.judge import Judge
    >>> judge = Judge("http://127.0.0.1:8080", model="qwen2.5-7b-instruct")   # llama.cpp's llama-server, vLLM...
    >>> judge.check()                          # JudgeUnavailable naming the URL when nothing answers there
    >>> judge.score("An S3 bucket for logs, versioned", answer, "terraform")
    JudgeScore(score=4, reason='Correct resources; versioning is set, encryption is missing.')

Off unless asked for: the validators are the studio's measure, the judge a second opinion on what they do not
check (does the code do what was asked, is it sensible). It calls `<base_url>/v1/chat/completions` with a
rubric and reads back a score from 1 to 5 and a reason; a server that cannot be reached fails within
`timeout_s` with an error that names the URL. On a Space only the servers of INFRAMIND_JUDGE_URLS may be called,
and a server's reply is never quoted back in an error.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass

import httpx

RUBRIC = """You grade infrastructure code written by an assistant. Read the request and the answer, then give a
score from 1 to 5:

5: correct and complete; every requirement of the request is met with real resource types, arguments and fields.
4: correct, with a small omission or a detail that needs a touch (a missing tag, a weak default).
3: the right idea, but a requirement is missing or one argument or field is wrong.
2: mostly wrong: invented resources or arguments, the wrong language, or code that would not apply.
1: no usable code, or code for something else.

Judge only what was asked. The answer should be {language} in one fenced code block.
Reply with JSON only, on one line: {{"score": <1-5>, "reason": "<one sentence>"}}"""

LANGUAGES = {"terraform": "Terraform (HCL) for the AWS provider", "kubernetes": "Kubernetes YAML manifests"}


class JudgeUnavailable(RuntimeError):
    """The judge's server cannot be reached or refuses the request; the message names the URL."""


@dataclass(frozen=True)
class JudgeScore:
    """A score from 1 to 5 (None when the judge's reply held none) and the judge's reason."""

    score: int | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def parse_reply(text: str) -> JudgeScore:
    """The score and reason in a judge's reply: JSON as asked, or a bare `score: 4` as small models write.

    >>> parse_reply('{"score": 4, "reason": "No encryption."}')
    JudgeScore(score=4, reason='No encryption.')
    >>> parse_reply('Sure! ```json\\n{"score": "5", "reason": "ok"}\\n```')
    JudgeScore(score=5, reason='ok')
    >>> parse_reply("Score: 2. Invented resource.").score
    2
    >>> parse_reply("I cannot grade this.").score is None
    True
    """
    for match in re.finditer(r"\{[^{}]*\}", text or ""):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        score = _score(data.get("score"))
        if score is not None:
            return JudgeScore(score, str(data.get("reason", "")).strip())
    bare = re.search(r"score\W{0,3}([1-5])\b", text or "", re.IGNORECASE)
    if bare:
        return JudgeScore(int(bare.group(1)), (text or "").strip()[:300])
    return JudgeScore(None, f"the judge's reply held no score: {(text or '').strip()[:200]!r}")


def _score(value) -> int | None:
    try:
        score = int(float(value))
    except (TypeError, ValueError):
        return None
    return score if 1 <= score <= 5 else None


JUDGE_URLS_ENV = "INFRAMIND_JUDGE_URLS"


def _on_a_space() -> bool:
    from studio import access

    return access.settings().space is not None


def allowed_urls() -> list[str]:
    """The judge servers a Space may call: INFRAMIND_JUDGE_URLS, comma-separated base URLs."""
    return [u.strip().rstrip("/").removesuffix("/v1") for u in os.environ.get(JUDGE_URLS_ENV, "").split(",")
            if u.strip()]


def _shown(text: str) -> str:
    """A server's reply as an error message quotes it: locally its start; on a Space nothing of it."""
    return "(its reply is not shown on a Space)" if _on_a_space() else text[:200]


@dataclass(frozen=True)
class Judge:
    """A judge model at `base_url` (with or without the trailing /v1), asked with `model` as the model name."""

    base_url: str
    model: str = "default"
    api_key: str = ""
    timeout_s: float = 10.0
    max_tokens: int = 200

    def __post_init__(self):
        url = (self.base_url or "").strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"The judge's URL must start with http:// or https://, not {self.base_url!r} "
                             "(for example http://127.0.0.1:8080 for llama.cpp's server, :8000 for vLLM).")
        if url.endswith("/v1"):
            url = url[: -len("/v1")]
        if _on_a_space() and url not in allowed_urls():
            # A public server must not POST wherever a visitor points it (its own network, metadata services).
            raise ValueError(f"On this Space the judge may only call the servers listed in {JUDGE_URLS_ENV} "
                             f"({', '.join(allowed_urls()) or 'none yet'}); {url} is not one of them.")
        object.__setattr__(self, "base_url", url)
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {self.timeout_s}")

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/v1/chat/completions"

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _unreachable(self, url: str, error: Exception) -> JudgeUnavailable:
        return JudgeUnavailable(
            f"The judge at {url} cannot be reached ({type(error).__name__}: {error}). Start an OpenAI-compatible "
            "server there (llama.cpp: `llama-server -m model.gguf --port 8080`; vLLM: `vllm serve <model>`), "
            "or turn the judge off."
        )

    def check(self) -> list[str]:
        """The model names the server offers; raises JudgeUnavailable when it does not answer."""
        url = f"{self.base_url}/v1/models"
        try:
            response = httpx.get(url, headers=self._headers(), timeout=self.timeout_s)
            response.raise_for_status()
        except httpx.HTTPStatusError as error:
            raise JudgeUnavailable(f"The judge at {url} answered HTTP {error.response.status_code}: "
                                   f"{_shown(error.response.text)}") from error
        except httpx.HTTPError as error:
            raise self._unreachable(url, error) from error
        try:
            return [entry.get("id", "") for entry in response.json().get("data", [])]
        except (ValueError, AttributeError):
            return []

    def score(self, instruction: str, answer: str, kind: str, input_text: str = "") -> JudgeScore:
        """The judge's score of `answer` to `instruction` (with its `input_text` context) in `kind`."""
        request = instruction.strip() + (f"\n\n{input_text.strip()}" if (input_text or "").strip() else "")
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "messages": [
                {"role": "system", "content": RUBRIC.format(language=LANGUAGES.get(kind, kind))},
                {"role": "user", "content": f"## Request\n{request}\n\n## Answer\n{answer}"},
            ],
        }
        try:
            response = httpx.post(self.endpoint, json=body, headers=self._headers(), timeout=self.timeout_s)
            response.raise_for_status()
        except httpx.HTTPStatusError as error:
            raise JudgeUnavailable(f"The judge at {self.endpoint} answered HTTP {error.response.status_code}: "
                                   f"{_shown(error.response.text)}") from error
        except httpx.HTTPError as error:
            raise self._unreachable(self.endpoint, error) from error
        try:
            text = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise JudgeUnavailable(f"The judge at {self.endpoint} did not answer as an OpenAI-compatible server "
                                   f"does: {_shown(response.text)}") from error
        return parse_reply(text)
