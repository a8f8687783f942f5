"""Public disclosure pages for community projects ("三公开": content and beneficiaries, timeline,
expenditure), readable on a phone. Claimers appear by name and branch; never a phone number, and
evaluations never say who gave them."""
from __future__ import annotations

from html import escape

from flask import Blueprint, Response, current_app

from storage import projects

bp = Blueprint("public", __name__)

_STYLE = ("body{font-family:sans-serif;max-width:40rem;margin:0 auto;padding:.8rem;color:#222;line-height:1.5}"
          "h1{font-size:1.3rem;color:#b71c1c}h2{font-size:1.05rem;border-bottom:1px solid #eee;margin-top:1.2rem}"
          "table{border-collapse:collapse;width:100%}td{padding:.25rem .3rem;border-bottom:1px solid #f2f2f2;vertical-align:top}"
          ".muted{color:#777}.tag{background:#fce4e4;color:#b71c1c;padding:0 .3rem;border-radius:.2rem;font-size:.85rem}"
          "a{color:#1565c0}ul{padding-left:1.2rem}")


def _page(title: str, body: str, status: int = 200) -> Response:
    html = ("<!doctype html><html lang=zh-CN><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{escape(title)}</title><style>{_STYLE}</style><body>{body}</body></html>")
    return Response(html, status=status, mimetype="text/html")


def _yuan(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} 元"


@bp.get("/projects")
def project_list() -> Response:
    rt = current_app.extensions["nanhu"]["runtime"]
    rows = []
    for p in projects.all_projects(rt.db, include_cancelled=True):  # disclosure includes what was dropped
        state = projects.STATE_LABELS.get(p.status, p.status)
        rows.append(f"<tr><td>{p.id}</td><td><a href='/projects/{p.id}'>{escape(p.title)}</a><br>"
                    f"<span class=muted>{escape(p.category)} · {escape(p.community_name or '全街道')}</span></td>"
                    f"<td><span class=tag>{state}</span></td></tr>")
    body = ("<h1>南湖街道 社区项目公示</h1><p class=muted>内容与受益人、时间进度、资金使用，全部公开。</p>"
            + (f"<table>{''.join(rows)}</table>" if rows else "<p>暂无项目。</p>"))
    return _page("社区项目公示", body)


@bp.get("/projects/<int:project_id>")
def project_page(project_id: int) -> Response:
    rt = current_app.extensions["nanhu"]["runtime"]
    try:
        d = projects.disclosure(rt.db, project_id)
    except projects.ProjectNotFound:
        return _page("没有这个项目", "<h1>没有这个项目</h1><p><a href='/projects'>全部项目</a></p>", 404)
    p, tz = d.project, rt.tz

    def day(dt) -> str:
        local = dt.astimezone(tz)
        return f"{local.year}-{local.month:02d}-{local.day:02d}"

    actual = f"{d.beneficiaries_actual} 人（实际）" if d.beneficiaries_actual is not None else "项目完成后公布"
    parts = [
        f"<h1>{escape(p.title)}</h1>",
        f"<p><span class=tag>{projects.STATE_LABELS.get(p.status, p.status)}</span> "
        f"{escape(p.category)} · {escape(p.community_name or '全街道')}</p>",
        "<h2>一、内容与受益人</h2>",
        f"<p>{escape(d.description) or '—'}</p>",
        f"<table><tr><td>受益对象</td><td>{escape(d.beneficiaries) or '—'}</td></tr>"
        f"<tr><td>计划受益</td><td>{d.beneficiaries_planned} 人</td></tr>"
        f"<tr><td>实际受益</td><td>{actual}</td></tr></table>",
        "<h2>二、时间与进度</h2>",
        f"<p>计划：{escape(d.starts_on or '—')} 至 {escape(d.ends_on or '—')}"
        + (f"；{day(d.closed_at)} {'完成' if p.status == 'completed' else '结束'}" if d.closed_at else "") + "</p>",
    ]
    if d.milestones:
        parts.append("<ul>" + "".join(
            f"<li>{escape(due)} {escape(title)} " + (f"<span class=tag>已完成 {day(done)}</span>" if done else
                                                     "<span class=muted>未完成</span>") + "</li>"
            for title, due, done in d.milestones) + "</ul>")
    if d.progress:
        parts.append("<p>进展汇报：</p><ul>" + "".join(
            f"<li>{day(at)} {escape(name)}：{escape(text)}</li>" for at, name, text in d.progress) + "</ul>")
    parts += [
        "<h2>三、资金使用</h2>",
        f"<table><tr><td>预算</td><td>{_yuan(d.budget_yuan)}</td></tr>"
        f"<tr><td>实际支出</td><td>{_yuan(d.spent_yuan) if d.spent_yuan is not None else '项目完成后公布'}</td></tr></table>",
    ]
    if d.closing_note:
        parts.append(f"<p>说明：{escape(d.closing_note)}</p>")
    parts.append(f"<h2>认领党员（{len(d.claimers)}/{p.claim_slots}）</h2>")
    parts.append("<ul>" + "".join(f"<li>{escape(name)} · {escape(branch)}</li>" for name, branch in d.claimers)
                 + "</ul>" if d.claimers else "<p class=muted>尚无党员认领。</p>")
    average = f"平均 {d.average_stars:.1f} 星，{len(d.ratings)} 人评价" if d.ratings else "暂无评价"
    parts.append(f"<h2>居民评议（{average}）</h2>")
    if d.ratings:
        parts.append("<ul>" + "".join(f"<li>{'★' * stars}{'☆' * (5 - stars)} {escape(comment)} "
                                      f"<span class=muted>{day(at)}</span></li>" for stars, comment, at in d.ratings)
                     + "</ul>")
    elif p.status == "completed":
        parts.append(f"<p class=muted>在公众号发「评价 {p.id} 5 很实在」即可评价。</p>")
    parts.append("<p><a href='/projects'>全部项目</a></p>")
    return _page(p.title, "".join(parts))
