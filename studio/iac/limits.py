"""Limits that keep a hostile answer from crashing or stalling the validators: size, nesting, alias expansion.

    >>> from studio.iac.limits import hcl_nesting, yaml_nesting_bound, expanded_nodes
    >>> hcl_nesting('resource "a" "b" {\\n  tags = { x = "}}}" }\\n}')    # brackets inside strings do not count
    2
    >>> yaml_nesting_bound("a: [1, {b: 2}]") <= 10
    True
    >>> import yaml
    >>> expanded_nodes(yaml.compose("a: &x [1, 2]\\nb: [*x, *x, *x]"))      # each alias counted as its expansion
    16

Each one is a linear scan done before the real parser runs, so the parsers only ever see input they can take:

- libyaml's C composer recurses once per nesting level and overflows the C stack (a segfault that kills the
  app) at a few thousand levels; `yaml_nesting_bound` is an upper bound of the nesting that cannot be fooled
  by quotes, and above `C_LOADER_MAX_NESTING` the pure-Python loader, which stops at `MAX_NESTING`, is used.
- A YAML alias bomb is a few hundred bytes whose aliases expand to billions of nodes: `expanded_nodes` counts
  them on the composed graph (each shared node once, with its size), and past `MAX_EXPANDED_NODES` the
  document is refused before anything is constructed.
- python-hcl2 turns its parse tree into objects recursively: 10,000 nested blocks raise deep inside lark.
  `hcl_nesting` measures the brackets outside strings and comments, refused above `MAX_NESTING`.
"""

from __future__ import annotations

import re

# Deeper than any real manifest or module (the seed's deepest is 9), shallow enough for every recursive step.
MAX_NESTING = 100
# Under this bound libyaml's C loader is safe (it crashes at thousands of levels); above it, the Python one.
C_LOADER_MAX_NESTING = 200
# A big manifest has a few thousand nodes; a budget of 100,000 leaves room and refuses a bomb at once.
MAX_EXPANDED_NODES = 100_000
# An answer longer than this is not looked at: a GRPO answer is a few KB, a dataset row rarely 50 KB.
MAX_ANSWER_CHARS = 2_000_000


# What hcl_nesting looks at: strings, comments, a heredoc's start (its marker captured), brackets. Everything
# else is skipped by the regex engine, so the scan is one pass in C between brackets.
_HCL_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z)'
                         r'|<<-?[ \t]*"?([A-Za-z_]\w*)"?[ \t]*(?=\n)|[{}\[\]()]', re.S)


def hcl_nesting(code: str) -> int:
    """The deepest nesting of `{`, `[` and `(` in HCL, outside strings, comments and heredocs."""
    depth = deepest = 0
    position = 0
    while True:
        found = _HCL_TOKENS.search(code, position)
        if found is None:
            return deepest
        position = found.end()
        if found.group(1):  # a heredoc: skip to the line that ends it
            end = re.compile(rf"^[ \t]*{found.group(1)}[ \t]*$", re.M).search(code, position)
            position = end.end() if end else len(code)
            continue
        char = found.group(0)[0]
        if char in "{[(":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}])" and depth > 0:
            depth -= 1


def yaml_nesting_bound(text: str) -> int:
    """An upper bound of the nesting depth YAML's composer can reach in `text`.

    Every `[` and `{` anywhere (quoted or not: a bound must not trust the quoting it cannot parse) plus the
    most block levels one line can open (its indentation and its `-`, `?` and `:` indicators).
    """
    flow = text.count("[") + text.count("{")
    block = 0
    for line in text.split("\n"):
        stripped = line.lstrip(" \t")
        levels = len(line) - len(stripped) + stripped.count("-") + stripped.count("?") + stripped.count(":")
        block = max(block, levels)
    return flow + block + 1


def expanded_nodes(node, budget: int = MAX_EXPANDED_NODES) -> int:
    """How many nodes a composed YAML node stands for once its aliases are expanded (stops counting past
    `budget`). A shared node (an anchor and its aliases) is measured once and counted at every use."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    # Post-order without recursion: (node, children done?).
    stack = [(node, False)]
    while stack:
        current, done = stack.pop()
        key = id(current)
        if key in sizes:
            continue
        children = _children(current)
        if not done:
            if key in entered:  # `&a [*a]`: a node inside itself expands forever
                return budget + 1
            entered.add(key)
            stack.append((current, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        size = 1
        for child in children:
            size += sizes.get(id(child), 1)
            if size > budget:
                break
        sizes[key] = min(size, budget + 1)
    return sizes[id(node)]


def _children(node) -> list:
    value = getattr(node, "value", None)
    if not isinstance(value, list):
        return []  # a scalar
    if value and isinstance(value[0], tuple):  # a mapping: (key, value) pairs
        return [part for pair in value for part in pair]
    return value
