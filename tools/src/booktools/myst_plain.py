"""MyST Markdown rewritten as plain Jupyter Markdown.

Colab and Jupyter render CommonMark, ``$`` maths and HTML. A MyST directive,
role or target shows there as raw text, so the student notebooks must carry
none. :class:`PlainMarkdown` parses Markdown with the parser Jupyter Book
itself uses (markdown-it-py with the MyST plugins) and rewrites each
construct the chapters use:

* admonitions (``{note}``, ``{warning}``, ``{admonition} Title`` ...) become
  block quotes under a bold title; dropdowns (``:class: dropdown``,
  ``{dropdown}``) become HTML ``<details>``, collapsed until clicked;
* ``{figure}`` and ``{image}`` become Markdown images, ``{code-block}`` a
  fenced block, ``{math}`` a ``$$`` block;
* roles become links to the published page (``{doc}``, ``{ref}``,
  ``{numref}``, ``{eq}``) or plain Markdown (``{math}``);
* targets ``(label)=``, comments ``% ...`` and equation labels go.

Anything else (a directive or role it does not know, ``{literalinclude}``
whose code a notebook could not run, a directive nested in a list) is a
:class:`ChapterError` naming the file and line: nothing MyST slips through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import yaml
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser

__all__ = ["ChapterError", "Directive", "Links", "PlainMarkdown", "markdown_parser", "myst_leftovers", "top_level_blocks"]

ADMONITIONS = {
    "admonition": "",
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "hint": "Hint",
    "important": "Important",
    "note": "Note",
    "seealso": "See also",
    "tip": "Tip",
    "warning": "Warning",
}
CODE_BLOCKS = ("code-block", "code", "sourcecode")
# Tables that the build fills in (myst-nb's execution times, booktools.build.kernel_usage's memory): a pointer to the site.
BUILD_TABLES = {"nb-exec-table": "Execution times", "kernel-usage-table": "Memory and time per chapter"}
_OPTION = re.compile(r"^:(?P<key>[\w-]+):(?P<value>.*)$")
_TITLED_TARGET = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


class ChapterError(ValueError):
    """A chapter that cannot be turned into a student notebook safely.

    The message starts with ``path:line:`` so that an editor jumps there.
    """

    def __init__(self, path: object, line: int, message: str) -> None:
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


def markdown_parser(extensions: Iterable[str]) -> MarkdownIt:
    """The MyST parser with the syntax extensions that ``_config.yml`` enables.

    Examples
    --------
    >>> [token.type for token in markdown_parser(["colon_fence"]).parse("(top)=\\n:::{note}\\nHi\\n:::")]
    ['myst_target', 'colon_fence']
    """
    return create_md_parser(MdParserConfig(enable_extensions=set(extensions)), RendererHTML)


def top_level_blocks(tokens: Sequence[Token]) -> list[list[Token]]:
    """Group a token stream into its top-level blocks, each with its nested tokens."""
    blocks, start = [], 0
    while start < len(tokens):
        end, depth = start, tokens[start].nesting
        while depth > 0:
            end += 1
            depth += tokens[end].nesting
        blocks.append(list(tokens[start : end + 1]))
        start = end + 1
    return blocks


def directive_name(token: Token) -> str | None:
    """The directive a fence opens (``note`` for ``{note}``), or None for plain code."""
    if token.type not in ("fence", "colon_fence"):
        return None
    match = re.match(r"\{([^}\s]+)\}", token.info.strip())
    return match[1] if match else None


@dataclass
class Directive:
    """A directive fence taken apart: name, argument, options and body."""

    name: str
    argument: str
    options: dict
    body: str
    line: int
    body_line: int

    @classmethod
    def parse(cls, token: Token, line: int, path: object) -> Directive:
        """Read a directive from its fence token; ``line`` is the fence's line in the file."""
        name = directive_name(token)
        if token.markup.startswith("~"):
            raise ChapterError(
                path,
                line,
                f"the directive {{{name}}} is fenced with {token.markup}: fence directives with ``` or :::, "
                "which jupytext and the student-notebook generator both read.",
            )
        argument = token.info.strip()[len(name) + 2 :].strip()
        lines = token.content.split("\n")
        options: dict = {}
        consumed = 0
        if lines and lines[0].strip() == "---":
            closing = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
            if closing is None:
                raise ChapterError(path, line + 1, f"the options of {{{name}}} open with --- but never close.")
            options = yaml.safe_load("\n".join(lines[1:closing])) or {}
            consumed = closing + 1
        else:
            while consumed < len(lines) and (match := _OPTION.match(lines[consumed])):
                options[match["key"]] = match["value"].strip()
                consumed += 1
        body = "\n".join(lines[consumed:]).strip("\n")
        return cls(name, argument, options, body, line, line + 1 + consumed)


@dataclass(frozen=True)
class Links:
    """Where roles point: the published site, the current chapter and the book's labels."""

    base_url: str
    docname: str
    titles: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def page(self, docname: str, anchor: str = "") -> str:
        """The published address of a chapter (``book/convolution``), optionally at an anchor."""
        return f"{self.base_url.rstrip('/')}/{docname}.html" + (f"#{anchor}" if anchor else "")

    def resolve_doc(self, target: str) -> str:
        """A ``{doc}`` target, relative to the current chapter or absolute (``/book/x``), as a docname."""
        if target.startswith("/"):
            return target.lstrip("/").removesuffix(".md")
        folder = self.docname.rpartition("/")[0]
        parts = [part for part in f"{folder}/{target}".split("/") if part and part != "."]
        resolved: list[str] = []
        for part in parts:
            if part == "..":
                resolved = resolved[:-1]
            else:
                resolved.append(part)
        return "/".join(resolved).removesuffix(".md")


class PlainMarkdown:
    """Rewrites the Markdown of one chapter as plain Jupyter Markdown.

    Parameters
    ----------
    parser : MarkdownIt
        From :func:`markdown_parser`.
    links : Links
        Where roles point.
    path : path-like
        The chapter, named in errors.
    """

    def __init__(self, parser: MarkdownIt, links: Links, path: object) -> None:
        self.parser, self.links, self.path = parser, links, path

    def convert(self, text: str, first_line: int = 1) -> str:
        """Rewrite a piece of Markdown whose first line is line ``first_line`` of the chapter."""
        lines = text.split("\n")
        pieces = [self.block(block, lines, first_line) for block in top_level_blocks(self.parser.parse(text))]
        return "\n\n".join(piece for piece in pieces if piece)

    def block(self, block: list[Token], lines: list[str], first_line: int) -> str:
        """Rewrite one top-level block; ``lines`` are the lines its token map refers to."""
        token = block[0]
        start, end = token.map or (0, 0)
        line = first_line + start
        if token.type in ("front_matter", "myst_target", "myst_line_comment", "myst_block_break"):
            return ""
        if directive_name(token):
            return self.directive(Directive.parse(token, line, self.path))
        if token.type == "math_block_label":
            return f"$$\n{token.content.strip()}\n$$"
        for inner in block[1:]:
            nested = directive_name(inner) or (inner.type in ("myst_target", "myst_line_comment") and inner.type)
            if nested:
                inner_line = first_line + (inner.map or (start, 0))[0]
                raise ChapterError(
                    self.path,
                    inner_line,
                    f"{nested} inside a list or quote has no plain-Jupyter form: move it to the top level of the chapter.",
                )
        text = "\n".join(lines[start:end]).strip("\n")
        if token.type == "fence":
            return text
        return self.roles(text, [child for inner in block for child in inner.children or []], line)

    def roles(self, text: str, children: list[Token], line: int) -> str:
        """Replace every role of ``children`` in ``text`` by its plain form."""
        position = 0
        for child in children:
            if child.type != "myst_role":
                continue
            name = child.meta["name"]
            pattern = re.compile(r"\{" + re.escape(name) + r"\}(`+)\s*" + re.escape(child.content.strip()) + r"\s*\1")
            match = pattern.search(text, position)
            if match is None:
                raise ChapterError(self.path, line, f"cannot find the role {{{name}}}`{child.content}` in the source.")
            plain = self.role(name, child.content.strip(), line)
            text = text[: match.start()] + plain + text[match.end() :]
            position = match.start() + len(plain)
        return text

    def role(self, name: str, content: str, line: int) -> str:
        """The plain Markdown of one role."""
        titled = _TITLED_TARGET.match(content)
        title, target = (titled["title"], titled["target"]) if titled else ("", content)
        if name == "math":
            return f"${content}$"
        if name == "doc":
            docname = self.links.resolve_doc(target)
            return f"[{title or self.links.titles.get(docname, docname)}]({self.links.page(docname)})"
        if name in ("ref", "numref", "eq"):
            if target not in self.links.labels:
                raise ChapterError(self.path, line, f"the {{{name}}} role points to {target!r}, a label no chapter defines.")
            docname, label_title = self.links.labels[target]
            anchor = f"equation-{target}" if name == "eq" else target
            title = title.replace("{number}", "").replace("%s", "").strip()
            text = f"({target})" if name == "eq" else title or label_title or target
            return f"[{text}]({self.links.page(docname, anchor)})"
        raise ChapterError(
            self.path,
            line,
            f"the role {{{name}}} has no plain-Jupyter form: use doc, ref, numref, eq or math, or plain Markdown.",
        )

    def directive(self, directive: Directive) -> str:
        """The plain Markdown of one directive."""
        name, options = directive.name, directive.options
        if name in ADMONITIONS or name == "dropdown":
            title = directive.argument or ADMONITIONS.get(name) or name.title()
            body = self.convert(directive.body, directive.body_line)
            if name == "dropdown" or "dropdown" in str(options.get("class", "")).split():
                return f"<details>\n<summary>{title}</summary>\n\n{body}\n\n</details>"
            quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
            return f"> **{title}**\n>\n{quoted}"
        if name in ("figure", "image"):
            image = f"![{options.get('alt', '')}]({directive.argument})"
            caption = self.convert(directive.body, directive.body_line) if name == "figure" else ""
            return f"{image}\n\n*{caption}*" if caption else image
        if name in CODE_BLOCKS:
            return f"```{directive.argument}\n{directive.body}\n```"
        if name == "math":
            return f"$$\n{directive.body}\n$$"
        if name == "tableofcontents":
            return ""
        if name in BUILD_TABLES:
            url = self.links.page(self.links.docname)
            title = BUILD_TABLES[name]
            return f"> **{title}**\n>\n> This table is filled in when the book is built: see the [published page]({url})."
        if name == "literalinclude":
            raise ChapterError(
                self.path,
                directive.line,
                "{literalinclude} shows code a notebook cannot run: write the code in a {code-cell} instead.",
            )
        raise ChapterError(
            self.path,
            directive.line,
            f"the directive {{{name}}} has no plain-Jupyter form here: "
            "use an admonition, a figure or plain Markdown, or teach booktools.myst_plain to convert it.",
        )


def myst_leftovers(parser: MarkdownIt, text: str) -> list[str]:
    """Every MyST directive, role, target or comment left in a piece of Markdown.

    Examples
    --------
    >>> myst_leftovers(markdown_parser([]), "See {doc}`x`.\\n\\n```{note}\\nHi\\n```\\n")
    ['role {doc}', 'directive {note}']
    >>> myst_leftovers(markdown_parser([]), "Plain *text* with `code` and $x$.")
    []
    """
    found = []
    for token in parser.parse(text):
        if directive_name(token):
            found.append(f"directive {{{directive_name(token)}}}")
        elif token.type in ("myst_target", "myst_line_comment", "myst_block_break", "math_block_label"):
            found.append(token.type)
        found += [f"role {{{child.meta['name']}}}" for child in token.children or [] if child.type == "myst_role"]
    return found
