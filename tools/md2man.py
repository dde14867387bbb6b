#!/usr/bin/env python3
"""Turns portkit's man-page sources (a roff head, Markdown sections in
doc/sections, a roff tail) into one man page. Only the Markdown the sections
use is understood: headings, paragraphs, definition lists (**term** then
": text"), bullets, indented code blocks and pipe tables.

Usage: md2man.py OUT HEAD.roff SECTION.md... TAIL.roff
"""
import re
import sys


def esc(text):
    text = text.replace("\\", "\\e")
    text = text.replace("-", "\\-")
    return text


def inline(text):
    out = []
    pos = 0
    pattern = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
    for m in pattern.finditer(text):
        out.append(esc(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append("\\fB" + inline(m.group(1)) + "\\fR")
        elif m.group(2) is not None:
            out.append("\\fB" + esc(m.group(2)) + "\\fR")
        else:
            out.append("\\fI" + inline(m.group(3)) + "\\fR")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def line_safe(s):
    # a roff line must not start with a control character
    return "\\&" + s if s[:1] in (".", "'") else s


def convert(md):
    out = []
    lines = md.splitlines()
    i = 0
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.append(line_safe(inline(" ".join(para))))
            para.clear()

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
            continue
        m = re.match(r"^(#{1,4})\s+(.*)$", line)
        if m:
            flush()
            level, title = len(m.group(1)), m.group(2)
            if level == 1:
                # flags keep their case: SCAN -sV, not SCAN -SV
                words = re.sub(r"[*`]", "", title).split(" ")
                title = " ".join(w if w.lstrip("(").startswith("-") else w.upper() for w in words)
                out.append('.SH "' + esc(title) + '"')
            else:
                out.append('.SS "' + esc(re.sub(r"[*`]", "", title)) + '"')
            i += 1
            continue
        if line.startswith("    "):
            flush()
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out += [".PP", ".RS 4", ".nf"] + [line_safe(esc(b)) for b in block] + [".fi", ".RE"]
            continue
        if line.startswith("|"):
            flush()
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                row = lines[i].strip().strip("|").replace("\\|", "\0")
                cells = [c.strip().replace("\0", "|") for c in row.split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                    rows.append([re.sub(r"[`*]", "", c) for c in cells])
                i += 1
            ncols = max(len(r) for r in rows)
            widths = [max(len(r[k]) for r in rows if k < len(r)) for k in range(ncols)]
            out += [".PP", ".RS 2", ".nf"]
            for r in rows:
                out.append(line_safe(esc("  ".join(c.ljust(widths[k]) for k, c in enumerate(r)).rstrip())))
            out += [".fi", ".RE"]
            continue
        if re.match(r"^[*-] ", line):
            flush()
            item = [line[2:].strip()]
            i += 1
            while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                item.append(lines[i].strip())
                i += 1
            out += [".IP \\(bu 2", line_safe(inline(" ".join(item)))]
            continue
        if i + 1 < len(lines) and lines[i + 1].startswith(": "):
            flush()
            out += [".TP", line_safe(inline(line.strip()))]
            i += 1
            desc = []
            while i < len(lines) and (lines[i].startswith(": ") or lines[i].startswith("  ")) and lines[i].strip():
                desc.append(lines[i][2:].strip())
                i += 1
            out.append(line_safe(inline(" ".join(desc))))
            continue
        para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out_path, parts = sys.argv[1], sys.argv[2:]
    text = []
    for p in parts:
        with open(p, encoding="utf-8") as f:
            src = f.read()
        text.append(src if p.endswith(".roff") else convert(src))
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("".join(text))


if __name__ == "__main__":
    main()
