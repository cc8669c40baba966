"""The letters' sandbox: Jinja's immutable sandbox plus a budget on every render, so that a letter
an admin writes can neither hang a worker nor fill its memory.

Jinja's sandbox keeps a template away from Python's internals, but not from working forever or
building huge values: two nested `{% for %}` over range(100000) ran for minutes in the preview,
and `'x' * 10**9` or a doubling `{% set s = s ~ s %}` fills the memory at once. So every template
compiles with hooks (`_Metered`, a rewrite of the parsed template) that charge the Budget in force
(plugin/core/budget.py):

- each loop turn, call, filter and operator is a step; the steps limit and the clock are checked
  on every one, so loops that write nothing are bounded as well;
- each value built (a `~` concatenation, a filter's, call's or operator's result) holds at most
  MAX_VALUE characters or items, nested ones included, and adds its size to what the render built;
- each piece written (literal text or `{{ }}`, into the letter, a macro or a `{% set %}` block)
  adds its size to what the render built;
- operations whose result can be far larger than their inputs (`*`, `**`, `%`, format widths,
  center, indent, wordwrap, replace, join, batch, slice, round) are estimated before they run.

render() gives each render a fresh Budget (steps, seconds, characters) and caps the letter's
length; plugin/core/letters.py nests the 32 renders of a letter's check in one more."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import Template, nodes, pass_context
from jinja2.runtime import LoopContext, markup_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from plugin.core import budget as b
from plugin.errors import LetterOverBudget

# The hooks compiled into every template. A template cannot name them (a filter's name is an
# identifier), so a letter can neither call nor replace them.
ITERATE, WRITE, CONCAT = "amends:iterate", "amends:write", "amends:concat"


def render(template: Template, context: dict) -> str:
    """The template's text, within a fresh render budget (and any budget already in force)."""
    pieces, size = [], 0
    with b.metered(b.Budget()):
        try:
            for piece in template.generate(**context):
                size += len(piece)
                if size > b.MAX_OUTPUT:
                    raise LetterOverBudget(f"produces more than {b.MAX_OUTPUT:,} characters")
                pieces.append(piece)
        except RecursionError as exc:
            raise LetterOverBudget("calls itself too deeply (a macro or recursive loop that never ends)"
                                   ).with_traceback(exc.__traceback__) from None
    return "".join(pieces)


class LetterSandbox(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment (no list.append and the like: a letter builds values only
    where the hooks see them) whose templates charge the budget. No `lipsum`: it writes any
    number of paragraphs, and no letter needs it."""

    intercepted_binops = frozenset({"+", "*", "%", "**"})  # also keeps them from running at compile time

    def __init__(self, **options: Any):
        super().__init__(**options)
        del self.globals["lipsum"]
        self.filters = {name: _metered_filter(name, f) for name, f in self.filters.items()}
        self.filters.update({ITERATE: _iterate, WRITE: _write, CONCAT: _concat})

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[override]
        if isinstance(source, str):
            source = _Metered().visit(self.parse(source, name, filename))
            source.set_environment(self)
        return super().compile(source, name, filename, raw, defer_init)

    def call(self, context, obj, /, *args, **kwargs):  # positional-only: any keyword is the callee's
        owner = getattr(obj, "__self__", None)  # a method's text or list is input as well
        given = (*args, *(v for k, v in kwargs.items() if k not in ("_loop_vars", "_block_vars")),
                 owner if isinstance(owner, (str, list, tuple, dict)) else None)
        b.active().step(1 + sum(b.checked_size(value) for value in given) // b.STEP_ITEMS)
        if isinstance(obj, LoopContext) and args:  # loop(children) in a recursive loop
            args = (_counted(args[0]),) + args[1:]
        args = b.method_args(obj, args)
        return b.built(super().call(context, obj, *args, **kwargs))

    def call_binop(self, context, operator, left, right):
        b.active().step(1 + (b.checked_size(left) + b.checked_size(right)) // b.STEP_ITEMS)
        b.binop_checks(operator, left, right)
        return b.built(super().call_binop(context, operator, left, right))

    def is_safe_attribute(self, obj, attr, value):
        refused = next((names for kind, names in b.REFUSED_METHODS.items() if isinstance(obj, kind)), ())
        return attr not in refused and super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text, mapping = value.__self__, value.__name__ == "format_map"

        def checked_format(*args, **kwargs):
            b.check_format(text, args[0] if mapping and args else [*args, *kwargs.values()], printf=False)
            return wrapped(*args, **kwargs)
        return checked_format


class _Metered(NodeTransformer):
    """Routes every loop's iterable, every piece of output and every `~` through the hooks."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _hook(node.iter, ITERATE)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [_hook(nodes.MarkSafeIfAutoescape(nodes.Const(child.data), lineno=child.lineno)
                            if isinstance(child, nodes.TemplateData) else child, WRITE) for child in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _hook(nodes.List(node.nodes, lineno=node.lineno), CONCAT)


def _hook(expr: nodes.Expr, name: str) -> nodes.Filter:
    return nodes.Filter(expr, name, [], [], None, None, lineno=expr.lineno)


def _counted(iterable: Iterable) -> Iterator:
    budget = b.active()
    for item in iterable:
        budget.step()
        yield item


# pass_context: a hook is never run at compile time (constant folding), only inside a render.
@pass_context
def _iterate(context, iterable: Iterable) -> Iterator:
    return _counted(iterable)


@pass_context
def _write(context, value: Any) -> Any:
    b.active().build(len(value) if isinstance(value, str) else len(str(b.checked_input(value))))
    return value


@pass_context
def _concat(context, parts: list) -> str:
    pieces, size = [], 0
    for part in parts:
        pieces.append(part if isinstance(part, str) else str(b.checked_input(part)))
        size += len(pieces[-1])
        b.fits("a joined text", size)
    b.active().build(size)
    return markup_join(parts) if context.eval_ctx.autoescape else "".join(pieces)


_LEAD = {"context": lambda c: c, "eval_context": lambda c: c.eval_ctx, "environment": lambda c: c.environment}


def _metered_filter(name: str, func: Any) -> Any:
    """`func` charged by what it is given, its input and arguments measured, its result built (budget.built),
    after the estimate of budget.filter_value for the few that can build far more than given."""
    lead = _LEAD.get(getattr(getattr(func, "jinja_pass_arg", None), "name", ""))

    @pass_context
    def metered(context, value: Any, *args: Any, **kwargs: Any) -> Any:
        given = sum(b.checked_size(argument) for argument in (value, *args, *kwargs.values()))
        b.active().step(1 + given // b.STEP_ITEMS)  # sum(range(100000)) is one call, but 100,000 additions
        value = b.filter_value(name, value, args, kwargs)
        return b.built(func(*((lead(context),) if lead else ()), value, *args, **kwargs))

    metered.__name__ = metered.__qualname__ = getattr(func, "__name__", name)
    metered.__doc__ = func.__doc__
    return metered
