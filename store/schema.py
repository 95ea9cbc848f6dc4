"""The database schema, defined once and versioned.

Every table avmine keeps lives here. Later layers (runs, the examples library,
the VLM cache) fill tables that are created from the start, so one schema
version describes the whole file.

Opening a file of an earlier version migrates it in place (``Store._ensure_schema``): every
statement is ``CREATE ... IF NOT EXISTS``, so re-running them adds the tables later versions
added (versions 1 to 3 only added tables; 4 also added the scorings, refinements and box
provenance). A change to an existing table needs its own
``ALTER`` step there, and a test that opens a file of the version before it
(tests/store/test_migration.py). Version 4 dropped the primary keys of ``boxes`` and ``ego_poses``
(``UNKEYED_IN_V4``): DuckDB keeps such an index wholly in memory, which grew with the data and
doubled insert time; ingest checks that uniqueness itself (one box per track and timestamp, one
pose per timestamp) and replaces a log's rows as a whole. Within version 4, ``track_sources.kind``
gained ``refined`` (``REFINED_KIND``): a file whose check does not allow it yet is rebuilt once
when opened writable, its refined sources (those with ``refinements`` rows) re-kinded; ``run_results``
gained ``trace`` (``TRACE_COLUMN``), added when a file without it is opened writable (a read-only reader
finds no traces in such a file).
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION = 4

UNKEYED_IN_V4 = ("boxes", "ego_poses")
"""Tables whose primary key version 4 dropped; ``Store`` rebuilds them once in an older file."""

REFINED_KIND: Final = "refined"
"""``track_sources.kind`` of a source ``avmine refine`` made (how: the ``refinements`` table)."""

TRACE_COLUMN: Final = ("run_results", "trace", "VARCHAR")
"""The column version 4 gained after its first files: each run result's per-step trace (JSON)."""

LABELS = ("REFERRED", "RELATED", "OTHER")
"""Ground-truth labels, in the order of the challenge's integer codes 0, 1, 2."""

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS logs (
    log_id VARCHAR PRIMARY KEY,
    split VARCHAR NOT NULL,
    city VARCHAR,
    start_ns BIGINT,                -- first ego-pose timestamp
    end_ns BIGINT,                  -- last ego-pose timestamp
    num_pose_timestamps INTEGER NOT NULL,
    source_path VARCHAR NOT NULL,   -- the log directory it was ingested from
    has_calibration BOOLEAN NOT NULL,
    cache_key VARCHAR NOT NULL,     -- names the per-log cache written with this row
    ingested_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS ego_poses (
    log_id VARCHAR NOT NULL,
    timestamp_ns BIGINT NOT NULL,
    qw DOUBLE NOT NULL, qx DOUBLE NOT NULL, qy DOUBLE NOT NULL, qz DOUBLE NOT NULL,  -- ego -> city rotation
    tx_m DOUBLE NOT NULL, ty_m DOUBLE NOT NULL, tz_m DOUBLE NOT NULL              -- ego origin in the city frame
);

CREATE TABLE IF NOT EXISTS maps (
    log_id VARCHAR PRIMARY KEY,
    city VARCHAR,
    source_path VARCHAR NOT NULL,
    num_lane_segments INTEGER NOT NULL,
    num_intersection_lane_segments INTEGER NOT NULL,
    num_pedestrian_crossings INTEGER NOT NULL,
    num_drivable_areas INTEGER NOT NULL,
    x_min_m DOUBLE, y_min_m DOUBLE, x_max_m DOUBLE, y_max_m DOUBLE  -- city-frame bounds of the lanes
);

-- A track source is one set of boxes for one log: the log's own annotations,
-- one tracker's output, or boxes avmine refine derived from another source. A log can have several.
CREATE TABLE IF NOT EXISTS track_sources (
    source VARCHAR NOT NULL,
    log_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL CHECK (kind IN ('annotations', 'tracker', 'refined')),  -- refined: see refinements
    source_path VARCHAR NOT NULL,
    num_tracks INTEGER NOT NULL,
    num_boxes BIGINT NOT NULL,
    num_timestamps INTEGER NOT NULL,
    ego_uuid VARCHAR NOT NULL,
    ego_added BOOLEAN NOT NULL,     -- true where the input had no EGO_VEHICLE rows and avmine added them
    has_score BOOLEAN NOT NULL,
    num_tracks_before_prefilter INTEGER,
    cache_key VARCHAR NOT NULL,
    ingested_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, log_id)
);

-- One row per track per timestamp. track_index is the track's position in the
-- input's order of first appearance: the track_id RefAV writes to submissions.
CREATE TABLE IF NOT EXISTS boxes (
    source VARCHAR NOT NULL,
    log_id VARCHAR NOT NULL,
    track_uuid VARCHAR NOT NULL,
    track_index INTEGER NOT NULL,
    category VARCHAR NOT NULL,
    timestamp_ns BIGINT NOT NULL,
    tx_ego_m DOUBLE NOT NULL, ty_ego_m DOUBLE NOT NULL, tz_ego_m DOUBLE NOT NULL,
    qw_ego DOUBLE NOT NULL, qx_ego DOUBLE NOT NULL, qy_ego DOUBLE NOT NULL, qz_ego DOUBLE NOT NULL,
    tx_city_m DOUBLE NOT NULL, ty_city_m DOUBLE NOT NULL, tz_city_m DOUBLE NOT NULL,
    qw_city DOUBLE NOT NULL, qx_city DOUBLE NOT NULL, qy_city DOUBLE NOT NULL, qz_city DOUBLE NOT NULL,
    yaw_city_rad DOUBLE NOT NULL,
    length_m DOUBLE NOT NULL, width_m DOUBLE NOT NULL, height_m DOUBLE NOT NULL,
    vx_city_mps DOUBLE NOT NULL, vy_city_mps DOUBLE NOT NULL, vz_city_mps DOUBLE NOT NULL,
    score DOUBLE,
    num_interior_pts BIGINT,
    input_row BIGINT NOT NULL       -- position in the input (RefAV's per-frame object order)
);

-- How a refined track source was made (avmine refine): one row per (refined source, log).
CREATE TABLE IF NOT EXISTS refinements (
    source VARCHAR NOT NULL,
    log_id VARCHAR NOT NULL,
    parent_source VARCHAR NOT NULL, -- the source it was derived from
    steps VARCHAR NOT NULL,         -- JSON: the steps, in running order
    parameters VARCHAR NOT NULL,    -- JSON: every parameter, SI units
    counts VARCHAR NOT NULL,        -- JSON: what the steps changed, and seconds per step
    refined_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, log_id)
);

-- Where each box of a refined source came from: a box of the parent source, or interpolated.
CREATE TABLE IF NOT EXISTS box_provenance (
    source VARCHAR NOT NULL,
    log_id VARCHAR NOT NULL,
    track_uuid VARCHAR NOT NULL,
    timestamp_ns BIGINT NOT NULL,
    parent_track_uuid VARCHAR,      -- the parent's box at the same timestamp; NULL where interpolated
    interpolated BOOLEAN NOT NULL,
    yaw_flipped BOOLEAN NOT NULL,   -- heading turned by 180 degrees
    category_changed BOOLEAN NOT NULL,
    moved_m DOUBLE NOT NULL         -- distance the centre moved (smoothing); 0 where interpolated
);  -- no primary key, as boxes: one row per refined box, written per log as a whole

CREATE TABLE IF NOT EXISTS prompts (
    prompt VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    source_path VARCHAR NOT NULL,
    PRIMARY KEY (prompt, split)
);

-- The (log, prompt) pairs a split is evaluated on, negative logs included.
CREATE TABLE IF NOT EXISTS log_prompt_pairs (
    log_id VARCHAR NOT NULL,
    prompt VARCHAR NOT NULL,
    split VARCHAR NOT NULL,
    PRIMARY KEY (log_id, prompt)
);

-- Ground-truth frames: one row per (log, prompt, evaluation timestamp).
CREATE TABLE IF NOT EXISTS gt_frames (
    log_id VARCHAR NOT NULL,
    prompt VARCHAR NOT NULL,
    timestamp_ns BIGINT NOT NULL,
    frame_index INTEGER NOT NULL,
    ego_tx_m DOUBLE, ego_ty_m DOUBLE, ego_tz_m DOUBLE,
    is_positive BOOLEAN,            -- NULL: absent in the input, or ambiguous
    source_path VARCHAR NOT NULL,
    PRIMARY KEY (log_id, prompt, timestamp_ns)
);

-- Ground-truth labels, one row per (log, prompt, object, timestamp).
CREATE TABLE IF NOT EXISTS ground_truth (
    log_id VARCHAR NOT NULL,
    prompt VARCHAR NOT NULL,
    timestamp_ns BIGINT NOT NULL,
    track_uuid VARCHAR,             -- NULL where the input names objects only by track_id
    track_id INTEGER,
    label VARCHAR NOT NULL CHECK (label IN ('REFERRED', 'RELATED', 'OTHER')),
    tx_city_m DOUBLE, ty_city_m DOUBLE, tz_city_m DOUBLE,
    length_m DOUBLE, width_m DOUBLE, height_m DOUBLE,
    yaw_city_rad DOUBLE
);

CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    prompt VARCHAR NOT NULL,
    program VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    log_selection VARCHAR NOT NULL, -- JSON: the ids, split or "all" the run was asked for
    status VARCHAR NOT NULL,
    error VARCHAR,
    seconds DOUBLE,
    origin VARCHAR,                 -- who asked: cli, mcp, headless agent, screening
    details VARCHAR                 -- JSON
);

CREATE TABLE IF NOT EXISTS run_results (
    run_id VARCHAR NOT NULL,
    log_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    error VARCHAR,
    stdout VARCHAR,
    seconds DOUBLE,
    scenario VARCHAR,               -- JSON of the scenario dict passed to output_scenario
    num_referred_tracks INTEGER,
    num_referred_timestamps INTEGER,
    trace VARCHAR,                  -- JSON: what each atomic call kept (avmine.atomic.trace); added within version 4
    PRIMARY KEY (run_id, log_id)
);

CREATE TABLE IF NOT EXISTS examples (
    example_id VARCHAR PRIMARY KEY,
    prompt VARCHAR NOT NULL,
    program VARCHAR NOT NULL,
    timestamp_ba DOUBLE,
    scores VARCHAR,                 -- JSON: the four metrics
    provenance VARCHAR,             -- JSON: run id, agent, attempt, split
    created_at TIMESTAMP NOT NULL
);

-- The category a prompt refers to, as an agent stated it (ground truth gives it on labelled splits).
CREATE TABLE IF NOT EXISTS prompt_expectations (
    prompt VARCHAR PRIMARY KEY,
    expected_category VARCHAR NOT NULL,
    stated_at TIMESTAMP NOT NULL
);

-- The program an agent submitted as its final answer for a prompt (headless runs). The latest wins.
CREATE TABLE IF NOT EXISTS final_programs (
    prompt VARCHAR NOT NULL,
    program VARCHAR NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    origin VARCHAR,
    run_id VARCHAR
);

-- Headless agent runs (avmine run / screen): every agent session, and each prompt's outcome per batch.
CREATE TABLE IF NOT EXISTS agent_sessions (
    batch VARCHAR NOT NULL,
    prompt VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,
    phase VARCHAR NOT NULL,         -- generate | review
    status VARCHAR NOT NULL,        -- submitted | approved | no_submission | timeout | crashed | not_logged_in
                                    -- | rejected
    program VARCHAR,
    detail VARCHAR,
    seconds DOUBLE,
    turns INTEGER,
    cost_usd DOUBLE,
    input_tokens BIGINT,
    output_tokens BIGINT,
    started_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS agent_outcomes (
    batch VARCHAR NOT NULL,
    prompt VARCHAR NOT NULL,
    status VARCHAR NOT NULL,        -- done | kept | below_threshold | failed
    program VARCHAR,
    attempts INTEGER NOT NULL,
    timestamp_ba DOUBLE,
    reason VARCHAR,
    run_id VARCHAR,                 -- the run of the final program over the split (what is submitted)
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (batch, prompt)
);

-- Every scoring of a run against ground truth: the per-prompt scoring budget counts them, and they show
-- which logs a prompt's programs were scored on while being refined (never its held-out logs).
CREATE TABLE IF NOT EXISTS scorings (
    prompt VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    purpose VARCHAR NOT NULL,       -- refinement (score_run) | admission (the library's decision, held-out logs)
    origin VARCHAR NOT NULL,        -- mcp (an agent asked) | screen (a screening batch decided)
    logs VARCHAR NOT NULL,          -- JSON: the ground-truth logs scored
    scored_at TIMESTAMP NOT NULL
);

CREATE TABLE IF NOT EXISTS vlm_cache (
    model VARCHAR NOT NULL,
    question_hash VARCHAR NOT NULL,
    image_hash VARCHAR NOT NULL,
    question VARCHAR NOT NULL,
    answer VARCHAR NOT NULL,        -- JSON of the parsed answer
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (model, question_hash, image_hash)
);
"""


def create_statement(table: str) -> str:
    """The DDL statement that creates ``table``."""
    return next(s for s in create_statements() if s.split("(", 1)[0].split()[-1] == table)


def create_statements() -> list[str]:
    """The DDL statements that create every table, in order."""
    # comments may hold any text (even a semicolon): drop them before splitting into statements
    code = "\n".join(line.split("--", 1)[0] for line in _TABLES.splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]
