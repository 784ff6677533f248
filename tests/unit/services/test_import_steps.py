import threading
from datetime import UTC, datetime

from sfsync.domain.model import Contact, SalesforceId, SyncCursor
from sfsync.services.import_steps import RandomIds, furthest

EARLY = datetime(2026, 1, 1, tzinfo=UTC)
LATE = datetime(2026, 6, 1, tzinfo=UTC)


def contact(contact_id: str, stamp: datetime | None) -> Contact:
    return Contact(id=SalesforceId(contact_id), email=None, system_modstamp=stamp)


def test_furthest_is_the_largest_stamp_then_the_largest_id():
    page = [contact("003B", LATE), contact("003C", EARLY), contact("003A", LATE)]
    assert furthest(page) == SyncCursor(LATE, SalesforceId("003B"))


def test_furthest_skips_contacts_without_a_stamp():
    assert furthest([contact("003Z", None), contact("003A", EARLY)]) == SyncCursor(
        EARLY, SalesforceId("003A")
    )
    assert furthest([contact("003Z", None), contact("003Y", None)]) is None
    assert furthest([contact("003Z", None)]) is None
    assert furthest([]) is None


def test_random_ids_are_unique_across_threads_and_refills():
    new_id = RandomIds("cand_")
    made: list[str] = []

    def take() -> None:
        made.extend(new_id() for _ in range(3000))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 12000
    assert all(i.startswith("cand_") and len(i) == 37 for i in made)
