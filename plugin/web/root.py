"""`/`: nothing lives at the root, so a browser opening the server's address lands on the console."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

bp = Blueprint("root", __name__)


@bp.get("/")
def index():
    # 302, not 301: browsers cache a permanent redirect, and the root may serve something one day.
    return redirect(url_for("admin.overview"), 302)
