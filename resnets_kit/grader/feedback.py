"""Feedback without hidden tests: what :class:`~resnets_kit.grader.preprocessors.HideHiddenTests` does.

nbgrader's feedback is the autograded notebook rendered to HTML, so by default it shows the full
source of every test cell, hidden tests included (jupyter/nbgrader#917), and the tracebacks of
failing checks quote the lines that failed, hidden ones too. ``HideHiddenTests`` runs in the
feedback step, after the grades are read and before the HTML export. In every code cell it

- replaces each block between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (delimiter
  lines included) by the single comment line ``# hidden tests ran here``;
- replaces the traceback of every error output by one line, ``"<ename>: <evalue>"`` (just
  ``"<ename>"`` when the error has no value), so that a failed check still shows its message.

:class:`~resnets_kit.grader.preprocessors.SanitizeMarkdown` makes the markdown cells inert
(:func:`sanitize_markdown`): nbgrader's feedback template renders markdown cells without
nbconvert's sanitizer, so a student's ``<script>`` or ``onerror=`` would run in the browser of
whoever opens the page. The course registers both in ``course/nbgrader_config.py``::

    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, SanitizeMarkdown, CSSHTMLHeaderPreprocessor]

The autograded notebooks and the gradebook keep everything; only the feedback is changed.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import jinja2
from nbformat.notebooknode import NotebookNode

from resnets_kit import REPO_ROOT

#: HTML tags a markdown cell may render to in the feedback, with their attributes; anything else
#: (``script``, ``iframe``, ``onerror=``, ``javascript:`` links...) makes the cell shown as text.
MARKDOWN_TAGS = frozenset(
    "a abbr b blockquote br caption code col colgroup dd del div dl dt em h1 h2 h3 h4 h5 h6 hr i img "
    "input kbd li mark ol p pre s small span strong sub sup table tbody td th thead tr ul".split()
)
MARKDOWN_ATTRIBUTES = {
    "a": {"href", "title", "name"},
    "img": {"src", "alt", "title", "width", "height"},
    "input": {"type", "checked", "disabled"},
    "td": {"style", "align"},
    "th": {"style", "align"},
    "*": {"class", "id"},
}
_UNSAFE_URLS = ("javascript:", "vbscript:", "data:text/html")


#: The line that stands in for a removed hidden-tests block.
HIDDEN_PLACEHOLDER = "# hidden tests ran here"


def strip_hidden_blocks(
    source: str, begin: str = "BEGIN HIDDEN TESTS", end: str = "END HIDDEN TESTS"
) -> tuple[str, int]:
    """Replace each hidden-tests block of a cell's source by :data:`HIDDEN_PLACEHOLDER`.

    A block runs from a line containing ``begin`` to the next line containing ``end``, both
    included (the same rule as nbgrader's ``ClearHiddenTests``). The placeholder keeps the
    indentation of the ``begin`` line. A block left open runs to the end of the source, so that
    nothing after an unmatched ``begin`` line is shown.

    Args:
        source: the cell's source.
        begin: text that marks the first line of a block.
        end: text that marks the last line of a block.

    Returns:
        The new source and the number of blocks removed.
    """
    lines = []
    in_block = False
    blocks = 0
    for line in source.split("\n"):
        if not in_block and begin in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(indent + HIDDEN_PLACEHOLDER)
            in_block = True
            blocks += 1
        elif in_block:
            if end in line:
                in_block = False
        else:
            lines.append(line)
    return "\n".join(lines), blocks


def short_traceback(output: NotebookNode) -> list[str]:
    """The one-line traceback that replaces an error output's traceback.

    Args:
        output: an output of type ``error`` (with ``ename`` and ``evalue``).

    Returns:
        ``["<ename>: <evalue>"]``, or ``["<ename>"]`` when ``evalue`` is empty; lines longer than
        ``test_utils.REPORT_WIDTH`` are wrapped (``test_utils.wrap_report``): Manual Grading and
        feedback show the traceback as it is, cut at the right edge.
    """
    from test_utils import wrap_report

    ename = output.get("ename", "Error")
    evalue = output.get("evalue", "")
    return [wrap_report(f"{ename}: {evalue}") if evalue else ename]


class _ActiveHTML(HTMLParser):
    """Collects the tags and attributes of an HTML text outside the markdown allow-list."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in MARKDOWN_TAGS:
            self.found.append(f"<{tag}>")
        allowed = MARKDOWN_ATTRIBUTES.get(tag, set()) | MARKDOWN_ATTRIBUTES["*"]
        for name, value in attrs:
            unsafe_url = name in ("href", "src") and (value or "").strip().lower().startswith(_UNSAFE_URLS)
            if name not in allowed or unsafe_url:
                self.found.append(f"{name}=")

    handle_startendtag = handle_starttag


def active_html(html: str) -> list[str]:
    """The tags (``"<script>"``) and attributes (``"onerror="``) of ``html`` outside
    :data:`MARKDOWN_TAGS` and :data:`MARKDOWN_ATTRIBUTES`, in order, without repeats."""
    parser = _ActiveHTML()
    parser.feed(html)
    parser.close()
    return list(dict.fromkeys(parser.found))


def sanitize_markdown(source: str) -> str:
    """A markdown cell's source, made inert for the feedback page.

    The source is rendered as nbconvert renders it; if that holds HTML outside the allow-list
    (:func:`active_html`), the cell becomes a note that names it followed by its source in a code
    block, which shows as text. Other sources (markdown, LaTeX, allowed HTML) are unchanged.
    """
    if "<" not in source and "javascript:" not in source.lower():
        return source
    from nbconvert.filters import markdown2html

    try:
        html = markdown2html(source)
    except Exception:  # an attachment it names is missing, say: judge the source's own HTML
        html = source
    found = active_html(html)
    if not found:
        return source
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    named = ", ".join(f"`{item}`" for item in found[:5])
    return f"*This cell's HTML ({named}) is shown as text.*\n\n{fence}\n{source}\n{fence}\n"


# ---------------------------------------------------------------------------------------------
# Figures a markdown cell names but does not carry
# ---------------------------------------------------------------------------------------------

#: A markdown image whose source is a cell attachment: ``![alt](attachment:NAME "title")``.
_ATTACHMENT_IMAGE = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\(\s*<?attachment:(?P<name>[^)\s>]+)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
)
#: The figures of the course, by file name (the course's copy of the notebook embeds them).
FIGURES_DIR = REPO_ROOT / "images"


def course_figure(name: str) -> dict | None:
    """The attachment bundle (``{"image/png": base64}``) of the course figure ``images/NAME``,
    or None when there is no such PNG file."""
    path = FIGURES_DIR / name
    if "/" in name or name.startswith(".") or not name.endswith(".png") or not path.is_file():
        return None
    return {"image/png": base64.b64encode(path.read_bytes()).decode("ascii")}


def _usable(bundle) -> bool:
    """Whether nbconvert can show an attachment: a non-empty bundle of base64 texts."""
    return isinstance(bundle, dict) and bool(bundle) and all(isinstance(v, str) for v in bundle.values())


def mend_attachments(nb: NotebookNode, figures=course_figure) -> list[str]:
    """Make every attachment a markdown cell shows available, in place, so that the notebook can
    be rendered (Manual Grading, feedback): nbconvert stops a whole notebook with
    ``InvalidNotebook: missing attachment: NAME`` otherwise.

    A notebook made from the source notebook, or saved by an editor that drops attachments, names
    figures that its cells do not carry; a student may also rename or break an attachment. For
    each ``![alt](attachment:NAME)`` of a markdown cell whose attachment is missing or unusable
    (not a non-empty bundle of base64 texts):

    - a course figure (``figures(NAME)``, by default ``images/NAME``) is attached again;
    - anything else is replaced by the text ``*[figure NAME is missing from this notebook]*``.

    Attachments no cell names are left alone. Args: ``nb``, the notebook; ``figures``, NAME to an
    attachment bundle or None.

    Returns:
        One line per change, naming the cell (counted from 1) and the attachment.
    """
    changes: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "markdown" or "attachment:" not in cell.get("source", ""):
            continue
        if not isinstance(cell.get("attachments"), dict):
            cell.pop("attachments", None)

        def mend(match, cell=cell, index=index):
            name = match["name"]
            if _usable(cell.get("attachments", {}).get(name)):
                return match.group(0)
            bundle = figures(name)
            if bundle is not None:
                cell.setdefault("attachments", {})[name] = bundle
                changes.append(f"cell {index + 1}: figure {name!r} was missing; attached again")
                return match.group(0)
            changes.append(f"cell {index + 1}: attachment {name!r} is missing; shown as a note")
            return f"*[figure {name} is missing from this notebook]*"

        cell.source = _ATTACHMENT_IMAGE.sub(mend, cell.source)
    return changes


# ---------------------------------------------------------------------------------------------
# Math that shows without a network
# ---------------------------------------------------------------------------------------------


def math_to_mathml(tex: str, display: str = "inline") -> str | None:
    """LaTeX math as a MathML ``<math>`` element (``latex2mathml``), which browsers show
    natively; None when the converter cannot read it."""
    from latex2mathml.converter import convert

    try:
        return convert(tex, display=display)
    except Exception:  # the converter raises its own errors on LaTeX it does not know
        return None


def _mathml_renderer(**options):
    """nbconvert's markdown renderer with its math rendered as MathML (made on first use, so that
    importing this module does not import nbconvert's renderer)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class MathMLRenderer(IPythonRenderer):
        def inline_math(self, body: str) -> str:
            return math_to_mathml(body) or super().inline_math(body)

        def block_math(self, body: str) -> str:
            return math_to_mathml(body, "block") or super().block_math(body)

        def latex_environment(self, name: str, body: str) -> str:
            text = f"\\begin{{{name}}}{body}\\end{{{name}}}"
            return math_to_mathml(text, "block") or super().latex_environment(name, body)

    return MathMLRenderer(**options)


@jinja2.pass_context
def markdown2html_mathml(context, source: str) -> str:
    """The ``markdown2html`` filter of the feedback pages (``c.HTMLExporter.filters`` in the
    course configuration): nbconvert's, with each ``$...$``, ``$$...$$`` and LaTeX environment of
    a markdown cell written as MathML, so that the math shows where the page is opened offline
    (nbgrader's feedback template loads MathJax from a CDN; without it ``$\\gamma$`` shows raw).
    Math the converter cannot read is left as it was, for MathJax.

    Args:
        context: the Jinja context (its ``cell`` gives the attachments).
        source: the markdown.

    Returns:
        The HTML.
    """
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    cell = context.get("cell", {})
    path = context.get("resources", {}).get("metadata", {}).get("path", "")
    renderer = _mathml_renderer(escape=False, attachments=cell.get("attachments", {}), path=path)
    return MarkdownWithMath(renderer=renderer).render(source)
