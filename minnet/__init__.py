"""minnet: a small neural-network framework in numpy, with a gradient checker that says where
backprop is wrong and what kind of mistake it looks like."""

from . import datasets
from .gradcheck import (
    CheckReport,
    GradientChecker,
    GradientCheckError,
    LayerCheck,
    ParamCheck,
    check_function,
    check_layer,
    numeric_gradient,
)
from .layers import (
    Activation,
    BatchNorm,
    Dense,
    Dropout,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
)
from .losses import MSE, Loss, SigmoidBCE, SoftmaxCE
from .model import History, Model
from .optim import SGD, Adam, Momentum, Optimizer

__version__ = "0.1.0"

__all__ = [
    "Activation", "Adam", "BatchNorm", "CheckReport", "Dense", "Dropout", "GradientCheckError",
    "GradientChecker", "History", "Layer", "LayerCheck", "LeakyReLU", "Loss", "MSE", "Model",
    "Momentum", "Optimizer", "ParamCheck", "ReLU", "SGD", "Sigmoid", "SigmoidBCE", "SoftmaxCE",
    "Tanh", "check_function", "check_layer", "datasets", "numeric_gradient",
]
