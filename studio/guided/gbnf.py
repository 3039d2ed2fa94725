"""Writing GBNF (llama.cpp's grammar format, which xgrammar reads as EBNF and llguidance converts to Lark).

    >>> rules = Rules()
    >>> rules.add("root", seq(lit("```hcl\\n"), "body", lit("```")))
    'root'
    >>> rules.add("body", '[a-z]*')
    'body'
    >>> print(rules.text())
    root ::= "```hcl\\n" body "```"
    body ::= [a-z]*

Rules whose right-hand side uses only literals and character classes become lexemes when llguidance converts
the grammar (its `gbnf_to_lark`): the lexical pieces (strings, numbers, comments, heredocs, YAML scalars) are
written as such rules, so that both engines see the same language and llguidance lexes them in one step.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[^a-z0-9]+")


def lit(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def seq(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def alt(*parts: str) -> str:
    return "(" + " | ".join(parts) + ")"


def opt(part: str) -> str:
    return f"({part})?"


def star(part: str) -> str:
    return f"({part})*"


def plus(part: str) -> str:
    return f"({part})+"


def rule_name(*words: str) -> str:
    """A GBNF rule name (lower-case letters, digits and dashes) from free words."""
    return "-".join(_NAME.sub("-", w.lower()).strip("-") for w in words if w)


# One or two backticks, then the rest of a line: a line of free text (a heredoc's, a block scalar's) may begin with
# them, not with three, which would close the answer's fence (a guided answer wrote ``` inside a heredoc it never
# ended, and the fence stopped it there, thirteenth session).
_BACKTICKS = '"`" "`"? ([^`\\r\\n] [^\\r\\n]*)?'


def text_line() -> str:
    """A character-class expression for one line of free text (no line end) that does not begin, after spaces and
    tabs, with the ``` of a fence."""
    return "[ \\t]* ([^` \\t\\r\\n] [^\\r\\n]* | " + _BACKTICKS + ")?"


def not_line(word: str) -> str:
    """A character-class expression for one heredoc line that is not `word` (after optional indentation), nor the
    ``` of a fence."""
    # Lines that stop short of `word`, differ from it at some position, or run on past it.
    options = ['[^' + word[0] + '` \\t\\r\\n] [^\\r\\n]*', _BACKTICKS]
    for i in range(1, len(word)):
        options.append(lit(word[:i]) + ' ([^' + word[i] + '\\r\\n] [^\\r\\n]*)?')
    options.append(lit(word) + " [^\\r\\n]+")
    return "[ \\t]* (" + " | ".join(options) + ")?"


class Rules:
    """An ordered set of GBNF rules; `add` returns the name so that rules read where they are used."""

    def __init__(self):
        self._rules: dict[str, str] = {}

    def add(self, name: str, body: str) -> str:
        if name in self._rules and self._rules[name] != body:
            raise ValueError(f"rule {name} defined twice with different bodies")
        self._rules[name] = body
        return name

    def replace(self, name: str, body: str) -> None:
        """Write a rule reserved earlier (a recursive one refers to itself before its body is known)."""
        self._rules[name] = body

    def __contains__(self, name: str) -> bool:
        return name in self._rules

    def __len__(self) -> int:
        return len(self._rules)

    def text(self) -> str:
        return "\n".join(f"{name} ::= {body}" for name, body in self._rules.items()) + "\n"
