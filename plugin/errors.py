"""The exception tree. Raised inside, caught only at the boundaries.

    AmendsError
    ├── ConfigError              a setting is missing or invalid      → start-up stops, exit 2
    │   ├── SchemaNotCurrent     (db) AMENDS_MIGRATE_ON_START=false and the schema is not the code's
    │   │                        → start-up stops, naming `amends db upgrade`
    │   └── RulesError           (rules.py) a rules document is invalid; names the line → 400 / exit 1
    ├── SecretBoxError           (secretbox.py) a stored secret cannot be read → re-connect Zendesk
    ├── SidebarRefused           (sidebar_auth.py) no valid signed-URL token → 401
    ├── KeyUnavailable           (sidebar_auth.py) the app's public key cannot be fetched → 503
    ├── InvalidAppPackage        (zendesk_app.py) the app manifest breaks a rule → exit 1
    ├── WebhookRejected          a delivery we refuse                  → 4xx with the reason
    │   ├── SignatureError       bad, missing or stale signature       → 401
    │   ├── PayloadError         malformed JSON, no ticket id          → 400
    │   └── UnsupportedMediaType not JSON                              → 415
    └── HelpdeskError            the helpdesk API failed               → the task retries or fails
        ├── RetryableError       worth another attempt later
        │   ├── RateLimited      429; carries retry_after seconds
        │   └── TransientError   5xx, timeout, connection error
        └── PermanentError       retrying cannot help; the reason is recorded
            ├── AuthError        401/403: credentials wrong or missing
            ├── NotFound         404: the ticket is gone
            └── LetterOverBudget (core/budget.py) a letter's template ran out of time or size
                                 → the event fails with the reason; refused at save / import
"""

from __future__ import annotations


class AmendsError(Exception):
    """Base of every error Amends raises on purpose."""


class ConfigError(AmendsError):
    """A setting is missing or invalid; the message names it."""


class SchemaNotCurrent(ConfigError):
    """The database is not at the revision this code needs and start-up may not migrate it."""


class WebhookRejected(AmendsError):
    status = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SignatureError(WebhookRejected):
    status = 401


class PayloadError(WebhookRejected):
    status = 400


class UnsupportedMediaType(WebhookRejected):
    status = 415


class HelpdeskError(AmendsError):
    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class RetryableError(HelpdeskError):
    pass


class RateLimited(RetryableError):
    def __init__(self, reason: str, retry_after: float, status: int | None = 429):
        super().__init__(reason, status)
        self.retry_after = retry_after


class TransientError(RetryableError):
    pass


class PermanentError(HelpdeskError):
    pass


class AuthError(PermanentError):
    pass


class NotFound(PermanentError):
    pass


class LetterOverBudget(PermanentError):
    """A letter's template went over its render budget (steps, time or size). Not the helpdesk's
    fault, but just as permanent: the same letter on the same ticket goes over again. `timed`:
    the clock ran out (depends on the machine, so a check that failed this way is not cached)."""

    def __init__(self, problem: str, timed: bool = False):
        super().__init__(f"the letter {problem}")
        self.problem, self.timed = problem, timed

    def for_letter(self, name: str) -> LetterOverBudget:
        """The same error naming the letter (e.g. delivery_delay.customer), for the event's reason."""
        self.reason = f"the letter {name} {self.problem}"
        self.args = (self.reason,)
        return self
