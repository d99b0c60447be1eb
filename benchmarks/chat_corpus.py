"""Seeded synthetic conversation corpora in the OpenAI chat format, built from real prose.

Two corpora, one JSON object per line (the `import-chat` input, DESIGN §4):

- `chats`: multi-turn user/assistant conversations. Text is real English found offline on the
  machine: docstrings of the Python standard library and of the packages installed in the
  running environment (read with `ast`, nothing is imported), package METADATA descriptions,
  the licence texts under /usr/share/common-licenses and the READMEs under /usr/share/doc,
  split into sentences. A message is a few runs of one to three consecutive sentences taken
  from random places, so two conversations almost never share more than a sentence verbatim
  (real chats rarely do); assistant answers sometimes carry a code block cut from stdlib
  source or a bullet list. Every message has the metadata real logs carry: a random message
  id, a timestamp, and for assistants the model, finish reason and token usage.
- `agents`: agent-framework traces. Each session uses one of four long system prompts
  (2-6 KB, shared by thousands of sessions) and one of three `tools` arrays of JSON function
  schemas (several KB, shared), then a task, several rounds of assistant reasoning with
  `tool_calls` (random call ids, JSON arguments) and tool results (JSON documents whose values
  vary: search hits, file excerpts, query rows, HTTP bodies), and a final answer.

These are synthetic proxies built from real prose, not real logs: real logs have their own
vocabulary, typos, languages and repetition, so ratios measured here say how the vault
behaves on text of this kind, not what a given customer will see.

Same seed, same arguments and the same machine (its stdlib and /usr/share) give byte-identical
files.

    .venv/bin/python -m benchmarks.chat_corpus chats 3000 benchmarks/data/chats.jsonl
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import re
import string
import sysconfig
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_WORDY = re.compile(r"^[A-Za-z(\"'][^\t]*[.!?]$")
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
CHAT_MODELS = ("gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18", "gpt-4.1-2025-04-14", "o3-mini")
AGENT_MODELS = ("gpt-4.1-2025-04-14", "gpt-4o-2024-11-20")
CHAT_SYSTEM = (
    "You are a helpful assistant.",
    "You are ChatGPT, a large language model. Answer concisely and accurately.",
    "You are a patient tutor. Explain step by step and check understanding.",
)


# prose ------------------------------------------------------------------------------------------


def _source_files() -> list[Path]:
    """Python sources of the standard library, then of the installed packages."""
    skip = {"site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "__pycache__"}
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    packages = Path(sysconfig.get_paths()["purelib"])
    out = sorted(
        p for p in stdlib.rglob("*.py") if not skip.intersection(p.relative_to(stdlib).parts)
    )
    if packages != stdlib:
        out += sorted(
            p
            for p in packages.rglob("*.py")
            if not skip.intersection(p.relative_to(packages).parts) and p.stat().st_size < 400_000
        )
    return out


def _docstrings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and (doc := ast.get_docstring(node)):
            yield doc


def _doc_files() -> Iterator[str]:
    for path in sorted(Path("/usr/share/common-licenses").glob("*")):
        if path.is_file():
            yield path.read_text(encoding="utf-8", errors="replace")
    for path in sorted(Path(sysconfig.get_paths()["purelib"]).glob("*.dist-info/METADATA")):
        yield path.read_text(encoding="utf-8", errors="replace")
    for path in sorted(Path("/usr/share/doc").glob("*/README*")):
        try:
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
        except (OSError, EOFError):
            continue
        yield data.decode("utf-8", errors="replace")


def _sentences(text: str) -> list[str]:
    """Prose sentences of a text: paragraphs joined into lines, split at sentence ends; code,
    tables and doctest lines dropped."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = paragraph.strip().splitlines()
        markers = (">>>", "...", "$ ", "|", "+-")
        if not lines or any(ln.lstrip().startswith(markers) for ln in lines):
            continue
        flat = " ".join(ln.strip() for ln in lines)
        for sentence in _SENTENCE_END.split(flat):
            sentence = sentence.strip()
            letters = sum(c.isalpha() or c == " " for c in sentence)
            if (
                30 <= len(sentence) <= 320
                and letters > 0.85 * len(sentence)
                and _WORDY.match(sentence)
            ):
                out.append(sentence)
    return out


POOL_CACHE = Path(__file__).resolve().parent / "data" / "prose_pool.json"


@lru_cache(maxsize=1)
def prose() -> tuple[list[list[str]], list[list[str]]]:
    """The prose pool, read from `POOL_CACHE` (git-ignored) or built and cached there: parsing
    every installed package takes a minute."""
    if POOL_CACHE.exists():
        cached = json.loads(POOL_CACHE.read_text(encoding="utf-8"))
        return cached["runs"], cached["code"]
    runs, code = _build_prose()
    POOL_CACHE.parent.mkdir(parents=True, exist_ok=True)
    tmp = POOL_CACHE.with_name(f".{POOL_CACHE.name}.tmp")
    tmp.write_text(json.dumps({"runs": runs, "code": code}), encoding="utf-8")
    tmp.replace(POOL_CACHE)
    return runs, code


def _build_prose() -> tuple[list[list[str]], list[list[str]]]:
    """(paragraph-ordered sentence runs, code snippets) from the machine's Python sources
    (stdlib and installed packages) and docs.
    Sentences stay in their source order inside a run, so runs of consecutive sentences read
    like prose."""
    runs: list[list[str]] = []
    code: list[list[str]] = []
    seen: set[str] = set()
    texts: list[str] = []
    for path in _source_files():
        texts.extend(_docstrings(path))
        source = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for start in range(0, max(0, len(source) - 40), 400):
            window = [ln.rstrip() for ln in source[start : start + 40] if ln.strip()]
            if len(window) >= 12 and not any("\t" in ln for ln in window):
                code.append(window)
    texts.extend(_doc_files())
    for text in texts:
        run = []
        for sentence in _sentences(text):
            if sentence not in seen:
                seen.add(sentence)
                run.append(sentence)
        if run:
            runs.append(run)
    return runs, code


class _Text:
    """Draws prose from the pool with one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.runs, self.code = prose()
        self.weights = None

    def sentences(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            run = self.rng.choice(self.runs)
            take = min(self.rng.randint(1, 3), n - len(out), len(run))
            at = self.rng.randrange(len(run) - take + 1)
            out.extend(run[at : at + take])
        return out

    def paragraph(self, lo: int, hi: int) -> str:
        return " ".join(self.sentences(self.rng.randint(lo, hi)))

    def words(self, lo: int, hi: int) -> str:
        words = re.findall(r"[A-Za-z]+", self.sentences(1)[0])
        n = self.rng.randint(lo, hi)
        at = self.rng.randrange(max(1, len(words) - n + 1))
        return " ".join(words[at : at + n]) or "untitled"

    def snippet(self) -> str:
        lines = self.rng.choice(self.code)
        n = self.rng.randint(6, min(20, len(lines)))
        at = self.rng.randrange(len(lines) - n + 1)
        return "\n".join(lines[at : at + n])

    def question(self) -> str:
        sentence = self.sentences(1)[0].rstrip(".!?")
        lead = self.rng.choice(
            (
                "Can you explain what this means: ",
                "I read that ",
                "Why is it that ",
                "Quick question. ",
                "",
                "Is this right? ",
                "Help me understand this: ",
            )
        )
        body = sentence[0].lower() + sentence[1:] if lead and lead[-2] not in ".:?" else sentence
        extra = " " + self.paragraph(0, 2) if self.rng.random() < 0.6 else ""
        return f"{lead}{body}?{extra}".strip()


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _tokens(text: str | None) -> int:
    return max(1, len(text or "") // 4)


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# chats ------------------------------------------------------------------------------------------


def _answer(text: _Text) -> str:
    rng = text.rng
    parts = [text.paragraph(2, 5)]
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        roll = rng.random()
        if roll < 0.25:
            parts.append(f"```python\n{text.snippet()}\n```")
        elif roll < 0.45:
            parts.append("\n".join(f"- {s}" for s in text.sentences(rng.randint(2, 5))))
        else:
            parts.append(text.paragraph(1, 4))
    return "\n\n".join(parts)


def chat(rng: random.Random, text: _Text, number: int) -> dict[str, Any]:
    at = START + timedelta(seconds=number * 173 + rng.randint(0, 120))
    model = rng.choice(CHAT_MODELS)
    messages: list[dict[str, Any]] = []
    if rng.random() < 0.3:
        messages.append({"role": "system", "content": rng.choice(CHAT_SYSTEM)})
    history = sum(_tokens(m["content"]) for m in messages)
    for _ in range(min(12, 1 + int(rng.expovariate(1 / 3.5)))):
        at += timedelta(seconds=rng.randint(5, 240))
        question = text.question()
        messages.append(
            {"role": "user", "id": f"msg_{_alnum(rng, 24)}", "content": question,
             "created_at": _stamp(at)}
        )  # fmt: skip
        history += _tokens(question)
        answer = _answer(text)
        at += timedelta(milliseconds=rng.randint(900, 25_000))
        completion = _tokens(answer)
        messages.append(
            {
                "role": "assistant",
                "id": f"msg_{_alnum(rng, 24)}",
                "content": answer,
                "created_at": _stamp(at),
                "model": model,
                "finish_reason": "stop" if rng.random() < 0.97 else "length",
                "usage": {
                    "prompt_tokens": history,
                    "completion_tokens": completion,
                    "total_tokens": history + completion,
                },
            }
        )
        history += completion
    return {
        "id": f"conv_{_hex(rng, 32)}",
        "user_id": f"user_{_alnum(rng, 4)}{rng.randrange(1500):04d}",
        "title": text.words(3, 7).capitalize(),
        "model": model,
        "created_at": messages[0].get("created_at") or _stamp(at),
        "messages": messages,
    }


# agents -----------------------------------------------------------------------------------------

_TOOL_NAMES = (
    ("search_docs", "read_file", "write_file", "run_sql", "http_get", "list_directory",
     "create_ticket", "send_email", "get_calendar", "summarize", "run_tests", "git_diff"),
    ("web_search", "fetch_url", "extract_table", "python_exec", "store_memory", "recall_memory",
     "translate", "classify", "get_customer", "update_customer"),
    ("search_orders", "get_order", "refund_order", "get_inventory", "reserve_stock",
     "lookup_shipping", "escalate", "add_note", "get_policy", "notify_user", "schedule_callback",
     "verify_identity", "compute_discount", "list_promotions"),
)  # fmt: skip


def _schema(text: _Text, name: str) -> dict[str, Any]:
    rng = text.rng
    properties: dict[str, Any] = {}
    for index in range(rng.randint(2, 6)):
        key = re.sub(r"\W+", "_", text.words(1, 2).lower()) + (f"_{index}" if index else "")
        kind = rng.choice(("string", "string", "integer", "boolean", "array", "number"))
        prop: dict[str, Any] = {"type": kind, "description": text.paragraph(1, 1)}
        if kind == "array":
            prop["items"] = {"type": "string"}
        if kind == "string" and rng.random() < 0.3:
            prop["enum"] = sorted({text.words(1, 1).lower() for _ in range(rng.randint(2, 5))})
        properties[key] = prop
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": text.paragraph(1, 3),
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": sorted(rng.sample(sorted(properties), k=min(2, len(properties)))),
                "additionalProperties": False,
            },
        },
    }


def _system_prompt(text: _Text, name: str, target: int) -> str:
    rng = text.rng
    parts = [f"# {name}\n\nYou are {name}, an autonomous agent. {text.paragraph(2, 3)}"]
    section = 0
    while sum(map(len, parts)) < target:
        section += 1
        title = text.words(2, 4).title()
        if rng.random() < 0.5:
            body = "\n".join(f"{n}. {s}" for n, s in enumerate(text.sentences(4), start=1))
        else:
            body = text.paragraph(3, 5)
        parts.append(f"## {section}. {title}\n\n{body}")
    return "\n\n".join(parts)


@lru_cache(maxsize=4)
def agent_setup(seed: int) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """The shared parts: four system prompts (2-6 KB) and three tool arrays."""
    text = _Text(random.Random(f"agent-setup-{seed}"))
    prompts = [
        _system_prompt(text, name, size)
        for name, size in (
            ("Atlas", 2_200), ("Harbor", 3_500), ("Quill", 4_800), ("Relay", 5_900)
        )
    ]  # fmt: skip
    tools = [[_schema(text, name) for name in names] for names in _TOOL_NAMES]
    return prompts, tools


def _arguments(text: _Text, schema: dict[str, Any]) -> dict[str, Any]:
    rng = text.rng
    out: dict[str, Any] = {}
    for key, prop in schema["function"]["parameters"]["properties"].items():
        if key not in schema["function"]["parameters"]["required"] and rng.random() < 0.5:
            continue
        kind = prop["type"]
        if "enum" in prop:
            out[key] = rng.choice(prop["enum"])
        elif kind == "string":
            out[key] = text.words(2, 8) if rng.random() < 0.7 else text.sentences(1)[0]
        elif kind == "integer":
            out[key] = rng.randint(0, 5000)
        elif kind == "number":
            out[key] = round(rng.uniform(0, 1000), 2)
        elif kind == "boolean":
            out[key] = rng.random() < 0.5
        else:
            out[key] = [text.words(1, 3) for _ in range(rng.randint(1, 4))]
    return out


def _tool_result(text: _Text, at: datetime) -> dict[str, Any]:
    rng = text.rng
    kind = rng.randrange(5)
    if kind == 0:
        return {
            "results": [
                {
                    "title": text.words(3, 8).title(),
                    "url": f"https://docs.example.com/{text.words(1, 3).lower().replace(' ', '-')}"
                    f"/{rng.randrange(10_000)}",
                    "snippet": text.paragraph(1, 2),
                    "score": round(rng.random(), 4),
                }
                for _ in range(rng.randint(2, 6))
            ],
            "total": rng.randint(6, 5000),
            "took_ms": rng.randint(3, 900),
        }
    if kind == 1:
        snippet = text.snippet()
        return {
            "path": f"src/{text.words(1, 2).lower().replace(' ', '_')}.py",
            "content": snippet,
            "lines": snippet.count("\n") + 1,
            "sha": _hex(rng, 40),
        }
    if kind == 2:
        columns = ["id", "name", "status", "amount", "updated_at"]
        return {
            "columns": columns,
            "rows": [
                [
                    rng.randrange(10**6),
                    text.words(1, 3),
                    rng.choice(("open", "closed", "pending", "failed")),
                    round(rng.uniform(1, 9999), 2),
                    _stamp(at - timedelta(minutes=rng.randrange(100_000))),
                ]
                for _ in range(rng.randint(1, 12))
            ],
            "elapsed_ms": round(rng.uniform(0.4, 120), 2),
        }
    if kind == 3:
        return {
            "status": rng.choice((200, 200, 200, 404, 500)),
            "headers": {
                "content-type": "text/html; charset=utf-8",
                "date": at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                "etag": f'"{_hex(rng, 16)}"',
            },
            "body": text.paragraph(2, 6),
        }
    return {"ok": rng.random() < 0.9, "id": f"{_hex(rng, 8)}-{_hex(rng, 4)}",
            "message": text.paragraph(1, 1), "created_at": _stamp(at)}  # fmt: skip


def agent(rng: random.Random, text: _Text, number: int, seed: int) -> dict[str, Any]:
    prompts, toolsets = agent_setup(seed)
    which = rng.randrange(len(toolsets))
    tools = toolsets[which]
    model = rng.choice(AGENT_MODELS)
    at = START + timedelta(seconds=number * 97 + rng.randint(0, 60))
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompts[(which + rng.randrange(2)) % len(prompts)]},
        {"role": "user", "id": f"msg_{_alnum(rng, 24)}", "content": text.question(),
         "created_at": _stamp(at)},
    ]  # fmt: skip
    history = sum(_tokens(m["content"]) for m in messages) + 1200
    for _ in range(rng.randint(2, 7)):
        at += timedelta(milliseconds=rng.randint(400, 9000))
        calls = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            schema = rng.choice(tools)
            calls.append(
                {
                    "id": f"call_{_alnum(rng, 24)}",
                    "type": "function",
                    "function": {
                        "name": schema["function"]["name"],
                        "arguments": json.dumps(_arguments(text, schema)),
                    },
                }
            )
        thought = text.paragraph(1, 3) if rng.random() < 0.7 else None
        completion = _tokens(thought) + 30 * len(calls)
        messages.append(
            {
                "role": "assistant",
                "id": f"msg_{_alnum(rng, 24)}",
                "content": thought,
                "tool_calls": calls,
                "created_at": _stamp(at),
                "model": model,
                "finish_reason": "tool_calls",
                "usage": {"prompt_tokens": history, "completion_tokens": completion,
                          "total_tokens": history + completion},
            }
        )  # fmt: skip
        history += completion
        for call in calls:
            at += timedelta(milliseconds=rng.randint(20, 4000))
            result = json.dumps(_tool_result(text, at))
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "name": call["function"]["name"],
                 "content": result, "created_at": _stamp(at)}
            )  # fmt: skip
            history += _tokens(result)
    answer = _answer(text)
    at += timedelta(milliseconds=rng.randint(900, 15_000))
    messages.append(
        {"role": "assistant", "id": f"msg_{_alnum(rng, 24)}", "content": answer,
         "created_at": _stamp(at), "model": model, "finish_reason": "stop",
         "usage": {"prompt_tokens": history, "completion_tokens": _tokens(answer),
                   "total_tokens": history + _tokens(answer)}}
    )  # fmt: skip
    return {
        "id": f"run_{_hex(rng, 32)}",
        "user_id": f"user_{_alnum(rng, 4)}{rng.randrange(400):04d}",
        "model": model,
        "agent": ("support-agent", "research-agent", "ops-agent")[which],
        "tools": tools,
        "tool_choice": "auto",
        "temperature": rng.choice((0, 0.2, 0.7)),
        "created_at": messages[1]["created_at"],
        "messages": messages,
    }


# files ------------------------------------------------------------------------------------------


def lines(kind: str, count: int, *, seed: int = 7) -> Iterator[str]:
    """The corpus as JSON lines (without newlines)."""
    rng = random.Random(f"{kind}-{seed}")
    text = _Text(rng)
    for number in range(count):
        record = chat(rng, text, number) if kind == "chats" else agent(rng, text, number, seed)
        yield json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def write(kind: str, count: int, out: Path, *, seed: int = 7) -> int:
    """Write `count` conversations of `kind` (`chats` or `agents`) to `out`; returns bytes."""
    if kind not in ("chats", "agents"):
        raise ValueError(f"kind must be 'chats' or 'agents', got {kind!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for line in lines(kind, count, seed=seed):
            handle.write(line + "\n")
    tmp.replace(out)
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("chats", "agents"))
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    size = write(args.kind, args.count, args.out, seed=args.seed)
    runs, code = prose()
    print(
        f"wrote {args.count} {args.kind} ({size:,} bytes) to {args.out}; prose pool "
        f"{sum(map(len, runs)):,} sentences in {len(runs):,} runs, {len(code):,} code windows"
    )


if __name__ == "__main__":
    main()
