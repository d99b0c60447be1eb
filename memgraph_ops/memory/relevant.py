"""The part of a graph relevant to a question, cut to a budget.

1. Rank: BM25 (`bm25s`) over each node's id, name and description, plus a bonus for each
   exact name the question uses (`entities`: file names, identifiers, codes) that the node
   holds.
2. Expand: the neighbours of the hits, `hops` edges away in either direction.
3. Rerank: first the tool invocations that name what the question names (in their
   parameters or results), then the other hits, by their normalised BM25 score with the
   bonus. Their neighbours follow, ranked by the best score of the hits they are near, halved
   per edge between them.
4. Cut: nodes in that order until `max_nodes`, or until the Format E text would pass
   `max_tokens`. Tokens are estimated at four characters each (`estimate_tokens`).

The result is the subgraph (the chosen nodes and the edges among them), its text, and what was
left out. Lexical only: an embedder for semantic similarity is not built yet.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from memgraph_ops.memory.format_e import Edge, Graph, Node, edge_line, node_line, serialize

DECAY = 0.5
"""What a neighbour keeps of a hit's score, per edge between them."""
ENTITY_WEIGHT = 1.0
"""Added to a node's score when it names every entity of the question (in proportion)."""
_ENTITY = re.compile(
    r"`([^`\n]{3,60})`|\b([\w-]+\.(?:py|js|ts|json|toml|cfg|yaml|yml|txt|md|csv))\b"
    r"|\b([a-z]\w*_\w+)\b|\b([A-Z][a-z]+[A-Z]\w*)\b|\b([A-Z]{2,}\d+\w*|\d+[A-Z]{2,}\w*)\b"
)


def entities(query: str) -> set[str]:
    """The exact names a question uses: backticked words, file names, snake_case and
    CamelCase identifiers, codes such as `UA123` or `8ZXQ2B`."""
    found: set[str] = set()
    for match in _ENTITY.finditer(query):
        value = next(g for g in match.groups() if g)
        found |= {w for w in re.findall(r"[\w.-]{3,}", value) if not w.isdigit()}
    return found


@dataclass(frozen=True)
class Relevant:
    graph: Graph
    text: str
    """The subgraph as Format E."""
    tokens: int
    full_tokens: int
    """Estimated tokens of the subgraph's text and of the whole graph's."""
    left_out: int
    """Nodes of the graph not in the subgraph."""
    hits: int
    """Nodes whose own text matched the query."""

    @property
    def note(self) -> str:
        return (
            f"{len(self.graph.nodes)} of {len(self.graph.nodes) + self.left_out} nodes "
            f"({self.hits} matching, the rest their neighbours); {self.left_out} left out; "
            f"~{self.tokens} of ~{self.full_tokens} tokens"
        )


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def relevant(
    graph: Graph,
    query: str,
    *,
    node_types: list[str] | None = None,
    max_nodes: int = 20,
    max_tokens: int | None = None,
    hops: int = 1,
) -> Relevant:
    """The nodes of `graph` most relevant to `query` (of `node_types`, if given), with their
    neighbourhood, within `max_nodes` and `max_tokens`."""
    candidates = [n for n in graph.nodes if node_types is None or n.type in node_types]
    scores = _bm25(candidates, query)
    names = entities(query)
    calls: set[str] = set()  # tool invocations that name what the question names
    if names:  # what the question names exactly counts more than its prose
        for n in candidates:
            text = f"{n.id} {n.name} {n.description}"
            named = sum(1 for e in names if e in text)
            if named:
                scores[n.id] = scores.get(n.id, 0.0) + ENTITY_WEIGHT * named / len(names)
                if n.type == "ToolInvocation":
                    calls.add(n.id)
    hits = {node_id: s for node_id, s in scores.items() if s > 0}
    ranked = _spread(graph, hits, hops)
    by_id = {n.id: n for n in graph.nodes}
    # Those calls first, whatever their prose scores: a long prompt that repeats the question
    # must not crowd out the call that acted on what it names. Then the other hits, then
    # their neighbours.
    order = sorted(ranked, key=lambda i: (i not in calls, i not in hits, -ranked[i], i))
    chosen: list[Node] = []
    used = estimate_tokens("## Nodes\n## Edges\n")
    for node_id in order:
        if len(chosen) >= max_nodes:
            break
        cost = estimate_tokens(node_line(by_id[node_id]) + "\n")
        if max_tokens is not None and used + cost > max_tokens:
            continue  # a shorter node further down may still fit
        chosen.append(by_id[node_id])
        used += cost
    kept = {n.id for n in chosen}
    edges = [e for e in graph.edges if e.src in kept and e.dst in kept]
    if max_tokens is not None:  # edges count too: drop the last ones that do not fit
        edges = _within(edges, max_tokens - used)
    sub = Graph.of(chosen, edges)
    text = serialize(sub)
    return Relevant(
        sub,
        text,
        tokens=estimate_tokens(text),
        full_tokens=estimate_tokens(serialize(graph)),
        left_out=len(graph.nodes) - len(chosen),
        hits=len(kept & set(hits)),
    )


def _bm25(nodes: list[Node], query: str) -> dict[str, float]:
    if not nodes or not query.strip():
        return {}
    import bm25s  # (0.6 s to import: only when a question is asked, not on every CLI start)

    documents = [f"{n.id} {n.name} {n.description}" for n in nodes]
    corpus = bm25s.tokenize(documents, stopwords="en", show_progress=False)
    words = bm25s.tokenize(query, stopwords="en", return_ids=False, show_progress=False)
    if not words or not words[0]:
        return {}
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    found, scores = retriever.retrieve(words, k=len(nodes), show_progress=False)
    top = float(scores[0][0]) if len(scores[0]) else 0.0
    if top <= 0:
        return {}
    return {nodes[int(i)].id: float(s) / top for i, s in zip(found[0], scores[0], strict=True)}


def _spread(graph: Graph, hits: dict[str, float], hops: int) -> dict[str, float]:
    """Each node's score: its own, or the best a hit within `hops` edges passes on to it."""
    around: dict[str, set[str]] = defaultdict(set)
    for e in graph.edges:
        around[e.src].add(e.dst)
        around[e.dst].add(e.src)
    best = dict(hits)
    for hit, score in hits.items():
        frontier, seen = {hit}, {hit}
        for distance in range(1, hops + 1):
            frontier = {n for f in frontier for n in around[f]} - seen
            seen |= frontier
            passed = score * DECAY**distance
            for node_id in frontier:
                best[node_id] = max(best.get(node_id, 0.0), passed)
    return best


def _within(edges: list[Edge], budget: int) -> list[Edge]:
    kept = []
    for edge in sorted(edges):
        cost = estimate_tokens(edge_line(edge) + "\n")
        if cost > budget:
            break
        kept.append(edge)
        budget -= cost
    return kept
