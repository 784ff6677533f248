"""The vendor emulator, driven by the vendor's official client (MergePythonClient) unchanged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from merge import Merge
from merge.core.api_error import ApiError

from sfsync_emulator.harness import Emulator, run_emulator

NO_RETRY = {"max_retries": 0}


def _client(emu: Emulator, api_key: str | None = None, token: str | None = None) -> Merge:
    access = emu.vendor
    assert access is not None
    return Merge(
        base_url=access.base_url,
        api_key=api_key or access.api_key,
        account_token=token or access.account_token,
        httpx_client=httpx.Client(verify=emu.ssl_context(), timeout=30),
    )


@pytest.fixture
def vendor(vendor_org: Emulator) -> Emulator:
    return vendor_org


@pytest.fixture
def merge(vendor: Emulator) -> Iterator[Merge]:
    yield _client(vendor)


def _all(merge: Merge, **params) -> list:
    """Every Contact, following `next` cursors; asserts each page's size."""
    out, cursor = [], None
    while True:
        page = merge.crm.contacts.list(cursor=cursor, **params)
        assert len(page.results) <= params.get("page_size", 100)
        out += page.results
        cursor = page.next
        if cursor is None:
            return out


def test_lists_every_contact_across_pages_by_cursor(vendor: Emulator, merge: Merge) -> None:
    first = merge.crm.contacts.list(page_size=120)
    assert len(first.results) == 100 and first.previous is None  # at most 100 a page
    contacts = _all(merge, page_size=70)
    assert len(contacts) == 300
    assert len({c.id for c in contacts}) == 300
    c = contacts[0]
    sf = vendor.admin.get_contact(c.remote_id)
    assert (c.first_name, c.last_name) == (sf["FirstName"], sf["LastName"])
    emails = [e.email_address for e in c.email_addresses]
    assert emails == ([sf["Email"]] if sf["Email"] else [])
    assert c.remote_was_deleted is False and c.remote_data is None
    created = datetime.strptime(sf["CreatedDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert c.remote_created_at == created and c.created_at == c.modified_at
    assert c.field_mappings == {
        "organization_defined_targets": {},
        "linked_account_defined_targets": {},
    }
    second = merge.crm.contacts.list(page_size=70, cursor=first.next)
    back = merge.crm.contacts.list(page_size=70, cursor=second.previous)
    assert [x.id for x in back.results] == [x.id for x in contacts[30:100]]
    assert merge.crm.contacts.retrieve(c.id).remote_id == c.remote_id


def test_filters(vendor: Emulator, merge: Merge) -> None:
    contacts = _all(merge)
    target = next(c for c in contacts if c.email_addresses)
    email = target.email_addresses[0].email_address
    by_email = merge.crm.contacts.list(email_addresses=f"nobody@example.org,{email.upper()}")
    assert [c.id for c in by_email.results] == [target.id]
    by_remote = merge.crm.contacts.list(remote_id=target.remote_id)
    assert [c.id for c in by_remote.results] == [target.id]
    later = contacts[-1].modified_at + timedelta(milliseconds=1)
    assert merge.crm.contacts.list(modified_after=later).results == []
    before = merge.crm.contacts.list(modified_before=later, page_size=5)
    assert len(before.results) == 5
    with_fields = merge.crm.contacts.list(remote_id=target.remote_id, include_remote_fields=True)
    remote = with_fields.results[0].remote_fields
    values = {f.remote_field_class.remote_key_name: f.value for f in remote}
    assert values["Email"] == email and values["Id"] == target.remote_id
    assert target.remote_fields is None


def test_bad_parameters_are_drf_errors(vendor: Emulator, merge: Merge) -> None:
    with pytest.raises(ApiError) as cursor:
        merge.crm.contacts.list(cursor="not-a-cursor", request_options=NO_RETRY)
    assert (cursor.value.status_code, cursor.value.body) == (404, {"detail": "Invalid cursor"})
    access = vendor.vendor
    assert access is not None
    raw = httpx.get(
        f"{access.base_url}/crm/v1/contacts",
        params={"modified_after": "yesterday"},
        headers={
            "Authorization": f"Bearer {access.api_key}",
            "X-Account-Token": access.account_token,
        },
        verify=vendor.ssl_context(),
    )
    assert raw.status_code == 400
    assert raw.json() == {"modified_after": ["Enter a valid date/time."]}
    with pytest.raises(httpx.HTTPStatusError):
        vendor.admin.vendor_config(rate_per_minute="fast")


def test_remote_field_classes_are_the_contact_fields(vendor: Emulator, merge: Merge) -> None:
    vendor.admin.add_field("Shoe_Size__c", "double", precision=4, scale=1)
    classes, cursor = [], None
    while True:
        page = merge.crm.contacts.remote_field_classes_list(page_size=40, cursor=cursor)
        classes += page.results
        cursor = page.next
        if cursor is None:
            break
    by_name = {c.remote_key_name: c for c in classes}
    assert by_name["Shoe_Size__c"].is_custom and by_name["Shoe_Size__c"].field_type == "number"
    assert by_name["Email"].field_format == "email" and by_name["Email"].is_common_model_field
    assert by_name["HasOptedOutOfEmail"].field_type == "bool"
    assert [c.value for c in by_name["Salutation"].field_choices][0] == "Mr."
    hobbies = by_name["Hobbies__c"]
    assert hobbies.field_type == "list" and hobbies.item_schema.item_choices


def test_sync_status_and_resync(vendor: Emulator, merge: Merge) -> None:
    [status] = merge.crm.sync_status.list().results
    assert (status.model_name, status.model_id) == ("Contact", "crm.Contact")
    assert status.last_sync_result == "DONE" and status.status == "DONE"
    assert status.is_initial_sync and status.last_sync_finished >= status.last_sync_start
    assert status.next_sync_start > status.last_sync_start
    [after] = merge.crm.force_resync.sync_status_resync_create()
    assert after.last_sync_start > status.last_sync_start and not after.is_initial_sync
    vendor.admin.vendor_config(resync_allowed=False)
    with pytest.raises(ApiError) as refused:
        merge.crm.force_resync.sync_status_resync_create()
    assert refused.value.status_code == 403 and "plan" in refused.value.body["detail"]


def test_an_edit_is_invisible_until_the_vendor_syncs(vendor: Emulator, merge: Merge) -> None:
    before = _all(merge)[5]
    vendor.admin.update_contact(before.remote_id, FirstName="Renamed", Email="new@example.org")
    stale = merge.crm.contacts.list(remote_id=before.remote_id).results[0]
    assert stale.first_name == before.first_name and stale.modified_at == before.modified_at
    assert vendor.admin.vendor_sync() == {"syncs": 2, "created": 0, "updated": 1, "deleted": 0}
    fresh = merge.crm.contacts.list(modified_after=before.modified_at).results
    assert [c.remote_id for c in fresh] == [before.remote_id]
    assert fresh[0].first_name == "Renamed" and fresh[0].modified_at > before.modified_at
    assert fresh[0].email_addresses[0].email_address == "new@example.org"
    assert fresh[0].id == before.id and fresh[0].created_at == before.created_at


def test_a_touch_without_a_change_does_not_move_modified_at(vendor: Emulator, merge: Merge) -> None:
    c = _all(merge)[0]
    vendor.admin.update_contact(c.remote_id, FirstName=c.first_name)
    assert vendor.admin.vendor_sync()["updated"] == 0


def test_created_contacts_appear_after_a_sync(vendor: Emulator, merge: Merge) -> None:
    rid = vendor.admin.create_contact(LastName="New", Email="fresh@example.org")
    assert merge.crm.contacts.list(remote_id=rid).results == []
    vendor.admin.vendor_sync()
    [c] = merge.crm.contacts.list(email_addresses="fresh@example.org").results
    assert c.remote_id == rid and c.created_at == c.modified_at


def test_deletes_flip_remote_was_deleted_on_the_nth_sync(vendor: Emulator, merge: Merge) -> None:
    vendor.admin.vendor_config(delete_every=3)
    soft, hard = (c.remote_id for c in _all(merge)[:2])
    vendor.admin.delete_contact(soft)
    vendor.admin.delete_contact(hard, hard=True)
    assert vendor.admin.vendor_sync()["deleted"] == 0  # sync 2
    assert len(merge.crm.contacts.list(remote_id=soft).results) == 1
    assert vendor.admin.vendor_sync()["deleted"] == 2  # sync 3
    assert merge.crm.contacts.list(remote_id=soft).results == []
    [gone] = merge.crm.contacts.list(remote_id=hard, include_deleted_data=True).results
    assert gone.remote_was_deleted
    assert len(_all(merge)) == 298 and len(_all(merge, include_deleted_data=True)) == 300


def test_an_undelete_is_seen_as_a_change(vendor: Emulator, merge: Merge) -> None:
    rid = _all(merge)[0].remote_id
    vendor.admin.delete_contact(rid)
    vendor.admin.vendor_sync()
    vendor.admin.undelete_contact(rid)
    vendor.admin.vendor_sync()
    [c] = merge.crm.contacts.list(remote_id=rid).results
    assert c.remote_was_deleted is False


def test_remote_data_is_stale_but_remote_fields_are_not(vendor: Emulator, merge: Merge) -> None:
    rid = _all(merge)[0].remote_id
    vendor.admin.update_contact(rid, Department="Research")
    vendor.admin.vendor_sync()
    [c] = merge.crm.contacts.list(
        remote_id=rid, include_remote_fields=True, include_remote_data=True
    ).results
    values = {f.remote_field_class.remote_key_name: f.value for f in c.remote_fields}
    assert values["Department"] == "Research"
    assert c.remote_data[0].data["Department"] != "Research"


def test_field_mappings(vendor: Emulator, merge: Merge) -> None:
    vendor.admin.vendor_config(field_mappings={"department": "Department"})
    rid = _all(merge)[0].remote_id
    vendor.admin.update_contact(rid, Department="Chemistry")
    vendor.admin.vendor_sync()
    [c] = merge.crm.contacts.list(remote_id=rid).results
    assert c.field_mappings["organization_defined_targets"] == {"department": "Chemistry"}


def test_auth_failures_are_401_with_a_detail(vendor: Emulator) -> None:
    for client in (_client(vendor, api_key="wrong"), _client(vendor, token="wrong")):
        with pytest.raises(ApiError) as err:
            client.crm.contacts.list(request_options=NO_RETRY)
        assert err.value.status_code == 401 and "detail" in err.value.body
    access = vendor.vendor
    assert access is not None
    bare = httpx.get(f"{access.base_url}/crm/v1/contacts", verify=vendor.ssl_context())
    assert bare.status_code == 401
    assert bare.json() == {"detail": "Authentication credentials were not provided."}


def test_delete_account_unlinks_the_token(vendor: Emulator, merge: Merge) -> None:
    merge.crm.delete_account.delete()
    with pytest.raises(ApiError) as err:
        merge.crm.contacts.list(request_options=NO_RETRY)
    assert err.value.status_code == 401


def test_rate_limit_answers_429_with_retry_after(vendor: Emulator, merge: Merge) -> None:
    vendor.admin.vendor_config(rate_per_minute=3)
    for _ in range(3):
        merge.crm.sync_status.list(request_options=NO_RETRY)
    with pytest.raises(ApiError) as err:
        merge.crm.contacts.list(request_options=NO_RETRY)
    assert err.value.status_code == 429
    assert 1 <= int(err.value.headers["retry-after"]) <= 60
    assert "throttled" in err.value.body["detail"]


def test_the_client_waits_out_a_short_retry_after(vendor: Emulator, merge: Merge) -> None:
    vendor.admin.vendor_config(rate_per_minute=2, window_seconds=1)
    started = time.monotonic()
    for _ in range(3):  # the third waits for the window (the client's own retry)
        merge.crm.sync_status.list()
    assert 0.5 < time.monotonic() - started < 5
    throttled = [r for r in vendor.admin.requests() if r["status"] == 429]
    assert len(throttled) == 1


def test_faults_are_drf_shaped(vendor: Emulator, merge: Merge) -> None:
    vendor.admin.add_fault(status=503, count=1, path="/crm/v1/contacts", retry_after=0)
    with pytest.raises(ApiError) as err:
        merge.crm.contacts.list(request_options=NO_RETRY)
    assert err.value.status_code == 503 and "detail" in err.value.body
    assert len(merge.crm.contacts.list(page_size=1).results) == 1


def test_admin_reset_restores_the_vendor(vendor: Emulator, merge: Merge) -> None:
    vendor.admin.vendor_config(rate_per_minute=1)
    vendor.admin.vendor_sync()
    vendor.admin.reset(300)
    assert vendor.admin.vendor_config()["rate_per_minute"] == 100
    [status] = merge.crm.sync_status.list().results
    assert status.is_initial_sync
    assert datetime.now(UTC) - status.last_sync_finished < timedelta(minutes=1)


def test_command_flags_set_the_vendor() -> None:
    args = ("--vendor", "--vendor-rate", "0", "--vendor-delete-every", "2")
    with run_emulator(contacts=10, extra_args=args) as emu:
        config = emu.admin.vendor_config()
        assert (config["rate_per_minute"], config["delete_every"]) == (0, 2)
        assert emu.vendor is not None and emu.vendor.base_url == emu.base_url + "/api"
    with run_emulator(contacts=10) as plain:
        assert plain.vendor is None
        response = httpx.get(f"{plain.base_url}/api/crm/v1/contacts", verify=plain.ssl_context())
        assert response.status_code == 404
