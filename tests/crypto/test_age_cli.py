"""``python -m crypto``, used the way a person uses the ``age`` command.

Every test runs the real command line in a subprocess.
"""

import re
import stat

import pytest

import crypto

CHUNK = 64 * 1024
FAST = ["--work-factor", "10"]
CREATED = re.compile(r"^# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def one_line_error(result):
    """The command failed with status 1 and said why on exactly one stderr line."""
    assert result.returncode == 1, result
    message = result.stderr.decode()
    assert message.endswith("\n") and message.count("\n") == 1, message
    assert message.startswith("crypto: error: ")
    return message


# --- keygen -------------------------------------------------------------------


@pytest.mark.parametrize("pq", [False, True], ids=["x25519", "post-quantum"])
def test_keygen_prints_an_identity_file_like_age_keygen(cli, pq):
    result = cli("keygen", *(["--pq"] if pq else []), check=True)

    created, public, key = result.stdout.decode().splitlines()
    assert CREATED.match(created), created
    assert public.startswith("# public key: age1pq1" if pq else "# public key: age1")
    assert key.startswith("AGE-SECRET-KEY-PQ-1" if pq else "AGE-SECRET-KEY-1")
    identity = crypto.parse_identity(key)
    assert isinstance(identity, crypto.HybridIdentity if pq else crypto.X25519Identity)
    assert public == f"# public key: {identity.recipient}"


def test_two_keygens_give_two_different_keys(cli):
    first = cli("keygen", check=True).stdout.splitlines()[-1]
    second = cli("keygen", check=True).stdout.splitlines()[-1]

    assert first != second


@pytest.mark.parametrize("pq", [False, True], ids=["x25519", "post-quantum"])
def test_keygen_o_writes_a_private_file_and_never_overwrites_it(cli, tmp_path, pq):
    key_file = tmp_path / "key.txt"

    result = cli("keygen", *(["--pq"] if pq else []), "-o", key_file, check=True)

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert result.stdout == b""
    (identity,) = crypto.parse_identities(key_file.read_text())
    assert result.stderr.decode() == f"Public key: {identity.recipient}\n"
    before = key_file.read_bytes()

    again = cli("keygen", *(["--pq"] if pq else []), "-o", key_file)

    one_line_error(again)
    assert key_file.read_bytes() == before


@pytest.mark.interop
def test_age_reads_a_key_file_from_our_keygen(cli, age_tool, tmp_path):
    key_file = tmp_path / "key.txt"
    cli("keygen", "-o", key_file, check=True)
    recipient = crypto.parse_identities(key_file.read_text())[0].recipient

    sealed = age_tool.encrypt(b"to our key", [recipient])

    assert age_tool.decrypt(sealed, key_file) == b"to our key"


# --- encrypt and decrypt --------------------------------------------------------


@pytest.fixture
def key_file(cli, tmp_path):
    path = tmp_path / "me.key"
    cli("keygen", "-o", path, check=True)
    return path, crypto.parse_identities(path.read_text())[0]


def test_encrypt_and_decrypt_files_by_name(cli, key_file, tmp_path, payloads):
    path, identity = key_file
    plaintext = payloads(CHUNK + 1)
    report, sealed, opened = tmp_path / "report.pdf", tmp_path / "report.pdf.age", tmp_path / "x"
    report.write_bytes(plaintext)

    cli("-e", "-r", identity.recipient, "-o", sealed, report, check=True)
    assert sealed.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert plaintext not in sealed.read_bytes()
    cli("-d", "-i", path, "-o", opened, sealed, check=True)

    assert opened.read_bytes() == plaintext


def test_encrypt_and_decrypt_through_a_pipe(cli, key_file, payloads):
    path, identity = key_file
    plaintext = payloads(2 * CHUNK)

    sealed = cli("-e", "-r", identity.recipient, input=plaintext, check=True).stdout
    opened = cli("-d", "-i", path, "-", input=sealed, check=True).stdout

    assert opened == plaintext


def test_a_armors_the_output_for_email(cli, key_file, payloads):
    path, identity = key_file
    plaintext = payloads(1000)

    sealed = cli("-e", "-a", "-r", identity.recipient, input=plaintext, check=True).stdout

    text = sealed.decode("ascii")
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-1] == "-----END AGE ENCRYPTED FILE-----"
    assert all(len(line) <= 64 for line in lines[1:-1])
    assert cli("-d", "-i", path, input=sealed, check=True).stdout == plaintext


def test_encrypt_to_a_post_quantum_key(cli, tmp_path, payloads):
    key = tmp_path / "pq.key"
    cli("keygen", "--pq", "-o", key, check=True)
    recipient = crypto.parse_identities(key.read_text())[0].recipient
    plaintext = payloads(CHUNK + 1)

    sealed = cli("-e", "-r", recipient, input=plaintext, check=True).stdout

    assert b"\n-> mlkem768x25519 " in sealed
    assert cli("-d", "-i", key, input=sealed, check=True).stdout == plaintext


def test_mixing_post_quantum_and_classic_recipients_is_refused(cli, key_file, tmp_path):
    _, identity = key_file
    hybrid = crypto.HybridIdentity.generate().recipient

    args = ["-e", "-r", identity.recipient, "-r", hybrid, "-o", tmp_path / "out.age"]
    result = cli(*args, input=b"x")

    assert "post-quantum" in one_line_error(result)
    assert not (tmp_path / "out.age").exists()


def test_p_encrypts_with_a_passphrase_read_from_a_file(cli, tmp_path, payloads):
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("a long and winding passphrase\n")
    plaintext = payloads(CHUNK + 1)

    args = ["-e", "-p", "--passphrase-file", passphrase_file, *FAST]
    sealed = cli(*args, input=plaintext, check=True).stdout

    assert b"\n-> scrypt " in sealed
    assert crypto.decrypt_with_passphrase(sealed, "a long and winding passphrase") == plaintext
    opened = cli("-d", "--passphrase-file", passphrase_file, input=sealed, check=True).stdout
    assert opened == plaintext


def test_p_without_a_passphrase_file_is_refused(cli):
    one_line_error(cli("-e", "-p", input=b"x"))


def test_d_tries_every_identity_file_and_the_passphrase(
    cli, tmp_path, write_identity, alice, bob, carol
):
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("open sesame\n")
    strangers = write_identity(crypto.X25519Identity.generate(), crypto.HybridIdentity.generate())
    ours = write_identity(bob, carol)
    identity_args = ["-i", strangers, "-i", ours, "--passphrase-file", passphrase_file]

    for_carol = crypto.encrypt(b"for carol", carol.recipient)
    assert cli("-d", *identity_args, input=for_carol, check=True).stdout == b"for carol"

    for_passphrase = crypto.encrypt_with_passphrase(b"by passphrase", "open sesame", work_factor=10)
    assert cli("-d", *identity_args, input=for_passphrase, check=True).stdout == b"by passphrase"

    for_alice = crypto.encrypt(b"for alice", alice.recipient)
    one_line_error(cli("-d", *identity_args, input=for_alice))


# --- failures -----------------------------------------------------------------


def test_the_wrong_identity_fails_with_one_line(cli, key_file, write_identity, bob):
    _, identity = key_file
    sealed = crypto.encrypt(b"secret", identity.recipient)

    result = cli("-d", "-i", write_identity(bob), input=sealed)

    assert "no identity" in one_line_error(result)
    assert result.stdout == b""


@pytest.mark.parametrize(
    "missing", ["input", "identity file", "recipients file", "passphrase file"]
)
def test_a_missing_file_fails_with_one_line(cli, key_file, tmp_path, missing):
    path, identity = key_file
    sealed = tmp_path / "sealed.age"
    sealed.write_bytes(crypto.encrypt(b"x", identity.recipient))
    nowhere = tmp_path / "does-not-exist"
    args = {
        "input": ["-d", "-i", path, nowhere],
        "identity file": ["-d", "-i", nowhere, sealed],
        "recipients file": ["-e", "-R", nowhere, sealed],
        "passphrase file": ["-d", "--passphrase-file", nowhere, sealed],
    }[missing]

    assert "does-not-exist" in one_line_error(cli(*args))


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "not age"])
def test_corrupt_input_fails_with_one_line(cli, key_file, payloads, damage):
    path, identity = key_file
    sealed = bytearray(crypto.encrypt(payloads(100), identity.recipient))
    if damage == "flipped byte":
        sealed[-20] ^= 1
    elif damage == "truncated":
        del sealed[-30:]
    else:
        sealed = bytearray(b"%PDF-1.7 not an age file\n")

    result = cli("-d", "-i", path, input=bytes(sealed))

    one_line_error(result)


def test_a_failed_decryption_leaves_no_output_file_behind(cli, key_file, tmp_path, payloads):
    path, identity = key_file
    sealed = bytearray(crypto.encrypt(payloads(3 * CHUNK), identity.recipient))
    sealed[-100] ^= 1  # the last chunk fails, after two chunks were already decrypted
    (tmp_path / "sealed.age").write_bytes(sealed)
    before = set(tmp_path.iterdir())

    result = cli("-d", "-i", path, "-o", tmp_path / "opened.bin", tmp_path / "sealed.age")

    one_line_error(result)
    assert not (tmp_path / "opened.bin").exists()
    assert set(tmp_path.iterdir()) == before  # no temporary file either


def test_a_failed_decryption_leaves_an_existing_output_file_untouched(
    cli, key_file, tmp_path, bob, write_identity
):
    _, identity = key_file
    (tmp_path / "opened.bin").write_bytes(b"yesterday's report")
    sealed = crypto.encrypt(b"today's report", identity.recipient)

    result = cli("-d", "-i", write_identity(bob), "-o", tmp_path / "opened.bin", input=sealed)

    one_line_error(result)
    assert (tmp_path / "opened.bin").read_bytes() == b"yesterday's report"


def test_a_bad_recipient_fails_with_one_line(cli):
    result = cli("-e", "-r", "age1notarecipient", input=b"x")

    one_line_error(result)
    assert result.stdout == b""


def test_a_usage_error_fails_with_one_line(cli):
    one_line_error(cli("-e", "-d", input=b"x"))
    one_line_error(cli("-e", input=b"x"))
