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

# need -> (article id, English statements, Spanish statements): written for this project, the
# Spanish ones are not translations of the English ones but how a Spanish-speaking caller says it.
MIXED_NEEDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "unemployment_payment": (
        "ui-payment-status",
        (
            "My unemployment payment still has not arrived.",
            "I filed my weekly claim but the unemployment money never came.",
            "When is my unemployment check going to be deposited?",
            "I haven't received my jobless benefits in two weeks.",
            "Where is my unemployment payment? It's late.",
        ),
        (
            "Mi pago de desempleo todavía no ha llegado.",
            "Hice mi certificación semanal pero no me llegó el dinero del desempleo.",
            "¿Cuándo van a depositar mi pago de desempleo?",
            "No he recibido mis beneficios de desempleo en dos semanas.",
            "¿Dónde está mi pago del desempleo? Ya se atrasó.",
        ),
    ),
    "lost_ebt_card": (
        "snap-ebt-card-replace",
        (
            "I lost my EBT card.",
            "Someone stole my food stamp card.",
            "My EBT card got damaged and doesn't work anymore, I need a new one.",
            "How do I replace my SNAP card? I can't find it.",
            "I lost my food benefits card at the store.",
        ),
        (
            "Perdí mi tarjeta EBT y necesito otra.",
            "Me robaron la tarjeta de cupones de comida.",
            "Mi tarjeta EBT se dañó y ya no funciona.",
            "¿Cómo reemplazo mi tarjeta de SNAP? No la encuentro.",
            "Se me perdió la tarjeta de beneficios de comida en la tienda.",
        ),
    ),
    "medicaid_renewal": (
        "medicaid-renewal",
        (
            "I got a letter saying I need to renew my Medicaid.",
            "How do I renew my Medicaid coverage before it ends?",
            "My Medicaid renewal is due and I don't know what forms to send.",
            "I need to renew my health coverage through Medicaid.",
        ),
        (
            "Recibí una carta que dice que tengo que renovar mi Medicaid.",
            "¿Cómo renuevo mi cobertura de Medicaid antes de que se venza?",
            "Tengo que renovar Medicaid y no sé qué papeles mandar.",
            "Necesito renovar mi seguro médico de Medicaid.",
        ),
    ),
    "driver_license_renewal": (
        "dl-renew",
        (
            "I need to renew my driver's license, it expires next month.",
            "Can I renew my driving license online?",
            "My license is about to expire, what do I bring to renew it?",
            "I want to renew my driver license.",
        ),
        (
            "Necesito renovar mi licencia de manejar, se vence el mes que viene.",
            "¿Puedo renovar mi licencia de conducir por internet?",
            "Mi licencia de manejo ya casi se vence, ¿qué tengo que llevar para renovarla?",
            "Quiero renovar mi licencia de conducir.",
        ),
    ),
    "water_bill_high": (
        "city-water-high-bill",
        (
            "My water bill is much higher than usual.",
            "Why is my water bill so expensive this month?",
            "The water bill doubled and I don't understand why.",
            "I was overcharged on my water bill.",
        ),
        (
            "Mi factura de agua salió mucho más alta que de costumbre.",
            "¿Por qué me llegó tan cara la cuenta del agua este mes?",
            "La factura del agua se duplicó y no entiendo por qué.",
            "Me cobraron demasiado en el recibo del agua.",
        ),
    ),
}
_MIXED_OPENERS = {
    "en": ("", "Hi, ", "Hello. ", "Good morning. "),
    "es": ("", "Hola, ", "Buenos días. ", "Buenas tardes, "),
}
_MIXED_ESCALATION = {
    "en": ("Can you transfer me to a supervisor?", "I want to speak to a manager."),
    "es": ("¿Me puede comunicar con un supervisor?", "Quiero hablar con un supervisor."),
}
_MIXED_THANKS = {"en": ("Thank you so much.", "Okay, thanks."), "es": ("Muchas gracias.", "Bueno, gracias.")}


def mixed_day(
    day: date, n: int, spanish_share: float = 0.4, seed: int = 19
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`n` text calls (JSONL shape) on `day`, the same 5 needs asked in English and in Spanish;
    one in six callers also asks for a supervisor. Returns the calls and call id -> need."""
    rng = random.Random(seed)
    needs = list(MIXED_NEEDS)
    calls, gold = [], {}
    for i in range(n):
        need = needs[i % len(needs)]
        lang = "es" if rng.random() < spanish_share else "en"
        _, english, spanish = MIXED_NEEDS[need]
        statement = rng.choice(_MIXED_OPENERS[lang]) + rng.choice(spanish if lang == "es" else english)
        lines = [("agent", "Thank you for calling, how can I help you?"), ("caller", statement)]
        if rng.random() < 1 / 6:
            lines += [("agent", "Let me see what I can do."), ("caller", rng.choice(_MIXED_ESCALATION[lang]))]
        lines += [("agent", "I have sent you the steps."), ("caller", rng.choice(_MIXED_THANKS[lang]))]
        call_id = f"mixed-{day:%Y%m%d}-{i:04d}"
        started = datetime(day.year, day.month, day.day, 8, tzinfo=UTC) + timedelta(seconds=90 * i)
        t, utterances = 0.0, []
        for speaker, text in lines:
            utterances.append({"speaker": speaker, "text": text, "start": t, "end": t + 3.0})
            t += 3.5
        calls.append(
            {
                "call_id": call_id,
                "started_at": started.isoformat(),
                "channel": "chat",
                "utterances": utterances,
            }
        )
        gold[safe_id(call_id)] = need  # keyed as stored
    return calls, gold
