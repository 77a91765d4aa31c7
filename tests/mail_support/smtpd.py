"""A loopback SMTP server for the email tests (aiosmtpd): accepts AUTH PLAIN/LOGIN for any
user name with PASSWORD (each test has its own IMAP user with the same password) and writes
every accepted message's raw bytes to OUTDIR/<n>.eml. PORT is plain (STARTTLS offered,
not required), TLS_PORT is implicit TLS, both with CERT/KEY.

usage: smtpd.py PORT TLS_PORT OUTDIR PASSWORD CERT KEY
"""
import asyncio
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

PORT, TLS_PORT = int(sys.argv[1]), int(sys.argv[2])
OUTDIR, PASSWORD, CERT, KEY = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        name = "%d-%d" % (time.time_ns(), os.getpid())
        tmp = os.path.join(OUTDIR, ".tmp-" + name)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(OUTDIR, name + ".eml"))
        return "250 2.0.0 OK queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False)


def factory(tls_context=None):
    return lambda: SMTP(
        Handler(),
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
        hostname="smtp.test",
        tls_context=tls_context,
        require_starttls=False,
    )


async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(CERT, KEY)
    loop = asyncio.get_running_loop()
    plain = await loop.create_server(factory(ctx), host="127.0.0.1", port=PORT)
    implicit = await loop.create_server(factory(), host="127.0.0.1", port=TLS_PORT, ssl=ctx)
    print("ready", flush=True)
    async with plain, implicit:
        await asyncio.gather(plain.serve_forever(), implicit.serve_forever())


asyncio.run(main())
