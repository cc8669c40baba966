"""Amends: create_app() wires settings, database, queue and blueprints. No logic here."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface

from plugin.config import Settings, load_settings
from plugin.core.paths import TEMPLATES_DIR


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over https (directly, or
    through a proxy trusted with AMENDS_PROXY_HOPS), so plain-http local use still works."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Flask:
    from flask_wtf.csrf import CSRFError, CSRFProtect

    from plugin.runtime import build_runtime
    from plugin.web import admin, api, health, prometheus, root, sidebar, webhooks

    settings = settings or load_settings()
    app = Flask(__name__, instance_relative_config=False, template_folder=str(TEMPLATES_DIR))
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SECRET_KEY=settings.secret_key or None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="amends_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session, which expires on its own
    )
    app.session_interface = _SessionInterface()
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops,
                                x_host=settings.proxy_hops)
    app.extensions["amends"] = build_runtime(settings, migrate=migrate)

    # Before CSRF protection: with AMENDS_SECRET_KEY missing it could only fail, and the console
    # must still say which settings it needs (a 503 page) instead of a bare 500.
    app.before_request(admin.console_off_page)
    csrf = CSRFProtect(app)
    # Machine endpoints authenticate by signature or token, not by a browser session.
    csrf.exempt(webhooks.bp)
    csrf.exempt(api.bp)
    csrf.exempt(health.bp)
    csrf.exempt(prometheus.bp)
    # The agents' sidebar, in Zendesk's iframe: its first load carries Zendesk's signed token and
    # later requests our sidebar token in a header (never a cookie), which no other site can send.
    csrf.exempt(sidebar.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(prometheus.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(sidebar.bp)
    app.register_blueprint(root.bp)  # / sends to the console

    @app.errorhandler(413)
    def too_large(_exc):
        return jsonify(status="refused", reason=f"body larger than {settings.max_body_bytes} bytes"), 413

    @app.errorhandler(CSRFError)
    def csrf_refused(exc):
        reason = f"The form's security token is missing or out of date ({exc.description}). Reload the page and try again."
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            return jsonify(status="refused", reason=reason), 400
        return render_template("admin/refused.html", reason=reason), 400

    return app
