"""The `migrate` command: click commands only. They parse options, call the engine, print, exit.

Exit codes (CONTRACT.md): 0 nothing found, or changed as asked; 1 findings remain (scan, check,
apply) or files would change (apply --dry-run) or restore refused to overwrite edited files;
2 usage or input errors (bad options, missing paths, unknown rule codes, files that do not
decode or parse: those are reported and skipped, the others still processed).

Nothing heavy is imported at module level: `migrate check` on files with nothing to do must not
pay for LibCST (the engine imports the analysis only when a file passes the text prefilter).
"""

from __future__ import annotations

import sys

import click

from migrate import __version__

PROGRESS_MIN_FILES = 50


class UsageFailure(click.ClickException):
    """An error the user can fix: printed as `Error: ...`, exit code 2."""

    exit_code = 2


def _engine():
    from migrate import engine

    return engine


def _settings(paths, select, ignore, exclude, extend_exclude, jobs, isolated=False,
              allow_direct_calls=False):
    engine = _engine()
    try:
        return engine.load_settings(
            list(paths), select=select, ignore=ignore, exclude=exclude,
            extend_exclude=extend_exclude, jobs=jobs, use_config=not isolated,
            allow_direct_calls=allow_direct_calls,
        )
    except engine.MigrateError as exc:
        raise UsageFailure(str(exc)) from None


class _ProgressBar:
    """A click progress bar on stderr, one a stage, for long runs on a terminal only."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.stage = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total < PROGRESS_MIN_FILES:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = click.progressbar(length=total, label=stage, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def use_color(choice: str, stream) -> bool:
    """--color always/never decide; auto follows NO_COLOR, then FORCE_COLOR, then the terminal."""
    import os

    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):  # https://no-color.org: set and not empty
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0", "false"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _run(paths, settings, *, fix, stdin_filename, progress_enabled, warn_empty=True):
    engine = _engine()
    stdin_bytes = None
    if engine.STDIN in paths:
        stdin_bytes = sys.stdin.buffer.read()
    bar = _ProgressBar(progress_enabled and sys.stderr.isatty())
    try:
        with engine.interrupts_raise():
            result = engine.run(list(paths), settings, fix=fix, stdin_bytes=stdin_bytes,
                                stdin_filename=stdin_filename, progress=bar)
    except engine.MigrateError as exc:
        raise UsageFailure(str(exc)) from None
    except engine.Interrupted as exc:
        bar.close()
        click.echo(f"Interrupted ({exc.signal_name}) during the analysis: nothing was written.",
                   err=True)
        sys.exit(exc.exit_code)
    finally:
        bar.close()
    if warn_empty and not result.n_files and not result.errors:
        click.echo(f"warning: no Python files found under {' '.join(paths)}", err=True)
    return result


def _selection_options(func):
    options = [
        click.option("--select", metavar="CODES",
                     help="Only these rule codes (comma separated; a prefix such as QM0 works)."),
        click.option("--ignore", metavar="CODES", help="Leave out these rule codes."),
        click.option("--exclude", metavar="PATTERN", multiple=True,
                     help="Skip paths matching this gitignore-style pattern (repeatable); "
                          "replaces `exclude` from pyproject.toml."),
        click.option("--extend-exclude", metavar="PATTERN", multiple=True,
                     help="Skip these patterns as well as the configured ones (repeatable)."),
        click.option("--jobs", "-j", type=click.IntRange(min=0), default=None,
                     help="Worker processes (default: one a core; 0 too)."),
        click.option("--stdin-filename", metavar="PATH",
                     help="The path to report for source read from `-` (stdin)."),
        click.option("--isolated", is_flag=True,
                     help="Ignore [tool.queuack.migrate] in pyproject.toml."),
        click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
                     show_default=True,
                     help="Colour the output; auto honours NO_COLOR and FORCE_COLOR, else colours "
                          "a terminal only."),
        click.option("--allow-direct-calls", is_flag=True,
                     help="Rewrite tasks that the scanned code also calls directly; those calls "
                          "are reported, to be updated by hand."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


PATHS = click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="migrate")
def cli() -> None:
    """Find queuack tasks that wire their parents by hand and move them to the TaskContext.

    \b
    migrate scan .              report what would change
    migrate apply . --dry-run   show the diffs, write nothing
    migrate apply . --backup    rewrite, keeping the originals for `migrate restore`

    Exit codes: 0 nothing found (or all fixed), 1 findings remain or files would change,
    2 usage or input errors. Settings: [tool.queuack.migrate] in pyproject.toml.
    """


@cli.command()
@PATHS
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]),
              default="text", show_default=True, help="Output format.")
@click.option("--output-file", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this file instead of stdout.")
@_selection_options
@click.option("--no-progress", is_flag=True, help="Never show a progress bar.")
def scan(paths, fmt, output_file, select, ignore, exclude, extend_exclude, jobs, stdin_filename,
         isolated, color, allow_direct_calls, no_progress):
    """Report legacy wiring under PATH... (files, folders, or - for stdin).

    Exit 1 when something is found, 0 when all is clear, 2 on errors.
    """
    from migrate.report import Report, render

    settings = _settings(paths, select, ignore, exclude, extend_exclude, jobs, isolated,
                         allow_direct_calls)
    result = _run(paths, settings, fix=False, stdin_filename=stdin_filename,
                  progress_enabled=fmt == "text" and not no_progress, warn_empty=False)
    report = Report(result.findings, result.n_files, result.errors)
    text = render(report, fmt, color=not output_file and use_color(color, sys.stdout))
    if output_file:
        import os

        try:
            os.makedirs(os.path.dirname(os.path.abspath(output_file)), exist_ok=True)
            with open(output_file, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageFailure(f"cannot write {output_file}: {exc.strerror or exc}") from None
    else:
        click.echo(text, nl=False, color=True)  # render() coloured it only when asked
    sys.exit(2 if result.errors else 1 if report.findings else 0)


def _print_diff(text: str, color: bool, err: bool = False) -> None:
    if not color:
        click.echo(text, nl=False, err=err)
        return
    for line in text.splitlines(keepends=True):
        if line.startswith(("+++", "---")):
            styled = click.style(line, bold=True)
        elif line.startswith("@@"):
            styled = click.style(line, fg="cyan")
        elif line.startswith("+"):
            styled = click.style(line, fg="green")
        elif line.startswith("-"):
            styled = click.style(line, fg="red")
        else:
            styled = line
        click.echo(styled, nl=False, color=True, err=err)


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith(("x", "s")) else f"{n} {word}s"


def _shown(path) -> str:
    import os

    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


@cli.command()
@PATHS
@click.option("--dry-run", is_flag=True, help="Print unified diffs; write nothing. Exit 1 if "
                                              "files would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Also print the diff of each rewrite.")
@click.option("--backup", is_flag=True, help="Keep the originals (in .migrate-backup/ at the "
                                             "project root) for `migrate restore`.")
@click.option("--allow-read-only", is_flag=True,
              help="Also rewrite files without write permission (mode 0444), keeping their mode.")
@_selection_options
@click.option("--no-progress", is_flag=True, help="Never show a progress bar.")
def apply(paths, dry_run, show_diff, backup, allow_read_only, select, ignore, exclude,
          extend_exclude, jobs, stdin_filename, isolated, color, allow_direct_calls, no_progress):
    """Rewrite legacy wiring under PATH... to the TaskContext.

    With `-`, the source is read from stdin and the rewritten source goes to stdout.
    Exit 0 when everything was fixed, 1 when findings remain that cannot be fixed (or, with
    --dry-run, when files would change), 2 on errors. A file whose rewrite fails to parse or
    compile, or that is read-only, is left alone with the files its tasks' rewrites span; the
    writing of the rest is all or nothing: when a file cannot be written or the run is
    interrupted (exit 130 on Ctrl-C), every file already rewritten is put back.
    """
    from migrate.report import error_text, finding_text

    engine = _engine()
    settings = _settings(paths, select, ignore, exclude, extend_exclude, jobs, isolated,
                         allow_direct_calls)
    result = _run(paths, settings, fix=True, stdin_filename=stdin_filename,
                  progress_enabled=not no_progress)
    changed = result.changed()
    stdout_is_code = engine.STDIN in paths and not dry_run
    say_err = stdout_is_code  # the messages go to stderr when stdout carries the source
    color_out = use_color(color, sys.stdout) and not stdout_is_code
    color_err = use_color(color, sys.stderr)
    color_say = color_err if say_err else color_out

    stdin_fixed: set[str] = set()
    if stdout_is_code:  # `apply -`: the rewritten source (or the original) goes to stdout
        new_text = {f.source.display: t for f, t in changed}
        for loaded in result.files:
            if loaded.source.fspath is not None:
                continue
            text = new_text.get(loaded.source.display, loaded.text)
            if text is not loaded.text:
                try:
                    engine.verify(text, loaded.source.display)
                    stdin_fixed.add(loaded.source.display)
                except ValueError as exc:
                    result.errors.append(engine.FileError(loaded.source.display, str(exc)))
                    text = loaded.text
            out = sys.stdout.buffer
            out.write(engine.encode_source(text, loaded.encoding))
            out.flush()

    def emit_errors(errors):
        for e in sorted(errors, key=lambda e: e.path):
            click.echo(error_text(e, color_err), err=True, color=color_err)

    if dry_run:
        refused = engine.ApplyResult()
        writable = {c.shown for c in engine.plan_changes(result, allow_read_only, refused,
                                                              parse=False)}
        for loaded, new in changed:
            if loaded.source.display in writable or loaded.source.fspath is None:
                _print_diff(engine.unified_diff(loaded.text, new, loaded.source.display),
                            color_out)
        would_change = {loaded.source.display for loaded, _ in changed}
        remaining = [f for f in result.findings if not (f.fixable and f.path in would_change)]
        for f in remaining:
            click.echo(finding_text(f, color_err), err=True, color=color_err)
        emit_errors(result.errors + refused.errors)
        if changed:
            tail = (f"; {_plural(len(remaining), 'finding')} cannot be fixed" if remaining
                    else "")
            if refused.errors:
                tail += (f"; {_plural(len(refused.errors), 'file')} would be left alone (see "
                         f"the errors above)")
            click.echo(f"{_plural(len(changed) - len(refused.errors), 'file')} would be "
                       f"rewritten{tail}.", err=True)
        else:
            click.echo(f"Nothing to rewrite in {_plural(result.n_files, 'file')}.", err=True)
        sys.exit(2 if result.errors or refused.errors else 1 if changed else 0)

    written = engine.write_changes(result, backup=backup, allow_read_only=allow_read_only)
    if written.interrupted is not None:
        emit_errors(result.errors + written.errors)
        click.echo(f"Interrupted ({written.interrupted.signal_name}) while writing: "
                   f"{_rollback_summary(written)}", err=True)
        sys.exit(written.interrupted.exit_code)
    if show_diff:
        written_set = set(written.written)
        for loaded, new in changed:
            if loaded.source.display in written_set:
                _print_diff(engine.unified_diff(loaded.text, new, loaded.source.display),
                            color_say, err=say_err)
    for path in written.written:
        click.echo(f"Rewrote {path}", err=say_err)
    done = set(written.written) | stdin_fixed
    fixed = [f for f in result.findings if f.fixable and f.path in done]
    remaining = [f for f in result.findings if not (f.fixable and f.path in done)]
    for f in remaining:
        click.echo(finding_text(f, color_say), err=say_err, color=color_say)
    errors = result.errors + written.errors
    emit_errors(errors)
    if written.aborted:
        click.echo(f"Writing failed: {_rollback_summary(written)}", err=True)
    if written.backup_dir is not None:
        click.echo(f"Originals kept in {_shown(written.backup_dir)} (undo: migrate restore "
                   f"{' '.join(paths)})", err=say_err)
    if written.written or fixed:
        summary = (f"Rewrote {_plural(len(written.written) + len(stdin_fixed), 'file')} "
                   f"({_plural(len(fixed), 'fix')}); ")
    else:
        summary = f"Nothing rewritten in {_plural(result.n_files, 'file')}; "
    if remaining:
        verb = "remains" if len(remaining) == 1 else "remain"
        why = " (not fixable)" if not any(f.fixable for f in remaining) else ""
        summary += f"{_plural(len(remaining), 'finding')} {verb}{why}."
    elif result.errors:  # what could not be analysed may still hold manual wiring
        summary += (f"no findings remain in what was analysed, but "
                    f"{_plural(len(result.errors), 'file')} could not be (see the errors above).")
    else:
        summary += "no findings remain."
    click.echo(summary, err=say_err)
    sys.exit(2 if errors else 1 if remaining else 0)


def _rollback_summary(written) -> str:
    """What the rollback of a failed or interrupted write phase achieved, in one sentence."""
    back = _plural(len(written.rolled_back), "file")
    if not written.not_rolled_back:
        if not written.rolled_back:
            return "no file was changed."
        return f"put back the {back} already rewritten; no file was changed."
    stuck = "; ".join(f"{e.path} ({e.message})" for e in written.not_rolled_back)
    keep = (f" The originals are in {_shown(written.backup_dir)} (migrate restore brings them "
            f"back)." if written.backup_dir is not None else "")
    return (f"put back {back}, but these still hold the rewritten text, so the project is "
            f"only partly migrated: {stuck}.{keep}")


@cli.command(short_help="Undo an `apply --backup` under PATH...; --list shows the backups.")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--force", is_flag=True, help="Overwrite files edited since the apply.")
@click.option("--backup-id", metavar="ID",
              help="Restore from this backup (an id from --list, or a unique start of one) "
                   "instead of the newest; without PATH, every file it holds.")
@click.option("--list", "list_only", is_flag=True,
              help="List the backups of the project (newest first) and restore nothing.")
def restore(paths, force, backup_id, list_only):
    """Put back, byte for byte, what the last `apply --backup` changed under PATH...

    Refuses (exit 1, nothing restored) when a file was edited since, unless --force.
    The restored files leave the backup; an emptied backup is deleted, so a second restore
    steps back to the backup before it. --backup-id picks an older backup; --list shows them.
    """
    engine = _engine()
    if list_only:
        _list_backups(engine, paths)
        return
    if not paths and backup_id is None:
        raise UsageFailure("restore needs PATH... (or --backup-id ID); "
                           "`migrate restore --list` shows the backups")
    try:
        result = engine.restore(list(paths), force=force, backup_id=backup_id)
    except engine.RestoreConflict as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    except engine.MigrateError as exc:
        raise UsageFailure(str(exc)) from None
    for path in result.restored:
        click.echo(f"Restored {path}")
    for path in result.unchanged:
        click.echo(f"Already original: {path}")
    where = _shown(result.backup_dir)
    if result.backup_removed:
        where += ", which is now used up and removed"
    click.echo(f"Restored {_plural(len(result.restored), 'file')} from {where}.")


def _list_backups(engine, paths) -> None:
    root = engine.project_root(list(paths) or ["."])
    try:
        found = engine.backups(root)
    except engine.MigrateError as exc:
        raise UsageFailure(str(exc)) from None
    if not found:
        click.echo(f"No backups in {_shown(root / engine.BACKUP_DIR_NAME)} "
                   "(`migrate apply --backup` makes them).")
        return
    for info in found:
        names = [_shown(f) for f in info.files]
        shown = ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)" if len(names) > 5 else "")
        click.echo(f"{info.id}  {_plural(len(names), 'file')}: {shown}")
    click.echo(f"{_plural(len(found), 'backup')} in {_shown(root / engine.BACKUP_DIR_NAME)}, "
               "newest first; `migrate restore --backup-id ID` restores one.")


@cli.command(short_help="The pre-commit entry: exit 1 where old patterns remain.")
@click.argument("files", nargs=-1, type=click.Path(allow_dash=True))
@_selection_options
def check(files, select, ignore, exclude, extend_exclude, jobs, stdin_filename, isolated, color,
          allow_direct_calls):
    """The pre-commit entry: exit 1 where old patterns remain in FILE...; nothing is written.

    Quiet when all is clear.
    """
    if not files:
        return  # pre-commit may call a hook with no files
    from migrate.report import error_text, finding_text

    settings = _settings(files, select, ignore, exclude, extend_exclude, jobs, isolated,
                         allow_direct_calls)
    result = _run(files, settings, fix=False, stdin_filename=stdin_filename,
                  progress_enabled=False)
    findings = result.findings
    color_out, color_err = use_color(color, sys.stdout), use_color(color, sys.stderr)
    for f in findings:
        click.echo(finding_text(f, color_out), color=color_out)
    for e in sorted(result.errors, key=lambda e: e.path):
        click.echo(error_text(e, color_err), err=True, color=color_err)
    if findings:
        fixable = sum(1 for f in findings if f.fixable)
        found = f"Found {_plural(len(findings), 'finding')}"
        if fixable:
            click.echo(f"{found} ({fixable} fixable): run `migrate apply` on these files.")
        else:
            click.echo(f"{found}, none fixable: fix them by hand as the hints say.")
    sys.exit(2 if result.errors else 1 if findings else 0)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
def rules(fmt):
    """List the rules."""
    from migrate import report
    from migrate.rules import RULES

    if fmt == "text":
        click.echo(report.rules_text(RULES), nl=False)
    elif fmt == "json":
        click.echo(report.rules_json(RULES), nl=False)
    else:
        from migrate.rules import rules_markdown

        text = rules_markdown()
        click.echo(text if text.endswith("\n") else text + "\n", nl=False)


@cli.command(short_help="Print the documentation of a rule.")
@click.argument("code")
def explain(code):
    """Print the documentation of rule CODE (a code such as QM001, or a rule name)."""
    from migrate.rules import RULES, lookup

    info = lookup(code)
    if info is None:
        raise UsageFailure(f"unknown rule code {code!r}; known codes: {', '.join(sorted(RULES))}")
    fix = "fixable by `migrate apply`" if info.fixable else "reported only, never rewritten"
    click.echo(f"{info.code} ({info.name}): {info.summary}\n[{fix}]\n")
    click.echo((info.doc or "").strip())


def main(argv: list[str] | None = None) -> int:
    cli.main(args=argv, prog_name="migrate")
    return 0
