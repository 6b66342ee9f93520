"""TeX formulas of notebook markdown as MathML, rendered once when a notebook is exported to HTML,
so the page needs no MathJax (nor any other script from a CDN) to show them: browsers draw
MathML themselves (Chromium ≥ 109, Firefox, Safari).

`protect_math(markdown)` swaps every `$…$`, `$$…$$`, `\\(…\\)` and `\\[…\\]` outside code for
an inert token before the markdown is rendered (markdown would otherwise read `_` and `*`
inside a formula as emphasis); `restore_math(html, formulas)` puts the MathML in place of
the tokens afterwards. A formula latex2mathml cannot read stays visible as its TeX source.
"""
from __future__ import annotations

import html as html_lib
import re

TOKEN = "ADVEXPLOREMATH{}X"
TOKEN_RE = re.compile(r"ADVEXPLOREMATH(\d+)X")
MATH_RE = re.compile(
    r"(?P<fence>^[ \t]*(?P<mark>```|~~~).*?^[ \t]*(?P=mark))"   # fenced code: left alone
    r"|(?P<code>`[^`\n]*`)"                                       # inline code: left alone
    r"|\$\$(?P<display>.+?)\$\$"                                   # $$ display $$
    r"|\\\[(?P<display2>.+?)\\\]"                                  # \[ display \]
    r"|\\\((?P<inline2>.+?)\\\)"                                   # \( inline \)
    r"|(?<![\\$])\$(?P<inline>[^\s$`](?:[^$`]*?[^\s\\$`])?)\$",    # $inline$ (no backtick inside)
    re.S | re.M)


def to_mathml(tex: str, display: bool = False) -> str:
    """MathML for one formula; its TeX source in <code> when latex2mathml cannot read it."""
    try:
        from latex2mathml.converter import convert

        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 — a formula it cannot read must not break the export
        delim = "$$" if display else "$"
        return f'<code class="tex-source">{html_lib.escape(delim + tex + delim)}</code>'


def protect_math(markdown: str, formulas: list[str]) -> str:
    """`markdown` with each formula outside code replaced by a token; its MathML is appended
    to `formulas` (the token's number is its index there)."""
    def swap(m: re.Match) -> str:
        if m.group("fence") or m.group("code"):
            return m.group(0)
        display = m.group("display") or m.group("display2")
        tex = display if display is not None else (m.group("inline") or m.group("inline2"))
        formulas.append(to_mathml(tex, display=display is not None))
        return TOKEN.format(len(formulas) - 1)

    return MATH_RE.sub(swap, markdown)


def restore_math(html: str, formulas: list[str]) -> str:
    """Put the MathML back in place of the tokens; inside an attribute (a heading's anchor id)
    the token is simply dropped."""
    html = re.sub(r'="[^"]*ADVEXPLOREMATH\d+X[^"]*"', lambda m: TOKEN_RE.sub("", m.group(0)), html)
    return TOKEN_RE.sub(lambda m: formulas[int(m.group(1))], html)
