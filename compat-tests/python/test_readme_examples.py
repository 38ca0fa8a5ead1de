"""The README's first-run example, run exactly as written: a fresh user pastes it into a shell.

The block under "## A first produce and consume" is taken from README.md and run by bash from
the repository's root, as the README says. It binds the default 127.0.0.1:9092 and uses
./vltava-data, so a data directory left there by someone is moved aside for the test and put
back afterwards.
"""
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def first_run_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A first produce and consume", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the first-run section has a sh block"
    return match.group(1)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_first_produce_and_consume_works_as_pasted(tmp_path):
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed (compat-tests/setup.sh installs it)")
    assert port_is_free(9092), "the README example needs 127.0.0.1:9092; something else holds it"
    data = ROOT / "vltava-data"
    aside = tmp_path / "vltava-data-before"
    if data.exists():
        shutil.move(str(data), aside)
    block = first_run_block()
    try:
        result = subprocess.run(
            ["bash", "-e", "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=600,
            env={k: v for k, v in os.environ.items() if not k.startswith("VLTAVA_")},
        )
        assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        lines = [l for l in result.stdout.splitlines() if " @ offset " in l]
        assert lines == ["k1 = hello @ offset 0", "k2 = world @ offset 1"], result.stdout
        assert "127.0.0.1:9092 is ready" in result.stdout
        # `kill %1` stopped the broker: the port is free again and the data stayed.
        assert (data / "greetings-0").is_dir()
    finally:
        subprocess.run(["pkill", "-f", "target/release/vltava serve$"], check=False)
        shutil.rmtree(data, ignore_errors=True)
        if aside.exists():
            shutil.move(str(aside), data)
