"""Bringing outside data in: event files and conversation logs in the OpenAI chat format."""

from memgraph_ops.imports.chat import (
    ChatBatch,
    ChatImportReport,
    ImportIssue,
    conversation_events,
    import_chat_file,
    iter_chat_events,
)

__all__ = [
    "ChatBatch",
    "ChatImportReport",
    "ImportIssue",
    "conversation_events",
    "import_chat_file",
    "iter_chat_events",
]
