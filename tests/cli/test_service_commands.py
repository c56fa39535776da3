"""``linkcast serve`` and ``linkcast worker``: their settings, and the one line a bad one gets."""

from __future__ import annotations

import socket
from pathlib import Path

from linkcast.cli.report import EXIT_FAILED, EXIT_USAGE
from tests.support.cli import error_line, run_cli
from tests.support.ports import free_port


async def test_serve_help_lists_every_setting_with_its_default() -> None:
    done = await run_cli("serve", "--help")
    text = " ".join(done.stdout.decode().split())  # argparse wraps lines
    for flag, default in [("--port", "8080"), ("--host", "'localhost'"), ("--store", "'sqlite:///./linkcast.db'")]:
        assert f"{flag} {flag.upper()[2:].replace('-', '_')}" in text and f"default: {default}" in text
    assert "LINKCAST_ALLOW_PRIVATE_NETWORKS" in text


async def test_worker_refuses_a_store_other_processes_cannot_share(tmp_path: Path) -> None:
    for store in ("memory://", f"sqlite:///{tmp_path}/db"):
        done = await run_cli("worker", "--store", store)
        assert "needs the shared Redis store" in error_line(done, "invalid_store", EXIT_USAGE)


async def test_serve_refuses_bad_security_lists_with_a_clear_message() -> None:
    for flag, value in (("--trusted-proxies", "proxy.local"), ("--server-names", "a:b:c")):
        done = await run_cli("serve", "--store", "memory://", "--port", "0", flag, value, timeout=30)
        assert error_line(done, "invalid_setting", EXIT_USAGE).startswith(f"{flag}: ")


async def test_a_crawl_page_bound_of_zero_stops_serve_with_one_line() -> None:
    done = await run_cli("serve", "--store", "memory://", "--port", "0", "--max-crawl-pages", "0", timeout=30)
    assert error_line(done, "invalid_setting", EXIT_USAGE).startswith(
        "--max-crawl-pages 0 (LINKCAST_MAX_CRAWL_PAGES): "
    )


async def test_a_setting_in_the_environment_of_the_wrong_type_is_one_line() -> None:
    done = await run_cli("serve", env={"LINKCAST_PORT": "eighty"})
    assert error_line(done, "invalid_setting", EXIT_USAGE) == "LINKCAST_PORT='eighty' is not a valid int"


async def test_a_boolean_setting_that_is_neither_true_nor_false_is_refused_not_read_as_false() -> None:
    done = await run_cli("serve", env={"LINKCAST_ALLOW_PRIVATE_NETWORKS": "y"})
    assert "is not a boolean" in error_line(done, "invalid_setting", EXIT_USAGE)


async def test_a_log_level_it_does_not_know_is_one_line_not_an_internal_error() -> None:
    for args, env in ((("--log-level", "loud"), {}), ((), {"LINKCAST_LOG_LEVEL": "loud"})):
        done = await run_cli("serve", "--store", "memory://", "--port", "0", *args, env=env, timeout=30)
        assert error_line(done, "invalid_setting", EXIT_USAGE).startswith("--log-level 'loud': use debug, info")


async def test_a_flag_of_the_wrong_type_is_one_usage_line() -> None:
    done = await run_cli("serve", "--port", "eighty")
    assert error_line(done, "usage", EXIT_USAGE).startswith("argument --port: invalid int value: 'eighty'")


async def test_an_unknown_command_is_one_usage_line() -> None:
    done = await run_cli("scrape")
    assert "invalid choice: 'scrape'" in error_line(done, "usage", EXIT_USAGE)


async def test_a_port_that_is_taken_is_one_line_naming_it_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = await run_cli("serve", "--host", "127.0.0.1", "--port", str(port), "--store", "memory://", timeout=30)
        line = error_line(done, "cannot_listen", EXIT_FAILED)
        assert line == f"cannot listen on 127.0.0.1:{port}: address already in use"
        worker = await run_cli("worker", "--host", "127.0.0.1", "--metrics-port", str(port),
                               "--store", "redis://127.0.0.1:1/0", timeout=30)  # fmt: skip
        assert "cannot listen" in error_line(worker, "cannot_listen", EXIT_FAILED)


async def test_a_host_that_is_no_address_here_is_one_line_and_exit_1() -> None:
    done = await run_cli("serve", "--host", "999.1.1.1", "--port", str(free_port()), "--store", "memory://")
    assert error_line(done, "cannot_listen", EXIT_FAILED).startswith("cannot listen on 999.1.1.1:")


async def test_an_empty_host_is_refused_not_taken_as_every_interface() -> None:
    done = await run_cli("serve", "--store", "memory://", "--port", "0", env={"LINKCAST_HOST": ""}, timeout=30)
    assert error_line(done, "invalid_setting", EXIT_USAGE).startswith("--host '': give the address to bind")
