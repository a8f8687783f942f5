"""How well the bot understands residents: nlp-eval, nlp-misses."""
from __future__ import annotations

import sys

import click

from cli import common


@click.command("nlp-eval")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--lexicon", "lexicon", type=click.Path(exists=True, dir_okay=False), default=None,
              help="evaluate with this lexicon file instead of the deployed one (try a change before deploying it)")
def nlp_eval(file: str | None, lexicon: str | None) -> None:
    """Accuracy, per-intent precision/recall/F1 and misclassified lines of a labelled TSV."""
    from nlp import evaluate

    sys.exit(evaluate.main(file, lexicon_path=lexicon))


@click.command("nlp-misses")
@click.option("--days", type=int, default=30, show_default=True, help="only messages from the last N days")
@click.option("--top", type=int, default=50, show_default=True)
def nlp_misses(days: int, top: int) -> None:
    """Messages the bot did not understand, most frequent first, with what it makes of them now."""
    from datetime import datetime, timedelta

    import nlp
    from bot.logs import read_misses

    cfg = common.config()
    if not cfg.app.lexicon_log:
        raise click.ClickException("app.lexicon_log is empty: not-understood messages are not being kept")
    misses = read_misses(cfg.app.lexicon_log, datetime.now() - timedelta(days=days))[:top]
    if not misses:
        click.echo(f"no not-understood messages in {cfg.app.lexicon_log} from the last {days} days")
        return
    nlp.load()
    click.echo("count  last seen         now understood as   message")
    for m in misses:
        now = nlp.classify(m.text).name
        click.echo(f"{m.count:5d}  {m.last_seen:%Y-%m-%d %H:%M}  {now:<18}  {m.text}")
