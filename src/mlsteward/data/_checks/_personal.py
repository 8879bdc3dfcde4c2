"""Personal data: columns that look like emails, phone numbers, national ids or names.

Two kinds of evidence, both recorded:

- **values**: a seeded sample of up to ``sample_rows`` non-null values of each text column
  is matched against patterns (vectorised Arrow regex); a column is tagged when at least
  ``min_share`` of the sample matches;
- **name**: a column whose name says what it holds (``email``, ``phone``, ``ssn``,
  ``first_name``, ``date_of_birth``, ``address``...) is tagged whatever its type.

Tags are ``personal:email``, ``personal:phone``, ``personal:national_id``,
``personal:name``, ``personal:date_of_birth`` and ``personal:address``. Patterns find
likely personal data; they prove nothing either way (a free-text column may hide some).
"""

from __future__ import annotations

import re
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from mlsteward.data._checks._context import CheckContext, result
from mlsteward.data._checks._spec import PersonalDataCheck
from mlsteward.data._records import CheckResult

__all__ = ["NAME_HINTS", "VALUE_PATTERNS", "check_personal_data", "scan_column"]

VALUE_PATTERNS: Final[dict[str, str]] = {
    "email": r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$",
    "phone": r"^(\+\d{1,3}[ .-]?)?(\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}$",
    # US social security number, with the ranges that are never issued excluded
    "national_id": r"^(?:[0-8]\d\d)-\d\d-\d{4}$",
}
_SSN_INVALID: Final = r"^(000|666)-|-00-|-0000$"
_NAME_SHAPE: Final = r"^[A-Z][a-z]+(?:[ '-][A-Z][a-z]+)*(?: [A-Z]\.)?(?: [A-Z][a-z'-]+)+$"

# Common given names (US census and SSA lists): a capitalised "First Last" value counts as
# a person's name only when its first word is one of these, which keeps place names
# ("New York") and products out.
_FIRST_NAMES: Final = frozenset(
    """james john robert michael william david richard joseph thomas charles christopher
    daniel matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george
    timothy ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry
    justin scott brandon benjamin samuel gregory alexander frank patrick raymond jack dennis
    jerry tyler aaron jose adam nathan henry douglas zachary peter kyle noah ethan jeremy
    walter christian keith roger terry austin sean gerald carl harold dylan arthur lawrence
    jordan jesse bryan billy bruce gabriel joe logan alan juan albert willie elijah wayne
    randy vincent mason roy ralph bobby russell bradley philip eugene mary patricia jennifer
    linda elizabeth barbara susan jessica sarah karen lisa nancy betty sandra margaret
    ashley kimberly emily donna michelle carol amanda melissa deborah stephanie dorothy
    rebecca sharon laura cynthia amy kathleen angela shirley brenda emma anna pamela nicole
    samantha katherine christine helen debra rachel carolyn janet maria catherine heather
    diane olivia julie joyce victoria ruth virginia lauren kelly christina joan evelyn
    judith andrea hannah megan cheryl jacqueline martha madison teresa gloria sara janice
    ann kathryn abigail sophia frances jean alice judy isabella julia grace amber denise
    danielle marilyn beverly charlotte natalie theresa diana brittany doris kayla alexis
    lori marie ava mia liam lucas oliver amelia harper ella chloe lily zoe""".split()  # noqa: SIM905 - a word list reads best as text
)

NAME_HINTS: Final[dict[str, str]] = {
    "email": r"e[-_]?mail",
    "phone": r"phone|mobile|(^|_)tel(_|$)|cell(_|$)|fax",
    "national_id": r"(^|_)ssn($|_)|social_?security|national_?id|passport|tax_?id|(^|_)nin($|_)",
    "name": r"(^|_)(first|last|given|family|full|middle|sur)_?name$|^name$|^surname$|forename|person_?name|customer_?name|patient_?name",
    "date_of_birth": r"(^|_)(dob|birth_?date|date_?of_?birth|birthday)($|_)",
    "address": r"street|(^|_)address($|_)|postal_?address|home_?address",
}


def scan_column(values: pa.Array) -> dict[str, float]:
    """Share of ``values`` (strings) matching each personal-data pattern."""
    n = len(values)
    if n == 0:
        return {}
    stripped = pc.utf8_trim_whitespace(values)
    shares: dict[str, float] = {}
    for kind, pattern in VALUE_PATTERNS.items():
        match = pc.match_substring_regex(stripped, pattern)
        if kind == "national_id":
            match = pc.and_(match, pc.invert(pc.match_substring_regex(stripped, _SSN_INVALID)))
        shares[kind] = (pc.sum(match).as_py() or 0) / n
    shaped = pc.match_substring_regex(stripped, _NAME_SHAPE)
    first = pc.utf8_lower(pc.extract_regex(stripped, r"^(?P<first>[A-Za-z]+)").field("first"))
    known = pc.is_in(first, value_set=pa.array(sorted(_FIRST_NAMES)))
    shares["name"] = (pc.sum(pc.and_(shaped, pc.fill_null(known, False))).as_py() or 0) / n
    return shares


def _name_hints(column: str) -> list[str]:
    lowered = column.lower()
    return [kind for kind, pattern in NAME_HINTS.items() if re.search(pattern, lowered)]


def _strength(tags: dict[str, Any]) -> float:
    """How strongly a column looks personal: the largest share of sampled values matching
    a pattern, 1.0 when its name says so."""
    return max(1.0 if t["evidence"] == "column name" else float(t["share"]) for t in tags.values())


def check_personal_data(check: PersonalDataCheck, ctx: CheckContext) -> CheckResult:
    columns = check.columns if check.columns is not None else ctx.version.columns
    ctx.require_columns(list(columns), "columns")
    textual = [c for c in columns if pa.types.is_string(ctx.data.arrow_type(c))]
    samples = ctx.data.sample_present(textual, check.sample_rows) if textual else {}
    found: dict[str, dict[str, Any]] = {}
    for name in columns:
        tags: dict[str, Any] = {}
        for kind in _name_hints(name):
            tags[f"personal:{kind}"] = {"evidence": "column name"}
        if name in samples:
            sample = samples[name]
            for kind, share in scan_column(sample).items():
                if share >= check.min_share:
                    tag = tags.setdefault(f"personal:{kind}", {})
                    tag.update({"evidence": "values", "share": share, "sampled": len(sample)})
        if tags:
            found[name] = tags
    details = {
        "columns": found,
        "record_tags": check.record_tags,
        "measured": {c: _strength(tags) for c, tags in found.items()},
        "threshold": check.min_share,
    }
    if not found:
        return result(
            check, "pass", f"No column of {len(columns)} looks like personal data.", details=details
        )
    listing = "; ".join(
        f"{c}: {', '.join(t.removeprefix('personal:') for t in tags)}" for c, tags in found.items()
    )
    return result(
        check,
        "fail",
        f"Likely personal data in {len(found)} column(s): {listing}. Recorded as compliance "
        "tags; confirm a lawful basis (consent) or drop/pseudonymise before training.",
        columns=list(found),
        details=details,
    )
