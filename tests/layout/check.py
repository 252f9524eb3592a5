#!/usr/bin/env python3
"""Checks the layering of src/ and the length of functions.

1. Nothing but src/main.rs imports `crate::cli` (or `logmux::cli`).
2. The layers below the doors (engine/, sink/, output/, config/, event,
   units, sys, diag, shutdown, metrics) import no door: filter, run, listen, top.
3. No function outside tests is longer than 120 lines (src/ and parsers/src/).

Exits 1 and names every offence; prints one summary line either way.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOORS = ("filter", "run", "listen", "top")
LOWER = ("engine", "sink", "output", "config", "event", "units", "sys", "diag", "shutdown", "metrics")
MAX_LINES = 120


def rust_files(top):
    for dirpath, _, names in os.walk(top):
        for name in sorted(names):
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def strip_comments_and_strings(text):
    """Blanks comments, strings and char literals, keeping line breaks, so
    that braces and `use` paths inside them do not count."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r(#*)"', text[i:i + 10]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = '"' + hashes
            j = text.find(end, i + 2 + len(hashes))
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'" and re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", text[i:i + 12]):
            m = re.match(r"'(\\.|[^\\'])'|'\\u\{[0-9a-fA-F]+\}'|'\\x[0-9a-fA-F]{2}'", text[i:i + 12])
            out.append(" " * len(m.group(0)))
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(path):
    """`src/engine/pipeline.rs` -> `engine`; `src/event.rs` -> `event`."""
    rel = os.path.relpath(path, os.path.join(ROOT, "src"))
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first


def resolve_super(path, supers, name):
    """The top-level module that `super::…::name` in `path` names, or None
    when it stays inside a module below the top."""
    rel = os.path.relpath(path, os.path.join(ROOT, "src"))[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    parent = rel[: len(rel) - supers]
    return name if not parent else None


def closing_brace(code, start):
    """The index of the `}` that closes the `{` at `start`."""
    depth, j = 0, start
    while j < len(code):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                break
        j += 1
    return j


def test_ranges(code):
    """Line ranges of `#[cfg(test)]` items and test-only files' bodies."""
    ranges = []
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{", code):
        j = closing_brace(code, m.end() - 1)
        ranges.append((code.count("\n", 0, m.start()) + 1, code.count("\n", 0, j) + 1))
    return ranges


def long_functions(path, code):
    tests = test_ranges(code)
    found = []
    for m in re.finditer(r"\bfn\s+(\w+)\s*(<[^{;]*?>)?\s*\(", code):
        # The body starts at the first `{` after the signature, unless a `;`
        # (a trait method without a body) comes first.
        k = m.end()
        depth_paren = 1
        while k < len(code) and depth_paren:
            depth_paren += {"(": 1, ")": -1}.get(code[k], 0)
            k += 1
        brace, semi = code.find("{", k), code.find(";", k)
        if brace < 0 or (0 <= semi < brace):
            continue
        j = closing_brace(code, brace)
        first = code.count("\n", 0, m.start()) + 1
        last = code.count("\n", 0, j) + 1
        if any(a <= first <= b for a, b in tests):
            continue
        if last - first + 1 > MAX_LINES:
            found.append((first, m.group(1), last - first + 1))
    return found


def main():
    problems = []
    files = list(rust_files(os.path.join(ROOT, "src")))
    for path in files:
        rel = os.path.relpath(path, ROOT)
        code = strip_comments_and_strings(open(path, encoding="utf-8").read())
        module = module_of(path)
        for m in re.finditer(r"\b(?:crate|logmux)::(\w+)", code):
            target = m.group(1)
            line = code.count("\n", 0, m.start()) + 1
            if target == "cli" and rel != os.path.join("src", "main.rs"):
                problems.append(f"{rel}:{line}: imports crate::cli (only main.rs may)")
            if module in LOWER and target in DOORS:
                problems.append(f"{rel}:{line}: the {module} layer imports the {target} door")
        if module in LOWER:
            for m in re.finditer(r"\b((?:super::)+)(\w+)", code):
                target = resolve_super(path, m.group(1).count("super"), m.group(2))
                if target in DOORS:
                    line = code.count("\n", 0, m.start()) + 1
                    problems.append(f"{rel}:{line}: the {module} layer imports the {target} door")
    for top in ("src", os.path.join("parsers", "src")):
        for path in rust_files(os.path.join(ROOT, top)):
            rel = os.path.relpath(path, ROOT)
            if rel.endswith("tests.rs") or os.sep + "tests" + os.sep in rel:
                continue
            code = strip_comments_and_strings(open(path, encoding="utf-8").read())
            for line, name, length in long_functions(path, code):
                problems.append(f"{rel}:{line}: fn {name} is {length} lines (at most {MAX_LINES})")
    for p in problems:
        print(p)
    print(f"layout: {len(problems)} problems in {len(files)} files of src/")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
