"""Synthetic secret values in the exact shape of real credentials, drawn from a seeded RNG.

Every function takes the corpus RNG (random.Random) so that a seed reproduces the corpus.
Nothing here is a real credential: the bodies are random, only the structure (prefix, length,
alphabet, checksum) is real.
"""
import base64
import hashlib
import json
import math
import string
import urllib.parse
import zlib

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
B36 = string.digits + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
HEX = "0123456789abcdef"
B32L = "abcdefghijklmnopqrstuvwxyz234567"


def rs(r, alphabet, n):
    return "".join(r.choice(alphabet) for _ in range(n))


def base62(n, width):
    out = ""
    while n:
        n, rem = divmod(n, 62)
        out = B62[rem] + out
    return out.rjust(width, "0")


def base36(n, width):
    out = ""
    while n:
        n, rem = divmod(n, 36)
        out = B36[rem] + out
    return out.rjust(width, "0")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def rbytes(r, n):
    return bytes(r.getrandbits(8) for _ in range(n))


def uuid4(r):
    h = rs(r, HEX, 32)
    h = h[:12] + "4" + h[13:16] + r.choice("89ab") + h[17:]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# ---------------------------------------------------------------- checksummed formats

def github(r, prefix="ghp_"):
    """GitHub classic tokens: prefix + 30 base62 + base62(crc32(body)) in 6 chars."""
    body = rs(r, B62, 30)
    return prefix + body + base62(zlib.crc32(body.encode()), 6)


def github_checksum_ok(tok):
    prefix, rest = tok[:4], tok[4:]
    if len(rest) != 36:
        return False
    return base62(zlib.crc32(rest[:30].encode()), 6) == rest[30:]


def npm(r):
    return github(r, "npm_")


def glpat_routable(r):
    """GitLab routable PAT: glpat- + 27 urlsafe + .01. + 2 base36 + crc32(all before) base36/7."""
    head = "glpat-" + rs(r, URLSAFE, 27) + ".01." + rs(r, B36, 2)
    return head + base36(zlib.crc32(head.encode()), 7)


def glpat_routable_ok(tok):
    head, crc = tok[:-7], tok[-7:]
    return base36(zlib.crc32(head.encode()), 7) == crc


def glpat_legacy(r):
    return "glpat-" + rs(r, URLSAFE, 20)


def vercel(r, prefix):
    """Vercel tokens: prefix + 50 urlsafe + 6-char base62 crc32 of the 50-char body.
    Bodies always hold at least one '_' and one '-' (as real ones mostly do)."""
    while True:
        body = rs(r, URLSAFE, 50)
        if "_" in body and "-" in body:
            break
    return prefix + body + base62(zlib.crc32(body.encode()), 6)


def vercel_ok(tok):
    body, crc = tok[4:54], tok[54:]
    return base62(zlib.crc32(body.encode()), 6) == crc


def corrupt(r, tok, start, end, alphabet):
    """Change one character in tok[start:end] (a checksummed body) to another of the alphabet."""
    i = r.randrange(start, end)
    c = r.choice([a for a in alphabet if a != tok[i]])
    return tok[:i] + c + tok[i + 1:]


# ---------------------------------------------------------------- prefixed provider formats

def github_fine_grained(r):
    return "github_pat_" + rs(r, B62, 22) + "_" + rs(r, B62, 59)


def ghs_app_jwt(r):
    """Newer GitHub App installation token form: ghs_<app id>_<JWT>."""
    app_id = str(r.randint(100000, 2999999))
    header = b64url(b'{"alg":"RS256","typ":"JWT"}')
    iat = r.randint(1_740_000_000, 1_760_000_000)
    payload = {"iat": iat, "exp": iat + 3600, "iss": app_id,
               "installation_id": r.randint(10_000_000, 99_999_999),
               "repository_ids": [r.randint(100_000_000, 999_999_999) for _ in range(r.randint(1, 3))],
               "permissions": {"contents": "read", "metadata": "read", "pull_requests": "write"}}
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64url(rbytes(r, 256))
    return f"ghs_{app_id}_{header}.{body}.{sig}"


def slack_xoxb(r):
    return f"xoxb-{rs(r, string.digits, r.choice([11, 12, 13]))}-{rs(r, string.digits, 13)}-{rs(r, ALNUM, 24)}"


def slack_xoxp(r):
    return (f"xoxp-{rs(r, string.digits, 12)}-{rs(r, string.digits, 12)}-"
            f"{rs(r, string.digits, 13)}-{rs(r, HEX, 32)}")


def slack_xoxc(r):
    return (f"xoxc-{rs(r, string.digits, 12)}-{rs(r, string.digits, 13)}-"
            f"{rs(r, string.digits, 13)}-{rs(r, HEX, 64)}")


def slack_xoxd(r):
    raw = b64(rbytes(r, r.randint(100, 130)))
    return "xoxd-" + urllib.parse.quote(raw, safe="")


def stripe_live(r, kind="sk"):
    if r.random() < 0.5:
        return f"{kind}_live_" + rs(r, ALNUM, 24)
    return f"{kind}_live_51" + rs(r, ALNUM, 97)


def stripe_test(r, kind="sk"):
    return f"{kind}_test_51" + rs(r, ALNUM, 97)


def aws_access_key_id(r, prefix="AKIA"):
    return prefix + rs(r, string.ascii_uppercase + "234567", 16)


def aws_secret_access_key(r):
    return rs(r, ALNUM + "/+", 40)


def openai_project(r):
    return "sk-proj-" + rs(r, URLSAFE, 74) + "T3BlbkFJ" + rs(r, URLSAFE, 74)


def openai_legacy(r):
    return "sk-" + rs(r, ALNUM, 20) + "T3BlbkFJ" + rs(r, ALNUM, 20)


def anthropic(r):
    return "sk-ant-api03-" + rs(r, URLSAFE, 93) + "AA"


def pypi(r):
    """A PyPI API token: 'pypi-' + base64url of a v2 macaroon located at pypi.org."""
    ident = uuid4(r).encode()
    if r.random() < 0.5:
        caveat = b'{"version":1,"permissions":"user"}'
    else:
        project = r.choice(["acme-utils", "ledgerkit", "fastqueue", "northwind-sdk", "tidyconf"])
        caveat = ('{"version":1,"permissions":{"projects":["%s"]}}' % project).encode()
    parts = [b"\x02", b"\x01\x08pypi.org", b"\x02" + bytes([len(ident)]) + ident, b"\x00",
             b"\x02" + bytes([len(caveat)]) + caveat, b"\x00", b"\x00",
             b"\x06\x20" + rbytes(r, 32)]
    return "pypi-" + b64url(b"".join(parts))


def sendgrid(r):
    return "SG." + rs(r, URLSAFE, 22) + "." + rs(r, URLSAFE, 43)


def huggingface(r):
    return "hf_" + rs(r, string.ascii_letters, 34)


def onepassword_sa(r):
    """1Password service-account token: ops_ + base64 of its JSON credential bundle."""
    bundle = {
        "signInAddress": r.choice(["my.1password.com", "my.1password.eu", "acme-corp.1password.com"]),
        "userAuth": {"method": "SRPg-4096", "alg": "PBES2g-HS256", "iterations": 650000,
                     "salt": b64url(rbytes(r, 16))},
        "email": rs(r, B36, 13) + "@1passwordserviceaccounts.com",
        "srpX": rs(r, HEX, 64),
        "muk": {"alg": "A256GCM", "ext": False, "k": b64url(rbytes(r, 32)),
                "key_ops": ["decrypt", "encrypt"], "kty": "oct", "kid": "mp"},
        "secretKey": "A3-" + "-".join(rs(r, string.ascii_uppercase + string.digits, n) for n in (6, 6, 5, 5, 5, 5)),
        "throttleSecret": {"seed": rs(r, HEX, 64), "deviceUuid": rs(r, B36, 26)},
        "deviceUuid": rs(r, B36, 26),
    }
    return "ops_" + b64(json.dumps(bundle, separators=(",", ":")).encode()).rstrip("=")


def bedrock(r):
    ident = rs(r, string.ascii_lowercase + string.digits, 4)
    account = rs(r, string.digits, 12)
    raw = f"BedrockAPIKey-{ident}-at-{account}:{rs(r, ALNUM + '/+', 40)}"
    return "ABSK" + b64(raw.encode())


def google_aq(r):
    return "AQ.Ab8RN6" + rs(r, URLSAFE, 44)


def gitlab_other(r, prefix):
    n = {"glagent-": 50, "glimt-": 25, "glsoat-": 20, "glffct-": 20}[prefix]
    return prefix + rs(r, URLSAFE, n)


def buildkite(r, prefix):
    return prefix + (rs(r, HEX, 40) if prefix == "bkua_" else rs(r, ALNUM, 40))


def segment(r):
    return "sgp_" + rs(r, ALNUM, 64)


def nvidia(r):
    return "nvapi-" + rs(r, URLSAFE, 64)


def neon(r):
    return "napi_" + rs(r, string.ascii_lowercase + string.digits, 64)


def langfuse_secret(r):
    return "sk-lf-" + uuid4(r)


def langfuse_public(r):
    return "pk-lf-" + uuid4(r)


def swarm(r):
    a = string.ascii_lowercase + string.digits
    return f"SWMTKN-1-{rs(r, a, 50)}-{rs(r, a, 25)}"


def deno(r):
    return "ddp_" + rs(r, ALNUM, 36)


def wandb(r):
    return "wandb_v1_" + rs(r, ALNUM, 77)


def astra(r):
    return f"AstraCS:{rs(r, string.ascii_letters, 24)}:{rs(r, HEX, 64)}"


def apify(r):
    return "apify_api_" + rs(r, ALNUM, 36)


def tavily(r):
    return ("tvly-dev-" if r.random() < 0.4 else "tvly-") + rs(r, ALNUM, 32)


def figma(r):
    return "figp_" + rs(r, URLSAFE, 40)


def newrelic(r, prefix):
    if prefix == "NRAK-":
        return "NRAK-" + rs(r, string.ascii_uppercase + string.digits, 27)
    return "NRRA-" + rs(r, HEX, 42)


def cloudflare_global(r):
    return rs(r, HEX, 37)


def doppler(r):
    if r.random() < 0.6:
        return f"dp.st.{r.choice(['prd', 'stg', 'dev', 'production'])}.{rs(r, ALNUM, 40)}"
    return "dp.pt." + rs(r, ALNUM, 43)


def linear(r):
    return "lin_api_" + rs(r, ALNUM, 40)


def shopify(r):
    return "shpat_" + rs(r, HEX, 32)


def twilio_sk(r):
    return "SK" + rs(r, HEX, 32)


def twilio_ac(r):
    return "AC" + rs(r, HEX, 32)


def dockerhub_pat(r):
    return "dckr_pat_" + rs(r, URLSAFE, 27)


def posthog_public(r):
    return "phc_" + rs(r, ALNUM, 43)


# ---------------------------------------------------------------- distinctive (no provider word)

def telegram(r):
    return f"{r.randint(10**7, 10**10 - 1)}:AA{rs(r, URLSAFE, 33)}"


def azure_devops_pat(r):
    return rs(r, B32L, 52)


def okta(r):
    return "00" + rs(r, URLSAFE, 40)


def vault_legacy(r):
    return "s." + rs(r, B62, 24)


def salesforce(r):
    return "00D" + rs(r, ALNUM, r.choice([12, 15])) + "!" + rs(r, ALNUM + "_.", r.randint(80, 100))


def bitbucket_dc(r):
    return "BBDC-" + rs(r, ALNUM + "+/", 44)


# ---------------------------------------------------------------- generic secrets

PW_SYMBOLS = "!*+-.=?@_~#^"


def password(r, symbols=PW_SYMBOLS, lo=12, hi=32):
    """A realistic random password: 12-32 chars mixing all classes, no run of the same class
    long enough to read as a word."""
    n = r.randint(lo, hi)
    classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits]
    if symbols:
        classes.append(symbols)
    while True:
        pw = "".join(r.choice(r.choice(classes)) for _ in range(n))
        if all(any(c in cl for c in pw) for cl in classes) and pw[0] not in "-=#!~^*+.?@":
            return pw


def api_secret(r):
    kind = r.choice(["hex", "b64", "b62"])
    if kind == "hex":
        return rs(r, HEX, r.choice([24, 32, 40, 48]))
    if kind == "b62":
        return rs(r, B62, r.randint(24, 48))
    while True:
        v = b64(rbytes(r, r.choice([18, 24, 30, 33, 36])))
        if v[0] not in "+/":
            return v


def azure_sas_key(r):
    return b64(rbytes(r, 32))  # 44 chars


def azure_storage_key(r):
    return b64(rbytes(r, 64))  # 88 chars


def entropy(s):
    if not s:
        return 0.0
    counts = {c: s.count(c) for c in set(s)}
    return -sum(n / len(s) * math.log2(n / len(s)) for n in counts.values())


# ---------------------------------------------------------------- keys (real DER structure)

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p ** 0.5) + 1))]


def _probable_prime(n, r):
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(12):
        a = r.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(r, bits):
    while True:
        c = r.getrandbits(bits) | (3 << (bits - 2)) | 1
        if _probable_prime(c, r):
            return c


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, body):
    return bytes([tag]) + _der_len(len(body)) + body


def _int(v):
    b = v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")
    if b[0] & 0x80:
        b = b"\x00" + b
    return _tlv(0x02, b)


def _seq(*items):
    return _tlv(0x30, b"".join(items))


RSA_OID = bytes.fromhex("06092a864886f70d010101")
NULL = b"\x05\x00"
EC_OID = bytes.fromhex("06072a8648ce3d0201")
P256_OID = bytes.fromhex("06082a8648ce3d030107")


def rsa_key(r, bits=2048):
    e = 65537
    while True:
        p, q = _prime(r, bits // 2), _prime(r, bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and math.gcd(e, phi) == 1:
            break
    n = p * q
    d = pow(e, -1, phi)
    return {"n": n, "e": e, "d": d, "p": p, "q": q}


def rsa_pkcs1_der(k):
    p, q, d = k["p"], k["q"], k["d"]
    return _seq(_int(0), _int(k["n"]), _int(k["e"]), _int(d), _int(p), _int(q),
                _int(d % (p - 1)), _int(d % (q - 1)), _int(pow(q, -1, p)))


def rsa_pkcs8_der(k):
    return _seq(_int(0), _seq(RSA_OID, NULL), _tlv(0x04, rsa_pkcs1_der(k)))


def rsa_public_der(k):
    pub = _seq(_int(k["n"]), _int(k["e"]))
    return _seq(_seq(RSA_OID, NULL), _tlv(0x03, b"\x00" + pub))


_P256 = (0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff,
         0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296,
         0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5,
         0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551)


def _ec_add(P1, P2):
    p = _P256[0]
    if P1 is None:
        return P2
    if P2 is None:
        return P1
    (x1, y1), (x2, y2) = P1, P2
    if x1 == x2 and (y1 + y2) % p == 0:
        return None
    if P1 == P2:
        lam = (3 * x1 * x1 - 3) * pow(2 * y1, -1, p) % p
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, p) % p
    x3 = (lam * lam - x1 - x2) % p
    return x3, (lam * (x1 - x3) - y1) % p


def _ec_mul(k):
    result, addend = None, (_P256[1], _P256[2])
    while k:
        if k & 1:
            result = _ec_add(result, addend)
        addend = _ec_add(addend, addend)
        k >>= 1
    return result


def ec_sec1_der(r):
    """SEC1 ECPrivateKey on P-256 with its public point, as OpenSSL writes it."""
    k = r.randrange(1, _P256[3])
    x, y = _ec_mul(k)
    pub = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    return _seq(_int(1), _tlv(0x04, k.to_bytes(32, "big")), _tlv(0xA0, P256_OID), _tlv(0xA1, _tlv(0x03, b"\x00" + pub)))


def pem(label, der, width=64):
    body = b64(der)
    lines = [body[i:i + width] for i in range(0, len(body), width)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


def private_key_pem(r):
    """A random private key PEM (PKCS#1 RSA, PKCS#8 RSA or SEC1 EC)."""
    kind = r.choice(["rsa1", "rsa8", "rsa8", "ec"])
    if kind == "ec":
        return pem("EC PRIVATE KEY", ec_sec1_der(r))
    k = rsa_key(r, r.choice([2048, 2048, 1024]))
    if kind == "rsa1":
        return pem("RSA PRIVATE KEY", rsa_pkcs1_der(k))
    return pem("PRIVATE KEY", rsa_pkcs8_der(k))


def public_key_pem(r):
    k = rsa_key(r, 2048)
    return pem("PUBLIC KEY", rsa_public_der(k))


# ---------------------------------------------------------------- images (hard negatives)

def _png_chunk(tag, data):
    return len(data).to_bytes(4, "big") + tag + data + zlib.crc32(tag + data).to_bytes(4, "big")


def png(r, w=None, h=None):
    w, h = w or r.randint(12, 40), h or r.randint(12, 40)
    palette = [(r.randrange(256), r.randrange(256), r.randrange(256), 255) for _ in range(3)]
    rows = []
    cx, cy, rad = w / 2, h / 2, min(w, h) / 2.5
    for y in range(h):
        row = bytearray([0])
        for x in range(w):
            inside = (x - cx) ** 2 + (y - cy) ** 2 < rad * rad
            row += bytes(palette[(x // 4 + y // 4) % 3] if inside else (0, 0, 0, 0))
        rows.append(bytes(row))
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _png_chunk(b"IEND", b""))


def ico(r, size=16):
    """A 32-bit BMP-in-ICO favicon: mostly transparent, so its base64 has long runs of 'A'."""
    pixels = bytearray()
    color = bytes([r.randrange(256), r.randrange(256), r.randrange(256), 255])
    for y in range(size):
        for x in range(size):
            pixels += color if (4 <= x < 12 and 4 <= y < 12 and (x + y) % 3) else b"\x00\x00\x00\x00"
    mask = b"\x00" * (size * 4)
    bmp = (40).to_bytes(4, "little") + size.to_bytes(4, "little") + (size * 2).to_bytes(4, "little")
    bmp += (1).to_bytes(2, "little") + (32).to_bytes(2, "little") + b"\x00" * 24
    bmp += bytes(pixels) + mask
    header = b"\x00\x00\x01\x00\x01\x00" + bytes([size, size, 0, 0]) + (1).to_bytes(2, "little")
    header += (32).to_bytes(2, "little") + len(bmp).to_bytes(4, "little") + (22).to_bytes(4, "little")
    return header + bmp


def gif_pixel():
    return bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def bitcoin_wif(r, compressed=True, version=0x80):
    """A Bitcoin private key in Wallet Import Format: base58check of 0x80, 32 key bytes and
    0x01 (compressed)."""
    payload = bytes([version]) + rbytes(r, 32) + (b"\x01" if compressed else b"")
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, d = divmod(n, 58)
        out = B58[d] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out
