"""Demo data for ``make run``: created once, only into an empty database."""

from datetime import timedelta
from itertools import cycle

from sqlalchemy import func, select

from accounts import services as accounts
from accounts.models import User
from accounts.roles import Role
from arbiter import clock
from arbiter.extensions import db
from orders.services import upsert_order
from orders.states import PaymentMethod

DEMO_PASSWORD = "arbiter-demo-2026"  # noqa: S105 - published demo credential
STAFF = ("staff@arbiter.test", "Anna Doradczyni")
# A senior advisor: appeals are decided by someone other than the original decider.
REVIEWER = ("reviewer@arbiter.test", "Piotr Recenzent")
FINANCE = ("finance@arbiter.test", "Franciszek Finansowy")
# Four eyes on payouts: whoever exports a batch never confirms it paid (issue 20).
FINANCE_SECOND = ("finance2@arbiter.test", "Felicja Księgowa")
ADMIN = ("admin@arbiter.test", "Alicja Administratorka")
BUYERS = [
    ("buyer1@arbiter.test", "Bartek Kupujący"),
    ("buyer2@arbiter.test", "Zofia Źródłowska"),
    ("buyer3@arbiter.test", "Emily Buyer"),
]
SELLERS = [
    ("seller1@arbiter.test", "Sklep Łódź"),
    ("seller2@arbiter.test", "Gdańsk Elektronika"),
    ("seller3@arbiter.test", "Vintage Books Ltd"),
]
ITEMS = [
    ("Rower szosowy", 1_249_900, 4_999),
    ("Słuchawki bezprzewodowe", 39_900, 1_299),
    ("Aparat fotograficzny", 1_050_000, 15_000),
    ("Książka: Pan Tadeusz", 3_490, 899),
    ("Ekspres do kawy", 189_900, 0),
    ("Laptop 14\"", 549_900, 2_500),
    ("Zegarek kwarcowy", 25_000, 1_200),
    ("Konsola do gier", 229_900, 1_999),
    ("Kurtka zimowa", 45_900, 1_499),
    ("Smartfon", 995_000, 8_000),
]


def demo_logins() -> list[tuple[str, str]]:
    return ([("advisor", STAFF[0]), ("senior", REVIEWER[0]), ("finance", FINANCE[0]),
             ("finance", FINANCE_SECOND[0]), ("admin", ADMIN[0])]
            + [("buyer", e) for e, _ in BUYERS] + [("seller", e) for e, _ in SELLERS])


def seed_demo_data() -> bool:
    """Create the demo world; return False (and do nothing) when any user exists."""
    if db.session.scalar(select(func.count(User.id))):
        return False
    staff = accounts.create_user(*STAFF, DEMO_PASSWORD, roles=[Role.ADVISOR])
    reviewer = accounts.create_user(*REVIEWER, DEMO_PASSWORD, roles=[Role.SENIOR])
    finance = accounts.create_user(*FINANCE, DEMO_PASSWORD, roles=[Role.FINANCE])
    finance_second = accounts.create_user(*FINANCE_SECOND, DEMO_PASSWORD, roles=[Role.FINANCE])
    admin = accounts.create_user(*ADMIN, DEMO_PASSWORD, roles=[Role.ADMIN])
    buyers = [accounts.create_user(email, name, DEMO_PASSWORD) for email, name in BUYERS]
    sellers = [accounts.create_user(email, name, DEMO_PASSWORD) for email, name in SELLERS]
    buyers[2].locale = "en"
    now = clock.now()
    methods = cycle(PaymentMethod)
    orders = []
    for number in range(30):
        title, price, shipping = ITEMS[number % len(ITEMS)]
        buyer = buyers[number % 3]
        seller = sellers[(number // 3) % 3]
        paid_at = now - timedelta(days=number * 4 + 1, hours=number)
        orders.append(upsert_order({
            "external_id": f"DEMO-{number + 1:04d}",
            "buyer_email": buyer.email,
            "seller_email": seller.email,
            "item_title": title,
            "item_price": price,
            "shipping_cost": shipping,
            "payment_method": next(methods),
            "paid_at": paid_at,
            "delivered_at": paid_at + timedelta(days=3) if number % 4 else None,
        }).order)
    _seed_discussions(orders, staff)
    _seed_claims(orders, staff, finance, finance_second)
    _seed_appeals(orders, staff, reviewer)
    _seed_incident(admin)
    return True


def _backdate(discussion, hours: float) -> None:
    """Demo only: make a discussion look as if it was opened ``hours`` ago."""
    shift = timedelta(hours=hours)
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - shift)
    db.session.flush()


def _seed_discussions(orders, staff) -> None:
    """One discussion in every state, so every path can be clicked through."""
    from disputes import services as disputes
    from disputes.states import ExpectedOutcome, OfferKind, Party, Reason, Verdict
    from settlements import services as ledger

    def open_on(order, reason, text, hours_ago):
        discussion = disputes.open_discussion(
            order, order.buyer, reason=reason, expected_outcome=ExpectedOutcome.REFUND,
            description=text)
        db.session.flush()
        _backdate(discussion, hours_ago)
        return discussion

    open_on(orders[0], Reason.NOT_RECEIVED,
            "Paczka nie dotarła, a śledzenie stoi od tygodnia.", 2)
    open_on(orders[1], Reason.DAMAGED,
            "Słuchawki przyszły z pękniętym pałąkiem. Seller has not answered.", 26)

    talking = open_on(orders[2], Reason.NOT_AS_DESCRIBED,
                      "Obiektyw ma rysę, której nie było na zdjęciach.", 10)
    disputes.post_message(talking, talking.seller, "Przepraszam! Proponuję częściowy zwrot.")
    disputes.make_offer(talking, talking.seller, kind=OfferKind.PARTIAL_REFUND,
                        amount=talking.order.item_price // 5)

    waiting = open_on(orders[3], Reason.MISSING_PARTS, "Brakuje okładki i strony 12.", 40)
    disputes.escalate(waiting, waiting.buyer, "Sprzedający nie odpowiada od 40 godzin.")

    handled = open_on(orders[4], Reason.NOT_AS_DESCRIBED,
                      "The machine is a different model than listed.", 60)
    disputes.post_message(handled, handled.seller, "It is the same model, just a new name.")
    disputes.escalate(handled, handled.buyer, "We disagree about the model.")
    disputes.take_case(handled, staff)
    disputes.request_information(handled, staff, party=Party.SELLER,
                                 question="Please send the manufacturer's model sheet.")

    # A full refund the buyer accepted: the discussion awaits fulfilment, due in 7 days.
    awaiting = open_on(orders[5], Reason.DAMAGED, "Rysa na obudowie laptopa.", 80)
    offer = disputes.make_offer(awaiting, awaiting.seller, kind=OfferKind.REFUND)
    db.session.flush()
    disputes.accept_offer(awaiting, awaiting.buyer, offer.id)

    # A partial refund that arrived: the buyer confirmed it, the discussion is resolved.
    solved = open_on(orders[8], Reason.DAMAGED, "Zamek kurtki nie działa.", 70)
    offer = disputes.make_offer(solved, solved.seller, kind=OfferKind.PARTIAL_REFUND,
                                amount=solved.order.item_price // 4)
    db.session.flush()
    promise = disputes.accept_offer(solved, solved.buyer, offer.id)
    ledger.confirm(promise.id, solved.buyer)

    # A broken promise: the seller claimed the refund was sent, the buyer contested it
    # within the 7 days, and the discussion is open again with escalation available.
    broken = open_on(orders[9], Reason.NOT_AS_DESCRIBED,
                     "Telefon ma inną pamięć niż w ogłoszeniu.", 50)
    offer = disputes.make_offer(broken, broken.seller, kind=OfferKind.PARTIAL_REFUND,
                                amount=broken.order.item_price // 10)
    db.session.flush()
    promise = disputes.accept_offer(broken, broken.buyer, offer.id)
    ledger.submit_proof(promise.id, broken.seller, "Przelew 2026/12/0042")
    ledger.report_failed(promise.id, broken.buyer,
                         "Na moim koncie nie ma tego przelewu; bank go nie widzi.")

    decided = open_on(orders[6], Reason.NOT_RECEIVED, "Zegarek nie dotarł.", 100)
    disputes.escalate(decided, decided.buyer, "Brak odpowiedzi i brak paczki.")
    disputes.take_case(decided, staff)
    disputes.decide(decided, staff, verdict=Verdict.BUYER_FAVOUR, amount=None,
                    rationale="Sprzedający nie przedstawił dowodu nadania ani nie odpowiedział.")

    withdrawn = open_on(orders[7], Reason.OTHER, "Pomyłka, wszystko w porządku.", 5)
    disputes.withdraw(withdrawn, withdrawn.buyer)


def _seed_claims(orders, staff, finance, finance_second) -> None:
    """Claims in the states the case shows: two waiting for the seller's answer (one of
    them in the staff queue, not decidable yet), one paid with the recovery the marketplace
    settles with the seller, one approved, answered by its seller, with a pending payout.

    They rest on discussions that are not resolved and past their 24 h window, on orders
    paid in a covered way (orders 1, 4, 12 and 13: bank transfers and platform payments).
    """
    from claims import services as claims
    from claims.states import ClaimType, Decision
    from disputes import services as disputes
    from disputes.states import ExpectedOutcome, Reason

    def discussed(order, text):
        discussion = disputes.open_discussion(
            order, order.buyer, reason=Reason.NOT_RECEIVED,
            expected_outcome=ExpectedOutcome.REFUND, description=text)
        db.session.flush()
        _backdate(discussion, 30)
        disputes.post_message(discussion, order.seller,
                              "Sprawdzę to z magazynem i odezwę się wkrótce.")
        return order

    def seller_answers(claim, statement):
        # Staff decide once the seller answered or their time ran out.
        if claim.seller_window_open(clock.now()):  # a version may give no time
            claims.answer_as_seller(claim, claim.order.seller, statement)

    waiting = orders[1]
    claims.file_claim(
        waiting, waiting.buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
        description="Słuchawki mają pęknięty pałąk, a sprzedający nie odpowiada.",
        payout_account="PL60 1020 1026 0000 0422 7020 1111")

    # Filed just now: the seller is told and may answer before staff decide.
    answering = discussed(orders[12], "Aparat przyszedł bez obiektywu z zestawu.")
    claims.file_claim(
        answering, answering.buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
        description="Zestaw z ogłoszenia miał obiektyw 18-55 mm; przyszedł sam korpus.",
        payout_account="PL27 1140 2004 0000 3002 0135 5387")

    # Paid by the platform: the payout is confirmed and the seller owes the recovery.
    paid = discussed(orders[13], "Przyszło inne wydanie książki niż w ogłoszeniu.")
    claim = claims.file_claim(
        paid, paid.buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
        description="Zamiast wydania ilustrowanego z 1934 r. przyszło współczesne wydanie szkolne.",
        payout_account="PL83 1010 1023 0000 2613 9510 0000")
    seller_answers(claim, "Wysłałem to, co miałem w magazynie; nie wiedziałem o różnicy.")
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=Decision.APPROVED,
                  rationale="The photos show a different edition than the listing.")
    batch = claims.export_payouts(finance)
    claims.mark_batch_paid(batch.id, finance_second)  # never the exporter

    approved = orders[4]
    claim = claims.file_claim(
        approved, approved.buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
        description="The coffee machine is a different model than the one listed.",
        payout_account="PL61 1090 1014 0000 0712 1981 2874")
    seller_answers(claim, "I shipped the model from my listing; the photos may be older.")
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=Decision.APPROVED,
                  rationale="The model number on the photos differs from the listing.")

    # Four eyes: approved above 2,000.00 zł by the advisor, it waits in the second
    # approvals for a senior (the reviewer) to confirm it or send it back.
    big = discussed(orders[17], "Konsola nie włącza się po wyjęciu z pudełka.")
    claim = claims.file_claim(
        big, big.buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
        description="The console does not power on; the listing said it was new and tested.",
        payout_account="PL49 1090 2402 0000 0006 1234 5678")
    seller_answers(claim, "It worked when I packed it; it may have been damaged in transit.")
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=Decision.APPROVED,
                  rationale="The video shows the sealed box opened and the console dead.")


def _seed_appeals(orders, staff, reviewer) -> None:
    """Appeals in the three places the queue and the case show them, all against decisions
    of the first advisor and decided by the second: one waiting in the queue (the seller of
    order 7 appeals the verdict for the buyer), one upheld (the seller of order 14 appeals
    the paid claim), one varied with its decision PDFs (the buyer of order 11 appeals a
    partial verdict and gets more).

    Staff decide once the other party answered or their 72 h ran out: here they answer,
    as the seed's sellers answer claims (unless APPEAL_ANSWER_HOURS leaves no time).
    """
    from appeals import services as appeals
    from appeals.queries import evidence
    from appeals.states import Outcome
    from claims.models import Claim
    from disputes import services as disputes
    from disputes.models import Discussion
    from disputes.states import ExpectedOutcome, Reason, Verdict

    def answered(appeal, text):
        if clock.now() <= appeal.answer_due_at:
            appeals.answer(appeal, db.session.get(User, appeal.respondent_id), text)
        return appeal

    def decided(appeal, outcome, amount, rationale):
        appeals.take(appeal, reviewer)
        for item in evidence(appeal):
            appeals.mark_read(appeal, reviewer, item.key)
        appeals.decide(appeal, reviewer, outcome=outcome, amount=amount, rationale=rationale)

    verdict = db.session.scalar(select(Discussion).where(Discussion.order_id == orders[6].id))
    appeals.file_appeal(
        verdict, verdict.seller,
        "Wysłałem zegarek listem poleconym 3 dni po zakupie; potwierdzenie nadania załączam "
        "do odwołania, a doradca nie dał mi czasu na odpowiedź.")

    claim = db.session.scalar(select(Claim).where(Claim.order_id == orders[13].id))
    upheld = answered(appeals.file_appeal(
        claim, claim.seller,
        "Wydanie było opisane jako ilustrowane, ale rok wydania nie był podany w ogłoszeniu; "
        "kupujący dostał to, co było na zdjęciach."),
        "Na zdjęciach w ogłoszeniu widać okładkę wydania z 1934 r., a przyszło wydanie szkolne.")
    decided(upheld, Outcome.UPHELD, None,
            "Zdjęcie okładki w ogłoszeniu pokazuje wydanie z 1934 r.; przesyłka go nie "
            "zawierała, więc wypłata dla kupującego była należna w całości.")

    order = orders[10]
    varied = disputes.open_discussion(
        order, order.buyer, reason=Reason.NOT_AS_DESCRIBED,
        expected_outcome=ExpectedOutcome.REFUND,
        description="Rama roweru ma pęknięcie przy suporcie, niewidoczne na zdjęciach.")
    db.session.flush()
    _backdate(varied, 50)
    disputes.escalate(varied, order.buyer, "Sprzedający proponuje tylko wymianę siodełka.")
    disputes.take_case(varied, staff)
    disputes.decide(varied, staff, verdict=Verdict.PARTIAL, amount=order.item_price // 10,
                    rationale="Pęknięcie jest drobne; częściowy zwrot pokrywa naprawę ramy.")
    appeal = answered(appeals.file_appeal(
        varied, order.buyer,
        "Serwis stwierdził, że ramy z pęknięciem przy suporcie nie da się naprawić; opinię "
        "serwisu załączyłem w dyskusji. Zwrot 10% nie pokrywa nowej ramy."),
        "Rower był sprawny przy wysyłce; nie wiem, skąd pęknięcie.")
    decided(appeal, Outcome.VARIED, order.item_price // 2,
            "Opinia serwisu mówi, że ramy nie da się naprawić; nowa rama kosztuje połowę "
            "ceny roweru, więc zwrot podnosimy do tej kwoty.")


def _seed_incident(admin) -> None:
    """A resolved incident of six days ago with its whole timeline, told as it happened.

    It affected claims, so the filing windows of the orders paid in the 90 days before it
    are extended by 24 h after the seed commits (the background job of a resolution).
    """
    from incidents import services as incidents
    from incidents.states import UpdateKind

    # Whole minutes, as staff type them: the page's window form then round-trips exactly.
    started = (clock.now() - timedelta(days=6)).replace(second=0, microsecond=0)
    incident = incidents.declare(
        admin, title="Nie można składać wniosków o rekompensatę",
        title_en="Protection claims cannot be filed",
        impact="Formularz wniosku o rekompensatę zwracał błąd; nie dało się też dodawać "
               "dokumentów do złożonych wniosków.",
        impact_en="The claim form answered with an error; documents could not be added to "
                  "claims already filed either.",
        affected_services=["claims"], started_at=started,
        now=started + timedelta(minutes=15))
    for minutes, kind, body, body_en in (
            (20, UpdateKind.CONFIRMED, "Wiemy o problemie i pracujemy nad nim.",
             "We know about the problem and are working on it."),
            (35, UpdateKind.IMPACT, "Nie działa składanie wniosków ani wysyłanie dokumentów. "
                                    "Dyskusje działają normalnie.",
             "Claims cannot be filed and documents cannot be sent. Discussions work "
             "normally."),
            (90, UpdateKind.PROGRESS, "Znaleźliśmy przyczynę; wdrażamy poprawkę.",
             "We found the cause and are deploying a fix.")):
        incidents.post_update(incident, admin, kind=kind, body=body, body_en=body_en,
                              now=started + timedelta(minutes=minutes))
    incidents.resolve(
        incident, admin, ended_at=started + timedelta(hours=2, minutes=50),
        body="Formularz działa. Terminy na złożenie wniosków i dosłanie dokumentów, które "
             "biegły w czasie awarii, przedłużyliśmy o 24 godziny.",
        body_en="The form works. Deadlines for filing claims and sending documents that ran "
                "during the outage are extended by 24 hours.",
        now=started + timedelta(hours=3))
