"""Figures for staff: nanhu stats opinions / party."""
from __future__ import annotations

import click

from cli import common


@click.group()
def stats() -> None:
    """Figures for staff: stats opinions, stats party."""


STATS_HEADINGS = ["", "总数", "已办结", "已完结", "按时办结", "超期未办", "如实办结率", "办结率", "首次响应中位(时)",
                  "办结用时中位(时)", "满意", "不满意", "默认满意", "待评价", "未询问", "满意率"]


def _stats_row(name: str, f) -> list[str]:
    return [name, str(f.total), str(f.resolved), str(f.finished), str(f.on_time), str(f.overdue_open),
            common.percent(f.honest_rate), common.percent(f.plain_rate), common.hours(f.median_first_response_hours),
            common.hours(f.median_resolution_hours), str(f.satisfied), str(f.unsatisfied), str(f.confirmed_by_silence),
            str(f.awaiting), str(f.not_asked), common.percent(f.satisfaction_rate)]


@stats.command("opinions")
@click.option("--since", default=None, help="from this day, YYYY-MM-DD in app.timezone (inclusive)")
@click.option("--until", default=None, help="up to this day, YYYY-MM-DD in app.timezone (exclusive)")
@click.option("--community", default=None, help="only this community (e.g. 文华社区)")
@click.option("--by", "by", type=click.Choice(["community", "category", "month", "all"]), default="all",
              show_default=True)
def stats_opinions(since: str | None, until: str | None, community: str | None, by: str) -> None:
    """Opinions handled on time, resolution rates, response times and satisfaction (definitions under the table)."""
    from zoneinfo import ZoneInfo

    from storage.stats import opinion_stats

    cfg = common.config()
    tz = ZoneInfo(cfg.app.timezone)
    start, end = common.period(since, until, tz)
    rt = common.runtime(cfg)
    found = common.community(rt, community)
    now = rt.now()
    days = cfg.opinions.feedback_days
    figures = opinion_stats(rt.db, now, rt.tz, days, start, end, found.id if found else None)

    period = f"{since or '最早'} 至 {until + ' 前' if until else '现在'}"
    scope = found.name if found else "全街道"
    click.echo(f"意见统计 {scope}  提交时间 {period}（{cfg.app.timezone}）  "
               f"截至 {now.astimezone(rt.tz):%Y-%m-%d %H:%M}")
    rows = [STATS_HEADINGS, _stats_row("总体", figures.overall)]
    sections = {"community": ("按社区", figures.by_community), "category": ("按类别", figures.by_category),
                "month": ("按月份", figures.by_month)}
    for key, (title, groups) in sections.items():
        if by in (key, "all") and groups:
            rows.append([f"[{title}]"] + [""] * (len(STATS_HEADINGS) - 1))
            rows += [_stats_row(name, f) for name, f in groups.items()]
    for line in common.table(rows, figures=True):
        click.echo(line)
    click.echo(f"""
说明：统计提交时间在期间内的意见，不含"已合并"（duplicate）工单：合并的问题只在主工单计一次。
  已完结 = 已办结 + 非本街道职责；超期未办 = 尚未完结（已提交、已受理、处理中）且已过办理期限。
  按时办结 = 已办结，且办结时间不晚于期限（没有期限的算按时）。
  如实办结率 = 按时办结 ÷ (已完结 + 超期未办)；办结率 = 已办结 ÷ 总数。
  首次响应中位 = 提交到工作人员首次处理或回复的小时数中位数（只算已响应的）；
  办结用时中位 = 已办结工单从提交到最后一次办结的小时数中位数。
  满意、不满意 = 居民的回复（不满意含因此重新打开的工单）；默认满意 = 询问满意度满 {days} 天未评价；
  待评价 = 询问满意度未满 {days} 天、尚未评价；未询问 = 已办结但居民已取消关注、没有收到询问（不计入满意率）。
  满意率 = (满意 + 默认满意) ÷ (满意 + 不满意 + 默认满意)。
  "—" 表示没有数据（分母为 0）。""")


@stats.command("party")
@click.option("--since", default=None, help="identity shows from this day, YYYY-MM-DD in app.timezone (inclusive)")
@click.option("--until", default=None, help="up to this day (exclusive)")
def stats_party(since: str | None, until: str | None) -> None:
    """Members bound, identity participation, projects by state, beneficiaries, ratings, points by branch."""
    from zoneinfo import ZoneInfo

    from storage.projects import STATE_LABELS
    from storage.stats import party_stats

    cfg = common.config()
    tz = ZoneInfo(cfg.app.timezone)
    start, end = common.period(since, until, tz)
    rt = common.runtime(cfg)
    f = party_stats(rt.db, start, end)
    click.echo(f"党员统计  亮身份期间 {since or '最早'} 至 {until + ' 前' if until else '现在'}")
    rows = [["党员（名册）", str(f.members)], ["已绑定微信", str(f.bound)],
            ["期间亮身份", f"{f.participation.showed}/{f.participation.bound_members}"],
            ["亮身份参与率", common.percent(f.participation.rate)]]
    rows += [[f"项目·{STATE_LABELS.get(state, state)}", str(n)] for state, n in sorted(f.projects_by_state.items())]
    rows += [["已完成项目受益人数", str(f.beneficiaries)], ["居民评价", str(f.ratings)],
             ["平均评价（星）", "—" if f.average_stars is None else f"{f.average_stars:.2f}"]]
    for line in common.table(rows, figures=True):
        click.echo(line)
    click.echo("\n积分（按支部）")
    for line in common.table([["支部", "积分", "党员"]] + [[b, str(p), str(n)] for b, p, n in f.points_by_branch],
                             figures=True):
        click.echo(line)
    click.echo("\n说明：亮身份参与率 = 期间亮过身份的党员 ÷ 期末前已绑定的党员（同 nanhu card participation）；"
               "受益人数为已完成项目结项时登记的实际人数。")

