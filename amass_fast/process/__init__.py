"""`amass-fast process`: AMASS sequences in, labelled 25 fps stick-figure clips out (docs/CONVENTIONS.md).

plan -> map -> reduce, one module per job:

    plan      (plan.py)      list the source files (an extracted tree, or the members of .tar.bz2 archives read in
                             place, in the same order either way) and cut them into tasks of --batch-files files.
    map       (mapping.py)   one task -> one shard: load and recognise each file, skeletons, windows, ONE
                             convert_batch call, labels.
    schedule  (schedule.py)  run the map over every task (a thread or a process pool), skipping complete shards on
                             --resume and stopping at --max-samples clips.
    reduce    (reducing.py)  the shards in task order -> the .pt (with its record, <output>.run.json) or
                             manifest.json (--format shards), the errors file and the summary table.
    clips     (clips.py)     windows of a sequence and the one convert_batch call of a set of sequences.

The command's flags and every check made before any work are in amass_fast.cli.process.

Every file appears under its final name only when complete; --resume skips tasks whose shard is complete and was
made from the same files, so a resumed run ends with the same output as an uninterrupted one.

May import amass_fast.outputs, labels, kernels, io and schemas; never cli or harness.
"""
from amass_fast.process.mapping import (COUNT_KEYS, LoadedTask, MapOptions, convert_task, finish_task,
                                        label_clips, load_task, map_task)
from amass_fast.process.plan import (Task, dataset_filter, list_archives, plan_tasks, source_items, task_sources,
                                     unknown_datasets)
from amass_fast.process.reducing import errors_path, record_path, reduce, summary_table, take_counts
from amass_fast.process.schedule import BACKENDS, execute, resolve_backend

__all__ = ["BACKENDS", "COUNT_KEYS", "LoadedTask", "MapOptions", "Task", "convert_task", "dataset_filter",
           "errors_path", "execute", "finish_task", "label_clips", "list_archives", "load_task", "map_task",
           "plan_tasks", "record_path", "reduce", "resolve_backend", "source_items", "summary_table", "take_counts",
           "task_sources", "unknown_datasets"]
