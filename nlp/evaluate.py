"""Measure the classifier on a labelled corpus: `nanhu nlp-eval [FILE]` or
`python -m nlp.evaluate [FILE] [--lexicon LEXICON.toml]`.

The corpus is a UTF-8 TSV with the header `text<TAB>intent`; blank lines and lines starting
with # are skipped. With a lexicon file, that candidate is checked and measured without touching
the process-wide lexicon, so a change can be judged before it is deployed.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from nlp.classifier import INTENTS, classify
from nlp.intent import PASSIVE
from nlp.lexicon import Lexicon, read_lexicon

PASS_ACCURACY = 0.95
CORPUS = Path("tests") / "data" / "intents.tsv"


@dataclass(frozen=True)
class IntentScore:
    precision: float
    recall: float
    f1: float
    support: int  # messages labelled with this intent


@dataclass(frozen=True)
class Report:
    path: str
    total: int
    correct: int
    accuracy: float
    per_intent: dict[str, IntentScore]
    misclassified: list[tuple[str, str, str]]  # (text, expected, got)
    off_topic: int = 0          # messages labelled unknown
    off_topic_actions: int = 0  # ... of them classified as an action (anything but unknown / help)
    lexicon: str = "lexicon.toml"

    @property
    def off_topic_action_rate(self) -> float:
        return _ratio(self.off_topic_actions, self.off_topic)


def read_corpus(path: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(text, intent) pairs; a bad header, line or intent name raises ValueError naming the line."""
    rows: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").lstrip("\ufeff")
        if header.split("\t") != ["text", "intent"]:
            raise ValueError(f"{path}:1: header must be 'text<TAB>intent', got {header!r}")
        for number, line in enumerate(f, start=2):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            text, sep, intent = line.rpartition("\t")
            if not sep or not text.strip():
                raise ValueError(f"{path}:{number}: expected 'text<TAB>intent', got {line!r}")
            if intent.strip() not in INTENTS:
                raise ValueError(f"{path}:{number}: {intent!r} is not one of nlp.INTENTS")
            rows.append((text, intent.strip()))
    return rows


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def evaluate(path: str | os.PathLike[str], lexicon: Lexicon | None = None) -> Report:
    """Classify every message of the corpus (with `lexicon`, or the process-wide one) and score it."""
    rows = read_corpus(path)
    got = [classify(text, lexicon).name for text, _ in rows]
    per_intent = {}
    for name in INTENTS:
        true_pos = sum(1 for (_, want), g in zip(rows, got, strict=True) if want == name and g == name)
        support = sum(1 for _, want in rows if want == name)
        predicted = got.count(name)
        if not support and not predicted:
            continue
        precision, recall = _ratio(true_pos, predicted), _ratio(true_pos, support)
        f1 = _ratio(2 * true_pos, predicted + support)  # = 2PR / (P + R)
        per_intent[name] = IntentScore(precision, recall, f1, support)
    misclassified = [(text, want, g) for (text, want), g in zip(rows, got, strict=True) if want != g]
    correct = len(rows) - len(misclassified)
    off_topic = sum(1 for _, want in rows if want == "unknown")
    off_topic_actions = sum(1 for (_, want), g in zip(rows, got, strict=True) if want == "unknown" and g not in PASSIVE)
    return Report(str(path), len(rows), correct, _ratio(correct, len(rows)), per_intent, misclassified,
                  off_topic, off_topic_actions, lexicon.source if lexicon else "lexicon.toml")


def format_report(report: Report) -> str:
    verdict = "pass" if report.accuracy >= PASS_ACCURACY else "FAIL"
    lines = [
        f"NLP evaluation of {report.path} with {report.lexicon}",
        f"accuracy {report.accuracy:.3f} ({report.correct}/{report.total}), {verdict} at >= {PASS_ACCURACY:.2f}",
        (f"off-topic messages taken as an action: {report.off_topic_actions}/{report.off_topic}"
         f" ({report.off_topic_action_rate:.0%})"),
        "",
        f"{'intent':<16} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}",
    ]
    for name, s in report.per_intent.items():
        lines.append(f"{name:<16} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>8}")
    lines += ["", f"misclassified: {len(report.misclassified)}"]
    lines += [f"  expected {want:<15} got {got:<15} {text}" for text, want, got in report.misclassified]
    return "\n".join(lines)


def default_corpus() -> Path:
    """tests/data/intents.tsv under the current directory, else the one in this source checkout."""
    here = Path.cwd() / CORPUS
    return here if here.exists() else Path(__file__).resolve().parent.parent / CORPUS


def main(path: str | None = None, lexicon_path: str | None = None) -> int:
    """Print the report; 0 when accuracy >= PASS_ACCURACY, 1 when below, 2 when the corpus or the
    lexicon is unreadable or invalid (the message names the line)."""
    corpus = Path(path) if path else default_corpus()
    try:
        lexicon = read_lexicon(lexicon_path) if lexicon_path else None
        report = evaluate(corpus, lexicon)
    except (OSError, ValueError) as exc:  # LexiconError is a ValueError
        print(f"nlp-eval: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0 if report.accuracy >= PASS_ACCURACY else 1


def _cli(argv: list[str]) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m nlp.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", help="labelled TSV (default: tests/data/intents.tsv)")
    parser.add_argument("--lexicon", help="a candidate lexicon file to measure instead of the deployed one")
    args = parser.parse_args(argv)
    return main(args.file, args.lexicon)


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
