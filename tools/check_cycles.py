#!/usr/bin/env python3
"""Lists call cycles between the library's source files, read from the
objects' symbol tables: file A depends on file B when A's object uses a
symbol B's object defines. A cycle (A needs B and B needs A, possibly through
others) means the two files are one module split in two.

    tools/check_cycles.py BUILD_DIR     # exit 0: no cycle; 1: cycles listed
"""
import os
import subprocess
import sys


def objects(build):
    top = os.path.join(build, "CMakeFiles", "portkit_core.dir", "lib")
    for d, _, files in os.walk(top):
        for f in files:
            if f.endswith(".o"):
                path = os.path.join(d, f)
                yield os.path.relpath(path, top)[:-len(".c.o")] + ".c", path


def symbols(obj):
    out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDRBCV":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            used.add(parts[1])
    return defined, used


def cycles(graph):
    """Tarjan's strongly connected components with more than one file."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    table = {name: symbols(path) for name, path in objects(build)}
    if not table:
        sys.exit(f"no library objects under {build}: build first")
    owner = {}
    for name, (defined, _) in table.items():
        for s in defined:
            owner[s] = name
    graph = {name: set() for name in table}
    why = {}
    for name, (_, used) in table.items():
        for s in used:
            if s in owner and owner[s] != name:
                graph[name].add(owner[s])
                why.setdefault((name, owner[s]), s)
    found = cycles(graph)
    for comp in found:
        print("cycle: " + " <-> ".join(comp))
        for a in comp:
            for b in sorted(graph[a] & set(comp)):
                print(f"    {a} -> {b} ({why[(a, b)]})")
    print(f"{len(table)} files, {sum(map(len, graph.values()))} dependencies, {len(found)} cycles")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
