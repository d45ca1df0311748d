"""``python -m crypto``: a command line with the flags of the ``age`` tool.

    python -m crypto keygen [--pq] [-o FILE]
    python -m crypto -e (-r RECIPIENT | -R FILE)... [-a] [-o OUT] [INPUT]
    python -m crypto -e -p --passphrase-file FILE [-a] [-o OUT] [INPUT]
    python -m crypto -d [-i FILE]... [--passphrase-file FILE] [-o OUT] [INPUT]

Exit status 0 on success; 1 with a one-line message on stderr on any error.
"""

import argparse
import datetime
import os
import sys
import tempfile

from .age import decrypt_stream, encrypt_stream
from .errors import AgeError
from .keys import generate_identity, parse_identities, parse_recipient, parse_recipients
from .passphrase import DEFAULT_WORK_FACTOR, ScryptIdentity, ScryptRecipient


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _keygen_parser():
    parser = _Parser(prog="python -m crypto keygen", description="Generate an age identity.")
    parser.add_argument("--pq", action="store_true", help="hybrid post-quantum key (age1pq1...)")
    parser.add_argument("-o", "--output", help="write the identity to FILE (mode 0600)")
    return parser


def _main_parser():
    parser = _Parser(prog="python -m crypto", description="Encrypt and decrypt age files.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("-e", "--encrypt", action="store_true")
    mode.add_argument("-d", "--decrypt", action="store_true")
    parser.add_argument("-r", "--recipient", action="append", default=[])
    parser.add_argument("-R", "--recipients-file", action="append", default=[])
    parser.add_argument("-i", "--identity", action="append", default=[])
    parser.add_argument("-p", "--passphrase", action="store_true")
    parser.add_argument("--passphrase-file")
    parser.add_argument("--work-factor", type=int, default=DEFAULT_WORK_FACTOR)
    parser.add_argument("-a", "--armor", action="store_true")
    parser.add_argument("-o", "--output")
    parser.add_argument("input", nargs="?")
    return parser


def _read_passphrase(path):
    with open(path, "rb") as handle:
        passphrase = handle.read()
    if passphrase.endswith(b"\r\n"):
        passphrase = passphrase[:-2]
    elif passphrase.endswith(b"\n"):
        passphrase = passphrase[:-1]
    if not passphrase:
        raise UsageError("the passphrase file is empty")
    return passphrase


def _read_text(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def keygen(args):
    identity = generate_identity(pq=args.pq)
    created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    text = (
        f"# created: {created.isoformat().replace('+00:00', 'Z')}\n"
        f"# public key: {identity.recipient}\n"
        f"{identity}\n"
    )
    if args.output:
        descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text)
        print(f"Public key: {identity.recipient}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _recipients(args):
    if args.passphrase:
        if args.recipient or args.recipients_file:
            raise UsageError("-p cannot be combined with -r or -R")
        if not args.passphrase_file:
            raise UsageError("-p needs --passphrase-file (no terminal prompt here)")
        return [ScryptRecipient(_read_passphrase(args.passphrase_file), args.work_factor)]
    recipients = [parse_recipient(r) for r in args.recipient]
    for path in args.recipients_file:
        recipients += parse_recipients(_read_text(path))
    if not recipients:
        raise UsageError("missing recipients: use -r, -R or -p")
    return recipients


def _identities(args):
    identities = []
    for path in args.identity:
        identities += parse_identities(_read_text(path))
    if args.passphrase_file:
        identities.append(ScryptIdentity(_read_passphrase(args.passphrase_file)))
    if not identities:
        raise UsageError("missing identities: use -i or --passphrase-file")
    return identities


def _run(args, operation):
    source = open(args.input, "rb") if args.input and args.input != "-" else sys.stdin.buffer
    try:
        if not args.output or args.output == "-":
            operation(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        # Write beside the target and rename, so a failure leaves no partial file.
        directory = os.path.dirname(os.path.abspath(args.output))
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".crypto-")
        try:
            with os.fdopen(descriptor, "wb") as sink:
                operation(source, sink)
            os.replace(temporary, args.output)
        except BaseException:
            os.unlink(temporary)
            raise
    finally:
        if source is not sys.stdin.buffer:
            source.close()


def crypt(args):
    if args.encrypt:
        if args.identity:
            raise UsageError("-i is for decryption")
        recipients = _recipients(args)
        _run(args, lambda src, dst: encrypt_stream(src, dst, recipients, armor=args.armor))
    else:
        if args.recipient or args.recipients_file or args.passphrase or args.armor:
            raise UsageError("-r, -R, -p and -a are for encryption")
        identities = _identities(args)
        _run(args, lambda src, dst: decrypt_stream(src, dst, identities))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["keygen"]:
            keygen(_keygen_parser().parse_args(argv[1:]))
        else:
            crypt(_main_parser().parse_args(argv))
    except (AgeError, UsageError, ValueError, OSError) as error:
        message = str(error) or type(error).__name__
        print(f"crypto: error: {message}".splitlines()[0], file=sys.stderr)
        return 1
    return 0
