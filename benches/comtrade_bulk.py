#!/usr/bin/env python3
"""Writes a UN Comtrade legacy-style bulk CSV (the 35 columns of its downloads) of N rows:
reporters and partners with their Comtrade codes, names and ISO codes, the World as a
partner, HS6 commodities, the four flows, and breakdown rows (a second partner, a mode
of transport, a customs procedure that is not the total) among the figures, with
quantities, weights and flags beside the trade value. Standard library only.

    python3 benches/comtrade_bulk.py OUT.csv [ROWS=1000000] [SEED=7]

The layout is UN Comtrade's; every row is generated (no figure is real).
"""
import csv
import random
import sys

HEADER = [
    "Classification", "Year", "Period", "Period Desc.", "Aggregate Level", "Is Leaf Code",
    "Trade Flow Code", "Trade Flow", "Reporter Code", "Reporter", "Reporter ISO",
    "Partner Code", "Partner", "Partner ISO", "2nd Partner Code", "2nd Partner",
    "2nd Partner ISO", "Customs Proc. Code", "Customs", "Mode of Transport Code",
    "Mode of Transport", "Commodity Code", "Commodity", "Qty Unit Code", "Qty Unit", "Qty",
    "Alt Qty Unit Code", "Alt Qty Unit", "Alt Qty", "Netweight (kg)", "Gross weight (kg)",
    "Trade Value (US$)", "CIF Trade Value (US$)", "FOB Trade Value (US$)", "Flag",
]

# (Comtrade code, name, ISO3)
COUNTRIES = [
    (792, "Turkey", "TUR"), (31, "Azerbaijan", "AZE"), (398, "Kazakhstan", "KAZ"),
    (417, "Kyrgyzstan", "KGZ"), (795, "Turkmenistan", "TKM"), (860, "Uzbekistan", "UZB"),
    (276, "Germany", "DEU"), (643, "Russian Federation", "RUS"), (156, "China", "CHN"),
    (842, "USA", "USA"), (251, "France", "FRA"), (380, "Italy", "ITA"), (724, "Spain", "ESP"),
    (528, "Netherlands", "NLD"), (826, "United Kingdom", "GBR"), (364, "Iran", "IRN"),
    (268, "Georgia", "GEO"), (642, "Romania", "ROU"), (699, "India", "IND"),
    (392, "Japan", "JPN"), (410, "Rep. of Korea", "KOR"), (76, "Brazil", "BRA"),
    (484, "Mexico", "MEX"), (124, "Canada", "CAN"), (36, "Australia", "AUS"),
    (757, "Switzerland", "CHE"), (579, "Norway", "NOR"), (752, "Sweden", "SWE"),
    (616, "Poland", "POL"), (203, "Czechia", "CZE"), (348, "Hungary", "HUN"),
    (300, "Greece", "GRC"), (818, "Egypt", "EGY"), (682, "Saudi Arabia", "SAU"),
    (784, "United Arab Emirates", "ARE"), (376, "Israel", "ISR"), (804, "Ukraine", "UKR"),
    (112, "Belarus", "BLR"), (762, "Tajikistan", "TJK"), (496, "Mongolia", "MNG"),
]
FLOWS = [(1, "Import"), (2, "Export"), (3, "Re-Export"), (4, "Re-Import")]
MOTS = [(1000, "Air"), (2000, "Water"), (3000, "Land"), (9000, "Other")]
CUSTOMS = [("C01", "Inward processing"), ("C02", "Outward processing")]


def hash_of(*parts):
    """A stable hash of texts (Python's own is salted per process)."""
    h = 1469598103934665603
    for p in parts:
        for b in str(p).encode():
            h = ((h ^ b) * 1099511628211) % (1 << 64)
        h = ((h ^ 0x1F) * 1099511628211) % (1 << 64)
    return h


def main():
    out = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    hs = [f"{rng.randrange(1, 98):02d}{rng.randrange(1, 100):02d}{rng.randrange(1, 100):02d}"
          for _ in range(400)]
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        written, k = 0, 0
        while written < rows:
            # every key once (reporter, partner, flow, year, commodity), by mixed radix
            yr, rest = k % 6, k // 6
            r, rest = rest % 7, rest // 7
            p, rest = rest % len(COUNTRIES), rest // len(COUNTRIES)
            fl, rest = rest % 2, rest // 2
            cmd = hs[rest % len(hs)]
            key = k // 6
            k += 1
            rc, rn, ri = COUNTRIES[r]
            pc, pn, pi = COUNTRIES[p] if p != r else (0, "World", "WLD")
            # one key in thirteen a re-export or re-import, every year of it
            fc, fn = FLOWS[fl + (2 if key % 13 == 0 else 0)]
            year = 2015 + yr
            # the figure, and after one key in ten a breakdown of it: a second partner, a
            # mode of transport or a customs procedure that is not the total
            kinds = [None] + ([(k // 10) % 3] if k % 10 == 0 else [])
            for kind in kinds:
                if written >= rows:
                    break
                p2 = ("0", "World", "WLD")
                cust, mot = ("C00", "TOTAL CPC"), ("0", "TOTAL MOT")
                if kind == 0:
                    p2 = (str(COUNTRIES[8][0]), COUNTRIES[8][1], COUNTRIES[8][2])
                elif kind == 1:
                    mot = (str(MOTS[k % 4][0]), MOTS[k % 4][1])
                elif kind == 2:
                    cust = CUSTOMS[k % 2]
                # values that look like trade: steady growth from a base of the pair and
                # commodity, the importer's figure 5% above the exporter's (CIF over FOB),
                # so that the checks find what they would in a real file, not noise
                exporter, importer = (ri, pi) if fl == 1 else (pi, ri)
                base = 1_000 + hash_of(exporter, importer, cmd) % 900_000_000
                value = base * (100 + 3 * yr) // 100
                if fl == 0:
                    value = value * 105 // 100
                qty = rng.randrange(1, 1_000_000)
                w.writerow([
                    "H4", year, year, year, 6, 1, fc, fn, rc, rn, ri, pc, pn, pi,
                    p2[0], p2[1], p2[2], cust[0], cust[1], mot[0], mot[1], cmd,
                    f"Commodity {cmd}, n.e.s.", 8, "Weight in kilograms", qty, "", "", "",
                    qty, "", value, "", "", 0,
                ])
                written += 1


if __name__ == "__main__":
    main()
