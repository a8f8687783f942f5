"""Refusals carry a code; each audience's catalogue words it, and nobody parses a message back."""
import re
from pathlib import Path

import pytest

from storage.projects import ProjectRejected
from storage.rejections import Problem
from wording.catalogue import Catalogue
from wording.operators import OPERATORS
from wording.staff import STAFF, for_staff

ROOT = Path(__file__).resolve().parents[1]


def test_a_refusal_reads_as_the_operators_text_and_carries_its_code_and_field():
    refusal = ProjectRejected("end_before_start", field="end")
    assert (refusal.code, refusal.field, str(refusal)) == (
        "project.end_before_start", "end", "end: must not be before the start")
    assert for_staff(refusal) == "结束日期不能早于开始日期。"


def test_a_problem_in_a_file_is_text_for_the_cli_and_masked_chinese_for_staff():
    problem = Problem("roster.mobile_again", 4, mobile="13800138000", first=2)
    assert problem == "line 4: mobile 13800138000 appears again (line 2)"
    assert for_staff(problem) == "第 4 行：手机 138****8000 与第 2 行重复"


def test_a_code_the_staff_catalogue_lacks_falls_back_to_what_the_page_chose():
    from storage.events import EventRejected

    refusal = EventRejected("already_ended", event_id=3)
    assert for_staff(refusal, otherwise="无法操作") == "无法操作"
    assert for_staff(refusal) == "event 3 has already ended"


def test_every_staff_code_exists_for_operators_too():
    assert set(STAFF.texts) <= set(OPERATORS.texts)


def test_every_code_a_service_raises_has_an_operators_text():
    raised = set()
    for path in (ROOT / "storage").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for domain_class, domain in (("ProjectRejected", "project"), ("EventRejected", "event"),
                                     ("OpinionRejected", "opinion"), ("TooManyOpinions", "opinion"),
                                     ("StaffRejected", "staff"), ("AnnouncementRejected", "announcement"),
                                     ("RosterError", "roster")):
            raised |= {f"{domain}.{code}" for code in re.findall(rf'{domain_class}\("(\w+)"', text)}
        raised |= set(re.findall(r'Problem\("([\w.]+)"', text))
    assert raised and raised <= set(OPERATORS.texts), sorted(raised - set(OPERATORS.texts))


def test_an_unknown_code_is_a_clear_error():
    with pytest.raises(KeyError, match="staff catalogue has no text for 'x.y'"):
        Catalogue("staff", {}).say("x.y")


def test_a_resident_reads_why_an_opinion_was_not_taken_in_chinese():
    from storage import opinions
    from wording.residents import for_residents

    with pytest.raises(opinions.OpinionRejected) as refused:
        opinions.check_content("x" * (opinions.MAX_CONTENT + 1))
    assert for_residents(refused.value) == f"内容有 {opinions.MAX_CONTENT + 1} 字，超过了 {opinions.MAX_CONTENT} 字"


@pytest.mark.parametrize("prefix, outcomes, answered_elsewhere", [
    ("event.signup", "SignupOutcome", {"confirmed", "waitlisted", "already", "full"}),
    ("project.claim", "ClaimOutcome", {"claimed"}),
    ("project.progress", "ProgressOutcome", {"recorded"}),
    ("project.rating", "RatingOutcome", set()),
])
def test_every_outcome_a_resident_can_meet_has_a_reply(prefix, outcomes, answered_elsewhere):
    from storage import events, projects
    from wording.residents import RESIDENTS

    enum = getattr(events, outcomes, None) or getattr(projects, outcomes)
    assert {o.value for o in enum} - answered_elsewhere <= {c.rsplit(".", 1)[1] for c in RESIDENTS.texts
                                                          if c.startswith(prefix + ".")}


def test_refusals_survive_a_copy_and_a_pickle():
    import copy
    import pickle

    refusal = ProjectRejected("end_before_start", field="end")
    for again in (copy.copy(refusal), pickle.loads(pickle.dumps(refusal))):
        assert (type(again), again.code, again.field, str(again)) == (
            ProjectRejected, refusal.code, "end", str(refusal))
    problem = Problem("roster.no_members", 3)
    assert pickle.loads(pickle.dumps(problem)) == problem and copy.copy(problem).line == 3
