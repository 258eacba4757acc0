"""Content Credentials (speech.content_credentials), in process: signed files read back through c2pa's own
Reader, altered and unsigned files, sidecars, the development certificate and the operator's."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import av
import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from speech import audio
from speech import content_credentials as cc

SECONDS = 2
TONE = (0.3 * np.sin(2 * np.pi * 220 * np.arange(SECONDS * audio.SAMPLE_RATE) / audio.SAMPLE_RATE)).astype(np.float32)
TAGS = {"comment": "AI-generated speech", "software": "csm-voice-api"}
SIDECAR_FORMATS = [fmt for fmt in audio.FORMATS if fmt not in cc.EMBEDDED_FORMATS]


@pytest.fixture(autouse=True)
def own_media(settings, tmp_path):
    """Each test signs with credentials of its own media folder (a development certificate made there)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CSM_C2PA_CERT = settings.CSM_C2PA_KEY = ""
    cc.reset_credentials()
    yield
    cc.reset_credentials()


def encoded(fmt: str) -> bytes:
    return audio.encode(TONE, fmt, metadata=TAGS)


def flipped(data: bytes) -> bytes:
    """`data` with one byte in the middle of the audio inverted."""
    altered = bytearray(data)
    altered[len(altered) // 2] ^= 0xFF
    return bytes(altered)


def library_read(data: bytes, fmt: str, manifest: bytes | None = None) -> c2pa.Reader:
    """c2pa's own Reader, with its default settings, over a file (and its sidecar)."""
    return c2pa.Reader(audio.CONTENT_TYPES[fmt], io.BytesIO(data), manifest)


def created_action(manifest: dict) -> dict:
    actions = [a for assertion in manifest["assertions"] for a in assertion["data"].get("actions", [])]
    assert [action["action"] for action in actions] == ["c2pa.created"]
    return actions[0]


def key_usage(**allowed: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement")
    names += ("key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{name: allowed.get(name, False) for name in names})


def make_chain(
    *, ca_name: str = "Test CA", signer_name: str = "Test signer", serial: int | None = None, signer_usage: bool = True
) -> tuple[bytes, bytes]:
    """(PEM chain: signer then CA, PEM key) of a CA and a document-signing certificate it issued."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, signer_name)])

    def base(name, public_key, serial_number):
        return (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(serial_number)
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    ca = (
        base(issuer, ca_key.public_key(), x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    signer = (
        base(subject, key.public_key(), serial or x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if signer_usage:
        signer = signer.add_extension(key_usage(digital_signature=True), critical=True)
    signer = signer.sign(ca_key, hashes.SHA256())
    chain = signer.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return chain, pem


def use_operator_credentials(settings, tmp_path, chain: bytes, key: bytes) -> None:
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "key.pem").write_bytes(key)
    settings.CSM_C2PA_CERT, settings.CSM_C2PA_KEY = str(tmp_path / "chain.pem"), str(tmp_path / "key.pem")
    cc.reset_credentials()


@pytest.mark.parametrize("fmt", cc.EMBEDDED_FORMATS)
def test_embedded_manifest_round_trips_through_the_c2pa_reader(fmt, settings):
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    signed = cc.sign(encoded(fmt), fmt, cc.Claims(clip_id="3f6c1b0e-clip"))
    assert signed.embedded and signed.sidecar is None
    with library_read(signed.data, fmt) as reader:
        assert reader.get_validation_state() == "Valid"  # no trust list: valid, not trusted
        codes = [status["code"] for status in json.loads(reader.json()).get("validation_status", [])]
        assert codes == ["signingCredential.untrusted"]
        manifest = reader.get_active_manifest()
    action = created_action(manifest)
    assert action["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert action["softwareAgent"] == {
        "name": "csm-voice-api",
        "version": cc.software_version(),
        "model": "tiny-random",
    }
    when = dt.datetime.fromisoformat(action["when"].replace("Z", "+00:00"))
    assert before <= when <= dt.datetime.now(dt.UTC)
    assert action["parameters"] == {"clip_id": "3f6c1b0e-clip"}
    assert manifest["claim_generator_info"][0]["name"] == "csm-voice-api"
    assert manifest["signature_info"]["common_name"] == "csm-voice-api development signer (untrusted)"
    # Still the same audio, with its unsigned tags.
    with av.open(io.BytesIO(signed.data)) as container:
        tags = {**container.metadata, **container.streams.audio[0].metadata}
    assert tags.get("comment") == TAGS["comment"]
    pcm, duration = audio.decode_audio(signed.data)
    assert duration == pytest.approx(SECONDS, abs=0.1)


@pytest.mark.parametrize("fmt", SIDECAR_FORMATS)
def test_other_formats_get_a_sidecar_bound_to_their_bytes(fmt):
    data = encoded(fmt)
    signed = cc.sign(data, fmt, cc.Claims(clip_id="clip-1"), sidecar=True)
    assert signed.data == data and not signed.embedded
    with library_read(data, fmt, signed.sidecar) as reader:
        assert reader.get_validation_state() == "Valid"
        assert not reader.is_embedded()
        assert created_action(reader.get_active_manifest())["parameters"] == {"clip_id": "clip-1"}
    with library_read(flipped(data), fmt, signed.sidecar) as reader:
        assert reader.get_validation_state() == "Invalid"
    assert cc.sign(data, fmt, cc.Claims(request_id="r")) == cc.Signed(data)  # no sidecar asked for: unsigned


@pytest.mark.parametrize("fmt", audio.FORMATS)
def test_verify_signed_altered_and_unsigned(fmt):
    data = encoded(fmt)
    signed = cc.sign(data, fmt, cc.Claims(clip_id="clip-2"), sidecar=True)
    result = cc.verify(signed.data, manifest=signed.sidecar)
    assert (result.manifest_present, result.valid, result.signed_by_this_server) == (True, True, True)
    assert result.embedded == (fmt in cc.EMBEDDED_FORMATS)
    assert result.validation_status == []
    assert result.claims["clip_id"] == "clip-2"
    assert result.claims["action"] == "c2pa.created"
    assert result.claims["software_agent"]["model"] == "tiny-random"

    altered = cc.verify(flipped(signed.data), manifest=signed.sidecar)
    assert altered.manifest_present and not altered.valid and not altered.signed_by_this_server
    assert "assertion.dataHash.mismatch" in [status["code"] for status in altered.validation_status]

    if fmt in cc.EMBEDDED_FORMATS:
        unsigned = cc.verify(data)
        assert (unsigned.manifest_present, unsigned.valid, unsigned.claims) == (False, False, None)


def test_a_sidecar_for_other_bytes_is_invalid():
    signed = cc.sign(encoded("opus"), "opus", cc.Claims(clip_id="a"), sidecar=True)
    result = cc.verify(encoded("aac"), manifest=signed.sidecar)
    assert result.manifest_present and not result.valid


def test_garbage_carries_no_manifest():
    result = cc.verify(b"this is not audio" * 10)
    assert not result.manifest_present and not result.valid


def test_valid_manifests_of_other_signers_are_not_ours(settings, tmp_path):
    ours = cc.credentials()
    use_operator_credentials(settings, tmp_path, *make_chain())
    theirs = cc.sign(encoded("wav"), "wav", cc.Claims(clip_id="theirs")).data
    settings.CSM_C2PA_CERT = settings.CSM_C2PA_KEY = ""
    cc.reset_credentials()
    assert cc.credentials() == ours  # the development certificate again, from media
    result = cc.verify(theirs)
    assert result.valid and not result.signed_by_this_server
    assert [status["code"] for status in result.validation_status] == ["signingCredential.untrusted"]


def test_a_forged_certificate_with_our_names_and_serial_is_not_ours(settings, tmp_path):
    """Names and serial number can be copied; the chain to our own CA cannot."""
    ours = cc.credentials().certificate
    issuer = ours.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    subject = ours.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    chain, key = make_chain(ca_name=issuer, signer_name=subject, serial=ours.serial_number)
    forged = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
    output = io.BytesIO()
    with c2pa.Builder(cc.manifest_definition("wav", cc.Claims(clip_id="forged"))) as builder:
        builder.sign(forged, "audio/wav", io.BytesIO(encoded("wav")), output)
    result = cc.verify(output.getvalue())
    assert result.valid and not result.signed_by_this_server


def test_the_development_certificate_is_made_once_and_reused(settings):
    from django.core.files.storage import default_storage

    assert not default_storage.exists(cc.DEVELOPMENT_NAME)
    with ThreadPoolExecutor(8) as pool:  # processes starting together: one certificate for all
        bundles = list(pool.map(lambda _: cc.development_credentials(), range(8)))
    assert len(set(bundles)) == 1
    assert default_storage.listdir("c2pa") == ([], ["development.pem"])
    first = cc.credentials()
    cc.reset_credentials()  # a restart
    assert cc.credentials() == first
    assert first.development and first.chain in bundles[0]
    status = cc.signing_status()
    assert status["certificate"] == "development" and status["trusted_authority"] is False
    assert "no trusted authority" in status["warning"]


def test_operator_credentials_are_used_when_set(settings, tmp_path):
    from django.core.files.storage import default_storage

    chain, key = make_chain(signer_name="Example Corp speech signer")
    use_operator_credentials(settings, tmp_path, chain, key)
    signed = cc.sign(encoded("mp3"), "mp3", cc.Claims(request_id="req-1"))
    with library_read(signed.data, "mp3") as reader:
        assert reader.get_active_manifest()["signature_info"]["common_name"] == "Example Corp speech signer"
    result = cc.verify(signed.data)
    assert result.valid and result.signed_by_this_server
    assert result.claims["request_id"] == "req-1" and result.claims["clip_id"] is None
    assert not default_storage.exists(cc.DEVELOPMENT_NAME)
    assert cc.signing_status() == {
        "status": "ok",
        "certificate": "configured",
        "subject": "CN=Example Corp speech signer",
    }


def test_a_certificate_c2pa_refuses_is_reported_when_loaded(settings, tmp_path):
    """A signer certificate without the key usage c2pa asks for: refused when loaded, not at each file."""
    use_operator_credentials(settings, tmp_path, *make_chain(signer_usage=False))
    status = cc.signing_status()
    assert status["status"] == "unavailable" and "c2pa refuses" in status["error"], status


def test_unusable_operator_credentials_are_reported(settings, tmp_path):
    chain, _ = make_chain()
    _, other_key = make_chain()
    use_operator_credentials(settings, tmp_path, chain, other_key)
    with pytest.raises(cc.SigningUnavailable, match="not the key"):
        cc.credentials()
    assert cc.signing_status()["status"] == "unavailable"
    settings.CSM_C2PA_KEY = ""
    cc.reset_credentials()
    assert "both" in cc.signing_status()["error"]


@pytest.mark.parametrize("include", [False, True])
def test_voice_and_consent_ids_only_when_the_operator_turns_them_on(settings, include):
    settings.CSM_C2PA_VOICE_IDS = include
    claims = cc.Claims(clip_id="c", voice_id="voice_abc", consent_id="consent_xyz")
    result = cc.verify(cc.sign(encoded("flac"), "flac", claims).data)
    expected = ("voice_abc", "consent_xyz") if include else (None, None)
    assert (result.claims["voice_id"], result.claims["consent_id"]) == expected
    assert result.claims["clip_id"] == "c"


def test_verify_never_fetches_a_remote_manifest():
    """A file may point at a manifest on the web: reading it must not make the server fetch that URL."""
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Handler) as web:
        threading.Thread(target=web.serve_forever, daemon=True).start()
        credentials = cc.credentials()
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(credentials.alg, credentials.chain, credentials.key, None))
        output = io.BytesIO()
        with c2pa.Builder(cc.manifest_definition("wav", cc.Claims(clip_id="remote"))) as builder:
            builder.set_no_embed()
            builder.set_remote_url(f"http://127.0.0.1:{web.server_address[1]}/manifest.c2pa")
            builder.sign(signer, "audio/wav", io.BytesIO(encoded("wav")), output)
        result = cc.verify(output.getvalue())
        web.shutdown()
    assert not result.manifest_present and "remote" in result.message
    assert requested == []


def test_a_media_folder_that_cannot_be_written_is_reported(settings, tmp_path):
    (tmp_path / "not-a-folder").write_text("")
    settings.MEDIA_ROOT = str(tmp_path / "not-a-folder" / "media")
    cc.reset_credentials()
    with pytest.raises(cc.SigningUnavailable, match="cannot be kept in media") as raised:
        cc.credentials()
    assert raised.value.status == 503 and raised.value.code == "signing_unavailable"


def test_the_embedded_formats_are_those_c2pa_embeds_in():
    """What docs/provenance.md says: c2pa embeds in our wav, mp3 and flac, and in none of the others."""
    supported = set(c2pa.Builder.get_supported_mime_types())
    embeddable = {fmt for fmt, content_type in audio.CONTENT_TYPES.items() if content_type in supported}
    assert embeddable == set(cc.EMBEDDED_FORMATS)


def test_signing_from_several_threads_at_once():
    """Requests sign in worker threads side by side: each file gets its own valid manifest."""
    data = encoded("wav")
    with ThreadPoolExecutor(4) as pool:
        signed = list(pool.map(lambda n: cc.sign(data, "wav", cc.Claims(clip_id=f"clip-{n}")).data, range(16)))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(cc.verify, signed))
    assert all(result.valid and result.signed_by_this_server for result in results)
    assert [result.claims["clip_id"] for result in results] == [f"clip-{n}" for n in range(16)]


def test_a_failed_load_is_answered_at_once_until_it_is_tried_again(settings, tmp_path, monkeypatch):
    """Every signed response, /health and verify ask for the credentials: a failure is not retried per call."""
    (tmp_path / "not-a-folder").write_text("")
    settings.MEDIA_ROOT = str(tmp_path / "not-a-folder" / "media")
    cc.reset_credentials()
    loads = []
    development = cc.development_credentials
    monkeypatch.setattr(cc, "development_credentials", lambda: loads.append(1) or development())
    for _ in range(3):
        with pytest.raises(cc.SigningUnavailable, match="cannot be kept in media"):
            cc.credentials()
    assert len(loads) == 1
    now = time.monotonic()
    later = SimpleNamespace(monotonic=lambda: now + cc.SigningUnavailable.retry_after + 1, sleep=time.sleep)
    monkeypatch.setattr(cc, "time", later)
    with pytest.raises(cc.SigningUnavailable):
        cc.credentials()
    assert len(loads) == 2


def test_a_broken_development_bundle_is_reported_without_waiting(settings, monkeypatch):
    """A bundle that does not parse long after it was written is broken, not being written."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    default_storage.save(cc.DEVELOPMENT_NAME, ContentFile(b"-----BEGIN PRIVATE KEY-----\ntruncated"))
    monkeypatch.setattr(cc, "_written_seconds_ago", lambda name: cc.WRITING_SECONDS + 1)
    slept = []
    monkeypatch.setattr(cc, "time", SimpleNamespace(monotonic=time.monotonic, sleep=slept.append))
    with pytest.raises(cc.SigningUnavailable, match="delete it and a new one is made"):
        cc.development_credentials()
    assert slept == []
