"""The async face of a blocking object: each of its methods, awaited, runs on a worker thread."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from core.concurrency import run_blocking

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Face(Generic[T_co]):
    """The async face of `blocking`: a subclass names the methods it offers, each an
    `Offloaded` attribute.

    Why a face rather than `run_blocking(lambda: store.x(...))` at every call: the rule that
    the object never runs on the event loop is then written once, and the type checker sees
    each method's own parameters and result through the face, which a lambda hides.
    """

    def __init__(self, blocking: T_co) -> None:
        self._blocking = blocking

    @property
    def blocking(self) -> T_co:
        """The object whose methods the face runs."""
        return self._blocking


class Offloaded(Generic[T, P, R]):
    """A blocking method `method(target, *args)` offered on a `Face` as a coroutine function
    with the same parameters, whose call runs the method on the quick worker pool
    (`core.concurrency.run_blocking`) and returns its result, or raises its error.

    Cancelling the task that awaits it drops the call if no worker has started it yet; one
    already running finishes (a transaction is never cut in half), with nobody reading it.
    """

    def __init__(self, method: Callable[Concatenate[T, P], R]) -> None:
        self._method = method

    @overload
    def __get__(self, face: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, face: Face[T], owner: type[Any]) -> Callable[P, Coroutine[Any, Any, R]]: ...

    def __get__(
        self, face: Face[T] | None, owner: type[Any]
    ) -> Self | Callable[P, Coroutine[Any, Any, R]]:
        if face is None:
            return self
        method, target = self._method, face.blocking

        async def offloaded(*args: P.args, **kwargs: P.kwargs) -> R:
            return await run_blocking(partial(method, target, *args, **kwargs))

        offloaded.__name__ = offloaded.__qualname__ = method.__name__
        offloaded.__doc__ = method.__doc__
        return offloaded
