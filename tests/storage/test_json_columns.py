"""JSON columns hold strict JSON on every backend: a NaN or infinite number (a step parameter "not given",
an analysis value that could not be computed) is stored as null, so SQL's own JSON functions read them."""

from __future__ import annotations

import numpy as np

from nanocell_daq.storage import Store


def test_non_finite_numbers_are_stored_as_null_and_sql_reads_the_json(store: Store, backend: str) -> None:
    run = store.create_run("json", station={"limits": {"v_max": float("inf"), "v_min": -1.5}})
    params = {"current_A": 1e-12, "capacity_Ah": float("nan"), "cutoffs": [float("-inf"), 4.2],
              "n": np.int64(3), "gain": np.float32(0.5)}
    step = store.start_step(run, 0, "galvanostatic", params)
    store.put_derived(run, "fit", {"p": float("nan")}, {"r2": float("nan"), "slope": 2.0})
    got = store.steps(run)[0].parameters
    assert got == {"current_A": 1e-12, "capacity_Ah": None, "cutoffs": [None, 4.2], "n": 3, "gain": 0.5}
    assert store.run(run).station == {"limits": {"v_max": None, "v_min": -1.5}}
    assert store.derived(run)[0].value == {"r2": None, "slope": 2.0}
    with store._engine.connect() as conn:
        if backend == "sqlite":
            bad = conn.exec_driver_sql(
                "SELECT count(*) FROM steps WHERE NOT json_valid(parameters)").scalar()
            cur = conn.exec_driver_sql(
                "SELECT json_extract(parameters, '$.current_A'), json_type(parameters, '$.capacity_Ah'),"
                " json_extract(parameters, '$.cutoffs[1]') FROM steps WHERE id = ?", (step,)).one()
            assert bad == 0 and tuple(cur) == (1e-12, "null", 4.2)
            assert conn.exec_driver_sql("SELECT count(*) FROM derived_results WHERE json_valid(value)"
                                        " AND json_valid(params)").scalar() == 1
        else:
            cur = conn.exec_driver_sql(
                "SELECT (parameters->>'current_A')::float8, jsonb_typeof((parameters::jsonb)->'capacity_Ah'),"
                " (parameters->'cutoffs'->>1)::float8, (station::jsonb)->'limits'->'v_max' FROM steps"
                " JOIN runs ON runs.id = steps.run_id WHERE steps.id = %(s)s", {"s": step}).one()
            assert tuple(cur) == (1e-12, "null", 4.2, None)
            assert conn.exec_driver_sql(
                "SELECT count(*) FROM derived_results WHERE jsonb_typeof((value::jsonb)->'r2') = 'null'"
            ).scalar() == 1
