"""The crypto core, shared by the server and the console: the one package that knows cryptography.

Modules: `keyfiles` (key files, fingerprints), `envelope` (streaming multi-recipient encryption),
`payload` (metadata inside an envelope), `signing` (manifest signatures), `codename` (generation
and derivation), `bundle` (signed transfer files). The formats are specified in docs/protocol.md.
"""
