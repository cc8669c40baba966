"""Blueprint /admin: the admin console. `base` holds the blueprint and what every page shares;
each area is its own module adding routes to it. Every route refuses without a session, every
form carries a CSRF token (Flask-WTF's CSRFProtect, installed in create_app), and the console is
off until AMENDS_ADMIN_PASSWORD and AMENDS_SECRET_KEY are both set."""

from plugin.web.admin import auth, connect, overview, rules_pages, rules_transfer, watch
from plugin.web.admin.base import bp, console_off_page

__all__ = ["bp", "console_off_page", "auth", "connect", "overview", "rules_pages", "rules_transfer", "watch"]
