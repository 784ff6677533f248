"""Salesforce-style 15/18-character record ids."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_VALUE = {c: n for n, c in enumerate(ALPHABET)}
POD = "Dn0"  # instance/reserved characters after the key prefix

CONTACT = "003"
USER = "005"
ORG = "00D"
JOB = "750"
LOCATOR = "01g"


def checksum(id15: str) -> str:
    """The 3-char case-checksum suffix: one bit per upper-case char in each 5-char chunk."""
    out = []
    for start in (0, 5, 10):
        bits = 0
        for pos, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << pos
        out.append(_SUFFIX[bits])
    return "".join(out)


_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
_PAIR_BITS = [("A" <= a <= "Z") | ("A" <= b <= "Z") << 1 for a in ALPHABET for b in ALPHABET]
_HEADS: dict[str, tuple[str, str]] = {}


def make_id(prefix: str, number: int) -> str:
    """18-char id; base62 counter in ASCII order, so ids sort like their numbers."""
    if number < 62**5:  # fast path: the first four counter digits are zeros
        head = _HEADS.get(prefix)
        if head is None:
            head15 = prefix + POD + "0" * 9
            head = _HEADS[prefix] = (prefix + POD + "0000", checksum(head15)[:2])
        top, rest = divmod(number, 3844 * 3844)
        p1, p2 = divmod(rest, 3844)
        bits = ("A" <= ALPHABET[top] <= "Z") | _PAIR_BITS[p1] << 1 | _PAIR_BITS[p2] << 3
        return head[0] + ALPHABET[top] + _PAIRS[p1] + _PAIRS[p2] + head[1] + _SUFFIX[bits]
    digits = []
    for _ in range(9):
        number, rem = divmod(number, 62)
        digits.append(ALPHABET[rem])
    id15 = prefix + POD + "".join(reversed(digits))
    return id15 + checksum(id15)


def canonical(raw: str) -> str | None:
    """Normalise a 15- or 18-char id to its canonical 18-char form; None if malformed."""
    if len(raw) == 15:
        if any(c not in _VALUE for c in raw):
            return None
        return raw + checksum(raw)
    if len(raw) == 18:
        suffix = raw[15:].upper()
        chars = list(raw[:15].lower())
        for chunk, code in enumerate(suffix):
            bits = _SUFFIX.find(code)
            if bits < 0:
                return None
            for pos in range(5):
                if bits & (1 << pos):
                    chars[chunk * 5 + pos] = chars[chunk * 5 + pos].upper()
        id15 = "".join(chars)
        if any(c not in _VALUE for c in id15) or checksum(id15) != suffix:
            return None
        return id15 + suffix
    return None


def number_of(rid: str, prefix: str) -> int | None:
    """The counter encoded in an id of the given key prefix, or None."""
    cid = canonical(rid)
    if cid is None or not cid.startswith(prefix + POD):
        return None
    n = 0
    for ch in cid[6:15]:
        n = n * 62 + _VALUE[ch]
    return n
