"""Loss laws: predict a training run's loss from its learning-rate schedule alone.

``gs.laws.MultiPower`` (Luo et al., ICLR 2025) and ``gs.laws.Annealing`` (Tissue et al., 2024)
with their constants; :func:`gpusched.predict_loss` applies one to every config of a sweep;
:func:`fit` fits a law's constants to observed loss curves (SciPy), :func:`metrics` scores a
law on curves, :func:`read_curves` reads ``step,lr,loss`` CSV files.
"""

from .model import Annealing, Law, LawError, MultiPower, LAWS
from .predict import predict_loss
from .fitting import Curve, Run, fit, metrics, read_curves, read_curves_file, run_of

__all__ = ["MultiPower", "Annealing", "Law", "LawError", "LAWS", "predict_loss", "fit",
           "metrics", "read_curves", "read_curves_file", "Curve", "Run", "run_of"]
