"""Every lifecycle is a table: typed states, the transitions allowed, one label each."""
import pytest

from storage.delivery_states import DELIVERY
from storage.event_states import EVENT, REGISTRATION
from storage.lifecycle import InvalidTransition, Kind, Lifecycle, State
from storage.opinion_states import LIFECYCLE as OPINION
from storage.project_states import OPEN_STATES, PROJECT

ALL = [OPINION, EVENT, REGISTRATION, PROJECT, DELIVERY]


@pytest.mark.parametrize("lifecycle", ALL, ids=lambda c: c.name)
def test_every_state_has_a_chinese_label_and_a_kind(lifecycle):
    for state in lifecycle.states.values():
        assert state.label and not state.label.isascii()
        assert isinstance(state.kind, Kind)


@pytest.mark.parametrize("lifecycle", ALL, ids=lambda c: c.name)
def test_a_final_state_leads_nowhere_it_is_not_listed(lifecycle):
    for name, state in lifecycle.states.items():
        for other in lifecycle.states:
            if other in state.next:
                lifecycle.check(name, other)
            else:
                with pytest.raises(InvalidTransition):
                    lifecycle.check(name, other)


def test_a_table_naming_a_state_it_does_not_have_is_refused():
    with pytest.raises(ValueError, match="leads to unknown states"):
        Lifecycle("x", State("a", "甲", Kind.OPEN, frozenset({"b"})))


def test_a_project_is_claimable_while_open_or_in_progress_and_reads_in_chinese():
    assert OPEN_STATES == ("open", "in_progress")
    assert PROJECT.label("completed") == "已完成" and PROJECT.label("unheard_of") == "unheard_of"
    with pytest.raises(InvalidTransition, match="completed cannot become open; next states: none"):
        PROJECT.check("completed", "open")


def test_a_sent_template_message_may_still_fail_but_a_skipped_delivery_stays_skipped():
    DELIVERY.check("sent", "failed")
    with pytest.raises(InvalidTransition):
        DELIVERY.check("skipped", "pending")
