"""The budget a letter's template renders within, and the size estimates that keep one
operation from building a huge value before the budget can see it. plugin/core/sandbox.py
charges it from hooks compiled into every template; see there for the whole picture.

Over budget raises LetterOverBudget (plugin/errors.py): a PermanentError, so the pipeline fails
that event with the reason, and a refused letter at save or import. Pure: no storage, no web."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2.utils import Namespace

from plugin.errors import LetterOverBudget

# Budgets. A shipped letter renders in about a millisecond, with a few dozen steps and ~2,000
# characters, so each limit leaves a wide margin for honest letters and still ends the worst in
# well under a second of CPU and a few MB of memory.
RENDER_STEPS = 100_000  # loop turns, calls, filters, operators: ~0.1-1 s of Python
STEP_ITEMS = 100  # a filter costs one step more for each 100 characters or items it is given
RENDER_SECONDS = 2.0  # the clock, for the few single steps that are slow (a filter over 100,000 items)
MAX_OUTPUT = 100_000  # characters in the rendered letter: ~50 times the longest shipped one
MAX_VALUE = 100_000  # characters or items in any one value a letter builds (as Jinja's own range limit)
MAX_BUILT = 1_000_000  # characters built and written in one render, all values together
MAX_INT_BITS = 10_000  # ~3,000 digits: more than any amount, far less than `9 ** 9 ** 9`
MAX_ROUND_DIGITS = 100  # round(5, -10**9) computes 10**(10**9)
MAX_FORMAT_TEXT = 5_000  # a `%` or format() pattern: finding its fields is quadratic at worst
# Checking a letter renders it 32 times (plugin/core/letters.py); the whole check shares these.
# A shipped letter's check takes no steps at all (no loops, calls or filters).
CHECK_STEPS = 10_000  # ~300 a rendering on the sample tickets
CHECK_SECONDS = 2.0
# All the letters a document changes, checked together (plugin/core/rules_layer.py): the steps
# of twenty letters at their limit, so a document of them is refused in about a second.
DOCUMENT_STEPS = 200_000


@dataclass
class Budget:
    """Limits on one render, or on several sharing a parent (a letter's check, a document's)."""

    steps: float = RENDER_STEPS
    seconds: float = RENDER_SECONDS
    built: float = MAX_BUILT
    scope: str = ""  # ends the message: "" (one render) or e.g. " over its 32 test renderings"
    parent: Budget | None = None
    used_steps: int = 0
    used_built: int = 0
    deadline: float = field(init=False)

    def __post_init__(self):
        self.deadline = time.monotonic() + self.seconds

    def step(self, count: int = 1) -> None:
        now = time.monotonic()
        budget: Budget | None = self
        while budget is not None:
            budget.used_steps += count
            if budget.used_steps > budget.steps:
                raise LetterOverBudget(f"takes too long to render (more than {budget.steps:,} loop turns, "
                                       f"calls and filters{budget.scope})")
            if now > budget.deadline:
                raise LetterOverBudget(f"takes too long to render (more than {budget.seconds:g} s{budget.scope})",
                                       timed=True)
            budget = budget.parent

    def build(self, size: int) -> None:
        budget: Budget | None = self
        while budget is not None:
            budget.used_built += size
            if budget.used_built > budget.built:
                raise LetterOverBudget(f"builds more than {budget.built:,} characters while rendering{budget.scope}")
            budget = budget.parent


_FREE = Budget(steps=math.inf, seconds=math.inf, built=math.inf)  # outside render(): sizes are still checked
_active: ContextVar[Budget] = ContextVar("amends_letter_budget", default=_FREE)


def active() -> Budget:
    return _active.get()


@contextmanager
def metered(budget: Budget, alone: bool = False) -> Iterator[Budget]:
    """Charge every render inside to `budget` and, unless `alone`, to the budget already in force."""
    budget.parent = None if alone or _active.get() is _FREE else _active.get()
    token = _active.set(budget)
    try:
        yield budget
    finally:
        _active.reset(token)


# --- sizes ------------------------------------------------------------------------------------

def too_big(what: str, size: float) -> LetterOverBudget:
    return LetterOverBudget(f"would build {what} of {size:,.0f} characters or items; a letter's values stay "
                            f"under {MAX_VALUE:,}")


def measure(value: Any, limit: int = MAX_VALUE) -> int:
    """Characters and items in `value`, nested ones included (what printing it costs), counting
    no further than `limit`: a list of 99,999 references to one long text is small in memory but
    gigabytes once written out."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, range):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, Namespace):
            stack.append(object.__getattribute__(item, "_Namespace__attrs"))
        else:
            total += 1
    return total


def checked_input(value: Any) -> Any:
    """Refuse a value too big to use (print, join, format): see measure()."""
    checked_size(value)
    return value


def checked_size(value: Any) -> int:
    """measure(value), refusing a value too big to use (print, join, format). A text from the
    ticket is not refused here: what is built from it is."""
    size = len(value) if isinstance(value, str) else measure(value)
    if not isinstance(value, str):
        fits("a value", size)
    return size


def built(value: Any) -> Any:
    """A value the letter just built: at most MAX_VALUE, added to what the render built."""
    if isinstance(value, int) and not isinstance(value, bool):
        fits_bits(value.bit_length())
        return value
    if isinstance(value, (str, list, tuple, set, frozenset, dict, Namespace)):
        size = measure(value)
        fits("a value", size)
        _active.get().build(size)
    return value


def fits(what: str, size: float) -> None:
    if size > MAX_VALUE:
        raise too_big(what, size)


def number(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


# Printf (`%5d`, `%*s`) and format (`{:>5}`, `{:{w}}`) fields, for the widths and precisions they ask.
_PRINTF_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")
_FORMAT_FIELD = re.compile(r"\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}")


def check_format(text: str, args: Any, printf: bool) -> None:
    """Estimate what `text % args` or `text.format(*args)` builds: every field as wide as the
    widest argument, plus every width and precision asked for (a `*` or `{w}` one: any argument)."""
    if len(text) > MAX_FORMAT_TEXT:
        raise LetterOverBudget(f"formats with a pattern of more than {MAX_FORMAT_TEXT:,} characters")
    values = list(args.values()) if isinstance(args, dict) else list(args) if isinstance(args, (list, tuple)) \
        else [args]
    widest = max((len(str(checked_input(v))) for v in values), default=0)
    specs = (["".join(m.groups("")) for m in _PRINTF_FIELD.finditer(text)] if printf
             else [m.group(0)[1:-1].partition(":")[2] for m in _FORMAT_FIELD.finditer(text)])
    asked = sum(int(n) if len(n) < 10 else math.inf for spec in specs for n in re.findall(r"\d+", spec))
    if any("*" in spec or "{" in spec for spec in specs):
        asked += sum(abs(number(v)) for v in values)
    fits("a formatted text", len(text) + len(specs) * widest + asked)


def _replaced(text: str, old: Any, new: Any, count: Any = -1) -> None:
    if isinstance(old, str) and isinstance(new, str):
        found = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        fits("a replaced text", len(text) + found * max(0, len(new) - len(old)))


def _joined(separator: Any, items: list) -> None:
    fits("a joined text", len(str(separator)) * max(0, len(items) - 1) + sum(measure(i) for i in items))


def _width(text: Any, width: Any, *_: Any) -> None:
    fits("a padded text", max(len(str(text)), number(width)))


_PADDING = ("center", "ljust", "rjust", "zfill")
# Methods a letter may not call: their result can be any size (translate), or bytes, which
# this module does not measure (encode, to_bytes).
REFUSED_METHODS = {str: frozenset({"translate", "maketrans", "encode"}), int: frozenset({"to_bytes"})}


def method_args(method: Any, args: tuple) -> tuple:
    """Estimate a bound str method that can build far more than its text (padding, expandtabs,
    replace, join) before it runs. join's items are taken once here (they may be a generator)
    and returned as a list for the call."""
    text, name = getattr(method, "__self__", None), getattr(method, "__name__", "")
    if not isinstance(text, str) or not args:
        return args
    if name in _PADDING:
        _width(text, args[0])
    elif name == "expandtabs":
        fits("an expanded text", len(text) + text.count("\t") * number(args[0]))
    elif name == "replace" and len(args) >= 2:
        _replaced(text, *args[:3])
    elif name == "join":
        items = [checked_input(item) for item in args[0]]
        _joined(text, items)
        return (items,) + args[1:]
    return args


# The arguments, after the value, of the filters filter_value() estimates.
_FILTER_PARAMS = {
    "center": ("width",), "indent": ("width", "first", "blank"), "replace": ("old", "new", "count"),
    "wordwrap": ("width", "break_long_words", "wrapstring", "break_on_hyphens"), "join": ("d", "attribute"),
    "batch": ("linecount", "fill_with"), "slice": ("slices", "fill_with"), "round": ("precision", "method"),
    "sum": ("attribute", "start"),
}


def filter_value(name: str, value: Any, args: tuple, kwargs: dict) -> Any:
    """Estimate the filters that can build far more than they are given, before they run; the
    value to filter (join's items are taken once here, as a list)."""
    if name == "format":
        check_format(str(value), args or kwargs, printf=True)
        return value
    a = dict(zip(_FILTER_PARAMS.get(name, ()), args), **kwargs)
    if name == "center":
        _width(value, a.get("width", 80))
    elif name == "indent":
        prefix = a.get("width", 4)
        text = str(value)
        fits("an indented text", len(text) + (len(prefix) if isinstance(prefix, str) else number(prefix))
             * (text.count("\n") + 1))
    elif name == "wordwrap":
        width, wrap, text = max(1, number(a.get("width", 79))), a.get("wrapstring") or "\n", str(value)
        fits("a wrapped text", len(text) + len(str(wrap)) * (len(text) // width + text.count("\n") + 1))
    elif name == "replace":
        _replaced(str(value), a.get("old"), a.get("new"), -1 if a.get("count") is None else a["count"])
    elif name == "join":
        value = [checked_input(item) for item in value]
        _joined(a.get("d", ""), value)
    elif name in ("batch", "slice"):
        fits("a batch", number(a.get("linecount", a.get("slices", 0))))
    elif name == "round" and abs(number(a.get("precision", 0))) > MAX_ROUND_DIGITS:
        raise LetterOverBudget(f"rounds to more than {MAX_ROUND_DIGITS} digits")
    elif name == "sum" and not isinstance(a.get("start", 0), (int, float)):
        raise LetterOverBudget("sums something other than numbers (adding up lists or texts is quadratic)")
    return value


def binop_checks(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                fits("a repeated value", measure(seq) * times)
        if isinstance(left, int) and isinstance(right, int):
            fits_bits(left.bit_length() + right.bit_length())
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        fits_bits(left.bit_length() * right)
    elif operator == "%" and isinstance(left, str):
        check_format(left, right, printf=True)


def fits_bits(bits: float) -> None:
    if bits > MAX_INT_BITS:
        raise LetterOverBudget(f"builds a number of more than {MAX_INT_BITS:,} bits")
