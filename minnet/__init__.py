"""minnet: a small neural-network framework in numpy, with a gradient checker that says where
backprop is wrong and what kind of mistake it looks like."""

from . import datasets
from .decoder import transformer
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
    GELU,
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
    MultiHeadAttention,
    PositionalEncoding,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Tanh,
)
from .losses import MSE, Loss, SigmoidBCE, SoftmaxCE, SVMLoss
from .model import History, Model
from .optim import SGD, Adam, Momentum, Optimizer, RMSProp
from .sampling import sample, sample_text

__version__ = "0.1.0"

__all__ = [
    "GELU", "GRU", "LSTM", "RNN", "Activation", "Adam", "BatchNorm", "CheckReport", "Conv2D",
    "Dense", "Dropout", "Embedding", "Flatten", "GradientCheckError", "GradientChecker",
    "History", "Layer", "LayerCheck", "LayerNorm", "LeakyReLU", "Loss", "MSE", "MaxPool2D",
    "Model", "Momentum", "MultiHeadAttention", "Optimizer", "ParamCheck", "PositionalEncoding",
    "RMSProp", "ReLU", "Residual", "SGD", "SVMLoss", "Sequential", "Sigmoid", "SigmoidBCE",
    "SoftmaxCE", "Tanh", "check_function", "check_layer", "datasets", "numeric_gradient",
    "sample", "sample_text", "transformer",
]
