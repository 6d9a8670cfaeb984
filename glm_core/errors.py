"""The one error type that carries a message meant for the user.

``InputError`` is raised wherever a user's input (a file, a region, a value, a model
folder) is wrong. Its message says what was wrong and what to do, so pages show it with
``st.error`` and the command line prints it and exits with status 2, never a traceback.
It subclasses ``ValueError`` so that callers catching ``ValueError`` keep working.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input; ``str(error)`` is the whole message to show."""


def user_message(error: BaseException) -> str:
    """The text to show for an error raised by ``glm_core``.

    ``str(KeyError('x'))`` adds quotes around the message; take the argument itself.
    """
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)
