"""Opinion statistics (storage/stats.py, `nanhu stats opinions`) against a hand count of a fixed data set.
SQLite and PostgreSQL, with and without Redis (the `demo` fixture)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage.models import Community, Opinion, Resident
from storage.stats import Figures, opinion_stats
from tests.conftest import DATABASES

UTC = timezone.utc
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
FEEDBACK_DAYS = 7  # opinions.feedback_days in config.example.toml, which the CLI reads


def at(text: str) -> datetime:
    """'MM-DD HH:MM' in 2026, UTC."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


# ticket, community, category, created (UTC), status, due, first response (hours after created), resolved, satisfaction
SEED = [
    ("T01", "罗湖社区", "环境卫生", "02-02 00:00", "resolved", "02-04 00:00", 2, "02-03 00:00", "satisfied"),
    ("T02", "罗湖社区", "环境卫生", "02-05 00:00", "resolved", "02-07 00:00", 4, "02-09 00:00", None),
    ("T03", "文华社区", "治安安全", "02-10 00:00", "resolved", "02-11 00:00", 1, "02-11 00:00", None),
    ("T04", "文华社区", "公共设施", "02-12 00:00", "not_responsible", "02-17 00:00", 3, None, None),
    ("T05", "新南社区", "其他", "02-15 00:00", "duplicate", "02-20 00:00", 1, None, None),  # merged into T06
    ("T06", "新南社区", "其他", "02-14 00:00", "resolved", None, None, "02-20 00:00", "satisfied"),
    ("T07", "罗湖社区", "治安安全", "02-20 00:00", "in_progress", "02-21 00:00", 6, "02-20 20:00", "unsatisfied"),
    ("T08", None, "环境卫生", "02-25 00:00", "submitted", "02-27 00:00", None, None, None),
    ("T09", "文华社区", "环境卫生", "02-28 17:00", "resolved", "03-02 17:00", 2, "03-01 17:00", None),
    ("T10", "罗湖社区", "公共设施", "03-02 00:00", "accepted", "03-07 00:00", 5, None, None),
    ("T11", "新南社区", "公共设施", "03-05 00:00", "resolved", "03-10 00:00", 8, "03-12 00:00", "satisfied"),
    ("T12", "新南社区", "治安安全", "03-08 00:00", "resolved", "03-09 00:00", 1, "03-08 10:00", "satisfied"),
    ("T13", "文华社区", "其他", "03-10 00:00", "in_progress", "03-15 00:00", 12, None, None),
    ("T14", "罗湖社区", "环境卫生", "03-15 00:00", "resolved", "03-17 00:00", 2, "03-16 00:00", None),
    ("T15", "文华社区", "环境卫生", "03-18 12:00", "submitted", "03-20 12:00", None, None, None),
    ("T16", "新南社区", "环境卫生", "03-19 00:00", "accepted", "03-21 00:00", 3, None, None),
    ("T17", None, "其他", "03-11 00:00", "not_responsible", "03-16 00:00", 4, None, None),
    ("T18", "罗湖社区", "其他", "03-12 00:00", "resolved", "03-17 00:00", 6, "03-13 00:00", None),
    ("T19", "文华社区", "治安安全", "03-14 00:00", "in_progress", None, 2, None, None),
    ("T20", "新南社区", "环境卫生", "03-16 00:00", "resolved", "03-18 00:00", 10, "03-19 00:00", None),
]

# The hand count. Now is 03-20 04:00 UTC, feedback_days 7. Month is in Shanghai time (UTC+8).
# fin = finished, ot = on time, oo = overdue open, fr/res = hours to first response / resolution,
# sat: S satisfied, U unsatisfied, C confirmed by silence, A awaiting.
#
# ticket comm cat  month fin ot oo  fr  res  sat  why
# T01    罗湖 环境 02     1   1  .   2   24   S    resolved a day before its deadline
# T02    罗湖 环境 02     1   .  .   4   96   C    resolved 2 days late; silent since 02-09
# T03    文华 治安 02     1   1  .   1   24   C    resolved exactly at its deadline (<= counts)
# T04    文华 设施 02     1   .  .   3   .    .    not_responsible: finished, never on time
# T05    --   --   --    excluded: duplicate, merged into T06
# T06    新南 其他 02     1   1  .   .   144  S    no due_at (old row): resolved counts as on time
# T07    罗湖 治安 02     .   .  1   6   .    U    reopened by 不满意, open past its deadline
# T08    未填 环境 02     .   .  1   .   .    .    submitted, never answered, past its deadline
# T09    文华 环境 03     1   1  .   2   24   C    created 02-28 17:00 UTC = 03-01 01:00 Shanghai
# T10    罗湖 设施 03     .   .  1   5   .    .    accepted, past its deadline
# T11    新南 设施 03     1   .  .   8   168  S    resolved 2 days late (satisfied all the same)
# T12    新南 治安 03     1   1  .   1   10   S
# T13    文华 其他 03     .   .  1   12  .    .    in progress, past its deadline
# T14    罗湖 环境 03     1   1  .   2   24   A    resolved 03-16: 7 days end 03-23
# T15    文华 环境 03     .   .  .   .   .    .    open, due 03-20 12:00: not yet overdue
# T16    新南 环境 03     .   .  .   3   .    .    open, due 03-21: not yet overdue
# T17    未填 其他 03     1   .  .   4   .    .    not_responsible
# T18    罗湖 其他 03     1   1  .   6   24   C    resolved 03-13 00:00: 7 days ended 03-20 00:00
# T19    文华 治安 03     .   .  .   2   .    .    open with no due_at: never overdue
# T20    新南 环境 03     1   .  .   10  72   A    resolved a day late, 03-19: still awaiting
#
# Overall: 19 tickets; resolved 10 (T01 T02 T03 T06 T09 T11 T12 T14 T18 T20); finished 12 (+T04 T17);
# on time 7; overdue open 4 (T07 T08 T10 T13) -> honest 7/16 = 43.8%, plain 10/19 = 52.6%.
# First response, 16 values: 1 1 2 2 2 2 3 3 | 4 4 5 6 6 8 10 12 -> 3.5.
# Resolution, 10 values: 10 24 24 24 24 | 24 72 96 144 168 -> 24.0.
# Satisfaction: S 4, U 1, C 4, A 2 -> (4+4)/9 = 88.9%.
# Figures(total, resolved, finished, on_time, overdue_open, satisfied, unsatisfied, confirmed_by_silence, awaiting,
#         median first response hours, median resolution hours):
OVERALL = Figures(19, 10, 12, 7, 4, 4, 1, 4, 2, 3.5, 24.0)
COMMUNITIES = {
    "罗湖社区": Figures(6, 4, 4, 3, 2, 1, 1, 2, 1, 4.5, 24.0),   # T01 T02 T07 T10 T14 T18; fr 2 2 4|5 6 6
    "文华社区": Figures(6, 2, 3, 2, 1, 0, 0, 2, 0, 2.0, 24.0),   # T03 T04 T09 T13 T15 T19; fr 1 2 2 3 12
    "新南社区": Figures(5, 4, 4, 2, 0, 3, 0, 0, 1, 5.5, 108.0),  # T06 T11 T12 T16 T20; fr 1 3|8 10; res 10 72|144 168
    "未填社区": Figures(2, 0, 1, 0, 1, 0, 0, 0, 0, 4.0, None),   # T08 T17
}
CATEGORIES = {
    "治安安全": Figures(4, 2, 2, 2, 1, 1, 1, 1, 0, 1.5, 17.0),   # T03 T07 T12 T19; fr 1 1|2 6; res 10 24
    "其他": Figures(4, 2, 3, 2, 1, 1, 0, 1, 0, 6.0, 84.0),       # T06 T13 T17 T18; fr 4 6 12; res 24 144
    "公共设施": Figures(3, 1, 2, 0, 1, 1, 0, 0, 0, 5.0, 168.0),  # T04 T10 T11
    "环境卫生": Figures(8, 5, 5, 3, 1, 1, 0, 2, 2, 2.5, 24.0),   # T01 T02 T08 T09 T14 T15 T16 T20
}
MONTHS = {
    "2026-02": Figures(7, 4, 5, 3, 2, 2, 1, 2, 0, 3.0, 60.0),    # T01-T04 T06-T08; fr 1 2 [3] 4 6; res 24 24|96 144
    "2026-03": Figures(12, 6, 7, 4, 2, 2, 0, 2, 2, 4.0, 24.0),   # T09-T20; fr 1 2 2 2 3 [4] 5 6 8 10 12
}


def seed(db, rows=SEED) -> dict[str, int]:
    """The opinions as given, with residents; returns ticket -> id."""
    with db.transaction() as s:
        community = {c.name: c.id for c in s.scalars(select(Community))}
        residents = [Resident(openid=f"o_stats_{i}", community_id=None) for i in range(3)]
        s.add_all(residents)
        s.flush()
        ids = {}
        for i, (ticket, comm, category, created, status, due, fr, resolved, satisfaction) in enumerate(rows):
            o = Opinion(ticket_no=f"MYSTATS{ticket}", resident_id=residents[i % 3].id,
                        community_id=community[comm] if comm else None, content=f"测试意见 {ticket}",
                        status=status, category=category, created_at=at(created), due_at=at(due) if due else None,
                        first_response_at=at(created) + timedelta(hours=fr) if fr is not None else None,
                        resolved_at=at(resolved) if resolved else None, satisfaction=satisfaction,
                        feedback_at=at(resolved) + timedelta(days=1) if satisfaction else None,
                        feedback_asked_at=at(resolved) if resolved else None)
            s.add(o)
            s.flush()
            ids[ticket] = o.id
        return ids


def merge(db, ticket: str, into: str, ids: dict[str, int]) -> None:
    with db.transaction() as s:
        s.get(Opinion, ids[ticket]).merged_into_id = ids[into]


@pytest.mark.storage(*DATABASES)
def test_figures_match_the_hand_count(demo):
    db = demo.rt.db
    merge(db, "T05", "T06", seed(db))
    stats = opinion_stats(db, NOW, TZ, FEEDBACK_DAYS)

    assert stats.overall == OVERALL
    assert stats.overall.honest_rate == 7 / 16 and stats.overall.plain_rate == 10 / 19
    assert stats.overall.satisfaction_rate == 8 / 9
    assert stats.by_community == COMMUNITIES and list(stats.by_community) == sorted(COMMUNITIES)
    assert stats.by_community["罗湖社区"].honest_rate == 3 / 6
    assert stats.by_community["罗湖社区"].satisfaction_rate == 3 / 4
    assert stats.by_community["未填社区"].honest_rate == 0 and stats.by_community["未填社区"].satisfaction_rate is None
    assert stats.by_category == CATEGORIES
    assert stats.by_category["公共设施"].honest_rate == 0 and stats.by_category["治安安全"].honest_rate == 2 / 3
    assert stats.by_month == MONTHS and list(stats.by_month) == ["2026-02", "2026-03"]
    assert stats.by_month["2026-02"].honest_rate == 3 / 7 and stats.by_month["2026-03"].honest_rate == 4 / 9

    march = opinion_stats(db, NOW, TZ, FEEDBACK_DAYS, since=datetime(2026, 3, 1, tzinfo=TZ),
                          until=datetime(2026, 4, 1, tzinfo=TZ))
    assert march.overall == MONTHS["2026-03"] and list(march.by_month) == ["2026-03"]
    with db.transaction() as s:
        wenhua = s.scalar(select(Community.id).where(Community.name == "文华社区"))
    assert opinion_stats(db, NOW, TZ, FEEDBACK_DAYS, community_id=wenhua).overall == COMMUNITIES["文华社区"]


def test_a_duplicate_is_counted_once_in_the_ticket_it_was_merged_into(demo):
    db = demo.rt.db
    rows = [("D1", "文华社区", "环境卫生", "03-01 00:00", "resolved", "03-03 00:00", 1, "03-02 00:00", None),
            ("D2", "文华社区", "环境卫生", "03-01 06:00", "duplicate", "03-03 06:00", 2, None, None)]
    ids = seed(db, rows)
    merge(db, "D2", "D1", ids)
    stats = opinion_stats(db, NOW, TZ, FEEDBACK_DAYS)
    assert stats.overall == Figures(1, 1, 1, 1, 0, 0, 0, 1, 0, 1.0, 24.0)
    assert stats.by_community["文华社区"].total == 1 and stats.by_category["环境卫生"].total == 1
    with db.transaction() as s:  # the same row in any other state is counted: it is the state that excludes it
        s.get(Opinion, ids["D2"]).status = "submitted"
    assert opinion_stats(db, NOW, TZ, FEEDBACK_DAYS).overall.total == 2


@pytest.fixture
def cli(demo, staff_cli, monkeypatch):
    cfg = demo.rt.config
    assert cfg.opinions.feedback_days == FEEDBACK_DAYS and cfg.app.timezone == "Asia/Shanghai"
    monkeypatch.setattr("bot.runtime.Runtime.now", lambda self: NOW)
    return lambda *args: staff_cli("stats", "opinions", *args)


def _row(output: str, label: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.split()[:1] == [label])


def test_the_cli_prints_the_tables_and_the_legend(demo, cli):
    merge(demo.rt.db, "T05", "T06", seed(demo.rt.db))
    result = cli()
    assert result.exit_code == 0, result.output
    # total resolved finished on-time overdue honest plain first-response resolution S U C A satisfaction
    assert _row(result.output, "总体") == ["总体", "19", "10", "12", "7", "4", "43.8%", "52.6%", "3.5", "24.0",
                                          "4", "1", "4", "2", "0", "88.9%"]
    assert _row(result.output, "未填社区") == ["未填社区", "2", "0", "1", "0", "1", "0.0%", "0.0%", "4.0", "—",
                                              "0", "0", "0", "0", "0", "—"]
    assert _row(result.output, "新南社区")[6:10] == ["50.0%", "80.0%", "5.5", "108.0"]
    assert _row(result.output, "治安安全")[6:10] == ["66.7%", "50.0%", "1.5", "17.0"]
    assert _row(result.output, "2026-02")[6:8] == ["42.9%", "57.1%"]
    assert "如实办结率 = 按时办结 ÷ (已完结 + 超期未办)" in result.output and "满 7 天未评价" in result.output

    march = cli("--since", "2026-03-01", "--until", "2026-04-01", "--by", "month")
    assert march.exit_code == 0, march.output
    assert _row(march.output, "总体") == ["总体", "12", "6", "7", "4", "2", "44.4%", "50.0%", "4.0", "24.0",
                                         "2", "0", "2", "2", "0", "100.0%"]
    assert "2026-03" in march.output and "2026-02" not in march.output and "罗湖社区" not in march.output

    wenhua = cli("--community", "文华社区", "--by", "category")
    assert wenhua.exit_code == 0, wenhua.output
    assert _row(wenhua.output, "总体")[1:10] == ["6", "2", "3", "2", "1", "50.0%", "33.3%", "2.0", "24.0"]


def test_bad_input_is_refused_clearly(demo, cli):
    for args, message in [(("--since", "2026-02-30"), "expected a date YYYY-MM-DD"),
                          (("--until", "yesterday"), "expected a date YYYY-MM-DD"),
                          (("--since", "2026-03-01", "--until", "2026-03-01"), "must be before --until"),
                          (("--community", "火星社区"), "unknown community '火星社区'"),
                          (("--by", "week"), "Invalid value for '--by'")]:
        result = cli(*args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)


def test_silence_counts_as_consent_only_from_a_resident_who_was_asked(demo):
    db = demo.rt.db
    ids = seed(db, [("N1", "罗湖社区", "其他", "03-01 02:00", "resolved", "03-05 02:00", 1, "03-02 02:00", None),
                    ("N2", "罗湖社区", "其他", "03-01 02:00", "resolved", "03-05 02:00", 1, "03-02 02:00", None)])
    with db.transaction() as s:
        s.get(Opinion, ids["N2"]).feedback_asked_at = None  # had unfollowed: the question never went out
    figures = opinion_stats(db, NOW, TZ, FEEDBACK_DAYS).overall
    assert (figures.confirmed_by_silence, figures.not_asked, figures.awaiting) == (1, 1, 0)
    assert figures.satisfaction_rate == 1.0
