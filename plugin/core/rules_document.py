"""The rules document as YAML text: parsing that keeps each key's line (for errors that
name it), and the deterministic export.

The export is complete (every category, every field, sorted by category id) or, with
`complete=False`, only what differs from a base (what the console stores, so that
AMENDS_RULES_FILE keeps applying underneath). Shipped letters are never inlined; a
letter appears only where a layer changed it. Writing the same rules twice gives the
same bytes, and reading an export back gives the same rules, so export -> import ->
export is byte-identical.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import yaml

from plugin.core.rules import FORMAT, CategoryRule, Incident, Rules, RulesError, is_custom

HEADER = ("# Amends mapping rules and letters (format described in README, \"Rules and letters\").\n"
          "# Apply with `amends rules import FILE` or the console's Import / export page.\n")


# The format nests five levels at most (document > categories > id > compensation > value);
# anything deeper is a mistake or an attack, refused before anything recursive builds it.
MAX_DEPTH = 12
# A complete export is about 400 values. Building Python nodes slows down faster than linearly
# (garbage collection), so a 2 MiB list of zeros would hold the web worker for a minute or more.
MAX_NODES = 20_000
# libyaml when the wheel has it (20x faster); the pure-Python reader otherwise.
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str, source: str = "rules") -> tuple[Any, dict[tuple, int]]:
    """(data, lines): the document's data and, per key path, the line it is on (1-based).
    A ("block", *path) entry gives the first line of a block scalar's text (| or >)."""
    try:
        _check_shape(text, source)
        loader = _Loader(text, source)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}
        lines: dict[tuple, int] = {}
        _walk(node, (), lines, source)
        return loader.construct_document(node), lines
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    finally:
        loader.dispose()


def declared_format(text: str) -> Any:
    """The `format:` a document says it is written in (what import checks against FORMAT), or
    None when it says none or cannot be read at all; for pages that show it beside an error."""
    try:
        data, _ = parse(text, "document")
    except RulesError:
        return None
    return data.get("format") if isinstance(data, dict) else None


def _yaml_error(exc: yaml.YAMLError, source: str) -> RulesError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        return RulesError(f"not valid YAML: {exc.problem or exc.context}", source=source,
                          line=mark.line + 1 if mark else None)
    return RulesError(f"not valid YAML: {exc}", source=source)


def _check_shape(text: str, source: str) -> None:
    """One pass over the parser's events (iterative, nothing built yet), refusing anchors and
    aliases, nesting deeper than MAX_DEPTH and more than MAX_NODES values. A rules document has
    no use for aliases, and shared nodes expand exponentially: a 340-byte "billion laughs"
    is gigabytes once walked or constructed."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_BASE_LOADER):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise RulesError("anchors and aliases (&name, *name) are not allowed in a rules document; "
                             "write the value out", source=source, line=line)
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            nodes += 1
            if nodes > MAX_NODES:
                raise RulesError(f"more than {MAX_NODES} values; a rules document is far smaller",
                                 source=source, line=line)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise RulesError(f"nested more than {MAX_DEPTH} levels deep", source=source, line=line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _Loader(_BASE_LOADER):
    """A value YAML reads but Python cannot hold (a 5,000-digit number, month 13) is a RulesError
    naming its line, not a ValueError."""

    def __init__(self, text: str, source: str):
        super().__init__(text)
        self.source = source

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise RulesError(f"not valid YAML: {exc}", source=self.source, line=node.start_mark.line + 1) from None


def _walk(node: yaml.Node, path: tuple, lines: dict[tuple, int], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise RulesError("keys must be plain text", source=source, path=path, line=line)
            key = key_node.value
            if key in seen:
                raise RulesError(f"{key!r} appears twice (first on line {seen[key]})", source=source,
                                 path=path + (key,), line=line)
            seen[key] = line
            lines[path + (key,)] = line
            if isinstance(value_node, yaml.ScalarNode) and value_node.style in ("|", ">"):
                lines[("block",) + path + (key,)] = value_node.start_mark.line + 2
            _walk(value_node, path + (key,), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), lines, source)


# --- writing ------------------------------------------------------------------------

FIELD_ORDER = ("label", "enabled", "audience", "tone", "no_fault", "threshold", "tags", "remedy", "prevention",
               "compensation", "phrases", "template")


def dump(rules: Rules, base: Rules | None = None, complete: bool = True) -> str:
    """The YAML document for `rules`: complete, or only what differs from `base`."""
    categories: dict[str, Any] = {}
    for name in sorted(rules.categories):
        rule, under = rules.categories[name], (base.categories.get(name) if base else None)
        fields = rule_fields(name, rule, under, complete)
        if fields or complete:
            categories[name] = fields
    document: dict[str, Any] = {"format": FORMAT}
    if categories or complete:
        document["categories"] = categories
    if complete or base is None or rules.commitments != base.commitments:
        document["commitments"] = dict(rules.commitments)
    if complete or base is None or rules.incidents != base.incidents:
        document["incidents"] = [incident_fields(i) for i in rules.incidents]
    return HEADER + yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                              default_flow_style=False, width=100)


def rule_fields(name: str, rule: CategoryRule, base: CategoryRule | None = None,
                complete: bool = True) -> dict[str, Any]:
    """One category's fields in document order. Complete: all of them, `template` only where a
    letter is changed (or where the base's change has to be undone). Otherwise: what differs."""
    mine, theirs = _fields(name, rule), (_fields(name, base) if base is not None else None)
    if theirs is None:
        complete = True
    out = {}
    for key in FIELD_ORDER:
        if key not in mine:
            continue
        differs = theirs is None or mine[key] != theirs.get(key)
        if key == "template" and not mine[key] and (theirs is None or not theirs.get(key)):
            continue
        if complete or differs:
            out[key] = mine[key]
    return out


def _fields(name: str, rule: CategoryRule) -> dict[str, Any]:
    values = {
        "enabled": rule.enabled, "audience": rule.audience, "tone": rule.tone, "no_fault": rule.no_fault,
        "threshold": float(rule.threshold), "tags": list(rule.tags), "remedy": rule.remedy,
        "prevention": rule.prevention, "compensation": _compensation(rule),
        "phrases": {phrase: float(weight) for phrase, weight in rule.phrases},
        "template": dict(rule.template),
    }
    if is_custom(name) or rule.label:
        values["label"] = rule.label
    return values


def _compensation(rule: CategoryRule) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for k, v in asdict(rule.compensation).items()}


def incident_fields(incident: Incident) -> dict[str, Any]:
    return {"category": incident.category, "cause": incident.cause, "remedy": incident.remedy,
            "starts": _when(incident.starts), "ends": _when(incident.ends)}


def _when(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def category_text(rules: Rules, name: str) -> str:
    """One category's complete fields as YAML: what the audit log shows before and after."""
    if name not in rules.categories:
        return ""
    return yaml.dump({name: rule_fields(name, rules.categories[name])}, Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=100)


def commitments_text(rules: Rules) -> str:
    """The commitments as YAML: what the audit log shows before and after a change."""
    return yaml.dump({"commitments": dict(rules.commitments)}, Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=100)


def incidents_text(rules: Rules) -> str:
    return yaml.dump({"incidents": [incident_fields(i) for i in rules.incidents]}, Dumper=_Dumper,
                     sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


class _Dumper(yaml.SafeDumper):
    """Letters as readable | blocks, lists indented under their key, no &anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


# Characters YAML reads as line breaks: in a plain, single-quoted or block scalar they come back
# as a space or a newline, so a text holding one is written double-quoted, where they are escaped.
_YAML_BREAKS = ("\x85", "\u2028", "\u2029")


def _text(dumper: yaml.SafeDumper, value: str):
    style = '"' if any(c in value for c in _YAML_BREAKS) else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)
