"""The one place CLI errors are reported: exactly one line, the status each kind of error calls for."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import pytest

from linkcast import cli
from linkcast.cli import COMMANDS
from linkcast.cli.command import Command
from linkcast.cli.errors import Interrupted, NoResult, ServerError, Unreachable, UsageError
from linkcast.cli.report import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    MAX_LINE,
    run_reported,
)
from linkcast.core.errors import ConfigurationError, LinkcastError
from tests.support.cli import cli_env
from tests.support.ports import free_port


def fail_with(error: BaseException) -> int:
    raise error


@pytest.mark.parametrize(
    ("error", "line", "status"),
    [
        (ServerError(400, "invalid_url", "'url' is not an absolute URL"),
         "linkcast: invalid_url: 'url' is not an absolute URL", EXIT_FAILED),
        (UsageError("argument --port: invalid int value"), "linkcast: usage: argument --port: invalid int value",
         EXIT_USAGE),
        (ConfigurationError("LINKCAST_PORT='x' is not a valid int"),
         "linkcast: invalid_setting: LINKCAST_PORT='x' is not a valid int", EXIT_USAGE),
        (Unreachable("cannot connect"), "linkcast: unreachable: cannot connect", EXIT_UNAVAILABLE),
        (NoResult("no result within 1 s"), "linkcast: no_result: no result within 1 s", EXIT_UNAVAILABLE),
        (Interrupted("stopped by Ctrl-C"), "linkcast: interrupted: stopped by Ctrl-C", EXIT_INTERRUPTED),
        (KeyboardInterrupt(), "linkcast: interrupted: stopped by Ctrl-C", EXIT_INTERRUPTED),
        (RuntimeError("a bug"), "linkcast: internal: RuntimeError: a bug", EXIT_FAILED),
    ],
)  # fmt: skip
def test_each_error_is_one_line_with_its_code_and_status(
    capsys: pytest.CaptureFixture[str], error: BaseException, line: str, status: int
) -> None:
    assert run_reported(lambda: fail_with(error)) == status
    assert capsys.readouterr().err == line + "\n"


def test_a_message_with_line_breaks_or_of_any_length_stays_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    run_reported(lambda: fail_with(LinkcastError("first\nsecond\r\n" + "x" * 5000, code="http_502")))
    err = capsys.readouterr().err
    assert err.startswith("linkcast: http_502: first second x") and err.count("\n") == 1
    assert len(err) <= MAX_LINE + 1


def test_a_numeric_exit_passes_through(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_reported(lambda: fail_with(SystemExit(0)))  # --help, --version
    assert stopped.value.code == 0 and capsys.readouterr().err == ""


def test_a_new_command_is_a_module_level_command_added_to_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    """What adding a command (``linkcast probe``) takes: a ``Command``; its flags parsed, its errors reported."""

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--depth", type=int, default=1)

    def run(args: argparse.Namespace) -> int:
        if args.depth > 3:
            raise UsageError("--depth is at most 3")
        return EXIT_OK

    probe = Command("probe", "probe a site", add_arguments, run)
    commands = [*COMMANDS, probe]
    assert cli.run(["probe", "--depth", "2"], commands) == EXIT_OK
    assert cli.run(["probe", "--depth", "9"], commands) == EXIT_USAGE
    assert cli.run(["probe", "--depth", "deep"], commands) == EXIT_USAGE
    assert capsys.readouterr().err.splitlines() == [
        "linkcast: usage: --depth is at most 3",
        "linkcast: usage: argument --depth: invalid int value: 'deep' (see: linkcast probe --help)",
    ]


@pytest.mark.parametrize(
    ("argv", "help_line"),
    [
        (["submit", "https://example.com/", "--bogus"], "linkcast submit --help"),
        (["feeds", "export", "--json"], "linkcast feeds export --help"),
        (["feeds", "--bogus", "list"], "linkcast feeds list --help"),
        (["--bogus", "watch"], "linkcast watch --help"),
    ],
)
def test_an_unknown_flag_sends_to_the_help_of_the_command_it_was_given_to(
    capsys: pytest.CaptureFixture[str], argv: list[str], help_line: str
) -> None:
    """argparse blames a flag no parser knows on linkcast itself, whose help lists no command's flags."""
    assert cli.run(argv) == EXIT_USAGE
    line = capsys.readouterr().err
    assert line.startswith("linkcast: usage: unrecognized arguments: --"), line
    assert line.endswith(f" (see: {help_line})\n"), line


async def test_ctrl_c_while_the_command_loads_is_its_one_line_not_a_traceback() -> None:
    """Loading the commands takes half a second (more on a busy machine): a Ctrl-C then is a Ctrl-C like any other.
    ``-X importtime`` writes a line as each module has loaded, so the signal is sent while aiohttp is loading."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-X", "importtime", "-m", "linkcast", "watch", "--server", f"http://127.0.0.1:{free_port()}",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=cli_env(),
    )  # fmt: skip
    assert process.stderr is not None
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while b"aiohttp" not in (line := await process.stderr.readline()):
                assert line, b"".join(lines)
                lines.append(line)
            process.send_signal(signal.SIGINT)
            lines += (await process.stderr.read()).splitlines(keepends=True)
            await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    said = [line.decode() for line in lines if not line.startswith(b"import time:")]
    assert (process.returncode, said) == (EXIT_INTERRUPTED, ["linkcast: interrupted: stopped by Ctrl-C\n"])
