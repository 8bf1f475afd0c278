"""A reporter's identity as the desk shows it until a coordinator asks to see it (audited)."""

from __future__ import annotations

import re

_DIGIT = re.compile(r"\d")


def mask_name(name: str | None) -> str:
    """Initials only: "Budi Santoso" -> "B*** S***"."""
    if not name or not name.strip():
        return "-"
    return " ".join(f"{word[0]}***" for word in name.split())


def mask_contact(contact: str | None) -> str:
    """Enough to tell contacts apart, not to reach the person."""
    if not contact or not contact.strip():
        return "-"
    contact = contact.strip()
    if contact.startswith("@"):
        return f"@{contact[1:2]}***"
    if "@" in contact:
        local, _, domain = contact.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    digits = _DIGIT.findall(contact)
    if len(digits) < 4:
        return "***"
    keep = len(digits) - 3
    seen = 0
    masked = []
    for char in contact:
        if char.isdigit():
            seen += 1
            masked.append("*" if seen <= keep else char)
        else:
            masked.append(char)
    return "".join(masked)
