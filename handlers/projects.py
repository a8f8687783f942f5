"""Community projects in chat: members claim them and report progress, residents rate finished ones."""
from __future__ import annotations

from bot.replies import Text
from bot.router import Context, Router
from storage import party, projects

router = Router("projects")


@router.intent("project.list")
@router.menu("PROJECTS")
def list_projects(ctx: Context) -> Text:
    found = projects.claimable(ctx.rt.db)
    if not found:
        return Text("目前没有可认领的项目，有新项目会通知您。")
    lines = [f"{i}. 【{p.category}】{p.title}\n   {p.community_name or '全街道'}｜还可认领 {p.places_left} 人"
             for i, p in enumerate(found, 1)]
    return Text("可认领的社区项目：\n" + "\n".join(lines))


@router.intent("project.claim")
def claim(ctx: Context) -> Text:
    if party.member_for(ctx.rt.db, ctx.message.openid) is None:
        return Text("认领项目需要先完成党员认证：请发送「绑定」加上 6 位绑定码。")
    return Text("在线认领正在开通中，请先联系所在社区党委认领。发「项目」可查看可认领的项目。")
