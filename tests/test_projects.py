"""Party members claim community projects and report progress in chat, staff close them, residents
rate them, and the public page discloses all of it. SQLite and PostgreSQL, with and without Redis."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from storage import projects
from storage.models import PartyMember, ProjectClaim
from tests.conftest import DATABASES


def _project(demo, title="老旧小区加装扶手", slots=2, **extra) -> int:
    spec = projects.ProjectSpec(title, "民生微实事", "为老旧楼栋加装楼梯扶手", None, "楼栋内高龄长者",
                                80, 12000.0, slots, "2026-12-01", "2027-01-31",
                                (("完成入户摸排", "2026-12-10"), ("扶手安装", "2027-01-20")),
                                **extra)
    return projects.create(demo.rt.db, spec, "staff:admin", demo.rt.now()).id


@pytest.mark.http
def test_a_member_claims_reports_staff_close_a_resident_rates_and_the_page_shows_it_all(demo, staff_cli):
    """Issue 7's done-when for projects, through the real webhook."""
    project_id = _project(demo)
    chat = demo.client()
    assert "认证成功" in chat.say("o_chen", "绑定 836215")["Content"]
    listed = chat.say("o_chen", "项目")["Content"]
    assert f"【{project_id}】" in listed and "老旧小区加装扶手" in listed and "还可认领 2 人" in listed
    claimed = chat.say("o_chen", f"认领 {project_id}")["Content"]
    assert "认领成功" in claimed and "5 分" in claimed
    assert "不用重复认领" in chat.say("o_chen", f"认领{project_id}")["Content"]
    reported = chat.say("o_chen", f"进展 {project_id} 入户走访20户，登记需要扶手的楼栋12栋")["Content"]
    assert "已记录" in reported and "2 分" in reported
    assert "已经记过了" in chat.say("o_chen", f"进展 {project_id} 下午又走访了5户")["Content"]
    assert "老旧小区加装扶手" in chat.say("o_chen", "我的项目")["Content"]

    assert "还没有完成" in chat.say("o_resident", f"评价 {project_id} 5 很实在")["Content"]
    assert staff_cli("projects", "milestone-done", str(project_id), "1").exit_code == 0
    closed = staff_cli("projects", "close", str(project_id), "--beneficiaries", "96", "--spent", "11350.5")
    assert closed.exit_code == 0, closed.output
    assert "谢谢您的评价" in chat.say("o_resident", f"评价 {project_id} 5 很实在，老人上下楼方便多了")["Content"]
    assert "请为项目" in chat.say("o_resident2", f"评价 {project_id}")["Content"]
    assert "谢谢您的评价" in chat.say("o_resident2", "4 不错")["Content"]
    assert "评价过" in chat.say("o_resident", f"评价 {project_id} 1")["Content"]

    with demo.rt.db.transaction() as s:
        assert s.scalar(select(PartyMember.points).where(PartyMember.name == "陈建华")) == 5 + 2 + 10
    page = requests.get(f"{demo.url}/projects/{project_id}", timeout=5).text
    for shown in ("老旧小区加装扶手", "楼栋内高龄长者", "80 人", "96 人（实际）", "12,000.00 元", "11,350.50 元",
                  "完成入户摸排", "已完成", "陈建华 · 罗湖社区第一党支部", "入户走访20户", "平均 4.5 星",
                  "老人上下楼方便多了"):
        assert shown in page, shown
    assert "13800138001" not in page and "o_resident" not in page
    assert f"/projects/{project_id}" in requests.get(f"{demo.url}/projects", timeout=5).text


def test_only_bound_members_claim_and_nobody_reports_on_anothers_project(demo):
    project_id = _project(demo, slots=1)
    chat = demo.client()
    assert "党员认证" in chat.say("o_nobody", f"认领 {project_id}")["Content"]
    chat.say("o_li", "绑定 402917")
    chat.say("o_wang", "绑定 571630")
    assert "认领成功" in chat.say("o_li", f"认领 {project_id}")["Content"]
    assert "名额已满" in chat.say("o_wang", f"认领 {project_id}")["Content"]
    assert "没有认领" in chat.say("o_wang", f"进展 {project_id} 我也去看了")["Content"]
    assert "没有编号为 9999" in chat.say("o_wang", "认领 9999")["Content"]
    projects.cancel(demo.rt.db, project_id, "staff:admin", demo.rt.now(), "资金未落实")
    other = _project(demo, "另一个项目", slots=3)
    projects.cancel(demo.rt.db, other, "staff:admin", demo.rt.now())
    assert "不能再认领" in chat.say("o_wang", f"认领 {other}")["Content"]
    with demo.rt.db.transaction() as s:
        assert len(s.scalars(select(ProjectClaim)).all()) == 1


@pytest.mark.storage(*DATABASES)
def test_fifty_members_race_for_two_places(demo):
    rt = demo.rt
    project_id = _project(demo, "社区应急志愿队", slots=2)
    with rt.db.transaction() as s:
        members = [PartyMember(name=f"党员{i}", mobile=f"139{i:08d}", branch="测试支部", role="党员", points=0,
                               openid=f"o_member_{i}") for i in range(50)]
        s.add_all(members)
        s.flush()
        ids = [m.id for m in members]
    points = projects.Points.from_config(rt.config.party)
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda m: projects.claim(rt.db, project_id, m, rt.now(), points).outcome, ids))
    assert outcomes.count("claimed") == 2 and outcomes.count("full") == 48
    with rt.db.transaction() as s:
        assert len(s.scalars(select(ProjectClaim).where(ProjectClaim.project_id == project_id)).all()) == 2
        assert sum(s.scalars(select(PartyMember.points).where(PartyMember.id.in_(ids)))) == 2 * points.claim


def test_staff_input_errors_are_named(demo, staff_cli):
    bad = staff_cli("projects", "create", "--title", "扶手", "--milestone", "摸排2026-12-10")
    assert bad.exit_code != 0 and "title@YYYY-MM-DD" in bad.output
    bad = staff_cli("projects", "create", "--title", "扶手", "--start", "2026-13-01")
    assert bad.exit_code != 0 and "expected a date" in bad.output
    made = staff_cli("projects", "create", "--title", "扶手", "--slots", "2", "--budget", "500")
    project_id = re.search(r"#(\d+)", made.output).group(1)
    assert staff_cli("projects", "close", project_id, "--beneficiaries", "-1", "--spent", "0").exit_code != 0
    assert staff_cli("projects", "close", "9999", "--beneficiaries", "1", "--spent", "0").exit_code != 0
    assert staff_cli("projects", "close", project_id, "--beneficiaries", "10", "--spent", "480").exit_code == 0
    again = staff_cli("projects", "close", project_id, "--beneficiaries", "10", "--spent", "480")
    assert again.exit_code != 0 and "already completed" in again.output


def test_party_figures_match_what_happened(demo, staff_cli):
    from storage.models import IdentityShow
    from storage.stats import party_stats

    rt = demo.rt
    chat = demo.client()
    chat.say("o_chen2", "绑定 836215")      # 陈建华, 罗湖社区第一党支部
    chat.say("o_li2", "绑定 402917")        # 李秀英, 文华社区党支部
    first, second = _project(demo, "项目甲", slots=2), _project(demo, "项目乙", slots=1)
    _project(demo, "项目丙", slots=1)
    chat.say("o_chen2", f"认领 {first}")     # +5
    chat.say("o_li2", f"认领 {first}")       # +5
    chat.say("o_li2", f"认领 {second}")      # +5
    chat.say("o_li2", f"进展 {second} 已联系物业")  # +2
    projects.close(rt.db, first, 40, 900.0, "staff:admin", rt.now(),
                   projects.Points.from_config(rt.config.party))  # +10 each
    projects.cancel(rt.db, second, "staff:admin", rt.now())
    chat.say("o_r1", f"评价 {first} 5")
    chat.say("o_r2", f"评价 {first} 2 太慢了")
    with rt.db.transaction() as s:
        chen = s.scalar(select(PartyMember.id).where(PartyMember.name == "陈建华"))
        s.add_all([IdentityShow(member_id=chen, at=rt.now()), IdentityShow(member_id=chen, at=rt.now())])
    f = party_stats(rt.db)
    assert (f.members, f.bound, f.participation.showed, f.participation.rate) == (4, 2, 1, 0.5)
    assert f.projects_by_state == {"completed": 1, "cancelled": 1, "open": 1 + 3}  # and the 3 demo projects
    assert (f.beneficiaries, f.ratings, f.average_stars) == (40, 2, 3.5)
    assert f.points_by_branch[:2] == [("文华社区党支部", 22, 1), ("罗湖社区第一党支部", 15, 1)]
    out = staff_cli("stats", "party").output
    assert "50.0%" in out and "3.50" in out and "文华社区党支部" in out


def test_residents_sentences_are_not_taken_for_project_commands(demo):
    project_id = _project(demo, slots=1)
    chat = demo.client()
    chat.say("o_chen3", "绑定 836215")
    chat.say("o_chen3", f"认领 {project_id}")
    # "进展2栋…" / "评价3号楼…" are residents talking about buildings, not projects
    assert "已记录" not in chat.say("o_chen3", f"进展{project_id}栋电梯还没修好")["Content"]
    assert "打分" not in chat.say("o_res", f"评价{project_id}号楼保洁，打1分")["Content"]
    with demo.rt.db.transaction() as s:
        from storage.models import ProgressReport, ProjectRating
        assert s.scalars(select(ProgressReport)).all() == [] and s.scalars(select(ProjectRating)).all() == []


@pytest.mark.http
def test_a_revoked_member_neither_claims_nor_reports_and_phones_never_reach_the_public_page(demo):
    from storage import cards

    rt = demo.rt
    project_id = _project(demo, slots=3)
    chat = demo.client()
    chat.say("o_li3", "绑定 402917")
    chat.say("o_li3", f"认领 {project_id}")
    assert "已记录" in chat.say("o_li3", f"进展 {project_id} 走访王大爷，电话13812345678")["Content"]
    page = requests.get(f"{demo.url}/projects/{project_id}", timeout=5).text
    assert "13812345678" not in page and "138****5678" in page
    with rt.db.transaction() as s:
        member_id = s.scalar(select(PartyMember.id).where(PartyMember.name == "李秀英"))
    cards.revoke(rt.db, member_id, "staff:admin", rt.now(), "组织关系转出")
    assert "有效的党员认证" in chat.say("o_li3", f"进展 {project_id} 又走访了3户")["Content"]
    other = _project(demo, "另一个项目", slots=3)
    assert "有效的党员认证" in chat.say("o_li3", f"认领 {other}")["Content"]


@pytest.mark.http
def test_a_cancelled_project_stays_on_the_public_list_and_pages_escape_what_people_wrote(demo):
    rt = demo.rt
    project_id = _project(demo, "<script>alert(1)</script>扶手", slots=1)
    projects.cancel(rt.db, project_id, "staff:admin", rt.now(), "资金未落实")
    listing = requests.get(f"{demo.url}/projects", timeout=5).text
    assert "已取消" in listing and "<script>alert(1)</script>" not in listing and "&lt;script&gt;" in listing
    assert "资金未落实" in requests.get(f"{demo.url}/projects/{project_id}", timeout=5).text
