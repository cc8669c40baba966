"""The letters' sandbox (plugin/core/sandbox.py, plugin/core/budget.py): a template an admin
writes cannot run or grow without end, and everything an honest letter does still works."""

from __future__ import annotations

import functools
import math
import time
import tracemalloc

import pytest

from plugin.core import budget
from plugin.core.budget import Budget, metered
from plugin.core.compose import environment
from plugin.core.letters import template_problem
from plugin.core.sandbox import render
from plugin.errors import LetterOverBudget

BIG = "{% set s = 'x' * 90000 %}"


def rendered(source: str, **context) -> str:
    return render(environment().from_string(source), context)


@pytest.mark.parametrize("source, problem", [
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "takes too long"),
    ("{% for x in range(100000) recursive %}{{ loop(range(100000)) }}{% endfor %}", "takes too long"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
     "takes too long"),
    ("{% for i in range(100000) %}{{ range(100000)|sum }}{% endfor %}", "takes too long"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself too deeply"),
    ("{{ 'x' * 1000000000 }}", "would build a repeated value"),
    ("{{ [1, 2] * 1000000000 }}", "would build a repeated value"),
    ("{{ 7 ** 999999999 }}", "a number of more than 10,000 bits"),
    ("{% set ns = namespace(x=99999999999) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}",
     "a number of more than 10,000 bits"),
    ("{% set s = 'xxxxxxxxxx' %}" + "{% set s = s ~ s %}" * 40, "would build a joined text"),
    ("{% set s = 'xxxxxxxxxx' %}" + "{% set s = s + s %}" * 40, "would build a value"),
    (BIG + "{{ " + " ~ ".join(["s"] * 2000) + " }}", "would build a joined text"),
    ("{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     "would build a joined text"),
    ("{% set s %}xxxxxxxxxx{% endset %}" + "{% set s %}{{ s }}{{ s }}{% endset %}" * 40, "builds more than"),
    ("{% set s %}{% for i in range(100000) %}" + "y" * 10000 + "{% endfor %}{% endset %}", "builds more than"),
    ("{% for i in range(100000) %}yyyyyyyyyy{% endfor %}", "produces more than 100,000 characters"),
    ("{{ 'x'.center(1000000000) }}", "would build a padded text"),
    ("{{ 'x'|center(1000000000) }}", "would build a padded text"),
    ("{{ 'x\tx'.expandtabs(1000000000) }}", "would build an expanded text"),
    ("{{ '{:>999999999}'.format(1) }}", "would build a formatted text"),
    ("{{ '{:{w}}'.format(1, w=999999999) }}", "would build a formatted text"),
    (BIG + "{{ ('{a}' * 1000).format_map({'a': s}) }}", "would build a formatted text"),
    ("{{ '%999999999d' % 1 }}", "would build a formatted text"),
    ("{{ '%*d' % (999999999, 1) }}", "would build a formatted text"),
    ("{{ '%999999999d'|format(1) }}", "would build a formatted text"),
    ("{{ ('%(' * 50000) % {} }}", "formats with a pattern of more than 5,000 characters"),
    (BIG + "{{ s.replace('', s) }}", "would build a replaced text"),
    (BIG + "{{ s|replace('x', s) }}", "would build a replaced text"),
    (BIG + "{{ s.join(['a', 'b', 'c']) }}", "would build a joined text"),
    (BIG + "{{ ['a', 'b', 'c']|join(s) }}", "would build a joined text"),
    (BIG + "{{ [s] * 90000 }}", "would build a repeated value"),
    (BIG + "{{ [" + ",".join(["s"] * 2000) + "] }}", "would build a value"),
    (BIG + "{{ namespace(" + ",".join(f"a{i}=s" for i in range(2000)) + ") }}", "takes too long"),
    (BIG + "{{ {}.fromkeys(range(90000), s) }}", "would build a value"),
    ("{% set s = '\n' * 90000 %}{{ s|indent(s) }}", "would build an indented text"),
    ("{% set s = 'x ' * 40000 %}{{ s|wordwrap(1, wrapstring=s) }}", "would build a wrapped text"),
    ("{{ [1]|batch(1000000000, 0)|list }}", "would build a batch"),
    ("{{ [1]|slice(1000000000)|list }}", "would build a batch"),
    ("{{ 5|round(-1000000000) }}", "rounds to more than 100 digits"),
    ("{{ range(1000)|batch(1)|sum(start=[]) }}", "sums something other than numbers"),
    ("{{ (5).to_bytes(1000000000, 'big') }}", "unsafe"),
    ("{{ 'x'.translate({120: 'y'}) }}", "unsafe"),
    ("{{ lipsum(1000000) }}", "'lipsum' is undefined"),
    ("{% set items = [] %}{{ items.append(1) }}", "unsafe"),
])
def test_templates_that_would_exhaust_the_worker_stop_quickly_in_little_memory(source, problem):
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as err:
            rendered(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problem in template_problem(err.value).message
    assert time.monotonic() - started < 3 and peak < 50_000_000


def test_the_clock_stops_a_render_whose_steps_are_slow(monkeypatch):
    monkeypatch.setattr(budget, "Budget", functools.partial(Budget, steps=math.inf, seconds=0.2))
    started = time.monotonic()
    with pytest.raises(LetterOverBudget) as err:
        rendered("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    assert time.monotonic() - started < 1 and err.value.timed and "more than 0.2 s" in str(err.value)


def test_a_budget_in_force_limits_the_renders_inside_it():
    with metered(Budget(steps=50, scope=" in all")):
        rendered("{% for i in range(40) %}{% endfor %}")
        with pytest.raises(LetterOverBudget, match="more than 50 loop turns, calls and filters in all"):
            rendered("{% for i in range(40) %}{% endfor %}")


def test_the_line_of_the_loop_is_named():
    with pytest.raises(LetterOverBudget) as err:
        rendered("Subject: x\n\nline\n{% for i in range(100000) %}{% for j in range(9) %}{% endfor %}{% endfor %}")
    assert template_problem(err.value).line == 4


@pytest.mark.parametrize("source, context, expected", [
    ("{% for x in items %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% else %}none{% endfor %}",
     {"items": ["a", "b", "c"]}, "1a,2b,3c"),
    ("{% for x in [] %}{{ x }}{% else %}none{% endfor %}", {}, "none"),
    ("{% for x in tree recursive %}{{ x.n }}({{ loop(x.kids) }}){% endfor %}",
     {"tree": [{"n": 1, "kids": [{"n": 2, "kids": []}]}]}, "1(2())"),
    ("{% macro m(a) %}<{{ a }}{{ caller() }}>{% endmacro %}{% call m(1) %}c{% endcall %}", {}, "<1c>"),
    ("{% filter upper %}abc {{ n }}{% endfilter %}", {"n": "x"}, "ABC X"),
    ("{% set s %}in{{ n }}{% endset %}[{{ s }}]", {"n": 1}, "[in1]"),
    ("{{ '%s-%05d'|format('a', 42) }} {{ '%s!' % n }} {{ '{}+{:>3}'.format(1, 2) }}", {"n": "x"},
     "a-00042 x! 1+  2"),
    ("{{ items|join(', ') }} {{ items|map('upper')|join }} {{ d|dictsort|first }}",
     {"items": ["a", "b"], "d": {"z": 1, "y": 2}}, "a, b AB ('y', 2)"),
    ("{{ range(3)|list }} {{ 'abc'|length }} {{ 2 ** 10 }} {{ 3 * 'ab' }} {{ [1] + [2] }} {{ 7 % 3 }}", {},
     "[0, 1, 2] 3 1024 ababab [1, 2] 1"),
    ("{% set ns = namespace(t=0) %}{% for i in range(4) %}{% set ns.t = ns.t + i %}{% endfor %}{{ ns.t }}", {}, "6"),
    ("{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{% set j = joiner('|') %}{{ j() }}x{{ j() }}y", {},
     "abx|y"),
    ("{{ n ~ '-' ~ 3 }} {{ 'a b'.split()|join('_') }} {{ ' '.join(['x', 'y']) }} {{ 'ab'.replace('a', 'z') }}",
     {"n": "q"}, "q-3 a_b x y zb"),
    ("{{ items|selectattr('ok')|map(attribute='n')|join }}{{ 3.14159|round(2) }}{{ 'hello world'|wordwrap(5) }}",
     {"items": [{"ok": 1, "n": "A"}, {"ok": 0, "n": "B"}]}, "A3.14hello\nworld"),
    ("{{ x is defined }} {{ 'ab' in 'cabd' }} {{ [1, 2]|sum }} {{ {'a': 1}.items()|list }}", {},
     "False True 3 [('a', 1)]"),
])
def test_what_an_honest_letter_does_still_works(source, context, expected):
    assert rendered(source, **context) == expected


def test_an_unknown_variable_still_names_its_line():
    with pytest.raises(Exception) as err:
        rendered("a\n{% for i in range(3) %}\n{{ i ~ nope }}{% endfor %}")
    assert template_problem(err.value).line == 3 and "'nope' is undefined" in template_problem(err.value).message
