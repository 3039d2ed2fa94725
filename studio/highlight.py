"""Code shown as highlighted HTML, for the languages the studio writes (Gradio's code view has no HCL).

    >>> from studio.highlight import code_html
    >>> code_html('resource "aws_s3_bucket" "logs" {\\n  bucket = "logs"\\n}', "terraform")
    '<div class="im-code"><pre ...><span style="color: #008000; font-weight: bold">resource</span> ...'
"""

from __future__ import annotations

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TerraformLexer, TextLexer, YamlLexer

_LEXERS = {"terraform": TerraformLexer, "hcl": TerraformLexer, "kubernetes": YamlLexer, "yaml": YamlLexer}
# Inline styles, so the HTML needs no stylesheet and survives Gradio's sanitizer.
_FORMATTER = HtmlFormatter(noclasses=True, nowrap=False, style="default")


def code_html(code: str, language: str | None) -> str:
    """`code` as a highlighted HTML block; unknown languages are shown plain, escaped."""
    lexer = _LEXERS.get((language or "").lower(), TextLexer)()
    return f'<div class="im-code">{highlight(code, lexer, _FORMATTER)}</div>'
