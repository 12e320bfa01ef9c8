"""Protecting an API with Gatehouse's access tokens: verify them with the JWK set alone.

The README's example, runnable: `python3 protect_api.py ISSUER CLIENT_ID TOKEN` prints the
token's claims as JSON, or exits 1 with the reason. `end2end/tests/oidc.spec.ts` runs it with
a real access token, an ID token (refused) and a tampered token (refused).
"""

import base64
import json
import sys
import urllib.request

from authlib.jose import JsonWebKey, jwt

ISSUER = "https://id.example.com"
APP = "V3n…"  # the app's client_id: access tokens name it as their audience
KEYS = None


def load_keys():
    global KEYS
    with urllib.request.urlopen(f"{ISSUER}/oauth/jwks") as answer:
        KEYS = JsonWebKey.import_key_set(json.load(answer))


def check(authorization: str) -> dict:
    """The claims of a good access token (sub, scope, …), else an exception."""
    token = authorization.removeprefix("Bearer ")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    if header.get("typ") != "at+jwt":
        raise ValueError("not an access token (an ID token, perhaps)")
    claims = jwt.decode(token, KEYS, claims_options={
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": APP},
    })
    claims.validate()  # exp, iss, aud
    return claims


if __name__ == "__main__":
    ISSUER, APP, token = sys.argv[1], sys.argv[2], sys.argv[3]
    load_keys()
    try:
        print(json.dumps(dict(check(f"Bearer {token}"))))
    except Exception as problem:  # noqa: BLE001 - the reason is the output
        print(f"refused: {problem}", file=sys.stderr)
        sys.exit(1)
