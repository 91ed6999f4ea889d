"""Exported answers forged as a hostile notebook could write them: the judge's input, built by hand."""

from __future__ import annotations


def custom_module(graph: dict, children: dict | None = None, name: str = "Forged") -> dict:
    """An exported custom module with no weights of its own, whose forward in both modes is ``graph``."""
    return {
        "kind": "module",
        "class": name,
        "standard": False,
        "training": False,
        "attrs": {},
        "parameters": {},
        "buffers": {},
        "persistent": [],
        "children": children or {},
        "graphs": {"train": graph, "eval": graph},
    }
