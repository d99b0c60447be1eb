"""Shared agent memory: graphs as Format E text snapshots, diffs, relevant subgraphs."""
