"""Retention: a customer whose accounts are all closed is forgotten once the policy's period has passed.

The store's active policy sets the period (`[retention] forget_after_days`,
engine.policy.RetentionRule); a policy without it forgets no one. Time comes
from the store, never the wall clock: an account's closing day is its
`AccountClosed`'s `occurred_at` in the account's time zone, and "today" is the
platform clock's latest closed business date, so a run decides the same
whenever it runs and a second one forgets nothing new. A closed account takes
no event that could reopen it (contract 1.1), so a closing is final. Each
forget is the request's (`operations.forget_held`): recorded with the admin
who ran the sweep and a reason naming retention, then the key deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from adapters.privacy.keyring import KeyRing
from adapters.privacy.keystore import SYSTEM_KEY_ID
from adapters.privacy.operations import Holdings, forget_held
from adapters.store.readers import PrivacyRecords
from engine.clock import PlatformClock
from engine.policy import RetentionRule
from events.inbound import AccountClosed, AccountOpened, load_object
from events.personal import is_sealed, sealed_key
from events.recorded import FACT_TOPIC, decode
from projections.decoding import RawNotification

_READ = (b'"AccountOpened"', b'"AccountClosed"')  # the only facts the sweep decodes


@dataclass
class Account:
    customer: str  # AccountOpened.customer_id as recorded: sealed (it names its key) or plain (before sealing)
    zone: ZoneInfo
    closed_on: date | None = None  # the local day of its AccountClosed


class Closings:
    """Each account's customer and closing day, and the platform clock, from the store's log in commit order."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.clock = PlatformClock()
        self.read = 0

    def add(self, notification: RawNotification) -> None:
        self.read += 1
        if notification.topic != FACT_TOPIC:
            self.clock.replay(decode(notification.state))  # a closed business date, or an admin's correction
            return
        if not any(word in notification.state for word in _READ):
            return
        fact = load_object(decode(notification.state)["fact"])
        account_id = notification.originator_id
        if isinstance(fact, AccountOpened):
            self.accounts[account_id] = Account(fact.data.customer_id, ZoneInfo(fact.data.timezone))
        elif isinstance(fact, AccountClosed) and account_id in self.accounts:
            account = self.accounts[account_id]
            account.closed_on = fact.occurred_at.astimezone(account.zone).date()


@dataclass
class Customer:
    """One customer's accounts, grouped by their data key."""

    key_id: str
    sealed: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    open: int = 0
    closed_on: date | None = None  # the latest closing among their accounts

    def holdings(self) -> Holdings:
        return Holdings(self.key_id, sorted(self.sealed), sorted(self.plain))


def customers(closings: Closings, key_of: Callable[[str], str | None]) -> list[Customer]:
    """Accounts grouped by the key of their customer: named by a sealed customer id, else looked up (`key_of`).

    An account recorded before sealing whose customer has no key holds nothing a key could forget: left out.
    """
    found: dict[str, Customer] = {}
    plain_keys: dict[str, str | None] = {}
    for account_id, account in sorted(closings.accounts.items()):
        key_id = sealed_key(account.customer)
        if key_id is None and not is_sealed(account.customer):
            if account.customer not in plain_keys:
                plain_keys[account.customer] = key_of(account.customer)
            key_id = plain_keys[account.customer]
        if key_id is None:
            continue  # forgotten on arrival, or plain without a key
        customer = found.setdefault(key_id, Customer(key_id))
        (customer.sealed if is_sealed(account.customer) else customer.plain).append(account_id)
        if account.closed_on is None:
            customer.open += 1
        elif customer.closed_on is None or account.closed_on > customer.closed_on:
            customer.closed_on = account.closed_on
    return list(found.values())


@dataclass
class Plan:
    """Who the sweep forgets: customers whose accounts are all closed, the latest before `before`."""

    business_date: date
    forget_after_days: int
    due: list[Customer]
    open: int  # customers with an account still open
    recent: int  # customers whose accounts are all closed, the latest too recently

    @property
    def before(self) -> date:
        """A customer is due when their latest closing lies before this day (more than the period ago)."""
        return date.fromordinal(self.business_date.toordinal() - self.forget_after_days)


def plan(found: Iterable[Customer], business_date: date, rule: RetentionRule) -> Plan:
    planned = Plan(business_date, rule.forget_after_days, [], 0, 0)
    for customer in found:
        if customer.open or customer.closed_on is None:
            planned.open += 1
        elif customer.closed_on < planned.before:
            planned.due.append(customer)
        else:
            planned.recent += 1
    planned.due.sort(key=lambda customer: customer.key_id)
    return planned


def due(keys: KeyRing, records: PrivacyRecords, rule: RetentionRule, progress: Callable[[str], None]) -> Plan | None:
    """Read the store's facts once and plan the sweep (None: no business date closed yet, nothing can be due)."""
    closings = Closings()
    for notification in records.facts_and_days():
        closings.add(notification)
        if closings.read % 100_000 == 0:
            progress(f"read {closings.read} stored events")
    today = closings.clock.business_date
    progress(f"read {closings.read} stored events: {len(closings.accounts)} accounts, business date {today}")
    if today is None:
        return None
    # no system key: no customer has a key either (a store written before sealing); a dry run creates none
    key_of = keys.find if keys.existing([SYSTEM_KEY_ID]) else _no_key
    return plan(customers(closings, key_of), today, rule)


def _no_key(_customer_id: str) -> None:
    return None


def reason(planned: Plan, customer: Customer, policy_version: str) -> str:
    return (
        f"retention: every account closed, the latest on {customer.closed_on}, more than "
        f"{planned.forget_after_days} days (policy {policy_version} [retention]) before the business date "
        f"{planned.business_date}"
    )


def sweep(
    keys: KeyRing,
    records: PrivacyRecords,
    planned: Plan,
    policy_version: str,
    actor: tuple[str, str],
    dry_run: bool,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Forget every due customer whose key still exists (one forgotten already is counted, not forgotten again)."""
    alive = keys.existing(customer.key_id for customer in planned.due)
    forgotten, already = [], 0
    for customer in planned.due:
        if customer.key_id not in alive:
            already += 1
            continue
        entry: dict[str, Any] = {
            "key_id": customer.key_id,
            "accounts": customer.holdings().accounts,
            "closed_on": customer.closed_on,
        }
        if not dry_run:
            name, key_id = actor
            done = forget_held(
                keys, records, customer.holdings(), name, key_id, reason(planned, customer, policy_version)
            )
            entry["recorded"], entry["key_deleted"] = done["recorded"], done["key_deleted"]
            if done["unsealed_accounts"]:
                entry["unsealed_accounts"] = done["unsealed_accounts"]  # their first facts keep plain values
            progress(f"forgot key {customer.key_id} ({len(entry['accounts'])} account(s), closed {customer.closed_on})")
        forgotten.append(entry)
    return {
        "dry_run": dry_run,
        "policy": policy_version,
        "forget_after_days": planned.forget_after_days,
        "business_date": planned.business_date,
        "closed_before": planned.before,
        ("would_forget" if dry_run else "forgotten"): forgotten,
        "already_forgotten": already,
        "with_open_accounts": planned.open,
        "closed_recently": planned.recent,
    }
