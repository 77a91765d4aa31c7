#!/usr/bin/env python3
"""CSV data for scripts/bench-tracker, written to stdout for psql's \\copy (format csv).

  gen_tracker_data.py leads ACCOUNT FIRST_ID LEADS
  gen_tracker_data.py comms ACCOUNT FIRST_ID LEADS TOTAL HEAVY_TOUCHES

Leads get ids FIRST_ID..FIRST_ID+LEADS-1 (unique E.164 phones +1312641NNNN, +1312642NNNN...,
an email for about half). Communications: the lead FIRST_ID (the heavy lead) gets
HEAVY_TOUCHES touches, the others share the rest evenly (99 or 100 each for the defaults),
spread over the last 90 days and written in time order (as a live system inserts them); mixed channels with a per-lead preference, roughly
alternating inbound/outbound (the first touch is the lead's inquiry), sentiment labels and
scores, short contents (60-200 chars), subjects for emails, durations for calls.
Deterministic (fixed seed) except for "now".
"""
import csv
import random
import sys
import time
from datetime import datetime, timezone

DAYS = 90
BUSINESS_PHONE = "+13125550100"
BUSINESS_EMAIL = "office@acme-roofing.example"


def phone_of(i):
    return f"+1312{641 + i // 10000}{i % 10000:04d}"


def email_of(i):
    return f"lead{i}@example.com" if i % 2 == 0 else None


FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
         "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
        "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Taylor", "Moore"]

INBOUND = {
    "positive": [
        "Thanks so much for coming out yesterday, the crew was great and cleaned up everything.",
        "That quote looks reasonable. We'd like to go ahead with the architectural shingles.",
        "Perfect, Thursday at 10am works for the inspection. See you then!",
        "Great news about the insurance approval, thank you for handling the paperwork for us.",
    ],
    "neutral": [
        "Hi, what time will the inspector arrive on Monday? I need to let my tenant know.",
        "Can you send the estimate by email? My husband wants to look at it this weekend.",
        "The house is a two story colonial, roof is about 20 years old. How long does a replacement take?",
        "Do you handle insurance claims for hail damage? Our adjuster is coming next week.",
        "What brands of shingles do you install? We are comparing a few options right now.",
    ],
    "negative": [
        "Water is still coming through the kitchen ceiling after the repair, this is really frustrating.",
        "Nobody showed up for the appointment today and no one called. Very disappointed.",
        "The quote is way higher than the other two we got. Not sure we can afford this.",
        "We're not interested anymore, we went with another company. Please stop texting.",
    ],
}
OUTBOUND = {
    "positive": [
        "Thanks for reaching out to Acme Roofing! We'd be happy to take a look. Does Thursday afternoon work?",
        "Great news: your insurance claim was approved. We can start the tear-off as early as next Monday.",
        "Thank you for choosing us! Your project is scheduled and the crew will arrive at 7:30am.",
    ],
    "neutral": [
        "Hi, this is Mike from Acme Roofing following up on your estimate. Any questions we can answer?",
        "Your inspection is confirmed for Monday between 9 and 11am. Reply C to confirm or R to reschedule.",
        "Attached is the detailed estimate for the roof replacement, including materials and labor.",
        "Just checking in: are you still interested in getting the gutters replaced this season?",
    ],
}
SUBJECTS = ["Roof inspection request", "Your estimate from Acme Roofing", "Re: leak in the kitchen",
            "Insurance claim update", "Scheduling your installation", "Re: shingle color options",
            "Follow-up on your roofing quote", "Hail damage question"]
CALL_NOTES = ["Call summary: discussed the leak over the garage, scheduled a visit for Tuesday.",
              "Call summary: homeowner asked about financing options and the warranty terms.",
              "Call summary: left a voicemail about the pending estimate, will try again tomorrow."]

CHANNELS = ["sms", "email", "phone_call", "chat"]
WEIGHTS = [0.40, 0.30, 0.20, 0.10]


def score_for(label, rnd):
    if label == "positive":
        return round(rnd.uniform(0.25, 0.95), 3)
    if label == "negative":
        return round(rnd.uniform(-0.95, -0.25), 3)
    return round(rnd.uniform(-0.2, 0.2), 3)


def leads(account, first_id, n):
    rnd = random.Random(1)
    now = time.time()
    w = csv.writer(sys.stdout, lineterminator="\n")
    bands = [("HOT", 75, 100), ("WARM", 45, 74), ("COLD", 0, 44)]
    for i in range(n):
        band, lo, hi = rnd.choices(bands, weights=[0.15, 0.35, 0.5])[0]
        created = now - rnd.uniform(1, DAYS) * 86400
        w.writerow([
            first_id + i, account, f"{rnd.choice(FIRST)} {rnd.choice(LAST)}", email_of(i), phone_of(i),
            rnd.choice(["new", "contacted", "contacted", "inspection_scheduled", "quoted", "won", "lost"]),
            rnd.randint(lo, hi), band, rnd.choice(["website", "google_ads", "referral", "facebook"]),
            iso(now), iso(created),
        ])


def iso(ts):
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def comms(account, first_id, n_leads, total, heavy):
    rnd = random.Random(2)
    now = time.time()
    rest = total - heavy
    base, extra = divmod(rest, n_leads - 1)
    rows = []
    for i in range(n_leads):
        lead_id = first_id + i
        if i == 0:
            count, start = heavy, now - DAYS * 86400
        else:
            count = base + (1 if i <= extra else 0)
            start = now - rnd.uniform(30, DAYS) * 86400
        stamps = sorted(rnd.uniform(start, now - 60) for _ in range(count))
        preferred = rnd.choices(CHANNELS, weights=WEIGHTS)[0]
        phone, email = phone_of(i), email_of(i) or f"lead{i}@mail.example"
        direction = "inbound"
        for k, ts in enumerate(stamps):
            if k > 0 and rnd.random() < 0.75:
                direction = "outbound" if direction == "inbound" else "inbound"
            channel = preferred if rnd.random() < 0.6 else rnd.choices(CHANNELS, weights=WEIGHTS)[0]
            inbound = direction == "inbound"
            if inbound:
                label = rnd.choices(["positive", "neutral", "negative"], weights=[0.35, 0.45, 0.20])[0]
                content = rnd.choice(INBOUND[label])
            else:
                label = rnd.choice(["positive", "neutral"])
                content = rnd.choice(OUTBOUND[label])
            subject = duration = thread_key = None
            ai = (not inbound) and rnd.random() < 0.3
            if channel == "email":
                subject = rnd.choice(SUBJECTS)
                thread_key = f"<t{lead_id}.{k // 6}@acme-roofing.example>"
                frm, to = (email, BUSINESS_EMAIL) if inbound else (BUSINESS_EMAIL, email)
                provider = "imap" if inbound else "smtp"
            elif channel == "phone_call":
                duration = rnd.randint(20, 900)
                content = rnd.choice(CALL_NOTES)
                frm, to = (phone, BUSINESS_PHONE) if inbound else (BUSINESS_PHONE, phone)
                provider, ai = "twilio", False
            elif channel == "sms":
                frm, to = (phone, BUSINESS_PHONE) if inbound else (BUSINESS_PHONE, phone)
                provider = "twilio"
            else:
                frm = to = None
                provider = "widget"
            rows.append((ts, lead_id, channel, direction, frm, to, subject, content, inbound, duration,
                         ai, label, score_for(label, rnd), provider, thread_key))
        rows[len(rows) - count:] = with_response_facts(rows[len(rows) - count:])
    # Rows go in in time order, as a live system stores them: a lead's touches are spread
    # over the whole table (heap and ids), not stored next to each other.
    rows.sort(key=lambda r: r[0])
    w = csv.writer(sys.stdout, lineterminator="\n")
    for msg, (ts, lead_id, channel, direction, frm, to, subject, content, inbound, duration,
              ai, label, score, provider, thread_key, answered, run_start, reply_at) in enumerate(rows, 1):
        t = iso(ts)
        w.writerow([
            account, lead_id, channel, direction, t, frm, to, subject, content,
            "received" if inbound else "delivered", duration, "t" if ai else "f",
            label, score, provider, f"seed-{msg}", thread_key, t, answered, run_start, reply_at,
        ])


def with_response_facts(lead_rows):
    """The response facts the server keeps on each touch (see
    migrations/*_response_facts.sql), for one lead's rows in time order: answered (outbound
    followed by inbound), run_start (inbound not preceded by inbound), reply_at (a run start's
    first outbound after it). None is NULL in the CSV."""
    out = []
    for k, r in enumerate(lead_rows):
        direction = r[3]
        prev = lead_rows[k - 1][3] if k > 0 else None
        nxt = lead_rows[k + 1][3] if k + 1 < len(lead_rows) else None
        answered = run_start = reply_at = None
        if direction == "outbound":
            answered = "t" if nxt == "inbound" else "f"
        else:
            run_start = "t" if prev != "inbound" else "f"
            if run_start == "t":
                reply = next((x[0] for x in lead_rows[k + 1:] if x[3] == "outbound"), None)
                reply_at = iso(reply) if reply is not None else None
        out.append(r + (answered, run_start, reply_at))
    return out


def main():
    what, args = sys.argv[1], [int(a) for a in sys.argv[2:]]
    if what == "leads":
        leads(*args)
    elif what == "comms":
        comms(*args)
    else:
        sys.exit(f"unknown: {what}")


if __name__ == "__main__":
    main()
