"""The main job, as the README runs it: every sample through all seven classifiers, a summary and a report; its
data private to it (run twice, the user's dashboard shows nothing dead), and stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
import requests

from pipeline.host.azurite import Azurite, free_port

pytestmark = [pytest.mark.models, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _demo_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "IMAGINEM_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("AzureWebJobsStorage", None)  # the demo starts an Azurite of its own
    return env


def _check_the_summary_and_report(done: subprocess.CompletedProcess[str], report: Path) -> None:
    assert done.returncode == 0, done.stderr[-3000:]
    outcomes = re.findall(r"(\d+) (succeeded|finished with failures|stopped)", done.stderr)
    assert sum(int(n) for n, _ in outcomes) == 6, done.stderr[-2000:]  # each job's outcome is counted

    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("│ ")
            and line.split("│")[1].strip()}
    assert set(rows) == {"astronaut.jpg", "chelsea-the-cat.jpg", "coffee.jpg", "camera.png", "sign.png",
                         "astronaut-again.jpg"}
    assert "cat" in rows["chelsea-the-cat.jpg"] and "espresso" in rows["coffee.jpg"]
    assert "IMAGINEM PIPELINE" in rows["sign.png"]
    cells = [c.strip() for c in rows["astronaut-again.jpg"].split("│")]
    assert cells[4] == "1" and cells[5].startswith("0000-astronaut.jpg")  # one face, matched to the first
    first = [c.strip() for c in rows["astronaut.jpg"].split("│")]
    assert first[5].startswith("0005-astronaut-again.jpg") and first[5].endswith("(later)")  # shown both ways
    assert [c.strip() for c in rows["coffee.jpg"].split("│")][4] == "0"
    assert [c.strip() for c in rows["camera.png"].split("│")][4] == "1"  # the cameraman, turned behind his camera

    page = (report / "index.html").read_text()
    assert len(re.findall(r"<section>", page)) == 6
    assert len(list(report.glob("*.png"))) == 6


def _dashboard_api(azurite: Azurite, data_dir: Path, log: Path, out: IO[str]) -> tuple[subprocess.Popen[bytes], str]:
    """`imaginem host` over the user's data folder, as the user would start it after the demo."""
    port = free_port()
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string, "IMAGINEM_DATA_DIR": str(data_dir)}
    host = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "host", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{api}/uploads", timeout=5).status_code == 200:
                return host, api
        except requests.ConnectionError:
            pass
        assert host.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "imaginem host did not answer"
        time.sleep(0.3)


def test_the_demo_twice_prints_the_summary_and_leaves_the_users_dashboard_without_dead_cards(
        tmp_path: Path, azurite: Azurite) -> None:
    data_dir = tmp_path / "data"  # the user's own data folder, as `imaginem host` uses it
    for run in range(2):
        report = tmp_path / f"report-{run}"
        done = subprocess.run([sys.executable, "-m", "pipeline.cli", "demo", "--report", str(report)], cwd=ROOT,
                              env=_demo_env(data_dir), capture_output=True, text=True, timeout=600)
        _check_the_summary_and_report(done, report)
        assert "went with it" in done.stderr  # no hint that leads to a dashboard of dead data

    assert not (data_dir / "imaginem.db").exists()  # the demo wrote nothing into the user's database
    with (tmp_path / "host.log").open("w") as out:
        host, api = _dashboard_api(azurite, data_dir, tmp_path / "host.log", out)
        _check_no_dead_card(host, api)


def _check_no_dead_card(host: subprocess.Popen[bytes], api: str) -> None:
    try:
        results = requests.get(f"{api}/results", timeout=30).json()["results"]
        assert all(card["image"] for card in results), results  # a dead card has no image of ours
        people = requests.get(f"{api}/people", timeout=30).json()["people"]
        site = api.rsplit("/api", 1)[0]
        for person in people:  # a dead person card is a crop the host cannot cut from our storage
            crop = requests.get(site + person["crop"], timeout=30)
            assert crop.status_code == 200 and crop.headers["Content-Type"].startswith("image/"), person
    finally:
        host.send_signal(signal.SIGTERM)
        host.wait(60)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_demo_started_with_sigint_ignored_stops_on_sigterm_with_its_azurite(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    # As `imaginem demo &` from a script: SIGINT is ignored, and the child inherits that.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with log.open("w") as err:
            demo = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "demo", "--report",
                                     str(tmp_path / "report")], cwd=ROOT, env=_demo_env(tmp_path / "data"),
                                    stdout=subprocess.DEVNULL, stderr=err)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        deadline = time.monotonic() + 120
        while "batch:" not in log.read_text():  # Azurite and the host run; jobs are on their way
            assert demo.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        children = _children(demo.pid)
        azurite = [pid for pid in children if "azurite" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]
        assert len(azurite) == 1, children
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    try:
        assert code == 130, log.read_text()[-3000:]  # stopped as Ctrl-C stops it
        deadline = time.monotonic() + 10
        while _alive(azurite[0]):
            assert time.monotonic() < deadline, f"azurite {azurite[0]} still runs after the demo stopped"
            time.sleep(0.1)
    finally:
        if _alive(azurite[0]):  # never leak it into the rest of the suite
            os.kill(azurite[0], signal.SIGKILL)
