"""The client registry, --client visits, latest_session, erase and export in clear mode."""

from __future__ import annotations

import sqlite3

from attune.sessions.cli import main
from attune.sessions.clients import Registry, client_sessions, latest_session

SHORT = ["--no-audio", "--no-report", "--duration-s", "20"]


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


def test_add_list_notes(capsys, attune_home):
    assert main(["client", "add", "Robin-7", "--note", "prefers piano"]) == 0
    assert main(["client", "notes", "Robin-7", "slept badly this week"]) == 0
    capsys.readouterr()
    assert main(["client", "notes", "Robin-7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split("  ", 1)[1] for ln in out] == ["prefers piano", "slept badly this week"]
    assert main(["client", "list"]) == 0
    assert "Robin-7" in capsys.readouterr().out
    assert oct((attune_home / "registry.db").stat().st_mode & 0o777) == "0o600"
    assert main(["client", "add", "Robin-7"]) == 2
    assert "already registered" in _err_line(capsys)
    assert main(["client", "add", "Jane Doe"]) == 2
    assert "pseudonym" in _err_line(capsys)
    assert main(["client", "notes", "Nobody", "x"]) == 2
    assert "not registered" in _err_line(capsys)


def test_client_visits_and_latest_session(tmp_path, capsys, data_dir):
    assert latest_session("Kit-2") is None
    assert main(["simulate", "--client", "Kit-2", "--seed", "1", *SHORT]) == 0
    assert "new client Kit-2 registered" in capsys.readouterr().err
    outside = tmp_path / "outside"
    assert (
        main(["simulate", "--client", "Kit-2", "--seed", "2", "--out", str(outside), *SHORT]) == 0
    )
    assert main(["simulate", "--seed", "9", *SHORT]) == 0  # someone else (sim-001)
    rec = data_dir / "neurokit2" / "bio_resting_5min_100hz.csv"
    replay = ["replay", str(rec), "--fs", "100", "--duration-s", "40", "--no-report"]
    assert main([*replay, "--client", "Kit-2"]) == 0
    visits = client_sessions("Kit-2")
    assert [v.meta["mode"] for v in visits] == ["simulate", "simulate", "replay"]
    visits = visits[:2]
    assert [v.meta["seed"] for v in visits] == [1, 2]
    assert all(v.meta["participant"] == "Kit-2" for v in visits)
    assert latest_session("Kit-2") == client_sessions("Kit-2")[-1].folder  # the replay
    assert visits[-1].folder.parent == outside.resolve()  # filed although outside the home
    capsys.readouterr()
    assert main(["sessions", "--client", "Kit-2"]) == 0
    out = capsys.readouterr().out
    assert all(v.folder.name in out for v in visits) and "sim-001" not in out


def test_erase_leaves_nothing_and_export_is_portable(tmp_path, capsys, attune_home):
    for who, report in (("Zephyr-Q7", "--report"), ("Other-B3", "--no-report")):
        assert main(["simulate", "--client", who, "--duration-s", "20", "--no-audio", report]) == 0
    assert main(["client", "notes", "Zephyr-Q7", "Zephyr-Q7 note text"]) == 0
    assert main(["progress", "Zephyr-Q7"]) == 0
    export = tmp_path / "export"
    assert main(["export-client", "Zephyr-Q7", "--out", str(export)]) == 0
    (db,) = export.glob("sessions/*/session.db")
    con = sqlite3.connect(db)  # plain SQLite, any tool opens it
    assert con.execute("SELECT participant FROM sessions").fetchone()[0] == "Zephyr-Q7"
    assert con.execute("SELECT COUNT(*) FROM ticks").fetchone()[0] == 80
    con.close()
    assert {"report.html", "config.toml", "session.mid"} <= {p.name for p in db.parent.iterdir()}
    assert (export / "progress.html").is_file() and "Zephyr-Q7 note text" in (
        export / "client.json"
    ).read_text()

    assert main(["erase", "Zephyr-Q7"]) == 2  # --yes required
    assert main(["erase", "Zephyr-Q7", "--yes"]) == 0
    needle = b"Zephyr-Q7"
    for p in attune_home.rglob("*"):
        assert "Zephyr" not in p.name
        if p.is_file():
            assert needle not in p.read_bytes(), p
    with Registry.open() as reg:
        assert [c.pseudonym for c in reg.clients()] == ["Other-B3"]
    assert len(client_sessions("Other-B3")) == 1 and not client_sessions("Zephyr-Q7")
    assert main(["erase", "Zephyr-Q7", "--yes"]) == 2  # nothing left to erase
