#!/usr/bin/env python3
"""Writes hush's labelled accuracy corpus: tests/corpus/files/** and tests/corpus/labels.toml.

Every positive is a value made here, at random, in the documented shape of its provider (with the
provider's checksum where one is published), placed in the kind of file where such values leak.
Every negative is a line that trips naive rules: placeholders, variable references, documentation
examples, hashes, identifiers, public keys, encoded media, failing checksums, test fixtures.
The labels say, for each positive, the file, the 1-based line where the secret starts (and `end`,
its last line, for multi-line material), its family and the secret itself (so a test can check
that reports mask it); and for each negative line, the family whose rules it tempts.

Random values come from a fixed seed, so they are the same on every run. Private keys are made
by `openssl` (and `ssh-keygen`, `gpg`) at generation time and differ between runs; the committed
output is what the tests read. Usage: python3 tests/corpus/generate.py  (rewrites the corpus).
"""

import base64
import binascii
import hashlib
import json
import os
import random
import shutil
import string
import subprocess
import tempfile
import urllib.parse
import zlib

SEED = 13
R = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "files")

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = UPPER + LOWER + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
BASE62 = DIGITS + UPPER + LOWER
B32 = UPPER + "234567"


def rnd(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def rbytes(n):
    return bytes(R.getrandbits(8) for _ in range(n))


def uuid():
    h = rnd(HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def password(n=None):
    """A password as a generator makes one: mixed classes; no quotes, spaces, `&`, `*` or `$`, which
    would need escaping in the shell commands and URLs the corpus writes them into."""
    n = n or R.randint(12, 22)
    while True:
        pw = rnd(ALNUM + "!#%+-.=@^_", n)
        if any(c in DIGITS for c in pw) and any(c in UPPER for c in pw) and any(c in LOWER for c in pw):
            return pw


def passwords_in(f, family, templates):
    """One positive per template in file `f`, each with a new `password()` in place of `{pw}`."""
    for template in templates:
        pw = password()
        f.pos(template.format(pw=pw), family, pw)


def word_password():
    """A password a person types: words, digits and a symbol (still a secret)."""
    words = ["Falcon", "River", "Copper", "Mango", "Orbit", "Tundra", "Velvet", "Quartz", "Harbor"]
    return f"{R.choice(words)}{R.choice(words).lower()}{R.randint(10, 9999)}{R.choice('!#$%&*')}"


# ---------------------------------------------------------------- checksummed token formats

def base62_6(value):
    digits = ""
    for _ in range(6):
        digits = BASE62[value % 62] + digits
        value //= 62
    return digits


def crc_token(prefix, valid=True):
    """GitHub's and npm's format: prefix, 30 base62 characters, CRC32 of those 30 in base62."""
    body = rnd(ALNUM, 30)
    crc = zlib.crc32(body.encode())
    if not valid:
        crc = (crc + 1) & 0xFFFFFFFF
    return prefix + body + base62_6(crc)


BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((top >> i) & 1) else 0
    return chk


def bech32(hrp, data):
    """Bech32 (BIP-173) of 8-bit data: what age's secret keys are."""
    acc, bits, five = 0, 0, []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            five.append((acc >> bits) & 31)
    if bits:
        five.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = bech32_polymod(expanded + five + [0] * 6) ^ 1
    check = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in five + check)


def nkey_seed():
    """A NATS NKEY user seed: base32 of prefix bytes + 32 random bytes + CRC16 (XMODEM)."""
    seed, user = 18 << 3, 20 << 3  # nkeys' prefix bytes: S (seed) and U (user)
    raw = bytes([seed | (user >> 5), (user & 31) << 3]) + rbytes(32)
    crc = 0
    for b in raw:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return base64.b32encode(raw + crc.to_bytes(2, "little")).decode().rstrip("=")


# ---------------------------------------------------------------- provider token shapes

def aws_key_id(prefix="AKIA"):
    return prefix + rnd(B32, 16)


def aws_secret():
    return rnd(B64, 40)


def aws_session_token():
    return "IQoJb3JpZ2luX2VjE" + rnd(B64, 380) + "="


def gh(prefix):
    return crc_token(prefix)


def slack_bot():
    return f"xoxb-{R.randint(10**10, 10**11)}-{R.randint(10**12, 10**13)}-{rnd(ALNUM, 24)}"


def slack_user():
    return f"xoxp-{R.randint(10**10, 10**11)}-{R.randint(10**10, 10**11)}-{R.randint(10**12, 10**13)}-{rnd(HEX, 32)}"


def slack_webhook():
    return f"https://hooks.slack.com/services/T{rnd(UPPER + DIGITS, 8)}/B{rnd(UPPER + DIGITS, 10)}/{rnd(ALNUM, 24)}"


def discord_bot():
    uid = str(R.randint(10**17, 10**18 * 9))
    return b64(uid.encode()).rstrip("=") + "." + rnd(B64URL, 6) + "." + rnd(B64URL, 38)


def telegram_bot():
    return f"{R.randint(10**8, 10**10)}:AA{rnd(B64URL, 33)}"


def stripe(prefix, n=99):
    return prefix + rnd(ALNUM, n)


def openai_proj():
    return "sk-proj-" + rnd(B64URL, 74) + "T3BlbkFJ" + rnd(B64URL, 74)


def anthropic():
    return "sk-ant-api03-" + rnd(B64URL, 93) + "AA"


def jwt(claims, alg="HS256"):
    head = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64url(rbytes(32 if alg.startswith("HS") else 256))
    return f"{head}.{body}.{sig}"


def jwt_claims():
    return {
        "sub": uuid(),
        "iss": R.choice(["https://auth.acme-internal.io/", "https://login.shopfront.dev", "billing-svc"]),
        "iat": 1790000000 + R.randint(0, 10**6),
        "exp": 1800000000 + R.randint(0, 10**6),
        "scope": R.choice(["read write", "admin", "orders:read"]),
    }


# ---------------------------------------------------------------- private keys (openssl)

class Keys:
    """Private keys made by openssl/ssh-keygen/gpg in a scratch directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hush-corpus-")
        self.n = 0

    def run(self, *args, data=None):
        return subprocess.run(args, input=data, capture_output=True, check=True).stdout

    def path(self):
        self.n += 1
        return os.path.join(self.dir, f"k{self.n}")

    def pkcs8(self, algo="RSA"):
        opts = ["-pkeyopt", "rsa_keygen_bits:2048"] if algo == "RSA" else []
        if algo == "EC":
            opts = ["-pkeyopt", "ec_paramgen_curve:P-256"]
        return self.run("openssl", "genpkey", "-algorithm", algo, *opts).decode()

    def rsa_traditional(self):
        return self.run("openssl", "pkey", "-traditional", data=self.pkcs8("RSA").encode()).decode()

    def ec_traditional(self):
        return self.run("openssl", "ec", data=self.pkcs8("EC").encode()).decode()

    def der_b64(self, algo="RSA"):
        der = self.run("openssl", "pkey", "-outform", "DER", data=self.pkcs8(algo).encode())
        return b64(der)

    def encrypted_pkcs8(self, algo="RSA"):
        return self.run("openssl", "pkcs8", "-topk8", "-v2", "aes256", "-passout", "pass:" + password(),
                        data=self.pkcs8(algo).encode()).decode()

    def encrypted_traditional(self):
        return self.run("openssl", "rsa", "-aes256", "-traditional", "-passout", "pass:" + password(),
                        data=self.pkcs8("RSA").encode()).decode()

    def openssh(self, passphrase=""):
        p = self.path()
        self.run("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "deploy@ci", "-f", p)
        with open(p) as f:
            return f.read()

    def pgp(self):
        home = self.path()
        os.mkdir(home, 0o700)
        self.run("gpg", "--homedir", home, "--batch", "--passphrase", "", "--quick-gen-key",
                 "Release Bot <release@acme.test>", "ed25519", "sign", "never")
        return self.run("gpg", "--homedir", home, "--batch", "--armor", "--export-secret-keys").decode()

    def jwk(self):
        """An EC P-256 JSON Web Key with its private member d."""
        text = self.run("openssl", "pkey", "-text", "-noout", data=self.pkcs8("EC").encode()).decode()
        blocks, current = {}, None
        for line in text.splitlines():
            if line.endswith(":") and not line.startswith(" "):
                current = line[:-1]
                blocks[current] = ""
            elif current and line.startswith(" "):
                blocks[current] += line.strip().replace(":", "")
        priv = bytes.fromhex(blocks["priv"])[-32:]
        pub = bytes.fromhex(blocks["pub"])
        return {"kty": "EC", "crv": "P-256", "x": b64url(pub[1:33]), "y": b64url(pub[33:65]),
                "d": b64url(priv), "kid": rnd(HEX, 16), "use": "sig"}

    def cert(self):
        key = self.path()
        return self.run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-subj", f"/CN={rnd(LOWER, 8)}.acme.test",
                        "-days", "365").decode()

    def public(self):
        return self.run("openssl", "pkey", "-pubout", data=self.pkcs8("RSA").encode()).decode()

    def ssh_public(self):
        p = self.path()
        self.run("ssh-keygen", "-q", "-t", R.choice(["ed25519", "rsa"]), "-N", "", "-C", "ops@bastion", "-f", p)
        with open(p + ".pub") as f:
            return f.read().strip()

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def pem_body_line(pem):
    """The longest base64 line of a PEM block: what must never appear whole in a report."""
    return max((ln for ln in pem.splitlines() if not ln.startswith("-----")), key=len)


# ---------------------------------------------------------------- corpus model

class File:
    def __init__(self, corpus, path):
        self.corpus, self.path, self.lines = corpus, path, []

    def text(self, text):
        """Lines with nothing to find and nothing tempting (ordinary code and prose)."""
        self.lines.extend(text.split("\n"))
        return self

    def pos(self, text, family, *secrets):
        """A positive: its label is the first line of `text`; `end` is its last if it spans lines."""
        start = len(self.lines) + 1
        self.lines.extend(text.split("\n"))
        label = {"file": self.path, "line": start, "family": family, "secrets": list(secrets)}
        if len(self.lines) > start:
            label["end"] = len(self.lines)
        self.corpus.positives.append(label)
        return self

    def neg(self, text, family="any"):
        """Negative lines: each non-blank one is labelled with the family whose rules it tempts."""
        for line in text.split("\n"):
            self.lines.append(line)
            if line.strip():
                self.corpus.negatives.append({"file": self.path, "line": len(self.lines), "family": family})
        return self


class Corpus:
    def __init__(self):
        self.files, self.positives, self.negatives, self.sensitive = {}, [], [], []

    def file(self, path):
        if path not in self.files:
            self.files[path] = File(self, path)
        return self.files[path]

    def sensitive_file(self, path):
        """A file reported by its name alone (hush's `file-*` rules): not a line finding."""
        if path not in self.sensitive:
            self.sensitive.append(path)
        return self.file(path)

    def write(self):
        shutil.rmtree(OUT, ignore_errors=True)
        for path, f in self.files.items():
            full = os.path.join(OUT, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as out:
                out.write("\n".join(f.lines) + "\n")
        with open(os.path.join(HERE, "labels.toml"), "w") as out:
            out.write(labels_toml(self))


def toml_str(s):
    return json.dumps(s)  # a JSON string is a valid TOML basic string for this character set


def labels_toml(c):
    lines = [
        "# Generated by generate.py (seed %d): do not edit by hand; change the script and rerun." % SEED,
        "# positives: file (under files/), line (1-based, where the secret starts), end (last line of a",
        "# multi-line secret), family, secrets (values that a masked report must never print whole).",
        "# negatives: lines holding a decoy, with the family whose rules it tempts (`any`: every rule).",
        "# sensitive_files: files reported by name (a `.env`, a key file): file findings there are right.",
        "",
        "sensitive_files = [" + ", ".join(toml_str(p) for p in c.sensitive) + "]",
        "",
        "positives = [",
    ]
    for p in c.positives:
        end = f", end = {p['end']}" if "end" in p else ""
        secrets = ", ".join(toml_str(s) for s in p["secrets"])
        lines.append(f"  {{ file = {toml_str(p['file'])}, line = {p['line']}{end}, family = "
                     f"{toml_str(p['family'])}, secrets = [{secrets}] }},")
    lines += ["]", "", "negatives = ["]
    for n in c.negatives:
        lines.append(f"  {{ file = {toml_str(n['file'])}, line = {n['line']}, family = {toml_str(n['family'])} }},")
    lines += ["]", ""]
    return "\n".join(lines)


def w_aws(c, keys):
    env = c.sensitive_file("deploy/.env.production")
    creds = c.sensitive_file("home/.aws/credentials")
    for profile in ["default", "ci", "billing-prod", "data-lake"]:
        kid, sec = aws_key_id(), aws_secret()
        creds.text(f"[{profile}]")
        creds.pos(f"aws_access_key_id = {kid}", "aws", kid)
        creds.pos(f"aws_secret_access_key = {sec}", "aws", sec)
        creds.text("region = eu-west-1\n")
    kid, sec, tok = aws_key_id("ASIA"), aws_secret(), aws_session_token()
    creds.text("[assumed]")
    creds.pos(f"aws_access_key_id = {kid}", "aws", kid)
    creds.pos(f"aws_secret_access_key = {sec}", "aws", sec)
    creds.pos(f"aws_session_token = {tok}", "aws", tok)
    kid, sec = aws_key_id(), aws_secret()
    env.pos(f"AWS_ACCESS_KEY_ID={kid}", "aws", kid)
    env.pos(f"AWS_SECRET_ACCESS_KEY={sec}", "aws", sec)
    py = c.file("services/ingest/storage.py")
    kid, sec = aws_key_id(), aws_secret()
    py.text('"""Uploads ingest batches to S3."""\nimport boto3\n\n\ndef client():\n    return boto3.client(\n        "s3",')
    py.pos(f'        aws_access_key_id="{kid}",', "aws", kid)
    py.pos(f'        aws_secret_access_key="{sec}",', "aws", sec)
    py.text('        region_name="us-east-1",\n    )\n')
    tf = c.file("infra/aws/provider.tf")
    kid, sec = aws_key_id(), aws_secret()
    tf.text('provider "aws" {\n  region     = "us-west-2"')
    tf.pos(f'  access_key = "{kid}"', "aws", kid)
    tf.pos(f'  secret_key = "{sec}"', "aws", sec)
    tf.text("}\n")
    sh = c.sensitive_file("home/.bash_history")
    kid, sec = aws_key_id(), aws_secret()
    sh.text("cd ~/src/platform\ngit pull --rebase")
    sh.pos(f"export AWS_ACCESS_KEY_ID={kid}", "aws", kid)
    sh.pos(f"export AWS_SECRET_ACCESS_KEY={sec}", "aws", sec)
    sh.text("aws s3 ls s3://acme-artifacts/releases/")
    ci = c.file(".github/workflows/release.yml")
    kid, sec = aws_key_id(), aws_secret()
    ci.text("name: release\non:\n  push:\n    tags: ['v*']\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    env:")
    ci.pos(f"      AWS_ACCESS_KEY_ID: {kid}", "aws", kid)
    ci.pos(f"      AWS_SECRET_ACCESS_KEY: {sec}", "aws", sec)
    ci.neg("      AWS_SESSION_TOKEN: ${{ secrets.AWS_SESSION_TOKEN }}", "aws")
    ci.text("    steps:\n      - uses: actions/checkout@v4\n      - run: make publish")
    log = c.file("logs/worker.jsonl")
    kid, sec = aws_key_id(), aws_secret()
    log.pos(json.dumps({"ts": "2026-11-30T08:12:44Z", "level": "debug", "msg": "loaded credentials",
                        "access_key": kid, "secret_key": sec}), "aws", kid, sec)
    js = c.file("web/src/upload.js")
    kid, sec = aws_key_id(), aws_secret()
    js.text("import { S3Client } from '@aws-sdk/client-s3';\n\nexport const s3 = new S3Client({\n  region: 'eu-central-1',\n  credentials: {")
    js.pos(f"    accessKeyId: '{kid}',", "aws", kid)
    js.pos(f"    secretAccessKey: '{sec}',", "aws", sec)
    js.text("  },\n});\n")
    appsync = "da2-" + rnd(LOWER + DIGITS, 26)
    js.pos(f"export const APPSYNC_API_KEY = '{appsync}';", "aws", appsync)
    mws = "amzn.mws." + uuid()
    c.file("config/marketplace.ini").text("[mws]\nseller_id = A1B2C3D4E5F6G7\nmarketplace = ATVPDKIKX0DER").pos(
        f"mws_auth_token = {mws}", "aws", mws)
    bed = "ABSK" + b64(f"BedrockAPIKey-{rnd(LOWER + DIGITS, 4)}-at-{R.randint(10**11, 10**12)}:{rnd(ALNUM + '+/', 40)}".encode())
    env.pos(f"AWS_BEARER_TOKEN_BEDROCK={bed}", "aws", bed)
    docker = c.file("Dockerfile")
    kid, sec = aws_key_id(), aws_secret()
    docker.text("FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt")
    docker.pos(f"ENV AWS_ACCESS_KEY_ID={kid} \\", "aws", kid)
    docker.pos(f"    AWS_SECRET_ACCESS_KEY={sec}", "aws", sec)
    docker.text("COPY . .\nCMD [\"python\", \"-m\", \"ingest\"]")
    # negatives
    neg = c.file("docs/aws-setup.md")
    neg.text("# Setting up AWS access\n\nCreate an access key in the IAM console, then run `aws configure`:\n\n```")
    neg.neg("AWS Access Key ID [None]: AKIAIOSFODNN7EXAMPLE\nAWS Secret Access Key [None]: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws")
    neg.text("Default region name [None]: us-west-2\n```\n\nOr set the variables in your shell:\n\n```sh")
    neg.neg("export AWS_ACCESS_KEY_ID=<your-access-key-id>\nexport AWS_SECRET_ACCESS_KEY=<your-secret-access-key>\n"
            "export AWS_SESSION_TOKEN=$(aws sts get-session-token --query Credentials.SessionToken --output text)", "aws")
    neg.text("```\n")
    neg.neg("aws_access_key_id = AKIAXXXXXXXXXXXXXXXX\naws_secret_access_key = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "aws")
    py2 = c.file("services/ingest/settings.py")
    py2.text('"""Settings read from the environment; nothing secret is stored here."""\nimport os\n')
    py2.neg('AWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]\nAWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")\n'
            'AWS_SESSION_TOKEN = os.getenv("AWS_SESSION_TOKEN")\naws_secret_access_key = settings.aws_secret_access_key\n'
            'AWS_SECRET_KEY_PARAM = "/prod/ingest/aws_secret_access_key"', "aws")
    tf2 = c.file("infra/aws/variables.tf")
    tf2.neg('variable "aws_secret_key" {\n  type      = string\n  sensitive = true\n}\n'
            'variable "aws_access_key" {\n  type    = string\n  default = ""\n}', "aws")
    tf2.neg('provider "aws" {\n  access_key = var.aws_access_key\n  secret_key = var.aws_secret_key\n}', "aws")
    arn = c.file("infra/aws/outputs.tf")
    for i in range(20):
        acct = R.randint(10**11, 10**12)
        arn.neg(f'# role {i}: arn:aws:iam::{acct}:role/ci-deployer-{rnd(LOWER, 6)}  key id ANPA{rnd(B32, 17)}', "aws")
    arn.neg('output "bucket" {\n  value = aws_s3_bucket.artifacts.arn\n}', "aws")


def w_gcp(c, keys):
    env = c.file("deploy/.env.production")
    for i in range(4):
        k = "AIza" + rnd(B64URL, 35)
        env.pos(f"GOOGLE_MAPS_API_KEY_{i}={k}" if i else f"GOOGLE_API_KEY={k}", "gcp", k)
    sa_key = keys.pkcs8("RSA")
    kid = rnd(HEX, 40)
    sa = {
        "type": "service_account", "project_id": "acme-analytics-prod", "private_key_id": kid,
        "private_key": sa_key, "client_email": "etl-runner@acme-analytics-prod.iam.gserviceaccount.com",
        "client_id": str(R.randint(10**20, 10**21)), "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    f = c.sensitive_file("secrets/etl-runner-sa.json")
    text = json.dumps(sa, indent=2)
    for line in text.split("\n"):
        if '"private_key_id"' in line:
            f.pos(line, "gcp", kid)
        elif '"private_key"' in line:
            f.pos(line, "private-keys", pem_body_line(sa_key))
        else:
            f.text(line)
    py = c.file("services/geo/maps.py")
    py.text('"""Geocoding through the Maps API."""\nimport googlemaps\n')
    for name in ["MAPS_KEY", "PLACES_KEY", "GEOCODE_KEY"]:
        k = "AIza" + rnd(B64URL, 35)
        py.pos(f'{name} = "{k}"', "gcp", k)
    py.text("\ngmaps = googlemaps.Client(key=MAPS_KEY)")
    oauth = c.file("config/oauth.yaml")
    for app in ["web", "cli", "desktop"]:
        cid = f"{R.randint(10**11, 10**12)}-{rnd(LOWER + DIGITS, 32)}.apps.googleusercontent.com"
        sec = "GOCSPX-" + rnd(B64URL, 28)
        oauth.text(f"{app}:\n  client_id: {cid}")
        oauth.pos(f"  client_secret: {sec}", "gcp", sec)
    for i in range(2):
        rt = "1//0" + rnd(B64URL, 2) + rnd(B64URL, 99)
        oauth.pos(f"refresh_token_{i}: {rt}", "gcp", rt)
    tok = "ya29.a0" + rnd(B64URL, 150)
    c.file("logs/gateway.log").text("2026-11-30 09:00:01 INFO  gateway started on :8443").pos(
        f"2026-11-30 09:00:02 DEBUG upstream call Authorization: Bearer {tok}", "gcp", tok)
    fcm = "AAAA" + rnd(B64URL, 7) + ":APA91b" + rnd(B64URL, 134)
    c.file("mobile/push/config.js").text("// Legacy FCM sender (to migrate to HTTP v1)").pos(
        f"export const FCM_SERVER_KEY = '{fcm}';", "gcp", fcm)
    tf = c.file("infra/gcp/main.tf")
    k = "AIza" + rnd(B64URL, 35)
    tf.text('resource "google_cloudfunctions_function" "hook" {\n  name = "hook"\n  environment_variables = {')
    tf.pos(f'    MAPS_API_KEY = "{k}"', "gcp", k)
    tf.text("  }\n}\n")
    nb = c.file("notebooks/geo-analysis.ipynb")
    k = "AIza" + rnd(B64URL, 35)
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Store locations\n", "Geocode the store list."]},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": ["import googlemaps\n", f"gmaps = googlemaps.Client(key='{k}')\n", "stores = load_stores()"]},
    ]
    text = json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
    for line in text.split("\n"):
        if k in line:
            nb.pos(line, "gcp", k)
        else:
            nb.text(line)
    # negatives
    doc = c.file("docs/gcp.md")
    doc.text("# Google Cloud\n\nRestrict every API key to its APIs and referrers.\n")
    doc.neg("GOOGLE_API_KEY=AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\nGOOGLE_API_KEY=<your-api-key>\n"
            "client_secret: GOCSPX-your-client-secret-here\n"
            '"private_key_id": "YOUR_PRIVATE_KEY_ID",\n"private_key": "-----BEGIN PRIVATE KEY-----\\n...\\n-----END PRIVATE KEY-----\\n",\n'
            "export GOOGLE_APPLICATION_CREDENTIALS=/var/run/secrets/gcp/sa.json\n"
            "key = os.environ['GOOGLE_MAPS_API_KEY']\n"
            "apiKey: process.env.FIREBASE_API_KEY,", "gcp")
    fb = c.file("web/src/firebase.ts")
    fb.text("// Firebase web config: these identifiers are public by design (security rules protect data).")
    fb.neg("export const firebaseConfig = {\n  authDomain: 'acme-shop.firebaseapp.com',\n  projectId: 'acme-shop',\n"
           f"  storageBucket: 'acme-shop.appspot.com',\n  messagingSenderId: '{R.randint(10**11, 10**12)}',\n"
           f"  appId: '1:{R.randint(10**11, 10**12)}:web:{rnd(HEX, 22)}',\n  measurementId: 'G-{rnd(UPPER + DIGITS, 10)}',\n}};", "gcp")
    for i in range(12):
        doc.neg(f"projects/acme-analytics-prod/secrets/etl-db-password-{i}/versions/{R.randint(1, 30)}", "gcp")
    gids = c.file("infra/gcp/ids.txt")
    for i in range(25):
        gids.neg(f"{R.randint(10**20, 10**21)} etl-{i}@acme-analytics-prod.iam.gserviceaccount.com key {rnd(HEX, 40)[:12]}", "gcp")


def w_azure(c, keys):
    env = c.file("deploy/.env.production")
    for name in ["orders", "media", "audit"]:
        key = b64(rbytes(64))
        env.pos(f"AZURE_STORAGE_CONNECTION_STRING_{name.upper()}=DefaultEndpointsProtocol=https;AccountName=acme{name};"
                f"AccountKey={key};EndpointSuffix=core.windows.net", "azure", key)
    cs = c.file("src/Acme.Api/appsettings.Production.json")
    sb = b64(rbytes(32))
    cosmos = b64(rbytes(64))
    cs.text('{\n  "Logging": { "LogLevel": { "Default": "Information" } },\n  "ConnectionStrings": {')
    cs.pos(f'    "ServiceBus": "Endpoint=sb://acme-prod.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={sb}",', "azure", sb)
    cs.pos(f'    "Cosmos": "AccountEndpoint=https://acme-prod.documents.azure.com:443/;AccountKey={cosmos};",', "azure", cosmos)
    eh = b64(rbytes(32))
    cs.pos(f'    "EventHub": "Endpoint=sb://acme-events.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey={eh};EntityPath=clicks"', "azure", eh)
    cs.text("  },\n  \"AzureAd\": {\n    \"Instance\": \"https://login.microsoftonline.com/\",")
    cs.text(f'    "TenantId": "{uuid()}",\n    "ClientId": "{uuid()}",')
    sec = rnd(ALNUM, 3) + str(R.randint(0, 9)) + "Q~" + rnd(ALNUM + "_~.-", 34)
    cs.pos(f'    "ClientSecret": "{sec}"', "azure", sec)
    cs.text("  }\n}")
    tf = c.file("infra/azure/main.tf")
    tf.text('provider "azurerm" {\n  features {}')
    for i in range(3):
        sec = rnd(ALNUM, 3) + str(R.randint(0, 9)) + "Q~" + rnd(ALNUM + "_~.-", 34)
        tf.text(f'  client_id     = "{uuid()}"')
        tf.pos(f'  client_secret = "{sec}"', "azure", sec)
    tf.text("}\n")
    ps = c.file("scripts/azure-login.ps1")
    sec = rnd(ALNUM, 3) + str(R.randint(0, 9)) + "Q~" + rnd(ALNUM + "_~.-", 34)
    ps.text("# Signs the pipeline in as its service principal\n$tenant = 'acme.onmicrosoft.com'")
    ps.pos(f"$env:AZURE_CLIENT_SECRET = '{sec}'", "azure", sec)
    ps.text("az login --service-principal -u $env:AZURE_CLIENT_ID -p $env:AZURE_CLIENT_SECRET --tenant $tenant")
    sig = urllib.parse.quote(b64(rbytes(32)), safe="")
    sas = f"https://acmemedia.blob.core.windows.net/uploads?sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2027-01-01T00:00:00Z&st=2026-11-01T00:00:00Z&spr=https&sig={sig}"
    c.file("web/src/blob.ts").text("// Upload target for the media service").pos(f"const UPLOAD_URL = '{sas}';", "azure", sig)
    for i in range(3):
        sig = urllib.parse.quote(b64(rbytes(32)), safe="")
        c.file("logs/deploy.log").pos(f"2026-11-29T22:0{i}:13Z deploy[{R.randint(1000, 9999)}]: PUT https://acmebackup.blob.core.windows.net/db/dump-{i}.gz?sv=2021-08-06&se=2026-12-01T00%3A00%3A00Z&sr=b&sp=cw&sig={sig} 201", "azure", sig)
    ado = c.file(".azure-pipelines/nuget.yml")
    pat = rnd(ALNUM, 52) + "JQQJ99" + rnd(ALNUM, 18) + "AZDO" + rnd(ALNUM, 4)
    ado.text("steps:\n  - task: NuGetAuthenticate@1\n  - script: |")
    ado.pos(f"      dotnet nuget add source https://pkgs.dev.azure.com/acme/_packaging/feed/nuget/v3/index.json -u ci -p {pat} --store-password-in-clear-text", "azure", pat)
    legacy = rnd("abcdefghijklmnopqrstuvwxyz234567", 52)
    ado.pos(f"      AZURE_DEVOPS_PAT: {legacy}", "azure", legacy)
    ido = c.file("src/Acme.Functions/local.settings.json")
    fkey = rnd(B64URL, 44) + "AzFu" + rnd(B64URL, 5) + R.choice("AQgw") + "=="
    skey = rnd(B64, 76) + "+ASt" + rnd(B64, 5) + R.choice("AQgw") + "=="
    ido.text('{\n  "IsEncrypted": false,\n  "Values": {')
    ido.pos(f'    "FUNCTION_KEY": "{fkey}",', "azure", fkey)
    ido.pos(f'    "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=acmefn;AccountKey={skey};EndpointSuffix=core.windows.net",', "azure", skey)
    oai = rnd(HEX, 32)
    ido.pos(f'    "AZURE_OPENAI_API_KEY": "{oai}",', "azure", oai)
    ido.text('    "AZURE_OPENAI_ENDPOINT": "https://acme-oai.openai.azure.com/"\n  }\n}')
    redis = b64(rbytes(32))
    c.file("config/cache.py").text('"""Session cache."""\nimport redis\n').pos(
        f'r = redis.StrictRedis(host="acme.redis.cache.windows.net", port=6380, password="{redis}", ssl=True)', "azure", redis)
    # negatives
    d = c.file("docs/azure.md")
    d.text("# Azure\n\nUse the emulator locally; its key is published by Microsoft and is the same everywhere:\n")
    d.neg("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;", "azure")
    d.neg('"ClientSecret": "<client-secret>",\n"ClientSecret": "",\nclient_secret = var.client_secret\n'
          "AccountKey=${STORAGE_KEY};\n$env:AZURE_CLIENT_SECRET = $env:ARM_CLIENT_SECRET\n"
          '"AzureWebJobsStorage": "UseDevelopmentStorage=true",\n'
          "SharedAccessKey=<key>;\nsig=REDACTED", "azure")
    for i in range(20):
        d.neg(f"| {uuid()} | {uuid()} | subscription {i} | /subscriptions/{uuid()}/resourceGroups/rg-{rnd(LOWER, 5)} |", "azure")


def w_github(c, keys):
    env = c.file("deploy/.env.production")
    for prefix, name in [("ghp_", "GITHUB_TOKEN"), ("gho_", "GH_OAUTH_TOKEN"), ("ghs_", "GH_APP_INSTALL_TOKEN")]:
        t = gh(prefix)
        env.pos(f"{name}={t}", "github", t)
    sh = c.file("home/.bash_history")
    for _ in range(2):
        t = gh("ghp_")
        sh.pos(f"git clone https://{t}@github.com/acme/platform-infra.git", "github", t)
    t = gh("ghp_")
    sh.pos(f"echo {t} | gh auth login --with-token", "github", t)
    py = c.file("tools/release/notes.py")
    py.text('"""Drafts release notes from merged pull requests."""\nimport requests\n')
    t = gh("ghp_")
    py.pos(f'HEADERS = {{"Authorization": "token {t}", "Accept": "application/vnd.github+json"}}', "github", t)
    fg = "github_pat_" + rnd(ALNUM, 22) + "_" + rnd(ALNUM, 59)
    py.pos(f'FINE_GRAINED = "{fg}"', "github", fg)
    go = c.file("cmd/sync/main.go")
    go.text("package main\n\nimport (\n\t\"context\"\n\t\"github.com/google/go-github/v66/github\"\n)\n")
    for prefix in ["ghu_", "ghr_"]:
        t = gh(prefix)
        go.pos(f'const token{prefix[2].upper()} = "{t}"', "github", t)
    t = gh("ghp_")
    go.pos(f'var client = github.NewClient(nil).WithAuthToken("{t}")', "github", t)
    yml = c.file(".github/workflows/mirror.yml")
    yml.text("name: mirror\non: [push]\njobs:\n  mirror:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: git push --mirror https://x-access-token:${{ secrets.MIRROR_TOKEN }}@github.com/acme/mirror.git")
    t = gh("ghp_")
    yml.text("        env:")
    yml.pos(f"          GH_TOKEN: {t}", "github", t)
    ts = c.file("web/src/octokit.ts")
    for _ in range(2):
        t = gh("ghp_")
        ts.pos(f"const octokit = new Octokit({{ auth: '{t}' }});", "github", t)
    cfg = c.file("config/github-app.yml")
    cs = rnd(HEX, 40)
    cfg.text(f"app_id: {R.randint(100000, 999999)}\nclient_id: Iv1.{rnd(HEX, 16)}")
    cfg.pos(f"client_secret: {cs}", "github", cs)
    ws = rnd(HEX, 40)
    cfg.text(f"webhook_url: https://ci.acme.test/hooks/github")
    log = c.file("logs/ci-runner.log")
    t = gh("ghs_")
    log.pos(f"[2026-11-30 10:21:09] runner: fetching https://api.github.com/repos/acme/app/tarball with token {t}", "github", t)
    t = gh("gho_")
    c.file("home/.config/gh/hosts.yml").text("github.com:\n    user: ci-bot").pos(f"    oauth_token: {t}", "github", t).text("    git_protocol: https")
    gc = c.sensitive_file("home/.git-credentials")
    t = gh("ghp_")
    gc.pos(f"https://ci-bot:{t}@github.com", "github", t)
    # negatives: failing checksums, placeholders, references, SHAs
    n = c.file("tests/fixtures/github_tokens.py")
    n.text('"""Fixtures: tokens of the right shape whose checksum fails (so they were never issued)."""\n')
    for i in range(15):
        n.neg(f'BAD_CHECKSUM_{i} = "{crc_token(R.choice(["ghp_", "gho_", "ghs_", "ghu_"]), valid=False)}"', "github")
    n.neg('PLACEHOLDER = "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\nREFERENCE = os.environ["GITHUB_TOKEN"]\n'
          'ACTIONS = "${{ secrets.GITHUB_TOKEN }}"\nDOCS = "ghp_<your-token>"\nSHORT = "ghp_abc"', "github")
    shas = c.file("docs/changelog.md")
    shas.text("# Changelog\n")
    for i in range(60):
        shas.neg(f"- {rnd(HEX, 40)} {R.choice(['fix', 'feat', 'chore', 'docs'])}: {R.choice(['retry uploads', 'bump deps', 'tidy logging', 'new export', 'faster diff'])} (#{R.randint(100, 9999)})", "github")
    git = c.file("logs/git-log.txt")
    for i in range(40):
        git.neg(f"commit {rnd(HEX, 40)}\nMerge: {rnd(HEX, 7)} {rnd(HEX, 7)}", "github")
        git.text(f"Author: Dev {i} <dev{i}@acme.test>\n")


def w_vcs(c, keys):
    gl = c.file(".gitlab-ci.yml")
    gl.text("stages: [build, deploy]\nvariables:")
    toks = [
        ("GITLAB_TOKEN", "glpat-" + rnd(B64URL, 20)),
        ("GITLAB_API_TOKEN", "glpat-" + rnd(B64URL, 20)),
        ("DEPLOY_TOKEN", "gldt-" + rnd(B64URL, 20)),
        ("RUNNER_TOKEN", "glrt-" + rnd(B64URL, 20)),
        ("RUNNER_REGISTRATION_TOKEN", "GR1348941" + rnd(B64URL, 20)),
        ("TRIGGER_TOKEN", "glptt-" + rnd(HEX, 40)),
        ("FEED_TOKEN", "glft-" + rnd(B64URL, 20)),
        ("SCIM_TOKEN", "glsoat-" + rnd(B64URL, 20)),
    ]
    for name, t in toks:
        gl.pos(f'  {name}: "{t}"', "gitlab-and-other-vcs", t)
    gl.neg('  CI_JOB_TOKEN_COPY: "$CI_JOB_TOKEN"\n  GITLAB_TOKEN_REF: "${GITLAB_TOKEN}"\n  EXAMPLE: "glpat-xxxxxxxxxxxxxxxxxxxx"', "gitlab-and-other-vcs")
    gl.text("build:\n  stage: build\n  script:\n    - make")
    routable = "glpat-" + rnd(B64URL, 27) + ".01." + rnd(LOWER + DIGITS, 9)
    sh = c.file("scripts/mirror-repos.sh")
    sh.text("#!/usr/bin/env bash\n# Mirrors the public repositories to the internal GitLab.\nset -euo pipefail")
    sh.pos(f'GITLAB_PAT="{routable}"', "gitlab-and-other-vcs", routable)
    t = "glpat-" + rnd(B64URL, 20)
    sh.pos(f'curl --header "PRIVATE-TOKEN: {t}" https://gitlab.acme.test/api/v4/projects', "gitlab-and-other-vcs", t)
    t = "glpat-" + rnd(B64URL, 20)
    sh.pos(f"git remote add internal https://oauth2:{t}@gitlab.acme.test/platform/api.git", "gitlab-and-other-vcs", t)
    for name, t in [("incoming_email_token", "glimt-" + rnd(LOWER + DIGITS, 25)),
                    ("agent_token", "glagent-" + rnd(B64URL, 50)),
                    ("ff_client_token", "glffct-" + rnd(B64URL, 20)),
                    ("oauth_app_secret", "gloas-" + rnd(HEX, 64))]:
        c.file("config/gitlab.rb").pos(f"gitlab_rails['{name}'] = '{t}'", "gitlab-and-other-vcs", t)
    bb = c.file("bitbucket-pipelines.yml")
    bb.text("image: node:20\npipelines:\n  default:\n    - step:\n        script:")
    for _ in range(2):
        t = "ATBB" + rnd(ALNUM, 32) + rnd(HEX.upper(), 8)
        bb.pos(f"          - export BITBUCKET_APP_PASSWORD={t}", "gitlab-and-other-vcs", t)
    t = "ATCTT3xFfGN0" + rnd(B64URL, 180) + "=" + rnd(HEX.upper(), 8)
    bb.pos(f"          - export BITBUCKET_ACCESS_TOKEN={t}", "gitlab-and-other-vcs", t)
    for _ in range(2):
        t = "BBDC-" + b64(f"{R.randint(10**11, 10**12)}:".encode() + rbytes(20))
        c.file("config/bitbucket-server.properties").pos(f"bitbucket.http.token={t}", "gitlab-and-other-vcs", t)
    gitea = rnd(HEX, 40)
    c.sensitive_file("deploy/gitea-runner.env").pos(f"GITEA_TOKEN={gitea}", "gitlab-and-other-vcs", gitea)
    log = c.file("logs/ci-runner.log")
    t = "glpat-" + rnd(B64URL, 20)
    log.pos(f"[2026-11-30 10:25:44] git fetch https://gitlab-ci-token:{t}@gitlab.acme.test/platform/web.git", "gitlab-and-other-vcs", t)
    t = "glcbt-" + rnd(HEX, 2) + "_" + rnd(B64URL, 20)
    log.pos(f"[2026-11-30 10:25:45] CI_JOB_TOKEN={t}", "gitlab-and-other-vcs", t)
    # negatives
    d = c.file("docs/gitlab.md")
    d.text("# GitLab access\n\nCreate a token under *Preferences → Access tokens* and export it:\n")
    d.neg('export GITLAB_TOKEN=glpat-<your-token>\nexport GITLAB_TOKEN="$(pass show gitlab/token)"\n'
          "RUNNER_TOKEN: ${{ secrets.RUNNER_TOKEN }}\n"
          "curl --header \"PRIVATE-TOKEN: $GITLAB_TOKEN\" https://gitlab.example.com/api/v4/projects\n"
          "git clone https://oauth2:${GITLAB_TOKEN}@gitlab.acme.test/platform/api.git\n"
          "BITBUCKET_APP_PASSWORD: $BITBUCKET_APP_PASSWORD\n"
          "token: glrt-REDACTED", "gitlab-and-other-vcs")
    for i in range(15):
        d.neg(f"- pipeline {R.randint(10**6, 10**7)} sha {rnd(HEX, 40)} ref refs/merge-requests/{R.randint(1, 900)}/head", "gitlab-and-other-vcs")


def w_chat(c, keys):
    env = c.file("deploy/.env.production")
    for name in ["SLACK_BOT_TOKEN", "SLACK_ALERTS_BOT_TOKEN"]:
        t = slack_bot()
        env.pos(f"{name}={t}", "chat", t)
    t = slack_user()
    env.pos(f"SLACK_USER_TOKEN={t}", "chat", t)
    t = f"xapp-1-A{rnd(UPPER + DIGITS, 10)}-{R.randint(10**12, 10**13)}-{rnd(HEX, 64)}"
    env.pos(f"SLACK_APP_TOKEN={t}", "chat", t)
    py = c.file("services/alerts/notify.py")
    py.text('"""Posts alerts to chat channels."""\nimport requests\n')
    for i in range(3):
        u = slack_webhook()
        py.pos(f'WEBHOOK_{i} = "{u}"', "chat", u.rsplit("/", 1)[1])
    u = f"https://hooks.slack.com/triggers/T{rnd(UPPER + DIGITS, 9)}/{R.randint(10**12, 10**13)}/{rnd(HEX, 32)}"
    py.pos(f'WORKFLOW_HOOK = "{u}"', "chat", u.rsplit("/", 1)[1])
    for i in range(2):
        u = f"https://discord.com/api/webhooks/{R.randint(10**17, 10**18)}/{rnd(B64URL, 68)}"
        py.pos(f'DISCORD_HOOK_{i} = "{u}"', "chat", u.rsplit("/", 1)[1])
    t = telegram_bot()
    py.pos(f'TELEGRAM_BOT_TOKEN = "{t}"', "chat", t)
    t = telegram_bot()
    py.pos(f'requests.post(f"https://api.telegram.org/bot{t}/sendMessage", json=payload)', "chat", t)
    js = c.file("bots/discord/index.js")
    js.text("const { Client, GatewayIntentBits } = require('discord.js');\nconst client = new Client({ intents: [GatewayIntentBits.Guilds] });")
    t = discord_bot()
    js.pos(f"const DISCORD_TOKEN = '{t}';", "chat", t)
    js.text("client.login(DISCORD_TOKEN);")
    t = discord_bot()
    js.pos(f"// fetch('https://discord.com/api/v10/users/@me', {{ headers: {{ Authorization: 'Bot {t}' }} }})", "chat", t)
    sec = rnd(B64URL, 32)
    js.pos(f"const DISCORD_CLIENT_SECRET = '{sec}';", "chat", sec)
    teams = c.file("config/notifications.yaml")
    teams.text("notifications:")
    for _ in range(2):
        u = (f"https://acme.webhook.office.com/webhookb2/{uuid()}@{uuid()}/IncomingWebhook/{rnd(HEX, 32)}/{uuid()}/"
             f"V2{rnd(B64URL, 43)}")
        teams.pos(f"  - teams: {u}", "chat", u.split("IncomingWebhook/")[1][:32])
    u = (f"https://prod-{R.randint(10, 99)}.westeurope.logic.azure.com:443/workflows/{rnd(HEX, 32)}/triggers/manual/paths/invoke"
         f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={rnd(B64URL, 43)}")
    teams.pos(f"  - teams_workflow: {u}", "chat", u.rsplit("sig=", 1)[1])
    u = f"https://chat.googleapis.com/v1/spaces/AAAA{rnd(B64URL, 7)}/messages?key=AIza{rnd(B64URL, 35)}&token={rnd(B64URL, 43)}%3D"
    teams.pos(f"  - google_chat: {u}", "chat", u.rsplit("token=", 1)[1])
    t = slack_bot()
    teams.pos(f"  - slack_token: {t}", "chat", t)
    log = c.file("logs/worker.jsonl")
    t = slack_bot()
    log.pos(json.dumps({"ts": "2026-11-30T08:13:02Z", "level": "warn", "msg": "slack rate limited",
                        "request": {"headers": {"Authorization": f"Bearer {t}"}}}), "chat", t)
    mm = rnd(LOWER + DIGITS, 26)
    c.file("config/mattermost.json").text('{\n  "url": "https://chat.acme.test",').pos(f'  "mattermost_access_token": "{mm}"', "chat", mm).text("}")
    # negatives
    d = c.file("docs/alerts.md")
    d.text("# Alert routing\n")
    d.neg("SLACK_BOT_TOKEN=xoxb-your-bot-token\nSLACK_BOT_TOKEN=xoxb-0000000000-0000000000000-XXXXXXXXXXXXXXXXXXXXXXXX\n"
          "WEBHOOK = \"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX\"\n"
          "webhook: \"{{ .Values.slack.webhook }}\"\n"
          "TELEGRAM_BOT_TOKEN=<bot-token-from-botfather>\n"
          "DISCORD_TOKEN = os.environ['DISCORD_TOKEN']\n"
          "https://discord.com/api/webhooks/{webhook.id}/{webhook.token}\n"
          "teams: https://acme.webhook.office.com/webhookb2/<group>@<tenant>/IncomingWebhook/<id>/<owner>", "chat")
    ids = c.file("services/alerts/channels.yaml")
    for i in range(30):
        ids.neg(f"- name: team-{rnd(LOWER, 6)}\n  slack_channel: C{rnd(UPPER + DIGITS, 10)}\n  discord_channel: \"{R.randint(10**17, 10**18)}\"", "chat")


def w_payments(c, keys):
    env = c.file("deploy/.env.production")
    for name, t in [("STRIPE_SECRET_KEY", stripe("sk_live_")), ("STRIPE_RESTRICTED_KEY", stripe("rk_live_")),
                    ("STRIPE_WEBHOOK_SECRET", "whsec_" + rnd(ALNUM, 32)),
                    ("SQUARE_ACCESS_TOKEN", "EAAA" + rnd(B64URL, 60)),
                    ("SHOPIFY_ADMIN_TOKEN", "shpat_" + rnd(HEX, 32)),
                    ("PAYSTACK_SECRET_KEY", "sk_live_" + rnd(HEX, 40))]:
        env.pos(f"{name}={t}", "payments", t)
    py = c.file("services/billing/gateway.py")
    py.text('"""Charges cards through the configured processors."""\nimport stripe\nimport braintree\n')
    t = stripe("sk_live_", 24)
    py.pos(f'stripe.api_key = "{t}"', "payments", t)
    t = f"access_token$production${rnd(LOWER + DIGITS, 16)}${rnd(HEX, 32)}"
    py.pos(f'gateway = braintree.BraintreeGateway(access_token="{t}")', "payments", t)
    t = "sq0csp-" + rnd(B64URL, 43)
    py.pos(f'SQUARE_OAUTH_SECRET = "{t}"', "payments", t)
    t = "sq0atp-" + rnd(B64URL, 22)
    py.pos(f'SQUARE_LEGACY_TOKEN = "{t}"', "payments", t)
    t = "rzp_live_" + rnd(ALNUM, 14)
    py.pos(f'RAZORPAY_KEY_ID = "{t}"', "payments", t)
    t = rnd(ALNUM, 24)
    py.pos(f'RAZORPAY_KEY_SECRET = "{t}"', "payments", t)
    t = "FLWSECK-" + rnd(HEX, 32) + "-X"
    py.pos(f'FLUTTERWAVE_SECRET = "{t}"', "payments", t)
    rb = c.file("config/initializers/shop.rb")
    for name, t in [("SHOPIFY_SHARED_SECRET", "shpss_" + rnd(HEX, 32)), ("SHOPIFY_CUSTOM_APP", "shpca_" + rnd(HEX, 32)),
                    ("SHOPIFY_PRIVATE_APP", "shppa_" + rnd(HEX, 32))]:
        rb.pos(f"{name} = '{t}'", "payments", t)
    pp = c.file("src/main/resources/payments.properties")
    pp.text("# PayPal REST (live)")
    pp.text(f"paypal.client.id=A{rnd(B64URL, 79)}")
    t = "E" + rnd(B64URL, 79)
    pp.pos(f"paypal.client.secret={t}", "payments", t)
    t = rnd(HEX, 30)
    pp.text(f"plaid.client_id={rnd(HEX, 24)}")
    pp.pos(f"plaid.secret={t}", "payments", t)
    t = f"access-production-{uuid()}"
    pp.pos(f"plaid.access_token={t}", "payments", t)
    t = "live_" + rnd(ALNUM, 30)
    pp.pos(f"mollie.api.key={t}", "payments", t)
    t = "live_" + rnd(B64URL, 40)
    pp.pos(f"gocardless.access.token={t}", "payments", t)
    t = "AQE" + rnd(B64, 101) + "==-" + rnd(B64, 43) + "=-" + rnd(ALNUM, 16)
    pp.pos(f"adyen.api.key={t}", "payments", t)
    go = c.file("internal/payments/stripe.go")
    go.text("package payments\n\nimport \"github.com/stripe/stripe-go/v79\"\n\nfunc init() {")
    t = stripe("sk_live_")
    go.pos(f'\tstripe.Key = "{t}"', "payments", t)
    go.text("}")
    log = c.file("logs/worker.jsonl")
    t = stripe("rk_live_", 24)
    log.pos(json.dumps({"ts": "2026-11-30T08:14:40Z", "level": "error", "msg": "stripe auth failed", "key": t}), "payments", t)
    # negatives
    d = c.file("web/src/checkout.ts")
    d.text("// Publishable keys are meant for the browser.")
    for _ in range(5):
        d.neg(f"const STRIPE_PK = 'pk_live_{rnd(ALNUM, 99)}';", "payments")
    d.neg("const STRIPE_SK = process.env.STRIPE_SECRET_KEY!;\nconst whsec = config.get('stripe.webhookSecret');", "payments")
    n = c.file("docs/payments.md")
    n.text("# Payments\n\nUse test mode keys from the dashboard locally.\n")
    n.neg("STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx\nSTRIPE_SECRET_KEY=sk_live_<your-key>\n"
          "STRIPE_WEBHOOK_SECRET=whsec_...\nSQUARE_ACCESS_TOKEN={{ square_token }}\n"
          "SHOPIFY_ADMIN_TOKEN=shpat_REPLACE_ME\npaypal.client.secret=${PAYPAL_SECRET}\n"
          "plaid.secret=changeme\nmollie.api.key=${MOLLIE_API_KEY}", "payments")
    for i in range(30):
        n.neg(f"| ch_{rnd(ALNUM, 24)} | pi_{rnd(ALNUM, 24)} | cus_{rnd(ALNUM, 14)} | {R.randint(100, 99999)} | eur |", "payments")


def w_ai(c, keys):
    env = c.file("deploy/.env.production")
    ai = [
        ("OPENAI_API_KEY", openai_proj()),
        ("OPENAI_SVC_KEY", "sk-svcacct-" + rnd(B64URL, 74) + "T3BlbkFJ" + rnd(B64URL, 74)),
        ("OPENAI_ADMIN_KEY", "sk-admin-" + rnd(B64URL, 74) + "T3BlbkFJ" + rnd(B64URL, 74)),
        ("ANTHROPIC_API_KEY", anthropic()),
        ("HF_TOKEN", "hf_" + rnd(UPPER + LOWER, 34)),
        ("GROQ_API_KEY", "gsk_" + rnd(ALNUM, 52)),
        ("REPLICATE_API_TOKEN", "r8_" + rnd(ALNUM, 37)),
        ("PERPLEXITY_API_KEY", "pplx-" + rnd(ALNUM, 48)),
        ("XAI_API_KEY", "xai-" + rnd(ALNUM, 80)),
        ("OPENROUTER_API_KEY", "sk-or-v1-" + rnd(HEX, 64)),
        ("NVIDIA_API_KEY", "nvapi-" + rnd(B64URL, 64)),
        ("TAVILY_API_KEY", "tvly-" + rnd(ALNUM, 32)),
    ]
    for name, t in ai:
        env.pos(f"{name}={t}", "ai", t)
    nb = c.file("notebooks/llm-eval.ipynb")
    src_lines = []
    secrets = []
    for name, t in [("openai.api_key", "sk-" + rnd(ALNUM, 20) + "T3BlbkFJ" + rnd(ALNUM, 20)),
                    ("os.environ['ANTHROPIC_API_KEY']", anthropic()),
                    ("os.environ['MISTRAL_API_KEY']", rnd(ALNUM, 32)),
                    ("os.environ['COHERE_API_KEY']", rnd(ALNUM, 40)),
                    ("os.environ['LANGSMITH_API_KEY']", "lsv2_pt_" + rnd(HEX, 32) + "_" + rnd(HEX, 10))]:
        src_lines.append(f"{name} = \"{t}\"\n")
        secrets.append(t)
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Evaluation run\n"]},
             {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [], "source": src_lines}]
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
    for line in text.split("\n"):
        hit = [s for s in secrets if s in line]
        if hit:
            nb.pos(line, "ai", hit[0])
        else:
            nb.text(line)
    py = c.file("services/assistant/llm.py")
    py.text('"""Model clients for the assistant."""\nfrom openai import OpenAI\nimport anthropic\n')
    t = openai_proj()
    py.pos(f'client = OpenAI(api_key="{t}")', "ai", t)
    t = anthropic()
    py.pos(f'claude = anthropic.Anthropic(api_key="{t}")', "ai", t)
    t = "sk-ant-admin01-" + rnd(B64URL, 93) + "AA"
    py.pos(f'ADMIN_KEY = "{t}"', "ai", t)
    t = "sk-" + rnd(HEX, 32)
    py.pos(f'deepseek = OpenAI(api_key="{t}", base_url="https://api.deepseek.com")', "ai", t)
    t = "fw_" + rnd(ALNUM, 24)
    py.pos(f'FIREWORKS_API_KEY = "{t}"', "ai", t)
    t = "tgp_v1_" + rnd(B64URL, 43)
    py.pos(f'TOGETHER_API_KEY = "{t}"', "ai", t)
    t = "pcsk_" + rnd(ALNUM, 5) + "_" + rnd(ALNUM, 63)
    py.pos(f'pinecone_key = "{t}"', "ai", t)
    t = "hf_" + rnd(UPPER + LOWER, 34)
    py.pos(f'login(token="{t}")', "ai", t)
    t = "api_org_" + rnd(UPPER + LOWER, 34)
    py.pos(f'HF_ORG_TOKEN = "{t}"', "ai", t)
    t = rnd(HEX, 40)
    py.pos(f'WANDB_API_KEY = "{t}"', "ai", t)
    t = "sk_" + rnd(HEX, 48)
    py.pos(f'ELEVENLABS_API_KEY = "{t}"', "ai", t)
    t = "csk-" + rnd(LOWER + DIGITS, 48)
    py.pos(f'CEREBRAS_API_KEY = "{t}"', "ai", t)
    sh = c.file("home/.bash_history")
    t = openai_proj()
    sh.pos(f'curl https://api.openai.com/v1/models -H "Authorization: Bearer {t}"', "ai", t)
    t = anthropic()
    sh.pos(f"curl https://api.anthropic.com/v1/messages -H 'x-api-key: {t}' -H 'anthropic-version: 2023-06-01' -d @req.json", "ai", t)
    log = c.file("logs/worker.jsonl")
    t = openai_proj()
    log.pos(json.dumps({"ts": "2026-11-30T08:15:10Z", "level": "debug", "msg": "llm request",
                        "headers": {"authorization": f"Bearer {t}"}}), "ai", t)
    # negatives
    d = c.file("docs/llm.md")
    d.text("# Model access\n")
    d.neg("OPENAI_API_KEY=sk-...\nOPENAI_API_KEY=sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
          "ANTHROPIC_API_KEY=sk-ant-api03-your-key-here\nHF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
          "client = OpenAI(api_key=os.environ[\"OPENAI_API_KEY\"])\napi_key: \"{{ .Values.openai.apiKey }}\"\n"
          "export GROQ_API_KEY=<your-groq-key>\nmodel = \"gpt-4o-mini-2024-07-18\"\n"
          "task-sk-classification-v2\nrisk-assessment-2026-q4-summary-document", "ai")
    for i in range(25):
        d.neg(f"| run-{rnd(HEX, 8)} | model ft:gpt-4o-mini:acme::{rnd(ALNUM, 8)} | chatcmpl-{rnd(ALNUM, 29)} | {R.random():.4f} |", "ai")


def saas_tokens():
    return [
        ("DD_API_KEY", rnd(HEX, 32)), ("DD_APP_KEY", rnd(HEX, 40)),
        ("NEW_RELIC_API_KEY", "NRAK-" + rnd(UPPER + DIGITS, 27)),
        ("SENTRY_AUTH_TOKEN", "sntryu_" + rnd(HEX, 64)),
        ("SENTRY_ORG_TOKEN", "sntrys_" + b64url(json.dumps({"iat": 1790000000, "url": "https://sentry.io", "region_url": "https://us.sentry.io", "org": "acme"}).encode()) + "_" + rnd(B64, 43)),
        ("GRAFANA_SA_TOKEN", "glsa_" + rnd(ALNUM, 32) + "_" + rnd(HEX, 8)),
        ("GRAFANA_CLOUD_TOKEN", "glc_" + b64(json.dumps({"o": str(R.randint(10**5, 10**6)), "n": "stack-push", "k": rnd(ALNUM, 24), "m": {"r": "eu"}}).encode())),
        ("LINEAR_API_KEY", "lin_api_" + rnd(ALNUM, 40)),
        ("NOTION_TOKEN", "ntn_" + rnd(DIGITS, 11) + rnd(ALNUM, 35)),
        ("AIRTABLE_PAT", "pat" + rnd(ALNUM, 14) + "." + rnd(HEX, 64)),
        ("ATLASSIAN_API_TOKEN", "ATATT3xFfGF0" + rnd(B64URL, 170) + "=" + rnd(HEX.upper(), 8)),
        ("POSTMAN_API_KEY", "PMAK-" + rnd(HEX, 24) + "-" + rnd(HEX, 34)),
        ("DATABRICKS_TOKEN", "dapi" + rnd(HEX, 32)),
        ("FIGMA_TOKEN", "figd_" + rnd(B64URL, 40)),
        ("HUBSPOT_TOKEN", "pat-na1-" + uuid()),
        ("SENDGRID_API_KEY", "SG." + rnd(B64URL, 22) + "." + rnd(B64URL, 43)),
        ("MAILGUN_API_KEY", "key-" + rnd(HEX, 32)),
        ("MAILCHIMP_API_KEY", rnd(HEX, 32) + "-us" + str(R.randint(1, 21))),
        ("TWILIO_API_KEY_SID", "SK" + rnd(HEX, 32)),
        ("NPM_TOKEN", crc_token("npm_")),
        ("PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc" + rnd(B64URL, 140)),
        ("RUBYGEMS_API_KEY", "rubygems_" + rnd(HEX, 48)),
        ("DOCKERHUB_TOKEN", "dckr_pat_" + rnd(B64URL, 27)),
        ("CARGO_REGISTRY_TOKEN", "cio" + rnd(ALNUM, 32)),
        ("VAULT_TOKEN", "hvs.CAESI" + rnd(B64URL, 90)),
        ("TFE_TOKEN", rnd(ALNUM, 14) + ".atlasv1." + rnd(ALNUM, 67)),
        ("DOPPLER_TOKEN", "dp.pt." + rnd(ALNUM, 43)),
        ("PULUMI_ACCESS_TOKEN", "pul-" + rnd(HEX, 40)),
        ("TS_AUTHKEY", "tskey-auth-" + rnd(ALNUM, 12) + "-" + rnd(ALNUM, 33)),
        ("OP_SERVICE_ACCOUNT_TOKEN", "ops_eyJ" + rnd(B64URL, 300)),
        ("DIGITALOCEAN_TOKEN", "dop_v1_" + rnd(HEX, 64)),
        ("HEROKU_API_KEY", "HRKU-AA" + rnd(B64URL, 58)),
        ("FLY_API_TOKEN", "fo1_" + rnd(B64URL, 43)),
        ("NETLIFY_AUTH_TOKEN", "nfp_" + rnd(ALNUM, 36)),
        ("SONAR_TOKEN", "squ_" + rnd(HEX, 40)),
        ("SRC_ACCESS_TOKEN", "sgp_" + rnd(HEX, 16) + "_" + rnd(HEX, 40)),
        ("DYNATRACE_API_TOKEN", "dt0c01." + rnd(UPPER + DIGITS, 24) + "." + rnd(UPPER + DIGITS, 64)),
        ("BREVO_API_KEY", "xkeysib-" + rnd(HEX, 64) + "-" + rnd(ALNUM, 16)),
        ("SUPABASE_ACCESS_TOKEN", "sbp_" + rnd(HEX, 40)),
        ("PLANETSCALE_TOKEN", "pscale_tkn_" + rnd(B64URL, 43)),
        ("JFROG_API_KEY", "AKCp" + rnd(ALNUM, 69)),
        ("BUILDKITE_API_TOKEN", "bkua_" + rnd(HEX, 40)),
        ("CIRCLECI_TOKEN", "CCIPAT_" + rnd(ALNUM, 22) + "_" + rnd(HEX, 40)),
        ("SHIPPO_TOKEN", "shippo_live_" + rnd(HEX, 40)),
        ("RESEND_API_KEY", "re_" + rnd(ALNUM, 8) + "_" + rnd(ALNUM, 24)),
        ("POSTHOG_PERSONAL_KEY", "phx_" + rnd(ALNUM, 43)),
        ("MAPBOX_SECRET_TOKEN", "sk.eyJ1IjoiYWNtZS1tYXBzIiwiYSI6I" + rnd(ALNUM, 20) + "." + rnd(B64URL, 22)),
        ("CLOUDFLARE_API_TOKEN", rnd(B64URL, 40)),
        ("OKTA_API_TOKEN", "00" + rnd(B64URL, 40)),
        ("ASANA_PAT", f"2/{R.randint(10**15, 10**16)}/{R.randint(10**15, 10**16)}:{rnd(HEX, 32)}"),
    ]


def w_saas(c, keys):
    toks = saas_tokens()
    env = c.file("deploy/.env.production")
    yaml = c.file("k8s/configmap-integrations.yaml")
    yaml.text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: integrations\ndata:")
    sh = c.file("scripts/bootstrap-ci.sh")
    sh.text("#!/usr/bin/env bash\n# One-off bootstrap of the CI secrets store (to be rotated).\nset -euo pipefail")
    for i, (name, t) in enumerate(toks):
        where = i % 3
        if where == 0:
            env.pos(f"{name}={t}", "saas-api", t)
        elif where == 1:
            yaml.pos(f"  {name}: \"{t}\"", "saas-api", t)
        else:
            sh.pos(f"gh secret set {name} --body '{t}'", "saas-api", t)
    npmrc = c.sensitive_file("home/.npmrc")
    t = crc_token("npm_")
    npmrc.text("registry=https://registry.npmjs.org/").pos(f"//registry.npmjs.org/:_authToken={t}", "saas-api", t)
    pypirc = c.sensitive_file("home/.pypirc")
    t = "pypi-AgEIcHlwaS5vcmc" + rnd(B64URL, 140)
    pypirc.text("[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__").pos(f"password = {t}", "saas-api", t)
    tw = c.file("services/sms/twilio_client.rb")
    sid, tok = "AC" + rnd(HEX, 32), rnd(HEX, 32)
    tw.text("require 'twilio-ruby'\n")
    tw.pos(f"client = Twilio::REST::Client.new('{sid}', '{tok}')", "saas-api", tok)
    log = c.file("logs/worker.jsonl")
    t = "SG." + rnd(B64URL, 22) + "." + rnd(B64URL, 43)
    log.pos(json.dumps({"ts": "2026-11-30T08:16:00Z", "level": "info", "msg": "mail sent", "config": {"sendgrid_api_key": t}}), "saas-api", t)
    t = crc_token("npm_")
    c.file("Dockerfile").pos(f"RUN echo '//registry.npmjs.org/:_authToken={t}' > ~/.npmrc && npm ci", "saas-api", t)
    # negatives
    n = c.file("tests/fixtures/npm_tokens.json")
    bad = [crc_token("npm_", valid=False) for _ in range(10)]
    n.text("{")
    for i, t in enumerate(bad):
        n.neg(f'  "invalid_checksum_{i}": "{t}",', "saas-api")
    n.neg('  "placeholder": "npm_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"', "saas-api")
    n.text("}")
    d = c.file("docs/integrations.md")
    d.text("# Integrations\n\nEvery token below is read from the secrets store at deploy time.\n")
    d.neg("DD_API_KEY=<datadog-api-key>\nDD_API_KEY: ${DD_API_KEY}\nSENTRY_AUTH_TOKEN={{ sentry_token }}\n"
          "NPM_TOKEN=${{ secrets.NPM_TOKEN }}\nsendgrid_api_key: SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
          "VAULT_TOKEN=$(vault print token)\nHEROKU_API_KEY: $HEROKU_API_KEY\n"
          "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nTWILIO_AUTH_TOKEN=your_auth_token\n"
          "export TFE_TOKEN=\"$(cat ~/.terraform.d/credentials.tfrc.json | jq -r .credentials[].token)\"", "saas-api")
    dd = c.file("config/datadog.yaml")
    for i in range(30):
        dd.neg(f"- monitor_id: {R.randint(10**7, 10**8)}\n  trace_id: {rnd(HEX, 32)}\n  span_id: {rnd(HEX, 16)}", "saas-api")


def db_password():
    """A password that can stand in a URL's user-info unescaped (RFC 3986 unreserved and `!`)."""
    return "".join(ch if ch in ALNUM + "-._~!" else R.choice(ALNUM) for ch in password(R.randint(14, 24)))


def w_database(c, keys):
    env = c.file("deploy/.env.production")
    urls = [
        ("DATABASE_URL", "postgres://app:{pw}@db-prod.internal:5432/orders"),
        ("READ_REPLICA_URL", "postgresql://reporting:{pw}@replica-1.acme.internal:5432/orders?sslmode=require"),
        ("MYSQL_URL", "mysql://shop:{pw}@mysql.acme.internal:3306/shop"),
        ("MONGO_URL", "mongodb+srv://svc-catalog:{pw}@cluster0.ab1cd.mongodb.net/catalog?retryWrites=true&w=majority"),
        ("REDIS_URL", "redis://default:{pw}@redis-12345.c1.eu-west-1-2.ec2.cloud.redislabs.com:12345"),
        ("AMQP_URL", "amqps://orders:{pw}@rabbit.acme.internal:5671/prod"),
    ]
    for name, tmpl in urls:
        pw = db_password()
        env.pos(f"{name}={tmpl.format(pw=pw)}", "database-urls", pw)
    yml = c.file("config/database.yml")
    yml.text("production:\n  adapter: postgresql")
    pw = db_password()
    yml.pos(f"  url: postgres://rails:{pw}@pg.acme.internal/app_production", "database-urls", pw)
    dc = c.file("docker-compose.yml")
    dc.text("services:\n  api:\n    image: acme/api:1.42\n    environment:")
    for tmpl in ["postgresql://api:{pw}@postgres:5432/api", "redis://:{pw}@redis:6379/0", "mongodb://root:{pw}@mongo:27017/admin"]:
        pw = db_password()
        dc.pos(f"      - {'DATABASE_URL' if 'postgres' in tmpl else 'REDIS_URL' if 'redis' in tmpl else 'MONGO_URL'}={tmpl.format(pw=pw)}", "database-urls", pw)
    java = c.file("src/main/java/com/acme/orders/DataSourceConfig.java")
    java.text("package com.acme.orders;\n\nimport javax.sql.DataSource;\n\npublic class DataSourceConfig {")
    pw = db_password()
    java.pos(f'    private static final String URL = "jdbc:postgresql://db.acme.internal:5432/orders?user=orders&password={pw}";', "database-urls", pw)
    pw = db_password()
    java.pos(f'    private static final String MSSQL = "jdbc:sqlserver://sql.acme.internal:1433;databaseName=erp;user=erp_app;password={pw};encrypt=true";', "database-urls", pw)
    pw = db_password()
    java.pos(f'    private static final String ORACLE = "jdbc:oracle:thin:scott/{pw}@//ora.acme.internal:1521/ORCL";', "database-urls", pw)
    java.text("}")
    cs = c.file("src/Acme.Api/appsettings.Production.json")
    pw = db_password()
    cs.pos(f'// "Sql": "Server=tcp:acme-sql.database.windows.net,1433;Initial Catalog=erp;User ID=erpadmin;Password={pw};Encrypt=True;"', "database-urls", pw)
    py = c.file("services/reports/db.py")
    py.text('"""Reporting connections."""\nfrom sqlalchemy import create_engine\n')
    for tmpl in ["postgresql+psycopg2://reports:{pw}@warehouse.acme.internal/dw", "mysql+pymysql://etl:{pw}@10.20.0.15:3306/staging",
                 "mssql+pyodbc://sa:{pw}@sqlsrv.acme.internal/erp?driver=ODBC+Driver+18+for+SQL+Server"]:
        pw = db_password()
        py.pos(f'engine = create_engine("{tmpl.format(pw=pw)}")', "database-urls", pw)
    go = c.file("internal/store/conn.go")
    go.text("package store\n")
    pw = db_password()
    go.pos(f'const dsn = "postgres://store:{pw}@pg-store.acme.internal:5432/store?sslmode=verify-full"', "database-urls", pw)
    pw = db_password()
    go.pos(f'var mysqlDSN = "store:{pw}@tcp(mysql.acme.internal:3306)/store?parseTime=true"', "database-urls", pw)
    log = c.file("logs/deploy.log")
    pw = db_password()
    log.pos(f"2026-11-29T22:04:10Z migrate[811]: connecting to postgres://migrator:{pw}@db-prod.internal:5432/orders", "database-urls", pw)
    pw = db_password()
    c.file("k8s/deployment.yaml").text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: catalog\nspec:\n  template:\n    spec:\n      containers:\n        - name: catalog\n          image: acme/catalog:3.1\n          env:\n            - name: MONGO_URI").pos(
        f"              value: mongodb://catalog:{pw}@mongo-0.mongo.svc.cluster.local:27017/catalog?replicaSet=rs0", "database-urls", pw)
    ldap = db_password()
    c.file("config/ldap.conf").pos(f"uri ldaps://svc_ldap:{ldap}@ldap.acme.internal:636/dc=acme,dc=internal", "database-urls", ldap)
    # negatives
    d = c.file("docs/database.md")
    d.text("# Databases\n\nLocal development uses the compose file's throwaway credentials.\n")
    d.neg("DATABASE_URL=postgres://user:password@localhost:5432/mydb\nDATABASE_URL=postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST}/app\n"
          "DATABASE_URL=postgresql://postgres@localhost/test\nmysql://root:@localhost:3306/dev\n"
          "mongodb://<username>:<password>@cluster0.mongodb.net/\nredis://localhost:6379/0\n"
          "url: postgres://{{ .Values.db.user }}:{{ .Values.db.password }}@db/app\n"
          "jdbc:postgresql://localhost:5432/test?user=test&password=test\n"
          "Server=localhost;Database=app;Trusted_Connection=True;\n"
          "postgres://app:$(DB_PASSWORD)@db:5432/app\namqp://guest:guest@localhost:5672/\n"
          "engine = create_engine(os.environ[\"DATABASE_URL\"])\n"
          "dsn := fmt.Sprintf(\"postgres://%s:%s@%s/%s\", user, pass, host, name)\n"
          "mongodb://admin:changeme@localhost:27017\n"
          "postgres://app:********@db-prod.internal:5432/orders", "database-urls")
    for i in range(25):
        d.neg(f"- postgres://db-{i}.acme.internal:5432/{rnd(LOWER, 6)} (replica lag {R.randint(0, 900)} ms, {uuid()})", "database-urls")


def pem_pos(f, pem, family, prefix="", suffix=""):
    lines = pem.strip("\n").split("\n")
    f.pos("\n".join(prefix + ln + suffix for ln in lines), family, pem_body_line(pem))


def w_private_keys(c, keys):
    fam = "private-keys"
    pem_pos(c.sensitive_file("deploy/tls/server.key"), keys.rsa_traditional(), fam)
    pem_pos(c.sensitive_file("deploy/tls/api.pem"), keys.pkcs8("RSA"), fam)
    pem_pos(c.sensitive_file("deploy/tls/edge-ec.pem"), keys.ec_traditional(), fam)
    pem_pos(c.sensitive_file("home/.ssh/id_ed25519"), keys.openssh(), fam)
    pem_pos(c.sensitive_file("deploy/signing/ed25519.pem"), keys.pkcs8("ED25519"), fam)
    pem_pos(c.file("deploy/signing/release-signing.asc"), keys.pgp(), fam)
    gh = c.file("config/github-app-private-key.txt")
    gh.text("# GitHub App 'acme-deployer' (app id 123456): private key downloaded 2026-11-02")
    pem_pos(gh, keys.rsa_traditional(), fam)
    # escaped string literals, one line
    for path, tmpl in [("config/jwt-signing.json", '{{"issuer": "acme", "signing_key": "{k}"}}'),
                       ("src/auth/keys.ts", "export const SIGNING_KEY = \"{k}\";"),
                       ("services/auth/keys.py", 'PRIVATE_KEY = "{k}"'),
                       ("internal/auth/key.go", 'const privateKeyPEM = "{k}"')]:
        pem = keys.pkcs8(R.choice(["RSA", "EC"]))
        c.file(path).pos(tmpl.format(k=pem.replace("\n", "\\n")), fam, pem_body_line(pem))
    # behind log prefixes
    log = c.file("logs/provision.log")
    log.text("2026-11-28T14:00:00Z provision[2201]: generating host identity")
    pem_pos(log, keys.pkcs8("EC"), fam, prefix="2026-11-28T14:00:01Z provision[2201]: ")
    log.text("2026-11-28T14:00:02Z provision[2201]: identity written")
    pem_pos(log, keys.rsa_traditional(), fam, prefix="Nov 28 14:00:03 build-7 cloud-init[911]: ")
    # in JSON logs
    jl = c.file("logs/worker.jsonl")
    for _ in range(2):
        pem = keys.pkcs8("RSA")
        jl.pos(json.dumps({"ts": "2026-11-30T08:17:00Z", "level": "debug", "msg": "tls config", "key_pem": pem}), fam, pem_body_line(pem))
    # ' * ' comments and other comment forms
    cj = c.file("src/main/java/com/acme/auth/TestKeys.java")
    cj.text("package com.acme.auth;\n\n/**\n * Key used by the staging token service.")
    pem_pos(cj, keys.pkcs8("RSA"), fam, prefix=" * ")
    cj.text(" */\npublic final class TestKeys {}")
    pem_pos(c.file("scripts/rotate-host-key.sh"), keys.ec_traditional(), fam, prefix="# ")
    yk = c.file("k8s/ingress-tls.yaml")
    yk.text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: ingress-tls\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: |")
    for ln in keys.cert().strip().split("\n"):
        yk.neg("    " + ln, fam)
    yk.text("  tls.key: |")
    pem_pos(yk, keys.pkcs8("EC"), fam, prefix="    ")
    # concatenated literals
    cc = c.file("src/crypto/embedded_key.c")
    cc.text("/* Device identity baked into the firmware image. */\nstatic const char *device_key =")
    pem_pos(cc, keys.pkcs8("EC"), fam, prefix='    "', suffix='\\n"')
    cc.text("    ;")
    # base64-encoded PEM (LS0tLS1CRUdJTi...)
    for path in ["k8s/secret-signing.yaml", "config/helm-values-prod.yaml"]:
        pem = keys.pkcs8("RSA")
        enc = b64(pem.encode())
        f = c.file(path)
        if "k8s" in path:
            f.text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: signing\ntype: Opaque\ndata:")
            f.pos(f"  signing.key: {enc}", fam, enc[:80], pem_body_line(pem))
        else:
            f.text("auth:\n  issuer: https://auth.acme.test")
            f.pos(f"  privateKeyB64: {enc}", fam, enc[:80], pem_body_line(pem))
    # JWK with private member d
    jwk = keys.jwk()
    jf = c.file("config/jwks-private.json")
    text = json.dumps({"keys": [jwk]}, indent=2)
    for line in text.split("\n"):
        if '"d"' in line:
            jf.pos(line, fam, jwk["d"])
        else:
            jf.text(line)
    jwk = keys.jwk()
    c.file("services/auth/jwk.py").pos(f"SIGNING_JWK = {json.dumps(jwk)}", fam, jwk["d"])
    # base64 DER private keys
    for path, tmpl in [("config/keys.properties", "signing.private.key={k}"),
                       ("deploy/.env.production", "JWT_PRIVATE_KEY={k}"),
                       ("src/main/resources/application-prod.yml", "jwt:\n  private-key: {k}")]:
        k = keys.der_b64(R.choice(["RSA", "EC"]))
        if "\n" in tmpl:
            head, rest = tmpl.split("\n")
            c.file(path).text(head).pos(rest.format(k=k), fam, k[:80])
        else:
            c.file(path).pos(tmpl.format(k=k), fam, k[:80])
    age = bech32("age-secret-key-", rbytes(32)).upper()
    c.file("deploy/sops/keys.txt").text("# created: 2026-11-01T10:00:00Z\n# public key: age1" + rnd(BECH32, 58)).pos(age, fam, age)
    wg = b64(rbytes(32))
    c.sensitive_file("deploy/wireguard/wg0.conf").text("[Interface]\nAddress = 10.8.0.1/24\nListenPort = 51820").pos(
        f"PrivateKey = {wg}", fam, wg).text(f"\n[Peer]\nPublicKey = {b64(rbytes(32))}\nAllowedIPs = 10.8.0.2/32")
    kc = c.sensitive_file("home/.kube/config")
    ck = b64(keys.pkcs8("EC").encode())
    kc.text(f"apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-certificate-data: {b64(keys.cert().encode())}")
    kc.pos(f"    client-key-data: {ck}", fam, ck[:80])
    # negatives: public material, prose bodies, documentation stubs
    n = c.file("docs/tls.md")
    n.text("# TLS\n\nA key file looks like this (never commit one):\n\n```")
    n.neg("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----", fam)
    n.text("```\n\nOr, in the older format:\n\n```")
    n.neg("-----BEGIN RSA PRIVATE KEY-----\n<your key here>\n-----END RSA PRIVATE KEY-----", fam)
    n.text("```\n")
    bad = c.file("tests/fixtures/bad_keys.py")
    bad.text('"""Fixtures for the key parser: none of these is a key."""\n')
    bad.neg('BAD_KEY = """-----BEGIN RSA PRIVATE KEY-----\nBad Key\nThis is not base64 at all, only prose in a PEM wrapper.\n-----END RSA PRIVATE KEY-----"""', fam)
    bad.neg('TRUNCATED = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----"', fam)
    bad.neg('HEADER_ONLY = "-----BEGIN EC PRIVATE KEY-----"\nPEM_MARKER = b"-----BEGIN OPENSSH PRIVATE KEY-----"', fam)
    bad.neg("if line.startswith('-----BEGIN PRIVATE KEY-----'):\n    in_key = True", fam)
    ca = c.file("deploy/tls/ca-bundle.crt")
    for _ in range(4):
        for ln in keys.cert().strip().split("\n"):
            ca.neg(ln, fam)
    pub = c.file("deploy/tls/jwt-public.pem")
    for _ in range(2):
        for ln in keys.public().strip().split("\n"):
            pub.neg(ln, fam)
    ak = c.file("home/.ssh/authorized_keys")
    for _ in range(8):
        ak.neg(keys.ssh_public(), fam)
    kh = c.file("home/.ssh/known_hosts")
    for i in range(12):
        kh.neg(f"|1|{b64(rbytes(20))}|{b64(rbytes(20))} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{b64(rbytes(32))[:43]}", fam)
    jwks = c.file("web/public/.well-known/jwks.json")
    pubjwk = {k: v for k, v in keys.jwk().items() if k != "d"}
    for ln in json.dumps({"keys": [pubjwk]}, indent=2).split("\n"):
        jwks.neg(ln, fam)
    wgp = c.file("docs/vpn.md")
    wgp.neg(f"[Peer]\nPublicKey = {b64(rbytes(32))}\nPresharedKey = <generated with wg genpsk>\nPrivateKey = <contents of /etc/wireguard/private.key>", fam)


def w_encrypted_keys(c, keys):
    fam = "encrypted-private-keys"
    for i in range(6):
        pem_pos(c.sensitive_file(f"deploy/keys/encrypted-{i}.pem"), keys.encrypted_pkcs8(R.choice(["RSA", "EC"])), fam)
    for i in range(4):
        pem_pos(c.sensitive_file(f"deploy/keys/legacy-{i}.key"), keys.encrypted_traditional(), fam)
    for i in range(3):
        f = c.file(f"home/.ssh/deploy_{i}")
        pem_pos(f, keys.openssh(passphrase=password()), fam)
    y = c.file("config/signing-encrypted.yaml")
    y.text("signing:\n  passphrase_env: SIGNING_PASSPHRASE\n  key: |")
    pem_pos(y, keys.encrypted_pkcs8("RSA"), fam, prefix="    ")
    pem = keys.encrypted_pkcs8("EC")
    c.file("config/encrypted-key.json").pos(json.dumps({"encrypted_key": pem}), fam, pem_body_line(pem))
    pem = keys.encrypted_pkcs8("RSA")
    c.file("src/auth/encrypted_key.ts").pos(f"export const ENCRYPTED_KEY = '{pem.replace(chr(10), chr(92) + 'n')}';", fam, pem_body_line(pem))


def w_jwt(c, keys):
    fam = "jwt"
    env = c.file("deploy/.env.production")
    for name in ["SERVICE_JWT", "ADMIN_API_JWT"]:
        t = jwt(jwt_claims())
        env.pos(f"{name}={t}", fam, t)
    sh = c.file("home/.bash_history")
    for _ in range(3):
        t = jwt(jwt_claims(), R.choice(["HS256", "RS256"]))
        sh.pos(f"curl -H 'Authorization: Bearer {t}' https://api.acme.test/v2/orders", fam, t)
    log = c.file("logs/gateway.log")
    for _ in range(4):
        t = jwt(jwt_claims(), "RS256")
        log.pos(f"2026-11-30 09:0{R.randint(0, 9)}:1{R.randint(0, 9)} DEBUG auth header=Bearer {t}", fam, t)
    jl = c.file("logs/worker.jsonl")
    for _ in range(3):
        t = jwt(jwt_claims(), "ES256")
        jl.pos(json.dumps({"ts": "2026-11-30T08:18:00Z", "level": "debug", "msg": "token refreshed", "access_token": t}), fam, t)
    ts = c.file("web/src/api/session.ts")
    ts.text("// Session bootstrap for the admin console")
    for _ in range(2):
        t = jwt(jwt_claims())
        ts.pos(f"localStorage.setItem('token', '{t}');", fam, t)
    http = c.file("tests/http/orders.http")
    for _ in range(2):
        t = jwt(jwt_claims(), "RS256")
        http.text("GET https://api.acme.test/v2/orders\nAccept: application/json").pos(f"Authorization: Bearer {t}", fam, t).text("")
    cookie = c.file("logs/access.log")
    for _ in range(2):
        t = jwt(jwt_claims())
        cookie.pos(f'10.0.3.{R.randint(1, 254)} - - [30/Nov/2026:09:12:01 +0000] "GET /admin HTTP/1.1" 200 5120 "-" "Mozilla/5.0" cookie="session={t}"', fam, t)
    sup = jwt({"iss": "supabase", "ref": rnd(LOWER, 20), "role": "service_role", "iat": 1790000000, "exp": 2105000000})
    c.file("web/src/supabase.ts").pos(f"const SUPABASE_SERVICE_ROLE_KEY = '{sup}';", fam, sup)
    # negatives
    n = c.file("docs/auth.md")
    n.text("# Authentication\n\nThe example token from jwt.io decodes to a sample subject:\n")
    n.neg("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c", fam)
    n.neg("Authorization: Bearer <token>\nAuthorization: Bearer ${TOKEN}\nAuthorization: Bearer $ACCESS_TOKEN\n"
          "token = jwt.encode(payload, key, algorithm=\"HS256\")\nheaders = {\"Authorization\": f\"Bearer {token}\"}\n"
          "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ...\nAuthorization: Bearer eyJhbGciOi...", fam)
    unsigned = b64url(b'{"alg":"none","typ":"JWT"}') + "." + b64url(json.dumps(jwt_claims()).encode()) + "."
    n.neg(f"Unsigned tokens are rejected: {unsigned}", fam)


def w_generic(c, keys):
    fam = "generic-passwords"
    notes = c.file("docs/onboarding-notes.md")
    notes.text("# Onboarding notes (ops)\n\nAccess for the new staging box:\n")
    for user in ["alice", "bob.k", "svc-backup"]:
        pw = password()
        notes.pos(f"- ID: {user} PW: {pw}", fam, pw)
    pw = word_password()
    notes.pos(f"The VPN password is {pw} until the next rotation.", fam, pw)
    pw = password()
    notes.pos(f"Wi-Fi (guest): SSID acme-guest, password: {pw}", fam, pw)
    pw = password()
    notes.pos(f"admin console login: admin / password is `{pw}`", fam, pw)
    sh = c.file("scripts/ops-maintenance.sh")
    sh.text("#!/usr/bin/env bash\n# Nightly maintenance (run from the bastion).\nset -euo pipefail")
    cmds = [
        "mysql -u root -p{pw} -h db.acme.internal shop < migrations/0042.sql",
        "mysqldump -uroot -p'{pw}' --all-databases > /backup/all.sql",
        "PGPASSWORD='{pw}' psql -h pg.acme.internal -U postgres -c 'VACUUM ANALYZE'",
        "psql \"postgresql://admin:{url_pw}@pg.acme.internal:5432/postgres\" -c 'select 1'",
        "sshpass -p '{pw}' ssh -o StrictHostKeyChecking=no deploy@10.20.1.7 'sudo systemctl restart api'",
        "sshpass -p {pw} scp build.tgz deploy@10.20.1.8:/opt/releases/",
        "curl -u admin:{pw} -X POST https://jenkins.acme.internal/job/deploy/build",
        "curl --user ci-bot:{pw} https://nexus.acme.internal/repository/releases/ -T app.jar",
        "docker login registry.acme.internal -u ci -p {pw}",
        "redis-cli -h cache.acme.internal -a '{pw}' FLUSHDB",
        "rabbitmqctl add_user orders '{pw}'",
        "./manage.py createsuperuser --username ops --password {pw}",
        "java -jar tool.jar --db-user app --db-password={pw}",
        "htpasswd -b -c /etc/nginx/.htpasswd ops {pw}",
        "echo '{pw}' | sudo -S systemctl restart nginx",
        "mongo admin -u root -p '{pw}' --eval 'db.runCommand({{ping: 1}})'",
    ]
    for cmd in cmds:
        pw = db_password() if "{url_pw}" in cmd else password()
        sh.pos(cmd.format(pw=pw, url_pw=pw), fam, pw)
    hist = c.file("home/.bash_history")
    passwords_in(hist, fam, ["mysql -uadmin -p{pw} orders", "sshpass -p '{pw}' ssh root@192.168.10.4", "curl -u jenkins:{pw} https://ci.acme.internal/api/json",
                             "net use Z: \\\\fs01\\share /user:ACME\\ops {pw}"])
    ps = c.file("scripts/Set-ServiceAccount.ps1")
    ps.text("# Creates the service account on the build agents")
    passwords_in(ps, fam, ['$secure = ConvertTo-SecureString "{pw}" -AsPlainText -Force',
                           "$cred = New-Object PSCredential('ACME\\svc-build', (ConvertTo-SecureString '{pw}' -AsPlainText -Force))",
                           'net user svc-build {pw} /add /y'])
    props = c.file("src/main/resources/application.properties")
    props.text("spring.application.name=orders\nspring.datasource.url=jdbc:postgresql://db.acme.internal:5432/orders\nspring.datasource.username=orders")
    for key in ["spring.datasource.password", "spring.mail.password", "spring.rabbitmq.password", "app.keystore.password"]:
        pw = password()
        props.pos(f"{key}={pw}", fam, pw)
    yml = c.file("src/main/resources/application-prod.yml")
    for key in ["password", "admin-password"]:
        pw = password()
        yml.pos(f"  {key}: {pw}", fam, pw)
    dump = c.file("loot/pwdump.txt")
    for user, rid in [("Administrator", 500), ("svc_sql", 1104), ("jdoe", 1105)]:
        nt = rnd(HEX, 32)
        dump.pos(f"{user}:{rid}:aad3b435b51404eeaad3b435b51404ee:{nt}:::", fam, nt)
    env = c.file("deploy/.env.production")
    for key in ["DB_PASSWORD", "SMTP_PASSWORD", "ADMIN_PASSWORD", "KEYCLOAK_ADMIN_PASSWORD"]:
        pw = password()
        env.pos(f"{key}={pw}", fam, pw)
    py = c.file("services/reports/mailer.py")
    py.text('"""Sends the nightly reports."""\nimport smtplib\n')
    pw = password()
    py.pos(f'SMTP_PASSWORD = "{pw}"', fam, pw)
    pw = password()
    py.pos(f'server.login("reports@acme.test", "{pw}")', fam, pw)
    js = c.file("web/server/config.js")
    pw = password()
    js.text("module.exports = {\n  db: {\n    host: 'db.acme.internal',\n    user: 'web',")
    js.pos(f"    password: '{pw}',", fam, pw)
    js.text("  },\n};")
    mvn = c.file("home/.m2/settings.xml")
    mvn.text("<settings>\n  <servers>\n    <server>\n      <id>acme-releases</id>\n      <username>deployer</username>")
    pw = password()
    mvn.pos(f"      <password>{pw}</password>", fam, pw)
    mvn.text("    </server>\n  </servers>\n</settings>")
    netrc = c.sensitive_file("home/.netrc")
    pw = password()
    netrc.pos(f"machine artifacts.acme.internal login ci password {pw}", fam, pw)
    gitcfg = c.file("deploy/ansible/group_vars/db.yml")
    for key in ["mysql_root_password", "postgres_admin_password", "replication_password"]:
        pw = password()
        gitcfg.pos(f"{key}: \"{pw}\"", fam, pw)
    redis = c.file("deploy/redis/redis.conf")
    pw = password(32)
    redis.text("bind 0.0.0.0\nport 6379").pos(f"requirepass {pw}", fam, pw)
    log = c.file("logs/deploy.log")
    pw = password()
    log.pos(f"2026-11-29T22:05:00Z ansible[902]: TASK [db : create user] changed: user=app password={pw}", fam, pw)
    # negatives
    n = c.file("services/auth/forms.py")
    n.text('"""Login and password-reset forms."""\n')
    n.neg('password = request.form["password"]\nconfirm_password = request.form.get("confirm_password")\n'
          "if password != confirm_password:\n    raise ValueError(\"passwords differ\")\n"
          'PASSWORD_MIN_LENGTH = 12\npassword_hash = "$2b$12$' + rnd(B64URL.replace("-", "."), 53) + '"\n'
          'password_field = "password"\nlabel = _("Forgot password?")\n'
          'DB_PASSWORD = os.environ["DB_PASSWORD"]\npassword = getpass.getpass("Password: ")\n'
          'user.set_password(form.cleaned_data["password1"])\npassword = None\n'
          'RESET_URL = "/accounts/password/reset/"', fam)
    d = c.file("docs/operations.md")
    d.text("# Operations\n\nCredentials live in Vault; never paste them into tickets.\n")
    d.neg("mysql -u root -p$MYSQL_ROOT_PASSWORD shop\nmysql -u root -p shop   # prompts for the password\n"
          "PGPASSWORD=\"$PGPASSWORD\" psql -h \"$PGHOST\" -U postgres\n"
          "sshpass -p \"$SSHPASS\" ssh deploy@host\nsshpass -e ssh deploy@host\n"
          "curl -u \"$JENKINS_USER:$JENKINS_TOKEN\" https://ci.example.com/api/json\n"
          "curl -u <user>:<password> https://nexus.example.com/\n"
          "docker login -u ci -p \"$REGISTRY_PASSWORD\" registry.acme.internal\n"
          "docker login --password-stdin < token.txt\n"
          "$secure = ConvertTo-SecureString $env:SVC_PASSWORD -AsPlainText -Force\n"
          "$secure = Read-Host -AsSecureString\n"
          "spring.datasource.password=${DB_PASSWORD}\nspring.datasource.password=\n"
          "ID: <username> PW: <password>\nThe password is stored in Vault under secret/ops/vpn.\n"
          "password: changeme\npassword: \"{{ vault_db_password }}\"\n"
          "--password <password>   the password to set (required)\n"
          "Guest:501:aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0:::\n"
          "requirepass foobared\nredis-cli -a \"$REDIS_PASSWORD\" ping\n"
          "<password>${env.NEXUS_PASSWORD}</password>\nmachine example.com login user password PASSWORD", fam)
    t = c.file("tests/test_login.py")
    t.text('"""Login tests run against the in-memory user store."""\n')
    t.neg('TEST_PASSWORD = "test"\nFAKE_PASSWORD = "fake-password-for-tests"\n'
          'def test_rejects_wrong_password(client):\n    assert client.login("alice", "wrong") is False\n'
          'mock_secret = "not-a-real-secret"\napi_key = "test-api-key"\ntoken = "dummy-token"\n'
          'password = "password"\npassword = "********"\npassword = "<PASSWORD>"', fam)


def k8s_secret_doc(name, data):
    out = ["---", "apiVersion: v1", "kind: Secret", "metadata:", f"  name: {name}", "type: Opaque", "data:"]
    return out, data


def w_encoded(c, keys):
    fam = "encoded"
    k = c.file("k8s/secrets.yaml")
    k.text("# Rendered by the release pipeline on 2026-11-30")
    for name in ["orders-db", "payments", "search"]:
        k.text(f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: prod\ntype: Opaque\ndata:")
        pw = password()
        k.pos(f"  DB_PASSWORD: {b64(pw.encode())}", fam, b64(pw.encode()), pw)
        url = f"postgres://{name}:{db_password()}@pg.acme.internal:5432/{name}"
        k.pos(f"  DATABASE_URL: {b64(url.encode())}", fam, b64(url.encode()), url)
        t = stripe("sk_live_") if name == "payments" else gh("ghp_")
        k.pos(f"  API_TOKEN: {b64(t.encode())}", fam, b64(t.encode()), t)
        k.neg(f"  LOG_LEVEL: {b64(b'info')}\n  REGION: {b64(b'eu-west-1')}", fam)
    for i in range(3):
        user, pw = "ci-robot", password()
        cfg = {"auths": {f"registry{i}.acme.internal": {"username": user, "password": pw, "auth": b64(f"{user}:{pw}".encode())}}}
        enc = b64(json.dumps(cfg).encode())
        k.text(f"---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: regcred-{i}\ntype: kubernetes.io/dockerconfigjson\ndata:")
        k.pos(f"  .dockerconfigjson: {enc}", fam, enc[:80], pw)
    dc = c.sensitive_file("home/.docker/config.json")
    user, pw = "deployer", password()
    dc.text('{\n  "auths": {\n    "registry.acme.internal": {')
    dc.pos(f'      "auth": "{b64(f"{user}:{pw}".encode())}"', fam, b64(f"{user}:{pw}".encode()), pw)
    dc.text("    }\n  }\n}")
    q = c.file("logs/access.log")
    for _ in range(3):
        pw = db_password()
        raw = f"postgres://app:{pw}@db-prod.internal:5432/orders"
        enc = urllib.parse.quote(raw, safe="")
        q.pos(f'10.0.3.{R.randint(1, 254)} - - [30/Nov/2026:09:13:0{R.randint(0, 9)} +0000] "GET /admin/debug?dsn={enc} HTTP/1.1" 400 77', fam, enc, pw)
    t = gh("ghp_")
    enc = urllib.parse.quote(f"https://x-access-token:{t}@github.com/acme/app.git", safe="")
    q.pos(f'10.0.3.9 - - [30/Nov/2026:09:14:00 +0000] "GET /redirect?to={enc} HTTP/1.1" 302 0', fam, t)
    hx = c.file("config/legacy-hex.ini")
    hx.text("; values stored hex-encoded by the old config tool")
    for t in [slack_bot(), f"aws_secret_access_key = {aws_secret()}", openai_proj(), f"mysql://root:{db_password()}@db:3306/app"]:
        enc = t.encode().hex()
        hx.pos(f"value_{rnd(LOWER, 4)} = {enc}", fam, enc[:64], t.split(" = ")[-1])
    js = c.file("web/dist/config.json")
    js.text("{")
    for t in [gh("ghp_"), stripe("sk_live_"), anthropic(), slack_bot()]:
        esc = "".join(f"\\u{ord(ch):04x}" for ch in t)
        js.pos(f'  "{rnd(LOWER, 6)}": "{esc}",', fam, t)
    js.text('  "v": 1\n}')
    bb = c.file("deploy/bootstrap.env.b64")
    for t in [f"AWS_SECRET_ACCESS_KEY={aws_secret()}", f"GITHUB_TOKEN={gh('ghp_')}", f"DATABASE_URL=postgres://app:{db_password()}@db/app"]:
        enc = b64(b64(t.encode()).encode())
        bb.pos(enc, fam, enc[:60], t.split("=", 1)[1])
    pyb = c.file("scripts/seed.py")
    t = anthropic()
    enc = b64(t.encode())
    pyb.text('"""Seeds the demo tenant."""\nimport base64\n').pos(f'KEY = base64.b64decode("{enc}").decode()', fam, enc, t)
    t = f"xoxb-{R.randint(10**10, 10**11)}-{R.randint(10**12, 10**13)}-{rnd(ALNUM, 24)}"
    enc = b64url(t.encode())
    pyb.pos(f'SLACK = base64.urlsafe_b64decode("{enc}==").decode()', fam, enc, t)
    # negatives: encoded harmless data
    n = c.file("k8s/configmap-encoded.yaml")
    n.text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: public-settings\ntype: Opaque\ndata:")
    for key, val in [("FEATURE_FLAGS", "checkout-v2,search-beta"), ("LOG_LEVEL", "debug"), ("HOSTNAME", "api.acme.test"),
                     ("GREETING", "hello world, this is the staging cluster"), ("TIMEOUT", "30s"), ("USERNAME", "orders"),
                     ("DB_PASSWORD_REF", "${DB_PASSWORD}"), ("PASSWORD", "changeme")]:
        n.neg(f"  {key}: {b64(val.encode())}", fam)
    n.neg(f"  ca.crt: {b64(keys.cert().encode())}", fam)
    p = c.file("logs/access.log")
    for i in range(20):
        qs = urllib.parse.quote(f"https://shop.acme.test/search?q={rnd(LOWER, 6)}&page={i}", safe="")
        p.neg(f'10.0.4.{R.randint(1, 254)} - - [30/Nov/2026:09:2{i % 10}:00 +0000] "GET /login?next={qs} HTTP/1.1" 302 0 "-" "curl/8.5"', fam)
    hx = c.file("config/legacy-hex.ini")
    for i in range(10):
        hx.neg(f"label_{i} = {('Acme store #' + str(i) + ' opening hours 9-17').encode().hex()}", fam)


def w_general_negatives(c, keys):
    # lockfiles: integrity hashes and resolved URLs
    lock = c.file("web/package-lock.json")
    lock.text('{\n  "name": "web",\n  "lockfileVersion": 3,\n  "packages": {')
    for i in range(150):
        name = rnd(LOWER, R.randint(3, 10))
        ver = f"{R.randint(0, 9)}.{R.randint(0, 30)}.{R.randint(0, 20)}"
        lock.text(f'    "node_modules/{name}": {{\n      "version": "{ver}",')
        lock.neg(f'      "resolved": "https://registry.npmjs.org/{name}/-/{name}-{ver}.tgz",\n'
                 f'      "integrity": "sha512-{b64(rbytes(64))}",', "any")
        lock.text("      \"dev\": true\n    },")
    lock.text('    "": {}\n  }\n}')
    yl = c.file("web/yarn.lock")
    for i in range(60):
        name = rnd(LOWER, 7)
        yl.text(f'"{name}@^1.{i}.0":\n  version "1.{i}.3"')
        yl.neg(f'  resolved "https://registry.yarnpkg.com/{name}/-/{name}-1.{i}.3.tgz#{rnd(HEX, 40)}"\n  integrity sha1-{b64(rbytes(20))}', "any")
        yl.text("")
    gs = c.file("go.sum")
    for i in range(100):
        mod = f"github.com/{rnd(LOWER, 6)}/{rnd(LOWER, 8)}"
        v = f"v{R.randint(0, 2)}.{R.randint(0, 40)}.{R.randint(0, 9)}"
        gs.neg(f"{mod} {v} h1:{b64(rbytes(32))}\n{mod} {v}/go.mod h1:{b64(rbytes(32))}", "any")
    cl = c.file("Cargo.lock")
    for i in range(60):
        cl.text(f'[[package]]\nname = "{rnd(LOWER, 8)}"\nversion = "0.{i}.1"\nsource = "registry+https://github.com/rust-lang/crates.io-index"')
        cl.neg(f'checksum = "{rnd(HEX, 64)}"', "any")
        cl.text("")
    sums = c.file("dist/SHA256SUMS")
    for i in range(40):
        sums.neg(f"{rnd(HEX, 64)}  acme-cli-1.{i}.0-{R.choice(['linux', 'darwin', 'windows'])}-{R.choice(['amd64', 'arm64'])}.tar.gz", "any")
    md5 = c.file("dist/MD5SUMS")
    for i in range(20):
        md5.neg(f"{rnd(HEX, 32)}  docs/asset-{i}.pdf", "any")
    # identifiers in logs
    jl = c.file("logs/requests.jsonl")
    for i in range(120):
        jl.neg(json.dumps({"ts": f"2026-11-30T09:{i // 60:02d}:{i % 60:02d}Z", "request_id": uuid(), "trace_id": rnd(HEX, 32),
                           "user_id": uuid(), "session": rnd(HEX, 16), "path": f"/api/orders/{R.randint(1000, 99999)}",
                           "etag": f"W/\"{rnd(HEX, 40)}\"", "status": R.choice([200, 200, 201, 404])}), "any")
    # base64 images and fonts
    css = c.file("web/src/styles/inline-assets.css")
    for i in range(15):
        css.neg(f".icon-{i} {{ background-image: url(data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQ{b64(rbytes(R.randint(120, 400)))}); }}", "any")
    for i in range(4):
        css.neg(f"@font-face {{ font-family: 'Acme{i}'; src: url(data:font/woff2;base64,d09GMgABAAAAA{b64(rbytes(900))}) format('woff2'); }}", "any")
    html = c.file("web/public/email-template.html")
    html.text("<!doctype html>\n<html><body>")
    for i in range(8):
        html.neg(f'<img alt="logo {i}" src="data:image/gif;base64,R0lGODlh{b64(rbytes(R.randint(60, 300)))}">', "any")
    html.text("</body></html>")
    # minified JS: long identifier soup, hashes, random strings
    mjs = c.file("web/dist/vendor.min.js")
    for i in range(30):
        parts = []
        for _ in range(40):
            v = rnd(LOWER, R.randint(1, 2))
            parts.append(R.choice([
                f"var {v}=function(e,t){{return e[t]}}",
                f"{v}.prototype.{rnd(LOWER, 5)}=function(){{return this._{rnd(LOWER, 3)}}}",
                f"{v}(\"{rnd(ALNUM, R.randint(20, 40))}\")",
                f"{{id:\"{rnd(HEX, 24)}\",hash:\"{rnd(B64URL, 43)}\"}}",
                f"{v}=\"sha384-{b64(rbytes(48))}\"",
                f"className:\"css-{rnd(LOWER + DIGITS, 6)} {rnd(LOWER, 5)}-{rnd(LOWER + DIGITS, 5)}\"",
            ]))
        mjs.neg(";".join(parts) + ";", "any")
    # placeholders and references in config
    ex = c.file("deploy/.env.example")
    ex.text("# Copy to .env and fill in. Never commit the filled-in file.")
    for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "STRIPE_SECRET_KEY", "OPENAI_API_KEY",
                "SLACK_BOT_TOKEN", "DATABASE_URL", "DB_PASSWORD", "SENTRY_AUTH_TOKEN", "JWT_SECRET", "API_KEY", "SECRET_KEY"]:
        ex.neg(f"{key}={R.choice(['', 'changeme', 'your-api-key', '<token>', 'xxxx', 'replace-me', 'TODO', 'CHANGE_ME'])}", "any")
    hv = c.file("helm/templates/deployment.yaml")
    hv.text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          env:")
    for key in ["DB_PASSWORD", "API_TOKEN", "STRIPE_KEY", "AWS_SECRET_ACCESS_KEY", "JWT_SECRET", "SLACK_TOKEN"]:
        hv.neg(f"            - name: {key}\n              value: {{{{ .Values.secrets.{key.lower()} | quote }}}}", "any")
        hv.neg(f"            - name: {key}_FROM_SECRET\n              valueFrom:\n                secretKeyRef:\n                  name: app-secrets\n                  key: {key.lower()}", "any")
    tf = c.file("infra/modules/app/main.tf")
    for key in ["db_password", "api_token", "client_secret", "access_key", "secret_key"]:
        tf.neg(f'variable "{key}" {{\n  type      = string\n  sensitive = true\n}}', "any")
        tf.neg(f'resource "aws_ssm_parameter" "{key}" {{\n  name  = "/app/{key}"\n  type  = "SecureString"\n  value = var.{key}\n}}', "any")
    ci = c.file(".circleci/config.yml")
    ci.text("version: 2.1\njobs:\n  build:\n    docker:\n      - image: cimg/node:20.11\n    environment:")
    for key in ["NPM_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "DOCKER_PASSWORD", "SONAR_TOKEN"]:
        ci.neg(f"      {key}: ${{{key}}}", "any")
    ci.text("    steps:\n      - checkout\n      - run: npm ci && npm test")
    dfx = c.file("docker/Dockerfile.build")
    dfx.text("FROM node:20-alpine AS build")
    dfx.neg("ARG NPM_TOKEN\nRUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci\n"
            "ENV API_KEY=\"\"\nENV DB_PASSWORD=${DB_PASSWORD}\nRUN echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc", "any")
    # code that names secrets without holding any
    go = c.file("internal/config/config.go")
    go.text("package config\n\nimport \"os\"\n")
    go.neg('var apiKey = os.Getenv("API_KEY")\nvar dbPassword = os.Getenv("DB_PASSWORD")\n'
           'const tokenHeader = "X-Api-Token"\nconst secretName = "projects/acme/secrets/api-key/versions/latest"\n'
           'type Credentials struct {\n\tAccessKey string `json:"access_key"`\n\tSecretKey string `json:"secret_key"`\n}\n'
           'func (c Credentials) Redacted() string { return "secret_key=REDACTED" }', "any")
    rs = c.file("src/crypto/hash.rs")
    rs.text("//! Content hashes used for caching.")
    for i in range(20):
        rs.neg(f'const DIGEST_{i}: &str = "{rnd(HEX, 64)}"; // sha256 of fixture {i}', "any")
    for i in range(10):
        rs.neg(f'const OBJECT_{i}: [u8; 20] = hex!("{rnd(HEX, 40)}");', "any")
    # docs with documentation examples and UUID-heavy tables
    md = c.file("docs/api-reference.md")
    md.text("# API reference\n\nAuthenticate with a bearer token from the dashboard.\n\n```http")
    md.neg("GET /v2/orders HTTP/1.1\nHost: api.example.com\nAuthorization: Bearer YOUR_API_TOKEN\nX-Api-Key: <api-key>", "any")
    md.text("```\n\n| order | customer | created |\n| --- | --- | --- |")
    for i in range(60):
        md.neg(f"| {uuid()} | {uuid()} | 2026-11-{R.randint(1, 30):02d}T{R.randint(0, 23):02d}:00:00Z |", "any")
    # Java, C#, PHP, Ruby with harmless constants
    cs = c.file("src/Acme.Api/Constants.cs")
    cs.text("namespace Acme.Api;\n\npublic static class Constants\n{")
    for i in range(20):
        cs.neg(f'    public const string Feature{i}Id = "{uuid()}";\n    public const string Asset{i}Hash = "{rnd(HEX, 40)}";', "any")
    cs.text("}")
    php = c.file("app/config/services.php")
    php.text("<?php\n\nreturn [")
    for name in ["stripe", "mailgun", "slack", "github", "twilio"]:
        php.neg(f"    '{name}' => [\n        'key' => env('{name.upper()}_KEY'),\n        'secret' => env('{name.upper()}_SECRET'),\n    ],", "any")
    php.text("];")
    rb = c.file("config/initializers/secrets_check.rb")
    rb.neg("required = %w[SECRET_KEY_BASE DATABASE_URL REDIS_URL]\nmissing = required.reject { |k| ENV.key?(k) }\n"
           "raise \"missing: #{missing.join(', ')}\" if missing.any?\n"
           "Rails.application.credentials.secret_key_base\nsecret = Rails.application.credentials.dig(:aws, :secret_access_key)", "any")
    ipynb = c.file("notebooks/exploration.ipynb")
    src = [f"df['hash_{i}'] = '{rnd(HEX, 32)}'\n" for i in range(10)]
    cells = [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [
        {"output_type": "display_data", "data": {"image/png": b64(rbytes(600))}, "metadata": {}}], "source": src}]
    for ln in json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1).split("\n"):
        if "hash_" in ln or "image/png" in ln:
            ipynb.neg(ln, "any")
        else:
            ipynb.text(ln)

def w_issue13_providers(c, keys):
    """Providers issue 13 names as missed by hush: one or two values each, in their usual places."""
    fam = "saas-api"
    toks = [
        ("AIVEN_SERVICE_PASSWORD", "AVNS_" + rnd(ALNUM, 22)),
        ("APIFY_TOKEN", "apify_api_" + rnd(ALNUM, 36)),
        ("FASTLY_API_TOKEN", rnd(B64URL, 32)),
        ("HARNESS_PAT", f"pat.{rnd(B64URL, 22)}.{rnd(HEX, 24)}.{rnd(ALNUM, 20)}"),
        ("KLAVIYO_PRIVATE_KEY", "pk_" + rnd(HEX, 34)),
        ("RAPIDAPI_KEY", rnd(HEX, 10) + "msh" + rnd(HEX, 15) + "p1" + rnd(HEX, 6) + "jsn" + rnd(HEX, 12)),
        ("ROOTLY_API_TOKEN", "rootly_" + rnd(HEX, 64)),
        ("SALESFORCE_ACCESS_TOKEN", f"00D{rnd(ALNUM, 12)}!{rnd(ALNUM + '.', 96)}"),
        ("SENTRY_TOKEN", rnd(HEX, 64)),
        ("SOURCEGRAPH_TOKEN", "sgp_local_" + rnd(HEX, 40)),
        ("SUPABASE_SECRET_KEY", "sb_secret_" + rnd(B64URL, 31)),
        ("ZOHO_REFRESH_TOKEN", f"1000.{rnd(HEX, 32)}.{rnd(HEX, 32)}"),
        ("CLOJARS_TOKEN", "CLOJARS_" + rnd(HEX, 60)),
        ("SWARM_JOIN_TOKEN", f"SWMTKN-1-{rnd(LOWER + DIGITS, 50)}-{rnd(LOWER + DIGITS, 25)}"),
        ("SWARM_UNLOCK_KEY", "SWMKEY-1-" + rnd(B64, 43)),
        ("FACEBOOK_APP_TOKEN", f"{R.randint(10**14, 10**15)}|{rnd(HEX, 32)}"),
        ("FACEBOOK_ACCESS_TOKEN", "EAAG" + rnd(ALNUM, 180)),
        ("JIRA_PAT", b64(f"{R.randint(10**11, 10**12)}:".encode() + rbytes(20))),
        ("DROPBOX_TOKEN", rnd(ALNUM, 11) + "AAAAAAAAAA" + rnd(B64URL, 43)),
        ("AKAMAI_CLIENT_TOKEN", f"akab-{rnd(LOWER + DIGITS, 16)}-{rnd(LOWER + DIGITS, 16)}"),
        ("AKAMAI_CLIENT_SECRET", b64(rbytes(32))),
        ("DEFINED_API_KEY", f"dnkey-{rnd(UPPER + DIGITS, 26)}-{rnd(B32, 52)}"),
        ("INSTAGRAM_TOKEN", "IGQWR" + rnd(B64URL, 160)),
        ("MAILGUN_PRIVATE_KEY", f"{rnd(HEX, 32)}-{rnd(HEX, 8)}-{rnd(HEX, 8)}"),
        ("WECHAT_APP_SECRET", rnd(HEX, 32)),
        ("NATS_USER_SEED", nkey_seed()),
        ("AZURE_STORAGE_KEY", b64(rbytes(64))),
        ("ASSEMBLYAI_API_KEY", rnd(HEX, 32)),
        ("ALGOLIA_ADMIN_KEY", rnd(HEX, 32)),
        ("SENDGRID_KEY", "SG." + rnd(B64URL, 22) + "." + rnd(B64URL, 43)),
    ]
    families = {"AZURE_STORAGE_KEY": "azure"}
    cfg = c.file("deploy/helm/values-secrets.yaml")
    cfg.text("# Values for the integrations chart (prod). TODO: move to sealed secrets.\nintegrations:")
    go = c.file("internal/integrations/keys.go")
    go.text("package integrations\n\n// Keys used by the sync workers.\nconst (")
    for i, (name, t) in enumerate(toks):
        if i % 2:
            cfg.pos(f"  {name.lower()}: \"{t}\"", families.get(name, fam), t)
        else:
            camel = "".join(w.capitalize() for w in name.lower().split("_"))
            go.pos(f'\t{camel} = "{t}"', families.get(name, fam), t)
    go.text(")")
    chat = c.file("services/alerts/slack_legacy.py")
    chat.text('"""Legacy Slack integrations (to be migrated to the app)."""\n')
    for name, t in [("SLACK_REFRESH", f"xoxe-1-{rnd(ALNUM, 140)}"),
                    ("SLACK_CONFIG_TOKEN", f"xoxe.xoxp-1-{rnd(ALNUM, 160)}"),
                    ("SLACK_CLIENT_TOKEN", f"xoxc-{R.randint(10**10, 10**11)}-{R.randint(10**11, 10**12)}-{R.randint(10**12, 10**13)}-{rnd(HEX, 64)}"),
                    ("SLACK_COOKIE", "xoxd-" + urllib.parse.quote(b64(rbytes(120)), safe=""))]:
        chat.pos(f'{name} = "{t}"', "chat", t)
    t = telegram_bot()
    c.file("config/bots.txt").text("# name, token, owner").pos(f"release-notifier, {t}, platform-team", "chat", t)

def w_more_negatives(c, keys):
    """High-entropy text that is public by design: digests, addresses, nonces, fingerprints."""
    d = c.file("deploy/images.lock")
    for i in range(25):
        d.neg(f"{rnd(LOWER, 8)}/{rnd(LOWER, 6)}:1.{i}.0@sha256:{rnd(HEX, 64)}", "any")
    h = c.file("web/public/index.html")
    h.text("<!doctype html>\n<html>\n<head>")
    for i in range(12):
        h.neg(f'  <script src="https://cdn.acme.test/lib-{i}.js" integrity="sha384-{b64(rbytes(48))}" crossorigin="anonymous"></script>', "any")
    h.neg(f"  <meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'nonce-{b64(rbytes(16))}' 'strict-dynamic'\">", "any")
    h.text("</head>\n<body></body>\n</html>")
    w = c.file("docs/donations.md")
    w.text("# Wallets (public addresses)\n")
    for i in range(10):
        w.neg(f"- ETH: 0x{rnd(HEX, 40)}\n- BTC: bc1q{rnd(BECH32, 38)}", "any")
    f = c.file("docs/ssh-fingerprints.md")
    for i in range(12):
        f.neg(f"- bastion-{i}: SHA256:{b64(rbytes(32)).rstrip('=')} (ED25519)", "any")
    a = c.file("docs/http-examples.md")
    a.text("# HTTP examples\n")
    a.neg("Authorization: Basic dXNlcjpwYXNzd29yZA==\nAuthorization: Basic <base64 of user:password>\n"
          "Authorization: Basic ${BASIC_AUTH}\nX-API-Key: {{api_key}}\nCookie: session=<session-cookie>", "any")
    n = c.file("services/billing/ids.py")
    n.text('"""Identifiers of records created by the test suite."""\n')
    for i in range(20):
        n.neg(f'INVOICE_{i} = "in_{rnd(ALNUM, 24)}"  # stripe object id, not a key\nORDER_{i} = "{uuid()}"', "any")
    g = c.file("web/src/analytics.ts")
    g.text("// Public identifiers and search-only keys (sent by every browser).")
    g.neg(f"const GA_ID = 'G-{rnd(UPPER + DIGITS, 10)}';\n"
          f"const ALGOLIA_SEARCH_ONLY_KEY = '{rnd(HEX, 32)}'; // search-only, public\n"
          f"const RECAPTCHA_SITE_KEY = '6L{rnd(B64URL, 38)}';", "saas-api")


def write_all(c, keys):
    w_aws(c, keys)
    w_gcp(c, keys)
    w_azure(c, keys)
    w_github(c, keys)
    w_vcs(c, keys)
    w_chat(c, keys)
    w_payments(c, keys)
    w_ai(c, keys)
    w_saas(c, keys)
    w_database(c, keys)
    w_private_keys(c, keys)
    w_encrypted_keys(c, keys)
    w_jwt(c, keys)
    w_generic(c, keys)
    w_encoded(c, keys)
    w_issue13_providers(c, keys)
    w_general_negatives(c, keys)
    w_more_negatives(c, keys)
    w_command_lines_and_glued_escapes(c, keys)


def w_command_lines_and_glued_escapes(c, keys):
    """Leaks found after the corpus was first measured: a password given to a command in its
    environment, a prose password holding `$`, and a token glued to the one percent escape before
    it (no word boundary as written). Written last, so the values before them do not change."""
    fam = "generic-passwords"
    sh = c.file("ops/runbooks/restore.sh")
    sh.text("#!/usr/bin/env bash\n# Restores last night's dump into the staging database.\nset -euo pipefail")
    passwords_in(sh, fam, ["PGPASSWORD={pw} pg_restore -h db-staging.internal -U app -d orders /backups/orders.dump",
                           'MYSQL_PWD="{pw}" mysqldump --single-transaction shop > /backups/shop.sql',
                           "SSHPASS={pw} sshpass -e rsync -a /backups/ backup@10.0.4.12:/srv/backups/"])
    sh.neg('PGPASSWORD="$PGPASSWORD_STAGING" pg_restore -h db-staging.internal -U app -d orders /backups/orders.dump\n'
           "PGPASSWORD=$(cat /run/secrets/pg) psql -h db-staging.internal -c 'select 1'\n"
           "BYPASS_CACHE=1 make build\n"
           "OLDPWD=/srv/app2 cd -", fam)
    notes = c.file("docs/notes/handover.md")
    notes.text("# Handover\n\nThings the on-call engineer needs this week.\n")
    pw = f"{R.choice(['Harbor', 'Quartz', 'Orbit'])}${rnd(ALNUM, 6)}{R.randint(10, 99)}"
    notes.pos(f"The staging admin password is {pw} until Friday's rotation.", fam, pw)
    notes.neg("The admin password is ${STAGING_ADMIN_PASSWORD}, from the vault.\n"
              "The password is $(pass show staging/admin) on the jump host.", fam)
    fam = "encoded"
    log = c.file("logs/oauth-callback.log")
    for _ in range(2):
        t = gh("ghp_")
        log.pos(f'10.0.7.{R.randint(1, 254)} - - [01/Dec/2026:10:2{R.randint(0, 9)}:00 +0000] "GET /oauth/cb?state=token%3D{t} HTTP/1.1" 302 0', fam, t)
    t = gh("ghp_")
    log.pos(f'10.0.7.{R.randint(1, 254)} - - [01/Dec/2026:10:31:00 +0000] "GET /hook?payload=%22{t} HTTP/1.1" 400 0', fam, t)
    log.neg('10.0.7.9 - - [01/Dec/2026:10:32:00 +0000] "GET /search?q=50%25+off+shoes HTTP/1.1" 200 5120', fam)
    fam = "generic-passwords"
    ci = c.file("ci/deploy-staging.sh")
    ci.text("#!/usr/bin/env bash\n# Brings up the staging stack by hand (the pipeline does the same).\nset -euo pipefail")
    passwords_in(ci, fam, ["docker run -d --name pg -e POSTGRES_PASSWORD={pw} postgres:16",
                           "kubectl -n staging create secret generic orders-db --from-literal=username=orders --from-literal=password={pw}",
                           "helm upgrade --install orders ./charts/orders --set image.tag=2.4.1,postgresql.auth.password={pw}"])
    ci.neg("docker run -d --name pg -e POSTGRES_PASSWORD=$POSTGRES_PASSWORD postgres:16\n"
           "docker run -d --name pg -e POSTGRES_PASSWORD_FILE=/run/secrets/pg postgres:16\n"
           'kubectl -n staging create secret generic orders-db --from-literal=password="${ORDERS_DB_PASSWORD}"\n'
           "helm upgrade --install orders ./charts/orders --set postgresql.auth.password=<password>", fam)



def main():
    c = Corpus()
    keys = Keys()
    try:
        write_all(c, keys)
    finally:
        keys.close()
    c.write()
    fams = {}
    for p in c.positives:
        fams[p["family"]] = fams.get(p["family"], 0) + 1
    print(f"{len(c.files)} files, {len(c.positives)} positives, {len(c.negatives)} negative lines")
    for fam, n in sorted(fams.items()):
        print(f"  {fam}: {n}")


if __name__ == "__main__":
    main()
