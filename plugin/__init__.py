"""Amends: create_app() wires settings, database, queue and blueprints. No logic here."""

from __future__ import annotations

from flask import Flask, jsonify

from plugin.config import Settings, load_settings


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Flask:
    from plugin import api, health, webhooks
    from plugin.runtime import build_runtime

    settings = settings or load_settings()
    app = Flask(__name__, instance_relative_config=False)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["SECRET_KEY"] = settings.secret_key or None
    app.extensions["amends"] = build_runtime(settings, migrate=migrate)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)

    @app.errorhandler(413)
    def too_large(_exc):
        return jsonify(status="refused", reason=f"body larger than {settings.max_body_bytes} bytes"), 413

    return app
