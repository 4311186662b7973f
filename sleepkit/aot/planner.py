"""Static activation-memory plan: every non-constant tensor gets a fixed offset in one arena.

Tensors joined by RESHAPE-like ops share one buffer (the op emits no code). A buffer is live from
the step that writes it (graph inputs: before the first step) to the last step that reads it (graph
outputs: after the last step). Buffers are placed largest first at the lowest offset that does not
collide with an already placed buffer whose lifetime overlaps; an op's output never shares memory
with its own inputs because both are live during that step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lower import Step
from .reader import Graph

ALIGN = 16


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    tensors: list[int]
    size: int
    first: int
    last: int
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return not (self.last < other.first or other.last < self.first)


@dataclass
class Plan:
    buffers: list[Buffer]
    offsets: dict[int, int] = field(default_factory=dict)   # tensor id -> arena offset
    peak_bytes: int = 0
    naive_bytes: int = 0          # sum of all buffers: the arena without reuse


def plan_memory(graph: Graph, steps: list[Step]) -> Plan:
    parent: dict[int, int] = {}

    def find(t: int) -> int:
        while parent.get(t, t) != t:
            t = parent[t]
        return t

    for step in steps:
        if step.kernel is None:
            parent[find(step.output)] = find(step.inputs[0])

    def is_activation(t: int) -> bool:
        return t >= 0 and not graph.tensors[t].is_constant

    first: dict[int, int] = {}
    last: dict[int, int] = {}
    size: dict[int, int] = {}
    members: dict[int, list[int]] = {}

    def touch(t: int, when: int) -> None:
        root = find(t)
        first[root] = min(first.get(root, when), when)
        last[root] = max(last.get(root, when), when)
        size[root] = max(size.get(root, 0), graph.tensors[t].nbytes)
        if t not in members.setdefault(root, []):
            members[root].append(t)

    for t in graph.inputs:
        touch(t, -1)
    for i, step in enumerate(steps):
        for t in step.inputs:
            if is_activation(t):
                touch(t, i)
        if is_activation(step.output):
            touch(step.output, i)
    for t in graph.outputs:
        if is_activation(t):
            touch(t, len(steps))

    buffers = [Buffer(members[r], size[r], first[r], last[r]) for r in members]
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-_align(b.size), b.first)):
        offset = 0
        for other in sorted((p for p in placed if p.overlaps_in_time(buf)), key=lambda p: p.offset):
            if offset + _align(buf.size) <= other.offset:
                break
            offset = max(offset, other.offset + _align(other.size))
        buf.offset = offset
        placed.append(buf)

    plan = Plan(buffers)
    for buf in buffers:
        for t in buf.tensors:
            plan.offsets[t] = buf.offset
    plan.peak_bytes = max((b.offset + _align(b.size) for b in buffers), default=0)
    plan.naive_bytes = sum(_align(b.size) for b in buffers)
    return plan


def check_plan(plan: Plan) -> None:
    """Assert no two simultaneously live buffers overlap in memory (used by tests and generate)."""
    for i, a in enumerate(plan.buffers):
        for b in plan.buffers[i + 1:]:
            if a.overlaps_in_time(b):
                if not (a.offset + a.size <= b.offset or b.offset + b.size <= a.offset):
                    raise AssertionError(f"buffers {a.tensors} and {b.tensors} overlap in the arena")
