"""The party roster."""
from __future__ import annotations

from pathlib import Path

import click

from cli import common


@click.group()
def party() -> None:
    """The party roster: import members with binding codes from CSV, list them, issue a new code, unbind."""


def _roster_text(path: str) -> str:
    """The CSV as text: UTF-8 (with or without BOM), else GB18030 (a superset of the GBK that Excel writes on
    Chinese Windows, so rare characters in names survive too)."""
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    raise click.ClickException(f"{path} is neither UTF-8 nor GBK text: save the spreadsheet as CSV")


def _write_codes(out, created, tz) -> None:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "branch", "community", "mobile", "code", "expires"])
    for m in created:
        writer.writerow([m.name, m.branch, m.community, m.masked_mobile, m.code,
                         m.expires_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")])


@party.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--codes-out", default=None, type=click.Path(dir_okay=False),
              help="new CSV file for the binding codes (default: print them)")
@click.option("--as", "staff_name", default="admin", show_default=True)
def party_import(file: str, codes_out: str | None, staff_name: str) -> None:
    """Add members from a CSV with a header row: 姓名/name, 手机/mobile, 支部/branch, 社区/community, and
    optionally 职务/role, 入党日期/joined_on, 服务承诺/commitment. Every line is checked first; any problem
    and nothing is imported. Each new member gets a one-time binding code, shown only here."""
    import io

    from storage import roster
    from storage.audit import staff_actor

    text = _roster_text(file)
    rt = common.runtime(common.config())
    try:
        # opened before importing: the codes are in no other place, so they must have somewhere to go
        out = open(codes_out, "x", encoding="utf-8-sig", newline="") if codes_out else None  # Excel reads the BOM
    except FileExistsError:
        raise click.ClickException(f"{codes_out} already exists (it may hold codes not handed out yet): "
                                   "give a new file name") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {codes_out}: {exc.strerror}") from None
    report = None
    try:
        report = roster.import_csv(rt.db, text, rt.config.app.secret_key, rt.now(), staff_actor(staff_name))
    finally:
        if out and (report is None or not report.ok):  # no codes to keep: leave no empty file behind
            out.close()
            Path(codes_out).unlink()
    if report.ignored_columns:
        click.echo(f"ignored columns: {', '.join(report.ignored_columns)}", err=True)
    if not report.ok:
        for problem in report.problems:
            click.echo(problem, err=True)
        raise click.ClickException(f"{len(report.problems)} problem(s) in {file}; nothing was imported")
    # without --codes-out, standard output carries only the codes CSV, so it can be redirected to a file
    click.echo(f"imported {len(report.created)} party members", err=not out)
    if out:
        with out:
            _write_codes(out, report.created, rt.tz)
        click.echo(f"binding codes written to {codes_out}: give each member their own code; it is stored nowhere "
                   "else (nanhu party code ID issues a new one)")
    else:
        buffer = io.StringIO()
        _write_codes(buffer, report.created, rt.tz)
        click.echo(buffer.getvalue(), nl=False)


@party.command("list")
@click.option("--community", default=None, help="only this community (name)")
def party_list(community: str | None) -> None:
    """The roster with masked phones: bound or not, and until when an unused code works."""
    from storage import roster

    rt = common.runtime(common.config())
    now = rt.now()
    entries = roster.roster(rt.db, getattr(common.community(rt, community), "id", None))
    if not entries:
        click.echo("no party members")
        return

    def state(e) -> str:
        if e.bound:
            return "bound"
        if e.code_expires_at is None:
            return "no code"
        if e.code_expires_at <= now:
            return "code expired"
        return f"code until {e.code_expires_at.astimezone(rt.tz):%Y-%m-%d}"
    rows = [["id", "name", "mobile", "community", "branch", "role", "state", "points"]]
    rows += [[f"#{e.id}", e.name, e.masked_mobile, e.community or "-", e.branch, e.role, state(e), str(e.points)]
             for e in entries]
    for line in common.table(rows):
        click.echo(line)


@party.command("code")
@click.argument("member_id", type=int)
@click.option("--as", "staff_name", default="admin", show_default=True)
def party_code(member_id: int, staff_name: str) -> None:
    """A new binding code for a member not yet bound (shown once; the previous code stops working)."""
    from storage import roster
    from storage.audit import staff_actor
    from storage.party import CODE_VALIDITY

    rt = common.runtime(common.config())
    now = rt.now()
    try:
        code = roster.new_binding_code(rt.db, member_id, rt.config.app.secret_key, now, staff_actor(staff_name))
    except (roster.MemberNotFound, roster.RosterError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"binding code for #{member_id}: {code}, until {(now + CODE_VALIDITY).astimezone(rt.tz):%Y-%m-%d %H:%M}"
               f" (the member sends 「绑定 {code}」; it is shown only now)")


@party.command("unbind")
@click.argument("member_id", type=int)
@click.option("--as", "staff_name", default="admin", show_default=True)
def party_unbind(member_id: int, staff_name: str) -> None:
    """Release a member's WeChat account (e.g. a new phone); identity-card links issued before stop verifying."""
    from storage import roster
    from storage.audit import staff_actor

    rt = common.runtime(common.config())
    try:
        member = roster.unbind(rt.db, member_id, staff_actor(staff_name), rt.now())
    except (roster.MemberNotFound, roster.RosterError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{member.id} {member.name} is no longer bound; card links issued before no longer verify. "
               f"To bind again: nanhu party code {member.id}")
