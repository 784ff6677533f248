"""No personal data or secrets in vendor mode: the same real `sfsync worker` process and the
same distinctive Contacts as test_no_personal_data.py, read through the vendor emulator.

The worker imports them through the vendor, waits out a 429 burst, meets vendor errors
whose text echoes record values (a 503 retried, a 400 refused), is fed bad messages, and has
a resync refused by a plan whose refusal echoes them too. No log byte, run row, dead letter
reason, sync.completed event or metric may hold those values, the vendor API key or the
linked account's token.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from sfsync.adapters.postgres.crypto import TokenCipher
from sfsync.adapters.rabbitmq.events import EventListener
from sfsync.adapters.salesforce.hosts import parse_origin
from sfsync.domain.model import AccountId, AccountSettings, AttributeMapping
from sfsync.domain.ports import VendorLink
from sfsync.entrypoints.bootstrap import Container, build, events_exchange
from sfsync.entrypoints.settings import Settings, queue_name
from sfsync.services.accounts import add_attribute, save_settings
from sfsync_emulator.harness import Emulator
from tests.e2e.conftest import key, poll, samples, scrape, send_raw
from tests.e2e.test_no_personal_data import (
    ADA,
    GRACE,
    MAPPINGS,
    WorkerProcess,
    _bad_messages,
    _leaks,
    _request,
    _rows,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CONTACTS = "/api/crm/v1/contacts"
ECHO = f"{GRACE['Email']} {GRACE['FirstName']} {GRACE['LastName']} {GRACE['Phone']}"


@pytest.fixture
def vendor_setup(
    migrated_database_url: str, amqp_url: str, queue_prefix: str, vendor_emulator: Emulator
) -> Iterator[tuple[Container, AccountId, float]]:
    """A container on a queue of its own, an account linked through the vendor, and the
    seeded Contacts in the vendor's copy (with the monotonic time of that copy's sync)."""
    access = vendor_emulator.vendor
    assert access is not None
    settings = Settings(
        database_url=migrated_database_url,
        amqp_url=amqp_url,
        encryption_keys=(TokenCipher.generate_key(),),
        queue_prefix=f"{queue_prefix}pv{secrets.token_hex(2)}",
        sf_client_id=vendor_emulator.client_id,
        sf_client_secret=vendor_emulator.client_secret,
        sf_redirect_uri=vendor_emulator.redirect_uri,
        sf_ca_bundle=vendor_emulator.ca_path,
        sf_allowed_origins=(parse_origin(vendor_emulator.base_url),),
    )
    container = build(settings, pool_size=2)
    emu = vendor_emulator.admin
    emu.reset(contacts=0)
    emu.clear_faults()
    emu.create_contact(**ADA)
    emu.create_contact(**GRACE)
    emu.vendor_sync()
    account = AccountId(f"acc_{secrets.token_hex(4)}")
    save_settings(container.uow(), AccountSettings(account, direct_api=False))
    for name, field in MAPPINGS.items():
        add_attribute(container.uow(), account, AttributeMapping(name, field))
    with container.uow() as uow:
        uow.vendor_links.save(VendorLink(account, access.account_token))
        uow.commit()
    try:
        yield container, account
    finally:
        emu.clear_faults()
        emu.reset(contacts=0)
        container.close()


def test_no_personal_data_or_secrets_in_vendor_mode(vendor_setup, vendor_emulator, tmp_path):
    container, account = vendor_setup
    settings = container.settings
    access = vendor_emulator.vendor
    assert access is not None
    emu = vendor_emulator.admin
    queue = queue_name(settings)
    worker = WorkerProcess(
        settings,
        tmp_path / "worker.log",
        "debug",
        SFSYNC_VENDOR_BASE_URL=access.base_url,
        SFSYNC_VENDOR_API_KEY=access.api_key,
        SFSYNC_VENDOR_CA_BUNDLE=vendor_emulator.ca_path or "",
        SFSYNC_VENDOR_MAX_AGE_MINUTES="0",  # every manual import asks for a resync
    )
    events: list[dict[str, Any]] = []
    try:
        poll(lambda: "worker.started" in worker.text(), 60, "worker start")
        exchange = events_exchange(settings)
        with EventListener(settings.amqp_url, "sync.completed", exchange) as listener:

            def sync(**fields: Any) -> dict[str, Any]:
                request = _request(account, **fields)
                send_raw(settings.amqp_url, queue, json.dumps(request).encode())
                event = listener.next_for(request["id"], wait=120)
                assert event is not None, f"no sync.completed for {fields}"
                events.append(event)
                return event

            # 1. a whole import through the vendor
            assert sync(full_resync=True)["status"] == "succeeded", events[-1]

            # 2. a 429 burst: the vendor's own rate, and throttles whose text echoes values
            emu.vendor_config(rate_per_minute=3, window_seconds=1)
            emu.add_fault(path=CONTACTS, status=429, retry_after=1, count=2, message=ECHO)
            throttled = sync(full_resync=True)
            assert throttled["status"] == "succeeded", throttled
            assert throttled["source"]["rate_limit_wait_seconds"] > 0
            emu.vendor_config(rate_per_minute=0)

            # 3. vendor errors echoing record values: a 503 retried, then a 400 refused
            emu.add_fault(path=CONTACTS, status=503, count=1, message=f"busy near {ECHO}")
            emu.add_fault(path=CONTACTS, status=400, count=1, message=f"bad filter {ECHO}")
            refused = sync(full_resync=True)
            assert refused["status"] == "failed", refused
            assert refused["errors"][-1]["code"] == "vendor_bad_request"

            # 4. bad messages carrying personal data
            bad = _bad_messages(account)
            send_raw(settings.amqp_url, queue, *bad)
            count = "SELECT count(*) FROM dead_letters WHERE queue = %s"
            poll(lambda: _rows(container, count, queue)[0] >= len(bad), 60, "dead letters")

            # 5. a manual import of a stale copy asks a resync; the plan refuses, echoing values
            emu.vendor_config(resync_allowed=False)
            emu.add_fault(path="/sync-status/resync", status=403, message=f"no, {ECHO}")
            stale = sync()
            assert stale["status"] == "succeeded", stale
            assert stale["source"]["resync"].startswith("refused: ")
        metrics = scrape(worker.port).text
    finally:
        worker.stop()
    log = worker.text()

    stored = _rows(
        container,
        "SELECT c::text FROM candidates c WHERE account_id = %s ORDER BY email",
        account,
    )
    assert len(stored) == 2 and "Thistlewick" in stored[0] + stored[1]
    assert "vendor.throttled" in log and "vendor.retry" in log
    assert "message.dead_lettered" in log
    counted = samples(metrics)
    assert counted[key("sfsync_runs_total", scope="import", status="failed")] == 1
    assert counted[key("sfsync_salesforce_calls_total", kind="GET vendor/contacts")] >= 3
    runs = _rows(container, "SELECT r::text FROM sync_runs r WHERE account_id = %s", account)
    assert len(runs) == len(events) == 4
    reasons = _rows(container, "SELECT reason FROM dead_letters WHERE queue = %s", queue)
    assert len(reasons) == len(bad)

    places = {
        "worker log": log,
        "sync_runs": "\n".join(runs),
        "dead_letters.reason": "\n".join(reasons),
        "sync.completed": "\n".join(json.dumps(e) for e in events),
        "metrics": metrics,
    }
    told = {"API key": access.api_key, "account token": access.account_token}
    leaks = [
        *(
            f"{where}: the vendor {what}"
            for what, value in told.items()
            for where, text in places.items()
            if value in text
        ),
        *(leak for where, text in places.items() for leak in _leaks(where, text)),
    ]
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:40])
