"""The `graph` subcommands of `memgraph-ops`: Format E snapshots, lookups, diffs, imports,
relevant subgraphs and custom types (docs/format-e.md, `memgraph_ops.memory.shared`).

`memgraph_ops.cli` calls `register(subparsers, common)`; handlers return an exit code and raise
`memgraph_ops.errors` exceptions for bad input (exit 2) or failures (exit 1; a diff that
conflicts with a moved graph is a failure: read the snapshot again).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from memgraph_ops.errors import InputError
from memgraph_ops.home import open_home

EXIT_OK, EXIT_BAD_INPUT = 0, 2
_GRAPH_HELP = "the graph id (a session id, or a system graph's id)"
_TENANT_HELP = "the tenant whose graph it is (needed when the graph is new or shared by several)"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add `graph` and its subcommands to `memgraph-ops`."""
    p = subparsers.add_parser(
        "graph", parents=[common], help="graphs as Format E text (docs/format-e.md)"
    )
    graph = p.add_subparsers(dest="graph_command", required=True)

    q = graph.add_parser("export", parents=[common], help="a graph as Format E, with its version")
    q.add_argument("graph_id", help=_GRAPH_HELP)
    q.add_argument("--tenant", help=_TENANT_HELP)
    q.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    q.set_defaults(run=_export)

    q = graph.add_parser(
        "import", parents=[common], help="make a graph hold exactly a Format E file (atomic)"
    )
    q.add_argument("file", type=Path, help="a Format E snapshot (## Nodes / ## Edges)")
    q.add_argument("--graph", required=True, dest="graph_id", help=_GRAPH_HELP)
    q.add_argument("--tenant", help=_TENANT_HELP)
    q.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    q.set_defaults(run=_import)

    q = graph.add_parser(
        "apply", parents=[common], help="apply a Format E diff whole, or refuse it whole"
    )
    q.add_argument("file", type=Path, help="an <operations> block naming its <base_snapshot>")
    q.add_argument("--graph", required=True, dest="graph_id", help=_GRAPH_HELP)
    q.add_argument("--tenant", help=_TENANT_HELP)
    q.set_defaults(run=_apply)

    q = graph.add_parser("node", parents=[common], help="one node of a graph by its exact id")
    q.add_argument("graph_id", help=_GRAPH_HELP)
    q.add_argument("node_id", help="the node's semantic id, e.g. ProcessPayment.FN.001")
    q.add_argument("--tenant", help=_TENANT_HELP)
    q.set_defaults(run=_node)

    q = graph.add_parser(
        "relevant", parents=[common], help="the part of a graph relevant to a question"
    )
    q.add_argument("graph_id", help=_GRAPH_HELP)
    q.add_argument("query", help="the question, in words")
    q.add_argument("--max-nodes", type=_positive, default=20, help="at most this many nodes")
    q.add_argument("--max-tokens", type=_positive, default=None, help="at most ~this many tokens")
    q.add_argument("--type", action="append", dest="node_types", help="only nodes of this type")
    q.add_argument("--tenant", help=_TENANT_HELP)
    q.set_defaults(run=_relevant)

    q = graph.add_parser(
        "types", parents=[common], help="a tenant's custom node and edge types (show or register)"
    )
    q.add_argument("--tenant", required=True, help="the tenant the types are for")
    q.add_argument(
        "--register", type=Path, metavar="FILE",
        help="register this JSON definition as the tenant's types (a new version)",
    )  # fmt: skip
    q.set_defaults(run=_types)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc


def _export(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        snapshot = mg.snapshot(args.graph_id, tenant=args.tenant)
    if not snapshot.graph.nodes:
        print(
            f"no graph {args.graph_id!r}: no node of that graph in HOT or the lake", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    if args.out is None:
        sys.stdout.write(snapshot.text)
    else:
        args.out.write_text(snapshot.text, encoding="utf-8")
    graph = snapshot.graph
    print(
        f"version {snapshot.version}: {len(graph.nodes)} nodes, {len(graph.edges)} edges",
        file=sys.stderr,
    )
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from memgraph_ops.memory.format_e import parse

    text = _read(args.file)
    with open_home(args.home) as mg:
        if args.dry_run:
            wanted, current = parse(text), mg.snapshot(args.graph_id, tenant=args.tenant).graph
            add = set(wanted.nodes) - set(current.nodes)
            drop = {n.id for n in current.nodes} - {n.id for n in wanted.nodes}
            print(
                f"would add or rewrite {len(add)} nodes, remove {len(drop)}; add "
                f"{len(set(wanted.edges) - set(current.edges))} edges, remove "
                f"{len(set(current.edges) - set(wanted.edges))} (nothing changed)"
            )
            return EXIT_OK
        applied = mg.import_graph(args.graph_id, text, tenant=args.tenant)
    print(f"graph {args.graph_id}: version {applied.version} ({applied.events} events)")
    return EXIT_OK


def _apply(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        applied = mg.apply_diff(args.graph_id, _read(args.file), tenant=args.tenant)
    moved = " (the graph had moved; the diff commuted)" if applied.commuted else ""
    print(
        f"graph {args.graph_id}: {applied.base} → {applied.version}, {applied.events} events{moved}"
    )
    return EXIT_OK


def _node(args: argparse.Namespace) -> int:
    from memgraph_ops.memory.format_e import node_line

    with open_home(args.home) as mg:
        node = mg.graph_node(args.graph_id, args.node_id, tenant=args.tenant)
    if node is None:
        print(f"graph {args.graph_id!r} has no node {args.node_id!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(node_line(node))
    return EXIT_OK


def _relevant(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        found = mg.relevant(
            args.graph_id, args.query, node_types=args.node_types, max_nodes=args.max_nodes,
            max_tokens=args.max_tokens, tenant=args.tenant,
        )  # fmt: skip
    if found.left_out == 0 and not found.graph.nodes:
        print(
            f"no graph {args.graph_id!r}: no node of that graph in HOT or the lake", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    sys.stdout.write(found.text)
    print(found.note, file=sys.stderr)
    return EXIT_OK


def _types(args: argparse.Namespace) -> int:
    with open_home(args.home) as mg:
        if args.register is not None:
            try:
                definition = json.loads(_read(args.register))
            except ValueError as exc:
                raise InputError(f"{args.register} is not JSON: {exc}") from exc
            registry = mg.register_types(args.tenant, definition)
        else:
            registry = mg.graph_types(args.tenant)
    print(
        json.dumps(
            {"tenant": args.tenant, "version": registry.version, **registry.definition()}, indent=2
        )
    )
    return EXIT_OK
