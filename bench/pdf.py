"""Decision-document benchmark: the decision PDF must cost at most 2x a minimal page.

Renders 200 decision documents (the real template, a realistic verdict with evidence)
and, in the same run, 200 minimal one-page WeasyPrint documents through the same
fetcher and fonts (the floor). Prints both, per document, and the ratio.

    make bench-pdf        # or: .venv/bin/python -m bench.pdf [--count 200]
"""

import argparse
import re
import time

from flask import render_template

from arbiter import create_app
from arbiter.pdf import minimal_pdf, render_pdf

TARGET_RATIO = 2.0


def decision_data(number: int) -> dict:
    evidence = [{"name": f"zdjęcie-{n}.jpg", "by": "Zofia Źródłowska", "at": "22 lis 2026, 10:15",
                 "sha256": f"{n:064x}"} for n in range(3)]
    return {
        "title": "Decyzja w sprawie dyskusji nr 1234", "number": f"ARB/2026/{number:06d}",
        "issued_at": "22 lis 2026, 11:00:00", "advisor": "Anna Doradczyni",
        "buyer": "Zofia Źródłowska", "seller": "Sklep Łódź",
        "order": {"external_id": "DEMO-0001", "item": "Aparat fotograficzny",
                  "price": "10 500,00 zł", "shipping": "150,00 zł",
                  "payment_method": "Płatności platformy", "paid_at": "1 lis 2026, 12:00:00"},
        "asked": [["Problem", "Przedmiot niezgodny z opisem"], ["Oczekiwane", "Zwrot"],
                  ["Kwota sporu", "10 650,00 zł"]],
        "outcome": "Częściowo na korzyść kupującego",
        "amounts": [["Górny limit", "10 650,00 zł"], ["Zastosowano limit", "nie"]],
        "total": "5 000,00 zł", "policy": None,
        "rationale": "Zdjęcia pokazują rysę na obiektywie, której nie było w opisie. " * 6,
        "evidence": evidence,
        "next_steps": "To rozstrzygnięcie jest ostateczne.",
        "verify_url": f"https://arbiter.example/decisions/ARB/2026/{number:06d}/verify",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench"})
    with app.test_request_context():
        render_pdf("pdf/decision.html", css="decision.css", d=decision_data(0),
                   fingerprint="0" * 64, locale="pl")  # warm fonts and caches
        minimal_pdf("warm-up")
        started = time.perf_counter()
        for n in range(args.count):
            minimal_pdf(f"Dokument {n}: zażółć gęślą jaźń")
        floor = (time.perf_counter() - started) / args.count
        started = time.perf_counter()
        for n in range(args.count):
            render_pdf("pdf/decision.html", css="decision.css", d=decision_data(n + 1),
                       fingerprint=f"{n:064x}", locale="pl")
        decision = (time.perf_counter() - started) / args.count
        text_only = _plain_text_cost(args.count)
    ratio = decision / floor
    print(f"minimal page (floor): {floor * 1000:7.1f} ms per document ({args.count} documents)")
    print(f"decision document:    {decision * 1000:7.1f} ms per document ({args.count} documents)")
    print(f"ratio: {ratio:.2f} (target <= {TARGET_RATIO:.1f}) "
          f"{'OK' if ratio <= TARGET_RATIO else 'ABOVE TARGET'}")
    print(f"lower bound: the decision's text alone, unstyled, as one paragraph: "
          f"{text_only * 1000:.1f} ms = {text_only / floor:.2f}x the floor")
    if ratio > TARGET_RATIO:
        raise SystemExit(1)


def _plain_text_cost(count: int) -> float:
    """What the required content costs with no layout at all: the floor for this text."""
    html = render_template("pdf/decision.html", d=decision_data(0), fingerprint="0" * 64,
                           locale="pl")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split("<body>", 1)[1])).strip()
    minimal_pdf(text)
    started = time.perf_counter()
    for _ in range(count):
        minimal_pdf(text)
    return (time.perf_counter() - started) / count


if __name__ == "__main__":
    main()
