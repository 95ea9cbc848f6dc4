"""The one exception type that evaluation raises for bad input."""


class EvaluationInputError(ValueError):
    """Predictions or ground truth that cannot be scored faithfully.

    The message names the entry (side, ``(log_id, prompt)``, frame index and timestamp, key), says
    what is wrong and how to fix it. It is raised instead of returning a score that av2's
    ``evaluate`` would either crash on or silently get wrong.
    """
