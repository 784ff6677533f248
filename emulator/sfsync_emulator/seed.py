"""Deterministic synthetic Contacts, derived lazily from (seed, index).

Seeding only draws a few random byte columns (one byte per row each), so 1M rows cost a
few MB and milliseconds; field values are computed from those bytes when read.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from attrs import define

from sfsync_emulator.fields import COLORS, HOBBIES
from sfsync_emulator.ids import CONTACT, USER, make_id

DAY_MS = 86_400_000
SPAN_MS = 90 * DAY_MS  # seeded SystemModstamps spread over the past 90 days
USER_ID = make_id(USER, 1)

FIRST = (
    "Ada",
    "Zoë",
    "Seán",
    "Björn",
    "Chloé",
    "José",
    "Åsa",
    "Renée",
    "Mary",
    "John",
    "Li",
    "Fatima",
    "Olu",
    "Ingrid",
    "D'Arcy",
    "Priya",
    "Tomás",
    "Noah",
    "Emma",
    "Yuki",
)
LAST = (
    "O'Brien",
    "Müller",
    "Smith",
    "García",
    "Nguyen",
    "D'Angelo",
    "Østergaard",
    "Kowalski",
    "Johnson",
    "Brown",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Okafor",
    "Schäfer",
    "Lopez",
    "Khan",
    "Ivanov",
    "Murphy",
    "Wójcik",
)
SALUTATIONS = (None, None, "Mr.", "Ms.", "Dr.", "Prof.", "Mrs.", "Mx.")
TITLES = (None, "Researcher", "Professor", "Postdoc", "PhD Student", "Lab Manager", "Engineer")
DEPTS = (None, "Biology", "Chemistry", "Physics", "Psychology", "Computer Science")
LEADS = (None, "Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
CITIES = (
    ("Dublin", "Leinster", "Ireland"),
    ("München", "Bayern", "Germany"),
    ("Paris", "Île-de-France", "France"),
    ("Boston", "MA", "United States"),
    ("Kraków", "Małopolskie", "Poland"),
    ("Osaka", "Osaka", "Japan"),
)
STREETS = ("Main St", "Church Rd", "Königstraße", "Rue de l'Église", "Elm Ave", "High St")
COLOR_POOL = (None, *COLORS)
DOMAINS = ("example.com", "uni.example.edu", "mail.example.org")
NOTES = (None, None, 'Met at "Expo", follow up', "Line one\nline two", "Prefers e-mail; café")
COLUMNS = (
    "first",
    "last",
    "sal",
    "mail",
    "phone",
    "job",
    "lead",
    "city",
    "birth",
    "color",
    "hobby",
    "age",
    "score",
    "gq",
    "isdel",
    "optout",
    "flags",
    "notes",
    "ref",
    "created",
)
_EPOCH_DAY = date(1950, 1, 1).toordinal()


LOCAL_FIRST = tuple(n.lower().replace(" ", "") for n in FIRST)
LOCAL_LAST = tuple(n.lower().replace(" ", "") for n in LAST)


@define
class Seed:
    n: int
    seed: int
    start_ms: int
    step_ms: int
    cols: dict[str, bytes]
    _derivers: dict[str, Callable[[int], Any]] | None = None

    @classmethod
    def generate(cls, n: int, seed: int, now_ms: int | None = None) -> Seed:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        end = (now_ms // 1000 - 3600) * 1000
        step = max(1000, (SPAN_MS // max(n, 1)) // 1000 * 1000)
        rng = random.Random(seed)
        cols = {name: rng.randbytes(n) for name in COLUMNS}
        return cls(n=n, seed=seed, start_ms=end - n * step, step_ms=step, cols=cols)

    def stamp(self, i: int) -> int:
        return self.start_ms + i * self.step_ms

    def first_index_at(self, ms: int) -> int:
        """Smallest i with stamp(i) >= ms (clamped to [0, n])."""
        i = -(-(ms - self.start_ms) // self.step_ms)
        return min(max(i, 0), self.n)

    def base_email(self, i: int) -> str:
        c = self.cols
        first, last = LOCAL_FIRST[c["first"][i] % 20], LOCAL_LAST[c["last"][i] % 20]
        return f"{first}.{last}{i}@{DOMAINS[i % 3]}"

    def derivers(self) -> dict[str, Callable[[int], Any]]:
        if self._derivers is None:
            self._derivers = _derivers(self)
        return self._derivers


def _day(offset: int) -> str:
    return date.fromordinal(_EPOCH_DAY + offset).isoformat()


def _derivers(s: Seed) -> dict[str, Callable[[int], Any]]:
    """One flat closure per field (speed matters: these run per row and field)."""
    (
        first,
        last,
        sal,
        mail,
        phone,
        job,
        lead,
        city,
        birth,
        color,
        hobby,
        age,
        score,
        gq,
        isdel,
        optout,
        flags,
        notes,
        ref,
        created,
    ) = (s.cols[k] for k in COLUMNS)
    start, step, base_email = s.start_ms, s.step_ms, s.base_email
    hobby_sets = [
        ";".join(h for k, h in enumerate(HOBBIES) if b & (1 << k)) or None for b in range(64)
    ]

    def email(i: int) -> str | None:
        m = mail[i]
        if m < 13:
            return None
        if m < 27 and i > 0:  # duplicate of a nearby row's email, half of them upper-cased
            e = base_email(max(0, i - 1 - (m - 13) // 2))
            return e.upper() if m % 2 else e
        return base_email(i)

    return {
        "IsDeleted": lambda i: False,
        "FirstName": lambda i: FIRST[first[i] % 20],
        "LastName": lambda i: LAST[last[i] % 20],
        "Name": lambda i: f"{FIRST[first[i] % 20]} {LAST[last[i] % 20]}",
        "Salutation": lambda i: SALUTATIONS[sal[i] % 8],
        "Email": email,
        "Phone": lambda i: None if phone[i] < 40 else f"+1 555 {i % 10_000_000:07d}",
        "MobilePhone": lambda i: None if phone[i] < 200 else f"+44 7700 {i % 1_000_000:06d}",
        "Title": lambda i: TITLES[job[i] % 7],
        "Department": lambda i: DEPTS[(job[i] >> 3) % 6],
        "LeadSource": lambda i: LEADS[lead[i] % 6],
        "MailingStreet": lambda i: f"{i % 997 + 1} {STREETS[city[i] % 6]}",
        "MailingCity": lambda i: CITIES[city[i] % 6][0],
        "MailingState": lambda i: CITIES[city[i] % 6][1],
        "MailingPostalCode": lambda i: str(10000 + i * 37 % 89999),
        "MailingCountry": lambda i: CITIES[city[i] % 6][2],
        "Birthdate": lambda i: None if birth[i] < 60 else _day(birth[i] * 73 + i % 50),
        "Description": lambda i: NOTES[notes[i] % 5],
        "OwnerId": lambda i: USER_ID,
        "HasOptedOutOfEmail": lambda i: optout[i] < 26,
        "DoNotCall": lambda i: bool(flags[i] & 2),
        "CreatedDate": lambda i: start + i * step - created[i] * 3_600_000,
        "CreatedById": lambda i: USER_ID,
        "LastModifiedDate": lambda i: start + i * step,
        "LastModifiedById": lambda i: USER_ID,
        "SystemModstamp": lambda i: start + i * step,
        "gq_import__c": lambda i: gq[i] < 77,
        "is_deleted__c": lambda i: isdel[i] < 13,
        "Favorite_Color__c": lambda i: COLOR_POOL[color[i] % 7],
        "Hobbies__c": lambda i: hobby_sets[hobby[i] & 63],
        "Age__c": lambda i: None if age[i] < 30 else float(18 + age[i] % 70),
        "Score__c": lambda i: (score[i] * 37 + i) % 10000 / 100,
        "Donation__c": lambda i: None if score[i] < 128 else score[i] * 2.5,
        "Completion__c": lambda i: float(score[i] % 101),
        "Signup_Date__c": lambda i: _day(20000 + created[i] * 7),
        "Last_Seen__c": lambda i: None if age[i] < 100 else start + i * step - age[i] * 60_000,
        "Newsletter__c": lambda i: bool(flags[i] & 1),
        "Notes__c": lambda i: NOTES[notes[i] % 5],
        "Alt_Email__c": lambda i: None if ref[i] < 200 else f"alt{i}@example.net",
        "Work_Phone__c": lambda i: None if flags[i] < 128 else f"+49 30 {i % 10_000_000:07d}",
        "Website__c": lambda i: None if flags[i] < 200 else f"https://example.org/~{i}",
        "Referred_By__c": lambda i: make_id(CONTACT, i // 2) if ref[i] >= 230 and i else None,
        "Nickname__c": lambda i: None if job[i] < 180 else FIRST[first[i] % 20][:3],
    }
