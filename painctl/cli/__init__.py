"""The `painctl` command: a click group whose subcommands are loaded only when called.

Every subcommand is a thin layer: it parses options and calls a library function. Errors the user
can act on (PainctlError, bad usage) become one line ``painctl: error: ...``; anything else is an
internal error with a hint to rerun with --debug for the traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from painctl import __version__, console
from painctl.errors import PainctlError, Terminated, UpstreamFailed

#: name -> "module:function"; each module holds one command and imports its heavy libraries lazily.
COMMANDS = {
    "sample-mesh": "painctl.cli.sample_mesh:sample_mesh",
    "render-neutral": "painctl.cli.render_neutral:render_neutral",
    "texture": "painctl.cli.texture:texture",
    "rig": "painctl.cli.rig:rig",
    "render-views": "painctl.cli.render_views:render_views",
    "heatmap": "painctl.cli.heatmap:heatmap",
    "export": "painctl.cli.export:export",
    "contact-sheet": "painctl.cli.contact_sheet:contact_sheet",
    "train": "painctl.cli.train:train",
    "eval": "painctl.cli.eval:eval_cmd",
    "predict": "painctl.cli.predict:predict",
    "convert-checkpoint": "painctl.cli.convert_checkpoint:convert_checkpoint",
    "inspect": "painctl.cli.inspect:inspect_cmd",
    "merge": "painctl.cli.merge:merge",
    "doctor": "painctl.cli.doctor:doctor",
}

#: What bare `painctl` prints (like git): the pipeline and the commands used most, then where to read on.
SHORT_HELP = """\
usage: painctl [-q|-v] [--debug] COMMAND [ARGS]...

Synthetic 3D pain faces with exact AU/PSPI labels, and the ViTPain model.

The pipeline (each stage reads the artefact the one before wrote):
  sample-mesh -> render-neutral -> texture -> rig -> render-views -> heatmap -> export / train

Most used:
  painctl doctor                                  what this machine can run
  painctl sample-mesh -n 8 heads/                 draw 8 identities
  painctl rig --pspi 1-16 heads/ pain/            pain faces at exact PSPI levels
  painctl render-views pain/ views/               render neutral and pain faces
  painctl contact-sheet views/                    one image to look at the data
  painctl train views/ run/                       train ViTPain
  painctl eval --folds 5 unbc/                    cross-validate on UNBC-McMaster
  painctl predict -c run/best -n neutral.png img/ predict pain for images

'painctl --help' lists every command; 'painctl COMMAND --help' and 'man painctl-COMMAND' explain one.
"""


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand runs or shows help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Pipeline order, and only commands whose module is present in this install.
        return [name for name, target in COMMANDS.items() if importlib.util.find_spec(target.split(":")[0])]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PainctlError as exc:
            # The library names parameters; remember the command that ran, so main() names its flags.
            if exc.params and ctx.invoked_subcommand is not None and getattr(exc, "command", None) is None:
                exc.command = self.get_command(ctx, ctx.invoked_subcommand)
            raise


def flag_of(command: click.Command | None, param: str) -> str:
    """How ``command`` spells the library parameter ``param`` on its command line: the option whose
    long form is ``--param-name`` or whose destination is ``param`` (``per_identity`` ->
    ``--per-identity``, ``n`` -> ``-n``), an argument's metavar, else ``param`` itself."""
    if command is None:
        return param
    wanted = "--" + param.replace("_", "-")
    options = [p for p in command.params if isinstance(p, click.Option)]
    for match in (lambda p: wanted in p.opts or wanted in p.secondary_opts, lambda p: p.name == param):
        for option in options:
            if match(option):
                return max(option.opts, key=len)
    for argument in command.params:
        if isinstance(argument, click.Argument) and argument.name == param:
            return argument.human_readable_name
    return param


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="painctl")
@click.option("-q", "--quiet", is_flag=True, help="No progress or status messages on stderr.")
@click.option("-v", "--verbose", count=True, help="More status messages (repeatable).")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: int, debug: bool) -> None:
    """Synthetic 3D pain faces with exact AU/PSPI labels, and the ViTPain model.

    Stages read and write artefacts (a directory with manifest.json and data.h5) and can be
    chained; '-' as IN or OUT streams an artefact through a pipe:

    \b
      painctl sample-mesh -n 8 --balance age,gender,ethnicity heads/
      painctl sample-mesh -n 8 - | painctl inspect -
    """
    console.verbosity = -1 if quiet else verbose
    ctx.obj = {"debug": debug}
    if ctx.invoked_subcommand is None:
        click.echo(SHORT_HELP, nl=False)
        ctx.exit(0)


def _stdout_is_pipe() -> bool:
    import os
    import stat

    try:
        return stat.S_ISFIFO(os.fstat(sys.stdout.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def _fail(message: str, code: int) -> None:
    sys.stderr.write(f"painctl: error: {message}\n")
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script: run the CLI and map failures to one-line errors."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="painctl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        # click turns KeyboardInterrupt (and so SIGTERM's Terminated) into Abort.
        if isinstance(exc.__context__, Terminated):
            _fail("terminated", 143)
        _fail("interrupted", 130)
    except Terminated:
        _fail("terminated", 143)
    except KeyboardInterrupt:
        if debug:
            raise
        _fail("interrupted", 130)
    except click.exceptions.NoArgsIsHelpError as exc:
        # A bare `painctl` (or a group without its command) asks for help: not an error.
        click.echo(exc.ctx.get_help() if exc.ctx else cli.get_help(click.Context(cli)))
        sys.exit(0)
    except click.UsageError as exc:
        if debug:
            raise
        hint = f" (see 'painctl {exc.ctx.command_path.partition(' ')[2] + ' ' if exc.ctx and ' ' in exc.ctx.command_path else ''}--help')"
        _fail(exc.format_message() + hint, 2)
    except click.ClickException as exc:
        if debug:
            raise
        _fail(exc.format_message(), exc.exit_code or 1)
    except UpstreamFailed as exc:
        if debug:
            raise
        # A stage that streams its OUT ('-', last on the line) is in the middle of a pipe: the stage
        # at its end says it once; here only the exit status tells.
        if args and args[-1] == "-" and _stdout_is_pipe():
            sys.exit(1)
        _fail(str(exc), 1)
    except PainctlError as exc:
        if debug:
            raise
        command = getattr(exc, "command", None)
        _fail(exc.render(lambda param: flag_of(command, param)), getattr(exc, "exit_code", 1))
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if debug:
            raise
        _fail(f"internal error: {exc.__class__.__name__}: {exc} (rerun with --debug for the traceback)", 1)
