"""Generate a SYNTHETIC, schema-faithful TiC in-network file for benchmarking (never real data).

    python benchmarks/tic_generate.py OUT.json --size-mb 1024 [--seed 7] [--pr-position before|after]
        [--big-item-mb 30] [--gzip] [--dense 1.0]

What it holds (CMS in-network schema v1.x/v2.x shapes):
  - thousands of distinct billing codes (CPT, HCPCS, MS-DRG, revenue codes), heavy-tailed item
    sizes, one ~30 MB non-target item;
  - ~100,000 top-level provider_references (about 25 MB; before or after in_network), a few of
    them remote (`location`);
  - 93% of rates use provider_references ids, 7% inline provider_groups with NPI lists;
  - the target codes 0440T x2, 0441T x2 (one with 3,000 rates) and 0442T x1 at about 3/35/50/62/97%
    of the file;
  - decoys that must NOT be extracted: a target code in another item's description (with escaped
    quotes), 0442T inside another item's bundled_codes, and strings with \\", \\\\, brackets,
    braces and \\uXXXX escapes.
  - `--dense MB`: besides those, one target item (0440T/0441T/0442T, 5-40 rates) about every MB
    of output, so a 1 GB file holds tens of thousands of matching rates spread through the whole
    file (the shape the end-to-end ingest benchmark needs: rows built and written, not just found).
A sidecar OUT.truth.json lists the target items' rate and price counts for checking.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

TARGETS = [("0440T", 0.03, 40), ("0441T", 0.35, 3000), ("0440T", 0.50, 25), ("0441T", 0.62, 60), ("0442T", 0.97, 35)]
TARGET_CODES = {"0440T", "0441T", "0442T"}
EXCLUDED = TARGET_CODES | {"64640", "64624", "64450"}  # the configured codes of interest
POS = [
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "07",
    "08",
    "09",
    "10",
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "18",
    "19",
    "20",
    "21",
    "22",
    "23",
    "24",
    "25",
    "26",
    "31",
    "32",
    "33",
    "34",
    "41",
    "42",
    "49",
    "50",
    "51",
    "52",
    "53",
    "54",
    "55",
    "56",
    "57",
    "58",
    "60",
    "61",
    "62",
    "65",
    "71",
    "72",
    "81",
    "99",
]
NASTY = ['Knee \\"total\\" [revision] {bilateral}', "path C:\\\\temp\\\\x", "caf\\u00e9 \\u2013 dash", '[{]}\\"]']


def codes(rng: random.Random, n: int) -> list[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    while len(out) < n:
        kind = rng.random()
        if kind < 0.6:
            code = (f"{rng.randint(10000, 99999)}", "CPT")
        elif kind < 0.8:
            code = (f"{rng.choice('ABCEGHJKLQ')}{rng.randint(1000, 9999)}", "HCPCS")
        elif kind < 0.9:
            code = (f"{rng.randint(1, 999):03d}", "MS-DRG")
        else:
            code = (f"{rng.randint(100, 999):04d}", "RC")
        if code[0] not in EXCLUDED:
            out.add(code)
    return sorted(out)


def price(rng: random.Random, cls: str | None = None) -> str:
    cls = cls or rng.choice(["professional", "institutional"])
    kind = rng.choices(["negotiated", "fee schedule", "percentage", "derived", "per diem"], [70, 15, 8, 5, 2])[0]
    rate = f"{rng.uniform(20, 90):.1f}" if kind == "percentage" else f"{rng.uniform(15, 25000):.2f}"
    parts = [
        f'"negotiated_type":"{kind}"',
        f'"negotiated_rate":{rate}',
        '"expiration_date":"9999-12-31"',
        f'"billing_class":"{cls}"',
        f'"setting":"{rng.choice(["outpatient", "inpatient", "both"])}"',
    ]
    if cls == "professional":
        service = POS if rng.random() < 0.2 else rng.sample(POS, rng.randint(1, 4))
        parts.append('"service_code":' + json.dumps(service, separators=(",", ":")))
    if rng.random() < 0.3:
        parts.append('"billing_code_modifier":' + json.dumps(rng.sample(["26", "TC", "59", "RT", "LT"], 1)))
    if rng.random() < 0.05:
        parts.append(f'"additional_information":"{rng.choice(NASTY)}"')
    return "{" + ",".join(parts) + "}"


def npi(rng: random.Random) -> int:
    return rng.randint(1000000000, 1999999999)


def group(rng: random.Random) -> str:
    npis = ",".join(str(npi(rng)) for _ in range(rng.randint(1, 8)))
    return f'{{"npi":[{npis}],"tin":{{"type":"ein","value":"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"}}}}'


def rate(rng: random.Random, n_refs: int, inline_share: float = 0.07) -> str:
    prices = ",".join(price(rng) for _ in range(rng.randint(1, 2)))
    if rng.random() < inline_share:
        return f'{{"provider_groups":[{group(rng)}],"negotiated_prices":[{prices}]}}'
    refs = ",".join(str(rng.randrange(n_refs)) for _ in range(rng.randint(1, 3)))
    return f'{{"provider_references":[{refs}],"negotiated_prices":[{prices}]}}'


def item(
    code: str, ctype: str, rates: list[str], *, description: str | None = None, bundled: list[str] | None = None
) -> str:
    desc = description or f"Synthetic service {code}"
    head = (
        f'{{"negotiation_arrangement":"{"bundle" if bundled else "ffs"}","name":"SYN {code} [x]",'
        f'"billing_code_type":"{ctype}","billing_code_type_version":"2024","billing_code":"{code}",'
        f'"description":"{desc}","negotiated_rates":['
    )
    tail = "]"
    if bundled:
        tail += (
            ',"bundled_codes":['
            + ",".join(
                f'{{"billing_code_type":"CPT","billing_code_type_version":"2024","billing_code":"{b}","description":"bundled {b}"}}'
                for b in bundled
            )
            + "]"
        )
    return head + ",".join(rates) + tail + "}"


def provider_references(rng: random.Random, n: int) -> str:
    entries = []
    for i in range(n):
        if i % 5000 == 4999:
            entries.append(f'{{"provider_group_id":{i},"location":"https://mrf.example.invalid/refs/{i}.json"}}')
        else:
            groups = ",".join(group(rng) for _ in range(rng.randint(1, 3)))
            entries.append(f'{{"provider_group_id":{i},"network_name":["Synthetic PPO"],"provider_groups":[{groups}]}}')
    return "[" + ",\n".join(entries) + "]"


def generate(
    out: Path, size_mb: float, seed: int, pr_position: str, big_item_mb: float, dense_every_mb: float | None = None
) -> dict:
    rng = random.Random(seed)
    target_bytes = int(size_mb * 1e6)
    code_list = codes(rng, 4000)
    n_refs = 100_000
    refs = provider_references(rng, n_refs)
    pool = [rate(rng, n_refs) for _ in range(20000)]  # sampled to keep generation fast
    header = (
        '{"reporting_entity_name":"Synthetic Health Plan (benchmark data)","reporting_entity_type":"health insurance issuer",'
        '"plan_name":"SYNTHETIC PPO","plan_id_type":"ein","plan_id":"00-0000000","plan_market_type":"group",'
        '"issuer_name":"Synthetic Health Plan","plan_sponsor_name":"Synthetic Employer","last_updated_on":"2026-11-01","version":"2.0.0",\n'
    )
    truth: dict[str, dict] = {}
    pending = sorted(TARGETS, key=lambda t: t[1])
    decoys_due = [0.20, 0.45, 0.80]
    big_due = 0.70
    dense_step = int(dense_every_mb * 1e6) if dense_every_mb else None
    dense_due = dense_step  # of bytes written (the provider_references before in_network count)
    written = 0
    first = True
    with out.open("w", encoding="utf-8") as handle:
        handle.write(header)
        if pr_position == "before":
            handle.write('"provider_references":' + refs + ",\n")
            written += len(refs)
        handle.write('"in_network":[\n')

        def put(text: str) -> None:
            nonlocal written, first
            handle.write(("" if first else ",\n") + text)
            first = False
            written += len(text) + 2

        while written < target_bytes or pending:
            share = written / target_bytes
            if pending and share >= pending[0][1]:
                code, _, n_rates = pending.pop(0)
                rates = [rate(rng, n_refs) for _ in range(n_rates)]
                put(item(code, "CPT", rates))
                t = truth.setdefault(code, {"items": 0, "rates": 0})
                t["items"] += 1
                t["rates"] += n_rates
                continue
            if decoys_due and share >= decoys_due[0]:
                decoys_due.pop(0)
                c, ct = rng.choice(code_list)
                put(
                    item(
                        c,
                        ct,
                        rng.sample(pool, 5),
                        description='Not \\"0440T\\": see [\\"billing_code\\": \\"0441T\\"] {x}',
                    )
                )
                c, ct = rng.choice(code_list)
                put(item(c, ct, rng.sample(pool, 5), bundled=["27447", "0442T"]))
                continue
            if dense_due is not None and written >= dense_due:
                dense_due = written + dense_step  # type: ignore[operator]
                code = rng.choice(sorted(TARGET_CODES))
                n_rates = rng.randint(5, 40)
                put(item(code, "CPT", [rng.choice(pool) for _ in range(n_rates)]))
                t = truth.setdefault(code, {"items": 0, "rates": 0})
                t["items"] += 1
                t["rates"] += n_rates
                continue
            if big_due is not None and share >= big_due:
                big_due = None
                c, ct = rng.choice(code_list)
                n = int(big_item_mb * 1e6 / 200)
                put(item(c, ct, [rng.choice(pool) for _ in range(n)]))
                continue
            c, ct = rng.choice(code_list)
            n_rates = min(int(rng.paretovariate(1.2) * 20), 4000)
            put(item(c, ct, [rng.choice(pool) for _ in range(n_rates)]))
        handle.write("\n]")
        if pr_position == "after":
            handle.write(',\n"provider_references":' + refs)
        handle.write("}\n")
    out.with_name(out.name + ".truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return truth


def gzip_copy(path: Path, level: int = 2) -> Path:
    """Gzip with python-isal (fast); level 2 gives ratios close to gzip -6 on this data."""
    from isal import igzip

    target = path.with_name(path.name + ".gz")
    with path.open("rb") as src, igzip.open(target, "wb", compresslevel=level) as dst:
        while block := src.read(16 * 1024 * 1024):
            dst.write(block)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-mb", type=float, default=1024)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pr-position", choices=["before", "after"], default="before")
    parser.add_argument("--big-item-mb", type=float, default=30)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument(
        "--dense",
        type=float,
        default=None,
        metavar="MB",
        help="also put one target-code item (5-40 rates) about every MB of output (e.g. 1.0)",
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    truth = generate(args.out, args.size_mb, args.seed, args.pr_position, args.big_item_mb, args.dense)
    print(json.dumps({"file": str(args.out), "bytes": args.out.stat().st_size, "truth": truth}))
    if args.gzip:
        print(gzip_copy(args.out))


if __name__ == "__main__":
    main()
