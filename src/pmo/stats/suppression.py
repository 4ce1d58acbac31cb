"""Which groups to hide so that no body can be singled out (pure functions, no database).

Every statistic is published for groups that are unions of atoms — the bodies of one kind in one
prefecture — together with their row (prefecture), column (kind) and grand totals. The pattern
depends only on the atoms' sizes, so it is the same every month and a series cannot be differenced:

- primary: an atom with fewer than k bodies;
- secondary: in every row and column, a lone suppressed atom, or suppressed atoms that together hold
  fewer than k bodies, would be recovered by subtracting the published atoms from the total; the
  smallest published atom of that line is suppressed too, until no line is left so;
- no bridge: with all totals published, a suppressed atom is recoverable exactly when it is a bridge
  of the bipartite graph (rows, columns; one edge per suppressed atom) — one that lies on no cycle.
  Each bridge gets a partner suppressed in its row, closing a cycle.
"""

from collections import defaultdict
from collections.abc import Hashable, Mapping

PRIMARY, SECONDARY = "primary", "secondary"
Atom = tuple[Hashable, Hashable]  # (row, column), e.g. (prefecture code, kind)


def table_pattern(sizes: Mapping[Atom, int], k: int, also: Mapping[Atom, str] | None = None) -> dict[Atom, str]:
    """The suppressed atoms of a two-way table with published margins: atom → 'primary' | 'secondary'.
    `also` forces atoms to be hidden as well (e.g. those another table over the same bodies hides)."""
    atoms = {a: n for a, n in sizes.items() if n > 0}
    marks = {a: SECONDARY for a in (also or {}) if a in atoms}
    marks.update({a: PRIMARY for a, n in atoms.items() if n < k})
    lines: dict[tuple[int, Hashable], list[Atom]] = defaultdict(list)
    for atom in atoms:
        lines[(0, atom[0])].append(atom)
        lines[(1, atom[1])].append(atom)
    changed = True
    while changed:
        changed = False
        for members in lines.values():
            hidden = [a for a in members if a in marks]
            if not hidden:
                continue
            open_atoms = sorted((a for a in members if a not in marks), key=lambda a: (atoms[a], str(a)))
            if (len(hidden) == 1 or sum(atoms[a] for a in hidden) < k) and open_atoms:
                marks[open_atoms[0]] = SECONDARY
                changed = True
        if not changed:
            for bridge in _bridges(list(marks)):
                row_open = sorted(
                    (a for a in lines[(0, bridge[0])] if a not in marks), key=lambda a: (atoms[a], str(a))
                )
                col_open = sorted(
                    (a for a in lines[(1, bridge[1])] if a not in marks), key=lambda a: (atoms[a], str(a))
                )
                candidates = row_open or col_open
                if candidates:
                    marks[candidates[0]] = SECONDARY
                    changed = True
                    break
    return marks


def _bridges(edges: list[Atom]) -> list[Atom]:
    """Edges of the bipartite row–column graph that lie on no cycle (Tarjan, iterative)."""
    graph: dict[tuple[int, Hashable], list[tuple[tuple[int, Hashable], int]]] = defaultdict(list)
    for i, (row, col) in enumerate(edges):
        graph[(0, row)].append(((1, col), i))
        graph[(1, col)].append(((0, row), i))
    order: dict = {}
    low: dict = {}
    found: list[Atom] = []
    counter = 0
    for root in graph:
        if root in order:
            continue
        order[root] = low[root] = counter
        counter += 1
        stack = [(root, -1, iter(graph[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            advanced = False
            for nxt, edge in neighbours:
                if edge == via:
                    continue
                if nxt in order:
                    low[node] = min(low[node], order[nxt])
                else:
                    order[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append((nxt, edge, iter(graph[nxt])))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        found.append(edges[via])
    return found


def line_pattern(counts: list[int], k: int) -> list[str | None]:
    """Suppression of one line of counts whose total is published (e.g. histogram bins)."""
    marks: list[str | None] = [PRIMARY if 0 < c < k else None for c in counts]
    while True:
        hidden = [i for i, m in enumerate(marks) if m]
        open_bins = sorted((c, i) for i, c in enumerate(counts) if not marks[i] and c > 0)
        if not hidden or not open_bins or (len(hidden) > 1 and sum(counts[i] for i in hidden) >= k):
            return marks
        marks[open_bins[0][1]] = SECONDARY
