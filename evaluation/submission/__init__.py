"""Challenge submissions: scenario results to av2's pickle formats, and a validator for such pickles."""

from avmine.evaluation.submission.format import LogBoxes, build_submission, sequence_frames
from avmine.evaluation.submission.labels import label_boxes
from avmine.evaluation.submission.validate import Problem, validate_submission

__all__ = ["LogBoxes", "Problem", "build_submission", "label_boxes", "sequence_frames", "validate_submission"]
