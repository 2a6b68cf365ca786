"""Every setting is also a CLI flag: options are generated from the Settings model, once, for every command."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import SecretStr, ValidationError

from ..config import Settings
from ..errors import ConfigError
from ._errors import exit_on_error


def _flag_type(annotation: Any) -> Any:
    """The CLI type for a setting: strings for literals and secrets, the scalar type otherwise."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return str
    if origin is not None and args:  # Optional[X], Union, list[...]
        if origin is list:
            return str
        return _flag_type(args[0])
    if annotation in (SecretStr,):
        return str
    if annotation in (str, int, float, bool, Path):
        return annotation
    return str


SETTING_FLAGS: list[inspect.Parameter] = []
for _name, _field in Settings.model_fields.items():
    _type = _flag_type(_field.annotation)
    _flag = "--" + _name.replace("_", "-")
    _help = (_field.description or "") + f" [env: SUMMARIZER_{_name.upper()}]"
    if _type is bool:  # an on/off pair: --no-cache/--cache, --x/--no-x
        _flag = f"{_flag}/--{_flag[5:]}" if _flag.startswith("--no-") else f"{_flag}/--no-{_flag[2:]}"
    _option = typer.Option(_flag, help=_help, rich_help_panel="Settings", show_default=False)
    SETTING_FLAGS.append(
        inspect.Parameter(
            f"setting_{_name}",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[_type | None, _option],  # type: ignore[valid-type]
        )
    )


def settings_from_flags(flags: dict[str, Any]) -> Settings:
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"setting {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def with_settings(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add a flag per setting to a command; the command receives ``settings: Settings``."""
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in signature.parameters.values()
        if p.name != "settings"
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {p.name[len("setting_") :]: kwargs.pop(p.name, None) for p in SETTING_FLAGS}
        with exit_on_error():
            kwargs["settings"] = settings_from_flags(flags)
        return func(*args, **kwargs)

    params = own + SETTING_FLAGS
    wrapper.__signature__ = signature.replace(parameters=params, return_annotation=None)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    del wrapper.__wrapped__  # typer must read the new signature, not the original's
    return wrapper
