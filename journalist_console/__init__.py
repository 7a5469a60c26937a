"""The investigator console: an offline workstation application for the inspectorate.

Modules (design: docs/console-design.md):

    cli        `journalist-console` command line (entry point `journalist_console.cli:main`)
    web        `serve`: the local web interface (Flask + waitress, 127.0.0.1 only)
    home       home directory layout, single-instance lock, `init`, the vault
    schema     the SQLCipher database: connection and the whole schema
    console    the unlocked console: list, view, reply, status, notes, statistics
    accounts   investigators' accounts and roles, assignment, recusal
    importer   server-to-console bundles in, all or nothing
    exporter   console-to-server bundles out, numbered, crash-safe
    files      saving decrypted files under safe names
    metastrip  metadata-free copies of JPEG and PNG (standard library only)
    audit      the hash-chained audit log
    dates      due dates and the clock
    render     terminal rendering of untrusted text
    i18n       Indonesian and English interface texts
    errors     the expected failures, shown as one line

No cryptography is implemented here: every key, envelope, signature and passphrase box comes from
the `keys` package.
"""
