"""What the CLI and the logs say when a service refuses (English, for the people who run nanhu)."""
from __future__ import annotations

from wording.catalogue import Catalogue

OPERATORS = Catalogue("operators", {
    # events
    "event.title": "title: 1 to 128 characters",
    "event.end_before_start": "end: must be after the start",
    "event.start_in_past": "start: must be in the future",
    "event.capacity": "capacity: a number of places from 1 to 100000",
    "event.max_per_registration": "max per registration: from 1 to 50",
    "event.deadline_after_start": "sign-up deadline: must not be after the start",
    "event.reminder_hours": "reminder hours: from 0 (none) to 336",
    "event.audience": "audience: everyone or party",
    "event.place": "place: at most 128 characters",
    "event.not_open": "event {event_id} is {status}",
    "event.already_cancelled": "event {event_id} is already cancelled",
    "event.already_ended": "event {event_id} has already ended",
    # projects
    "project.bad_date": lambda name, text: f"{name}: expected a date YYYY-MM-DD, got {text!r}",
    "project.bad_milestone_date": lambda title, text: f"milestone {title!r}: expected a date YYYY-MM-DD, got {text!r}",
    "project.title": "title: 1 to 128 characters",
    "project.claim_slots": "claim slots: from 1 to 1000 members",
    "project.negative_plan": "budget and planned beneficiaries cannot be negative",
    "project.category": "category: 1 to 32 characters (e.g. 民生微实事)",
    "project.end_before_start": "end: must not be before the start",
    "project.milestone_title": "milestone: a title is needed",
    "project.no_milestone": "project {project_id} has {count} milestones; no number {number}",
    "project.negative_result": "beneficiaries and spending cannot be negative",
    "project.already_closed": "project {project_id} is already {status}",
    # opinions (these were worded for residents, and the CLI shows them as they are)
    "opinion.empty": "内容是空的",
    "opinion.too_long": "内容有 {length} 字，超过了 {limit} 字",
    "opinion.too_many": "一小时内最多反映 {limit} 个问题",
    "opinion.already_reported": "已经反映过（工单号 {ticket_no}）",
    "opinion.empty_reply": "回复内容是空的",
    "opinion.empty_department": "承办部门是空的",
    "opinion.reassign_closed": "{ticket_no} is {status}; only open tickets are reassigned",
    "opinion.unknown_category": lambda category, categories: (
        f"unknown category {category!r}; categories: {', '.join(categories)}"),
    "opinion.category_closed": "{ticket_no} is {status}; only open tickets change category",
    "opinion.merge_into_itself": "a ticket cannot be merged into itself",
    "opinion.merge_into_merged": "{target} is itself merged into {parent}; merge into that one",
    "opinion.merge_into_closed": "{target} is closed ({status}); merge into an open or resolved ticket",
    "opinion.no_ticket": "no opinion {ticket_no}",
    # announcements (worded for staff in chat and the admin, as they are)
    "announcement.unknown_audience": "unknown audience {kind!r}",
    "announcement.title": "标题不能为空，且不超过 64 字",
    "announcement.body": "正文不能为空，且不超过 1000 字",
    "announcement.time_passed": "发送时间已经过去",
    "announcement.nobody": "这个范围内还没有关注公众号的居民",
    # staff accounts
    "staff.password": "password: at least {length} characters",
    "staff.username": "username: 2-64 letters, digits, _ . -",
    "staff.role": "role: admin (whole sub-district) or community",
    "staff.community_needed": "community staff need a community",
    "staff.username_taken": lambda username: f"username {username!r} is taken",
    # the party roster
    "roster.already_bound": ("member #{member_id} {name} is already bound; unbind first "
                             "(nanhu party unbind {member_id}) if their WeChat account changed"),
    "roster.not_bound": "member #{member_id} {name} is not bound",
    "roster.header_empty": "header: the file is empty; line 1 should name the columns, e.g. 姓名,手机,支部,社区,职务",
    "roster.header_twice": "header: column {label} appears twice (columns {first} and {second})",
    "roster.header_missing": "header: missing column {label}",
    "roster.header_line": "header: line {line} should name the columns, e.g. 姓名,手机,支部,社区,职务",
    "roster.no_members": "the file has no members under the header",
    "roster.too_many_values": ("line {line}: more values than the header has columns "
                               "(a comma inside a value must be in double quotes)"),
    "roster.empty": "line {line}: {label} is empty",
    "roster.too_long": "line {line}: {label} is longer than {limit} characters",
    "roster.bad_mobile": "line {line}: mobile {mobile} is not an 11-digit mainland mobile",
    "roster.unknown_community": "line {line}: unknown community {community}",
    "roster.bad_date": "line {line}: joined_on (入党日期) {value} is not a date YYYY-MM-DD",
    "roster.mobile_again": "line {line}: mobile {mobile} appears again (line {first})",
    "roster.mobile_on_roster": "line {line}: mobile {mobile} is already on the roster",
    "roster.changed_meanwhile": ("the roster changed while importing (a mobile was added meanwhile); nothing was "
                                 "imported: run the import again to see which line"),
})
