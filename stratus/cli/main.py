"""``stratus``: run and operate the cloud.

stratus [--config-file F] up [--detach]     every enabled service in one process
stratus down | status                       stop / inspect the detached cloud
stratus db sync                             create or upgrade every service's tables
stratus bootstrap [--clouds-yaml PATH] [--image-manifest PATH ...]
                                            admin, demo, service users, catalog, images
stratus run PART                            one part alone (split deployments)
stratus identity rotate-keys                rotate the Fernet token keys
stratus demo [--keep]                       VMs and containers on one network, pinging
stratus config sample                       every option, its help and default
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Callable
from pathlib import Path

from stratus.cli import setup
from stratus.runtime import config, parts
from stratus.runtime.log import setup as setup_logging
from stratus.runtime.process import Runtime


def _progress(message: str) -> None:
    print(f"==> {message}", flush=True)


def cmd_up(runtime: Runtime, args: argparse.Namespace) -> int:
    from stratus.cli import daemon
    from stratus.runtime import runner

    if args.detach and (pid := daemon.running_pid(runtime)) is not None:
        _progress(f"the cloud is already running (pid {pid})")
        return 0
    services = parts.enabled(runtime)  # a config error is reported here, not by the child
    _progress("syncing databases")
    _db_sync_in_child(runtime, args)
    if args.detach:
        _progress("starting the cloud in the background")
        pid = daemon.start_detached(runtime, timeout=args.timeout)
        _progress(f"the cloud is up (pid {pid}); log: {daemon.log_file(runtime)}")
        return 0
    setup_logging(runtime.conf)
    names = [name for service in services for name in service.parts]
    runner.run(runtime, names)
    return 0


def _db_sync_in_child(runtime: Runtime, args: argparse.Namespace) -> None:
    """``db sync`` in a forked child: Alembic and Mako, needed once, stay out of the
    long-running cloud process (about 10 MB resident)."""
    child = multiprocessing.get_context("fork").Process(target=cmd_db_sync, args=(runtime, args))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise RuntimeError(f"syncing the databases failed (exit status {child.exitcode})")


def cmd_down(runtime: Runtime, args: argparse.Namespace) -> int:
    from stratus.cli import daemon

    pid = daemon.running_pid(runtime)
    if pid is None:
        _progress("the cloud is not running")
        return 0
    _progress(f"stopping the cloud (pid {pid})")
    daemon.stop(runtime, pid)
    return 0


def cmd_status(runtime: Runtime, args: argparse.Namespace) -> int:
    from stratus.cli import daemon

    pid = daemon.running_pid(runtime)
    print(f"cloud process: {'pid ' + str(pid) if pid else 'not running'}")
    checks = daemon.health(runtime)
    for check in checks:
        print(f"{check.part:<16} {'up' if check.healthy else 'DOWN':<5} {check.url}")
    return 0 if all(c.healthy for c in checks) else 1


def cmd_db_sync(runtime: Runtime, args: argparse.Namespace) -> int:
    from stratus.runtime import migrations

    for service in parts.enabled(runtime):
        migrations.upgrade(service.name, runtime.database(service.name))
    return 0


def cmd_bootstrap(runtime: Runtime, args: argparse.Namespace) -> int:
    cmd_db_sync(runtime, args)
    clouds_yaml = None if args.no_clouds_yaml else Path(args.clouds_yaml)
    setup.bootstrap(runtime, clouds_yaml, [Path(m) for m in args.image_manifest])
    if clouds_yaml is not None:
        _progress(f"wrote the 'stratus' and 'stratus-demo' clouds to {clouds_yaml}")
    _progress(f"admin and demo passwords: {runtime.conf.data_dir / 'credentials.json'}")
    return 0


def cmd_run(runtime: Runtime, args: argparse.Namespace) -> int:
    from stratus.runtime import runner

    setup_logging(runtime.conf)
    runner.run(runtime, [args.part])
    return 0


def cmd_rotate_keys(runtime: Runtime, args: argparse.Namespace) -> int:
    from stratus.identity.tokens import rotate_keys

    rotate_keys(runtime.conf)
    _progress("rotated the Fernet keys")
    return 0


def cmd_demo(runtime: Runtime, args: argparse.Namespace) -> int:
    from stratus.cli import demo

    return demo.run(Path(args.clouds_yaml) if args.clouds_yaml else None, keep=args.keep)


def cmd_config_sample(runtime: Runtime, args: argparse.Namespace) -> int:
    sys.stdout.write(config.sample())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stratus", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--config-file",
        help=f"config file (default: ${config.CONFIG_ENV} or {config.DEFAULT_CONFIG_FILE})",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[..., int], help_text: str, parent=commands):  # type: ignore[no-untyped-def]
        sub = parent.add_parser(name, help=help_text)
        sub.set_defaults(func=func)
        return sub

    up = add("up", cmd_up, "run every enabled service in one process")
    up.add_argument("--detach", action="store_true", help="run in the background")
    up.add_argument("--timeout", type=float, default=60, help="seconds to wait for it to answer")
    add("down", cmd_down, "stop the detached cloud")
    add("status", cmd_status, "show whether each API answers")
    db = commands.add_parser("db", help="database commands").add_subparsers(
        dest="db_command", required=True, metavar="DB_COMMAND"
    )
    add("sync", cmd_db_sync, "create or upgrade every service's tables", db)
    boot = add("bootstrap", cmd_bootstrap, "create admin, demo, service users and catalog")
    boot.add_argument("--clouds-yaml", default=str(setup.DEFAULT_CLOUDS_YAML))
    boot.add_argument("--no-clouds-yaml", action="store_true")
    boot.add_argument(
        "--image-manifest",
        action="append",
        default=[],
        metavar="PATH",
        help="register the images a tools/build-*-image.sh manifest describes (repeatable)",
    )
    run = add("run", cmd_run, "run one part alone")
    run.add_argument("part", choices=parts.part_names())
    identity = commands.add_parser("identity", help="identity commands").add_subparsers(
        dest="identity_command", required=True, metavar="IDENTITY_COMMAND"
    )
    add("rotate-keys", cmd_rotate_keys, "rotate the Fernet token keys", identity)
    demo = add("demo", cmd_demo, "run the VM + container scenario on the running cloud")
    demo.add_argument("--keep", action="store_true", help="leave what it made in place")
    demo.add_argument("--clouds-yaml", help="clouds.yaml with the stratus-demo entry")
    conf_cmd = commands.add_parser("config", help="configuration").add_subparsers(
        dest="config_command", required=True, metavar="CONFIG_COMMAND"
    )
    add("sample", cmd_config_sample, "print every option with its help and default", conf_cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    parts.load_options()
    try:
        conf = config.load(args.config_file)
        runtime = Runtime(conf)
        return args.func(runtime, args)
    except (config.ConfigError, RuntimeError) as exc:
        print(f"stratus: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
