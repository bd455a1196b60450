#!/usr/bin/env python3
"""Country names as the big publishers write them, mapped to ISO 3166-1 alpha-3.

Reads the published lists copied byte for byte into crates/kernels/src/lists/ (their
provenance is in that folder's README.md) and, when it is installed, pycountry (ISO 3166-1
short, official and common names, and ISO 3166-3 historical names). Writes:

  crates/kernels/src/published_names.tsv   TARGET<TAB>NAME<TAB>SOURCE, one line per distinct
                                           (name, target)
  crates/kernels/src/comtrade_codes.tsv    CODE<TAB>TARGET<TAB>NAME, one line per UN Comtrade
                                           area code
  tests/cases/countries_published.tsv      every name of every list with its expected target

TARGET is an ISO 3166-1 alpha-3 code (or an ISO 3166-3 code for a historical entity that had
its own, like ANT, SCG, YUG, SUN, CSK, DDR), WLD for the World, or AGGREGATE for a region, an
income group, a customs union or a "not elsewhere specified" area. SOURCE is one of
worldbank, comtrade, wits, m49, iso3166.

Where lists disagree on a name (compared by the folded key the pipeline uses), the target
that matches ISO 3166 wins; the disagreements are printed. Output is sorted and
deterministic: running the script twice gives the same bytes.

Usage: python3 scripts/country_lists.py [--check]   (--check: fail if an output would change)
"""

import csv
import io
import json
import os
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LISTS = os.path.join(ROOT, "crates", "kernels", "src", "lists")
OUT_NAMES = os.path.join(ROOT, "crates", "kernels", "src", "published_names.tsv")
OUT_CODES = os.path.join(ROOT, "crates", "kernels", "src", "comtrade_codes.tsv")
OUT_CASES = os.path.join(ROOT, "tests", "cases", "countries_published.tsv")

WORLDBANK = "worldbank_Metadata_Country_API_NY.GDP.MKTP.CD_DS2_en_csv_v2_9865.csv"
COMTRADE_ISO = "comtrade_Country_Code_and_ISO_list.csv"
COMTRADE_AREAS = [  # newest first: the name of a code is taken from the first that has it
    "comtrade_partnerAreas_2023.json",
    "comtrade_reporterAreas_2023.json",
    "comtrade_partnerAreas_2018.json",
    "comtrade_reporterAreas_2018.json",
]
M49 = "m49_UNSD_Methodology.csv"

PYCOUNTRY = "26.2.16"  # the version the committed output was made with
AGG = "AGGREGATE"
WLD = "WLD"
SOURCES = ["iso3166", "m49", "worldbank", "comtrade", "wits"]  # authority order

# --- decisions the lists leave open --------------------------------------------------

# World Bank codes that are not ISO 3166-1 alpha-3.
WORLDBANK_CODES = {
    "XKX": "XKX",  # Kosovo: no ISO code; XKX is the user-assigned code WB, EU and IMF use
    "CHI": AGG,  # Channel Islands: Guernsey (GGY) plus Jersey (JEY), an M49 grouping (830)
}

# UN Comtrade area codes whose ISO3 the Comtrade list leaves N/A, gets wrong, or gives
# to a group. Everything else takes the list's "ISO3-digit Alpha".
COMTRADE_CODES = {
    "0": WLD,  # World (the list says WLD too)
    "58": AGG,  # Belgium-Luxembourg (...1998): a union of two countries, neither alone
    "711": AGG,  # So. African Customs Union (...1999): a union of five countries
    "28": "ATG",  # Antigua and Barbuda: the list says ATA, which is Antarctica's code
    "97": AGG,  # EU-28 / EU (the list says EU2)
    "975": AGG,  # ASEAN
    "74": "BVT",  # Bouvet Island: N/A in the list, BV/BVT in ISO 3166-1
    "80": "ATB",  # Br. Antarctic Terr.: ISO 3166-3 BQAQ/ATB (deleted 1979)
    "536": "NTZ",  # Neutral Zone (Saudi Arabia/Iraq): ISO 3166-3 NTHH/NTZ
    "849": "PUS",  # US Misc. Pacific Isds: ISO 3166-3 PUUM/PUS
    "698": "SKM",  # Sikkim (...1974): ISO 3166-3 SKIN/SKM
    "459": "MYS",  # Peninsula Malaysia (1962-63), today Malaysia
    "461": "MYS",  # Sabah (1962-63), today Malaysia
    "457": "MYS",  # Sarawak (1962-63), today Malaysia
    "647": "JPN",  # Ryukyu Isd (...1972), today Japan
    "835": "TZA",  # Fmr Tanganyika (...1964), today Tanzania
    "836": "TZA",  # Fmr Zanzibar and Pemba Isd (...1964), today Tanzania
    "717": AGG,  # Fmr Rhodesia Nyas: federation of today's ZWE, ZMB and MWI
    # "not elsewhere specified" areas, bunkers, free zones and special categories
    "472": AGG, "899": AGG, "837": AGG, "838": AGG, "839": AGG, "471": AGG, "129": AGG,
    "221": AGG, "697": AGG, "492": AGG, "473": AGG, "637": AGG, "290": AGG, "527": AGG,
    "577": AGG, "568": AGG, "636": AGG, "879": AGG,
    # Other Asia, nes: Taiwan in practice, but published as an area, not a country
    "490": AGG,
}
COMTRADE_NON_NUMERIC = {"all": AGG}  # the legacy lists' "All" selector

# M49 rows without an ISO3.
M49_NO_ISO = {"680": "GGY"}  # Sark: part of the Bailiwick of Guernsey in ISO 3166

# ISO 3166-3 codes of countries that only changed name or code: the name means today's
# country. Historical codes of entities that split or merged (ANT, SCG, YUG, SUN, CSK, DDR,
# YMD, VDR, PCI, PCZ, NTZ, ...) stay their own.
ISO_RENAMED = {
    "BUR": "MMR", "BYS": "BLR", "DHY": "BEN", "HVO": "BFA", "NHB": "VUT", "RHO": "ZWE",
    "TMP": "TLS", "ZAR": "COD", "AFI": "DJI", "FXX": "FRA", "SKM": "SKM", "ATF": "ATF",
}

# Names whose target is decided here, overriding the lists (or settling a disagreement
# that ISO 3166 alone does not settle): folded key -> (target, why).
RESOLVE = {
    "micronesia": ("FSM", "M49 names its sub-region so, but trade files mean the country"),
    "belgium-luxembourg": (AGG, "a union of two countries, neither alone"),
    "so. african customs union": (AGG, "a union of five countries"),
    "southern african customs union": (AGG, "a union of five countries"),
}


def fold(raw):
    """The pipeline's folded key (crates/kernels/src/countries.rs, name_key)."""
    if raw and all(0x21 <= ord(c) <= 0x7E and c != "`" for c in raw):
        return raw.lower()
    s = []
    for c in raw.strip():
        if c in "İIıi":
            s.append("i")
        elif c in "\u2019\u2018\u02bb\u02bc`\u00b4":
            s.append("'")
        else:
            s.append(c.lower())
    out = []
    space = False
    for c in unicodedata.normalize("NFKD", "".join(s)):
        if unicodedata.category(c).startswith("M"):
            continue
        if c.isspace():
            space = bool(out)
        else:
            if space:
                out.append(" ")
                space = False
            out.append(c)
    return "".join(out)


def read(name):
    with open(os.path.join(LISTS, name), "rb") as f:
        return f.read().decode("utf-8-sig")


class Names:
    """(name, target, source, list) entries, in the order met."""

    def __init__(self):
        self.rows = []

    def add(self, name, target, source, origin):
        if name is None:
            return
        name = name.strip()
        if not name:
            return
        assert source in SOURCES, source
        assert target == AGG or (len(target) == 3 and target.isupper()), (name, target)
        self.rows.append((name, target, source, origin))


def worldbank(names, iso_codes):
    rows = list(csv.DictReader(io.StringIO(read(WORLDBANK))))
    for r in rows:
        code = r["Country Code"].strip()
        if code == "WLD":
            target = WLD
        elif not r["Region"].strip():
            target = AGG  # an aggregate: region, income group, lending group, ...
        elif code in WORLDBANK_CODES:
            target = WORLDBANK_CODES[code]
        elif code in iso_codes or not iso_codes:
            target = code
        else:
            sys.exit(f"worldbank: {code} {r['TableName']!r} is not ISO 3166-1: decide it")
        names.add(r["TableName"], target, "worldbank", WORLDBANK)
        names.add(r["Region"], AGG, "worldbank", WORLDBANK)
        names.add(r["IncomeGroup"], AGG, "worldbank", WORLDBANK)
    return len(rows)


def comtrade(names, iso_codes, historic):
    """Returns {code: (target, name)}."""
    rows = list(csv.DictReader(io.StringIO(read(COMTRADE_ISO))))
    target_of = {}
    name_of = {}
    for r in rows:
        code = r["Country Code"].strip()
        iso3 = r["ISO3-digit Alpha"].strip()
        if code in COMTRADE_CODES:
            target = COMTRADE_CODES[code]
        elif iso3 in iso_codes or iso3 in historic or (iso3 and iso3 != "N/A" and not iso_codes):
            target = historic.get(iso3, iso3)
        else:
            sys.exit(f"comtrade: code {code} {r['Country Name, Abbreviation']!r} has ISO3 "
                     f"{iso3!r}: decide it in COMTRADE_CODES")
        target_of[code] = target
        name_of.setdefault(code, r["Country Name, Abbreviation"].strip())
        names.add(r["Country Name, Full "], target, "comtrade", COMTRADE_ISO)
        names.add(r["Country Name, Abbreviation"], target, "comtrade", COMTRADE_ISO)
    area_names = {}
    for f in COMTRADE_AREAS:
        for r in json.loads(read(f))["results"]:
            code, text = str(r["id"]).strip(), r["text"]
            if code in COMTRADE_NON_NUMERIC:
                target = COMTRADE_NON_NUMERIC[code]
            elif code in target_of:
                target = target_of[code]
            elif code in COMTRADE_CODES:
                target = COMTRADE_CODES[code]
            else:
                sys.exit(f"comtrade: {f}: code {code} {text!r} is in no ISO list: decide it")
            names.add(text, target, "comtrade", f)
            if code.isdigit():
                target_of.setdefault(code, target)
                area_names.setdefault(code, text.strip())
    codes = {}
    for code, target in target_of.items():
        codes[code] = (target, area_names.get(code) or name_of[code])
    return codes


def m49(names, iso_codes, historic):
    rows = list(csv.DictReader(io.StringIO(read(M49)), delimiter=";"))
    for r in rows:
        code = r["M49 Code"].strip()
        iso3 = r["ISO-alpha3 Code"].strip() or M49_NO_ISO.get(code.lstrip("0")) or M49_NO_ISO.get(code)
        if not iso3:
            sys.exit(f"m49: {code} {r['Country or Area']!r} has no ISO3: decide it")
        names.add(r["Country or Area"], historic.get(iso3, iso3), "m49", M49)
        names.add(r["Global Name"], WLD if r["Global Code"].strip() in ("1", "001") else AGG,
                  "m49", M49)
        for col in ("Region Name", "Sub-region Name", "Intermediate Region Name"):
            names.add(r[col], AGG, "m49", M49)
    return len(rows)


def iso3166(names):
    """Returns (current alpha-3 codes, {historical code: target}); empty without pycountry."""
    try:
        import pycountry
    except ImportError:
        print("pycountry is not installed: no iso3166 names (pip install pycountry)",
              file=sys.stderr)
        return set(), {}
    version = getattr(pycountry, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as _v
            version = _v("pycountry")
        except Exception:  # noqa: BLE001
            version = "?"
    if version != PYCOUNTRY:
        print(f"pycountry {version}, not {PYCOUNTRY}: the iso3166 names may differ from the "
              "committed output", file=sys.stderr)
    codes = set()
    for c in pycountry.countries:
        codes.add(c.alpha_3)
        for attr in ("name", "official_name", "common_name"):
            names.add(getattr(c, attr, None), c.alpha_3, "iso3166", "pycountry")
    historic = {}
    for c in pycountry.historic_countries:
        target = ISO_RENAMED.get(c.alpha_3, c.alpha_3)
        historic[c.alpha_3] = target
        names.add(c.name, target, "iso3166", "pycountry")
    for code in list(historic):
        if code in codes:  # ATF: a current code too
            historic.pop(code)
    return codes, historic


def resolve(names, iso_codes):
    """Picks one target per folded name. Returns ({key: target}, [disagreement lines])."""
    by_key = {}
    for name, target, source, origin in names.rows:
        by_key.setdefault(fold(name), {}).setdefault(target, set()).add((source, name))
    chosen = {}
    report = []
    for key in sorted(by_key):
        targets = by_key[key]
        if key in RESOLVE and len(targets) == 1:
            chosen[key] = RESOLVE[key][0]
            if chosen[key] not in targets:
                report.append(f"{key!r}: {next(iter(targets))} by the lists -> {chosen[key]} "
                              f"({RESOLVE[key][1]})")
            continue
        if len(targets) == 1:
            chosen[key] = next(iter(targets))
            continue
        if key in RESOLVE:
            pick, why = RESOLVE[key]
        else:
            iso = [t for t, s in targets.items() if any(src == "iso3166" for src, _ in s)]
            if len(iso) != 1:
                sys.exit(f"lists disagree on {key!r}: {sorted(targets)}: decide it in RESOLVE")
            pick, why = iso[0], "ISO 3166"
        chosen[key] = pick
        said = "; ".join(
            f"{t} by {','.join(sorted({s for s, _ in targets[t]}))}"
            f" ({' / '.join(sorted({n for _, n in targets[t]}))})"
            for t in sorted(targets)
        )
        report.append(f"{key!r}: {said} -> {pick} ({why})")
    return chosen, report


def write(path, lines, check):
    text = "".join(line + "\n" for line in lines)
    old = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    if old == text:
        return False
    if check:
        sys.exit(f"{os.path.relpath(path, ROOT)} is out of date: run scripts/country_lists.py")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return True


def main():
    check = "--check" in sys.argv[1:]
    names = Names()
    iso_codes, historic = iso3166(names)
    n_wb = worldbank(names, iso_codes)
    codes = comtrade(names, iso_codes, historic)
    n_m49 = m49(names, iso_codes, historic)
    chosen, disagreements = resolve(names, iso_codes)

    def clean(s):
        return " ".join(s.split())  # a name's inner tabs or newlines would break the TSV

    # published_names.tsv: distinct (name, target), target as resolved; the source is the
    # most authoritative list that writes the name so.
    best = {}
    for name, target, source, _ in names.rows:
        target = chosen[fold(name)]
        key = (clean(name), target)
        if key not in best or SOURCES.index(source) < SOURCES.index(best[key]):
            best[key] = source
    published = [f"{t}\t{n}\t{s}" for (n, t), s in sorted(best.items(), key=lambda x: (x[0][1], x[0][0]))]
    header = ("# generated by scripts/country_lists.py from crates/kernels/src/lists "
              "(see its README); do not edit")

    # comtrade_codes.tsv
    code_lines = [f"{c}\t{t}\t{clean(n)}" for c, (t, n) in sorted(codes.items(), key=lambda x: int(x[0]))]
    code_header = ("# generated by scripts/country_lists.py from crates/kernels/src/lists "
                   "(see its README); do not edit\n# UN Comtrade area code\ttarget (ISO3 | WLD | "
                   "AGGREGATE)\tname (newest Comtrade list that has the code)")

    # tests/cases/countries_published.tsv: every name exactly as written, once, with the
    # lists that write it.
    sources_of = {}
    for name, target, source, _ in names.rows:
        sources_of.setdefault(clean(name), set()).add(source)
    cases = [f"{n}\t{chosen[fold(n)]}\t{','.join(s for s in SOURCES if s in srcs)}"
             for n, srcs in sorted(sources_of.items())]
    case_header = "# name as written\texpected ISO3 | WLD | AGGREGATE\tsource list"

    changed = [
        write(OUT_NAMES, [header] + published, check),
        write(OUT_CODES, code_header.split("\n") + code_lines, check),
        write(OUT_CASES, [case_header] + cases, check),
    ]
    print(f"read: worldbank {n_wb} rows, comtrade {len(codes)} codes, m49 {n_m49} rows, "
          f"iso3166 {len(iso_codes)} countries + {len(historic)} historical", file=sys.stderr)
    print(f"wrote: {len(published)} published names, {len(code_lines)} Comtrade codes, "
          f"{len(cases)} cases ({sum(changed)} files changed)", file=sys.stderr)
    if disagreements:
        print(f"{len(disagreements)} names the lists disagree on:", file=sys.stderr)
        for d in disagreements:
            print("  " + d, file=sys.stderr)


if __name__ == "__main__":
    main()
