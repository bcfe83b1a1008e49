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
    GRU,
    LSTM,
    RNN,
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    LayerNorm,
    LeakyReLU,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Tanh,
)
from .losses import MSE, Loss, SigmoidBCE, SoftmaxCE, SVMLoss
from .model import History, Model
from .optim import SGD, Adam, Momentum, Optimizer, RMSProp
from .sampling import sample, sample_text

__version__ = "0.1.0"

__all__ = [
    "Activation", "Adam", "BatchNorm", "CheckReport", "Conv2D", "Dense", "Dropout", "Embedding",
    "Flatten", "GRU", "GradientCheckError", "GradientChecker", "History", "LSTM", "Layer",
    "LayerCheck", "LayerNorm", "LeakyReLU", "Loss", "MSE", "MaxPool2D", "Model", "Momentum",
    "Optimizer", "ParamCheck", "RMSProp", "RNN", "ReLU", "SGD", "SVMLoss", "Sigmoid", "SigmoidBCE",
    "SoftmaxCE", "Tanh",
    "check_function", "check_layer", "datasets", "numeric_gradient", "sample", "sample_text",
]
