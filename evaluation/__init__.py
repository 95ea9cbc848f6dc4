"""avmine's scenario-mining evaluation: av2-identical metrics in numpy, post-processing and submissions."""

from avmine.evaluation.api import EvaluationResult, PromptScores, evaluate
from avmine.evaluation.errors import EvaluationInputError

__all__ = ["EvaluationInputError", "EvaluationResult", "PromptScores", "evaluate"]
