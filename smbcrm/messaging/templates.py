"""Mail templates: Jinja2 in a sandbox with caps on time and size, merge fields left empty, plain text.

A template is written by the shop owner (or copied from somewhere): it must never reach Python's
internals, and a mistake such as a loop inside a loop must stop quickly with a message, not fill
the memory. The sandbox blocks attribute escapes; the caps below stop runaway templates:

- every value a template builds (``*``, ``+``, ``~``, ``%``, filters, macros, namespaces) is
  checked against the output cap, and repetitions are refused *before* they allocate;
- every ``for`` loop draws from one iteration budget per render, and the clock is checked as the
  budget is drawn, so loops without output are stopped too;
- the output is streamed and counted, and the literal text inside loops is charged per iteration.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from html import escape as html_escape
from html import unescape
from types import TracebackType
from typing import Any

from jinja2 import (
    ChainableUndefined,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
    pass_environment,
    pass_eval_context,
)
from jinja2 import TemplateError as JinjaTemplateError
from jinja2.exceptions import SecurityError, TemplateAssertionError, TemplateRuntimeError
from jinja2.filters import do_center, do_indent, do_join, do_replace, do_wordwrap
from jinja2.runtime import Macro, Undefined, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace
from jinja2.utils import missing as _MISSING

from smbcrm.core.errors import UserError
from smbcrm.core.i18n import _, format_count

MAX_LOOP_ITERATIONS = 100_000
MAX_SOURCE_CHARS = 200_000
# Integers beyond this many bits come only from runaway arithmetic (and take long to print).
MAX_INTEGER_BITS = 4_096
# Widths in "%10s"-style formats and in the center/indent filters.
MAX_WIDTH = 1_000

# Methods of strings a template may call; the others either pad to any width (ljust, zfill,
# center, expandtabs), format (format, format_map) or multiply text (replace, join): their
# filters do the same work with checks.
SAFE_STRING_METHODS = frozenset(
    [
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "rfind",
        "rindex",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
    ]
)


class TemplateError(UserError):
    """A template that cannot be compiled or filled in; the message names the line."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    html: str
    text: str
    # Merge fields that came out empty because the customer has no value ("Hola ,").
    missing: tuple[str, ...]


class _TooBig(Exception):
    pass


class _TooSlow(Exception):
    pass


class _Render:
    """What one render has used so far; found through a context variable by the sandbox hooks."""

    __slots__ = ("missing", "chars", "iterations", "deadline", "calls", "max_chars", "work_limit")

    def __init__(self, max_chars: int, max_seconds: float) -> None:
        self.missing: list[Undefined] = []
        self.chars = 0  # work: characters produced anywhere (output, captured blocks, macros)
        self.iterations = 0
        self.calls = 0
        self.max_chars = max_chars
        self.work_limit = max_chars * 10
        self.deadline = time.perf_counter() + max_seconds

    def charge(self, chars: int) -> None:
        self.chars += chars
        if self.chars > self.work_limit:
            raise _TooBig

    def tick(self) -> None:
        if time.perf_counter() > self.deadline:
            raise _TooSlow


_current: ContextVar[_Render | None] = ContextVar("smbcrm_mail_render", default=None)


def _max_chars() -> int:
    state = _current.get()
    return state.max_chars if state is not None else 2_000_000


def _max_length(value: Any) -> int:
    """How long a value may be: text up to the output cap, lists as long as a loop may run."""
    return _max_chars() if isinstance(value, str) else MAX_LOOP_ITERATIONS


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, list, tuple, dict)) and len(value) > _max_length(value):
        raise _TooBig
    return value


class _RecordingUndefined(ChainableUndefined):
    """An absent merge field: renders empty, remembers that it did, and chains (a.b.c)."""

    __slots__ = ()

    def __str__(self) -> str:
        state = _current.get()
        if state is not None:
            state.missing.append(self)
        return ""

    def __html__(self) -> str:
        return str(self)

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return type(self)(name=f"{self._undefined_name}.{name}")

    __getitem__ = __getattr__  # type: ignore[assignment]

    def __iter__(self) -> Iterator[Any]:
        return iter(())


class _MailNamespace(Namespace):
    """``namespace()`` carries values across loop iterations: cap what it may hold."""

    def __setitem__(self, name: str, value: Any) -> None:
        _check_size(value)
        super().__setitem__(name, value)


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}`` passes here: None prints as nothing, and the output is counted."""
    if value is None:
        return ""
    if not isinstance(value, str):
        if not isinstance(value, (list, tuple, dict, set, frozenset)):
            return value
        value = str(value)  # what printing it makes anyway; count it like any text
    state = _current.get()
    if state is not None:
        length = len(value)
        state.chars += length
        if state.chars > state.work_limit or length > state.max_chars:
            raise _TooBig
    return value


def _loop(iterable: Any, literal_chars: int) -> Iterator[Any]:
    """Every ``for`` iterates through here: one budget of iterations per render, and the clock."""
    state = _current.get()
    if state is None or isinstance(iterable, Undefined):
        yield from iterable
        return
    for item in iterable:
        state.iterations += 1
        if state.iterations > MAX_LOOP_ITERATIONS:
            raise _TooSlow
        if literal_chars:
            state.charge(literal_chars)
        if not state.iterations & 63:
            state.tick()
        yield item


def _safe_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_LOOP_ITERATIONS:
        raise _TooSlow
    return numbers


def _concat(autoescape: bool) -> Callable[[Iterable[Any]], str]:
    join = markup_join if autoescape else str_join

    def concat(parts: tuple[Any, ...]) -> str:
        parts = tuple(parts)
        if sum(len(p) for p in parts if isinstance(p, str)) > _max_chars():
            raise _TooBig
        return join(parts)

    return concat


_PRINTF_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_printf(template: str) -> None:
    for width, precision in _PRINTF_WIDTH.findall(template):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_WIDTH):
                raise _TooBig


def _checked_format(value: Any, *args: Any, **kwargs: Any) -> str:
    if args and kwargs:
        raise TemplateRuntimeError("can't handle positional and keyword arguments at the same time")
    text = str(value)
    _check_printf(text)
    return _check_size(text % (kwargs or args))


def _checked_center(value: str, width: int = 80) -> str:
    if width > MAX_WIDTH:
        raise _TooBig
    return do_center(value, width)


def _checked_indent(
    value: str, width: int | str = 4, first: bool = False, blank: bool = False
) -> str:
    if (isinstance(width, str) and len(width) > MAX_WIDTH) or (
        isinstance(width, int) and width > MAX_WIDTH
    ):
        raise _TooBig
    return _check_size(do_indent(value, width, first, blank))


@pass_eval_context
def _checked_replace(
    eval_ctx: Any, value: str, old: str, new: str, count: int | None = None
) -> str:
    text, old_text, new_text = str(value), str(old), str(new)
    times = text.count(old_text) if old_text else len(text) + 1
    if count is not None:
        times = min(times, count)
    if len(text) + times * max(0, len(new_text) - len(old_text)) > _max_chars():
        raise _TooBig
    return do_replace(eval_ctx, value, old, new, count)


@pass_eval_context
def _checked_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
    items = list(value)
    if len(items) * len(str(d)) > _max_chars():
        raise _TooBig
    return _check_size(do_join(eval_ctx, items, d, attribute))


MAX_WRAP_CHARS = 20_000


@pass_environment
def _checked_wordwrap(
    environment: Any, value: str, width: int = 79, *args: Any, **kwargs: Any
) -> str:
    # textwrap slows down sharply on long text with narrow widths; mail paragraphs are short.
    if len(str(value)) > MAX_WRAP_CHARS:
        raise _TooBig
    return do_wordwrap(environment, value, width, *args, **kwargs)


def format_date(value: Any, pattern: str = "%d/%m/%Y") -> str:
    """``{{ birthday | date }}`` -> 22/11/2026; other patterns as strftime."""
    if isinstance(value, (date, datetime)):
        return value.strftime(pattern)
    return "" if value is None else str(value)


def _skip_undefined(function: Callable[..., Any]) -> Callable[..., Any]:
    """A caller's filter never sees an absent value: it stays absent (so it counts as missing)."""

    if hasattr(function, "jinja_pass_arg"):
        return function

    def filter_(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, Undefined):
            return value
        return function(value, *args, **kwargs)

    return filter_


class _MailEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=_RecordingUndefined,
            finalize=_finalize,
            auto_reload=False,
            cache_size=0,
        )
        self.globals = {
            "range": _safe_range,
            "dict": dict,
            "namespace": _MailNamespace,
            "cycler": self.globals["cycler"],
            "joiner": self.globals["joiner"],
        }
        for name in ("slice", "pprint", "xmlattr", "urlize", "random"):
            self.filters.pop(name, None)
        self.filters.update(
            format=_checked_format,
            center=_checked_center,
            indent=_checked_indent,
            replace=_checked_replace,
            join=_checked_join,
            wordwrap=_checked_wordwrap,
            date=format_date,
        )
        # Checks inserted by _parse; filters compile to direct calls (cheaper than sandbox calls).
        self.filters.update(
            _mail_loop=_loop, _mail_concat=_concat(autoescape), _mail_check=_check_size
        )

    # Rewrite the parsed template so loops, ``~`` and filters go through the checks above.
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            # A mail template stands alone: there are no other templates to reach.
            tag = {nodes.Extends: "extends", nodes.Include: "include"}.get(type(node), "import")
            raise TemplateSyntaxError(f"smbcrm: no other templates '{tag}'", node.lineno)
        for output in tree.find_all(nodes.Output):  # {{ None }} prints nothing, like a None value
            output.nodes = [
                nodes.Const("") if isinstance(n, nodes.Const) and n.value is None else n
                for n in output.nodes
            ]
        for loop in tree.find_all(nodes.For):
            literal = sum(len(d.data) for d in _find(loop.body, nodes.TemplateData))
            literal += sum(
                len(c.value) for c in _find(loop.body, nodes.Const) if isinstance(c.value, str)
            )
            loop.iter = _internal_filter("_mail_loop", loop.iter, [nodes.Const(literal)], loop)
        for concat in list(tree.find_all(nodes.Concat)):
            _replace(
                tree,
                concat,
                _internal_filter("_mail_concat", nodes.Tuple(concat.nodes, "load"), [], concat),
            )
        for filter_ in list(tree.find_all(nodes.Filter)):
            if filter_.node is None or filter_.name.startswith("_mail"):
                continue  # the filter of a {% filter %} or {% set %} block, or one of ours
            _replace(tree, filter_, _internal_filter("_mail_check", filter_, [], filter_))
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str):
            return attr in SAFE_STRING_METHODS
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format is refused outright by is_safe_attribute

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(attribute)

    def getattr(self, obj: Any, attribute: str) -> Any:
        value = super().getattr(obj, attribute)
        return self.undefined(obj=obj, name=attribute) if value is None else value

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        return self.undefined(obj=obj, name=argument) if value is None else value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        state = _current.get()
        if state is not None:
            state.calls += 1
            if not state.calls & 63:
                state.tick()
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            if len(result) > _max_chars():
                raise _TooBig
            if state is not None and isinstance(__obj, Macro):
                state.charge(len(result))
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, (str, list, tuple))
                    and isinstance(times, int)
                    and len(sequence) * times > _max_length(sequence)
                ):
                    raise _TooBig
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left).bit_length() + abs(right).bit_length() > MAX_INTEGER_BITS
            ):
                raise _TooBig
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(left) > 1
                and abs(left).bit_length() * right > MAX_INTEGER_BITS
            ):
                raise _TooBig
        elif operator == "%" and isinstance(left, str):
            _check_printf(left)
        elif (
            operator == "+"
            and isinstance(left, (str, list, tuple))
            and isinstance(right, (str, list, tuple))
            and len(left) + len(right) > _max_length(left)
        ):
            raise _TooBig
        return _check_size(super().call_binop(context, operator, left, right))


def _find(node: nodes.Node, node_type: type) -> Iterator[Any]:
    if isinstance(node, list):
        for child in node:
            if isinstance(child, node_type):
                yield child
            yield from child.find_all(node_type)
    else:
        yield from node.find_all(node_type)


def _internal_filter(
    name: str, value: nodes.Expr, args: list[nodes.Expr], where: nodes.Node
) -> nodes.Filter:
    node = nodes.Filter(value, name, args, [], None, None)
    node.set_lineno(where.lineno)
    return node


def _replace(tree: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    """Put new where old is in tree (old keeps its place inside new's arguments)."""
    for parent in tree.find_all(nodes.Node):
        for field in parent.fields:
            value = getattr(parent, field, None)
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if item is old:
                        value[index] = new
                        return
    # The root cannot be replaced; a Filter or Concat is never the root.


_TEMPLATE_FILE = "<template>"


class MailTemplate:
    """A subject and an HTML body, compiled once and rendered for each recipient."""

    def __init__(
        self,
        subject: str,
        body_html: str,
        *,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        max_output_chars: int = 2_000_000,
        max_seconds: float = 2.0,
        max_source_chars: int = MAX_SOURCE_CHARS,
    ) -> None:
        self.max_output_chars = max_output_chars
        self.max_seconds = max_seconds
        self._subject_env = _MailEnvironment(autoescape=False)
        self._body_env = _MailEnvironment(autoescape=True)
        for env in (self._subject_env, self._body_env):
            for name, function in (filters or {}).items():
                env.filters[name] = _skip_undefined(function)
        self._subject = self._compile(self._subject_env, subject, max_source_chars, is_subject=True)
        self._body = self._compile(self._body_env, body_html, max_source_chars, is_subject=False)
        self._subject_source = subject
        self._body_source = body_html

    @staticmethod
    def _compile(env: _MailEnvironment, source: str, limit: int, *, is_subject: bool) -> Any:
        if len(source) > limit:
            raise TemplateError(
                _("The template is too long ({length} characters; at most {limit}).").format(
                    length=len(source), limit=limit
                )
            )
        try:
            return env.from_string(source)
        except (TemplateSyntaxError, TemplateAssertionError) as error:
            raise TemplateError(
                _where(error.lineno, is_subject) + _syntax_message(error), line=error.lineno
            ) from None
        except SecurityError as error:
            raise _not_allowed(str(error), 1, is_subject) from None

    def fields_used(self) -> frozenset[str]:
        """Top-level names the template reads (first_name, last_purchase, recommended…)."""
        from jinja2 import meta

        names: set[str] = set()
        for env, source in (
            (self._subject_env, self._subject_source),
            (self._body_env, self._body_source),
        ):
            names |= meta.find_undeclared_variables(env.parse(source))
        return frozenset(names - set(self._body_env.globals))

    def render(
        self,
        context: Mapping[str, object],
        *,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        with_text: bool = True,
    ) -> RenderedMail:
        """Fill in the template for one recipient. Absent values (left out of context, or None or
        "") render empty and are listed in ``missing``. ``with_text=False`` skips the plain-text
        part (for checking every recipient before a campaign)."""
        values = {k: v for k, v in context.items() if v is not None and v != ""}
        if functions:
            values.update(functions)
        state = _Render(self.max_output_chars, self.max_seconds)
        token = _current.set(state)
        try:
            subject = self._run(self._subject, values, state, is_subject=True)
            html = self._run(self._body, values, state, is_subject=False)
        finally:
            _current.reset(token)
        subject = (
            " ".join(subject.split()) if ("\n" in subject or "\r" in subject) else subject.strip()
        )
        missing = _missing_names(state.missing, values) if state.missing else ()
        return RenderedMail(subject, html, html_to_text(html) if with_text else "", missing)

    def _run(
        self, template: Any, values: dict[str, Any], state: _Render, *, is_subject: bool
    ) -> str:
        # Every {{ }} output is counted as it is made (_finalize), and literal text in loops as
        # they iterate, so the parts joined here are already bounded; only the cap is left.
        try:
            text = "".join(template.root_render_func(template.new_context(values)))
            if len(text) > state.max_chars:
                raise _TooBig
            state.tick()
        except Exception as error:  # noqa: BLE001 -- every failure becomes a TemplateError
            raise self._explain(error, template, is_subject) from None
        return text

    def _explain(self, error: BaseException, template: Any, is_subject: bool) -> TemplateError:
        line = _template_line(error.__traceback__, template)
        where = _where(line, is_subject)
        if isinstance(error, _TooBig | MemoryError | OverflowError):
            message = _(
                "this template would make a message far too long (more than {limit} characters)."
            ).format(limit=format_count(self.max_output_chars))
        elif isinstance(error, _TooSlow | RecursionError):
            message = _(
                "this template takes too long to fill in; look for a loop that repeats too many "
                "times (at most {limit} repetitions, {seconds} seconds)."
            ).format(limit=format_count(MAX_LOOP_ITERATIONS), seconds=f"{self.max_seconds:g}")
        elif isinstance(error, SecurityError):
            return _not_allowed(str(error), line, is_subject)
        elif isinstance(error, UndefinedError):
            match = re.search(r"'([^']+)' is undefined", error.message or "")
            name = match.group(1) if match else (error.message or "")
            # A merge field missing for this recipient, used in a comparison or a sum, or a
            # name the template does not know at all.
            message = _(
                "“{name}” has no value here and cannot be used like this; check the name, or "
                "give it a fallback such as “{example}”."
            ).format(name=name, example="{{ " + name.split(".")[0] + ' | default("") }}')
        elif isinstance(error, JinjaTemplateError):
            message = _("the template could not be filled in: {detail}").format(
                detail=error.message
            )
        else:
            message = _("the template could not be filled in ({kind}: {detail}).").format(
                kind=type(error).__name__, detail=error
            )
        return TemplateError(where + message, line=line)


def _where(line: int | None, is_subject: bool) -> str:
    if is_subject:
        return _("Subject: ")
    if line is None:
        return ""
    return _("Line {line}: ").format(line=line)


def _not_allowed(what: str, line: int | None, is_subject: bool) -> TemplateError:
    what = what.split(" is not safely callable")[0][:80]
    return TemplateError(
        _where(line, is_subject)
        + _("this template tries to use something that is not allowed: “{what}”.").format(
            what=what
        ),
        line=line,
    )


def _template_line(traceback: TracebackType | None, template: Any) -> int | None:
    line = None
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if code.co_filename == _TEMPLATE_FILE:
            line = template.get_corresponding_lineno(traceback.tb_lineno)
        traceback = traceback.tb_next
    return line


def _not_closed(opening: str, closing: str) -> str:
    return _("a “{opening}” is not closed with “{closing}”.").format(
        opening=opening, closing=closing
    )


def _block(tag: str) -> tuple[str, str]:
    return "{% " + tag + " %}", "{% end" + tag + " %}"


_SYNTAX_MESSAGES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"expected 'end of print statement'"), lambda m: _not_closed("{{", "}}")),
    (re.compile(r"expected 'end of statement block'"), lambda m: _not_closed("{%", "%}")),
    (re.compile(r"Missing end of comment tag"), lambda m: _not_closed("{#", "#}")),
    (
        re.compile(r"Unexpected end of template.*innermost block that needs to be closed is '(\w+)'", re.S),
        lambda m: _("a “{opening}” has no “{closing}”.").format(
            opening=_block(m.group(1))[0], closing=_block(m.group(1))[1]
        ),
    ),
    (
        re.compile(r"Encountered unknown tag 'end(\w+)'"),
        lambda m: _("“{closing}” closes a “{opening}” that was never opened.").format(
            opening=_block(m.group(1))[0], closing=_block(m.group(1))[1]
        ),
    ),
    (
        re.compile(r"Encountered unknown tag '(\w+)'"),
        lambda m: _("“{tag}” is not something templates know.").format(tag=_block(m.group(1))[0]),
    ),
    (
        re.compile(r"smbcrm: no other templates '(\w+)'"),
        lambda m: _("a mail template cannot use “{tag}”: write everything in this template.").format(tag=_block(m.group(1))[0]),
    ),
    (re.compile(r"No filter named '([^']+)'"), lambda m: _("there is no filter called “{name}”.").format(name=m.group(1))),
    (re.compile(r"No test named '([^']+)'"), lambda m: _("there is no test called “{name}”.").format(name=m.group(1))),
    (re.compile(r"Expected an expression"), lambda m: _("something is missing between the braces.")),
    (re.compile(r"unexpected char '([\"'])'"), lambda m: _("a quote ({quote}) is not closed.").format(quote=m.group(1))),
)  # fmt: skip


def _syntax_message(error: TemplateSyntaxError) -> str:
    text = error.message or ""
    for pattern, message in _SYNTAX_MESSAGES:
        match = pattern.search(text)
        if match:
            return message(match)
    return _("the template has a mistake here ({detail}).").format(detail=text)


def _missing_names(undefined: list[Undefined], values: Mapping[str, Any]) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for item in undefined:
        name = str(item._undefined_name)
        owner = item._undefined_obj
        if owner is not _MISSING:
            for key, value in values.items():
                if value is owner:
                    name = f"{key}.{name}"
                    break
        names[name] = None
    return tuple(names)


# --- plain text from HTML -------------------------------------------------------------------

_BLOCKS = frozenset(
    [
        "p",
        "div",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "tr",
        "ul",
        "ol",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
        "pre",
        "hr",
    ]
)
_SKIP = frozenset({"style", "script", "head", "title"})


# One pass of one regular expression over the HTML: comments and declarations, tags (quoted
# attribute values may hold ">"), and text. html.parser does the same job about four times
# slower, and the plain-text part is made for every message sent.
_TOKEN = re.compile(
    r"<!--.*?(?:-->|$)|<![^>]*>?|<\?[^>]*>?"
    r"|<(/?)([a-zA-Z][-a-zA-Z0-9:]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>"
    r"|([^<]+|<)",
    re.S,
)
_ATTRIBUTE = re.compile(
    r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)


def _attributes(text: str) -> list[tuple[str, str | None]]:
    return [
        (name.lower(), unescape(double or single or bare) if (double or single or bare) else None)
        for name, double, single, bare in _ATTRIBUTE.findall(text)
    ]


class _TextMaker:
    """Collects the text of an HTML mail, with the line breaks its tags imply."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.links: list[str | None] = []
        self.list_depth = 0

    def feed(self, html: str) -> None:
        skip_until = ""
        for match in _TOKEN.finditer(html):
            closing, tag, attributes, text = match.groups()
            if text is not None:
                if not skip_until:
                    self.handle_data(unescape(text) if "&" in text else text)
                continue
            if tag is None:
                continue  # a comment, a doctype or a processing instruction
            tag = tag.lower()
            if skip_until:
                if closing and tag == skip_until:
                    skip_until = ""
                continue
            if closing:
                self.handle_endtag(tag)
            elif tag in _SKIP:
                skip_until = tag
            else:
                self.handle_starttag(tag, _attributes(attributes) if tag in ("a", "img") else [])

    def _newlines(self, count: int) -> None:
        # Trailing blanks and newlines are settled when the text is joined.
        self.parts.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("ul", "ol"):
            self.list_depth += 1
            if self.list_depth == 1:
                self._newlines(2)
        elif tag == "tr":
            pass  # a row ends its line when it closes
        elif tag in _BLOCKS:
            self._newlines(2)
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a":
            self.links.append(dict(attrs).get("href"))
            self.parts.append("\x00")  # where the link text starts
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol"):
            self.list_depth = max(0, self.list_depth - 1)
            if self.list_depth == 0:
                self._newlines(2)
        elif tag == "tr":
            self._newlines(1)
        elif tag in _BLOCKS:
            self._newlines(2)
        elif tag == "a" and self.links:
            href = self.links.pop()
            start = (
                len(self.parts) - 1 - self.parts[::-1].index("\x00")
                if "\x00" in self.parts
                else None
            )
            text = "".join(self.parts[start + 1 :]).strip() if start is not None else ""
            if start is not None:
                del self.parts[start]
            if href and not href.startswith(("#", "javascript:")):
                target = href[7:] if href.startswith("mailto:") else href
                if target != text:
                    self.parts.append(f" ({target})" if text else target)

    def handle_data(self, data: str) -> None:
        # Runs of white space in HTML text are one space; line breaks come from the tags.
        self.parts.append(_WHITE_SPACE.sub(" ", data))


_WHITE_SPACE = re.compile(r"\s+")
_SPACES = re.compile(r" {2,}")
_BLANK_LINES = re.compile(r"\n{3,}")
_SPACES_AROUND_NEWLINES = re.compile(r"[ \t]*\n[ \t]*")


def html_to_text(html: str) -> str:
    """The plain-text part of a mail: paragraphs, line breaks, lists as "- ", links as
    "text (url)", entities decoded."""
    maker = _TextMaker()
    maker.feed(html)
    text = "".join(p for p in maker.parts if p != "\x00")
    text = _SPACES.sub(" ", text)
    text = _SPACES_AROUND_NEWLINES.sub("\n", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() + "\n"


def escape_html(text: str) -> str:
    return html_escape(text, quote=True)
