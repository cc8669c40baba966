"""Console, mapping rules: the table of categories, one rule's editor (every field, its letters
with a live preview), custom categories. Incidents, import/export and the audit log live in
rules_transfer.py. Every change goes through plugin.services.rulebook: validated in full (letters
rendered in the sandbox first), stored as a new version with its audit entry, and picked up
by the workers on their next event.
"""

from __future__ import annotations

from dataclasses import replace

from flask import abort, flash, jsonify, redirect, render_template, request, url_for

from plugin.core import compensation as comp
from plugin.core.classify.calibration import SPECIFIC_COMPLAINT
from plugin.core.compose import Options, shipped_source
from plugin.core.letters import lint_source, template_problem
from plugin.core.rules import (
    AUDIENCES,
    CATEGORIES,
    LETTER_AUDIENCES,
    MAX_TEMPLATE_CHARS,
    TONES,
    CategoryRule,
    Rules,
    RulesError,
    is_custom,
)
from plugin.core.rules_document import category_text
from plugin.core.rules_layer import apply
from plugin.services import rulebook
from plugin.services.drafting import draft_ticket
from plugin.web.admin.base import bp, helpdesk_account, runtime
from plugin.web.admin.rules_forms import (
    book,
    change,
    compensation_summary,
    form_to_rule,
    letters_help,
    parse_phrases,
    phrases_text,
    preview_ticket,
    samples_for,
    templates_from_form,
)


def options() -> Options:
    return Options.from_settings(runtime().settings)


def error_text(exc: RulesError) -> str:
    """A validation error for a form: the field's key path (not the YAML line) and the reason."""
    path = exc.path.split(".", 2)[-1] if exc.path.startswith("categories.") else exc.path
    return f"{path}: {exc.reason}" if path else exc.reason


@bp.route("/rules", methods=["GET", "POST"])
def rules():
    current = book()
    form, errors, status = {}, [], 200
    if request.method == "POST":  # add a custom category
        form = {k: request.form.get(k, "").strip() for k in ("id", "label", "phrases")}
        name = form["id"]
        if name in current.rules.categories or name == "other":
            errors.append(f"There is already a category {name!r}.")
        elif not name:
            errors.append("Give the category an id, e.g. loyalty_points.")
        else:
            raw = {"label": form["label"], "phrases": parse_phrases(form["phrases"])}
            try:
                change(lambda r: apply(r, {"categories": {name: raw}}, source="form"), "rule.add", name,
                       lambda r: category_text(r, name))
            except RulesError as exc:
                errors.append(error_text(exc))
            else:
                flash(f"Added the category {name}. Review its letters below.", "ok")
                return redirect(url_for("admin.rule", category=name))
        status = 400
    rows = [_row(current.rules, name) for name in current.rules.ids()]
    return render_template("admin/rules.html", rows=rows, form=form, errors=errors, account=helpdesk_account()), status


def _row(rules: Rules, name: str) -> dict:
    rule = rules.rule(name)
    changed = [a for a in LETTER_AUDIENCES if rule.source(a) is not None]
    return {"id": name, "label": rules.label(name), "custom": is_custom(name), "rule": rule,
            "compensation": compensation_summary(name, rule),
            "letters": (f"changed: {', '.join(changed)}" if changed else
                        "generic (custom category)" if is_custom(name) else "shipped"),
            "phrases": len(rule.phrases)}


def _known(current: rulebook.Book, category: str) -> CategoryRule:
    if category not in current.rules.categories:
        abort(404)
    return current.rules.categories[category]


def _editor(current: rulebook.Book, category: str, *, form=None, errors=(), findings=None, status=200):
    rule = _known(current, category)
    sources = {a: rule.source(a) if rule.source(a) is not None else shipped_source(category, a)
               for a in LETTER_AUDIENCES}
    kinds = sorted(set(comp.WORDING) | ({rule.compensation.kind} - {""}))
    values = form or {
        "enabled": rule.enabled, "label": rule.label, "audience": rule.audience, "tone": rule.tone,
        "no_fault": rule.no_fault, "threshold": f"{rule.threshold:g}", "tags": " ".join(rule.tags),
        "remedy": rule.remedy, "prevention": rule.prevention, "comp_kind": rule.compensation.kind,
        "comp_amount": _num(rule.compensation.amount), "comp_currency": rule.compensation.currency,
        "comp_cap": _num(rule.compensation.cap), "comp_repeat_amount": _num(rule.compensation.repeat_amount),
        "comp_in_letter": rule.compensation.in_letter, "phrases": phrases_text(rule.phrases),
        **{f"template_{a}": sources[a] for a in LETTER_AUDIENCES},
    }
    return render_template(
        "admin/rule.html", category=category, label=current.rules.label(category), custom=is_custom(category),
        rule=rule, values=values, errors=list(errors), findings=findings, audiences=AUDIENCES, tones=TONES,
        kinds=kinds, default_kinds=comp.LADDER.get(category), changed={a: rule.source(a) is not None
                                                                       for a in LETTER_AUDIENCES},
        samples=samples_for(category), version=current.version,
        threshold_default=_threshold_default(current, category),
        letters_help=letters_help(category), specific_complaint=SPECIFIC_COMPLAINT), status


def _threshold_default(current: rulebook.Book, category: str) -> float:
    # The calibrated value of a built-in category; a custom one has none.
    return current.base.rule(category).threshold if category in current.base.categories else 0.0


def _num(value) -> str:
    return "" if value is None else f"{value:g}"


@bp.get("/rules/<category>")
def rule(category: str):
    return _editor(book(), category)


@bp.post("/rules/<category>")
def rule_save(category: str):
    current = book()
    old = _known(current, category)
    form = request.form.to_dict()
    raw = form_to_rule(form, category)
    if not form.get("threshold", "").strip():  # an emptied field means "back to the default", not 0
        raw["threshold"] = _threshold_default(current, category)
    raw["template"] = templates_from_form(form, category)
    layer = {"categories": {category: raw}}
    try:
        proposed = apply(current.rules, layer, source="form")
    except RulesError as exc:
        return _editor(current, category, form=form, errors=[error_text(exc)], status=400)
    new = proposed.rule(category)
    edited = [a for a in LETTER_AUDIENCES if new.source(a) != old.source(a) and new.source(a) is not None]
    findings = {a: [f"{c.where.split('[', 1)[-1].rstrip(']')}: {f.message}" for c in
                    lint_source(new.source(a), category, a, proposed) for f in c.findings] for a in edited}
    findings = {a: items for a, items in findings.items() if items}
    if findings and not form.get("confirm_lint"):
        return _editor(current, category, form=form, findings=findings, status=409,
                       errors=["The changed letter has lint findings. Check them, then tick "
                               "\"Save anyway\" to keep it."])
    try:
        changed = change(lambda r: apply(r, layer, source="form"), "rule.update", category,
                         lambda r: category_text(r, category))
    except RulesError as exc:
        return _editor(current, category, form=form, errors=[error_text(exc)], status=400)
    flash("Saved." if changed else "Nothing changed.", "ok")
    return redirect(url_for("admin.rule", category=category))


@bp.post("/rules/<category>/reset")
def rule_reset(category: str):
    current = book()
    rule_now = _known(current, category)
    audience = request.form.get("audience", "")
    if audience not in LETTER_AUDIENCES:
        flash("Choose the customer or the client letter to reset.", "error")
        return redirect(url_for("admin.rule", category=category)), 303
    kept = {a: s for a, s in rule_now.template if a != audience}
    change(lambda r: apply(r, {"categories": {category: {"template": kept}}}, source="form"), "template.reset",
           f"{category}.{audience}", lambda r: category_text(r, category))
    flash(f"The {audience} letter is the shipped one again.", "ok")
    return redirect(url_for("admin.rule", category=category))


@bp.post("/rules/<category>/delete")
def rule_delete(category: str):
    current = book()
    _known(current, category)
    if not is_custom(category):
        flash("Built-in categories cannot be deleted; untick \"Enabled\" to stop their letters.", "error")
        return redirect(url_for("admin.rule", category=category)), 303
    if category in current.base.categories:
        flash("This category is defined in AMENDS_RULES_FILE; remove it there, or disable it here.", "error")
        return redirect(url_for("admin.rule", category=category)), 303
    using = [i for i in current.rules.incidents if i.category == category]
    if using:
        flash(f"Remove its {len(using)} incident(s) first.", "error")
        return redirect(url_for("admin.rule", category=category)), 303

    def edit(r: Rules) -> Rules:
        return replace(r, categories={k: v for k, v in r.categories.items() if k != category})

    change(edit, "rule.delete", category, lambda r: category_text(r, category))
    flash(f"Deleted the category {category}.", "ok")
    return redirect(url_for("admin.rules"))


@bp.post("/rules/<category>/preview")
def rule_preview(category: str):
    """The live preview: the unsaved form (as JSON) rendered for a sample or pasted ticket,
    with the same composition as the pipeline and `amends draft`, and the linter's findings."""
    current = book()
    _known(current, category)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(ok=False, error={"line": None, "message": "send the form as a JSON object"}), 400
    data = {str(k): v if isinstance(v, str) else str(v) for k, v in data.items()}
    audience = data.get("preview_audience", "customer")
    if audience not in LETTER_AUDIENCES:
        return jsonify(ok=False, error={"line": None, "message": "audience must be customer or client"}), 400
    ticket = preview_ticket(category, data.get("sample", "0"), data.get("pasted", ""))
    if ticket is None:
        return jsonify(ok=False, error={"line": None, "message": "paste a ticket, or choose a sample"}), 400
    rules_now, warning = current.rules, ""
    try:  # the other fields as typed (remedy, tone, ...), when they are valid
        rules_now = apply(current.rules, {"categories": {category: form_to_rule(data, category)}}, source="form")
    except RulesError as exc:
        warning = f"Using the saved settings: {error_text(exc)}"
    source = data.get(f"template_{audience}", "").replace("\r\n", "\n")
    if len(source) > MAX_TEMPLATE_CHARS:  # as a save would refuse it; compiling more costs seconds
        return jsonify(ok=False, error={"line": None, "message": f"the letter is {len(source)} characters; keep "
                                                                  f"it under {MAX_TEMPLATE_CHARS}"}), 400
    try:
        result = draft_ticket(ticket, rules_now, options(), category=category, audience=audience,
                              template_source=source)
    except Exception as exc:  # the letter as typed does not compile or render: say where
        problem = template_problem(exc)
        return jsonify(ok=False, error={"line": problem.line, "message": problem.message}, warning=warning)
    return jsonify(ok=True, note=result["note"], subject=result["subject"], letter=result["letter"],
                   to_fill=result["to_fill"], lint=result["lint"], audience=audience, warning=warning,
                   builtin=category in CATEGORIES)

