"""avmine's scenario-mining evaluation: av2-identical metrics in numpy, post-processing and submissions."""

from evaluation.api import EvaluationResult, PromptScores, evaluate
from evaluation.errors import EvaluationInputError

__all__ = ["EvaluationInputError", "EvaluationResult", "PromptScores", "evaluate"]
