"""The crypto core, shared by the server and the console: the one package that knows cryptography.

Modules: `keytypes` (the key types everyone else holds), `keyfiles` (key files, fingerprints),
`envelope` (streaming multi-recipient encryption), `payload` (metadata inside an envelope),
`signing` (manifest signatures), `codename` (generation and derivation), `bundle` (signed transfer
files), `passbox` (passphrase boxes), `records` (the protocol's vocabulary and bundle records),
`disk` (directory syncs and the one overwrite-before-unlink). The formats are specified in
docs/protocol.md. No other package imports nacl or argon2: they hold the types named here.
"""
