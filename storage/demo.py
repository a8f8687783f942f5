"""Demo data for `make run`: the 9 communities, upcoming events, claimable projects, a party roster, one staff login.

Community names are placeholders for a sub-district's real ones. Re-running is harmless: existing
demo rows are left as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from storage import audit, party
from storage.db import Database
from storage.models import Community, Event, PartyMember, Project, Staff

COMMUNITIES = [
    ("luohu", "罗湖社区"), ("xinnan", "新南社区"), ("wenhua", "文华社区"), ("jiabei", "嘉北社区"),
    ("yucun", "渔邨社区"), ("yujing", "渔景社区"), ("xiangxi", "向西社区"), ("haiguan", "海关社区"),
    ("nanhu", "南湖社区"),
]

# (title, community code or None for the whole sub-district, days from now, hour, place, capacity)
EVENTS = [
    ("社区党群嘉年华", None, 6, 9, "南湖街道文化广场", 200),
    ("粤剧粤曲进社区", "wenhua", 9, 19, "文华社区党群服务中心二楼", 60),
    ("读书月亲子共读", "xinnan", 12, 15, "新南社区图书室", 30),
    ("道德讲堂：邻里守望", "yucun", 15, 10, "渔邨社区会议室", 40),
]

# (title, category, community code, beneficiaries, planned count, budget, claim slots)
PROJECTS = [
    ("独居长者入户探访", "党建项目", "luohu", "辖区独居及空巢长者", 120, 8000.0, 4),
    ("楼道微改造：照明与扶手", "民生微实事", "jiabei", "嘉北社区老旧楼栋住户", 300, 45000.0, 2),
    ("四点半课堂志愿辅导", "党建项目", "xiangxi", "双职工家庭小学生", 60, 5000.0, 3),
]

# (name, mobile, branch, community code, demo binding code)
MEMBERS = [
    ("陈建华", "13800138001", "罗湖社区第一党支部", "luohu", "836215"),
    ("李秀英", "13800138002", "文华社区党支部", "wenhua", "402917"),
    ("王志强", "13800138003", "新南社区党支部", "xinnan", "571630"),
    ("张丽", "13800138004", "嘉北社区党支部", "jiabei", "269584"),
]

STAFF_USERNAME = "admin"
STAFF_PASSWORD = "nanhu-demo-2026"


@dataclass
class DemoSummary:
    created: bool
    codes: list[tuple[str, str]]


def load(db: Database, now: datetime, secret: str) -> DemoSummary:
    with db.transaction() as s:
        if s.scalar(select(Community.id).limit(1)) is not None:
            unbound = set(s.scalars(select(PartyMember.name).where(PartyMember.openid.is_(None),
                                                                   PartyMember.binding_code_hash.is_not(None))))
            return DemoSummary(False, [(m[0], m[4]) for m in MEMBERS if m[0] in unbound])
        ids = {}
        for code, name in COMMUNITIES:
            c = Community(code=code, name=name)
            s.add(c)
            s.flush()
            ids[code] = c.id
        today = now.replace(minute=0, second=0, microsecond=0)
        for title, community, days, hour, place, capacity in EVENTS:
            start = (today + timedelta(days=days)).replace(hour=hour % 24) - timedelta(hours=8)  # Beijing hour in UTC
            s.add(Event(title=title, description=f"{title}，欢迎居民报名参加。", community_id=ids.get(community),
                        place=place, starts_at=start, ends_at=start + timedelta(hours=2),
                        signup_deadline=start - timedelta(hours=12), capacity=capacity, max_per_registration=4))
        for title, category, community, who, count, budget, slots in PROJECTS:
            s.add(Project(title=title, category=category, community_id=ids[community], beneficiaries=who,
                          beneficiaries_planned=count, budget_yuan=budget, claim_slots=slots))
        for name, mobile, branch, community, code in MEMBERS:
            s.add(PartyMember(name=name, mobile=mobile, branch=branch, community_id=ids[community],
                              binding_code_hash=party.code_hash(code, secret),
                              binding_code_expires_at=now + party.CODE_VALIDITY))
        s.add(Staff(username=STAFF_USERNAME, display_name="街道管理员", role="admin",
                    password_hash=generate_password_hash(STAFF_PASSWORD)))
        audit.record(s, audit.SYSTEM, "demo.load", "database", "demo", at=now)
    return DemoSummary(True, [(m[0], m[4]) for m in MEMBERS])
