"""SQLAlchemy models of every table of the project: the demo shop (customers, catalogue,
carts, orders, payments, discount codes, support tickets), the kicker-form store of
:mod:`bot.kicks.form_store` and what the Telegram channel persists
(:mod:`connectors.telegram_store`). The query functions live with their features; the
Alembic migrations (``bot/store/migrations``) alone create the tables.

Money is stored in the shop currency (US dollars, as in the DummyJSON catalogue) as
``Numeric(10, 2)``; timestamps are naive UTC ``datetime``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import relationship

from bot.store.db import Base


def utcnow() -> datetime:
    """Current time, naive UTC (the convention for every timestamp column)."""
    return datetime.utcnow()


class Customer(Base):
    """A shop customer; ``sender_id`` links a chat channel's user to the account."""

    __tablename__ = "customers"
    id = Column(Integer, primary_key=True)
    name = Column(String(120), nullable=False)
    email = Column(String(200), nullable=False, unique=True)
    country = Column(String(2), nullable=False)  # ISO 3166-1 alpha-2
    sender_id = Column(String(200), unique=True, nullable=True)
    """The demo customer's short name (``alice``); chats are not linked by it."""
    password_hash = Column(String(200), nullable=True)
    """:func:`bot.store.passwords.hash_password` of the demo shop login, ``None``: none."""


class Product(Base):
    """A catalogue item (DummyJSON products, MIT licence)."""

    __tablename__ = "products"
    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    description = Column(Text, nullable=False, default="")
    category = Column(String(80), nullable=False, index=True)
    brand = Column(String(120), nullable=True)
    price = Column(Numeric(10, 2), nullable=False)
    stock = Column(Integer, nullable=False, default=0)
    rating = Column(Float, nullable=True)
    tags = Column(JSON, nullable=False, default=list)
    sku = Column(String(40), nullable=True)


class Cart(Base):
    """A customer's open shopping cart with an optional applied discount code."""

    __tablename__ = "carts"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, unique=True)
    discount_code = Column(String(40), ForeignKey("discount_codes.code"), nullable=True)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    items = relationship("CartItem", back_populates="cart", cascade="all, delete-orphan")
    customer = relationship("Customer")


class CartItem(Base):
    """One line of a cart; ``unit_price`` is the price when the item was added."""

    __tablename__ = "cart_items"
    id = Column(Integer, primary_key=True)
    cart_id = Column(Integer, ForeignKey("carts.id"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    quantity = Column(Integer, nullable=False, default=1)
    unit_price = Column(Numeric(10, 2), nullable=False)
    cart = relationship("Cart", back_populates="items")
    product = relationship("Product")


class CartEvent(Base):
    """Client-side cart actions as the web shop logged them (e.g. an 'add' that never
    reached the cart), used to repair a cart whose item went missing."""

    __tablename__ = "cart_events"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    quantity = Column(Integer, nullable=False, default=1)
    kind = Column(String(20), nullable=False)  # "add" | "remove"
    applied = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class Order(Base):
    """A placed order; ``number`` is what customers quote (e.g. ``TL-10042``)."""

    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    number = Column(String(20), nullable=False, unique=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    status = Column(String(20), nullable=False)  # processing|shipped|delayed|delivered|cancelled
    carrier = Column(String(40), nullable=True)
    tracking_number = Column(String(40), nullable=True)
    expected_date = Column(Date, nullable=True)
    total = Column(Numeric(10, 2), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    customer = relationship("Customer")


class PaymentMethod(Base):
    """A payment method the shop accepts; ``countries`` is a list of ISO codes or ``["*"]``."""

    __tablename__ = "payment_methods"
    code = Column(String(30), primary_key=True)
    name = Column(String(60), nullable=False)
    countries = Column(JSON, nullable=False, default=lambda: ["*"])


class Payment(Base):
    """One payment attempt. ``decline_code`` follows the card networks' common reasons:
    ``insufficient_funds``, ``expired_card``, ``authentication_failed`` (3-D Secure),
    ``method_not_available`` (method not offered in the customer's country)."""

    __tablename__ = "payments"
    id = Column(Integer, primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    order_id = Column(Integer, ForeignKey("orders.id"), nullable=True)
    method = Column(String(30), ForeignKey("payment_methods.code"), nullable=False)
    amount = Column(Numeric(10, 2), nullable=False)
    status = Column(String(20), nullable=False)  # succeeded | declined
    decline_code = Column(String(40), nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    order = relationship("Order")


class DiscountCode(Base):
    """A discount code: ``percent_off`` in [0, 100] or ``amount_off`` in dollars."""

    __tablename__ = "discount_codes"
    code = Column(String(40), primary_key=True)
    percent_off = Column(Numeric(5, 2), nullable=True)
    amount_off = Column(Numeric(10, 2), nullable=True)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date, nullable=False)
    min_order_value = Column(Numeric(10, 2), nullable=False, default=0)
    category = Column(String(80), nullable=True)  # restricts the code to one category
    single_use = Column(Boolean, nullable=False, default=True)


class DiscountRedemption(Base):
    """A code used by a customer (enforces single use per customer)."""

    __tablename__ = "discount_redemptions"
    __table_args__ = (UniqueConstraint("code", "customer_id"),)
    id = Column(Integer, primary_key=True)
    code = Column(String(40), ForeignKey("discount_codes.code"), nullable=False)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    redeemed_at = Column(DateTime, nullable=False, default=utcnow)


class Ticket(Base):
    """A support ticket for a human agent, with the conversation summary."""

    __tablename__ = "tickets"
    __table_args__ = (
        # One open ticket per subject: concurrent duplicate complaints cannot open two.
        Index("uq_tickets_open_dedup_key", "dedup_key", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )
    id = Column(Integer, primary_key=True)
    sender_id = Column(String(200), nullable=False, index=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=True)
    reason = Column(String(40), nullable=False)  # handoff | double_charge | ...
    summary = Column(Text, nullable=False)
    status = Column(String(10), nullable=False, default="open")  # open | closed
    takeover = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    closed_at = Column(DateTime, nullable=True)
    dedup_key = Column(String(255), nullable=True)
    """What the ticket is about (``double_charge:payments:12-13``, ``takeover:<sender>``);
    at most one open ticket per key. ``NULL`` for tickets that need no such guard."""
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=True, index=True)
    """The agent who claimed the conversation (migration 0007); ``NULL``: unassigned."""
    claimed_at = Column(DateTime, nullable=True)
    resolution = Column(Text, nullable=True)
    """The agent's resolution note, required to close from the inbox."""
    rating = Column(Integer, nullable=True)
    """The customer's 1-5 rating of the help, asked for when the inbox closes the ticket."""
    rating_comment = Column(Text, nullable=True)
    contact_email = Column(String(254), nullable=True)
    """Where to reply when no agent was online (the customer gave it)."""
    customer_typing_at = Column(DateTime, nullable=True)
    """When the customer last typed in the widget during the takeover (the inbox shows
    "typing" for :data:`bot.store.inbox.TYPING_SHOWN`)."""


class KickForm(Base):
    """Attempts and successes of one kicker (or ``"*"``) in one zone, competition or
    career (see :mod:`bot.kicks.form`)."""

    __tablename__ = "kick_form"
    kicker_id = Column(String(40), primary_key=True)
    scope = Column(String(16), primary_key=True)  # zone | competition | career
    key = Column(String(120), primary_key=True)
    attempts = Column(Integer, nullable=False, default=0)
    made = Column(Integer, nullable=False, default=0)


class KickKicker(Base):
    """A kicker seen in the data (names are fictional for simulated data)."""

    __tablename__ = "kick_kickers"
    kicker_id = Column(String(40), primary_key=True)
    name = Column(String(120), nullable=False, index=True)
    team = Column(String(120), nullable=False)
    last_date = Column(String(10), nullable=False)  # YYYY-MM-DD


class KickEventSeen(Base):
    """A kick already counted in ``kick_form``."""

    __tablename__ = "kick_events_seen"
    event_id = Column(String(80), primary_key=True)
    date = Column(String(10), nullable=False)


class TelegramSeenUpdate(Base):
    """A Telegram update the channel has taken on (primary key: bot id + update id); while
    it is being answered, its JSON (``body``) and when its current attempt began
    (``claimed_at``)."""

    __tablename__ = "telegram_seen_updates"
    __table_args__ = (
        Index("ix_telegram_seen_updates_pending", "claimed_at",
              sqlite_where=text("body IS NOT NULL"),
              postgresql_where=text("body IS NOT NULL")),
    )
    bot_id = Column(BigInteger, primary_key=True, autoincrement=False)
    update_id = Column(BigInteger, primary_key=True, autoincrement=False)
    received_at = Column(DateTime, nullable=False, default=utcnow, index=True)
    body = Column(Text, nullable=True)
    claimed_at = Column(DateTime, nullable=True)


class TelegramButton(Base):
    """A Telegram button payload behind the short id sent as ``callback_data``."""

    __tablename__ = "telegram_buttons"
    ref = Column(String(16), primary_key=True)
    payload = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


def today() -> date:
    """Today's date in UTC."""
    return utcnow().date()


class UsedToken(Base):
    """An identity token id (``jti``) a channel has accepted once; kept until it expires."""

    __tablename__ = "used_tokens"
    token_id = Column(String(64), primary_key=True)
    expires_at = Column(DateTime, nullable=False, index=True)


class RevokedSignIn(Base):
    """A conversation whose identity tokens issued up to ``revoked_at`` are void (the shop
    signed its customer out); kept until every such token has expired."""

    __tablename__ = "revoked_sign_ins"
    conversation_id = Column(String(64), primary_key=True)
    revoked_at = Column(DateTime, nullable=False, index=True)


class CustomerPhone(Base):
    """A phone number a signed-in customer registered, with the PIN a call from it must key
    in before the call counts as theirs (caller ID alone can be spoofed)."""

    __tablename__ = "customer_phones"
    phone = Column(String(16), primary_key=True)
    """E.164, e.g. ``+447700900123``."""
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, unique=True)
    pin_hash = Column(String(200), nullable=False)
    registered_at = Column(DateTime, nullable=False, default=utcnow)


class TelegramLink(Base):
    """A one-time Telegram deep-link token (``/start <token>``) that links a chat to a
    customer; usable once, until it expires."""

    __tablename__ = "telegram_links"
    token = Column(String(64), primary_key=True)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime, nullable=True)


class TelegramAccount(Base):
    """A private Telegram chat linked to a customer (by a :class:`TelegramLink`)."""

    __tablename__ = "telegram_accounts"
    chat_id = Column(BigInteger, primary_key=True, autoincrement=False)
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False)
    linked_at = Column(DateTime, nullable=False, default=utcnow)


class LookupFailure(Base):
    """A failed anonymous order look-up, counted per conversation, order number and e-mail
    (one row per key) to rate-limit guessing."""

    __tablename__ = "lookup_failures"
    id = Column(Integer, primary_key=True)
    key = Column(String(255), nullable=False)
    at = Column(DateTime, nullable=False, default=utcnow)
    __table_args__ = (Index("ix_lookup_failures_key_at", "key", "at"),)


class Agent(Base):
    """A person of the shop who answers customers in the agent inbox (``/agent``)."""

    __tablename__ = "agents"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    """Display name; customers see it beside the agent's replies."""
    email = Column(String(254), nullable=False, unique=True)
    """Login, stored lower-cased."""
    role = Column(String(10), nullable=False, default="agent")  # agent | admin
    password_hash = Column(String(200), nullable=False)
    """bcrypt (:mod:`bot.store.passwords`)."""
    failed_logins = Column(Integer, nullable=False, default=0)
    """Wrong passwords in a row since the last good login or lockout."""
    locked_until = Column(DateTime, nullable=True)
    last_seen_at = Column(DateTime, nullable=True)
    """Last heartbeat of an open, not idle inbox page (presence)."""
    created_at = Column(DateTime, nullable=False, default=utcnow)


class AgentSession(Base):
    """A signed-in inbox page: the SHA-256 of the session cookie, never the cookie itself."""

    __tablename__ = "agent_sessions"
    token_hash = Column(String(64), primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    """Sent back by the page in ``X-CSRF-Token`` with every state-changing request."""
    created_at = Column(DateTime, nullable=False, default=utcnow)
    expires_at = Column(DateTime, nullable=False, index=True)


class AgentAction(Base):
    """What an agent did (log in, claim, reply, close...), for the shop's audit."""

    __tablename__ = "agent_actions"
    id = Column(Integer, primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id"), nullable=False, index=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id"), nullable=True)
    action = Column(String(40), nullable=False)
    detail = Column(Text, nullable=False, default="")
    at = Column(DateTime, nullable=False, default=utcnow)


class ScheduledJob(Base):
    """A job of the persistent scheduler (:mod:`bot.store.jobs`): run once, by one server.

    ``(kind, key)`` is unique, so the same job cannot be planned twice (a cart's reminder
    key holds the day: at most one per cart per day).
    """

    __tablename__ = "scheduled_jobs"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_scheduled_jobs_kind_key"),
                      Index("ix_scheduled_jobs_status_run_at", "status", "run_at"))
    id = Column(Integer, primary_key=True)
    kind = Column(String(40), nullable=False)  # cart_reminder
    key = Column(String(200), nullable=False)
    run_at = Column(DateTime, nullable=False)
    payload = Column(JSON, nullable=False, default=dict)
    status = Column(String(10), nullable=False, default="pending")
    """``pending`` -> ``claimed`` (one server took it) -> ``done``, ``skipped`` or ``failed``;
    or back to ``pending`` at a later ``run_at`` when its holder postpones it."""
    claimed_by = Column(String(100), nullable=True)
    claimed_at = Column(DateTime, nullable=True)
    finished_at = Column(DateTime, nullable=True)
    detail = Column(Text, nullable=False, default="")
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ReminderOptOut(Base):
    """A customer who said "stop reminders" (on any channel): no proactive message again."""

    __tablename__ = "reminder_opt_outs"
    customer_id = Column(Integer, ForeignKey("customers.id"), primary_key=True,
                         autoincrement=False)
    at = Column(DateTime, nullable=False, default=utcnow)


class StaffSetting(Base):
    """A setting staff change in the staff console (reminder delay and text...), as JSON."""

    __tablename__ = "staff_settings"
    name = Column(String(60), primary_key=True)
    value = Column(JSON, nullable=False)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class SavedReply(Base):
    """A canned answer agents insert in the inbox; ``{first_name}`` and ``{order_number}``
    are filled from the conversation (:mod:`bot.support.saved_replies`)."""

    __tablename__ = "saved_replies"
    id = Column(Integer, primary_key=True)
    title = Column(String(100), nullable=False, unique=True)
    body = Column(Text, nullable=False)
    created_by = Column(Integer, ForeignKey("agents.id"), nullable=True)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ConversationEvent(Base):
    """A conversation event as Rasa's event broker published it (RabbitMQ, production
    profile), stored by the consumer (:mod:`bot.runtime.event_consumer`) for analytics.

    Delivery is at least once, so the row is keyed on ``event_key``, the SHA-256 of the
    event's canonical JSON: a redelivered message inserts nothing (Rasa 3.6 events carry
    no id of their own; their float ``timestamp`` tells two otherwise equal events apart).
    """

    __tablename__ = "conversation_events"
    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_key = Column(String(64), nullable=False, unique=True)
    sender_id = Column(String(255), nullable=False, index=True)
    type_name = Column(String(64), nullable=False)
    timestamp = Column(Float, nullable=True)
    """Unix time (seconds) of the event, as Rasa stamped it."""
    data = Column(Text, nullable=False)
    """The event as published (JSON, already redacted by the publishing tracker store)."""
    received_at = Column(DateTime, nullable=False, default=utcnow)


class EventOutboxMessage(Base):
    """A conversation event's broker message, written by the tracker store in the same
    transaction as the event and deleted once RabbitMQ confirmed it
    (:mod:`bot.dialogue.event_outbox`): what a killed server or a RabbitMQ outage has not
    yet published."""

    __tablename__ = "event_outbox"
    id = Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    body = Column(Text, nullable=False)
    """The message as published: JSON of ``{"sender_id": ..., **event}``, redacted."""
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
