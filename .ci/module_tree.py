"""module_tree: reads a Rust crate's module tree, with every path each module uses.

Part of .ci/module-cycles (see there for what counts as a use and why `#[cfg(test)]`
modules are left out). A token-level reader: comments, string/char literals and lifetimes
are skipped; everything else is read as plain tokens.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------
# Tokens


@dataclass
class Tok:
    kind: str  # "ident", "punct", "str", "other"
    text: str
    line: int


IDENT_START = re.compile(r"[A-Za-z_]")
IDENT = re.compile(r"(?:r#)?[A-Za-z_][A-Za-z0-9_]*")
CHAR_LIT = re.compile(r"'(?:\\u\{[0-9a-fA-F_]+\}|\\x[0-9a-fA-F]{2}|\\.|[^\\'\n])'", re.S)
RAW_STR = re.compile(r'b?r(#*)"')


def tokenize(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n, line = 0, len(src), 1
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2  # block comments nest in Rust
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += src[i] == "\n"
                    i += 1
        elif (m := RAW_STR.match(src, i)) is not None:
            end = src.find('"' + m.group(1), m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            text = src[m.end() : end - 1 - len(m.group(1))]
            toks.append(Tok("str", text, line))
            line += src.count("\n", i, end)
            i = end
        elif c == '"' or (c == "b" and src.startswith('b"', i)):
            j = i + (2 if c == "b" else 1)
            start = j
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            toks.append(Tok("str", src[start:j], line))
            line += src.count("\n", i, j)
            i = j + 1
        elif c == "'" or src.startswith("b'", i):
            m = CHAR_LIT.match(src, i + (c == "b"))
            if m is not None:  # a char literal; otherwise a lifetime / label
                i = m.end()
            else:
                i += 1
                while i < n and (src[i].isalnum() or src[i] == "_"):
                    i += 1
        elif IDENT_START.match(c):
            m = IDENT.match(src, i)
            toks.append(Tok("ident", m.group(0).removeprefix("r#"), line))
            i = m.end()
        elif c.isdigit():
            while i < n and (src[i].isalnum() or src[i] in "_."):
                if src[i] == "." and not (i + 1 < n and src[i + 1].isdigit()):
                    break
                i += 1
            toks.append(Tok("other", "0", line))
        elif src.startswith("::", i):
            toks.append(Tok("punct", "::", line))
            i += 2
        else:
            toks.append(Tok("punct", c, line))
            i += 1
    return toks


# ---------------------------------------------------------------------------
# Module tree and references


@dataclass
class Module:
    path: tuple[str, ...]  # () is the crate root
    file: str
    children: dict[str, "Module"] = field(default_factory=dict)
    # (path as written, source line) of every `use` and every path in code
    refs: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    # name -> path of each `use` here (any visibility: children see private imports too)
    imports: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # children declared #[cfg(test)]: not read, and paths into them lead nowhere
    test_only: set[str] = field(default_factory=set)

class ParseError(Exception):
    """A module declared with no file for it, or a file that cannot be read."""


def attr_text(toks: list[Tok]) -> str:
    return " ".join(t.text if t.kind != "str" else json.dumps(t.text) for t in toks)


def child_file(dir_for_children: str, name: str, path_attr: str | None, cur_file: str) -> tuple[str, str]:
    """The file of child module `name`, and the directory its own children live in."""
    if path_attr is not None:
        f = os.path.normpath(os.path.join(os.path.dirname(cur_file), path_attr))
        return f, os.path.join(os.path.dirname(f), os.path.splitext(os.path.basename(f))[0])
    flat = os.path.join(dir_for_children, name + ".rs")
    nested = os.path.join(dir_for_children, name, "mod.rs")
    if os.path.isfile(flat):
        return flat, os.path.join(dir_for_children, name)
    if os.path.isfile(nested):
        return nested, os.path.join(dir_for_children, name)
    raise ParseError(f"{cur_file}: module `{name}`: neither {flat} nor {nested} exists")


def parse_use_tree(toks: list[Tok], i: int, prefix: tuple[str, ...], out: list[tuple[tuple[str, ...], int, str]]) -> int:
    """Parses one use tree from toks[i]; appends each (full path, line, name it binds: "" for a
    glob). Returns the index after it."""
    segs = list(prefix)
    line = toks[i].line if i < len(toks) else 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "punct" and t.text == "::":
            i += 1
        elif t.kind == "punct" and t.text == "{":
            i += 1
            while i < len(toks) and toks[i].text != "}":
                i = parse_use_tree(toks, i, tuple(segs), out)
                if i < len(toks) and toks[i].text == ",":
                    i += 1
            return i + 1
        elif t.kind == "punct" and t.text == "*":
            out.append((tuple(segs), line, ""))
            return i + 1
        elif t.kind == "ident" and t.text != "as":
            segs.append(t.text)
            i += 1
        else:
            break
    if segs and segs[-1] == "self":
        segs.pop()
    alias = segs[-1] if segs else ""
    if i + 1 < len(toks) and toks[i].text == "as":
        alias = toks[i + 1].text
        i += 2
    out.append((tuple(segs), line, alias))
    return i


def parse_module(mod: Module, dir_for_children: str, toks: list[Tok]) -> None:
    """Reads the items of one file (toks) into mod and its inline/file children."""
    stack: list[tuple[Module, int, str]] = [(mod, 0, dir_for_children)]  # (module, brace depth, child dir)
    depth = 0
    attrs: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        cur, _, cur_dir = stack[-1]
        if t.text == "#" and i + 1 < len(toks) and toks[i + 1].text in ("[", "!"):
            j = i + 1 + (toks[i + 1].text == "!")
            k, level = j, 0
            while k < len(toks):
                level += toks[k].text == "["
                level -= toks[k].text == "]"
                k += 1
                if level == 0:
                    break
            attrs.append(attr_text(toks[j + 1 : k - 1]))
            i = k
            continue
        if t.kind == "ident" and t.text == "mod" and i + 2 < len(toks) and toks[i + 1].kind == "ident":
            name, after = toks[i + 1].text, toks[i + 2].text
            test_only = any(re.fullmatch(r"cfg \( test \)", a) for a in attrs)
            path_attr = next((m.group(1) for a in attrs if (m := re.fullmatch(r'path = ("(?:[^"\\]|\\.)*")', a))), None)
            path_attr = json.loads(path_attr) if path_attr else None
            attrs = []
            if test_only:
                cur.test_only.add(name)
            if after == ";":
                i += 3
                if test_only:
                    continue
                f, sub_dir = child_file(cur_dir, name, path_attr, cur.file)
                child = Module(cur.path + (name,), f)
                cur.children[name] = child
                parse_file(child, f, sub_dir)
                continue
            if after == "{":
                if test_only:  # skip the whole body
                    k, level = i + 2, 0
                    while k < len(toks):
                        level += toks[k].text == "{"
                        level -= toks[k].text == "}"
                        k += 1
                        if level == 0:
                            break
                    i = k
                    continue
                child = Module(cur.path + (name,), cur.file)
                cur.children[name] = child
                depth += 1
                stack.append((child, depth, os.path.join(cur_dir, name)))
                i += 3
                continue
        if t.kind == "ident" and t.text == "use" and (i == 0 or toks[i - 1].text != "::"):
            found: list[tuple[tuple[str, ...], int, str]] = []
            start = i + 1
            if start < len(toks) and toks[start].text == "::":  # `use ::extern_crate`
                start += 1
                found_extern = True
            else:
                found_extern = False
            j = parse_use_tree(toks, start, (), found)
            if not found_extern:
                for segs, line, alias in found:
                    cur.refs.append((segs, line))
                    if alias and alias != "_":
                        cur.imports[alias] = segs
            i = j
            attrs = []
            continue
        if t.kind == "ident" and i + 1 < len(toks) and toks[i + 1].text == "::" and (i == 0 or toks[i - 1].text not in ("::", "$")):
            # A path in code: `crate::a::f()`, `super::T`, `child::f()`; resolve() decides
            # whether it stays in the crate (a type's `Foo::new` or `std::…` does not).
            segs, k = [], i
            while k < len(toks) and toks[k].kind == "ident":
                segs.append(toks[k].text)
                k += 1
                if k < len(toks) and toks[k].text == "::":
                    k += 1
                else:
                    break
            cur.refs.append((tuple(segs), t.line))
            i = k
            continue
        if t.text == "{":
            depth += 1
            attrs = []
        elif t.text == "}":
            if depth == stack[-1][1] and len(stack) > 1:
                stack.pop()
            depth -= 1
            attrs = []
        elif t.text == ";":
            attrs = []
        i += 1


def parse_file(mod: Module, path: str, dir_for_children: str) -> None:
    try:
        with open(path, encoding="utf-8") as f:
            src = f.read()
    except OSError as e:
        raise ParseError(f"{path}: {e.strerror}") from e
    parse_module(mod, dir_for_children, tokenize(src))


def load_tree(root_file: str) -> Module:
    root = Module((), root_file)
    # A crate root's children live beside it (src/lib.rs -> src/x.rs, src/bin/b.rs -> src/bin/x.rs).
    parse_file(root, root_file, os.path.dirname(root_file))
    return root
