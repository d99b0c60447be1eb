"""Importing conversations in the OpenAI chat format into graph events.

Input is JSONL (optionally `.gz` or `.zst`), one conversation per line::

    {"id": "c1", "user_id": "u1", "tenant": "acme", "metadata": {...},
     "messages": [{"role": "system", "content": "..."},
                  {"role": "user", "content": "..."},
                  {"role": "assistant", "content": null, "tool_calls": [...]},
                  {"role": "tool", "tool_call_id": "...", "content": "..."},
                  {"role": "assistant", "content": "..."}]}

Each conversation becomes one Session node, a Prompt per system/developer/user message, a
Response per assistant message and a ToolInvocation per tool call (with the matching tool
message's result folded into the same node), plus the edges between them:

- `FOLLOWS` later Prompt -> earlier Prompt (edges point back in time, like `RESPONDS_TO`);
- `RESPONDS_TO` Response -> the latest preceding Prompt;
- `INVOKES` Response -> ToolInvocation, with `invocation_order` 0, 1, 2, ... per Response.

Ids are derived from the conversation id and message position, so importing a file twice
produces the same event ids and the store skips them:

- Session: the conversation id; message nodes: `{conv}:m{index}` (index in `messages`);
- tool calls: `{conv}:m{index}:t{n}` (the n-th call of the assistant message at `index`);
- a tool result whose call is unknown: `{conv}:m{index}` of the tool message itself;
- placeholders: `{conv}:placeholder-prompt` and `{conv}:placeholder-response`;
- edges: `edge_key(src, type, dst)`; event ids: `chat-` + a hash of (conversation id, node or
  edge id, "import-chat").

Because ids depend on position, a conversation that is logged again with more messages (a
growing log, or the same id on two lines) adds only the messages beyond those already imported;
the nodes already imported are kept as they were first imported. Within a file, a line that
repeats an earlier line's conversation id with other text is reported as an `ImportIssue`
(a byte-identical repeat is a plain duplicate).

Messy input is kept wherever possible and every repair is reported as an `ImportIssue`; only a
line that is not a JSON object with an id is skipped, and so is a line that is not UTF-8 or
holds a lone surrogate escape (`"\\ud800"`, half of a UTF-16 pair, which no text can hold).
Message times outside what the store accepts (before `EARLIEST_OCCURRED_AT`, or more than
`MAX_CLOCK_SKEW` ahead of the import) are reported and replaced by the import clock. A UTF-8
byte order mark at the start of the file is skipped.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import zstandard

from memgraph_ops.errors import InputError
from memgraph_ops.events import EARLIEST_OCCURRED_AT, MAX_CLOCK_SKEW
from memgraph_ops.model import FINISH_REASONS, edge_key, imported_event_id

if TYPE_CHECKING:
    from memgraph_ops.store import Store

DEFAULT_BATCH_EVENTS: Final = 20_000
IMPORT_TAG: Final = "import-chat"

MISSING_CONTENT: Final = "[no text content]"
"""Content given to a Prompt that has no text: the store requires Prompt content to be
non-blank, so an empty prompt would otherwise be quarantined. The node's metadata then carries
`"content_placeholder": true`."""
PLACEHOLDER_PROMPT_CONTENT: Final = "[no prompt: the conversation starts with an assistant message]"

SYSTEM_ROLES: Final = frozenset({"system", "developer"})
TOOL_RESULT_ROLES: Final = frozenset({"tool", "function"})
TIME_KEYS: Final = ("created_at", "timestamp", "create_time")
TEXT_PART_TYPES: Final = frozenset({"text", "input_text", "output_text"})

# Strings longer than this inside non-text content parts (base64 images, audio) are replaced by
# a summary: the graph store keeps conversation structure and text, it is not a blob store.
MAX_INLINE_CHARS: Final = 4096

_STEP: Final = timedelta(milliseconds=1)
# Epoch numbers above this are milliseconds (as seconds they would lie after the year 5000).
_EPOCH_MS_THRESHOLD: Final = 100_000_000_000

# Record keys that become Session fields; every other key (title, model, usage, tools, ...) is
# kept in the Session's attrs, even when it is also copied onto Responses or Prompts.
_RECORD_KEYS: Final = frozenset({"id", "user_id", "tenant", "messages", "metadata", "tags"})
_MESSAGE_KEYS: Final = frozenset(
    {
        "role",
        "content",
        "tool_calls",
        "tool_call_id",
        "name",
        "function_call",
        "model",
        "finish_reason",
        "usage",
        "is_error",
        *TIME_KEYS,
    }
)
_USAGE_FIELDS: Final = ("prompt_tokens", "completion_tokens", "total_tokens")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportIssue:
    """A problem found in the input, and what the importer did about it."""

    line: int
    """1-based line number in the file (0 when the record did not come from a file)."""
    conversation_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f" [{self.conversation_id}]" if self.conversation_id else "")
        return f"{where}: {self.message}"


@dataclass
class ChatBatch:
    """Events of whole conversations read from a chat file, with the problems found."""

    events: list[dict[str, Any]]
    issues: list[ImportIssue]
    conversations: int
    """Conversations converted into this batch's events."""
    lines: int
    """Lines read for this batch, including blank and skipped ones."""
    skipped_lines: int = 0
    """Lines that produced no events (not JSON, not an object, or no id)."""
    repeated_events: int = 0
    """Events left out because a line earlier in this batch repeated the same conversation
    and gave them already (the first wins, as in the store)."""
    event_ids: set[str] = field(default_factory=set, repr=False)


@dataclass
class ChatImportReport:
    """What `import_chat_file` did."""

    path: str
    lines: int = 0
    conversations: int = 0
    skipped_lines: int = 0
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    nodes_by_type: dict[str, int] = field(default_factory=dict)
    """Node events produced from the file per type, whether new or already imported."""
    edges_by_type: dict[str, int] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    issue_count: int = 0
    """All issues found; `issues` keeps the first `max_issues` of them."""
    issues: list[ImportIssue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def conversation_events(
    record: Mapping[str, Any],
    *,
    tenant: str = "default",
    line: int = 0,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], list[ImportIssue]]:
    """Convert one conversation record into upsert events, reporting what had to be repaired.

    Pure apart from the clock: messages without timestamps are placed at `now` (default: the
    current time), 1 ms apart in message order.

    Args:
        record: one conversation in the OpenAI chat format (a parsed JSONL line).
        tenant: tenant for the events unless the record names its own `tenant`.
        line: line number of the record, for the issues.
        now: the import time used when neither the record nor its messages carry timestamps.

    Returns:
        The events (dicts of the event contract; one per node and per edge) and the issues.
        A record without a usable id gives no events and one issue.

    Example:
        >>> events, issues = conversation_events(
        ...     {"id": "c1", "messages": [{"role": "user", "content": "hi"}]}, tenant="acme"
        ... )
        >>> [(e["type"], e.get("id")) for e in events]
        [('Session', 'c1'), ('Prompt', 'c1:m0')]
    """
    conv_id = _conversation_id(record)
    if conv_id is None:
        found = record.get("id") if isinstance(record, Mapping) else None
        return [], [
            ImportIssue(
                line,
                None,
                f"conversation has no usable id (got {found!r}); line skipped. "
                'Give every conversation a string "id".',
            )
        ]
    builder = _Conversation(conv_id, record, tenant=tenant, line=line, now=now)
    return builder.build(), builder.issues


def iter_chat_events(
    path: str | Path,
    *,
    tenant: str = "default",
    batch_events: int = DEFAULT_BATCH_EVENTS,
) -> Iterator[ChatBatch]:
    """Stream a chat JSONL file (`.jsonl`, `.jsonl.gz` or `.jsonl.zst`) as batches of events.

    The file is read line by line; a batch is yielded once it holds at least `batch_events`
    events. Batches hold whole conversations, so a conversation with more events than
    `batch_events` makes a batch of its own.

    Raises:
        InputError: the file does not exist or cannot be decompressed.
    """
    if batch_events < 1:
        raise InputError(f"batch_events must be at least 1, got {batch_events}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; give the path of a chat JSONL file")
    batch = ChatBatch([], [], 0, 0)
    seen = _SeenConversations()
    for number, raw in enumerate(_read_lines(path), start=1):
        batch.lines += 1
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        record = _parse_line(raw, number, batch.issues)
        if record is None:
            if raw.strip():
                batch.skipped_lines += 1
            continue
        events, issues = conversation_events(record, tenant=tenant, line=number)
        batch.issues.extend(issues)
        if not events:
            batch.skipped_lines += 1
            continue
        conv_id = events[0]["session_id"]
        first = seen.add(conv_id, raw, number)
        if first is not None:
            if first < 0:
                batch.issues.append(
                    ImportIssue(
                        number,
                        conv_id,
                        f"repeats the conversation id of line {-first} with other content; "
                        "kept its nodes and edges as first imported and added only new ones",
                    )
                )
            fresh = [e for e in events if e["event_id"] not in batch.event_ids]
            batch.repeated_events += len(events) - len(fresh)
            events = fresh
        batch.events.extend(events)
        batch.event_ids.update(e["event_id"] for e in events)
        batch.conversations += 1
        if len(batch.events) >= batch_events:
            yield batch
            batch = ChatBatch([], [], 0, 0)
    if batch.lines:
        yield batch


class _SeenConversations:
    """The conversation ids of a file so far, each with its first line and a digest of that
    line's text (8 bytes: a file of millions of conversations stays small in memory)."""

    def __init__(self) -> None:
        self._first: dict[str, int] = {}

    def add(self, conv_id: str, raw: bytes, line: int) -> int | None:
        """None for a new id; else the id's first line, negated if its text was other."""
        digest = int.from_bytes(hashlib.blake2b(raw.strip(), digest_size=8).digest())
        packed = self._first.setdefault(conv_id, digest << 40 | line)
        if packed == digest << 40 | line:
            return None
        first = packed & (1 << 40) - 1
        return first if packed >> 40 == digest else -first


def import_chat_file(
    store: Store,
    path: str | Path,
    *,
    tenant: str = "default",
    batch_events: int = DEFAULT_BATCH_EVENTS,
    progress: Progress | None = None,
    max_issues: int = 10_000,
) -> ChatImportReport:
    """Import a chat JSONL file into the operational store, batch by batch.

    Re-importing the same file accepts no new events (every event id is already stored).

    Args:
        store: the operational store to ingest into.
        path: the chat JSONL file.
        tenant: tenant for conversations that do not name their own.
        batch_events: events per ingest call.
        progress: called as `progress(conversations_done, 0)` after each batch.
        max_issues: how many issues the report keeps (all are counted in `issue_count`).
    """
    path = Path(path)
    report = ChatImportReport(path=str(path))
    for batch in iter_chat_events(path, tenant=tenant, batch_events=batch_events):
        report.lines += batch.lines
        report.conversations += batch.conversations
        report.skipped_lines += batch.skipped_lines
        report.issue_count += len(batch.issues)
        report.issues.extend(batch.issues[: max(0, max_issues - len(report.issues))])
        report.events += batch.repeated_events
        report.duplicates += batch.repeated_events
        if batch.events:
            result = store.ingest(batch.events, source=f"{IMPORT_TAG}:{path}")
            report.events += result.received
            report.accepted += result.accepted
            report.duplicates += result.duplicates
            report.quarantined += result.quarantined
            for reason, n in result.reasons.items():
                report.quarantine_reasons[reason] = report.quarantine_reasons.get(reason, 0) + n
            for event in batch.events:
                counts = report.nodes_by_type if event["kind"] == "node" else report.edges_by_type
                counts[event["type"]] = counts.get(event["type"], 0) + 1
        if progress is not None:
            progress(report.conversations, 0)
    return report


# reading ----------------------------------------------------------------------------------------


def _read_lines(path: Path) -> Iterator[bytes]:
    """The lines of a possibly compressed file, one at a time."""
    number = 0
    try:
        with _open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):  # noqa: B007 - used in the message
                yield raw
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        # Corrupt or truncated compressed input surfaces mid-stream, after good lines.
        raise InputError(
            f"{path}: cannot read past line {number}: {exc}. Check that the file is complete "
            "and that its extension (.gz, .zst or none) matches its compression."
        ) from exc


def _open_binary(path: Path) -> io.BufferedIOBase:
    name = path.name.lower()
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith((".zst", ".zstd")):
        raw = open(path, "rb")  # noqa: SIM115 - closed by the reader (closefd)
        # read_across_frames: files written by concatenating zstd frames are common for logs.
        reader = zstandard.ZstdDecompressor().stream_reader(
            raw, read_across_frames=True, closefd=True
        )
        return io.BufferedReader(reader)
    return open(path, "rb")


def _parse_line(raw: bytes, number: int, issues: list[ImportIssue]) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        # Decoded here, strictly: `json.loads` of bytes would let encoded surrogates through.
        text = raw.decode()
    except UnicodeDecodeError as exc:
        issues.append(
            ImportIssue(
                number,
                None,
                f"not valid UTF-8 (byte {exc.start + 1} of the line is 0x{raw[exc.start]:02x}); "
                "line skipped, fix or remove it",
            )
        )
        return None
    try:
        record = json.loads(text)
    except RecursionError:
        issues.append(ImportIssue(number, None, "JSON nested too deeply to read; line skipped"))
        return None
    except ValueError as exc:
        issues.append(
            ImportIssue(number, None, f"not valid JSON ({exc}); line skipped, fix or remove it")
        )
        return None
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(record):
        issues.append(
            ImportIssue(
                number,
                None,
                "invalid Unicode: a \\u escape of a lone surrogate (half of a UTF-16 pair, "
                "as left by cutting a string inside an emoji); line skipped, fix or remove it",
            )
        )
        return None
    if not isinstance(record, dict):
        issues.append(
            ImportIssue(
                number,
                None,
                f"expected a JSON object (one conversation), got {type(record).__name__}; "
                "line skipped",
            )
        )
        return None
    return record


_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_lone_surrogate(record: Any) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    except RecursionError:  # too deep to check: the store's limits will refuse its fields
        return False
    return False


def _conversation_id(record: Mapping[str, Any]) -> str | None:
    if not isinstance(record, Mapping):
        return None
    value = record.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


# conversion -------------------------------------------------------------------------------------


@dataclass
class _Call:
    """A ToolInvocation waiting for (or holding) its result."""

    node: dict[str, Any]
    edge: dict[str, Any]
    call_id: str | None
    name: str
    response_id: str
    called_at: datetime
    timed: bool
    """Whether `called_at` came from the input (not from the import clock)."""
    answered: bool = False


@dataclass
class _Clock:
    """Times of a conversation's messages: own timestamp, else 1 ms after the previous one."""

    start: datetime
    previous: datetime


class _Conversation:
    """Builds the events of one conversation. Node dicts are kept mutable until `build`, so a
    tool result can be folded into the ToolInvocation emitted for its call."""

    def __init__(
        self,
        conv_id: str,
        record: Mapping[str, Any],
        *,
        tenant: str,
        line: int,
        now: datetime | None,
    ) -> None:
        self.conv_id = conv_id
        self.record = record
        self.line = line
        self.issues: list[ImportIssue] = []
        self.tenant = self._tenant(tenant)
        self.events: list[dict[str, Any]] = []
        self.now = now or datetime.now(UTC)

        self.prompt: dict[str, Any] | None = None
        self.prompt_real_time = False
        self.response: dict[str, Any] | None = None
        self.responses: list[dict[str, Any]] = []
        self.calls: list[_Call] = []
        self.invocations_per_response: dict[str, int] = {}
        self.session_extra: dict[str, Any] = {}

    # helpers ----------------------------------------------------------------------------------

    def issue(self, message: str) -> None:
        self.issues.append(ImportIssue(self.line, self.conv_id, message))

    def _tenant(self, default: str) -> str:
        value = self.record.get("tenant")
        if value is None:
            return default
        if isinstance(value, str) and value.strip():
            return value
        self.issue(f'"tenant" must be a non-empty string, got {value!r}; used {default!r}')
        return default

    def node(self, type_: str, node_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
        event = {
            "op": "upsert",
            "kind": "node",
            "type": type_,
            "id": node_id,
            "session_id": self.conv_id,
            "tenant": self.tenant,
            "occurred_at": at,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.events.append(event)
        return event

    def edge(self, type_: str, src: str, dst: str, at: datetime, **fields: Any) -> dict[str, Any]:
        event = {
            "op": "upsert",
            "kind": "edge",
            "type": type_,
            "id": edge_key(src, type_, dst),
            "src": src,
            "dst": dst,
            "session_id": self.conv_id,
            "tenant": self.tenant,
            "occurred_at": at,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self.events.append(event)
        return event

    # the walk ---------------------------------------------------------------------------------

    def build(self) -> list[dict[str, Any]]:
        record = self.record
        messages = record.get("messages")
        if messages is None:
            messages = []
        if not isinstance(messages, list):
            self.issue(
                f'"messages" must be a list, got {type(messages).__name__}; imported the '
                "session only and kept the value in its attrs"
            )
            self.session_extra["messages"] = messages
            messages = []
        elif not messages:
            self.issue("conversation has no messages; imported the session only")

        clock = self._clock(self._time(record, "conversation"), messages)
        session = self._session(clock.start)

        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                self.issue(
                    f"message {index} is not an object ({type(message).__name__}); kept it in "
                    "the session's attrs"
                )
                self.session_extra.setdefault("skipped_messages", []).append(
                    {"index": index, "value": message}
                )
                continue
            at, real = self._message_time(message, index, clock)
            self._message(index, message, at, real)

        for call in self.calls:
            if not call.answered:
                self.issue(
                    f"tool call {call.call_id or call.name!r} ({call.node['id']}) has no tool "
                    "result; kept the invocation without a result"
                )
        self._record_level_response_fields()
        self._finish_session(session)
        return self._finalize()

    def _session(self, at: datetime) -> dict[str, Any]:
        record = self.record
        user_id = record.get("user_id")
        if user_id is not None and not isinstance(user_id, str):
            user_id = str(user_id)
        metadata = record.get("metadata")
        return self.node(
            "Session",
            self.conv_id,
            at,
            user_id=user_id,
            tags=self._tags(record.get("tags")),
            metadata=_json(metadata) if metadata is not None else None,
        )

    def _tags(self, tags: Any) -> list[str] | None:
        if tags is None:
            return None
        if isinstance(tags, str):
            self.issue("tags is a string, not a list of strings; stored it as a one-item list")
            return [tags]
        if isinstance(tags, list):
            if all(isinstance(t, str) for t in tags):
                return tags
            self.issue("tags: dropped null items and wrote non-string items as JSON text")
            return [t if isinstance(t, str) else _json(t) for t in tags if t is not None]
        self.issue(f"tags must be a list of strings, got {type(tags).__name__}; kept in attrs")
        self.session_extra["tags"] = tags
        return None

    def _finish_session(self, session: dict[str, Any]) -> None:
        extra = {k: v for k, v in self.record.items() if k not in _RECORD_KEYS}
        extra.update(self.session_extra)
        if extra:
            session["attrs"] = extra

    def _message(self, index: int, message: dict[str, Any], at: datetime, real: bool) -> None:
        raw_role = message.get("role")
        role = raw_role.strip().lower() if isinstance(raw_role, str) else None
        if role == "assistant":
            self._assistant(index, message, at, real)
        elif role in TOOL_RESULT_ROLES:
            self._tool_result(index, message, at, real)
        else:
            if role not in SYSTEM_ROLES and role != "user":
                self.issue(
                    f"message {index} has unknown role {raw_role!r}; imported as a Prompt with "
                    "the role in its metadata"
                )
            self._prompt(index, message, at, real, role=role, raw_role=raw_role)

    def _prompt(
        self,
        index: int,
        message: dict[str, Any],
        at: datetime,
        real: bool,
        *,
        role: str | None,
        raw_role: Any,
    ) -> None:
        metadata = self._message_metadata(message)
        if role not in ("user", "system"):
            metadata["role"] = raw_role
        # A missing text is reported once, below, with what was stored instead.
        text = self._content(index, message, metadata, allow_missing=True)
        if not text.strip():
            metadata["content_placeholder"] = True
            text = MISSING_CONTENT
            self.issue(
                f"message {index} ({raw_role}) has no text content; stored {MISSING_CONTENT!r} "
                "as its content (a Prompt needs content) and flagged it in metadata"
            )
        self._add_prompt(
            f"{self.conv_id}:m{index}",
            at,
            real,
            content=text,
            is_system=role in SYSTEM_ROLES,
            metadata=metadata,
        )

    def _add_prompt(self, node_id: str, at: datetime, real: bool, **fields: Any) -> None:
        tools = self._tools_available()
        node = self.node("Prompt", node_id, at, tools_available=tools, **fields)
        previous = self.prompt
        if previous is not None:
            delta = None
            if real and self.prompt_real_time:
                delta = (at - previous["occurred_at"]) / _STEP
                if delta < 0:
                    self.issue(
                        f"prompt {node_id} is timestamped before the previous prompt; "
                        "FOLLOWS edge kept without time_delta_ms"
                    )
                    delta = None
            self.edge("FOLLOWS", node_id, previous["id"], at, time_delta_ms=delta)
        self.prompt = node
        self.prompt_real_time = real

    def _tools_available(self) -> list[str] | None:
        tools = self.record.get("tools") or self.record.get("functions")
        if not isinstance(tools, list):
            return None
        names = []
        for tool in tools:
            if not isinstance(tool, dict):
                continue
            function = tool.get("function")
            name = (function if isinstance(function, dict) else tool).get("name")
            if isinstance(name, str) and name:
                names.append(name)
        return names or None

    def _ensure_prompt(self, at: datetime, what: str) -> dict[str, Any]:
        if self.prompt is None:
            self.issue(
                f"{what} before any prompt; attached it to a placeholder Prompt "
                f"{self.conv_id}:placeholder-prompt"
            )
            self._add_prompt(
                f"{self.conv_id}:placeholder-prompt",
                at,
                False,
                content=PLACEHOLDER_PROMPT_CONTENT,
                is_system=False,
                metadata={"placeholder": True, "content_placeholder": True},
            )
        assert self.prompt is not None
        return self.prompt

    def _assistant(self, index: int, message: dict[str, Any], at: datetime, real: bool) -> None:
        prompt = self._ensure_prompt(at, f"assistant message {index}")
        metadata = self._message_metadata(message)
        tool_calls = message.get("tool_calls")
        function_call = message.get("function_call")
        has_calls = bool(tool_calls) or bool(function_call)
        text = self._content(index, message, metadata, allow_missing=has_calls)
        response_id = f"{self.conv_id}:m{index}"
        model = message.get("model") or self.record.get("model")
        fields: dict[str, Any] = {
            "prompt_id": prompt["id"],
            "content": text,
            "model": _text(model) if model is not None else None,
        }
        fields.update(self._finish_reason(message.get("finish_reason"), metadata, index))
        fields.update(self._usage(message.get("usage"), metadata, f"message {index}"))
        response = self.node("Response", response_id, at, metadata=metadata, **fields)
        latency = None
        if real and self.prompt_real_time:
            latency = (at - prompt["occurred_at"]) / _STEP
            latency = latency if latency >= 0 else None
        self.edge(
            "RESPONDS_TO",
            response_id,
            prompt["id"],
            at,
            latency_ms=latency,
            model_version=fields["model"],
        )
        self.response = response
        self.responses.append(response)

        order = 0
        if tool_calls is not None and not isinstance(tool_calls, list):
            self.issue(f"message {index}: tool_calls is not a list; read it as one call")
            tool_calls = [tool_calls]
        for call in tool_calls or []:
            self._call(index, order, call, response, at, real)
            order += 1
        if function_call:
            self._call(index, order, function_call, response, at, real, legacy=True)

    def _call(
        self,
        index: int,
        order: int,
        call: Any,
        response: dict[str, Any],
        at: datetime,
        real: bool,
        *,
        legacy: bool = False,
    ) -> None:
        node_id = f"{self.conv_id}:m{index}:t{order}"
        attrs: dict[str, Any] = {}
        call_id: str | None = None
        if isinstance(call, dict):
            spec = call if legacy else call.get("function") or call.get("custom") or call
            spec = spec if isinstance(spec, dict) else {}
            if not legacy:
                call_id = call.get("id") if isinstance(call.get("id"), str) else None
                if call.get("type") not in (None, "function"):
                    attrs["call_type"] = call.get("type")
            name = spec.get("name")
            arguments = spec.get("arguments", spec.get("input"))
            used = ("id", "type", "function", "custom", "name", "arguments", "input")
            extra = {k: v for k, v in call.items() if k not in used}
            if extra:
                attrs["extra"] = extra
        else:
            name, arguments = None, None
            attrs["raw_call"] = call
            self.issue(f"message {index}: tool call {order} is not an object; kept it in attrs")
        if not isinstance(name, str) or not name.strip():
            self.issue(f"message {index}: tool call {order} has no function name; used 'unknown'")
            name = "unknown"
        if call_id is not None:
            attrs["tool_call_id"] = call_id
        elif not legacy:
            self.issue(
                f"message {index}: tool call {order} has no id; its result is matched by "
                "function name"
            )
        if legacy:
            attrs["legacy_function_call"] = True
        node = self.node(
            "ToolInvocation",
            node_id,
            at,
            response_id=response["id"],
            tool_name=name,
            parameters=self._arguments(arguments, f"{node_id} ({name})"),
            attrs=attrs,
        )
        edge = self.edge("INVOKES", response["id"], node_id, at, invocation_order=order)
        self.invocations_per_response[response["id"]] = order + 1
        self.calls.append(_Call(node, edge, call_id, name, response["id"], at, real))

    def _arguments(self, arguments: Any, what: str) -> str:
        if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
            return "{}"
        if not isinstance(arguments, str):
            return _json(arguments)
        try:
            json.loads(arguments)
        except ValueError:
            self.issue(
                f'tool call {what}: arguments are not valid JSON; kept the text as {{"_raw": ...}}'
            )
            return _json({"_raw": arguments})
        return arguments

    def _tool_result(self, index: int, message: dict[str, Any], at: datetime, real: bool) -> None:
        call_id = message.get("tool_call_id")
        call_id = call_id if isinstance(call_id, str) and call_id else None
        name = message.get("name") if isinstance(message.get("name"), str) else None
        call, why = self._match(call_id, name)
        if call is None:
            call = self._orphan(index, call_id, name, at, real, why)
        attrs: dict[str, Any] = call.node.setdefault("attrs", {})
        attrs["result_message"] = index
        if real:
            attrs["result_at"] = at.isoformat()
            # Time from the call to its result: an upper bound of the tool's duration, so it
            # stays in attrs rather than in `duration_ms`.
            after = (at - call.called_at) / _STEP
            if call.timed and after >= 0:
                attrs["result_after_ms"] = after
        extra = {k: v for k, v in message.items() if k not in _MESSAGE_KEYS}
        if extra:
            attrs["result_extra"] = extra
        content = message.get("content")
        if content is None:
            self.issue(f"tool result in message {index} has no content; kept without a result")
            call.answered = True
            return
        text, parts = self._flatten(content, index)
        if parts:
            attrs["result_parts"] = parts
        result = text if _is_json(text) else _json(text)
        error = _error_of(result, message.get("is_error") is True, text)
        call.node["result"] = result
        call.node["success"] = error is None
        call.edge["success"] = error is None
        if error is not None:
            call.node["error"] = error
        call.answered = True

    def _match(self, call_id: str | None, name: str | None) -> tuple[_Call | None, str]:
        if call_id is not None:
            same_id = [c for c in self.calls if c.call_id == call_id]
            waiting = [c for c in same_id if not c.answered]
            if waiting:
                return waiting[0], ""
            if same_id:
                return None, f"tool call {call_id!r} already has a result"
            return None, f"no tool call with id {call_id!r}"
        # Legacy `function` messages and tool messages without an id: the first open call of
        # the latest response, preferring one with the same function name.
        latest = self.response["id"] if self.response is not None else None
        open_calls = [c for c in self.calls if not c.answered and c.response_id == latest]
        named = [c for c in open_calls if name is not None and c.name == name]
        if named or open_calls:
            return (named or open_calls)[0], ""
        return None, "no open tool call to match (the message has no tool_call_id)"

    def _orphan(
        self, index: int, call_id: str | None, name: str | None, at: datetime, real: bool, why: str
    ) -> _Call:
        response = self.response
        if response is None:
            prompt = self._ensure_prompt(at, f"tool result in message {index}")
            response_id = f"{self.conv_id}:placeholder-response"
            self.issue(
                f"tool result in message {index} comes before any assistant message; attached "
                f"it to a placeholder Response {response_id}"
            )
            response = self.node(
                "Response",
                response_id,
                at,
                prompt_id=prompt["id"],
                content="",
                metadata={"placeholder": True},
            )
            self.edge("RESPONDS_TO", response_id, prompt["id"], at)
            self.response = response
            self.responses.append(response)
        node_id = f"{self.conv_id}:m{index}"
        tool_name = name or "unknown"
        self.issue(
            f"tool result in message {index}: {why}; kept it as ToolInvocation {node_id} "
            f"(tool {tool_name!r}) of the latest response {response['id']}"
        )
        order = self.invocations_per_response.get(response["id"], 0)
        attrs: dict[str, Any] = {"unmatched_result": True}
        if call_id is not None:
            attrs["tool_call_id"] = call_id
        node = self.node(
            "ToolInvocation",
            node_id,
            at,
            response_id=response["id"],
            tool_name=tool_name,
            attrs=attrs,
        )
        edge = self.edge("INVOKES", response["id"], node_id, at, invocation_order=order)
        self.invocations_per_response[response["id"]] = order + 1
        call = _Call(node, edge, call_id, tool_name, response["id"], at, real)
        self.calls.append(call)
        return call

    def _record_level_response_fields(self) -> None:
        """Usage and finish_reason given for the whole record describe the final completion
        (the shape of a logged chat-completion call), so they go on the last Response."""
        record = self.record
        usage, finish = record.get("usage"), record.get("finish_reason")
        if (usage is None and finish is None) or not self.responses:
            return  # the session's attrs keep them either way
        last = self.responses[-1]
        metadata = last.setdefault("metadata", {})
        for key, value in {
            **self._finish_reason(finish, metadata, "record"),
            **self._usage(usage, metadata, "record"),
        }.items():
            last.setdefault(key, value)

    # fields -----------------------------------------------------------------------------------

    def _message_metadata(self, message: dict[str, Any]) -> dict[str, Any]:
        metadata: dict[str, Any] = {}
        if message.get("name") is not None:
            metadata["name"] = message["name"]
        extra = {k: v for k, v in message.items() if k not in _MESSAGE_KEYS}
        if extra:
            metadata["extra"] = extra
        return metadata

    def _content(
        self, index: int, message: dict[str, Any], metadata: dict[str, Any], *, allow_missing: bool
    ) -> str:
        if "content" not in message or message["content"] is None:
            if not allow_missing:
                role = message.get("role")
                self.issue(f"message {index} ({role}) has no content; used an empty text")
            return ""
        text, parts = self._flatten(message["content"], index)
        if parts:
            metadata["parts"] = parts
        return text

    def _flatten(self, content: Any, index: int) -> tuple[str, list[dict[str, Any]]]:
        """Text of a content value and the non-text parts it held (each with its position)."""
        if isinstance(content, str):
            return content, []
        if isinstance(content, dict):
            content = [content]
        if not isinstance(content, list):
            self.issue(
                f"message {index}: content is a {type(content).__name__}, not text or parts; "
                "stored it as JSON text"
            )
            return _json(content), []
        texts: list[str] = []
        others: list[dict[str, Any]] = []
        for position, part in enumerate(content):
            if isinstance(part, str):
                texts.append(part)
            elif (
                isinstance(part, dict)
                and part.get("type", "text") in TEXT_PART_TYPES
                and isinstance(part.get("text"), str)
            ):
                texts.append(part["text"])
            else:
                others.append({"position": position, "part": _summarise_blobs(part)})
        if others:
            kinds = sorted({_part_type(o["part"]) for o in others})
            self.issue(
                f"message {index}: {len(others)} non-text content part(s) ({', '.join(kinds)}) "
                "kept in the node's metadata, not in its content (inline data over "
                f"{MAX_INLINE_CHARS} characters is kept as its size and sha256 only)"
            )
        return "\n".join(texts), others

    def _finish_reason(self, value: Any, metadata: dict[str, Any], where: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, str) and value in FINISH_REASONS:
            return {"finish_reason": value}
        metadata["finish_reason"] = value
        self.issue(
            f"{_where(where)}: finish_reason {value!r} is not one of {', '.join(FINISH_REASONS)}; "
            "kept it in metadata"
        )
        return {}

    def _usage(self, usage: Any, metadata: dict[str, Any], where: str) -> dict[str, Any]:
        if usage is None:
            return {}
        if not isinstance(usage, dict):
            metadata["usage"] = usage
            self.issue(f"{where}: usage is not an object; kept it in metadata")
            return {}
        fields: dict[str, Any] = {}
        bad: dict[str, Any] = {}
        for key in _USAGE_FIELDS:
            value = usage.get(key)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                fields[key] = value
            else:
                bad[key] = value
        rest = {k: v for k, v in usage.items() if k not in _USAGE_FIELDS}
        if rest or bad:
            metadata["usage"] = {**rest, **bad}
        if bad:
            self.issue(
                f"{where}: token counts {bad} are not non-negative integers; kept them in metadata"
            )
        return fields

    # time -------------------------------------------------------------------------------------

    def _time(self, holder: Mapping[str, Any], what: str) -> datetime | None:
        for key in TIME_KEYS:
            value = holder.get(key)
            if value is None:
                continue
            parsed = _parse_time(value)
            if parsed is None:
                self.issue(f"{what}: {key} {value!r} is not an ISO time or epoch seconds; ignored")
            elif not _accepted_time(parsed, self.now):
                self.issue(
                    f"{what}: {key} {value!r} ({parsed.isoformat()}) is before "
                    f"{EARLIEST_OCCURRED_AT.date()} or more than {_SKEW_HOURS:g} hours after the "
                    "import time, which the store refuses; ignored"
                )
                return None
            return parsed
        return None

    def _clock(self, record_time: datetime | None, messages: list[Any]) -> _Clock:
        start = record_time
        if start is None:
            # Anchor untimed leading messages to the first timed one rather than to the import
            # time, so a conversation does not jump from now back to its real times.
            for message in messages:
                if isinstance(message, dict):
                    found = _first_time(message)
                    if found is not None and _accepted_time(found, self.now):
                        start = found
                        break
        start = start or self.now
        return _Clock(start=start, previous=start - _STEP)

    def _message_time(
        self, message: dict[str, Any], index: int, clock: _Clock
    ) -> tuple[datetime, bool]:
        own = self._time(message, f"message {index}")
        at = own if own is not None else clock.previous + _STEP
        clock.previous = at
        return at, own is not None

    # output -----------------------------------------------------------------------------------

    def _finalize(self) -> list[dict[str, Any]]:
        for event in self.events:
            for key in ("metadata", "attrs"):
                value = event.get(key)
                if isinstance(value, dict):
                    if value:
                        event[key] = _json(value)
                    else:
                        del event[key]
            event["event_id"] = event_id(self.conv_id, event["id"])
        return self.events


event_id = imported_event_id


_SKEW_HOURS: Final = MAX_CLOCK_SKEW.total_seconds() / 3600


def _accepted_time(at: datetime, now: datetime) -> bool:
    """Whether the store accepts `at` as an `occurred_at` (see `memgraph_ops.events`)."""
    return EARLIEST_OCCURRED_AT <= at <= now + MAX_CLOCK_SKEW


def _first_time(message: Mapping[str, Any]) -> datetime | None:
    for key in TIME_KEYS:
        if message.get(key) is not None:
            return _parse_time(message[key])
    return None


def _parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string or epoch seconds (or milliseconds)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > _EPOCH_MS_THRESHOLD else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        try:
            return _parse_time(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        # Naive times are taken as UTC, as the event contract does.
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _error_of(result: str, flagged: bool, text: str) -> str | None:
    if flagged:
        return text or "error"
    try:
        value = json.loads(result)
    except ValueError:
        return None
    if isinstance(value, dict) and value.get("error") not in (None, False, ""):
        error = value["error"]
        return error if isinstance(error, str) else _json(error)
    return None


def _summarise_blobs(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_INLINE_CHARS:
        head = value.split(",", 1)[0] if value.startswith("data:") else None
        summary: dict[str, Any] = {
            "_omitted": "inline data",
            "chars": len(value),
            "sha256": hashlib.sha256(value.encode()).hexdigest(),
        }
        if head:
            summary["header"] = head
        return summary
    if isinstance(value, dict):
        return {k: _summarise_blobs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_summarise_blobs(v) for v in value]
    return value


def _part_type(part: Any) -> str:
    if isinstance(part, dict) and isinstance(part.get("type"), str):
        return str(part["type"])
    return type(part).__name__


def _where(where: Any) -> str:
    return f"message {where}" if isinstance(where, int) else str(where)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _json(value)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


__all__ = [
    "DEFAULT_BATCH_EVENTS",
    "MISSING_CONTENT",
    "PLACEHOLDER_PROMPT_CONTENT",
    "ChatBatch",
    "ChatImportReport",
    "ImportIssue",
    "conversation_events",
    "event_id",
    "import_chat_file",
    "iter_chat_events",
]
