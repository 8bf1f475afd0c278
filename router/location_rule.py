"""Location rules: the kecamatan or kelurahan a complaint is in.

The place is the channel's metadata (`district`/`subdistrict`) where it has any, else the place
names found in the text against the region's gazetteer (`classifier.gazetteer_path`), exactly as
the classifier resolves a local office (`classify.location.locate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from muara.classify.location import Gazetteer, Place, fold, locate
from muara.domain import Suggestion
from muara.router.keyword import searched_text
from muara.store.records import ComplaintRecord


def place_of(complaint: ComplaintRecord, gazetteer: Gazetteer | None) -> Place:
    """Where the complaint is, as far as its channel and the gazetteer tell."""
    given = None
    if complaint.district or complaint.subdistrict:
        given = Place(complaint.district or None, complaint.subdistrict or None)
    return locate(given, searched_text(complaint), gazetteer)


class LocationMatch:
    """Holds when the complaint is in one of the districts or one of the subdistricts.

    Names compare folded (case, spaces and punctuation ignored): "Karang Pilang" is
    "karang-pilang".
    """

    def __init__(
        self,
        districts: Iterable[str] = (),
        subdistricts: Iterable[str] = (),
        gazetteer: Callable[[], Gazetteer | None] = lambda: None,
    ) -> None:
        self.districts = frozenset(fold(name) for name in districts)
        self.subdistricts = frozenset(fold(name) for name in subdistricts)
        self.gazetteer = gazetteer

    def matches(self, complaint: ComplaintRecord, suggestion: Suggestion | None) -> str | None:
        """Names the place (a place name is not personal data; the address is never read)."""
        place = place_of(complaint, self.gazetteer())
        if place.subdistrict and fold(place.subdistrict) in self.subdistricts:
            return f"subdistrict {place.subdistrict}"
        if place.district and fold(place.district) in self.districts:
            return f"district {place.district}"
        return None
