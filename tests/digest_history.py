"""Synthetic call history for the daily digest: a stable topic mix, then a day with a new problem.

Shared by tests/test_digest.py (small) and bench/digest.py (8 x 300 + 300, and 10,000 calls).
Caller problems are written with several templates, openers and details per topic, so the
clustering is tested on varied natural phrasings rather than on repeated strings. Every topic but
`payment_site_error` has an article in the sample knowledge base; that one has none.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant.privacy.gate import safe_id

# topic -> (article id in knowledge_base/ or None, problem templates)
TOPICS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "unemployment_payment": (
        "ui-payment-status",
        (
            "My unemployment payment has not arrived yet and I filed {when}.",
            "I have not gotten my unemployment money {when2}, where is it?",
            "When will my unemployment benefits be paid? Nothing has come {when2}.",
            "My jobless benefit payment never showed up in my account {when2}.",
            "Can you check the status of my unemployment payment? It is late.",
            "I certified for my weeks of unemployment but the payment still has not come.",
            "I am still waiting on my unemployment check, it has been {when3}.",
        ),
    ),
    "lost_ebt_card": (
        "snap-ebt-card-replace",
        (
            "I lost my EBT card and I need a new one.",
            "Someone stole my food stamp card out of my wallet {when4}.",
            "My EBT card is missing and I cannot buy groceries, how do I replace it?",
            "I need to replace my SNAP EBT card because it got lost {when4}.",
            "My benefits card for food was stolen, can I get another EBT card?",
            "I can't find my EBT card anywhere, I think I lost it at the store.",
        ),
    ),
    "driver_license_renewal": (
        "dl-renew",
        (
            "How do I renew my driver license? It expires {soon}.",
            "My driver's license is about to expire and I need to renew it.",
            "Can I renew my driver license online or do I have to come in?",
            "I want to renew my license before it runs out {soon}.",
            "What do I need to bring to renew my driving license?",
            "My license expires {soon}, how can I get it renewed?",
        ),
    ),
    "water_bill_high": (
        "city-water-high-bill",
        (
            "My water bill is way higher than usual this month.",
            "Why is my water bill so high? It doubled {when5}.",
            "I got a water bill that is much bigger than normal and I don't understand why.",
            "The water bill this month is almost three times what I usually pay.",
            "My water charges went way up even though we use the same amount of water.",
            "Can you explain why my water bill jumped so much this time?",
        ),
    ),
    "property_tax_payment": (
        "pt-pay-bill",
        (
            "I want to pay my property tax bill.",
            "How can I pay my property taxes on my house?",
            "Where do I send the payment for my property tax bill?",
            "I need to make my property tax payment before the deadline.",
            "Can I pay the property tax on my home in installments or all at once?",
            "What are the ways to pay my real estate property tax?",
        ),
    ),
    "payment_site_error": (
        None,
        (
            "The payment website shows an error when I try to pay.",
            "I keep getting an error message on your online payment page.",
            "Your payment site says something went wrong every time I submit.",
            "I tried paying on the website but it just shows an error screen.",
            "The online payment portal gives me an error after I enter everything.",
            "Your pay online page is broken, it keeps showing an error.",
        ),
    ),
}
STABLE_MIX = {
    "unemployment_payment": 0.30,
    "lost_ebt_card": 0.20,
    "driver_license_renewal": 0.20,
    "water_bill_high": 0.15,
    "property_tax_payment": 0.15,
}
NEW_TOPIC = "payment_site_error"

_FILL = {
    "when": ("three weeks ago", "last month", "on the first", "two weeks ago", "a while back"),
    "when2": ("for two weeks", "this month", "since last Friday", "yet", "in weeks"),
    "when3": ("almost a month", "two weeks", "ten days", "a long time"),
    "when4": ("yesterday", "last weekend", "on the bus", "this morning", ""),
    "soon": ("next month", "in two weeks", "soon", "at the end of the month"),
    "when5": ("from last month", "since the spring", "overnight", ""),
}
_OPENERS = ("", "Hi, ", "Hello. ", "Good morning. ", "Yes, hi. ", "Hi there, thanks for picking up. ")
_AGENT_OPEN = ("Thank you for calling, how can I help you today?", "Hello, this is the help line.")
_AGENT_MID = ("Let me look into that for you.", "I understand, one moment please.", "Sure, give me a second.")
_CALLER_DETAIL = (
    "Okay.",
    "Sure, take your time.",
    "Alright, I am still here.",
    "It is [NAME] on the account.",
)
_ENDINGS = (
    ("I have sorted that out, you are all set.", "Thank you so much.", "resolved"),
    ("We will send you a letter about it next week.", "Okay, thanks.", "follow-up"),
    ("I will transfer you to the right office now.", "Alright.", "transferred"),
    ("That went through on our side.", "Great, thank you so much.", "resolved"),
)


def problem_text(topic: str, rng: random.Random) -> str:
    """One caller statement of `topic`'s problem, with an opener and the template's blanks filled."""
    template = rng.choice(TOPICS[topic][1])
    filled = template.format(**{k: rng.choice(v) for k, v in _FILL.items()})
    return (rng.choice(_OPENERS) + " ".join(filled.split())).strip()


def day_topics(n: int, mix: dict[str, float], rng: random.Random) -> list[str]:
    """Exactly round(n * share) calls per topic (the rest to the largest), shuffled."""
    counts = {t: round(n * s) for t, s in mix.items()}
    largest = max(mix, key=mix.__getitem__)
    counts[largest] += n - sum(counts.values())
    out = [t for t, c in counts.items() for _ in range(c)]
    rng.shuffle(out)
    return out


def mix_with_new(new_share: float) -> dict[str, float]:
    """The stable mix scaled down so that `NEW_TOPIC` takes `new_share` of the calls."""
    mix = {t: s * (1 - new_share) for t, s in STABLE_MIX.items()}
    mix[NEW_TOPIC] = new_share
    return mix


def call_json(call_id: str, started: datetime, topic: str, rng: random.Random) -> dict[str, Any]:
    """One text-only call in the JSONL ingest shape."""
    agent_end, caller_end, _ = rng.choice(_ENDINGS)
    lines = [
        ("agent", rng.choice(_AGENT_OPEN)),
        ("caller", problem_text(topic, rng)),
        ("agent", rng.choice(_AGENT_MID)),
        ("caller", rng.choice(_CALLER_DETAIL)),
        ("agent", agent_end),
        ("caller", caller_end),
    ]
    utterances, t = [], 0.0
    for speaker, text in lines:
        length = 1.5 + 0.35 * len(text.split()) + rng.random() * 4
        utterances.append(
            {"speaker": speaker, "text": text, "start": round(t, 2), "end": round(t + length, 2)}
        )
        t += length + 0.5
    return {
        "call_id": call_id,
        "started_at": started.isoformat().replace("+00:00", "Z"),
        "channel": rng.choice(("voice", "voice", "chat")),
        "planted_topic": topic,  # ignored by the ingest; lets tests compare found with planted
        "utterances": utterances,
    }


def history(
    first_day: date, days: int, calls_per_day: int, new_share: float = 0.2, seed: int = 7
) -> tuple[list[dict[str, Any]], dict[date, Counter[str]]]:
    """`days` days of the stable mix, then one day where `NEW_TOPIC` takes `new_share` of the calls.

    Returns the calls (JSONL shape) and the true topic counts per day.
    """
    rng = random.Random(seed)
    calls: list[dict[str, Any]] = []
    truth: dict[date, Counter[str]] = {}
    for d in range(days + 1):
        day = first_day + timedelta(days=d)
        mix = STABLE_MIX if d < days else mix_with_new(new_share)
        topics = day_topics(calls_per_day, mix, rng)
        truth[day] = Counter(topics)
        for n, topic in enumerate(topics):
            started = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(
                seconds=int(n * 9 * 3600 / max(1, len(topics)))
            )
            calls.append(call_json(f"{day:%Y%m%d}-{n:05d}", started, topic, rng))
    return calls, truth


def write_jsonl(calls: Sequence[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in calls), encoding="utf-8")
    return path


def direct_records(day: date, n: int, new_share: float = 0.2, seed: int = 11) -> Iterator[Any]:
    """CallRecords for a big day, written straight to storage (no Whisper, no KB search per call).

    Suggestions are simulated: the topic's article, or an abstained search for the new problem.
    One in ten calls is Spanish with an English translation, as the pipeline would store it.
    Problem texts carry a random detail so that nearly every one is unique (no dedup shortcut).
    """
    from assistant.storage import CallRecord, SuggestionRecord, UtteranceRecord

    rng = random.Random(seed)
    details = (
        "my case number ends in {n}",
        "I called {n} times already",
        "this is the {n}th day I try",
        "my reference is {n}",
        "I was on hold {n} minutes",
    )
    for i, topic in enumerate(day_topics(n, mix_with_new(new_share), rng)):
        article = TOPICS[topic][0]
        text = (
            problem_text(topic, rng).rstrip(".")
            + ", "
            + rng.choice(details).format(n=rng.randint(2, 9999))
            + "."
        )
        spanish = rng.random() < 0.1
        started = datetime(day.year, day.month, day.day, 7, tzinfo=UTC) + timedelta(seconds=i * 4)
        agent_end, caller_end, outcome = rng.choice(_ENDINGS)
        caller = UtteranceRecord(
            "caller",
            3.0,
            9.0,
            "[es] " + text if spanish else text,
            language="es" if spanish else "en",
            translation=text if spanish else None,
            machine_translated=spanish,
            sentiment=rng.uniform(-0.6, 0.3),
        )
        suggestion = SuggestionRecord(
            query_text=text,
            article_id=article,
            abstained=article is None,
            utterance_idx=1,
            article_title=article,
            score=0.8 if article else 0.3,
        )
        yield CallRecord(
            call_id=f"big-{day:%Y%m%d}-{i:05d}",
            started_at=started,
            channel="voice",
            source="bench",
            language="es" if spanish else "en",
            duration=rng.uniform(90, 600),
            outcome=outcome,
            reason=text,
            summary_text=f"Caller's reason: {text}",
            sentiment_overall=rng.uniform(-0.5, 0.4),
            utterances=(
                UtteranceRecord("agent", 0.0, 2.5, "Thank you for calling."),
                caller,
                UtteranceRecord("agent", 10.0, 12.0, agent_end),
                UtteranceRecord("caller", 12.5, 13.5, caller_end),
            ),
            suggestions=(suggestion,),
        )


def planted_vs_found(digest: Any, calls: Sequence[dict[str, Any]], day: date) -> dict[str, tuple[int, Any]]:
    """For each topic planted on `day`: (planted calls, the largest found topic whose calls are mostly
    that topic, or None). Found topics are matched by their calls, not by label."""
    # found topics list stored ids: the safe form of each raw id (assistant/privacy/gate.py)
    planted = {safe_id(c["call_id"]): c["planted_topic"] for c in calls}
    truth = Counter(c["planted_topic"] for c in calls if c["call_id"].startswith(f"{day:%Y%m%d}-"))
    best: dict[str, Any] = {}
    for topic in digest.topics:
        majority = Counter(planted.get(cid) for cid in topic.call_ids).most_common(1)
        if majority and majority[0][0] is not None:
            name = majority[0][0]
            if name not in best or topic.calls > best[name].calls:
                best[name] = topic
    return {name: (n, best.get(name)) for name, n in truth.most_common()}


# ---------------------------------------------------------------- a mixed English and Spanish day


@dataclass(frozen=True)
class MixedNeed:
    """One need of the mixed day, as English and Spanish callers put it (written for this project:
    the Spanish lines are how a Spanish-speaking caller says it, not translations of the English
    ones). Each Spanish line comes with the English that Whisper's translate task would store for it,
    deliberately literal, as machine translation is.

    Attributes:
        article: its article in the sample knowledge base.
        english, english_details: statements and what a caller adds after them.
        spanish, spanish_details: the same in Spanish, each as (said, Whisper's translation).
    """

    article: str
    english: tuple[str, ...]
    english_details: tuple[str, ...]
    spanish: tuple[tuple[str, str], ...]
    spanish_details: tuple[tuple[str, str], ...]


MIXED_NEEDS: dict[str, MixedNeed] = {
    "unemployment_payment": MixedNeed(
        "ui-payment-status",
        (
            "My unemployment payment still has not arrived.",
            "I filed my weekly claim but the unemployment money never came.",
            "When is my unemployment check going to be deposited?",
            "I haven't received my jobless benefits in two weeks.",
            "Where is my unemployment payment? It's late.",
            "I certified for last week and I still don't see the deposit for my unemployment.",
            "Is there a problem with my unemployment benefits? Nothing has been paid.",
        ),
        (
            "I have rent due on Friday.",
            "It usually comes on Tuesday.",
            "I already checked my bank account twice.",
        ),
        (
            ("Mi pago de desempleo todavía no ha llegado.", "My unemployment payment has not arrived yet."),
            (
                "Hice mi certificación semanal pero no me llegó el dinero del desempleo.",
                "I did my weekly certification but the unemployment money did not reach me.",
            ),
            (
                "¿Cuándo van a depositar mi pago de desempleo?",
                "When are they going to deposit my unemployment payment?",
            ),
            (
                "No he recibido mis beneficios de desempleo en dos semanas.",
                "I have not received my unemployment benefits in two weeks.",
            ),
            (
                "¿Dónde está mi pago del desempleo? Ya se atrasó.",
                "Where is my payment of the unemployment? It is already late.",
            ),
            (
                "Llevo tres semanas sin recibir el cheque del desempleo.",
                "I have three weeks without receiving the unemployment check.",
            ),
            (
                "Quiero saber qué pasó con mi pago de desempleo, no me han depositado nada.",
                "I want to know what happened with my unemployment payment, they have not deposited anything.",
            ),
        ),
        (
            ("Tengo que pagar la renta el viernes.", "I have to pay the rent on Friday."),
            ("Normalmente llega los martes.", "Normally it arrives on Tuesdays."),
            ("Ya revisé mi cuenta del banco dos veces.", "I already checked my bank account two times."),
        ),
    ),
    "lost_ebt_card": MixedNeed(
        "snap-ebt-card-replace",
        (
            "I lost my EBT card.",
            "Someone stole my food stamp card.",
            "My EBT card got damaged and doesn't work anymore, I need a new one.",
            "How do I replace my SNAP card? I can't find it.",
            "I lost my food benefits card at the store.",
            "My wallet was stolen with my EBT card in it.",
            "I need a replacement EBT card, mine is gone.",
        ),
        ("I need to buy groceries for my kids.", "It happened yesterday.", "Can you cancel the old one?"),
        (
            ("Perdí mi tarjeta EBT y necesito otra.", "I lost my EBT card and I need another one."),
            ("Me robaron la tarjeta de cupones de comida.", "They stole my food coupons card."),
            (
                "Mi tarjeta EBT se dañó y ya no funciona.",
                "My EBT card got damaged and it does not work anymore.",
            ),
            (
                "¿Cómo reemplazo mi tarjeta de SNAP? No la encuentro.",
                "How do I replace my card of SNAP? I don't find it.",
            ),
            (
                "Se me perdió la tarjeta de beneficios de comida en la tienda.",
                "I lost the card of food benefits in the store.",
            ),
            (
                "Me robaron la cartera con la tarjeta EBT adentro.",
                "They stole my wallet with the EBT card inside.",
            ),
            (
                "Necesito una tarjeta EBT nueva porque la mía se perdió.",
                "I need a new EBT card because mine got lost.",
            ),
        ),
        (
            ("Tengo que comprar comida para mis hijos.", "I have to buy food for my children."),
            ("Pasó ayer.", "It happened yesterday."),
            ("¿Pueden cancelar la otra?", "Can you cancel the other one?"),
        ),
    ),
    "medicaid_renewal": MixedNeed(
        "medicaid-renewal",
        (
            "I got a letter saying I need to renew my Medicaid.",
            "How do I renew my Medicaid coverage before it ends?",
            "My Medicaid renewal is due and I don't know what forms to send.",
            "I need to renew my health coverage through Medicaid.",
            "They told me my Medicaid will be cut off if I don't renew.",
            "What documents do I need for my Medicaid renewal?",
        ),
        (
            "The letter says I have until the end of the month.",
            "I have two kids on the plan.",
            "I moved last year.",
        ),
        (
            (
                "Recibí una carta que dice que tengo que renovar mi Medicaid.",
                "I received a letter that says that I have to renew my Medicaid.",
            ),
            (
                "¿Cómo renuevo mi cobertura de Medicaid antes de que se venza?",
                "How do I renew my coverage of Medicaid before it expires?",
            ),
            (
                "Tengo que renovar Medicaid y no sé qué papeles mandar.",
                "I have to renew Medicaid and I don't know which papers to send.",
            ),
            (
                "Necesito renovar mi seguro médico de Medicaid.",
                "I need to renew my medical insurance of Medicaid.",
            ),
            (
                "Me dijeron que me van a quitar el Medicaid si no lo renuevo.",
                "They told me that they are going to take away the Medicaid if I don't renew it.",
            ),
            (
                "¿Qué documentos necesito para la renovación de Medicaid?",
                "What documents do I need for the renewal of Medicaid?",
            ),
        ),
        (
            (
                "La carta dice que tengo hasta fin de mes.",
                "The letter says that I have until the end of the month.",
            ),
            ("Tengo a mis dos hijos en el plan.", "I have my two children in the plan."),
            ("Me mudé el año pasado.", "I moved the last year."),
        ),
    ),
    "driver_license_renewal": MixedNeed(
        "dl-renew",
        (
            "I need to renew my driver's license, it expires next month.",
            "Can I renew my driving license online?",
            "My license is about to expire, what do I bring to renew it?",
            "I want to renew my driver license.",
            "How do I get my driver's license renewed? It runs out soon.",
            "Do I need an appointment to renew my license?",
        ),
        ("I'm over seventy if that matters.", "I moved to a new address.", "I work during the week."),
        (
            (
                "Necesito renovar mi licencia de manejar, se vence el mes que viene.",
                "I need to renew my license to drive, it expires the month that comes.",
            ),
            (
                "¿Puedo renovar mi licencia de conducir por internet?",
                "Can I renew my driver's license by internet?",
            ),
            (
                "Mi licencia de manejo ya casi se vence, ¿qué tengo que llevar para renovarla?",
                "My driving license is almost expiring, what do I have to bring to renew it?",
            ),
            ("Quiero renovar mi licencia de conducir.", "I want to renew my license of driving."),
            (
                "Se me va a vencer la licencia y no sé cómo renovarla.",
                "My license is going to expire and I don't know how to renew it.",
            ),
            (
                "¿Necesito hacer cita para renovar la licencia?",
                "Do I need to make an appointment to renew the license?",
            ),
        ),
        (
            ("Tengo más de setenta años.", "I have more than seventy years."),
            ("Me cambié de domicilio.", "I changed my address."),
            ("Trabajo entre semana.", "I work between the week."),
        ),
    ),
    "water_bill_high": MixedNeed(
        "city-water-high-bill",
        (
            "My water bill is much higher than usual.",
            "Why is my water bill so expensive this month?",
            "The water bill doubled and I don't understand why.",
            "I was overcharged on my water bill.",
            "I think my water meter is wrong, the bill is way too high.",
            "My water bill went up a lot but we use the same amount of water.",
        ),
        (
            "It's almost three hundred dollars.",
            "It's just me and my wife in the house.",
            "Nothing changed at home.",
        ),
        (
            (
                "Mi factura de agua salió mucho más alta que de costumbre.",
                "My water bill came out much higher than usual.",
            ),
            (
                "¿Por qué me llegó tan cara la cuenta del agua este mes?",
                "Why did the water bill come so expensive this month?",
            ),
            (
                "La factura del agua se duplicó y no entiendo por qué.",
                "The bill of the water doubled and I don't understand why.",
            ),
            (
                "Me cobraron demasiado en el recibo del agua.",
                "They charged me too much on the water receipt.",
            ),
            (
                "Creo que el medidor del agua está mal, el recibo viene altísimo.",
                "I think the water meter is wrong, the receipt comes very high.",
            ),
            (
                "Subió mucho el recibo del agua pero gastamos lo mismo.",
                "The water receipt went up a lot but we spend the same.",
            ),
        ),
        (
            ("Son casi trescientos dólares.", "It is almost three hundred dollars."),
            ("En la casa solo vivimos mi esposa y yo.", "In the house only my wife and I live."),
            ("No cambió nada en la casa.", "Nothing changed in the house."),
        ),
    ),
}
# Turns that are not a need: openers, small talk, asking for someone else, thanks. Spanish ones
# as (said, Whisper's translation).
_MIXED_OPENERS = {
    "en": ("", "Hi, ", "Hello. ", "Good morning. ", "Yes, hi. ", "So, ", "Hi, thanks for picking up. "),
    "es": (
        ("", ""),
        ("Hola, ", "Hello, "),
        ("Buenos días. ", "Good morning. "),
        ("Buenas tardes, ", "Good afternoon, "),
        ("Sí, mire, ", "Yes, look, "),
        ("Oiga, ", "Listen, "),
    ),
}
_MIXED_SMALL_TALK = {
    "en": ("Hi, how are you doing today?", "Hello? Can you hear me okay?", "Yes, good morning."),
    "es": (
        ("Hola, ¿cómo está?", "Hello, how are you?"),
        ("¿Bueno? ¿Me escucha?", "Hello? Can you hear me?"),
        ("Sí, buenos días.", "Yes, good morning."),
    ),
}
_MIXED_ESCALATION = {
    "en": (
        "Can you transfer me to a supervisor?",
        "I want to speak to a manager.",
        "Just put me through to a real person, please.",
    ),
    "es": (
        ("¿Me puede comunicar con un supervisor?", "Can you communicate me with a supervisor?"),
        ("Quiero hablar con un supervisor.", "I want to talk with a supervisor."),
        ("Páseme con su gerente, por favor.", "Pass me to your manager, please."),
    ),
}
_MIXED_THANKS = {
    "en": ("Thank you so much.", "Okay, thanks.", "Great, thanks for your help.", "Alright, bye."),
    "es": (
        ("Muchas gracias.", "Thank you very much."),
        ("Bueno, gracias.", "Good, thank you."),
        ("Gracias por su ayuda.", "Thanks for your help."),
        ("Muy amable, adiós.", "Very kind, goodbye."),
    ),
}
_MIXED_AGENT = {
    "open": (
        "Thank you for calling, how can I help you?",
        "Hello, you've reached the help line, what can I do for you?",
        "Good morning, how may I help?",
    ),
    "small_talk": ("Hello, yes, I can hear you. What can I do for you today?",),
    "mid": ("Let me see what I can do.", "One moment while I look that up.", "I understand, let me check."),
    "end": (
        "I have sent you the steps.",
        "You should get a letter in a few days.",
        "That's all set on our side.",
        "I'll make a note on your account.",
    ),
}


def _joined(opener: str, core: str, detail: str) -> str:
    """One statement: "Hi, " + "My bill..." reads "Hi, my bill..." ("I" stays capital)."""
    if opener.endswith(", ") and not core.startswith(("I ", "I'", "EBT", "SNAP")):
        at = 1 if core.startswith("¿") else 0
        core = core[:at] + core[at].lower() + core[at + 1 :]
    return " ".join(f"{opener}{core} {detail}".split())


def mixed_day(
    day: date, n: int, spanish_share: float = 0.4, voice_share: float = 0.6, seed: int = 19
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`n` calls (JSONL shape) on `day`, the same 5 needs (`MIXED_NEEDS`) asked in English and in
    Spanish. A call is a phone call with probability `voice_share`, else a chat; a Spanish phone
    call's caller turns carry the English that Whisper's translate task gives them (key
    "translation"; see `store_processed`), a Spanish chat none. Each statement is an opener, one of
    the need's statements and sometimes a detail; some callers make small talk first, one in six
    asks for a supervisor, and every caller thanks the agent. Returns the calls and stored call
    id -> need."""
    rng = random.Random(seed)
    needs = list(MIXED_NEEDS)
    calls, gold = [], {}
    for i in range(n):
        need = MIXED_NEEDS[needs[i % len(needs)]]
        lang = "es" if rng.random() < spanish_share else "en"
        channel = "voice" if rng.random() < voice_share else "chat"

        def say(options: Sequence[Any], lang: str = lang) -> tuple[str, str | None]:
            picked = rng.choice(options)
            return (picked[0], picked[1]) if lang == "es" else (picked, None)

        opener, opener_en = say(_MIXED_OPENERS[lang])
        core, core_en = say(need.spanish if lang == "es" else need.english)
        details = need.spanish_details if lang == "es" else need.english_details
        detail, detail_en = say(details) if rng.random() < 0.4 else ("", "")
        statement = _joined(opener, core, detail)
        statement_en = _joined(opener_en or "", core_en or "", detail_en or "") if lang == "es" else None
        lines: list[tuple[str, str, str | None]] = [("agent", rng.choice(_MIXED_AGENT["open"]), None)]
        if rng.random() < 0.3:
            lines += [
                ("caller", *say(_MIXED_SMALL_TALK[lang])),
                ("agent", _MIXED_AGENT["small_talk"][0], None),
            ]
        lines += [("caller", statement, statement_en), ("agent", rng.choice(_MIXED_AGENT["mid"]), None)]
        if rng.random() < 1 / 6:
            lines += [("caller", *say(_MIXED_ESCALATION[lang])), ("agent", "Let me see who is free.", None)]
        lines += [("agent", rng.choice(_MIXED_AGENT["end"]), None), ("caller", *say(_MIXED_THANKS[lang]))]
        call_id = f"mixed-{day:%m%d}-{i:04d}"
        started = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(seconds=90 * i)
        t, utterances = 0.0, []
        for speaker, text, english in lines:
            u: dict[str, Any] = {"speaker": speaker, "text": text, "start": t, "end": t + 3.0}
            if english is not None and channel == "voice":
                u["translation"] = english
            utterances.append(u)
            t += 3.5
        calls.append(
            {
                "call_id": call_id,
                "started_at": started.isoformat(),
                "channel": channel,
                "utterances": utterances,
            }
        )
        gold[safe_id(call_id)] = needs[i % len(needs)]  # keyed as stored
    return calls, gold


def store_processed(calls: Sequence[dict[str, Any]], con: Any, processor: Any = None) -> int:
    """Process and store calls of the JSONL shape as the pipeline stores them, keeping each turn's
    "translation": for a phone call that is what `CallProcessor.process_file` hands on after
    Whisper's translate task (the JSONL ingest reads no translations, and running Whisper on
    synthesized audio would only add minutes). Returns how many calls were stored."""
    from assistant import storage
    from assistant.calls.processor import CallProcessor, RawUtterance

    processor = processor or CallProcessor()
    for call in calls:
        utterances = [
            RawUtterance(
                u["speaker"],
                u.get("start"),
                u.get("end"),
                u["text"],
                u.get("translation"),
                "whisper" if u.get("translation") else None,
            )
            for u in call["utterances"]
        ]
        started = datetime.fromisoformat(call["started_at"])
        record = processor.process_utterances(
            call["call_id"], started, utterances, channel=call["channel"], source="jsonl"
        )
        storage.save_call(con, record)
    return len(calls)
