#!/usr/bin/env python3
"""Lists import circles between the modules of src/ (each file is a module; an edge is any
`crate::`/`super::`/`thumbkit::` path naming another module). Exits 1 when there is one."""
import os, re, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)

files = {}
for d, _, names in os.walk(ROOT):
    for n in names:
        if n.endswith(".rs"):
            p = os.path.join(d, n)
            files[module_of(p)] = p
# The binary's modules live under cli/ (and main); `crate::` there means the binary.
def crate_root(mod):
    return ("cli",) if mod[:1] == ("cli",) or mod == () and files[mod].endswith("main.rs") else ()

def resolve(parts):
    """The longest known module that `parts` starts with."""
    for n in range(len(parts), 0, -1):
        if tuple(parts[:n]) in files:
            return tuple(parts[:n])
    return None

def strip_tests(text):
    # Unit tests (`#[cfg(test)] mod tests`) may use anything; they are not the module's shape.
    i = text.find("#[cfg(test)]\nmod tests")
    return text if i < 0 else text[:i]

PATH = re.compile(r"\b(crate|super|thumbkit)((?:::\{?[A-Za-z_][A-Za-z0-9_]*)+)")
edges = {m: set() for m in files}
for mod, path in files.items():
    text = strip_tests(open(path).read())
    text = re.sub(r"//.*", "", text)
    is_dir = os.path.basename(path) in ("mod.rs", "lib.rs", "main.rs")
    for m in PATH.finditer(text):
        head, rest = m.group(1), [p.lstrip("{") for p in m.group(2).split("::")[1:]]
        if head == "crate":
            base = list(crate_root(mod)) if mod[:1] == ("cli",) else []
        elif head == "thumbkit":
            base = []
        else:
            base = list(mod[:-1])
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        target = resolve(base + rest)
        if target is not None and target != mod and not (target == () ):
            edges[mod].add(target)
    # A folder's mod.rs (or lib.rs) may name its own submodules without a prefix.
    if is_dir:
        children = re.findall(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;", text, re.M)
        body = re.sub(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+[a-z_0-9]+\s*;", "", text, flags=re.M)
        for child in children:
            if re.search(r"(?<![:\w])" + child + r"::", body):
                target = resolve(list(mod) + [child])
                if target is not None:
                    edges[mod].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(comp)
sys.setrecursionlimit(10000)
for v in files:
    if v not in index:
        visit(v)
name = lambda m: "::".join(m) or "crate"
for comp in out:
    print("circle:", " <-> ".join(sorted(name(m) for m in comp)))
    for m in sorted(comp):
        print("   ", name(m), "->", ", ".join(sorted(name(t) for t in edges[m] if t in comp)))
print(f"{len(files)} modules, {sum(len(e) for e in edges.values())} imports, {len(out)} circles")
sys.exit(1 if out else 0)
