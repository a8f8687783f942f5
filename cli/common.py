"""What the commands share: the configuration and runtime, the staff-action decorator, parsing staff's
dates and community names, tables and figures, WeChat's errors in one line."""
from __future__ import annotations

import functools
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import click

from bot import config as config_module
from bot.config import Config, ConfigError
from storage.lifecycle import InvalidTransition
from storage.rejections import Rejected

if TYPE_CHECKING:
    from bot.runtime import Runtime


def config() -> Config:
    """The configuration, or a one-line error saying what is wrong with it."""
    try:
        return config_module.load()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def runtime(cfg: Config) -> Runtime:
    """The runtime for a command that uses the database; refuses an unmigrated one clearly."""
    from bot import runtime as runtime_module
    from storage import migrate

    rt = runtime_module.build(cfg)
    try:
        migrate.require_current(rt.db)
    except migrate.SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(f"cannot reach the database at database.url: {type(exc).__name__}") from None
    runtime_module.set_process_default(rt)
    return rt


def flush_jobs(rt: Runtime) -> None:
    """Without a worker, the jobs a command queued (a resident's notice) run before it exits."""
    if rt.jobs.kind == "in-process":
        rt.jobs.shutdown()


def staff_action(show: Callable[[Runtime, Any], None]) -> Callable[[Callable[..., Any]], Callable[..., None]]:
    """A command that makes one change as staff. The decorated function takes the runtime before the
    command's parameters and returns what `show(rt, result)` prints. Storage's refusals become one-line
    errors (not found, a coded refusal, a transition the lifecycle does not allow); anything else is a bug
    and keeps its traceback. The notices the change wrote were queued as it committed, and without a
    worker they are delivered before the command exits."""
    def decorate(action: Callable[..., Any]) -> Callable[..., None]:
        @functools.wraps(action)
        def command(**params: Any) -> None:
            rt = runtime(config())
            try:
                result = action(rt, **params)
            except KeyError:
                raise
            except LookupError as exc:
                raise click.ClickException(str(exc).strip("'\"")) from None
            except (Rejected, InvalidTransition) as exc:
                raise click.ClickException(str(exc)) from None
            flush_jobs(rt)
            show(rt, result)
        return command
    return decorate


def community(rt: Runtime, name: str | None):
    """The community staff named on the command line (a fragment of its name will do), or None."""
    from storage import communities

    if not name:
        return None
    found = communities.match(communities.all_communities(rt.db), name)
    if found is None:
        raise click.ClickException(f"unknown community {name!r}: give a community name, e.g. 文华社区")
    return found


def local_time(text: str | None, fmt: str, tz, problem: Callable[[], click.ClickException]) -> datetime | None:
    """A date or time staff typed, in app.timezone; None when not given; `problem()` is raised when malformed."""
    if text is None:
        return None
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=tz)
    except ValueError:
        raise problem() from None


def when_option(text: str | None, name: str, tz) -> datetime | None:
    return local_time(text, "%Y-%m-%d %H:%M", tz, lambda: click.UsageError(
        f"{name} {text!r}: expected 'YYYY-MM-DD HH:MM' (in app.timezone)"))


def day_start(text: str | None, option: str, tz) -> datetime | None:
    return local_time(text, "%Y-%m-%d", tz, lambda: click.UsageError(f"{option} {text!r}: expected a date YYYY-MM-DD"))


def period(since: str | None, until: str | None, tz) -> tuple[datetime | None, datetime | None]:
    """--since and --until as the starts of their days in `tz`; since must come first."""
    start, end = day_start(since, "--since", tz), day_start(until, "--until", tz)
    if start is not None and end is not None and start >= end:
        raise click.UsageError(f"--since {since} must be before --until {until}")
    return start, end


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(rows: list[list[str]], figures: bool = False) -> list[str]:
    """Aligned columns (CJK characters count double), left-aligned; with `figures`, every column but the
    first right-aligned."""
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0] + " " * (widths[0] - display_width(row[0]))]
        for cell, w in zip(row[1:], widths[1:], strict=False):
            pad = " " * (w - display_width(cell))
            cells.append(pad + cell if figures else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return lines


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def wechat_error(exc: Exception) -> str:
    """A WeChat API failure in one line, without the URL (it carries the access token)."""
    import requests
    from wechatpy.exceptions import WeChatClientException

    if isinstance(exc, WeChatClientException):
        return f"WeChat answered errcode {exc.errcode} ({exc.errmsg})"
    if isinstance(exc, requests.RequestException):
        return f"cannot reach the WeChat API at wechat.api_base_url ({type(exc).__name__})"
    return f"{type(exc).__name__}"
