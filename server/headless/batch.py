"""A batch of headless agent runs: one agent per prompt, reviewed, executed, optionally VLM-checked, scored.

``avmine run`` solves the prompts of a split and packs a submission; ``avmine screen`` solves train
prompts with scoring on and keeps the programs above a threshold in the few-shot library. Both:

- per prompt, a generating session (library examples and the expected referred category in its
  task; at least one refinement round from execution diagnostics; the program comes back through
  ``submit_program``), then a review session in a fresh context that approves or corrects it;
- the final program is executed over the prompt's logs (all its ground-truth logs, negatives
  included, when screening); a program that fails on every log, never arrives, hard-codes
  answers or picks tracks by id text or position is a failed attempt, and the next attempt is told why;
- screening admits a program on its score over the prompt's held-out ground-truth logs
  (``avmine.evaluation.holdout``), which the agent's score_run never scores; the next attempt learns only
  that the program was not admitted, never its held-out score;
- everything is recorded in the store under the batch's name, so the same command resumes.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from avmine.atomic.categories import referred_category
from avmine.atomic.honesty import DishonestProgramError, check_honest
from avmine.atomic.program import ProgramError
from avmine.evaluation.ground_truth_from_store import ground_truth_pairs
from avmine.evaluation.guarded_scoring import NotAdmissibleError, admission_logs, score_for_admission
from avmine.evaluation.submission.from_runs import split_pairs
from avmine.server.executor import Executor, LogSelection
from avmine.server.headless.agents import Agent, not_logged_in, run_session
from avmine.server.headless.local_server import LocalMcpServer
from avmine.server.headless.tasks import generation_task, review_task
from avmine.server.mcp.app import headless_tools
from avmine.store import Store
from avmine.store.agent_runs import (
    AgentSession,
    OutcomeStatus,
    Phase,
    PromptOutcome,
    SessionStatus,
    outcomes,
    record_outcome,
    record_session,
)
from avmine.store.arrays import ANNOTATIONS_SOURCE
from avmine.store.database import now
from avmine.store.library import final_program, save_example, search_examples
from avmine.store.progress import bar as progress_bar
from avmine.store.progress import on_terminal
from avmine.store.runs import LogResult, Run, record_run
from avmine.vlm.backends import VlmConfig
from avmine.vlm.broker import VlmBroker
from avmine.vlm.verify import post_filter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs.

    Attributes:
        name: the batch's name; running a batch of the same name again resumes it.
        split: the split whose logs programs run on.
        source: the track source (``annotations``, or a tracker's for the test split).
        screening: score on ground truth and keep good programs in the library.
        threshold: screening keeps a program whose Timestamp BA on the held-out logs exceeds this.
        max_attempts: generating sessions per prompt before it fails.
        review: a review session after each submitted program.
        parallel: prompts solved at once.
        timeout_s: wall-clock limit of one agent session.
        budget_usd: the batch's total agent cost limit (the agent's own reports); None for no limit.
        vlm_check: empty the (log, prompt) pairs whose scene the VLM rejects.
        examples: library examples in each generating task.
        retry_failed: solve again the prompts an earlier run of the batch gave up on.
    """

    name: str
    split: str
    source: str = ANNOTATIONS_SOURCE
    screening: bool = False
    threshold: float = 0.8
    max_attempts: int = 2
    review: bool = True
    parallel: int = 1
    memory_budget: int | None = None
    """Bytes the sandbox workers may hold in loaded logs (the agents' server and the batch share it); None: default."""
    timeout_s: float = 1200.0
    budget_usd: float | None = None
    vlm_check: bool = False
    examples: int = 3
    retry_failed: bool = False


@dataclass
class BatchSummary:
    """What a batch did: each prompt's outcome, and the prompts it did not solve this time."""

    outcomes: list[PromptOutcome] = field(default_factory=list)
    sessions: list[AgentSession] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    """Prompts an earlier run of the batch had finished."""
    duplicates: list[str] = field(default_factory=list)
    """Prompts listed more than once (solved once)."""
    not_started: list[str] = field(default_factory=list)
    """Prompts left when the budget ran out (a later run of the batch solves them)."""
    seconds: float = 0.0

    @property
    def cost_usd(self) -> float:
        """The agents' reported cost of this run of the batch."""
        return sum(s.cost_usd or 0.0 for s in self.sessions)

    @property
    def all_failed(self) -> bool:
        """Every prompt of the batch failed (this time or, not retried, earlier): nothing to submit."""
        return bool(self.outcomes) and all(o.status == OutcomeStatus.FAILED for o in self.outcomes)

    @property
    def skipped_failures(self) -> list[str]:
        """Prompts an earlier run of the batch failed that this run did not try again."""
        return [o.prompt for o in self.outcomes if o.status == OutcomeStatus.FAILED and o.prompt in self.resumed]


class _BudgetSpentError(Exception):
    pass


class Batch:
    """Solve prompts with an agent against a database (see the module's docstring)."""

    def __init__(self, store: Store, agent: Agent, options: BatchOptions, vlm_config: VlmConfig | None = None) -> None:
        self.store = store
        self.agent = agent
        self.options = options
        self._lock = threading.Lock()
        self._spent = 0.0
        self._sessions: list[AgentSession] = []
        self.vlm = VlmBroker(store, options.source, vlm_config or VlmConfig.from_env())
        # each tool's declaration says whether a headless agent may call it (server.mcp.state.HEADLESS)
        self.allowed_tools, self.denied_tools = headless_tools(options.screening)

    def run(self, prompts: list[str], progress: bool = True) -> BatchSummary:
        """Solve every prompt not yet finished in this batch; returns what happened (also in the store)."""
        started = time.perf_counter()
        summary = BatchSummary()
        unique = list(dict.fromkeys(prompts))
        summary.duplicates = sorted({p for p in prompts if prompts.count(p) > 1})
        finished = outcomes(self.store, self.options.name)
        redo = {OutcomeStatus.FAILED} if self.options.retry_failed else set()
        todo = [p for p in unique if p not in finished or finished[p].status in redo]
        summary.resumed = [p for p in unique if p not in todo]
        workdir = Path(tempfile.mkdtemp(prefix="avmine-agents-"))  # private (0700): configs carry the token
        # the agents' MCP server and the batch's own executor each hold logs: they share the budget
        half = None if self.options.memory_budget is None else max(1, self.options.memory_budget // 2)
        try:
            with (
                LocalMcpServer(
                    self.store.path,
                    self.options.source,
                    vlm_config=self.vlm.config,
                    library_threshold=self.options.threshold,
                    memory_budget=half,
                    keep_single_log=True,  # a screening batch judges a single-log prompt's program on that log
                ) as server,
                Executor(
                    self.store, source=self.options.source, broker=self.vlm.answer, memory_budget=half
                ) as executor,
            ):
                bar = progress_bar(total=len(todo), wanted=progress, desc=self.options.name, unit="prompt")
                with ThreadPoolExecutor(max_workers=max(1, self.options.parallel)) as pool:
                    futures = {pool.submit(self._solve, server, executor, workdir, prompt, todo.index(prompt)): prompt
                               for prompt in todo}  # fmt: skip
                    for count, future in enumerate(as_completed(futures), start=1):
                        outcome = future.result()
                        if outcome is None:
                            summary.not_started.append(futures[future])
                        else:
                            summary.outcomes.append(outcome)
                        bar.update()
                        if progress and not on_terminal():  # a log or a pipe: one plain line per prompt
                            status = outcome.status if outcome is not None else "not started (budget spent)"
                            print(f"{self.options.name}: {count}/{len(todo)} {futures[future]!r}: {status}",
                                  file=sys.stderr, flush=True)  # fmt: skip
                        bar.set_postfix(
                            cost=f"${self._spent:.2f}",
                            failed=sum(o.status == OutcomeStatus.FAILED for o in summary.outcomes),
                        )
                bar.close()
                executor.flush()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        summary.outcomes += [finished[p] for p in summary.resumed]
        order = {p: i for i, p in enumerate(unique)}
        summary.outcomes.sort(key=lambda o: order.get(o.prompt, len(order)))
        summary.not_started.sort(key=lambda p: order[p])
        summary.sessions = list(self._sessions)
        summary.seconds = time.perf_counter() - started
        return summary

    def _solve(
        self, server: LocalMcpServer, executor: Executor, workdir: Path, prompt: str, index: int
    ) -> PromptOutcome | None:
        try:
            outcome = self._attempts(server, executor, workdir, prompt, index)
        except _BudgetSpentError:
            return None
        except Exception as exc:  # a bug on one prompt must not stop the batch: it is recorded, the rest go on
            logger.exception("prompt %r of batch %s failed inside avmine", prompt, self.options.name)
            detail = "".join(traceback.format_exception_only(exc)).strip()
            outcome = PromptOutcome(
                self.options.name, prompt, OutcomeStatus.FAILED, None, 0, reason=f"internal error: {detail}"
            )
        record_outcome(self.store, outcome)
        return outcome

    def _attempts(
        self, server: LocalMcpServer, executor: Executor, workdir: Path, prompt: str, index: int
    ) -> PromptOutcome:
        o = self.options
        expected = referred_category(prompt)
        examples = search_examples(self.store, prompt, o.examples) if o.examples else []
        logs = self._logs(prompt)
        if o.screening:
            try:
                admission_logs(self.store, prompt)
            except NotAdmissibleError as exc:  # no agent session could be admitted: none is started
                return PromptOutcome(o.name, prompt, OutcomeStatus.FAILED, None, 0, reason=f"not screened: {exc}")
        feedback: str | None = None
        best: PromptOutcome | None = None
        for attempt in range(1, o.max_attempts + 1):
            task = generation_task(prompt, o.split, examples, expected, o.screening, feedback)
            generated = self._session(server, workdir, index, prompt, attempt, "generate", task, None)
            if generated.status == SessionStatus.NOT_LOGGED_IN:  # every further session would end the same way
                return PromptOutcome(o.name, prompt, OutcomeStatus.FAILED, None, attempt, reason=generated.detail)
            if generated.program is None:
                feedback = f"{generated.status}: {generated.detail}"
                continue
            program = generated.program
            if o.review:
                reviewed = self._session(server, workdir, index, prompt, attempt, "review",
                                         review_task(prompt, program, expected), program)  # fmt: skip
                program = reviewed.program or program
            execution = executor.run(program, prompt, LogSelection(tuple(logs)), origin=f"headless:{o.name}")
            failed = [r for r in execution.results if r.status != "ok"]
            if len(failed) == len(execution.results):
                first = (failed[0].error or failed[0].status).splitlines()[0] if failed else "no logs"
                feedback = f"the submitted program failed on every log: {first}"
                best = best or PromptOutcome(o.name, prompt, OutcomeStatus.FAILED, program, attempt, reason=feedback)
                continue
            run_id = self._vlm_filtered(execution.run_id, program, prompt, logs, execution.results, executor)
            if not o.screening:
                return PromptOutcome(o.name, prompt, OutcomeStatus.DONE, program, attempt, run_id=run_id)
            executor.flush()
            admission = score_for_admission(self.store, run_id, origin="screen")
            score = admission.metrics["Timestamp BA"]
            if best is None or best.timestamp_ba is None or score > best.timestamp_ba:
                best = PromptOutcome(o.name, prompt, OutcomeStatus.BELOW_THRESHOLD, program, attempt, score,
                                     f"best held-out Timestamp BA {score:.3f} is not above {o.threshold}",
                                     run_id)  # fmt: skip
            if score > o.threshold:
                held_out = [row["log_id"] for row in admission.per_log]
                save_example(self.store, prompt, program, admission.metrics,
                             {"origin": "screen", "batch": o.name, "attempt": attempt, "run_id": run_id,
                              "split": o.split, "source": o.source, "held_out_logs": held_out})  # fmt: skip
                return replace(best, status=OutcomeStatus.KEPT, reason=None)
            # the held-out score itself stays with the operator: told to the next attempt, it would be refined on
            feedback = (f"the submitted program was not admitted: its Timestamp BA on the prompt's held-out "
                        f"ground truth is not above {o.threshold}")  # fmt: skip
        if best is not None and best.status == OutcomeStatus.BELOW_THRESHOLD:
            return replace(best, attempts=o.max_attempts)
        return PromptOutcome(o.name, prompt, OutcomeStatus.FAILED, best.program if best else None, o.max_attempts,
                             reason=feedback)  # fmt: skip

    def _logs(self, prompt: str) -> list[str]:
        if self.options.screening:
            logs = ground_truth_pairs(self.store, prompt)
            if not logs:
                raise ProgramError(f"no ground truth for {prompt!r}: screening needs a labelled split")
            return list(logs)
        return sorted({log for log, _ in split_pairs(self.store, self.options.split, [prompt])})

    def _session(
        self,
        server: LocalMcpServer,
        workdir: Path,
        index: int,
        prompt: str,
        attempt: int,
        phase: Phase,
        task: str,
        reviewed_program: str | None,
    ) -> AgentSession:
        o = self.options
        with self._lock:
            if o.budget_usd is not None and self._spent >= o.budget_usd:
                raise _BudgetSpentError
            budget = None if o.budget_usd is None else o.budget_usd - self._spent
        config = server.write_config(workdir / f"prompt{index:04d}-{attempt}-{phase}.json")
        started = now()
        report = run_session(
            self.agent, task, config, self.allowed_tools, o.timeout_s, budget, denied_tools=self.denied_tools
        )
        submitted = final_program(self.store, prompt, since=started)
        program: str | None = None
        detail: str | None
        if submitted is not None and (reason := _dishonest(submitted)):
            status, detail = SessionStatus.REJECTED, reason
        elif submitted is not None:
            status, detail, program = SessionStatus.SUBMITTED, report.result[-500:] or None, submitted
        elif phase == "review" and "APPROVED" in report.result.upper():
            status, detail, program = SessionStatus.APPROVED, report.result[-500:], reviewed_program
        elif report.timed_out:
            status, detail = SessionStatus.TIMEOUT, f"no program submitted within {o.timeout_s:.0f} s"
        elif not_logged_in(report):
            said = (report.result.strip() or report.stderr.strip()).splitlines()[-1][:200]
            status = SessionStatus.NOT_LOGGED_IN
            detail = (
                f"the agent is not logged in (it said: {said}); log in once (run `claude` and /login) or set "
                "ANTHROPIC_API_KEY, then run the same command with --retry-failed"
            )
        elif report.exit_code not in (0, None) and not report.is_error:
            last = (report.stderr.strip().splitlines() or [""])[-1]
            status, detail = SessionStatus.CRASHED, f"the agent exited with status {report.exit_code}: {last}"
        else:
            words = report.result.strip()[-300:] or "(nothing)"
            status, detail = SessionStatus.NO_SUBMISSION, f"the session ended without submit_program; it said: {words}"
        session = AgentSession(o.name, prompt, attempt, phase, status, program, detail, report.seconds, report.turns,
                               report.cost_usd, report.input_tokens, report.output_tokens)  # fmt: skip
        record_session(self.store, session)
        with self._lock:
            self._spent += report.cost_usd or 0.0
            self._sessions.append(session)
        return session

    def _vlm_filtered(
        self,
        run_id: str,
        program: str,
        prompt: str,
        logs: list[str],
        results: list[LogResult],
        executor: Executor,
    ) -> str:
        """With ``vlm_check``: record a copy of the run whose VLM-rejected logs are emptied; its id."""
        if not self.options.vlm_check:
            return run_id
        found = {r.log_id: r.scenario for r in results if r.status == "ok" and r.scenario}
        kept, verdicts = post_filter(
            found,
            lambda log_id: self.store.load_arrays(log_id, self.options.source),
            prompt,
            self.vlm.service(),
            self.store.log_directory,
        )
        filtered = [replace(r, scenario=kept[r.log_id]) if r.log_id in kept else r for r in results]
        details = {"filtered_from": run_id, "vlm_verdicts": {log: {"value": v.value, "confidence": v.confidence}
                                                             for log, v in verdicts.items()}}  # fmt: skip
        run = Run(prompt, program, self.options.source, {"logs": logs}, f"headless-vlm:{self.options.name}", details)
        executor.flush()
        return record_run(self.store, run, filtered)


def _dishonest(program: str) -> str | None:
    try:
        check_honest(program)
    except DishonestProgramError as exc:
        return str(exc)
    except ProgramError:
        return None  # it does not parse: execution reports that
    return None


def resolve_prompts(store: Store, split: str, prompts_file: Path | None) -> list[str]:
    """The prompts of a batch: one per non-empty line of ``prompts_file``, else the split's prompts.

    Raises:
        ValueError: no prompts (with what to do).
    """
    if prompts_file is not None:
        prompts = [line.strip() for line in prompts_file.read_text().splitlines() if line.strip()]
    else:
        prompts = [str(p) for p in store.query_df(
            "SELECT prompt FROM prompts WHERE split = ? ORDER BY prompt", [split])["prompt"]]  # fmt: skip
    if not prompts:
        where = str(prompts_file) if prompts_file else f"split {split!r}"
        raise ValueError(f"no prompts in {where}: give --prompts FILE (one per line) or ingest the split's prompts")
    return prompts
