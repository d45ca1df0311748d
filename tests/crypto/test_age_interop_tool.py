"""Files travel both ways between this library and the standard ``age`` tool (1.1.1).

Every payload size that matters to the 64 KiB chunking is tried, binary and
armored, through the Python API and through ``python -m crypto``.
"""

import subprocess

import pexpect
import pytest

import crypto

CHUNK = 64 * 1024
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10 * 1024 * 1024]
SIZE_IDS = ["0B", "1B", "64KiB-1", "64KiB", "64KiB+1", "10MiB"]
ARMOR = pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
SURFACE = pytest.mark.parametrize("surface", ["api", "cli"])
SIZE = pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"

pytestmark = pytest.mark.interop


def assert_armored_as_asked(sealed: bytes, armor: bool):
    if armor:
        assert sealed.startswith(BEGIN)
    else:
        assert sealed.startswith(b"age-encryption.org/v1\n")


@SIZE
@ARMOR
@SURFACE
def test_a_file_age_encrypted_to_us_opens_here(
    age_tool, alice, write_identity, payloads, cli, tmp_path, size, armor, surface
):
    plaintext = payloads(size)
    sealed = age_tool.encrypt(plaintext, [alice.recipient], armor=armor)
    assert_armored_as_asked(sealed, armor)

    if surface == "api":
        opened = crypto.decrypt(sealed, alice)
    else:
        sealed_file = tmp_path / "from-age.age"
        sealed_file.write_bytes(sealed)
        opened = cli("-d", "-i", write_identity(alice), sealed_file, check=True).stdout

    assert opened == plaintext


@SIZE
@ARMOR
@SURFACE
def test_a_file_we_encrypt_opens_with_age(
    age_tool, age_keypair, payloads, cli, tmp_path, size, armor, surface
):
    age_identity_file, age_recipient = age_keypair
    plaintext = payloads(size)

    if surface == "api":
        sealed = crypto.encrypt(plaintext, age_recipient, armor=armor)
    else:
        source = tmp_path / "plain.bin"
        source.write_bytes(plaintext)
        args = ["-e", "-r", age_recipient] + (["-a"] if armor else []) + [source]
        sealed = cli(*args, check=True).stdout
    assert_armored_as_asked(sealed, armor)

    assert age_tool.decrypt(sealed, age_identity_file) == plaintext


@ARMOR
def test_age_encrypts_to_several_recipients_and_each_of_ours_opens_it(
    age_tool, age_keypair, alice, bob, carol, payloads, armor
):
    age_identity_file, age_recipient = age_keypair
    plaintext = payloads(CHUNK + 1)
    recipients = [alice.recipient, age_recipient, bob.recipient]

    sealed = age_tool.encrypt(plaintext, recipients, armor=armor)

    assert crypto.decrypt(sealed, alice) == plaintext
    assert crypto.decrypt(sealed, bob) == plaintext
    assert age_tool.decrypt(sealed, age_identity_file) == plaintext
    with pytest.raises(crypto.NoIdentityError):
        crypto.decrypt(sealed, carol)


@ARMOR
@SURFACE
def test_we_encrypt_to_several_recipients_and_age_opens_it_with_any_of_them(
    age_tool, tmp_path, alice, write_identity, payloads, cli, armor, surface
):
    keys = [tmp_path / f"age-key-{n}.txt" for n in range(3)]
    recipients = [age_tool.new_identity(key) for key in keys]
    plaintext = payloads(CHUNK - 1)

    if surface == "api":
        sealed = crypto.encrypt(plaintext, recipients + [alice.recipient], armor=armor)
    else:
        recipients_file = tmp_path / "recipients.txt"
        recipients_file.write_text(f"# the team\n{recipients[2]}\n")
        args = ["-e", "-r", recipients[0], "-r", recipients[1], "-R", recipients_file]
        args += ["-r", alice.recipient] + (["-a"] if armor else [])
        sealed = cli(*args, input=plaintext, check=True).stdout

    for key in keys:
        assert age_tool.decrypt(sealed, key) == plaintext
    assert crypto.decrypt(sealed, alice) == plaintext


def test_age_keygen_and_this_library_agree_on_the_public_key(age_keypair):
    identity_file, recipient = age_keypair

    identity = crypto.parse_identities(identity_file.read_text())[0]

    assert str(identity.recipient) == recipient


def test_age_derives_our_public_key_from_our_identity(age_tool, alice, write_identity):
    derived = subprocess.run(
        [age_tool.keygen, "-y", str(write_identity(alice))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()

    assert derived == str(alice.recipient)


# --- passphrases: age only reads them from a terminal -------------------------

PASSPHRASE = "correct horse battery staple"


def age_encrypt_with_passphrase(age_tool, source, target, armor=False):
    """Drive ``age -p`` through a pseudo-terminal, as a person at a keyboard would."""
    args = ["-p"] + (["-a"] if armor else []) + ["-o", str(target), str(source)]
    child = pexpect.spawn(age_tool.age, args, timeout=60)
    child.expect_exact("Enter passphrase (leave empty to autogenerate a secure one):")
    child.sendline(PASSPHRASE)
    child.expect_exact("Confirm passphrase:")
    child.sendline(PASSPHRASE)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return target.read_bytes()


@pytest.fixture(scope="module")
def age_passphrase_file(age_tool, tmp_path_factory, payloads):
    """A binary file age encrypted with a passphrase at its default work factor (18)."""
    directory = tmp_path_factory.mktemp("age-passphrase")
    source = directory / "plain.bin"
    source.write_bytes(payloads(CHUNK + 1))
    sealed = age_encrypt_with_passphrase(age_tool, source, directory / "sealed.age")
    return sealed, payloads(CHUNK + 1)


def test_a_passphrase_file_age_wrote_opens_here(age_passphrase_file):
    sealed, plaintext = age_passphrase_file
    header, _ = crypto.split_header(sealed)
    assert b"\n-> scrypt " in header

    assert crypto.decrypt_with_passphrase(sealed, PASSPHRASE) == plaintext


def test_an_armored_passphrase_file_age_wrote_opens_with_our_cli(
    age_tool, payloads, cli, tmp_path
):
    source = tmp_path / "plain.txt"
    source.write_bytes(payloads(1))
    sealed = age_encrypt_with_passphrase(age_tool, source, tmp_path / "sealed.age", armor=True)
    assert sealed.startswith(BEGIN)
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE + "\n")

    result = cli("-d", "--passphrase-file", passphrase_file, tmp_path / "sealed.age", check=True)

    assert result.stdout == payloads(1)


def test_a_reader_with_a_lower_work_factor_limit_refuses_ages_passphrase_file(
    age_passphrase_file, raises_exactly
):
    sealed, _ = age_passphrase_file

    with raises_exactly(crypto.WorkFactorError):
        crypto.decrypt_with_passphrase(sealed, PASSPHRASE, max_work_factor=17)
    with raises_exactly(crypto.WorkFactorError):
        crypto.decrypt(sealed, crypto.ScryptIdentity(PASSPHRASE, max_work_factor=16))


@ARMOR
def test_age_opens_a_file_we_encrypted_with_a_passphrase(age_tool, payloads, tmp_path, armor):
    plaintext = payloads(CHUNK)
    sealed_path = tmp_path / "sealed.age"
    sealed_path.write_bytes(
        crypto.encrypt_with_passphrase(plaintext, PASSPHRASE, work_factor=10, armor=armor)
    )
    opened_path = tmp_path / "opened.bin"

    args = ["-d", "-o", str(opened_path), str(sealed_path)]
    child = pexpect.spawn(age_tool.age, args, timeout=60)
    child.expect_exact("Enter passphrase:")
    child.sendline(PASSPHRASE)
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0, child.before
    assert opened_path.read_bytes() == plaintext


def test_age_refuses_our_passphrase_file_with_the_wrong_passphrase(age_tool, tmp_path):
    sealed_path = tmp_path / "sealed.age"
    sealed_path.write_bytes(crypto.encrypt_with_passphrase(b"secret", PASSPHRASE, work_factor=10))

    child = pexpect.spawn(age_tool.age, ["-d", str(sealed_path)], timeout=60)
    child.expect_exact("Enter passphrase:")
    child.sendline("not the passphrase")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus != 0
    assert b"secret" not in child.before


@SIZE
def test_an_armored_file_whose_end_line_lost_its_newline_opens_here_as_with_age(
    age_tool, age_keypair, alice, payloads, size
):
    """Copy-paste and editors drop a file's last newline; the reference implementation still opens it."""
    age_identity_file, age_recipient = age_keypair
    plaintext = payloads(size)
    ours = crypto.encrypt(plaintext, [alice.recipient, age_recipient], armor=True)
    theirs = age_tool.encrypt(plaintext, [alice.recipient, age_recipient], armor=True)

    for sealed in (ours, theirs, ours.replace(b"\n", b"\r\n")):
        clipped = sealed.rstrip(b"\r\n")
        assert clipped.endswith(b"-----END AGE ENCRYPTED FILE-----")
        assert age_tool.decrypt(clipped, age_identity_file) == plaintext
        assert crypto.decrypt(clipped, alice) == plaintext
        assert crypto.dearmor(clipped) == crypto.dearmor(sealed)
