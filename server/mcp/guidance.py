"""The workflow and semantic rules that the MCP prompts hand to an agent."""

SEMANTIC_RULES = """\
Semantic rules (they decide most scores):
- The referred objects are the first objects the prompt mentions; never swap subject and object.
  "pedestrian crossing in front of a car" refers to the pedestrian: use reverse_relationship or
  get_objects_in_relative_direction so the pedestrian is the key of the result.
- Passing is not overtaking; braking (hard deceleration, accelerating(..., max_accel=-1)) is not slowing;
  changing lanes is not merging; near (near_objects) is not next to (has_objects_in_relative_direction(...,
  direction='left'/'right')).
- "Stopped" includes parked, as RefAV's own examples count it ("pedestrian walking between two stopped vehicles"
  uses stationary): scenario_or([has_velocity(x, log_dir, min_velocity=0, max_velocity=0.5), stationary(x, log_dir)]);
  "parked" alone is stationary; "momentarily stopped" or "stopped in traffic" is the has_velocity part alone.
- "vehicle" means the VEHICLE category (cars, trucks, buses, the ego); "car" means REGULAR_VEHICLE.
- Direction words are relative to the referred object's heading unless the prompt says otherwise.
"""

MINE_WORKFLOW = """\
Mine the scenario "{prompt}" from the logs:
1. search_docs / get_function_docs for the behaviours and relations in the prompt; list_categories for names.
2. log_statistics (and query_logs) to choose thresholds that fit the data.
3. Write a RefAV-style program: atomic functions, log_dir, and output_scenario(result, description, log_dir,
   output_dir) at the end. Keep it short; compose with scenario_and / scenario_or / scenario_not.
4. execute_scenario; read the diagnostics (empty logs, categories against the expected one, likely mistakes).
5. Look at results: inspect_track on a few referred tracks, render_bev to see a scene.
6. Refine until the diagnostics are clean; score_run where the prompt has ground truth.
{rules}"""

SCREEN_WORKFLOW = """\
Screen the train prompt "{prompt}" for the few-shot library:
1. Mine it as usual (execute_scenario, diagnostics, refine), at most {attempts} attempts.
2. After each attempt, score_run (it scores the logs not held out); when Timestamp BA exceeds {threshold},
   save_example: it admits the program only on the held-out logs, which score_run never scores. A prompt
   with a single ground-truth log: save_example before any score_run, since once score_run scores that log
   the library no longer admits a program for the prompt.
3. Report the best program, its scores, and what each attempt changed. Do not copy answers: score_run shows
   metrics only, within a budget per prompt, and refuses programs that pick tracks by id or position.
{rules}"""
