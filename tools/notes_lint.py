#!/usr/bin/env python3
"""Lint for data/notes: every block parses, names a source, agrees with
IANA or says where it does not; every vi/zh translation has its English
block. Prints the counts the notes are judged by (curated pairs, range
blocks, blocks with sources, ports translated per language).

Usage: notes_lint.py [NOTES_DIR [IANA_CSV]]   (exit 1 on any problem)"""
import csv
import glob
import os
import re
import sys

KEYS = {"name", "alias", "note", "alt", "risk", "src", "display"}
RISK_KINDS = {"trojan", "backdoor", "worm", "exploit", "exposure"}
PROTOS = {"tcp", "udp", "sctp", "dccp"}
MAX_LINES = 800
HEADER = re.compile(r"^@ (\d+)(?:-(\d+))?/([a-z+]+)(?: (official|de-facto))?$")


def parse(path, problems):
    """Blocks of one file as dicts; problems get 'file:line: message'."""
    blocks, lang, cur = [], "en", None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if len(lines) > MAX_LINES + 1:
        problems.append(f"{path}: {len(lines) - 1} lines, split it (limit {MAX_LINES})")
    for no, raw in enumerate(lines, 1):
        line = raw.rstrip()
        where = f"{path}:{no}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("lang:"):
            lang = line.split(":", 1)[1].strip()
            if lang not in ("vi", "zh") or blocks or cur:
                problems.append(f"{where}: 'lang:' must be vi or zh and come before any block")
            continue
        if line.startswith("@"):
            m = HEADER.match(line)
            if not m or (lang == "en") != bool(m.group(4)):
                problems.append(f"{where}: bad header {line!r}")
                cur = None
                continue
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            protos = m.group(3).split("+")
            if hi > 65535 or hi < lo or not set(protos) <= PROTOS:
                problems.append(f"{where}: bad port range or transport in {line!r}")
            cur = {"file": path, "line": no, "lo": lo, "hi": hi, "protos": protos, "lang": lang,
                   "official": m.group(4) == "official", "keys": {}}
            blocks.append(cur)
            continue
        key, sep, value = line.partition(":")
        value = value.strip()
        if not sep or cur is None or key not in KEYS or not value:
            problems.append(f"{where}: expected 'key: value' inside a block (keys: {', '.join(sorted(KEYS))})")
            continue
        if lang != "en" and key != "note":
            problems.append(f"{where}: translations hold only note: lines")
        cur["keys"].setdefault(key, []).append(value)
        if key == "risk":
            kind = value.split(":", 1)[0]
            kind, _, proto = kind.partition("/")
            if kind not in RISK_KINDS or (proto and proto not in cur["protos"]):
                problems.append(f"{where}: risk kind must be one of {sorted(RISK_KINDS)}[/transport]")
        if key == "display" and (" " in value or len(value) > 63 or len(cur["keys"]["display"]) > 1):
            problems.append(f"{where}: display: is one short service keyword, once per block")
        if key in ("note", "name", "risk", "src", "alt", "display") and lang == "en" and not value.isascii():
            problems.append(f"{where}: English {key}: lines are ASCII (UTF-8 names go in alias:)")
    for b in blocks:
        k = b["keys"]
        where = f"{b['file']}:{b['line']}"
        if "note" not in k:
            problems.append(f"{where}: block has no note:")
        if b["lang"] == "en":
            if len(k.get("name", [])) != 1:
                problems.append(f"{where}: block needs exactly one name:")
            if len(k.get("src", [])) != 1:
                problems.append(f"{where}: block needs exactly one src: (where its facts come from)")
    return blocks


def load_iana(csv_path):
    names, reserved = {}, set()
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            port = row["Port Number"]
            if not port:
                continue
            lo, _, hi = port.partition("-")
            protos = [row["Transport Protocol"]] if row["Transport Protocol"] else ["tcp", "udp"]
            for p in range(int(lo), int(hi or lo) + 1):
                for t in protos:
                    if row["Service Name"]:
                        names.setdefault((p, t), set()).add(row["Service Name"].lower())
                    elif "reserved" in row["Description"].lower():
                        reserved.add((p, t))
    return names, reserved


def check_iana(blocks, names, reserved, problems):
    """Official blocks carry IANA's name; de-facto ones that differ from an
    IANA assignment say so (mention IANA in a note)."""
    for b in blocks:
        if b["lang"] != "en" or "name" not in b["keys"]:
            continue
        name = b["keys"]["name"][0].lower()
        text = " ".join(b["keys"].get("note", []))
        where = f"{b['file']}:{b['line']}"
        for t in b["protos"]:
            ports = [b["lo"]] if b["lo"] == b["hi"] else range(b["lo"], b["hi"] + 1)
            for p in ports:
                iana = names.get((p, t), set())
                if b["official"]:
                    # IANA's odd names ("Apple Remote Desktop (Net Assistant)") may be shortened
                    ok = name in iana or any(name.replace("-", " ") in n for n in iana) or \
                        (not iana and (p, t) in reserved and name == "reserved")
                    if not ok:
                        problems.append(f"{where}: official block named {name!r}, IANA has {sorted(iana) or 'nothing'} "
                                        f"for {p}/{t} (make it de-facto and say what IANA lists)")
                        break
                elif iana and name not in iana and b["lo"] == b["hi"] and "IANA" not in text:
                    problems.append(f"{where}: de-facto name {name!r} differs from IANA's {sorted(iana)} for {p}/{t} "
                                    "without saying so: mention what IANA lists")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    notes_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data", "notes")
    csv_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(notes_dir, "..", "iana-service-names-port-numbers.csv")
    problems = []
    english, translated = [], {"vi": [], "zh": []}
    for path in sorted(glob.glob(os.path.join(notes_dir, "*.txt"))):
        english += parse(path, problems)
    for lang in translated:
        for path in sorted(glob.glob(os.path.join(notes_dir, lang, "*.txt"))):
            blocks = parse(path, problems)
            for b in blocks:
                if b["lang"] != lang:
                    problems.append(f"{b['file']}:{b['line']}: file in {lang}/ must start with 'lang: {lang}'")
            translated[lang] += blocks
    claimed = {}
    for b in english:
        for t in b["protos"]:
            key = (b["lo"], b["hi"], t)
            if key in claimed:
                problems.append(f"{b['file']}:{b['line']}: {b['lo']}-{b['hi']}/{t} already has a block at {claimed[key]}")
            claimed[key] = f"{b['file']}:{b['line']}"
    for lang, blocks in translated.items():
        seen = set()
        for b in blocks:
            for t in b["protos"]:
                key = (b["lo"], b["hi"], t)
                if key not in claimed:
                    problems.append(f"{b['file']}:{b['line']}: {lang} note for {b['lo']}/{t} has no English block")
                if key in seen:
                    problems.append(f"{b['file']}:{b['line']}: second {lang} note for {b['lo']}/{t}")
                seen.add(key)
    names, reserved = load_iana(csv_path)
    check_iana(english, names, reserved, problems)

    singles = sum(len(b["protos"]) for b in english if b["lo"] == b["hi"])
    ranges = sum(1 for b in english if b["lo"] != b["hi"])
    sourced = sum(1 for b in english if b["keys"].get("src"))
    print(f"curated (port, proto) pairs: {singles}; range blocks: {ranges}; "
          f"blocks with sources: {sourced} of {len(english)}")
    for lang, blocks in translated.items():
        ports = {p for b in blocks for p in range(b["lo"], b["hi"] + 1)} if blocks else set()
        small = {b["lo"] for b in blocks}
        print(f"{lang}: {len(blocks)} translated blocks covering {len(small)} ports")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
