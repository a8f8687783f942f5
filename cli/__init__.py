"""The `nanhu` command: database, demo data, web, worker, menu, the WeChat stand-in, chat, nlp-eval.

One module per area registers its commands on `main` here."""
from __future__ import annotations

import click

from cli import announcements, cards, db, dev, events, language, opinions, ops, party, projects, queues, staff, stats


@click.group()
def main() -> None:
    """nanhu: the Nanhu sub-district's WeChat bot. Configuration from NANHU_CONFIG (default ./nanhu.toml)."""


for command in (db.db, dev.demo, dev.dev, dev.fake_wechat, dev.chat, ops.worker, ops.web, ops.menu, ops.send_text_cmd,
                queues.queues, language.nlp_eval, language.nlp_misses, opinions.opinions, projects.projects,
                events.events, party.party, staff.staff, announcements.announce, stats.stats, cards.card):
    main.add_command(command)


if __name__ == "__main__":
    main()
