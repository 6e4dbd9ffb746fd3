"""How a trial is launched: its final command line and extra environment.

The manager calls :func:`prepare_launch` once per trial to build its `LaunchSpec`; the executor then
lays out the trial directory and ``params.json`` (`Executor.prepare`) and starts it. It:

* fills the ``trialCommand`` template: ``{name}`` for each top-level parameter, ``{params_json}``,
  ``{params_file}``, ``{trial_id}``, ``{trial_dir}``, ``{experiment_id}``, ``{sequence}``. Each
  value is quoted for the place it lands in (bare, inside ``'...'`` or inside ``"..."``), so no
  parameter value can inject shell code. Unknown ``{...}`` and ``${...}`` are left alone;
* refuses templates where that quoting cannot hold (:func:`check_trial_command`): a placeholder
  inside ``$(...)``, backticks or ``${...}``, in the command string of ``sh -c`` (or bash, zsh,
  dash, ksh), or after ``eval``. That text is parsed by a second shell, so a value such as
  ``"; touch x #"`` would run there; ``paramsAs: env`` passes values that no shell parses;
* passes parameters the other ways ``paramsAs`` asks for: automatic ``--name value`` flags,
  environment variables, or a params file in the trial directory;
* sets NNI's trial variables and points NNI's trial channel at hyperloom's when the config asks for
  NNI compatibility (``nniCompat``) or the trial script imports ``nni``;
* runs the command under :mod:`hyperloom.trials.wrap` when the config has a ``metricCapture``
  section (metrics read from stdout or a metrics file).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hyperloom.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from hyperloom.config import Config

__all__ = [
    "NNI_CHANNEL",
    "check_metric_capture",
    "check_nni_compat",
    "check_params_as",
    "check_trial_command",
    "format_value",
    "prepare_launch",
    "render_command",
    "script_imports_nni",
]

log = logging.getLogger(__name__)

#: The value of NNI_TRIAL_COMMAND_CHANNEL: a class that the real nni package instantiates.
NNI_CHANNEL = "import://_hyperloom_nni_bridge.HyperloomChannel"

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")
_IMPORTS_NNI = re.compile(
    r"^\s*(?:import\s+nni\b|from\s+nni(?:\.[\w.]+)?\s+import\b)", re.MULTILINE
)
_ENV_NAME = re.compile(r"[^A-Za-z0-9_]")
_PARAMS_AS = ("args", "env", "file")
_CAPTURE_KEYS = {"objective", "regex", "finalRegex", "file", "format", "stepKey", "required"}
#: The placeholders every template may use besides the parameters' names.
BUILTIN_PLACEHOLDERS = (
    "params_json",
    "params_file",
    "trial_id",
    "trial_dir",
    "experiment_id",
    "sequence",
)
#: Built-ins that are always letters and digits: safe anywhere.
_PLAIN_BUILTINS = {"trial_id", "experiment_id", "sequence"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "posh", "fish"}


def _trials_dir() -> Path:
    """The folder of ``hyperloom.trials`` (holds the NNI bridge and the light shim)."""
    import hyperloom.trials as trials

    return Path(trials.__file__).resolve().parent


# -------------------------------------------------------------------------------------------------
# Config checks (used by hyperloom.config for the keys this module owns)


def check_nni_compat(value: Any) -> bool | str:
    """``nniCompat``: true, false, "auto" (set NNI variables when the script imports nni) or
    "shim" (also put the light ``nni`` package on PYTHONPATH)."""
    if isinstance(value, bool):
        return value
    if value in ("auto", "shim"):
        return str(value)
    raise ValueError('true, false, "auto" or "shim"')


def check_params_as(value: Any) -> dict[str, dict[str, Any]]:
    """``paramsAs``: "args", "env", "file", a list of them, or a mapping ``{args: {prefix, separator},
    env: {prefix}, file: {path, format}}`` (each value true or its options)."""
    expected = '"args", "env", "file", a list of them, or a mapping of them to options'
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        if not all(isinstance(v, str) and v in _PARAMS_AS for v in value):
            raise ValueError(expected)
        value = {v: True for v in value}
    if not isinstance(value, Mapping):
        raise ValueError(expected)
    out: dict[str, dict[str, Any]] = {}
    for kind, opts in value.items():
        if kind not in _PARAMS_AS:
            raise ValueError(expected)
        if opts is False or opts is None:
            continue
        if opts is True:
            opts = {}
        if not isinstance(opts, Mapping):
            raise ValueError(expected)
        out[str(kind)] = dict(opts)
    args = out.get("args")
    if args is not None:
        if set(args) - {"prefix", "separator"}:
            raise ValueError("paramsAs.args options: prefix (default '--'), separator (' ' or '=')")
        if args.get("separator", " ") not in (" ", "="):
            raise ValueError("paramsAs.args.separator ' ' or '='")
    env = out.get("env")
    if env is not None and set(env) - {"prefix"}:
        raise ValueError("paramsAs.env options: prefix (default 'HYPERLOOM_PARAM_')")
    f = out.get("file")
    if f is not None:
        if set(f) - {"path", "format"}:
            raise ValueError(
                "paramsAs.file options: path (relative to the trial dir), format (json or yaml)"
            )
        if f.get("format", "json") not in ("json", "yaml"):
            raise ValueError("paramsAs.file.format 'json' or 'yaml'")
        p = f.get("path", "params.json")
        if not isinstance(p, str) or Path(p).is_absolute() or ".." in Path(p).parts:
            raise ValueError("paramsAs.file.path a relative path inside the trial directory")
    return out


def check_metric_capture(value: Any) -> dict[str, Any]:
    """``metricCapture``: ``{objective, regex, finalRegex, file, format, stepKey, required}``."""
    if not isinstance(value, Mapping):
        raise ValueError("a mapping with objective, regex, finalRegex, file, format, stepKey")
    extra = set(value) - _CAPTURE_KEYS
    if extra:
        raise ValueError(
            f"a mapping with keys among {sorted(_CAPTURE_KEYS)} (unknown: {sorted(extra)})"
        )
    for key in ("regex", "finalRegex"):
        if key in value:
            try:
                rx = re.compile(str(value[key]))
            except re.error as e:
                raise ValueError(
                    f"a mapping whose {key} is a valid regular expression ({e})"
                ) from None
            if "value" not in rx.groupindex:
                raise ValueError(f"a mapping whose {key} has a named group (?P<value>...)")
    if "format" in value and value["format"] not in ("jsonl", "csv"):
        raise ValueError("a mapping whose format is 'jsonl' or 'csv'")
    if not value.get("objective") and "regex" not in value:
        raise ValueError(
            "a mapping with an objective (the metric name to read, e.g. accuracy) or a regex "
            "with a (?P<value>...) group"
        )
    return dict(value)


# -------------------------------------------------------------------------------------------------
# Templating


def format_value(value: Any) -> str:
    """The text a parameter value takes on a command line: strings as they are, everything else
    as JSON (``0.001``, ``true``, ``[1, 2]``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _quote_in(state: str | None, text: str) -> str:
    if state == "'":
        return text.replace("'", "'\\''")
    if state == '"':
        return re.sub(r'([\\"$`])', r"\\\1", text)
    return shlex.quote(text)


def render_command(template: str, values: Mapping[str, str]) -> str:
    """Fills ``{name}`` placeholders in a shell command template, quoting each value for where it
    lands: bare, inside single quotes or inside double quotes.

    Placeholders whose name is not in ``values`` and ``${...}`` shell expansions are left as they
    are.
    """
    out: list[str] = []
    state: str | None = None
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c == "\\" and state != "'":
            out.append(template[i : i + 2])
            i += 2
            continue
        if state is None and c in ("'", '"'):
            state = c
        elif state is not None and c == state:
            state = None
        elif c == "{" and not (i > 0 and template[i - 1] == "$"):
            m = _PLACEHOLDER.match(template, i)
            if m and m.group(1) in values:
                out.append(_quote_in(state, values[m.group(1)]))
                i = m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


class _Word:
    """A shell word of a template: its text without quotes, and the placeholders in it."""

    __slots__ = ("names", "text")

    def __init__(self) -> None:
        self.text = ""
        self.names: list[str] = []


def _scan(template: str, names: set[str] | None) -> tuple[list[list[_Word]], list[tuple[str, str]]]:
    """Splits a template into simple commands of words, the way ``sh`` would at the top level,
    and finds placeholders that land where a second parse happens.

    Returns ``(commands, nested)``: ``nested`` holds ``(name, where)`` for each placeholder inside
    ``$(...)``, ``$((...))``, backticks or ``${...}``.
    """
    commands: list[list[_Word]] = [[]]
    nested: list[tuple[str, str]] = []
    stack: list[str] = []  # "'", '"', "$(", "(", "`", "${"
    word: _Word | None = None
    where = {"$(": "$(...)", "(": "$(...)", "`": "backticks", "${": "${...}"}

    def cur() -> _Word:
        nonlocal word
        if word is None:
            word = _Word()
            commands[-1].append(word)
        return word

    def end_word() -> None:
        nonlocal word
        word = None

    i, n = 0, len(template)
    while i < n:
        c = template[i]
        top = stack[-1] if stack else None
        if c == "{" and not (i > 0 and template[i - 1] == "$"):
            m = _PLACEHOLDER.match(template, i)
            if m and (names is None or m.group(1) in names) and m.group(1) not in _PLAIN_BUILTINS:
                w = cur()
                w.names.append(m.group(1))
                outer = [s for s in stack if s in where]
                if outer:
                    nested.append((m.group(1), where[outer[0]]))
                w.text += m.group(0)
                i = m.end()
                continue
        if top == "'":  # nothing is special inside single quotes but their end
            if c == "'":
                stack.pop()
                if not stack:
                    i += 1
                    continue
        elif c == "\\":
            cur().text += template[i : i + 2] if stack else template[i + 1 : i + 2]
            i += 2
            continue
        elif template.startswith("$(", i) or template.startswith("${", i):
            stack.append(template[i : i + 2])
            cur().text += template[i : i + 2]
            i += 2
            continue
        elif c == "`":
            if top == "`":
                stack.pop()
            else:
                stack.append(c)
        elif top == '"':
            if c == '"':
                stack.pop()
                if not stack:
                    i += 1
                    continue
        elif c in ("'", '"'):
            stack.append(c)
            if len(stack) == 1:
                cur()
                i += 1
                continue
        elif top in ("$(", "(") and c == ")":
            stack.pop()
        elif top in ("$(", "(") and c == "(":
            stack.append("(")
        elif top == "${" and c == "}":
            stack.pop()
        elif not stack:
            if c in " \t":
                end_word()
                i += 1
                continue
            if c in ";&|()\n<>":
                end_word()
                if c not in "<>":
                    commands.append([])
                i += 1
                continue
        cur().text += c
        i += 1
    return [cmd for cmd in commands if cmd], nested


_ADVICE = (
    "a parameter value there would be parsed as shell code (a value such as '\"; touch x #' "
    'would run). Pass parameters with `paramsAs: env` and read "$HYPERLOOM_PARAM_<NAME>" in '
    "the inner command (or give them after the command string, as in sh -c '... \"$1\"' _ {name})"
)


def check_trial_command(template: str, names: Iterable[str] | None = None) -> str:
    """Refuses a ``trialCommand`` whose placeholders a second shell would parse again.

    :func:`render_command` quotes each value for the shell that runs the command. Text that is
    parsed once more is beyond that quoting: command substitution (``$(...)``, backticks),
    parameter expansion (``${...}``), the command string of ``sh -c`` (bash, zsh, dash, ksh, ...)
    and the arguments of ``eval``. A placeholder there is refused.

    Args:
        template: The ``trialCommand``.
        names: The placeholder names that are filled (the parameters' top-level names; the
            built-in ones are added). None counts every ``{name}``.

    Returns:
        The template, unchanged.

    Raises:
        ValueError: A placeholder is in one of those places; the message names it and the way out.
    """
    known = None if names is None else {*names, *BUILTIN_PLACEHOLDERS}
    commands, nested = _scan(template, known)
    for name, where in nested:
        raise ValueError(f"the placeholder {{{name}}} is inside {where}: {_ADVICE}")
    for words in commands:
        for k, w in enumerate(words):
            base = w.text.rsplit("/", 1)[-1]
            if base == "eval":
                for later in words[k + 1 :]:
                    for name in later.names:
                        raise ValueError(f"the placeholder {{{name}}} follows eval: {_ADVICE}")
            if base not in _SHELLS:
                continue
            j, has_c = k + 1, False
            while j < len(words) and words[j].text[:1] in ("-", "+") and words[j].text != "--":
                flag = words[j].text
                if flag in ("-o", "+o", "-O", "+O"):
                    j += 1  # takes the option's name
                elif flag[:2] != "--" and "c" in flag[1:]:
                    has_c = True
                j += 1
            if has_c and j < len(words) and words[j].names:
                raise ValueError(
                    f"the placeholder {{{words[j].names[0]}}} is inside the command string of "
                    f"`{base} -c`: {_ADVICE}"
                )
    return template


# -------------------------------------------------------------------------------------------------
# NNI detection

_nni_cache: dict[tuple[str, float], bool] = {}


def script_imports_nni(command: str, cwd: Path) -> bool:
    """Whether a ``.py`` script named in ``command`` (resolved against ``cwd``) imports nni.

    Only the script itself is read, not the modules it imports: set ``nniCompat: true`` when the
    import happens elsewhere.
    """
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        if not word.endswith(".py"):
            continue
        path = Path(word) if Path(word).is_absolute() else cwd / word
        try:
            key = (str(path), path.stat().st_mtime)
        except OSError:
            continue
        if key not in _nni_cache:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")[:1_000_000]
            except OSError:
                continue
            _nni_cache[key] = bool(_IMPORTS_NNI.search(text))
        if _nni_cache[key]:
            return True
    return False


def _nni_env(
    config: Config, *, trial_id: str, trial_dir: Path, experiment_id: str, sequence: int, shim: bool
) -> dict[str, str]:
    trials = _trials_dir()
    paths = [str(trials / "_nni_bridge")]
    if shim:
        paths.append(str(trials / "_nni_shim"))
    existing = os.environ.get("PYTHONPATH")
    if existing:
        paths.append(existing)
    return {
        "NNI_PLATFORM": "local",
        # REUSE_MODE keeps nni from redirecting the trial's stdout into trial.log; the channel is
        # chosen by NNI_TRIAL_COMMAND_CHANNEL, so it changes nothing else.
        "REUSE_MODE": "true",
        "NNI_EXP_ID": experiment_id,
        "NNI_TRIAL_JOB_ID": trial_id,
        "NNI_TRIAL_SEQ_ID": str(sequence),
        "NNI_SYS_DIR": str(trial_dir),
        "NNI_OUTPUT_DIR": str(trial_dir),
        "NNI_CODE_DIR": str(config.trial_code_directory),
        "NNI_TRIAL_COMMAND_CHANNEL": NNI_CHANNEL,
        "HYPERLOOM_TRIALS_SRC": str(trials),
        "HYPERLOOM_CORE_SRC": str(Path(__file__).resolve().parent),
        "PYTHONPATH": os.pathsep.join(paths),
    }


# -------------------------------------------------------------------------------------------------
# The launch


def _wrap_command(command: str, capture: Mapping[str, Any], values: Mapping[str, str]) -> str:
    args = [sys.executable, "-m", "hyperloom.trials.wrap"]
    if capture.get("objective"):
        args += ["--objective", str(capture["objective"])]
    if "regex" in capture:
        args += ["--regex", str(capture["regex"])]
    if "finalRegex" in capture:
        args += ["--final-regex", str(capture["finalRegex"])]
    if capture.get("file"):
        args += ["--file", render_command(str(capture["file"]), {k: v for k, v in values.items()})]
    if capture.get("format"):
        args += ["--format", str(capture["format"])]
    if capture.get("stepKey"):
        args += ["--step-key", str(capture["stepKey"])]
    if capture.get("required") is False:
        args += ["--optional"]
    return shlex.join([*args, "--", "/bin/sh", "-c", command])


def _env_name(prefix: str, name: str) -> str:
    return prefix + _ENV_NAME.sub("_", name).upper()


def prepare_launch(
    config: Config,
    *,
    params: dict[str, Any],
    trial_id: str,
    trial_dir: Path,
    experiment_id: str,
    sequence: int,
) -> tuple[str, dict[str, str]]:
    """Returns the shell command line of a trial and the extra environment variables it needs.

    Args:
        config: The experiment config (``trialCommand`` and the ``paramsAs``, ``nniCompat`` and
            ``metricCapture`` extras).
        params: The trial's parameters (already in ``trial_dir/params.json``).
        trial_id: The trial's id.
        trial_dir: The trial's directory.
        experiment_id: The experiment's id.
        sequence: The trial's sequence number.

    Returns:
        ``(command, env)``: a command line for ``/bin/sh -c`` and environment variables to add.
    """
    extras = config.extras
    params_file = Path(trial_dir) / "params.json"
    values: dict[str, str] = {
        "params_json": json.dumps(params),
        "params_file": str(params_file),
        "trial_id": trial_id,
        "trial_dir": str(trial_dir),
        "experiment_id": experiment_id,
        "sequence": str(sequence),
    }
    for k, v in params.items():
        values.setdefault(str(k), format_value(v))
    template = config.trial_command
    try:
        check_trial_command(template, values)
    except ValueError as e:
        raise ConfigError(f"trialCommand {template!r}: {e}") from None
    command = render_command(template, values)
    env: dict[str, str] = {"HYPERLOOM_PARAMS_FILE": str(params_file)}

    ways = check_params_as(extras["paramsAs"]) if extras.get("paramsAs") is not None else {}
    if "args" in ways:
        used = {m.group(1) for m in _PLACEHOLDER.finditer(template)}
        prefix = str(ways["args"].get("prefix", "--"))
        sep = ways["args"].get("separator", " ")
        flags: list[str] = []
        for k, v in params.items():
            if k in used:
                continue
            if sep == "=":
                flags.append(shlex.quote(f"{prefix}{k}={format_value(v)}"))
            else:
                flags += [shlex.quote(f"{prefix}{k}"), shlex.quote(format_value(v))]
        if flags:
            command = command + " " + " ".join(flags)
    if "env" in ways:
        prefix = str(ways["env"].get("prefix", "HYPERLOOM_PARAM_"))
        for k, v in params.items():
            env[_env_name(prefix, str(k))] = format_value(v)
        env["HYPERLOOM_PARAMS"] = json.dumps(params)
    if "file" in ways:
        rel = str(ways["file"].get("path", "params.json"))
        path = Path(trial_dir) / rel
        if path != params_file:
            path.parent.mkdir(parents=True, exist_ok=True)
            if ways["file"].get("format", "json") == "yaml":
                import yaml

                text = yaml.safe_dump(params, sort_keys=False)
            else:
                text = json.dumps(params, indent=2)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        env["HYPERLOOM_PARAMS_FILE"] = str(path)

    compat = extras.get("nniCompat", "auto")
    compat = "auto" if compat is None else compat
    wants_nni = compat is True or compat == "shim"
    if compat == "auto":
        wants_nni = script_imports_nni(command, Path(config.trial_code_directory))
    if wants_nni:
        env.update(
            _nni_env(
                config,
                trial_id=trial_id,
                trial_dir=Path(trial_dir),
                experiment_id=experiment_id,
                sequence=sequence,
                shim=compat == "shim",
            )
        )
    capture = extras.get("metricCapture")
    if capture:
        command = _wrap_command(command, check_metric_capture(capture), values)
    return command, env
