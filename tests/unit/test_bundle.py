"""The export bundle's strict verification: one flipped byte anywhere is found."""

import io
import tarfile
from pathlib import Path

import pytest

from tenant_operator.domain import bundle, tarball
from tenant_operator.domain.bundle import BundleInvalid, verify
from tests.support.bundles import LocalSigner, small_bundle


@pytest.fixture()
def signer() -> LocalSigner:
    return LocalSigner()


@pytest.fixture()
def bundle_bytes(tmp_path: Path, signer: LocalSigner) -> bytes:
    return small_bundle(tmp_path / "b.tar", signer).read_bytes()


def test_a_written_bundle_verifies_and_tar_reads_it(
    bundle_bytes: bytes, signer: LocalSigner
) -> None:
    verified = verify(io.BytesIO(bundle_bytes), signer.public_key)
    assert verified.members == (
        "manifest.json",
        "manifest.sig",
        "tables/pipeline_runs.jsonl",
        "tables/pipeline_runs.csv",
        "audit/entries.jsonl",
        "connectors.json",
    )
    assert [f.rows for f in verified.manifest.files] == [3, 3, 1, 1]
    with tarfile.open(fileobj=io.BytesIO(bundle_bytes)) as tar:
        assert tar.getnames() == list(verified.members)
        csv_text = tar.extractfile("tables/pipeline_runs.csv").read().decode()  # type: ignore[union-attr]
    assert csv_text.startswith("id,pipeline,status,meta\n")
    assert len(bundle_bytes) % tarball.BLOCK == 0


def test_every_flipped_byte_is_detected(bundle_bytes: bytes, signer: LocalSigner) -> None:
    missed = []
    for i in range(len(bundle_bytes)):
        flipped = bytearray(bundle_bytes)
        flipped[i] ^= 0x01
        try:
            verify(io.BytesIO(bytes(flipped)), signer.public_key)
        except BundleInvalid:
            continue
        missed.append(i)
    assert missed == [], f"{len(missed)} of {len(bundle_bytes)} flipped bytes went unnoticed"


@pytest.mark.parametrize("bit", [0x80, 0xFF])
def test_other_flips_of_every_header_and_end_block(
    bundle_bytes: bytes, signer: LocalSigner, bit: int
) -> None:
    for i in range(0, len(bundle_bytes), 7):
        flipped = bytearray(bundle_bytes)
        flipped[i] ^= bit
        with pytest.raises(BundleInvalid):
            verify(io.BytesIO(bytes(flipped)), signer.public_key)


def test_appended_truncated_or_another_key(bundle_bytes: bytes, signer: LocalSigner) -> None:
    for data in (
        bundle_bytes + b"\0",
        bundle_bytes + b"\0" * 512,
        bundle_bytes[:-1],
        bundle_bytes[:-1024],
    ):
        with pytest.raises(BundleInvalid):
            verify(io.BytesIO(data), signer.public_key)
    with pytest.raises(BundleInvalid, match="does not verify"):
        verify(io.BytesIO(bundle_bytes), LocalSigner().public_key)
    with pytest.raises(BundleInvalid, match="unknown here"):
        verify(io.BytesIO(bundle_bytes), lambda _v: None)


def test_a_member_added_or_removed_is_detected(
    tmp_path: Path, bundle_bytes: bytes, signer: LocalSigner
) -> None:
    body = bundle_bytes[: -len(tarball.END)]
    extra = tarball.header("tables/extra.jsonl", 3, 0) + b"{}\n" + tarball.padding(3)
    with pytest.raises(BundleInvalid):
        verify(io.BytesIO(body + extra + tarball.END), signer.public_key)
    verified = verify(io.BytesIO(bundle_bytes), signer.public_key)
    last = verified.manifest.files[-1]
    cut = len(body) - tarball.BLOCK - last.bytes - len(tarball.padding(last.bytes))
    with pytest.raises(BundleInvalid, match="missing"):
        verify(io.BytesIO(body[:cut] + tarball.END), signer.public_key)


def test_values_as_written() -> None:
    assert list(bundle.jsonl_lines(("a", "b"), [("x\ny", None)])) == ['{"a": "x\\ny", "b": null}\n']
    assert list(bundle.csv_rows([(None, True, {"b": 1, "a": 2})])) == [
        ["", "true", '{"a": 2, "b": 1}']
    ]
    with pytest.raises(TypeError):
        bundle.json_value(b"secret")
