"""The folders' dependencies point one way: each layer imports only itself and the layers below it.

The import graph is read from the source (every `import`, function-level ones included), so an
import added inside a function to dodge a cycle is caught as well. Module-level cycles fail too,
whatever the layers.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nlp", "wording", "bot", "storage", "jobs", "handlers", "web", "cli", "deploy", "devtools")

# Lowest first. A module may import its own group and any group of a lower layer; groups on one
# layer (the webhook and the web pages) may not import each other, except in the top layer: the
# shells that start things. The longest prefix decides a module's group.
LAYERS: list[list[str]] = [
    ["nlp"],                                   # pure: text in, intent and slots out
    ["wording"],                               # what each audience reads, in one catalogue each
    ["bot.config", "bot.logs"],                # configuration and logging
    ["storage"],                               # services, models, the database and the shared store
    ["bot.wechat", "jobs.queue"],              # WeChat's protocol and API client; the job queue
    ["jobs.outbox"],                           # the relay: a commit's notices queued for delivery
    ["bot.runtime", "bot.links", "bot.card_picture"],  # what a request or a job reaches
    ["jobs"],                                  # notices delivered within WeChat's quotas
    ["bot.chat"],                              # router, conversations, clarifying questions
    ["handlers", "bot.webhook", "web"],        # the chat in Chinese; receiving a push; the pages
    ["bot.app", "bot.wsgi", "bot", "cli", "deploy", "devtools"],  # the shells that know everything
]


def layer_of(module: str) -> tuple[int, str]:
    best: tuple[int, str] | None = None
    for level, groups in enumerate(LAYERS):
        for group in groups:
            if (module == group or module.startswith(group + ".")) and (best is None or len(group) > len(best[1])):
                best = (level, group)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add its folder to LAYERS")
    return best


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    module_level: bool      # run when the module is imported (not inside a function or TYPE_CHECKING)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[module_name(path, root)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str, path: Path, known: set[str]) -> list[Import]:
    """Every import of our own modules in `path`; `from a import b` counts as a.b when b is a module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def target(name: str) -> str | None:
        return name if name.split(".")[0] in PACKAGES else None

    def visit(node: ast.AST, module_level: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            module_level = False
        if isinstance(node, ast.If) and _is_type_checking(node):
            module_level = False
        if isinstance(node, ast.Import):
            for alias in node.names:
                if target(alias.name):
                    found.append(Import(module, alias.name, node.lineno, module_level))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if target(base):
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    found.append(Import(module, full if full in known else base, node.lineno, module_level))
        for child in ast.iter_child_nodes(node):
            visit(child, module_level)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def import_graph(root: Path = ROOT) -> list[Import]:
    found = modules(root)
    return [edge for module, path in found.items() for edge in imports(module, path, set(found))]


def upward(edges: list[Import]) -> list[str]:
    """The imports that go against the layers."""
    wrong = []
    for edge in edges:
        (src_level, src_group), (dst_level, dst_group) = layer_of(edge.source), layer_of(edge.target)
        sideways = dst_level == src_level < len(LAYERS) - 1 and dst_group != src_group
        if dst_level > src_level or sideways:
            wrong.append(f"{edge.source}:{edge.line} imports {edge.target} "
                         f"({src_group} may not depend on {dst_group})")
    return wrong


def cycles(edges: list[Import]) -> list[list[str]]:
    """Module-level import cycles (a package's __init__ counts as the package)."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        if edge.module_level and edge.source != edge.target:
            graph.setdefault(edge.source, set()).add(edge.target)
    found, state, stack = [], {}, []

    def walk(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return found


# --- the tree as it is ---------------------------------------------------------------------------

def test_every_module_belongs_to_a_layer():
    for module in modules(ROOT):
        layer_of(module)


def test_no_import_goes_up_a_layer():
    assert upward(import_graph()) == []


def test_no_module_level_import_cycle():
    assert cycles(import_graph()) == []


def test_only_the_app_factory_knows_the_handlers():
    assert [f"{e.source}:{e.line}" for e in import_graph()
            if e.target.startswith("handlers") and not e.source.startswith(("handlers", "bot.app"))] == []


def test_the_router_knows_no_flow_it_routes_to():
    """The clarifying question is an ordinary router the app factory includes: the router does not
    special-case it, and it does not call the router back."""
    assert [f"{e.source}:{e.line}" for e in import_graph()
            if e.source == "bot.chat.router" and e.target.startswith(("bot.chat.clarify", "handlers"))] == []


def test_nlp_is_pure():
    """nlp takes text and gives intents and slots: it imports nothing else of ours."""
    assert [e for e in import_graph() if e.source.startswith("nlp") and not e.target.startswith("nlp")] == []


# --- the checks themselves catch what they are for -----------------------------------------------

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("where", ["module", "function"])
def test_a_job_importing_the_chat_engine_is_refused(tmp_path, where):
    body = "from bot.chat import router\n" if where == "module" else \
        "def send():\n    from bot.chat import router\n"
    root = _tree(tmp_path, {"jobs/__init__.py": "", "jobs/delivery.py": body,
                            "bot/__init__.py": "", "bot/chat/__init__.py": "", "bot/chat/router.py": ""})
    assert upward(import_graph(root)) == [
        "jobs.delivery:%d imports bot.chat.router (jobs may not depend on bot.chat)" % (1 if where == "module" else 2)]


def test_the_webhook_and_the_web_pages_may_not_import_each_other(tmp_path):
    root = _tree(tmp_path, {"web/__init__.py": "", "web/admin.py": "from bot.webhook import turn\n",
                            "bot/__init__.py": "", "bot/webhook/__init__.py": "", "bot/webhook/turn.py": ""})
    assert len(upward(import_graph(root))) == 1


def test_a_type_checking_import_is_still_an_edge_but_no_cycle(tmp_path):
    root = _tree(tmp_path, {
        "bot/__init__.py": "", "bot/chat/__init__.py": "",
        "bot/chat/router.py": "from bot.chat import conversation\n",
        "bot/chat/conversation.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                    "    from bot.chat import router\n"})
    edges = import_graph(root)
    assert {(e.source, e.target) for e in edges} == {("bot.chat.router", "bot.chat.conversation"),
                                                   ("bot.chat.conversation", "bot.chat.router")}
    assert cycles(edges) == []


def test_a_package_init_importing_its_own_modules_back_is_a_cycle(tmp_path):
    root = _tree(tmp_path, {"web/__init__.py": "", "web/admin/__init__.py": "from web.admin import pages\nbp = 1\n",
                            "web/admin/pages.py": "from web.admin import bp\n"})
    assert cycles(import_graph(root)) == [["web.admin", "web.admin.pages", "web.admin"]]


def test_a_cycle_across_layers_is_found(tmp_path):
    root = _tree(tmp_path, {"storage/__init__.py": "", "storage/a.py": "import storage.b\n",
                            "storage/b.py": "from storage import c\n", "storage/c.py": "from storage.a import x\n"})
    assert cycles(import_graph(root)) == [["storage.a", "storage.b", "storage.c", "storage.a"]]
