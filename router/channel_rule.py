"""Channel rules: the channel a complaint came in on (email, x, callcenter, 112)."""

from __future__ import annotations

from collections.abc import Iterable

from muara.domain import Suggestion
from muara.store.records import ComplaintRecord


class ChannelMatch:
    """Holds when the complaint came in on one of the channels."""

    def __init__(self, channels: Iterable[str]) -> None:
        self.channels = frozenset(channel.strip().casefold() for channel in channels)

    def matches(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> str | None:
        """Names the channel."""
        if complaint.channel.casefold() not in self.channels:
            return None
        return f"channel {complaint.channel}"
