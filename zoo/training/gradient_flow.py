"""Gradient descent as integration of the gradient flow dθ/dt = −∇L(θ).

Plain SGD with learning rate h is the explicit Euler method on this ODE: θ ← θ − h ∇L(θ), with
a global error O(h). Heun's method (the explicit trapezoid rule, RK2) evaluates the gradient twice,

    g₁ = ∇L(θ),   g₂ = ∇L(θ − h g₁),   θ ← θ − (h/2)(g₁ + g₂),

and has a global error O(h²): it follows the continuous flow more closely at the same step size.

`Heun` is the optimizer a user picks; the Trainer's step sees `gradient_evaluations == 2` and
computes g₂ at the trial point before handing the average (g₁ + g₂)/2 to `apply_gradients`, which
then takes the SGD step θ ← θ − h·average.

Reference: Süli & Mayers, *An Introduction to Numerical Analysis* (2003), §12.5 (Heun's method).
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="zoo")
class Heun(keras.optimizers.SGD):
    """Heun (RK2) steps on the gradient flow; two gradient evaluations per step.

    Math: θ ← θ − (h/2)(∇L(θ) + ∇L(θ − h∇L(θ))) with h the learning rate.

    Args:
        learning_rate: the step size h (a float or a Keras schedule).
        **kwargs: forwarded to `keras.optimizers.Optimizer` (e.g. `name`).

    Example:
        trainer = Trainer(model=model, optimizer=Heun(learning_rate=0.1), loss="mse")

    Reference:
        Süli & Mayers, An Introduction to Numerical Analysis (2003), §12.5.
    """

    # Read by the Trainer's step: how many gradients one update needs.
    gradient_evaluations = 2

    def __init__(self, learning_rate: Any = 0.01, name: str = "heun", **kwargs: Any) -> None:
        kwargs.pop("momentum", None)
        kwargs.pop("nesterov", None)
        super().__init__(
            learning_rate=learning_rate, momentum=0.0, nesterov=False, name=name, **kwargs
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("momentum", None)
        config.pop("nesterov", None)
        return config
