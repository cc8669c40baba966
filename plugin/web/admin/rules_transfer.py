"""Console: incidents (declare a cause, remedy and time window for a category), import and
export of the whole rules document, and the audit log with a readable diff per change."""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import replace
from datetime import datetime, timezone

from flask import Response, flash, redirect, render_template, request, url_for

from plugin import db
from plugin.core.rules import FORMAT, Incident, Rules, RulesError
from plugin.core.rules_document import declared_format, incident_fields, incidents_text
from plugin.core.rules_layer import apply
from plugin.services import rulebook
from plugin.web.admin.base import actor, bp, helpdesk_account, runtime
from plugin.web.admin.rules_forms import book, change

MAX_IMPORT_BYTES = 2 * 1024 * 1024


def incident_key(incident: Incident) -> str:
    """Names one incident in a remove form, so a list that changed meanwhile removes nothing wrong."""
    return hashlib.sha256(repr(incident_fields(incident)).encode()).hexdigest()[:16]


@bp.route("/incidents", methods=["GET", "POST"])
def incidents():
    current = book()
    form, errors, status = {}, [], 200
    if request.method == "POST":
        action = request.form.get("action")
        if action == "remove":
            return _remove_incident(current.rules)
        if action != "add":
            errors.append("Unknown action.")
        else:
            form = {k: request.form.get(k, "").strip() for k in ("category", "cause", "remedy", "starts", "ends")}
            raw = {k: v for k, v in form.items() if v}
            for key in ("starts", "ends"):  # <input type=datetime-local> has no zone: the form says UTC
                if key in raw and len(raw[key]) == 16:
                    raw[key] += ":00"
            try:
                change(lambda r: apply(r, {"incidents": [*map(incident_fields, r.incidents), raw]}, source="form"),
                       "incident.add", form["category"] or "incident", incidents_text)
            except RulesError as exc:
                field = exc.path.rsplit(".", 1)[-1] if "." in exc.path else ""
                errors.append(f"{field}: {exc.reason}" if field else exc.reason.capitalize())
            else:
                flash("Incident added: matching tickets in its window get its facts.", "ok")
                return redirect(url_for("admin.incidents"))
        status = 400
    now = datetime.now(timezone.utc)
    rows = [{"incident": i, "key": incident_key(i), "index": n, "active": i.active(now),
             "label": current.rules.label(i.category)} for n, i in enumerate(current.rules.incidents)]
    return render_template("admin/incidents.html", rows=rows, form=form, errors=errors,
                           categories=[(c, current.rules.label(c)) for c in current.rules.ids()]), status


def _remove_incident(rules_now: Rules):
    key = request.form.get("key", "")
    target = next((i for i in rules_now.incidents if incident_key(i) == key), None)
    if target is None:
        flash("That incident is no longer in the list (someone changed it meanwhile); nothing was removed.", "error")
        return redirect(url_for("admin.incidents")), 303

    def edit(r: Rules) -> Rules:
        kept = [i for i in r.incidents if incident_key(i) != key]
        return replace(r, incidents=tuple(kept))  # the rest (categories, commitments) unchanged

    change(edit, "incident.remove", target.category, incidents_text)
    flash("Incident removed.", "ok")
    return redirect(url_for("admin.incidents"))


def _transfer_page(errors: list[str], text: str, status: int = 200):
    """The page names two numbers apart: the document format (the `format:` key of every rules
    file, what import checks) and the version of this account's stored rules (one per save)."""
    current = book()
    stored = db.rule_document(runtime().engine, *helpdesk_account()) or {}
    return render_template("admin/transfer.html", errors=errors, document=text, rules_version=current.version,
                           saved_by=stored.get("updated_by"), saved_at=stored.get("updated_at"),
                           doc_format=FORMAT, declared=declared_format(text) if text.strip() else None,
                           account=helpdesk_account(), when=lambda ts: datetime.fromtimestamp(ts, timezone.utc)
                           .strftime("%Y-%m-%d %H:%M UTC")), status


@bp.get("/transfer")
def transfer():
    return _transfer_page([], "")


@bp.get("/transfer/export")
def transfer_export():
    helpdesk, account = helpdesk_account()
    text = rulebook.export(book())
    return Response(text, mimetype="application/yaml",
                    headers={"Content-Disposition": f'attachment; filename="amends-rules-{account}.yaml"'})


@bp.post("/transfer/import")
def transfer_import():
    helpdesk, account = helpdesk_account()
    upload = request.files.get("file")
    text = ""
    if upload and upload.filename:
        data = upload.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            return _import_error(f"the file is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MiB", "")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return _import_error("the file is not UTF-8 text", "")
        source = upload.filename
    else:
        text, source = request.form.get("document", ""), "pasted document"
    if not text.strip():
        return _import_error("choose a file or paste a document", text)
    try:
        _, changed = rulebook.import_document(runtime().engine, runtime().rulebooks.base, helpdesk, account, text,
                                              actor=actor(), source=source)
    except RulesError as exc:
        return _import_error(str(exc), text)
    flash(f"Imported a format {FORMAT} document: the rules and letters are now those of the document." if changed
          else "Imported: the document matches the current rules, nothing changed.", "ok")
    return redirect(url_for("admin.transfer"))


def _import_error(message: str, text: str):
    return _transfer_page([f"Nothing was changed. {message}"], text, 400)


@bp.get("/audit")
def audit():
    helpdesk, account = helpdesk_account()
    entries = []
    for e in db.list_audit(runtime().engine, helpdesk, account):
        diff = diff_lines(e["before"], e["after"])
        entries.append(dict(e, when=datetime.fromtimestamp(e["at"], timezone.utc), diff=diff,
                            changed=sum(kind in ("add", "del") for kind, _ in diff)))
    return render_template("admin/audit.html", entries=entries, account=(helpdesk, account))


def diff_lines(before: str | None, after: str | None) -> list[tuple[str, str]]:
    """(kind, line) of a unified diff, kind one of add, del, hunk, same. Each hunk header names
    the YAML keys it is under (e.g. categories.billing_error), which the context lines may not show."""
    old = (before or "").splitlines()
    out = []
    for line in list(difflib.unified_diff(old, (after or "").splitlines(), lineterm="", n=2))[2:]:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        if kind == "hunk":
            start = HUNK.match(line)
            where = _keys_above(old, int(start.group(1)) + 2) if start else ""  # the first changed line
            line = f"{line} {where}".rstrip()
        out.append((kind, line))
    return out


HUNK = re.compile(r"^@@ -(\d+)")
KEY = re.compile(r"^( *)([^\s#-][^:]*):\s*(\||\{\}|\[\])?$")


def _keys_above(lines: list[str], upto: int) -> str:
    """The mapping keys enclosing line `upto` (1-based) of a YAML text, outermost first."""
    keys, indent = [], None
    for line in reversed(lines[:max(upto, 0)]):
        found = KEY.match(line)
        if found and (indent is None or len(found.group(1)) < indent):
            keys.append(found.group(2))
            indent = len(found.group(1))
            if indent == 0:
                break
    return ".".join(reversed(keys))
