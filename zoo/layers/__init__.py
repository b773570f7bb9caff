"""Keras layers that integrate: over time, over a pooling region, along an ODE trajectory."""

from zoo.layers.global_lp_pooling import GlobalLpPooling1D, GlobalLpPooling2D
from zoo.layers.integral import IntegralLayer
from zoo.layers.lp_pooling import LpPooling1D, LpPooling2D
from zoo.layers.ode_block import ODEBlock
from zoo.layers.ode_solvers import SOLVERS, EvaluationCounter, odeint

__all__: list[str] = [
    "SOLVERS",
    "EvaluationCounter",
    "GlobalLpPooling1D",
    "GlobalLpPooling2D",
    "IntegralLayer",
    "LpPooling1D",
    "LpPooling2D",
    "ODEBlock",
    "odeint",
]
