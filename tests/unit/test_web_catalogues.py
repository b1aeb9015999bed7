"""The web app's Vietnamese catalogues, one per area, are merged at start: a message id must read the same in all."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUES = Path(__file__).resolve().parents[2] / "services" / "web" / "locale" / "vi" / "LC_MESSAGES"


def test_each_message_id_has_one_translation_across_the_catalogues() -> None:
    found: dict[str, dict[str, str]] = {}
    for path in sorted(CATALOGUES.glob("*.po")):
        with path.open("rb") as file:
            for message in read_po(file):
                if message.id:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    found.setdefault(key, {})[path.name] = str(message.string)
    assert len(found) > 100  # the catalogues were read
    differing = {key: where for key, where in found.items() if len(set(where.values())) > 1}
    assert differing == {}, "a merged catalogue would keep only one of these"
