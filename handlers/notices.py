"""WeChat's reports on notices we sent."""
from __future__ import annotations

from bot.chat.router import Context, Router
from storage import notices

router = Router("notices")


@router.event("templatesendjobfinish")
def template_delivered(ctx: Context) -> None:
    fields = ctx.message.fields
    notices.template_job_finished(ctx.rt.db, fields.get("MsgID") or fields.get("MsgId", ""),
                                  fields.get("Status", ""), ctx.now)
    return None


@router.event("masssendjobfinish")
def mass_delivered(ctx: Context) -> None:
    fields = ctx.message.fields
    counts = {}
    for name in ("TotalCount", "FilterCount", "SentCount", "ErrorCount"):
        try:
            counts[name] = int(fields.get(name, "0"))
        except ValueError:
            counts[name] = 0
    counts["status"] = fields.get("Status", "")
    notices.mass_job_finished(ctx.rt.db, fields.get("MsgID") or fields.get("MsgId", ""), counts, ctx.now)
    return None
