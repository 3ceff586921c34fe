"""Comparing two glossary versions, and searching a version's entries (pure).

    changes = diff(old_doc, new_doc)
    changes.added, changes.removed, changes.changed  # entries matched by their key

Entries are matched by `GlossaryEntry.key`, the identity uploads are deduplicated on, so a term
whose translation changed shows as changed, not as one removal and one addition.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.glossary.model import GlossaryDocument, GlossaryEntry

FIELDS = ("translations", "case_sensitive", "do_not_translate", "forbidden", "note")


@dataclass(frozen=True)
class Change:
    old: GlossaryEntry
    new: GlossaryEntry
    fields: tuple[str, ...]  # which of FIELDS (and "term", for a change of case) differ
    languages: tuple[str, ...]  # the languages whose translation was added, removed or changed


@dataclass(frozen=True)
class GlossaryDiff:
    added: tuple[GlossaryEntry, ...]
    removed: tuple[GlossaryEntry, ...]
    changed: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(old: GlossaryDocument, new: GlossaryDocument) -> GlossaryDiff:
    before = {e.key: e for e in old.entries}
    after = {e.key: e for e in new.entries}
    changed = []
    for key in sorted(before.keys() & after.keys()):
        change = _compare(before[key], after[key])
        if change is not None:
            changed.append(change)
    return GlossaryDiff(
        added=tuple(after[k] for k in sorted(after.keys() - before.keys())),
        removed=tuple(before[k] for k in sorted(before.keys() - after.keys())),
        changed=tuple(changed),
    )


def _compare(old: GlossaryEntry, new: GlossaryEntry) -> Change | None:
    fields = [f for f in FIELDS if getattr(old, f) != getattr(new, f)]
    if old.term != new.term:
        fields.insert(0, "term")
    if not fields:
        return None
    langs = sorted(
        lang
        for lang in old.translations.keys() | new.translations.keys()
        if old.translations.get(lang) != new.translations.get(lang)
    )
    return Change(old, new, tuple(fields), tuple(langs))


def search(entries: tuple[GlossaryEntry, ...], query: str) -> list[GlossaryEntry]:
    """Entries whose term, a translation or the note contains `query`, ignoring case.

    Done here rather than in SQL: translations are a JSON column, and neither SQLite's LIKE nor
    its JSON text (ASCII-escaped) folds non-ASCII case; a version has at most
    GLOSSARY_MAX_ENTRIES entries.
    """
    needle = query.strip().casefold()
    if not needle:
        return list(entries)
    return [e for e in entries if needle in _haystack(e)]


def _haystack(entry: GlossaryEntry) -> str:
    parts = [entry.term, *entry.translations.values(), entry.note or ""]
    return "\n".join(parts).casefold()
