"""Content Credentials (C2PA): signed manifests saying that a file is synthetic speech made by this server.

WAV, MP3 and FLAC carry their manifest inside the file. Any other bytes (Opus, AAC, raw PCM) can get a
sidecar: a separate manifest whose data hash binds it to those exact bytes. Everything runs offline: no
timestamp authority, no OCSP, and reading never fetches a remote manifest.

The key and certificate chain come from CSM_C2PA_CERT and CSM_C2PA_KEY. Without them a development
certificate is made on first use and kept in the default storage (see `development_credentials`); its
signatures are valid but come from no trusted authority.

Signing and reading block (native code, file-sized work): callers off the event loop use them in a thread.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path

import c2pa
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from . import audio
from .audio import CONTENT_TYPES
from .errors import SigningUnavailable

EMBEDDED_FORMATS = ("wav", "mp3", "flac")  # the formats of ours c2pa embeds a manifest in (checked by the tests)
CREATED = "c2pa.created"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
SOFTWARE = "csm-voice-api"
MANIFEST_CONTENT_TYPE = "application/c2pa"
DEVELOPMENT_NAME = "c2pa/development.pem"  # in the default storage: key, then certificate chain
DEVELOPMENT_NOTICE = (
    "Content Credentials are signed with a self-signed development certificate made by this server: the "
    "signatures are valid but come from no trusted authority. Set CSM_C2PA_CERT and CSM_C2PA_KEY."
)
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_CLAIM_KEYS = ("clip_id", "request_id", "voice_id", "consent_id")


def software_version() -> str:
    try:
        return metadata.version(SOFTWARE)
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Claims:
    """What a manifest says about one file besides the fixed facts: which clip (or, for a file that is not
    stored, which request) it is, and the voice and consent it was spoken with."""

    clip_id: str | None = None
    request_id: str | None = None
    voice_id: str | None = None
    consent_id: str | None = None


@dataclass(frozen=True)
class Credentials:
    """A signing key with its certificate chain (PEM, the signer's certificate first)."""

    chain: bytes
    key: bytes
    alg: c2pa.C2paSigningAlg
    development: bool

    @cached_property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain)[0]

    @cached_property
    def anchors(self) -> str:
        """The chain's certificates above the signer's (the signer's own when alone), as trust anchors."""
        certificates = x509.load_pem_x509_certificates(self.chain)
        top = certificates[1:] or certificates
        return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in top)


@dataclass(frozen=True)
class Signed:
    """A file with its manifest embedded where its format allows; `sidecar` holds the manifest of one that
    cannot embed it, when asked for (None otherwise)."""

    data: bytes
    sidecar: bytes | None = None

    @property
    def embedded(self) -> bool:
        return self.sidecar is None


@dataclass(frozen=True)
class Verification:
    """What reading a file's manifest found."""

    manifest_present: bool
    embedded: bool = False
    valid: bool = False
    signed_by_this_server: bool = False
    validation_status: list[dict] = field(default_factory=list)
    claims: dict | None = None
    message: str = ""


# --- Keys -------------------------------------------------------------------------------------------------


_lock = threading.Lock()
_failure: tuple[float, str] | None = None  # until when (monotonic) a failed load is not tried again, and why


@cache
def _cached_credentials() -> Credentials:
    if settings.CSM_C2PA_CERT or settings.CSM_C2PA_KEY:
        loaded = configured_credentials(settings.CSM_C2PA_CERT, settings.CSM_C2PA_KEY)
    else:
        try:
            bundle = development_credentials()
        except OSError as error:  # a media folder the server cannot write
            reason = error.strerror or error
            raise SigningUnavailable(f"The development certificate cannot be kept in media: {reason}.") from error
        key, chain = _split_bundle(bundle)
        loaded = Credentials(chain=chain, key=key, alg=c2pa.C2paSigningAlg.ES256, development=True)
    _check_signing(loaded)
    return loaded


def _check_signing(loaded: Credentials) -> None:
    """Signs an empty WAV: c2pa checks the certificate's profile (key usages, chain) only when it signs."""
    empty = audio.encode(np.zeros(0, dtype=np.float32), "wav")
    try:
        _sign(loaded, empty, "wav", Claims(request_id="self-check"), embed=True)
    except c2pa.C2paError as error:
        raise SigningUnavailable(
            f"c2pa refuses the signing certificate ({error}); see docs/provenance.md for what it needs."
        ) from error


def credentials() -> Credentials:
    """The process's signing credentials, loaded (or made) once. A load that failed is not tried again for
    SigningUnavailable.retry_after seconds: every caller in between gets the same answer at once."""
    global _failure
    with _lock:
        if _failure is not None and time.monotonic() < _failure[0]:
            raise SigningUnavailable(_failure[1])
        try:
            return _cached_credentials()
        except SigningUnavailable as error:
            _failure = (time.monotonic() + SigningUnavailable.retry_after, str(error))
            raise


def reset_credentials() -> None:
    """Forget the loaded credentials and any failure to load them (the settings changed)."""
    global _failure
    _failure = None
    _cached_credentials.cache_clear()


def configured_credentials(cert_path: str, key_path: str) -> Credentials:
    """The operator's certificate chain and private key (PEM files); SigningUnavailable when unusable."""
    if not (cert_path and key_path):
        raise SigningUnavailable("Set both CSM_C2PA_CERT and CSM_C2PA_KEY, or neither (development certificate).")
    try:
        chain, key = Path(cert_path).read_bytes(), Path(key_path).read_bytes()
        certificates = x509.load_pem_x509_certificates(chain)
        private_key = serialization.load_pem_private_key(key, password=None)
    except (OSError, ValueError, TypeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error  # no paths in answers
        raise SigningUnavailable(f"CSM_C2PA_CERT / CSM_C2PA_KEY cannot be used: {reason}.") from error
    if certificates[0].public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise SigningUnavailable("CSM_C2PA_KEY is not the key of CSM_C2PA_CERT's first certificate.")
    return Credentials(chain=chain, key=key, alg=_algorithm(private_key), development=False)


def _algorithm(private_key) -> c2pa.C2paSigningAlg:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return c2pa.C2paSigningAlg.ED25519
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
        if private_key.curve.name in by_curve:
            return c2pa.C2paSigningAlg[by_curve[private_key.curve.name]]
    if isinstance(private_key, rsa.RSAPrivateKey):
        return c2pa.C2paSigningAlg.PS256
    raise SigningUnavailable("CSM_C2PA_KEY must be an Ed25519, EC P-256/384/521 or RSA key.")


def development_credentials(*, attempts: int = 50) -> bytes:
    """The development key and chain (one PEM bundle) kept in the default storage, made once.

    Several processes or replicas may start at once: each that finds nothing makes a bundle and saves it.
    The file system storage creates a file exclusively, so a second save gets another name: that bundle is
    deleted and the first one used; the S3 storage is configured not to overwrite either
    (`AWS_S3_FILE_OVERWRITE = False`), so the same holds there but for a narrow race between its existence
    check and its write, after which a process that read before a later save keeps its own until restarted.
    A bundle read while another process is still writing it does not parse, and is read again; one that still
    does not parse seconds after it was written is broken, and is reported at once.
    """
    for _ in range(attempts):
        if default_storage.exists(DEVELOPMENT_NAME):
            with default_storage.open(DEVELOPMENT_NAME, "rb") as handle:
                bundle = handle.read()
            try:
                _split_bundle(bundle)
                return bundle
            except ValueError:
                if _written_seconds_ago(DEVELOPMENT_NAME) > WRITING_SECONDS:
                    break
                time.sleep(0.1)  # being written by another process
                continue
        saved = default_storage.save(DEVELOPMENT_NAME, ContentFile(_new_development_bundle()))
        if saved != DEVELOPMENT_NAME:
            default_storage.delete(saved)  # another process saved one first
    raise SigningUnavailable(
        f"The development certificate in {DEVELOPMENT_NAME} cannot be read; delete it and a new one is made."
    )


WRITING_SECONDS = 5
"""How long a development bundle that does not parse may still be being written by another process."""


def _written_seconds_ago(name: str) -> float:
    try:
        modified = default_storage.get_modified_time(name)
    except (NotImplementedError, OSError):  # a storage that cannot tell: keep waiting for it, up to `attempts`
        return 0.0
    return (dt.datetime.now(dt.UTC) - modified.astimezone(dt.UTC)).total_seconds()


def _split_bundle(bundle: bytes) -> tuple[bytes, bytes]:
    """(key, chain) of a development bundle; ValueError when it is incomplete."""
    marker = b"-----END PRIVATE KEY-----\n"
    key, sep, chain = bundle.partition(marker)
    if not sep or len(x509.load_pem_x509_certificates(chain)) != 2:
        raise ValueError("incomplete bundle")
    return key + sep, chain


def _new_development_bundle() -> bytes:
    """A P-256 key, its certificate, and the certificate of a one-off CA that signed it (c2pa refuses a
    self-signed signer). The CA's key is thrown away: it signs nothing else, so a chain to it is ours."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{SOFTWARE} development CA (untrusted)")
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "encipher_only"), False
    )
    ca = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, decipher_only=False, **usage),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    signer = (
        _certificate(_name(f"{SOFTWARE} development signer (untrusted)"), ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, decipher_only=False, **usage),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem + b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in (signer, ca))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, SOFTWARE)]
    )


def _certificate(subject: x509.Name, issuer: x509.Name, public_key, now: dt.datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def signing_status() -> dict:
    """For /health: whether signing works, and whether its certificate is a development one."""
    try:
        signer = credentials()
    except SigningUnavailable as error:
        return {"status": "unavailable", "error": str(error)}
    report = {"status": "ok", "certificate": "development" if signer.development else "configured"}
    report["subject"] = signer.certificate.subject.rfc4514_string()
    if signer.development:
        report["trusted_authority"] = False
        report["warning"] = DEVELOPMENT_NOTICE
    return report


# --- Signing ----------------------------------------------------------------------------------------------


def manifest_definition(fmt: str, claims: Claims, *, when: dt.datetime | None = None) -> dict:
    """The manifest of one file: a c2pa.created action by a trained model, this server and the model as the
    software agent, the time, and the claims (the voice's and consent's ids only with CSM_C2PA_VOICE_IDS)."""
    version = software_version()
    ids = {"clip_id": claims.clip_id, "request_id": claims.request_id}
    if settings.CSM_C2PA_VOICE_IDS:
        ids |= {"voice_id": claims.voice_id, "consent_id": claims.consent_id}
    when = (when or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    action = {
        "action": CREATED,
        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
        "softwareAgent": {"name": SOFTWARE, "version": version, "model": settings.CSM_MODEL},
        "when": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "description": "Speech generated by a text-to-speech model.",
        "parameters": {key: value for key, value in ids.items() if value},
    }
    return {
        "claim_generator_info": [{"name": SOFTWARE, "version": version}],
        "title": f"{claims.clip_id or claims.request_id or 'speech'}.{fmt}",
        "format": CONTENT_TYPES[fmt],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [action]}}],
    }


def sign(data: bytes, fmt: str, claims: Claims, *, sidecar: bool = False) -> Signed:
    """`data` (a whole file of `fmt`) with its manifest embedded (wav, mp3, flac); for other formats, with
    `sidecar`, the unchanged file and a sidecar manifest, and without it the file as it is (unsigned)."""
    if fmt not in EMBEDDED_FORMATS and not sidecar:
        return Signed(data)
    return _sign(credentials(), data, fmt, claims, embed=fmt in EMBEDDED_FORMATS)


def _sign(signer: Credentials, data: bytes, fmt: str, claims: Claims, *, embed: bool) -> Signed:
    with (
        c2pa.Signer.from_info(c2pa.C2paSignerInfo(signer.alg, signer.chain, signer.key, None)) as c2pa_signer,
        c2pa.Builder(manifest_definition(fmt, claims), context=c2pa.Context.from_dict(_OFFLINE)) as builder,
    ):
        output = io.BytesIO()
        if embed:
            builder.sign(c2pa_signer, CONTENT_TYPES[fmt], io.BytesIO(data), output)
            return Signed(output.getvalue())
        builder.set_no_embed()  # a data hash over the whole file, kept apart from it
        manifest = builder.sign(c2pa_signer, CONTENT_TYPES[fmt], io.BytesIO(data), output)
        return Signed(data, sidecar=manifest)


# --- Reading ----------------------------------------------------------------------------------------------


def verify(data: bytes, *, manifest: bytes | None = None) -> Verification:
    """Reads the manifest embedded in `data`, or the sidecar `manifest` of `data`, and checks it: the
    signature, the binding to these bytes, and whether this server's signing certificate made it."""
    ours = credentials()
    context = c2pa.Context.from_dict({**_OFFLINE, "trust": {"trust_anchors": ours.anchors}})
    try:
        if manifest is not None:
            reader = c2pa.Reader("application/octet-stream", io.BytesIO(data), manifest, context=context)
        else:
            reader = c2pa.Reader(None, io.BytesIO(data), None, context=context)
    except (c2pa.C2paError.ManifestNotFound, c2pa.C2paError.NotSupported):
        return Verification(manifest_present=False, message="The file carries no Content Credentials.")
    except c2pa.C2paError.RemoteManifest:
        return Verification(
            manifest_present=False,
            message="The file refers to a remote manifest, which this server does not fetch.",
        )
    except c2pa.C2paError as error:
        return Verification(manifest_present=manifest is not None, message=f"The manifest cannot be read: {error}")
    try:
        with reader:
            state = reader.get_validation_state()
            report = json.loads(reader.json())
            active = report.get("manifests", {}).get(report.get("active_manifest"), {})
            certificate = _signing_certificate(json.loads(reader.crjson()), active.get("label"))
            embedded = reader.is_embedded()
    except (c2pa.C2paError, ValueError) as error:
        return Verification(manifest_present=True, message=f"The manifest cannot be read: {error}")
    valid = state in ("Valid", "Trusted")
    ours_signed = state == "Trusted" and certificate == _certificate_id(ours.certificate)
    return Verification(
        manifest_present=True,
        embedded=embedded,
        valid=valid,
        signed_by_this_server=ours_signed,
        validation_status=[
            {"code": item.get("code", ""), "explanation": item.get("explanation", "")}
            for item in report.get("validation_status", [])
        ],
        claims=_claims(active),
        message="" if valid else "The manifest does not match the file, or its signature is invalid.",
    )


def _certificate_id(certificate: x509.Certificate) -> tuple[str, str, str]:
    """(issuer's common name, serial number in hex, subject's common name): with a chain that validates to our
    own anchors, the certificate itself (a CA gives each of its certificates its own serial number)."""

    def common_name(name: x509.Name) -> str:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(values[0].value) if values else ""

    return common_name(certificate.issuer), f"{certificate.serial_number:x}", common_name(certificate.subject)


def _signing_certificate(crjson: dict, label: str | None) -> tuple[str, str, str] | None:
    for entry in crjson.get("manifests", []):
        if entry.get("label") == label:
            info = (entry.get("signature") or {}).get("certificateInfo") or {}
            serial = str(info.get("serialNumber", "")).lower().lstrip("0")
            return (info.get("issuer") or {}).get("CN", ""), serial, (info.get("subject") or {}).get("CN", "")
    return None


def _claims(manifest: dict) -> dict:
    """The facts of the active manifest a client asks about: its creation action and who signed it."""
    actions = [
        action
        for assertion in manifest.get("assertions", [])
        if str(assertion.get("label", "")).startswith("c2pa.actions")
        for action in assertion.get("data", {}).get("actions", [])
    ]
    created = next((action for action in actions if action.get("action") == CREATED), actions[0] if actions else {})
    parameters = created.get("parameters") or {}
    signature = manifest.get("signature_info") or {}
    return {
        "title": manifest.get("title"),
        "action": created.get("action"),
        "digital_source_type": created.get("digitalSourceType"),
        "software_agent": created.get("softwareAgent"),
        "when": created.get("when"),
        **{key: parameters.get(key) for key in _CLAIM_KEYS},
        "claim_generator": manifest.get("claim_generator_info") or [],
        "signer": {"common_name": signature.get("common_name"), "issuer": signature.get("issuer")},
    }
