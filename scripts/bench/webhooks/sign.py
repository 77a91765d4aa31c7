#!/usr/bin/env python3
"""Telnyx webhook signing for scripts/bench-webhooks (needs `cryptography` or `pynacl`).

  sign.py keygen KEYFILE
      Writes a fresh Ed25519 private key (base64 of the 32-byte seed) to KEYFILE (mode 600)
      and prints the public key: base64 of its 32 bytes, what TELNYX_PUBLIC_KEY takes.
  sign.py pubkey KEYFILE
      Prints the public key of KEYFILE.
  sign.py presign KEYFILE OUTPREFIX TAG COUNT THREADS TO [PHONES]
      Builds COUNT unique `message.received` events (the JSON shape of
      tests/telnyx_support/mod.rs `inbound()`), signs each over `timestamp + "|" + body` with
      the current time, and writes them round-robin to OUTPREFIX.1 … OUTPREFIX.THREADS (one
      file per wrk thread), one event a line: "<timestamp>\\t<signature>\\t<body>".
      Event ids are `evt-TAG-N`, message ids `msg-TAG-N` (N = 1..COUNT); senders are
      +1312641NNNN with NNNN in 0..PHONES-1 (default 1000); TO is the receiving number.
      Prints one JSON line: count, signed_at (unix seconds), seconds spent, bytes written.
  sign.py post KEYFILE BASE_URL TAG TO FROM
      Signs one event `evt-TAG` / `msg-TAG` from FROM to TO now, posts it to
      BASE_URL/webhooks/telnyx and prints "<status> <body>"; exit 1 unless 200.
"""
import base64
import datetime
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives import serialization

    def _load(seed):
        sk = Ed25519PrivateKey.from_private_bytes(seed)
        pub = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return sk.sign, pub

except ImportError:  # pragma: no cover - the fallback library
    import nacl.signing

    def _load(seed):
        sk = nacl.signing.SigningKey(seed)
        return (lambda m: sk.sign(m).signature), bytes(sk.verify_key)


TEXTS = [
    "Hi, I think my roof is leaking again after last night's storm. Can someone come take a look this week?",
    "Yes, Thursday afternoon works for the inspection. Thanks!",
    "How much would a full tear-off and replacement cost for a 2,000 sq ft ranch house?",
    "We noticed some missing shingles on the north side. Is that covered by the warranty?",
    "Can you send me the quote by email? My husband wants to see it too.",
    "Sorry, I missed your call. I'm free after 5pm today.",
    "The gutters are overflowing and there's water stain on the ceiling in the bedroom.",
    "Thanks for coming out yesterday, the crew was great.",
    "Not interested anymore, we went with another company.",
    "Is the 10% discount still available if we sign this month?",
    "Please call me back, it's urgent - water is coming through the kitchen light.",
    "What brands of shingles do you install? We like the darker colors.",
    "Ok sounds good",
    "Do you handle insurance claims for hail damage? Our adjuster is coming Monday.",
    "Can we reschedule to next Tuesday morning?",
    "Roof is about 22 years old, never replaced. Getting a few quotes.",
]


def load_key(path):
    with open(path) as f:
        seed = base64.b64decode(f.read().strip())
    if len(seed) != 32:
        sys.exit(f"{path}: not a 32-byte Ed25519 seed")
    return _load(seed)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds")


def event(tag, sender, to, text, at):
    """The envelope of tests/telnyx_support/mod.rs `inbound()`, serialized compactly."""
    when = iso(at)
    ev = {
        "data": {
            "event_type": "message.received",
            "id": f"evt-{tag}",
            "occurred_at": when,
            "payload": {
                "id": f"msg-{tag}", "record_type": "message", "direction": "inbound", "type": "SMS",
                "from": {"phone_number": sender, "carrier": "T-Mobile USA", "line_type": "Wireless"},
                "to": [{"phone_number": to, "status": "webhook_delivered"}],
                "text": text, "media": [], "parts": 1,
                "received_at": when,
                "messaging_profile_id": "mp-bench",
            },
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": "https://bench.invalid/webhooks/telnyx"},
    }
    return json.dumps(ev, separators=(",", ":")).encode()


def signature(sign, ts, body):
    return base64.b64encode(sign(ts.encode() + b"|" + body)).decode()


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "keygen":
        path = argv[2]
        seed = os.urandom(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(base64.b64encode(seed).decode() + "\n")
        print(base64.b64encode(_load(seed)[1]).decode())
    elif cmd == "pubkey":
        print(base64.b64encode(load_key(argv[2])[1]).decode())
    elif cmd == "presign":
        keyfile, prefix, tag, count, threads, to = argv[2:8]
        count, threads = int(count), int(threads)
        phones = int(argv[8]) if len(argv) > 8 else 1000
        sign, _ = load_key(keyfile)
        rnd = random.Random(f"{tag}-{count}")
        started = time.time()
        outs = [open(f"{prefix}.{t}", "wb") for t in range(1, threads + 1)]
        size = 0
        signed_at = int(time.time())
        for n in range(1, count + 1):
            now = time.time()
            ts = str(int(now))
            sender = "+1312641%04d" % rnd.randrange(phones)
            body = event(f"{tag}-{n}", sender, to, rnd.choice(TEXTS), now)
            line = b"%s\t%s\t%s\n" % (ts.encode(), signature(sign, ts, body).encode(), body)
            outs[(n - 1) % threads].write(line)
            size += len(line)
        for f in outs:
            f.close()
        print(json.dumps({"count": count, "signed_at": signed_at, "seconds": round(time.time() - started, 2),
                          "bytes": size}))
    elif cmd == "post":
        keyfile, base, tag, to, sender = argv[2:7]
        sign, _ = load_key(keyfile)
        now = time.time()
        ts = str(int(now))
        body = event(tag, sender, to, TEXTS[0], now)
        req = urllib.request.Request(base.rstrip("/") + "/webhooks/telnyx", data=body, method="POST", headers={
            "Content-Type": "application/json",
            "telnyx-timestamp": ts,
            "telnyx-signature-ed25519": signature(sign, ts, body),
        })
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        print(status, text)
        sys.exit(0 if status == 200 else 1)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
