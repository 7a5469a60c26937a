"""The investigator console: an offline workstation application for the inspectorate.

Modules, bottom up (design: docs/console-design.md); imports go to the lines above, or sideways
among the operations, never in a circle:

    texts, errors, dates   messages (Text) and what people type; the expected failures; days
    schema, audit          the SQLCipher database; the hash-chained audit log
    home, vault            the home directory and its lock; the vault, passphrase boxes, `init`
    accounts               who may do what: account and recusal queries and checks
    session                an unlocked console: home, vault, connection, investigator, lock
    settings, envelopes    the settings and recipient keys; decrypting what the store holds
    reports                the queue, one report decrypted, statistics
    responses, staff       replies, statuses, notes; accounts, assignment, recusal, audit view
    importer, exporter     bundles in (all or nothing) and out (numbered, crash-safe)
    rendition              safe renditions: files converted to pixels in a sandbox, shown
                           as pages the console made itself (rendition/__init__.py)
    files                  saving and downloading files (originals, safe copies) under safe names
    retention, archive     removing finished reports, archiving them first (archive_format,
                           archive_reading)
    labels, render         names people read for machine names; terminal text
    terminal, commands,    the `journalist-console` command line (entry point cli:main)
    cli
    web                    `serve`: the local web interface (Flask blueprints, 127.0.0.1 only)

The command line and the web interface call the same operations and neither runs SQL. No
cryptography is implemented here: every key, envelope, signature and passphrase box comes from
the `keys` package.
"""
