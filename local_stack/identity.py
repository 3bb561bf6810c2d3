"""Development identities for the local stack: Firebase-shaped ID tokens signed with a key
made at start-up, and that key's certificate served the way Google serves its own.

The authorizer verifies these with the same code as in AWS (google-auth's verify_token and
Firebase's claim checks); only the URL it fetches certificates from differs, and the handlers accept that only with
STORYIMAGES_ENV=local, which is refused inside AWS Lambda."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

ISSUER_PREFIX = "https://securetoken.google.com/"


@dataclass
class SigningKey:
    key_id: str
    private_pem: bytes
    certificate_pem: bytes

    @classmethod
    def generate(cls, common_name: str = "storyimages local identities") -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=7))
            .sign(key, hashes.SHA256())
        )
        return cls(
            key_id=uuid.uuid4().hex,
            private_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
        )

    def sign(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None) -> str:
        signer = crypt.RSASigner.from_string(self.private_pem, key_id=self.key_id)  # type: ignore[no-untyped-call]
        return str(jwt.encode(signer, claims, header=header).decode())  # type: ignore[no-untyped-call]


@dataclass
class DevIdentities:
    project_id: str
    key: SigningKey = field(default_factory=SigningKey.generate)

    def claims(self, uid: str, *, lifetime_seconds: int = 3600, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": ISSUER_PREFIX + self.project_id,
            "aud": self.project_id,
            "auth_time": now,
            "user_id": uid,
            "sub": uid,
            "iat": now,
            "exp": now + lifetime_seconds,
            "firebase": {"identities": {}, "sign_in_provider": "custom"},
            **overrides,
        }

    def token(self, uid: str, *, lifetime_seconds: int = 3600, **overrides: Any) -> str:
        """A development ID token for `uid`, as Firebase Auth would issue one."""
        return self.key.sign(self.claims(uid, lifetime_seconds=lifetime_seconds, **overrides))

    def certificates(self) -> str:
        """The body Google's certificate URL answers: key id -> PEM certificate."""
        return json.dumps({self.key.key_id: self.key.certificate_pem.decode()})
