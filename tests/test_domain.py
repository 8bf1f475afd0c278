"""The transition table of DESIGN.md's flow."""

from __future__ import annotations

import pytest

from muara.domain import TRANSITIONS, IllegalTransitionError, State, check_transition

LEGAL = [
    (State.NEW, State.CLASSIFIED),
    (State.CLASSIFIED, State.ROUTED),
    (State.CLASSIFIED, State.REVIEW),
    (State.REVIEW, State.ROUTED),
    (State.ROUTED, State.EXPORTED),
    (State.EXPORTED, State.CLOSED),
    (State.ROUTED, State.EXPORT_FAILED),
    (State.EXPORT_FAILED, State.ROUTED),
    (State.NEW, State.QUARANTINED),
    (State.NEW, State.DUPLICATE),
    (State.CLASSIFIED, State.DISCARDED),
]
ILLEGAL = [
    (State.NEW, State.EXPORTED),
    (State.NEW, State.ROUTED),
    (State.REVIEW, State.EXPORTED),
    (State.CLOSED, State.NEW),
    (State.QUARANTINED, State.NEW),
    (State.EXPORTED, State.NEW),
]


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_moves_pass(current: State, target: State) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_illegal_moves_raise(current: State, target: State) -> None:
    with pytest.raises(IllegalTransitionError, match=f"{current} -> {target}"):
        check_transition(current, target)


def test_every_state_has_a_row_and_terminal_states_lead_nowhere() -> None:
    assert set(TRANSITIONS) == set(State)
    assert TRANSITIONS[State.CLOSED] == frozenset()
    assert TRANSITIONS[State.QUARANTINED] == frozenset()
