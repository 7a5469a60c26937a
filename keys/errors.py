"""Exceptions of the crypto core.

Every failure of verification has its own class, so callers and tests can tell a truncated envelope
from a forged one, and so no caller is tempted to catch a broad exception and carry on with data
that was not verified.
"""


class CryptoFormatError(Exception):
    """Base of every error raised by `keys` for bad or unverifiable input."""


class KeyFileError(CryptoFormatError):
    """A key file is missing, malformed, of the wrong type, or its checksum fails."""


class WrongPassphrase(KeyFileError):
    """The passphrase does not open this private-key file."""


class EnvelopeError(CryptoFormatError):
    """An envelope cannot be decrypted; no plaintext from it may be used."""


class MalformedEnvelope(EnvelopeError):
    """The bytes are not an envelope (bad magic, impossible lengths)."""


class UnsupportedVersion(EnvelopeError):
    """The envelope is of a version or chunk size this code does not speak."""


class NotARecipient(EnvelopeError):
    """None of the given identities can open any stanza of the envelope."""


class HeaderTampered(EnvelopeError):
    """The header MAC does not match: stanzas or parameters were changed."""


class ChunkTampered(EnvelopeError):
    """A body chunk fails authentication: changed, reordered or from another stream."""


class TruncatedEnvelope(EnvelopeError):
    """The stream ended before the chunk carrying the final tag."""


class TrailingData(EnvelopeError):
    """Bytes follow the final chunk: something was appended."""


class PayloadError(EnvelopeError):
    """The decrypted payload's inner metadata block is malformed."""


class SignatureError(CryptoFormatError):
    """A signature does not verify under the expected key."""


class CodenameError(CryptoFormatError):
    """A codename is empty or longer than the input cap."""


class KdfBusy(Exception):
    """Too many key derivations are running; the caller should ask the user to retry."""
