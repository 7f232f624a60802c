"""Sandwich layers: common sequences of layers with one forward and one backward each.

Every ``*_forward`` returns ``(out, cache)``; every ``*_backward(dout, cache)`` returns
``dx, dw, db`` (plus ``dgamma, dbeta`` where a normalization is inside).
"""

from __future__ import annotations

import numpy as np

from cs231n.layers import *  # noqa: F403  (the classic kit exposes the layers here too)


###########################################################################
#                    Fully connected sandwiches (Q1-Q3)                   #
###########################################################################


###########################################################################
#                    Convolutional sandwiches (Q4)                        #
###########################################################################
