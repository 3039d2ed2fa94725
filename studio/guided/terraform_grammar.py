"""The Terraform grammar: HCL whose `resource` and `data` types, arguments and nested blocks are the AWS schema's.

    >>> from studio.guided.terraform_grammar import terraform_gbnf
    >>> text = terraform_gbnf()
    >>> 'res-aws-s3-bucket ::= "aws_s3_bucket\\\\""' in text
    True

Generated from `studio.iac.aws_schema` (every resource and data source of AWS provider 5.99.1 and 6.25.0): each
type's body may hold only its own arguments (`name = <expression>`) and nested blocks (`name { ... }`, recursively
checked, or `dynamic "name" { ... }`), plus Terraform's meta-arguments (count, for_each, depends_on, provider,
lifecycle, provisioner, connection; `connection` and the three provisioners Terraform has by their own schemas,
`studio.iac.terraform.PROVISIONERS`, their required arguments written before their `}`). Values are free HCL
expressions: strings with `${...}` interpolation, numbers, references, function calls, operators, conditionals,
tuples, objects, `for` expressions and heredocs.
Resources of the HashiCorp utility providers (random, tls, null, time, ...) are allowed with any body, as the
validator notes them unchecked; `variable`, `output`, `locals`, `provider`, `terraform`, `module`, `moved`,
`import`, `removed` and `check` blocks follow Terraform's own rules.

Required arguments are enforced, in any order, in the resource types the studio's generated rows teach
(`studio.synth.terraform.supported_types()`, 496 types) when they have at most REQUIRED_TRACKED of them: such a
body is a chain of states, one per set of required arguments still missing (2^k states for k of them), and its
`}` is allowed only once none is. A missing required argument was the first failure of 29 of the 121 guided
answers of the gpu recipe's GRPO model on 2026-12-04 (bench/sweeps/results/gpu-h200.md). Not every type: llguidance
numbers a grammar's symbols in 16 bits, and the grammar without these states already uses most of them (the
states of every type with one to three required arguments do not fit; those of the 496 types take about 1,600).
Other bodies keep the free order, and the validator still says which argument is missing. Within a tracked type,
the nested blocks the schema requires are tracked too (`default_cache_behavior` of `aws_cloudfront_distribution`
must write its own required arguments): after the top-level ones, a required nested block's missing argument was the
commonest schema failure left on the GPU (8 of 12 guided Terraform schema failures, 2026-12-04). They keep the
one-line form (`versioning_configuration { status = "Enabled" }`), unchecked as elsewhere; optional nested blocks
are not tracked (their states do not fit llguidance's symbols).
"""

from __future__ import annotations

import json

from studio.guided.gbnf import Rules, lit, not_line, rule_name, seq, star
from studio.iac.aws_schema import AwsSchema, BlockSchema, aws_schema
from studio.iac.terraform import CONNECTION, CORE_ARGUMENTS, PROVISIONERS
from studio.synth.terraform import supported_types

FENCE_OPEN, FENCE_CLOSE = "```hcl\n", "```"
# Utility providers whose resources answers use beside AWS (the validator notes them as not checked).
OTHER_PROVIDERS = ("random", "tls", "null", "time", "local", "archive", "http", "external", "cloudinit", "template")
# Heredoc delimiters; a context-free grammar cannot match a free delimiter with its end, so these are listed.
HEREDOC_WORDS = ("EOT", "EOF", "POLICY", "JSON", "EOP", "END", "SCRIPT", "USERDATA", "YAML", "CONFIG", "TEMPLATE",
                 "DOC", "EOS", "SQL", "DEFINITION", "CMD", "DATA", "BODY", "SH", "XML")
# Bodies with at most this many required arguments must write each of them (2^k grammar states per body).
REQUIRED_TRACKED = 3
LIFECYCLE_ARGUMENTS = ("create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by")
# Whitespace outside strings and heredocs is bounded, and has no tabs (`terraform fmt` writes none, nor does any
# seed answer): spaces between tokens, before `=` or `:` (the seed answers align up to 32), indentation (12 at most
# in them), blank lines in a row (1 in them), line breaks in a row inside brackets. No `/* */` comments either
# (none in the seed answers; a guided answer opened one after a `}` and never closed it).
SPACES, ALIGN, INDENT, BLANK_LINES, BRACKET_LINES = 4, 48, 32, 2, 4


def _common(rules: Rules) -> None:
    """Lexemes and the free expression grammar shared by every body.

    The llguidance lexer is greedy and allows 65k symbols in all, so optional spaces are folded into the
    lexemes that follow them (`eq` is ` = ` with its spaces, a body's argument names carry the indentation)
    rather than written as separate optional pieces.
    """
    spaces, align, indent = f'" "{{0,{SPACES}}}', f'" "{{0,{ALIGN}}}', f'" "{{0,{INDENT}}}'
    rules.add("sp", f'" "{{1,{SPACES}}}')
    rules.add("eq", f'{align} "=" {spaces}')
    rules.add("lb", f'{spaces} "{{"')
    rules.add("rb", f'{spaces} "}}"')
    rules.add("quote", '"\\""')
    # The end of a line, with the blank lines and comment lines after it and the next line's indentation: one
    # lexeme, so that a body is simply `(item eol)*` (fewer grammar symbols than separate blank-line items).
    # Bounded: a model that may write whitespace without end can loop in it (guided answers of the gpu recipe's
    # SFT wrote tabs and spaces after `connection`, or blank lines, until the budget ran out).
    comment = '("#" [^\\r\\n]* | "//" [^\\r\\n]*)'
    blanks = f'({align} "\\n"){{0,{BLANK_LINES}}}'
    rules.add("eol", f'{align} {comment}? "\\n" {blanks} ({indent} {comment} "\\n" {blanks})* {indent}')
    # Whitespace inside brackets: newlines and comments too.
    newline = f'{align} {comment}? "\\n"'
    rules.add("wsn", f'" "{{1,{ALIGN}}} | {newline} ({newline}){{0,{BRACKET_LINES}}} {indent}')
    rules.add("ident", "[a-zA-Z_] [a-zA-Z0-9_-]*")
    rules.add("label", '"\\"" [a-zA-Z0-9_./:-]+ "\\""')
    rules.add("number", '[0-9]+ ("." [0-9]+)? ([eE] [+-]? [0-9]+)?')
    # A quoted string: escapes, ${...} interpolations and %{...} directives (without a `}` inside), `$$`/`%%`.
    rules.add("string", '"\\"" ([^"\\\\\\r\\n$%] | "\\\\" [^\\r\\n] | "$$" | "%%" | "${" [^}\\r\\n]* "}" | "%{" [^}\\r\\n]* "}"'
                        ' | "$" [^{"\\r\\n\\\\$] | "%" [^{"\\r\\n\\\\%])* "\\""')
    heredocs = [rules.add(rule_name("heredoc", w), seq('"<<" "-"?', lit(w + "\n"), star(seq(not_line(w), '"\\n"')),
                                                   indent, lit(w)))
                for w in HEREDOC_WORDS]
    rules.add("heredoc", " | ".join(heredocs))
    rules.add("w", "wsn?")
    rules.add("operator", f'{spaces} ("==" | "!=" | "<=" | ">=" | "<" | ">" | "&&" | "||" | "+" | "-" | "*" | "/"'
                          f' | "%") {spaces}')
    rules.add("question", f'{spaces} "?" {spaces}')
    rules.add("colon", f'{align} ":" {spaces}')
    # Two flavours of expression: on a line (operators never continue past its end) and inside brackets
    # (newlines and comments allowed anywhere). A newline-eating whitespace lexeme where a line may end would
    # swallow the next line's indentation.
    rules.add("expr", "binary (question expr colon expr)?")
    rules.add("binary", "unary (operator unary)*")
    rules.add("expr-in", "binary-in (w question w expr-in w colon w expr-in)?")
    rules.add("binary-in", "unary (w operator w unary)*")
    rules.add("unary", '("!" | "-")? postfix')
    rules.add("postfix", 'primary ("." ident | "." [0-9]+ | "[" w expr-in w "]" | ".*" | "[*]")*')
    rules.add("primary", 'number | string | heredoc | ident | call | tuple | object | "(" w expr-in w ")"'
                         ' | for-tuple | for-object')
    rules.add("call", 'ident "(" w (expr-in (w "," w expr-in)* w ("," | "...")?)? w ")"')
    rules.add("tuple", '"[" w (expr-in (w "," w expr-in)* w ","?)? w "]"')
    rules.add("object-key", 'ident | string | "(" w expr-in w ")"')
    # Inside an object a newline ends an item: its value is a line-level expression (brackets inside it may
    # still span lines), as HCL reads it.
    rules.add("object-item", "object-key (eq | colon) expr")
    rules.add("object", '"{" w (object-item (w "," w object-item | wsn object-item)* w ","?)? w "}"')
    rules.add("for-head", '"for" wsn ident (w "," w ident)? wsn "in" wsn expr-in w ":" w')
    rules.add("for-tuple", '"[" w for-head expr-in (wsn "if" wsn expr-in)? w "]"')
    # `=>` with its spaces in one lexeme: after ` =` the greedy lexer would otherwise be inside `==`.
    rules.add("arrow", f'[ \\n]{{0,{ALIGN}}} "=>" [ \\n]{{0,{ALIGN}}}')
    rules.add("for-object", '"{" w for-head expr-in arrow expr-in "..."? (wsn "if" wsn expr-in)? w "}"')
    # A body nobody checks (locals, modules, other providers): any arguments and any nested blocks.
    rules.add("free-item", "ident eq expr | ident (sp label)* free-block")
    rules.add("free-body", "(free-item eol)*")
    rules.add("free-block", "lb eol free-body rb | one-line")
    # `{}` or `{ name = value }` on one line; the one argument is not checked (4 seed rows of 740 write one).
    rules.add("one-line", "lb rb | lb sp? free-item rb")
    rules.add("lifecycle-name", " | ".join(lit(a) for a in LIFECYCLE_ARGUMENTS))
    rules.add("lifecycle-body", '(lifecycle-name eq expr eol | ("precondition" | "postcondition") free-block eol)*')
    rules.add("dynamic-tail", "lb eol dynamic-body rb")
    rules.add("dynamic-argument", '"for_each" | "iterator" | "labels"')
    rules.add("dynamic-body", '(dynamic-argument eq expr eol | "content" free-block eol)*')


class _Bodies:
    """One set of rules per distinct block schema (identical nested blocks of many types share them)."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.by_key: dict[str, str] = {}

    def body(self, block: BlockSchema, *, meta: bool = False, track: bool = False, one_line: bool = True) -> str:
        """The rules of a block's body; `track`: its required arguments must all be written (see the module's
        docstring); `one_line`: a tracked body may also be written `{}` or `{ name = value }`, unchecked."""
        # A tracked body's required nested blocks are tracked too (their own required arguments); other nested
        # blocks are not: the states of all of them do not fit llguidance's symbols.
        nested = {n: self.body(c, track=track and c.required) for n, c in block.blocks.items()}
        key = json.dumps([sorted(block.arguments.items()), sorted(nested.items()), meta, track, one_line])
        name = self.by_key.get(key)
        if name is not None:
            return name
        name = self.by_key[key] = f"b{len(self.by_key)}"
        items = []
        arguments = set(block.arguments) | {n for n, c in block.blocks.items() if c.nesting == "attribute"}
        if meta:
            arguments |= {"count", "for_each", "depends_on", "provider"}
        required = sorted(a for a, need in block.arguments.items() if need == "required") if track else []
        if len(required) > REQUIRED_TRACKED:
            required = []
        arguments -= set(required)
        if arguments:
            # A rule of literals only becomes one lexeme: one terminal per body rather than one per name.
            names = self.rules.add(f"{name}-arg", " | ".join(lit(a) for a in sorted(arguments)))
            items.append(f"{names} eq expr")
        for child_name, child in sorted(block.blocks.items()):
            items.append(f"{lit(child_name)} {nested[child_name]}-block")
        if block.blocks:
            # `dynamic "<nested block>" { for_each = ..., content { ... } }`: the nested block's name is checked,
            # its content is not (a rule per nested block would double the grammar, for 4 seed rows of 740).
            dynamic = self.rules.add(f"{name}-dyn", f'"dynamic" " "{{1,{SPACES}}} "\\"" ('
                                     + " | ".join(lit(n) for n in sorted(block.blocks)) + ') "\\""')
            items.append(f"{dynamic} dynamic-tail")
        if meta:
            items.append("meta-item")
        if required:
            self._required_states(name, items, required, one_line=one_line and not meta)
            return name
        if not items:  # a block with nothing in it: `name {}`
            self.rules.add(f"{name}-block", "one-line")
            return name
        item = self.rules.add(f"{name}-item", " | ".join(items))
        self.rules.add(f"{name}-block", f"lb eol ({item} eol)* rb | one-line")
        return name

    def _required_states(self, name: str, items: list[str], required: list[str], one_line: bool) -> None:
        """`name-block` as states `name-sM`, M the bit mask of the required arguments still missing: any other
        items, then one of the missing ones (to the state without it), and `}` only from state 0."""
        others = ""  # a nested block may hold nothing but its required arguments
        if items:
            others = self.rules.add(f"{name}-items", f"({self.rules.add(f'{name}-item', ' | '.join(items))} eol)*")
        # One lexeme per argument name, shared by every body that requires it (llguidance counts its symbols in
        # 16 bits, and the grammar without these states already uses most of them).
        writes = [self.rules.add(rule_name("req", a), lit(a)) for a in required]
        for mask in range(2 ** len(required)):
            missing = [i for i in range(len(required)) if mask >> i & 1]
            steps = [f"{others} {writes[i]} eq expr eol {name}-s{mask & ~(1 << i)}".strip() for i in missing]
            self.rules.add(f"{name}-s{mask}", " | ".join(steps or [f"{others} rb".strip()]))
        # A nested block keeps the one-line form the untracked bodies have (`versioning_configuration { status =
        # "Enabled" }`, unchecked).
        self.rules.add(f"{name}-block", f"lb eol {name}-s{2 ** len(required) - 1}" + (" | one-line" if one_line else ""))


def build(schema: AwsSchema | None = None) -> Rules:
    """The whole grammar as rules; `root` first."""
    schema = schema or aws_schema()
    tracked = set(supported_types())
    rules = Rules()
    rules.add("root", seq(lit(FENCE_OPEN), "top", lit(FENCE_CLOSE)))
    rules.add("top", "eol? (top-block eol)+")  # at least one block: an empty fence is no answer
    rules.add("top-block", " | ".join([
        '"resource" sp quote resource-type', '"data" sp quote data-type',
        '"variable" sp label variable-block', '"output" sp label output-block', '"locals" free-block',
        '"provider" sp "\\"aws\\"" provider-aws-block', '"provider" sp label free-block',
        '"terraform" terraform-block', '"module" sp label free-block', '"moved" moved-block', '"import" import-block',
        '"removed" removed-block', '"check" sp label free-block',
    ]))
    _common(rules)
    bodies = _Bodies(rules)
    others = "(" + " | ".join(lit(p + "_") for p in OTHER_PROVIDERS) + ') [a-z0-9_]+ "\\""'
    for section, names, lookup in (("resource", schema.resource_types, schema.resource),
                                   ("data", schema.data_types, schema.data_source)):
        options = [f'{lit(t + chr(34))} sp label {bodies.body(lookup(t), meta=True, track=t in tracked)}-block'
                   for t in sorted(names)]
        rules.add(f"{section}-type", " | ".join(options) + " | other-type sp label free-block")
    rules.add("other-type", others)
    provider = bodies.body(schema.provider)
    rules.add("provider-aws-block", f"{provider}-block")
    # Terraform's own `connection` and provisioners (`studio.iac.terraform.PROVISIONERS`), their required arguments
    # written before their `}`
    connection = bodies.body(CONNECTION, track=True, one_line=False)
    rules.add("provisioner-type", " | ".join(
        f'{lit(chr(34) + kind + chr(34))} {bodies.body(body, track=True, one_line=False)}-block'
        for kind, body in PROVISIONERS.items()))
    rules.add("core-block", f'"provisioner" sp provisioner-type | "connection" {connection}-block')
    rules.add("meta-item", '"lifecycle" (lb eol lifecycle-body rb | lb rb) | core-block')
    # `terraform { ... }`: Terraform's own settings, which the validator checks (`CORE_ARGUMENTS`), their bodies free
    # (a guided answer closed its resource early and wrote `terraform { id = ..., role = ... }`, thirteenth session)
    rules.add("terraform-item", '("required_version" | "experiments") eq expr | ("required_providers" | "cloud") '
                                'free-block | ("backend" | "provider_meta") sp label free-block')
    rules.add("terraform-block", "lb eol (terraform-item eol)* rb | lb rb")
    for keyword in ("variable", "output", "moved", "import", "removed"):
        allowed = sorted(CORE_ARGUMENTS[keyword] - {"validation", "precondition", "lifecycle", "provisioner",
                                                    "connection"})
        names = rules.add(f"{keyword}-arg", " | ".join(lit(a) for a in allowed))
        items = [f"{names} eq expr"]
        if keyword == "variable":
            items.append('"validation" free-block')
        if keyword == "output":
            items.append('"precondition" free-block')
        if keyword == "removed":
            items.append('"lifecycle" free-block | core-block')
        item = rules.add(f"{keyword}-item", " | ".join(items))
        rules.add(f"{keyword}-block", f"lb eol ({item} eol)* rb | one-line")
    return rules


def terraform_gbnf(schema: AwsSchema | None = None) -> str:
    return build(schema).text()
