"""What the tests share (importable as `support`: pytest puts tests/ on sys.path, conftest.py
being there). Nothing here is a fixture; tests/conftest.py holds the few that are.

    processes    paths of the installed CLIs, free_port, real servers in subprocesses, run_cli
    instances    make_site (server instances), console homes, key files
    http         one HTTP client interface: FlaskAgent and HttpAgent returning Resp
    pages        reading pages, the reporter's journey, page and header checks
    bundles      signed bundles both ways: FakeServer, response bundles, readers
    inspection   what a server left on disk: database values, store consistency, byte searches
    console      a console home at work on a chosen day: its command line and web console
"""
