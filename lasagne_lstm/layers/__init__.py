"""Layers and network helpers (``lasagne.layers``)."""
from .base import *  # noqa: F401,F403
from .input import *  # noqa: F401,F403
from .helper import *  # noqa: F401,F403
from .dense import *  # noqa: F401,F403
from .special import *  # noqa: F401,F403
from .embedding import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .merge import *  # noqa: F401,F403
from .noise import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
