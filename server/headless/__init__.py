"""Headless agent runs: ``avmine run`` (a submission) and ``avmine screen`` (the few-shot library).

``agents`` starts agent CLIs, ``local_server`` serves avmine's MCP tools to them, ``tasks`` writes
what they are asked, ``batch`` orchestrates prompts (review, retries, VLM check, scores, resume)
and ``report`` prints the summary.
"""
