"""The admin web's projects, party roster, residents and audit pages over real HTTP: validation in Chinese next
to the field, closing with spending, binding codes shown once, CSV import problems line by line, community
staff kept to their community (404 for another's objects), the audit log, residents without phones.
SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from storage import audit, communities, projects, roster, staff
from storage.models import AuditEntry
from tests.admin_client import AdminClient

CODE = re.compile(r"新绑定码：<b>(\d{6})</b>")


def _community(demo, name: str) -> int:
    return next(c.id for c in communities.all_communities(demo.rt.db) if c.name == name)


def _admin(demo) -> AdminClient:
    client = AdminClient(demo.url)
    assert client.login().url.endswith("/admin/")
    return client


def _wenhua_staff(demo) -> AdminClient:
    staff.add(demo.rt.db, "wenhua_staff", "文华社区工作人员", "a-long-password-1", "community",
              _community(demo, "文华社区"), "system", demo.rt.now())
    client = AdminClient(demo.url)
    assert client.login("wenhua_staff", "a-long-password-1").url.endswith("/admin/")
    return client


def _project_count(demo) -> int:
    return len(projects.all_projects(demo.rt.db, include_cancelled=True))


def _error(page: str, field: str) -> str:
    m = re.search(rf'<div class="error" id="error-{field}">([^<]*)</div>', page)
    return m.group(1) if m else ""


def _member_id(demo, name: str) -> int:
    return next(m.id for m in roster.roster(demo.rt.db) if m.name == name)


NEW_PROJECT = {"title": "加装电梯协调<小组>", "category": "民生微实事", "description": "协调加装电梯", "community": "",
               "beneficiaries": "多层住宅老人", "planned": "80", "budget": "20000", "slots": "2",
               "start": "2026-12-01", "end": "2026-12-31", "milestones": "入户摸底 2026-12-10\n方案公示 2026-12-20"}


@pytest.mark.http
def test_project_create_checks_fields_in_chinese_then_closes_with_spending(demo):
    client = _admin(demo)
    before = _project_count(demo)

    bad = client.post("/admin/projects", {**NEW_PROJECT, "start": "2026-13-40"})
    assert bad.status_code == 400
    assert _error(bad.text, "start") == "开始日期应为有效日期，格式 YYYY-MM-DD。"
    assert 'value="2026-13-40"' in bad.text and "&lt;小组&gt;" in bad.text and "<小组>" not in bad.text  # kept, escaped
    assert "入户摸底 2026-12-10" in bad.text
    assert _project_count(demo) == before

    for field, value, message in [("end", "2026-11-01", "结束日期不能早于开始日期。"),
                                  ("slots", "0", "认领名额需在 1 到 1000 之间。"),
                                  ("slots", "两个", "认领名额应为整数。"),
                                  ("title", "  ", "标题需 1 到 128 个字。"),
                                  ("milestones", "入户摸底 2026-02-30",
                                   "里程碑「入户摸底」的日期应为有效日期，格式 YYYY-MM-DD。"),
                                  ("milestones", "入户摸底",
                                   "第 1 行应写成「标题 YYYY-MM-DD」（标题和日期之间空一格）。")]:
        resp = client.post("/admin/projects", {**NEW_PROJECT, field: value})
        assert (resp.status_code, _error(resp.text, field)) == (400, message), field
    assert _project_count(demo) == before

    made = client.post("/admin/projects", {**NEW_PROJECT, "community": str(_community(demo, "南湖社区"))})
    assert made.status_code == 200 and "已发布项目「加装电梯协调&lt;小组&gt;」" in made.text
    project_id = int(made.url.rsplit("/", 1)[1])
    assert _project_count(demo) == before + 1
    listing = client.get("/admin/projects").text
    assert f'href="/admin/projects/{project_id}">加装电梯协调&lt;小组&gt;</a>' in listing and "南湖社区" in listing

    done = client.post(f"/admin/projects/{project_id}/milestones/1")
    assert "第 1 个里程碑已标记完成" in done.text and done.text.count(">完成</button>") == 1
    assert "没有这个里程碑" in client.post(f"/admin/projects/{project_id}/milestones/5").text

    assert "实际受益人数（整数）" in client.post(f"/admin/projects/{project_id}/close",
                                              {"beneficiaries_actual": "许多", "spent": "1"}).text
    closed = client.post(f"/admin/projects/{project_id}/close",
                         {"beneficiaries_actual": "76", "spent": "18650.5", "note": "两部电梯已签约"})
    assert "项目已结项" in closed.text and '<div class="v" id="actual">76</div>' in closed.text
    assert '<div class="v" id="spent">18650.50</div>' in closed.text and "两部电梯已签约" in closed.text
    assert "已完成" in closed.text and "结项</button>" not in closed.text
    again = client.post(f"/admin/projects/{project_id}/close", {"beneficiaries_actual": "1", "spent": "1"})
    assert "项目已完成或已取消，不能再操作。" in again.text
    assert projects.disclosure(demo.rt.db, project_id).spent_yuan == 18650.5

    cancelled = client.post("/admin/projects/1/cancel", {"reason": "与其他项目合并"})
    assert "项目已取消" in cancelled.text and "与其他项目合并" in cancelled.text
    assert client.get("/admin/projects/999").status_code == 404


@pytest.mark.http
def test_member_codes_unbinding_and_cards(demo):
    client = _admin(demo)
    page = client.get("/admin/members").text
    assert "138****8001" in page and "13800138001" not in page and "陈建华" in page

    chen = _member_id(demo, "陈建华")
    issued = client.post(f"/admin/members/{chen}/code")
    code = CODE.search(issued.text).group(1)
    assert "只显示这一次" in issued.text
    assert code not in client.get("/admin/members").text  # once
    assert "认证成功" in demo.client().say("o_chen_admin_test", f"绑定 {code}")["Content"]
    assert "需先解绑" in client.post(f"/admin/members/{chen}/code").text

    unbound = client.post(f"/admin/members/{chen}/unbind")
    assert "已解绑 陈建华" in unbound.text
    assert "没有绑定微信" in client.post(f"/admin/members/{chen}/unbind").text

    revoked = client.post(f"/admin/members/{chen}/revoke", {"reason": "调离"})
    assert "已注销 陈建华 的党员身份证" in revoked.text
    row = re.search(rf'<tr id="member-{chen}">.*?</tr>', revoked.text, re.S).group(0)
    assert "已注销" in row and "恢复身份证" in row
    assert "已恢复 陈建华 的党员身份证" in client.post(f"/admin/members/{chen}/reinstate").text
    assert "没有被注销" in client.post(f"/admin/members/{chen}/reinstate").text
    assert client.post("/admin/members/999/code").status_code == 404


@pytest.mark.http
def test_csv_import_shows_problems_line_by_line_then_the_codes_once(demo):
    client = _admin(demo)
    before = len(roster.roster(demo.rt.db))
    bad = ("姓名,手机,支部,社区\n"
           "周建国,13900139001,南湖社区第二党支部,南湖\n"
           "吴敏,1390013,文华社区党支部,文华\n"
           "郑强,13900139003,某支部,不存在社区\n"
           "陈建华,13800138001,罗湖社区第一党支部,罗湖\n")
    resp = client.post("/admin/members/import", files={"file": ("roster.csv", bad.encode("utf-8"), "text/csv")})
    assert resp.status_code == 400
    problems = re.findall(r'<li class="error">([^<]*)</li>', resp.text)
    assert problems == ["第 3 行：手机 ******* 不是 11 位手机号", "第 4 行：没有「不存在社区」这个社区",
                        "第 5 行：手机 138****8001 已在党员名册中"]
    assert "13800138001" not in resp.text and len(roster.roster(demo.rt.db)) == before
    missing = client.post("/admin/members/import",
                          files={"file": ("r.csv", "姓名,支部,社区\n甲,乙,文华\n".encode(), "text/csv")})
    assert "表头：缺少「手机」列" in missing.text

    good = ("姓名,手机,支部,社区,备注\n"
            "周建国,13900139001,南湖社区第二党支部,南湖\n"
            "吴敏,13900139002,文华社区党支部,文华社区\n")
    made = client.post("/admin/members/import", files={"file": ("roster.csv", good.encode("gb18030"), "text/csv")})
    assert made.status_code == 200 and "已导入 2 名党员" in made.text and "已忽略的列：备注" in made.text
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>\s*<td><b>(\d{6})</b></td>", made.text)
    assert [r[:3] for r in rows] == [("周建国", "南湖社区第二党支部", "139****9001"),
                                     ("吴敏", "文华社区党支部", "139****9002")]
    assert "13900139001" not in made.text and len(roster.roster(demo.rt.db)) == before + 2
    assert rows[1][3] not in client.get("/admin/members").text
    assert "认证成功" in demo.client().say("o_wumin_admin_test", f"绑定 {rows[1][3]}")["Content"]


@pytest.mark.http
def test_community_staff_see_only_their_community(demo):
    admin = _admin(demo)
    wenhua = _wenhua_staff(demo)
    luohu_project = next(p.id for p in projects.all_projects(demo.rt.db) if p.community_name == "罗湖社区")

    listing = wenhua.get("/admin/projects").text
    assert "独居长者入户探访" not in listing and "仅显示文华社区的项目" in listing
    made = wenhua.post("/admin/projects", {**NEW_PROJECT, "title": "文华读书角", "community": str(luohu_project)})
    project_id = int(made.url.rsplit("/", 1)[1])
    assert projects.disclosure(demo.rt.db, project_id).project.community_name == "文华社区"  # fixed to theirs
    assert "文华读书角" in wenhua.get("/admin/projects").text
    assert wenhua.get(f"/admin/projects/{luohu_project}").status_code == 404
    for action, data in [("close", {"beneficiaries_actual": "1", "spent": "1"}), ("cancel", {}), ("milestones/1", {})]:
        assert wenhua.post(f"/admin/projects/{luohu_project}/{action}", data).status_code == 404
    assert projects.disclosure(demo.rt.db, luohu_project).project.status == "open"

    members = wenhua.get("/admin/members").text
    assert "李秀英" in members and "陈建华" not in members and "名册导入由街道管理员进行" in members
    chen, li = _member_id(demo, "陈建华"), _member_id(demo, "李秀英")
    for action in ("code", "unbind", "revoke", "reinstate"):
        assert wenhua.post(f"/admin/members/{chen}/{action}").status_code == 404
    assert CODE.search(wenhua.post(f"/admin/members/{li}/code").text)
    csv_file = {"file": ("r.csv", "姓名,手机,支部,社区\n甲,13900139009,乙,罗湖\n".encode(), "text/csv")}
    assert wenhua.post("/admin/members/import", files=csv_file).status_code == 404
    assert wenhua.get("/admin/audit").status_code == 403

    demo.client().say("o_wenhua_resident_x", "活动")
    demo.client().say("o_luohu_resident_y", "活动")
    from storage import residents
    for openid, community in [("o_wenhua_resident_x", "文华社区"), ("o_luohu_resident_y", "罗湖社区")]:
        rid = residents.touch(demo.rt.db, openid, demo.rt.now()).id
        residents.set_community(demo.rt.db, rid, _community(demo, community), "system")
    seen = wenhua.get("/admin/residents", params={"q": "resident"}).text
    assert "o_wenh…nt_x" in seen and "o_luoh" not in seen
    both = admin.get("/admin/residents", params={"q": "resident"}).text
    assert "o_wenh…nt_x" in both and "o_luoh…nt_y" in both
    only = admin.get("/admin/residents", params={"q": "resident", "community": _community(demo, "罗湖社区")}).text
    assert "o_wenh" not in only and "o_luoh…nt_y" in only


@pytest.mark.http
def test_audit_page_lists_what_was_just_done_filtered_and_paginated(demo):
    client = _admin(demo)
    made = client.post("/admin/projects", {**NEW_PROJECT, "title": "审计测试项目"})
    project_id = made.url.rsplit("/", 1)[1]
    client.post(f"/admin/members/{_member_id(demo, '张丽')}/revoke")

    page = client.get("/admin/audit").text
    assert "仅街道管理员可查看" in page
    rows = re.findall(r'<td>([^<]*)</td>\s*<td><span class="action">([^<]*)</span>'
                      r'<div class="muted object">([^<]*)</div>', page)
    assert rows[0] == ("staff:admin", "party_member.card_revoke", f"party_member {_member_id(demo, '张丽')}")
    assert rows[1] == ("staff:admin", "project.create", f"project {project_id}")
    assert ("staff:admin", "staff.login", rows[2][2]) == rows[2]

    only = client.get("/admin/audit", params={"action": "project.", "actor": "admin"}).text
    found = re.findall(r'<span class="action">([^<]*)</span>', only)
    assert found == ["project.create"] and "title=审计测试项目" in only
    assert "party_member" not in re.sub(r"<select.*?</select>", "", only, flags=re.S)
    assert "party_member.card_revoke" in client.get("/admin/audit", params={"object_type": "party_member"}).text
    yesterday = (demo.rt.now().astimezone(demo.rt.tz) - timedelta(days=1)).strftime("%Y-%m-%d")
    assert "没有符合条件的记录" in client.get("/admin/audit", params={"since": "2000-01-01", "until": yesterday}).text
    assert "未按日期筛选" in client.get("/admin/audit", params={"since": "2026-02-30"}).text
    assert "没有符合条件的记录" in client.get("/admin/audit", params={"action": "%"}).text  # no LIKE wildcards

    with demo.rt.db.transaction() as s:
        for n in range(60):
            audit.record(s, "system", "test.bulk", "test", n, at=demo.rt.now() + timedelta(seconds=n))
    first = client.get("/admin/audit", params={"action": "test."}).text
    assert "共 60 条，第 1/2 页" in first and first.count('"action">test.bulk<') == 50
    assert "test 59" in first and "下一页" in first
    second = client.get("/admin/audit", params={"action": "test.", "page": "2"}).text
    assert second.count('"action">test.bulk<') == 10 and "test 0" in second and "上一页" in second
    with demo.rt.db.transaction(read_only=True) as s:
        assert s.query(AuditEntry).filter(AuditEntry.action == "project.create").count() == 1


@pytest.mark.http
def test_residents_search_never_shows_a_phone(demo):
    client = _admin(demo)
    chat = demo.client()
    openid = "o_resident_with_phone_1"
    chat.say(openid, "报名 1")
    chat.say(openid, "13912345678")
    chat.say(openid, "楼下垃圾三天没人清理")
    chat.say(openid, "3")
    chat.say(openid, "是")

    page = client.get("/admin/residents", params={"q": "with_phone"})
    assert page.status_code == 200
    row = re.search(r"<tr><td title=\"o_resident_with_phone_1\"><code>o_resi…ne_1</code></td>.*?</tr>",
                    page.text, re.S).group(0)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells[1] == "已关注" and cells[-2:] == ["1", "1"], cells
    assert "13912345678" not in page.text and "1391234" not in page.text and "5678" not in page.text
    assert "没有找到居民" in client.get("/admin/residents", params={"q": "%"}).text
