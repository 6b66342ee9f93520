"""Networks of the theory: the lazy two-layer net of paper 002 (eq. 6) and a configurable MLP.

Each model has `lipschitz_bound(norm)`, an upper bound on its Lipschitz constant w.r.t. the
attack norm, used for certified upper bounds and the data-independent regulariser."""
from .activations import ACTIVATIONS, activation_lipschitz, smooth_relu
from .mlp import MLP, count_parameters, linear_model
from .two_layer import TwoLayerNet, balanced_output_weights
from .activations import ReLUSoftplusGrad, relu_softplus_grad
from .wrn import WideResNet

__all__ = ["ACTIVATIONS", "MLP", "TwoLayerNet", "activation_lipschitz", "balanced_output_weights",
           "count_parameters", "linear_model", "smooth_relu",
           "ReLUSoftplusGrad", "WideResNet", "relu_softplus_grad"]
