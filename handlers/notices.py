"""WeChat's reports on notices we sent."""
from __future__ import annotations

from bot.router import Context, Router
from storage import notices

router = Router("notices")


@router.event("templatesendjobfinish")
def template_delivered(ctx: Context) -> None:
    fields = ctx.message.fields
    notices.template_job_finished(ctx.rt.db, fields.get("MsgID") or fields.get("MsgId", ""),
                                  fields.get("Status", ""), ctx.now)
    return None
