"""Measure the classifier on a labelled corpus: `nanhu nlp-eval [FILE]` or `python -m nlp.evaluate [FILE]`.

The corpus is a UTF-8 TSV with the header `text<TAB>intent`; blank lines and lines starting
with # are skipped.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from nlp.classifier import INTENTS, classify

PASS_ACCURACY = 0.90
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


def evaluate(path: str | os.PathLike[str]) -> Report:
    rows = read_corpus(path)
    got = [classify(text).name for text, _ in rows]
    per_intent = {}
    for name in INTENTS:
        true_pos = sum(1 for (_, want), g in zip(rows, got) if want == name and g == name)
        support = sum(1 for _, want in rows if want == name)
        predicted = got.count(name)
        if not support and not predicted:
            continue
        precision, recall = _ratio(true_pos, predicted), _ratio(true_pos, support)
        f1 = _ratio(2 * true_pos, predicted + support)  # = 2PR / (P + R)
        per_intent[name] = IntentScore(precision, recall, f1, support)
    misclassified = [(text, want, g) for (text, want), g in zip(rows, got) if want != g]
    correct = len(rows) - len(misclassified)
    return Report(str(path), len(rows), correct, _ratio(correct, len(rows)), per_intent, misclassified)


def format_report(report: Report) -> str:
    verdict = "pass" if report.accuracy >= PASS_ACCURACY else "FAIL"
    lines = [
        f"NLP evaluation of {report.path}",
        f"accuracy {report.accuracy:.3f} ({report.correct}/{report.total}), {verdict} at >= {PASS_ACCURACY:.2f}",
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


def main(path: str | None = None) -> int:
    """Print the report; 0 when accuracy >= PASS_ACCURACY, 1 when below, 2 when the corpus is unreadable."""
    corpus = Path(path) if path else default_corpus()
    try:
        report = evaluate(corpus)
    except (OSError, ValueError) as exc:
        print(f"nlp-eval: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0 if report.accuracy >= PASS_ACCURACY else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
