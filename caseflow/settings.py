"""Configuration of every Caseflow process, read from `CASEFLOW_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "caseflow-development-secret-do-not-use-in-production"
HOME_DIRECTORY = ".caseflow"


def find_home(start: Path) -> Path | None:
    """The nearest `.caseflow` directory in `start` or a folder above it, as git finds `.git`."""
    for folder in (start, *start.parents):
        if (folder / HOME_DIRECTORY).is_dir():
            return folder / HOME_DIRECTORY
    return None


def default_home() -> Path:
    """Without CASEFLOW_HOME: the project's `.caseflow` found upwards from the current folder,
    else one in the current folder (which only `dev`, `db upgrade` and `seed` create)."""
    try:
        return find_home(Path.cwd()) or Path(HOME_DIRECTORY)
    except OSError:  # the current folder was deleted
        return Path(HOME_DIRECTORY)


def _is_rate(text: str) -> bool:
    from limits import parse_many

    try:
        return len(parse_many(text)) == 1
    except ValueError:
        return False


class MailboxSettings(BaseModel):
    """One support mailbox the intake reads, and the defaults of the cases it opens."""

    address: str
    imap_user: str = Field(default="", description="Login; the address if empty.")
    imap_password: SecretStr | None = Field(
        default=None, description="CASEFLOW_IMAP_PASSWORD if unset."
    )
    folder: str = "INBOX"
    queue: str = Field(default="", description="Default queue; a matching routing rule wins.")
    priority: int | None = None
    product: str | None = None
    # Record creation rules: a sender with no contact becomes one ("create") or gets a polite
    # notice and no case ("refuse"); an exhausted entitlement as CASEFLOW_EXHAUSTED_ENTITLEMENT
    # unless set here.
    unknown_senders: Literal["create", "refuse"] = "create"
    exhausted_entitlement: Literal["serve", "refuse"] | None = None


class WorkerRole(StrEnum):
    """What a `caseflow worker` process runs: the workflows, their activities, or both."""

    BOTH = "both"
    WORKFLOWS = "workflows"
    ACTIVITIES = "activities"


class Settings(BaseSettings):
    """Every default works for `make run`; production must set its own secret key."""

    model_config = SettingsConfigDict(env_prefix="CASEFLOW_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    home: Path = Field(
        default_factory=default_home,
        description="State of the development stack; the nearest .caseflow upwards if unset.",
    )
    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite under home if empty.")
    # Connections each API and worker process keeps open, and how many more it may open at a
    # peak. No request holds one while it waits on Temporal, so a few serve many agents.
    database_pool_size: int = Field(default=5, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = Field(default=8233, description="Web UI of `caseflow dev` only.")
    task_queue: str = "caseflow"

    support_address: str = "support@caseflow.test"
    support_name: str = "Caseflow Support"
    # The language of customers' pages and emails when neither the contact nor the browser
    # names one Caseflow speaks (en, it or pt).
    default_language: Literal["en", "it", "pt"] = "en"
    imap_host: str = "127.0.0.1"
    imap_port: int = 1143
    imap_ssl: bool = False
    imap_user: str = ""
    imap_password: SecretStr = SecretStr("caseflow")
    imap_folder: str = "INBOX"
    imap_poll_interval: timedelta = timedelta(seconds=30)
    imap_idle: bool = True
    # Larger messages are quarantined from their RFC822.SIZE, before they are downloaded.
    imap_max_message_size: int = 25_000_000
    # Files of an inbound message: larger ones are listed but not kept, and so is every file
    # past the per-message total or count.
    max_attachment_size: int = Field(default=10 * 1024 * 1024, ge=0)
    max_attachments_total: int = Field(default=25 * 1024 * 1024, ge=0)
    max_attachments: int = Field(default=100, ge=0)
    # Longest wait between reconnection attempts when the IMAP server (or Temporal) is away.
    imap_reconnect_backoff_max: timedelta = timedelta(seconds=60)
    # More support addresses, besides `support_address`: a JSON list of `MailboxSettings`.
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    # A message whose hand-off keeps failing is retried after 1, 2, 4 ... minutes (capped),
    # then quarantined after this many attempts.
    intake_max_attempts: int = 5
    intake_retry_backoff: timedelta = timedelta(minutes=1)
    intake_retry_backoff_max: timedelta = timedelta(hours=1)
    # Messages of one mailbox taken in at once (one sender's messages always one at a time).
    intake_concurrency: int = Field(default=8, ge=1)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_ssl: bool = False

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    # How long an action waits for the case's worker before answering 503.
    api_update_timeout: timedelta = timedelta(seconds=15)
    # Where `caseflow worker` serves Prometheus metrics (Temporal's own and Caseflow's, such as
    # caseflow_case_state_bytes), e.g. 0.0.0.0:9464; empty: none.
    worker_metrics_address: str = ""
    # What `caseflow worker` runs (`--role` overrides it): any number of each role may poll one
    # task queue. A workflow worker keeps at most this many cases in memory (the rest are
    # replayed from their history when they next have work), so its memory is bounded.
    worker_role: WorkerRole = WorkerRole.BOTH
    max_cached_workflows: int = Field(default=1000, ge=1)
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)

    # Requests per client address to the public pages (the customer's links, agents' sign-in
    # attempts), as `limits` writes them; and where the counts live ("memory://" per process).
    rate_limit_links: str = "60/minute"
    rate_limit_sign_in: str = "20/minute"
    rate_limit_storage: str = "memory://"

    auto_close_after: timedelta = timedelta(days=7)
    survey_delay: timedelta = timedelta(hours=1)
    survey_reminder_after: timedelta = timedelta(days=3)
    survey_expires_after: timedelta = timedelta(days=7)
    late_timer_threshold: timedelta = timedelta(minutes=1)

    # Loop protection: acknowledgements per sender per rolling 24 h, and the per-case breaker
    # that stops automatic email to the customer when more inbound mail than this arrives in
    # an hour.
    ack_limit_per_day: int = Field(default=5, ge=0)
    loop_breaker_per_hour: int = Field(default=10, ge=1)
    # A child case may be resolved (and so closed) only once its parent case is.
    child_resolve_requires_parent: bool = False
    # A new case of a customer whose entitlement has no cases left (in total or for the
    # channel): served as if it had none ("serve"), or refused with a notice / 409 ("refuse").
    exhausted_entitlement: Literal["serve", "refuse"] = "serve"
    # A customer's reply to a resolved case: reopens it only when it says the problem persists
    # or asks something new ("judge"; thanks and "it works" leave it resolved and tell its
    # owner), or reopens it whatever it says ("reopen"). Pinned on each case when created.
    resolved_reply: Literal["judge", "reopen"] = "judge"

    @model_validator(mode="after")
    def _refuse_development_secret_in_production(self) -> Settings:
        if self.environment == "production":
            if self.secret_key.get_secret_value() == DEVELOPMENT_SECRET:
                raise ValueError("CASEFLOW_SECRET_KEY must be set in production")
            if len(self.secret_key.get_secret_value()) < 32:
                raise ValueError("CASEFLOW_SECRET_KEY must be at least 32 characters")
        for name in ("auto_close_after", "survey_reminder_after", "survey_expires_after"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"CASEFLOW_{name.upper()} must be a positive duration")
        if self.intake_max_attempts < 1:
            raise ValueError("CASEFLOW_INTAKE_MAX_ATTEMPTS must be at least 1")
        if self.survey_delay < timedelta(0):
            raise ValueError("CASEFLOW_SURVEY_DELAY must not be negative")
        for name in ("rate_limit_links", "rate_limit_sign_in"):
            if not _is_rate(getattr(self, name)):
                raise ValueError(f"CASEFLOW_{name.upper()} must read like 60/minute")
        return self

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'caseflow.db').resolve()}"

    @property
    def home_is_given(self) -> bool:
        """Whether CASEFLOW_HOME (or the caller) chose the home, rather than the search."""
        return "home" in self.model_fields_set

    @property
    def support_domain(self) -> str:
        return self.support_address.rpartition("@")[2]

    @property
    def imap_login(self) -> str:
        return self.imap_user or self.support_address

    def intake_mailboxes(self) -> list[MailboxSettings]:
        """Every mailbox the intake reads: the support address first (with its entry in
        `mailboxes`, if any, for routing defaults), then the others."""
        main = self.support_address.lower()
        listed = {m.address.lower(): m for m in self.mailboxes}
        first = listed.pop(main, MailboxSettings(address=self.support_address))
        if not first.imap_user and not first.imap_password:
            first = first.model_copy(update={"imap_user": self.imap_login})
        if first.folder == "INBOX":
            first = first.model_copy(update={"folder": self.imap_folder})
        return [first, *listed.values()]
