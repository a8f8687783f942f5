"""The party roster as staff keep it (issue 7): CSV import with one-time binding codes, line-by-line problems
with nothing half-imported, GBK files, unbinding and binding again, a listing with masked phones."""
from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from storage import party, roster
from storage.models import AuditEntry, PartyMember

HEADER = "姓名,手机,支部,社区,职务"


def members(demo) -> int:
    with demo.rt.db.transaction(read_only=True) as s:
        return s.scalar(select(func.count()).select_from(PartyMember))


def member(demo, member_id: int) -> PartyMember:
    with demo.rt.db.transaction(read_only=True) as s:
        return s.get(PartyMember, member_id)


def codes_csv(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.mark.storage
def test_an_imported_member_binds_in_chat_with_their_code(demo, staff_cli, tmp_path):
    roster_file = tmp_path / "roster.csv"
    # columns in another order, English headings, a BOM, phones as people type them, a quoted comma
    roster_file.write_text("\ufeffcommunity,name,branch,mobile,joined_on,commitment\n"
                           "南湖,周建国,南湖社区第二党支部,+86 139-0013-9001,2001-07-01,\"有事找我, 我来帮\"\n"
                           "文华社区,吴敏,文华社区党支部,１３９００１３９００２,,\n", encoding="utf-8")
    codes_file = tmp_path / "codes.csv"
    result = staff_cli("party", "import", str(roster_file), "--codes-out", str(codes_file), "--as", "wang")
    assert result.exit_code == 0, result.output
    assert "imported 2 party members" in result.output and "13900139001" not in result.output

    codes = codes_csv(codes_file)
    assert [(c["name"], c["community"], c["mobile"]) for c in codes] == [
        ("周建国", "南湖社区", "139****9001"), ("吴敏", "文华社区", "139****9002")]
    assert all(re.fullmatch(r"\d{6}", c["code"]) and c["expires"] for c in codes)
    assert "认证成功" in demo.client().say("o_zhou", f"绑定 {codes[0]['code']}")["Content"]
    assert party.member_for(demo.rt.db, "o_zhou").name == "周建国"

    with demo.rt.db.transaction(read_only=True) as s:
        zhou = s.scalar(select(PartyMember).where(PartyMember.name == "周建国"))
        assert (zhou.mobile, zhou.role, zhou.joined_on, zhou.commitment) == ("13900139001", "党员", "2001-07-01",
                                                                             "有事找我, 我来帮")
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "party_member.import")).all()
        assert {e.actor for e in entries} == {"staff:wang"} and len(entries) == 2
        assert not any("1390013900" in str(e.detail) for e in entries)
        assert not any(codes[1]["code"] in str(e.detail) for e in entries)


def test_a_missing_column_is_named_and_nothing_is_imported(demo, staff_cli, tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("姓名,支部,社区\n周建国,南湖社区第二党支部,南湖社区\n", encoding="utf-8")
    before = members(demo)
    result = staff_cli("party", "import", str(roster_file))
    assert result.exit_code != 0
    assert "header: missing column mobile (手机)" in result.output and "nothing was imported" in result.output
    assert members(demo) == before


def test_every_problem_is_reported_by_line_in_one_run_and_nothing_is_imported(demo, staff_cli, tmp_path):
    lines = [HEADER,
             "周建国,13900139001,南湖社区第二党支部,南湖社区,",          # 2: good
             "吴敏,1390013900,文华社区党支部,文华社区,",                # 3: ten digits
             "",                                                       # 4: blank lines are skipped
             "郑伟,139 0013 9001,南湖社区第二党支部,南湖社区,",          # 5: same phone as line 2
             "孙丽,13800138002,文华社区党支部,文华社区,组织委员",        # 6: already on the demo roster
             "钱进,13900139003,南湖社区第二党支部,南湖新村,"]            # 7: no such community
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    codes_file = tmp_path / "codes.csv"
    before = members(demo)
    result = staff_cli("party", "import", str(roster_file), "--codes-out", str(codes_file))
    assert result.exit_code != 0
    assert result.stderr.splitlines()[:4] == [
        "line 3: mobile 1390013900 is not an 11-digit mainland mobile",
        "line 5: mobile 13900139001 appears again (line 2)",
        "line 6: mobile 13800138002 is already on the roster",
        "line 7: unknown community 南湖新村",
    ]
    assert "4 problem(s)" in result.output and "nothing was imported" in result.output
    assert members(demo) == before and not codes_file.exists()


def test_a_gbk_file_from_excel_imports(demo, staff_cli, tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_bytes(f"{HEADER},入党日期\r\n冯淑珍,13900139005,嘉北社区党支部,嘉北,支部书记,1998/7/1\r\n"
                            .encode("gbk"))
    result = staff_cli("party", "import", str(roster_file))
    assert result.exit_code == 0, result.output
    printed = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(c["name"], c["branch"], c["community"]) for c in printed] == [("冯淑珍", "嘉北社区党支部", "嘉北社区")]
    with demo.rt.db.transaction(read_only=True) as s:
        feng = s.scalar(select(PartyMember).where(PartyMember.mobile == "13900139005"))
        assert (feng.name, feng.role, feng.joined_on) == ("冯淑珍", "支部书记", "1998-07-01")


def test_unbinding_frees_the_member_to_bind_a_new_account_with_a_new_code(demo, staff_cli):
    chat = demo.client()
    assert "认证成功" in chat.say("o_old_phone", "绑定 836215")["Content"]   # 陈建华, member #1
    refused = staff_cli("party", "code", "1")
    assert refused.exit_code != 0 and "already bound" in refused.output

    result = staff_cli("party", "unbind", "1")
    assert result.exit_code == 0, result.output
    assert party.member_for(demo.rt.db, "o_old_phone") is None
    chen = member(demo, 1)
    assert chen.openid is None and chen.bound_at is None and chen.card_serial == 2
    assert "not bound" in staff_cli("party", "unbind", "1").output

    issued = staff_cli("party", "code", "1")
    assert issued.exit_code == 0, issued.output
    code = re.search(r"binding code for #1: (\d{6})", issued.output)[1]
    assert "认证成功" in chat.say("o_new_phone", f"绑定 {code}")["Content"]
    assert member(demo, 1).openid == "o_new_phone"
    assert "no party member #999" in staff_cli("party", "code", "999").output


def test_list_masks_phones_and_filters_by_community(demo, staff_cli):
    everyone = staff_cli("party", "list")
    assert everyone.exit_code == 0, everyone.output
    assert "138****8001" in everyone.output and "陈建华" in everyone.output and "张丽" in everyone.output
    assert not re.search(r"1380013800\d", everyone.output)
    luohu = staff_cli("party", "list", "--community", "罗湖").output
    assert "陈建华" in luohu and "李秀英" not in luohu


def test_a_wrong_code_reveals_nothing(demo):
    reply = demo.client().say("o_guess", "绑定 111111")["Content"]
    assert "不正确或已失效" in reply and not any(name in reply for name in ("陈建华", "李秀英", "王志强", "张丽"))


def test_no_two_live_codes_are_the_same(monkeypatch):
    """`bind` takes whichever member a code matches, so a new code must differ from every live one."""
    drawn = iter(["111111", "111111", "222222"])
    monkeypatch.setattr(roster, "new_code", lambda: next(drawn))
    taken: set[str] = set()
    assert [roster._unique_code(taken, "k")[0] for _ in range(2)] == ["111111", "222222"]


def test_header_only_and_empty_files_are_refused(demo):
    now = datetime.now(timezone.utc)
    assert roster.import_csv(demo.rt.db, HEADER + "\n", "k", now, "staff:t").problems == [
        "the file has no members under the header"]
    assert roster.import_csv(demo.rt.db, "", "k", now, "staff:t").problems[0].startswith("header: the file is empty")
