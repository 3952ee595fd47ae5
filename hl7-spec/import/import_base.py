#!/usr/bin/env python3
"""Builds the bundled HL7 v2 base definitions (hl7-spec/spec/<version>/*.xml).

Sources (pinned; the hashes are checked before anything is read):
- npm `hl7-dictionary` 1.0.1 (MIT): segments, fields, data types, lengths, table ids, optionality,
  per-event message entries, and table values with descriptions (one unversioned set, ~v2.7).
- PyPI `hl7apy` 1.3.5 (MIT): message structures keyed by structure id (groups, order,
  cardinalities), the cross-check of fields and components, component tables, per-version codes.
  Its modules are read with `ast`, never imported or executed.
- `import/eventmap/*.properties` (HAPI data files, MPL-1.1): trigger event -> structure
  (the facts of HL7 table 0354), identity where absent.

Usage: python3 import_base.py --dictionary hl7-dictionary-1.0.1.tgz \
           --hl7apy hl7apy-1.3.5-py2.py3-none-any.whl [--out ../spec] [--report report]

Standard library only. Output is deterministic: no timestamps, sorted where order has no meaning.
See README.md beside this file.
"""

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import tarfile
import zipfile

DICTIONARY_SHA256 = "a23751c26d83a897fe5734ca198555c13c0d306d78b5578b103f0d63198182ef"
HL7APY_SHA256 = "c8b80ff5ad020bf9c1e68a6395cf45cb78db621f65569d1798c46eb1b657e27b"
VERSIONS = ["2.1", "2.2", "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7"]
HERE = os.path.dirname(os.path.abspath(__file__))

DICT_NOTE = "npm hl7-dictionary 1.0.1 (MIT, Copyright 2015 Fernando Serrano)"
APY_NOTE = "PyPI hl7apy 1.3.5 (MIT, Copyright (c) 2012-2018 CRS4)"
MAP_NOTE = "HAPI event map hapi_eventmap_{v}.properties (MPL-1.1; facts of HL7 table 0354)"

# hl7apy's pseudo-segment for "any HL7 segment" (MFN_M01 MF group, RTB_Knn, ...), written as the
# standard's `Hxx`; it has no segment definition.
APY_ANY_SEGMENT, ANY_SEGMENT = "ANYHL7SEGMENT", "Hxx"

STRUCTURE_ID = re.compile(r"[A-Z0-9]{3}_[A-Z0-9]{3}")

# hl7-dictionary `opt`: 1 optional, 2 required, 3 conditional, 4 backward compatible.
OPT_USAGE = {1: "O", 2: "R", 3: "C", 4: "B"}


# ----------------------------------------------------------------------------- sources
def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_hash(path, expected):
    actual = sha256_of(path)
    if actual != expected:
        sys.exit(f"error: {path}: sha256 {actual}, expected {expected}")


def strict_json_of_js(text):
    """`var x = {...}; module.exports = x;` -> the object (the literal is strict JSON)."""
    text = re.sub(r"^\s*var\s+\w+\s*=\s*", "", text)
    text = re.sub(r"module\.exports\s*=\s*\w+\s*;?\s*$", "", text.strip())
    return json.loads(text.strip().rstrip(";"))


class Dictionary:
    """hl7-dictionary, read from its npm tarball."""

    def __init__(self, tgz):
        self.files = {}
        with tarfile.open(tgz, "r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(".js"):
                    data = tar.extractfile(member).read().decode("utf-8")
                    self.files[member.name] = data
        self.tables = strict_json_of_js(self.files["package/lib/tables.js"])

    def load(self, version, name):
        return strict_json_of_js(self.files[f"package/lib/{version}/{name}.js"])


class Ref:
    """A reference inside hl7apy data (`FIELDS['PID_3']`), kept symbolic."""

    def __init__(self, table, key):
        self.table, self.key = table, key


def literal(node):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return [literal(e) for e in node.elts]
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        return Ref(node.value.id, literal(node.slice))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -literal(node.operand)
    raise ValueError(f"unexpected hl7apy expression: {ast.dump(node)[:80]}")


class Hl7apy:
    """hl7apy data modules, read from the wheel with `ast` (not imported, not executed)."""

    def __init__(self, whl):
        self.zip = zipfile.ZipFile(whl)
        self.names = set(self.zip.namelist())

    def load(self, version, module):
        path = f"hl7apy/v{version.replace('.', '_')}/{module}.py"
        if path not in self.names:
            return {}
        tree = ast.parse(self.zip.read(path).decode("utf-8"))
        out = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                out[node.targets[0].id] = {
                    literal(k): literal(v) for k, v in zip(node.value.keys, node.value.values)
                }
        return out


def load_eventmap(version):
    path = os.path.join(HERE, "eventmap", f"hapi_eventmap_{version}.properties")
    if not os.path.exists(path):
        return None
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                event, structure = line.split()
                rows[event] = structure
    return rows


# ----------------------------------------------------------------------------- helpers
def table_id(raw):
    if raw is None:
        return None
    text = str(raw)
    if text.upper().startswith("HL7"):
        text = text[3:]
    return text.zfill(4) if text.isdigit() else text


def datatype_name(raw):
    return "varies" if raw in ("VARIES", "varies") else raw


def title(snake):
    """hl7apy's `PATIENT_IDENTIFIER_LIST` -> `Patient Identifier List` (names it alone has)."""
    return " ".join(w.capitalize() for w in snake.split("_") if w)


def card(min_, max_):
    return min_, (None if max_ in (-1, 0, None) else max_)


def kind_and_children(entry):
    """hl7apy `('sequence', (children...))`; a few entries lack the kind (2.1 ORO) or the
    children (2.7 QRD, withdrawn)."""
    if entry and isinstance(entry[0], str):
        return entry[0], entry[1] if len(entry) > 1 else []
    return "sequence", entry


def position_of(key):
    return int(key.rsplit("_", 1)[1])


class Report:
    def __init__(self):
        self.lines = {}

    def add(self, section, text):
        self.lines.setdefault(section, []).append(text)

    def render(self, version):
        out = [f"Import report for HL7 {version} (generated by import_base.py; do not edit)", ""]
        for section in sorted(self.lines):
            items = self.lines[section]
            out.append(f"## {section} ({len(items)})")
            out.extend(f"- {line}" for line in sorted(items))
            out.append("")
        return "\n".join(out)


# ----------------------------------------------------------------------------- merge
def build_datatypes(version, dd, apy, report):
    """name -> {long_name, components: [dict]}."""
    dfields = dd.load(version, "fields")
    leaves = apy.get("DATATYPES", {})
    structs = apy.get("DATATYPES_STRUCTS", {})
    out = {}
    for name, entry in dfields.items():
        comps = []
        apy_struct = structs.get(name)
        for i, sub in enumerate(entry.get("subfields") or [], start=1):
            apy_leaf = leaves.get(apy_struct[i - 1][0]) if apy_struct and i <= len(apy_struct) else None
            table = table_id(sub.get("table"))
            apy_table = table_id(apy_leaf[4]) if apy_leaf else None
            if table is None and apy_table is not None:
                table = apy_table
                report.add("component table taken from hl7apy", f"{name}.{i}: {table}")
            elif apy_leaf and apy_table not in (None, table):
                report.add("component table differs", f"{name}.{i}: hl7-dictionary {table}, hl7apy {apy_table}")
            dt = datatype_name(sub["datatype"])
            if apy_leaf and datatype_name(apy_leaf[2]) != dt:
                report.add("component datatype differs", f"{name}.{i}: hl7-dictionary {dt}, hl7apy {apy_leaf[2]}")
            comps.append({"name": sub["desc"], "datatype": dt, "usage": OPT_USAGE[sub["opt"]],
                          "length": sub.get("len") or None, "table": table})
        if apy_struct is not None and entry.get("subfields") and len(apy_struct) != len(comps):
            report.add("component count differs (extra hl7apy components taken, no length)",
                       f"{name}: hl7-dictionary {len(comps)}, hl7apy {len(apy_struct)}")
            comps.extend(apy_component(leaves, e) for e in apy_struct[len(comps):])
        out[datatype_name(name)] = {"long_name": entry.get("desc") or None, "components": comps}
    for name, struct in structs.items():
        if name in out and out[name]["components"]:
            continue
        comps = [apy_component(leaves, e) for e in struct]
        report.add("data type taken from hl7apy (no lengths)", f"{name} ({len(comps)} components)")
        long_name = out.get(name, {}).get("long_name")
        out[name] = {"long_name": long_name, "components": comps}
    return out


def apy_component(leaves, entry):
    key, _ref, (min_, _max), _kind = entry
    leaf = leaves[key]
    return {"name": title(leaf[3]), "datatype": datatype_name(leaf[2]),
            "usage": "R" if min_ >= 1 else "O", "length": None, "table": table_id(leaf[4])}


def build_segments(version, dd, apy, report):
    dsegs = dd.load(version, "segments")
    asegs = apy.get("SEGMENTS", {})
    afields = apy.get("FIELDS", {})
    out = {}
    for name in sorted(set(dsegs) | set(asegs) - {APY_ANY_SEGMENT}):
        dfields = dsegs.get(name, {}).get("fields", [])
        aentries = {position_of(e[0]): e for e in kind_and_children(asegs.get(name, []))[1]}
        if name not in asegs:
            report.add("segment only in hl7-dictionary", name)
        if name not in dsegs:
            report.add("segment only in hl7apy (taken, no lengths)", name)
        fields = []
        for pos in range(1, max([len(dfields)] + list(aentries)) + 1):
            d = dfields[pos - 1] if pos <= len(dfields) else None
            a = aentries.get(pos)
            af = afields.get(a[0]) if a else None
            where = f"{name}-{pos}"
            if d is not None:
                field = {"name": d["desc"], "datatype": datatype_name(d["datatype"]),
                         "usage": OPT_USAGE[d["opt"]], "card": card(1 if d["opt"] == 2 else 0, d["rep"]),
                         "length": d.get("len") or None, "table": table_id(d.get("table"))}
                if af is not None:
                    cross_check_field(where, field, a, af, report)
                elif name in asegs:
                    report.add("field only in hl7-dictionary", where)
            else:
                if af is None:
                    sys.exit(f"error: {where} is in neither source")
                min_, max_ = card(*a[2])
                field = {"name": title(af[3]), "datatype": datatype_name(af[2]),
                         "usage": "R" if min_ >= 1 else "O", "card": (min_, max_),
                         "length": None, "table": table_id(af[4])}
                if name in dsegs:
                    report.add("field only in hl7apy (taken, no length)", where)
            fields.append(field)
        out[name] = {"long_name": dsegs.get(name, {}).get("desc") or None, "fields": fields}
    return out


def cross_check_field(where, field, a, af, report):
    adt = datatype_name(af[2])
    if adt != field["datatype"]:
        report.add("field datatype differs", f"{where}: hl7-dictionary {field['datatype']}, hl7apy {adt}")
    acard = card(*a[2])
    if acard != field["card"]:
        # hl7-dictionary keeps the standard's bounded repeats (OBR-28 0..5) where hl7apy says
        # `*`, but has a few stray ones (2.5.1 OBX-2 0..125, 2.4 PID-38 0..*) where hl7apy says 1:
        # the tighter maximum of the two is right in every case seen; the minimum stays.
        dmax, amax = field["card"][1], acard[1]
        tighter = amax if dmax is None else dmax if amax is None else min(dmax, amax)
        report.add("field cardinality differs (minimum of hl7-dictionary, tighter maximum taken)",
                   f"{where}: hl7-dictionary {fmt_card(field['card'])}, hl7apy {fmt_card(acard)}")
        field["card"] = (field["card"][0], tighter)
    atable = table_id(af[4])
    if field["table"] is None and atable is not None:
        field["table"] = atable
        report.add("field table taken from hl7apy", f"{where}: {atable}")
    elif atable not in (None, field["table"]):
        report.add("field table differs", f"{where}: hl7-dictionary {field['table']}, hl7apy {atable}")


def fmt_card(c):
    return f"{c[0]}..{'*' if c[1] is None else c[1]}"


def apy_nodes(children, groups, prefix, report, struct_id):
    nodes = []
    for name, _ref, (min_, max_), kind in children:
        min_, max_ = card(min_, max_)
        if kind == "SEG":
            name = ANY_SEGMENT if name == APY_ANY_SEGMENT else name
            nodes.append({"kind": "Segment", "name": name, "card": (min_, max_)})
            continue
        choice, sub = kind_and_children(groups[name])
        short = name[len(prefix):] if name.startswith(prefix) else name
        if short == name:
            report.add("group name without structure prefix", f"{struct_id}: {name}")
        nodes.append({"kind": "Group", "name": short, "card": (min_, max_), "choice": choice == "choice",
                      "children": apy_nodes(sub, groups, prefix, report, struct_id)})
    return nodes


def dict_nodes(children):
    nodes = []
    for c in children:
        cardinality = card(c["min"], c["max"])
        if "children" in c:
            nodes.append({"kind": "Group", "name": c["name"], "card": cardinality, "choice": False,
                          "children": dict_nodes(c["children"])})
        else:
            nodes.append({"kind": "Segment", "name": c["name"], "card": cardinality})
    return nodes


def flat_segments(nodes):
    out = []
    for n in nodes:
        out.extend([n["name"]] if n["kind"] == "Segment" else flat_segments(n["children"]))
    return out


def build_structures(version, dd, apy, eventmap, segment_names, report):
    """Returns (structures, events)."""
    dmsgs = dd.load(version, "messages")
    amsgs = apy.get("MESSAGES", {})
    agroups = apy.get("GROUPS", {})
    structures = {}
    for sid, entry in amsgs.items():
        children = kind_and_children(entry)[1]
        desc = dmsgs.get(sid, {}).get("desc") or None
        structures[sid] = {"description": desc, "source": None,
                           "children": apy_nodes(children, agroups, sid + "_", report, sid)}
    # Which structure each hl7-dictionary per-event entry uses.
    def structure_of(event_key):
        if eventmap is not None:
            return eventmap.get(event_key, event_key)
        return event_key if event_key in amsgs else None

    for key in sorted(dmsgs):
        sid = structure_of(key)
        if sid is None:
            report.add("hl7-dictionary event entry skipped (no event map for this version)", key)
            continue
        if not STRUCTURE_ID.fullmatch(sid) and sid not in structures:
            report.add("hl7-dictionary entry skipped (not a TYPE_EVENT structure id)", key)
            continue
        nodes = dict_nodes(dmsgs[key]["segments"]["segments"])
        unknown = sorted(set(flat_segments(nodes)) - segment_names - {ANY_SEGMENT})
        if sid not in structures and unknown:
            report.add("hl7-dictionary event entry skipped (segments defined by neither source)",
                       f"{key}: {' '.join(unknown)}")
        elif sid not in structures:
            structures[sid] = {"description": dmsgs.get(sid, dmsgs[key]).get("desc") or None,
                               "source": f"hl7-dictionary:{key}", "children": nodes}
            report.add("structure derived from hl7-dictionary (absent in hl7apy)", f"{sid} from {key}")
        elif structures[sid]["source"] is None and flat_segments(nodes) != flat_segments(structures[sid]["children"]):
            report.add("hl7-dictionary event entry differs from hl7apy structure",
                       f"{key} -> {sid}: " + seq_diff(flat_segments(nodes), flat_segments(structures[sid]["children"])))
    events = {}
    for key in dmsgs:
        sid = structure_of(key)
        if sid is not None and STRUCTURE_ID.fullmatch(key):
            events[tuple(key.split("_", 1))] = sid
    for key, sid in (eventmap or {}).items():
        events[tuple(key.split("_", 1))] = sid
    for sid in structures:
        if STRUCTURE_ID.fullmatch(sid):
            events.setdefault(tuple(sid.split("_", 1)), sid)
    for ev, sid in list(events.items()):
        if sid not in structures:
            report.add("event dropped: structure unknown in both sources", f"{ev[0]}^{ev[1]} -> {sid}")
            del events[ev]
    return structures, events


def seq_diff(dict_seq, apy_seq):
    only_d = sorted(set(dict_seq) - set(apy_seq))
    only_a = sorted(set(apy_seq) - set(dict_seq))
    parts = []
    if only_a:
        parts.append("missing " + " ".join(only_a))
    if only_d:
        parts.append("extra " + " ".join(only_d))
    return "; ".join(parts) or "segment order or repetition differs"


def complete_datatypes(datatypes, segments, report):
    """Every referenced data type exists: unknown ones become primitives (and are reported)."""
    referenced = {f["datatype"] for s in segments.values() for f in s["fields"]}
    referenced |= {c["datatype"] for d in datatypes.values() for c in d["components"]}
    for name in sorted(referenced - set(datatypes)):
        datatypes[name] = {"long_name": None, "components": []}
        report.add("referenced data type defined by neither source (added as primitive)", name)


def build_tables(version, dd, apy, datatypes, segments, report):
    atables = apy.get("TABLES", {})
    apy_tables = {table_id(k): v for k, v in atables.items()}
    # Table type from the data type that binds it: ID -> HL7-defined, IS -> user-defined.
    binders = {}
    for s in segments.values():
        for f in s["fields"]:
            if f["table"]:
                binders.setdefault(f["table"], set()).add(f["datatype"])
    for d in datatypes.values():
        for c in d["components"]:
            if c["table"]:
                binders.setdefault(c["table"], set()).add(c["datatype"])
    out = {}
    for tid in sorted(set(apy_tables) | set(binders)):
        dtable = dd.tables.get(tid.lstrip("0") or "0") if tid.isdigit() else None
        kinds = {"ID": "HL7", "IS": "User"}
        types = {kinds.get(dt) for dt in binders.get(tid, ())}
        kind = types.pop() if len(types) == 1 else None
        ddesc = (dtable or {}).get("values", {})
        if tid in apy_tables:
            name, codes = apy_tables[tid]
            name = name or (dtable or {}).get("desc") or None
            values = [(code, ddesc.get(code) or None) for code in codes]
            source = "hl7apy" + ("+hl7-dictionary" if dtable else "")
            missing = [code for code in codes if code not in ddesc]
            if dtable and missing:
                report.add("table codes without a description in hl7-dictionary", f"{tid}: {' '.join(missing)}")
        elif dtable is not None:
            name, values, source = dtable.get("desc") or None, list(ddesc.items()), "hl7-dictionary"
            report.add("table values from hl7-dictionary (unversioned, ~v2.7)", tid)
        else:
            name, values, source = None, [], None
            report.add("table referenced but in neither source (no values)", tid)
        out[tid] = {"name": name, "kind": kind, "source": source, "values": values}
    return out


# ----------------------------------------------------------------------------- XML
def esc(text):
    text = str(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    text = text.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
    return "".join(ch for ch in text if ch >= " " or ch in "\t\n\r")


def attrs(pairs):
    return "".join(f' {k}="{esc(v)}"' for k, v in pairs if v is not None)


def max_attr(max_):
    return "*" if max_ is None else max_


def header(version, what, sources):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f"<!-- HL7 v{version} base definitions: {what}.",
             "     Generated by hl7-spec/import/import_base.py; do not edit (see hl7-spec/import/README.md).",
             "     Sources:"]
    lines += [f"       - {s}" for s in sources]
    lines.append("     Licence notices: hl7-spec/spec/LICENSES.md. -->")
    return lines


def write_datatypes(version, datatypes):
    out = header(version, "data types", [DICT_NOTE + ": components, lengths, tables",
                                         APY_NOTE + ": cross-check, component tables"])
    out.append(f'<DataTypes Version="{version}">')
    for name in sorted(datatypes):
        d = datatypes[name]
        head = f"  <DataType{attrs([('Name', name), ('LongName', d['long_name'])])}"
        if not d["components"]:
            out.append(head + "/>")
            continue
        out.append(head + ">")
        for i, c in enumerate(d["components"], start=1):
            out.append("    <Component" + attrs([("Seq", i), ("Name", c["name"]), ("Datatype", c["datatype"]),
                                                 ("Usage", c["usage"]), ("Length", c["length"]),
                                                 ("Table", c["table"])]) + "/>")
        out.append("  </DataType>")
    out.append("</DataTypes>")
    return out


def write_segments(version, segments):
    out = header(version, "segments", [DICT_NOTE + ": fields, lengths, optionality, tables",
                                       APY_NOTE + ": cross-check, fields the former lacks"])
    out.append(f'<Segments Version="{version}">')
    for name in sorted(segments):
        s = segments[name]
        out.append(f"  <Segment{attrs([('Name', name), ('LongName', s['long_name'])])}>")
        for i, f in enumerate(s["fields"], start=1):
            out.append("    <Field" + attrs([("Seq", i), ("Name", f["name"]), ("Datatype", f["datatype"]),
                                             ("Usage", f["usage"]), ("Min", f["card"][0]),
                                             ("Max", max_attr(f["card"][1])), ("Length", f["length"]),
                                             ("Table", f["table"])]) + "/>")
        out.append("  </Segment>")
    out.append("</Segments>")
    return out


def write_nodes(nodes, indent, out):
    pad = " " * indent
    for n in nodes:
        usage = "R" if n["card"][0] >= 1 else "O"
        common = [("Usage", usage), ("Min", n["card"][0]), ("Max", max_attr(n["card"][1]))]
        if n["kind"] == "Segment":
            out.append(f"{pad}<Segment{attrs([('Ref', n['name'])] + common)}/>")
        else:
            choice = "true" if n["choice"] else None
            out.append(f"{pad}<Group{attrs([('Name', n['name'])] + common + [('Choice', choice)])}>")
            write_nodes(n["children"], indent + 2, out)
            out.append(f"{pad}</Group>")


def write_structures(version, structures):
    out = header(version, "message structures", [APY_NOTE + ": structures by id, groups, cardinalities",
                                                 DICT_NOTE + ": descriptions; structures hl7apy lacks "
                                                 "(Source attribute names the per-event entry)"])
    out.append(f'<Structures Version="{version}">')
    for sid in sorted(structures):
        s = structures[sid]
        out.append(f"  <Structure{attrs([('Id', sid), ('Description', s['description']), ('Source', s['source'])])}>")
        write_nodes(s["children"], 4, out)
        out.append("  </Structure>")
    out.append("</Structures>")
    return out


def write_events(version, events, has_map):
    sources = [MAP_NOTE.format(v=version)] if has_map else [
        "no event map for this version: identity only (TYPE_EVENT -> structure TYPE_EVENT)"]
    out = header(version, "trigger events -> message structures",
                 sources + [DICT_NOTE + ": per-event entries", APY_NOTE + ": structure ids"])
    out.append(f'<Events Version="{version}">')
    for (msg_type, event), sid in sorted(events.items()):
        out.append(f"  <Event{attrs([('Type', msg_type), ('Event', event), ('Structure', sid)])}/>")
    out.append("</Events>")
    return out


def write_tables(version, tables):
    out = header(version, "tables", [
        APY_NOTE + ": per-version codes (Source contains hl7apy)",
        DICT_NOTE + ": descriptions; whole tables hl7apy lacks (Source=\"hl7-dictionary\": one "
        "unversioned set of about v2.7, codes may not all belong to this version)",
        "Type: HL7 when the binding data type is ID, User when it is IS, absent otherwise"])
    out.append(f'<Tables Version="{version}">')
    for tid in sorted(tables):
        t = tables[tid]
        head = f"  <Table{attrs([('Id', tid), ('Name', t['name']), ('Type', t['kind']), ('Source', t['source'])])}"
        if not t["values"]:
            out.append(head + "/>")
            continue
        out.append(head + ">")
        for code, desc in t["values"]:
            out.append(f"    <Value{attrs([('Code', code), ('Description', desc)])}/>")
        out.append("  </Table>")
    out.append("</Tables>")
    return out


# ----------------------------------------------------------------------------- main
def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def import_version(version, dd, apy_src, out_dir, report_dir):
    report = Report()
    apy = {}
    for module in ("datatypes", "fields", "segments", "groups", "messages", "tables"):
        apy.update(apy_src.load(version, module))
    eventmap = load_eventmap(version)
    datatypes = build_datatypes(version, dd, apy, report)
    segments = build_segments(version, dd, apy, report)
    complete_datatypes(datatypes, segments, report)
    structures, events = build_structures(version, dd, apy, eventmap, set(segments), report)
    used = {n for s in structures.values() for n in flat_segments(s["children"])}
    unknown = sorted(used - set(segments) - {ANY_SEGMENT})
    if unknown:
        sys.exit(f"error: {version}: structures use undefined segments {unknown}")
    tables = build_tables(version, dd, apy, datatypes, segments, report)
    folder = os.path.join(out_dir, version)
    write(os.path.join(folder, "datatypes.xml"), write_datatypes(version, datatypes))
    write(os.path.join(folder, "segments.xml"), write_segments(version, segments))
    write(os.path.join(folder, "structures.xml"), write_structures(version, structures))
    write(os.path.join(folder, "events.xml"), write_events(version, events, eventmap is not None))
    write(os.path.join(folder, "tables.xml"), write_tables(version, tables))
    write(os.path.join(report_dir, f"{version}.md"), report.render(version).splitlines())
    counts = (len(datatypes), len(segments), sum(len(s["fields"]) for s in segments.values()),
              len(structures), len(events), len(tables), sum(len(t["values"]) for t in tables.values()))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dictionary", required=True, help="hl7-dictionary-1.0.1.tgz (npm pack)")
    parser.add_argument("--hl7apy", required=True, help="hl7apy-1.3.5-py2.py3-none-any.whl (pip download)")
    parser.add_argument("--out", default=os.path.join(HERE, "..", "spec"), help="spec folder to write")
    parser.add_argument("--report", default=os.path.join(HERE, "report"), help="report folder to write")
    parser.add_argument("--versions", nargs="*", default=VERSIONS)
    args = parser.parse_args()
    check_hash(args.dictionary, DICTIONARY_SHA256)
    check_hash(args.hl7apy, HL7APY_SHA256)
    dd, apy = Dictionary(args.dictionary), Hl7apy(args.hl7apy)
    print("version datatypes segments fields structures events tables values")
    for version in args.versions:
        print(version, *import_version(version, dd, apy, args.out, args.report))


if __name__ == "__main__":
    main()
