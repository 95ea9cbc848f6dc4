"""Many logs from one: a cached log copied under new ids, to run the executor at scale.

The copy shares the original's cached arrays (hard links) and repeats its database rows under the
new id (not its boxes: the copied cache is current, so nothing is rebuilt from them).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

from avmine.store import Store

_TABLES = ("logs", "ego_poses", "maps", "track_sources")


def copy_log(store: Store, log_id: str, count: int) -> list[str]:
    """Copy ``log_id`` ``count`` times; returns the new ids (each a uuid, like AV2's)."""
    new_ids = [str(uuid.uuid4()) for _ in range(count)]
    source_dir = store.log_dir(log_id)
    with store.transaction() as con:
        for table in _TABLES:
            for new_id in new_ids:
                con.execute(
                    f"INSERT INTO {table} SELECT * REPLACE (? AS log_id) FROM {table} WHERE log_id = ?",
                    [new_id, log_id],
                )
    for new_id in new_ids:
        target = store.log_dir(new_id)
        shutil.copytree(source_dir, target, copy_function=os.link)
        for meta in [target / "log" / "log.json", *target.glob("boxes/*/meta.json")]:
            document = json.loads(meta.read_text())
            document["log_id"] = new_id
            meta.unlink()  # a hard link: rewriting it in place would change the original too
            meta.write_text(json.dumps(document))
    store.generation += 1
    return new_ids
