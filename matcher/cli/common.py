"""The group, shared options and the one place that turns library errors into ``Error:`` lines."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import traceback
from pathlib import Path

import click

from matcher import __version__
from matcher.errors import MatcherError, SolutionError

EXIT_ERROR, EXIT_USAGE, EXIT_INFEASIBLE, EXIT_NO_SOLUTION = 1, 2, 3, 4


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="matcher")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Match donor resources to national requests for small arms control assistance.

    \b
    Example:
      matcher validate scenarios/sahel-pssm-2027.yaml
      matcher solve scenarios/sahel-pssm-2027.yaml --format table
    """
    ctx.obj = {"debug": debug}


def handle_errors(fn):
    """Turn library errors into one ``Error:`` line on stderr and exit code 1; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, BrokenPipeError):
            raise  # a closed pipe: main() ends quietly
        except SolutionError as exc:
            _fail(f"internal: {exc} Please report it with the scenario file.")
        except MatcherError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; nothing was written")
        except Exception as exc:  # noqa: BLE001 - the last line of defence for a user
            _fail(f"unexpected {type(exc).__name__}: {exc}; rerun with --debug for the traceback")

    return wrapper


def _fail(message: str) -> None:
    ctx = click.get_current_context(silent=True)
    if ctx is not None and (ctx.find_root().obj or {}).get("debug"):
        traceback.print_exc()
    click.echo(f"Error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def one_line_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --by name is kept in the audit trail and shown in headers: one printable line, or a usage error."""
    if value is not None and (not value.strip() or not value.isprintable()):
        raise click.BadParameter("give a name on one line, without tabs or control characters (e.g. --by 'J. Doe')")
    return value


def keep_edits(text: str, output: str, force: bool) -> None:
    """Refuse to replace an existing file that differs from ``text`` (it may hold a person's edits)
    unless ``force``; the same content again (a rerun) is written as usual."""
    target = Path(output)
    if force or not target.is_file():
        return
    try:
        same = target.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        same = False
    if not same:
        raise MatcherError(
            f"{output}: exists and differs from what this writes (edited since?); choose another "
            "name, or add --force to replace it"
        )


def write_output(text: str, output: str | None) -> None:
    """Write to stdout, or atomically to a file: a reader never sees half a file."""
    if output is None:
        click.echo(text, nl=False)
        return
    target = Path(output)
    if not target.parent.exists():
        raise MatcherError(f"{output}: folder {target.parent} does not exist; create it or choose another path")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def main() -> int:
    """Console-script entry point. Python writes to standard output as usual; what native code
    writes to file descriptor 1 goes to standard error, in every command and in the worker
    processes it starts (HiGHS prints the odd diagnostic line there), so that ``--format json``
    output stays parseable."""
    try:
        with _native_stdout_to_stderr():
            return cli.main(prog_name="matcher")
    except BrokenPipeError:  # the reader stopped early (`matcher show 1 --format csv | head`): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would raise it again
        return 0


_native_apart = False  # True while main() keeps Python's stdout apart from file descriptor 1


def drop_native_stdout() -> None:
    """For a command without progress: what native code writes to file descriptor 1 is dropped
    instead of going to stderr (HiGHS prints "HighsMipSolverData::transformNewIntegerFeasibleSolution
    tmpSolver.run();" a few times in 60 draws of a sweep), so ``--quiet`` is quiet. Only under main(),
    where Python's stdout has a descriptor of its own; main() puts descriptor 1 back at the end."""
    if not _native_apart:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


@contextlib.contextmanager
def _native_stdout_to_stderr():
    global _native_apart
    sys.stdout.flush()
    try:
        real = os.dup(1)
    except OSError:  # no file descriptor 1: nothing to protect
        yield
        return
    stream = sys.stdout
    ours = open(
        real,
        "w",
        encoding=stream.encoding,
        errors=stream.errors,  # noqa: SIM115  (closed below)
        buffering=1 if stream.isatty() else -1,
        closefd=False,
    )
    os.dup2(2, 1)
    sys.stdout = ours
    _native_apart = True
    try:
        yield
    finally:
        _native_apart = False
        ours.flush()
        sys.stdout = stream
        os.dup2(real, 1)
        ours.close()
        os.close(real)
