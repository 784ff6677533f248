"""Assemble README.md from the sections under docs/ (run after editing any of them)."""

from pathlib import Path

DOCS = Path(__file__).parent
SECTIONS = [
    ("README.head.md", 0),
    ("README.tests.md", 0),
    ("domain-rules.md", 1),
    ("storage.md", 1),
    ("salesforce-adapter.md", 1),
    ("emulator.md", 0),
    ("benchmarks.md", 1),
    ("README.tail.md", 0),
]


def demoted(text: str, levels: int) -> str:
    return "\n".join("#" * levels + line if line.startswith("#") else line
                     for line in text.splitlines())


parts = [demoted((DOCS / name).read_text(), levels).strip() for name, levels in SECTIONS]
(DOCS.parent / "README.md").write_text("\n\n".join(parts) + "\n")
