"""``mlcycle pipeline run FILE`` and ``mlcycle pipeline models ...``."""

from __future__ import annotations

from mlcycle_ref.pipeline.graph import Pipeline, StepRun
from mlcycle_ref.pipeline.registry import ModelRegistry


def _print_step(record: StepRun) -> None:
    cached = " (cached)" if record.cached else ""
    print(f"  {record.name:<20} {record.kind:<15} {record.status}{cached}"
          f"{f'  {record.message}' if record.message and not record.cached else ''}")


def _run(args) -> int:
    definition = Pipeline.from_yaml(args.file)
    print(f"pipeline {definition.name}: {len(definition.steps)} steps")
    execution = definition.run(cache=not args.no_cache, workdir=args.workdir,
                               registry=args.registry, progress=_print_step)
    print(f"{execution.status}" + (f": {execution.failure_reason}"
                                   if execution.failure_reason else ""))
    return 0 if execution.status == "Succeeded" else 1


def _models(args) -> int:
    registry = ModelRegistry(args.registry)
    table = registry.versions(args.group) if args.group else registry.groups()
    print(table.to_string(index=False) if len(table) else "nothing registered yet")
    return 0


def _set_status(status: str):
    def handler(args) -> int:
        version = ModelRegistry(args.registry).update_status(args.group, args.version, status)
        print(f"{version.group} version {version.version}: {version.approval_status}")
        return 0
    return handler


def register(subparsers) -> None:
    """Add ``mlcycle pipeline run FILE | models [GROUP] | approve | reject`` to the CLI.

    ``subparsers`` is what ``ArgumentParser.add_subparsers`` returned for ``mlcycle``.
    """
    command = subparsers.add_parser("pipeline", help="run pipelines, look after the registry")
    command.add_argument("--registry", default=None,
                         help="registry URL (default: sqlite:///<data dir>/registry.db)")
    actions = command.add_subparsers(dest="pipeline_command", metavar="ACTION", required=True)
    run = actions.add_parser("run", help="run a pipeline defined in a YAML file")
    run.add_argument("file", help="pipeline YAML file")
    run.add_argument("--no-cache", action="store_true", help="run every step afresh")
    run.add_argument("--workdir", default=None, help="folder for step outputs and the cache")
    run.set_defaults(handler=_run)
    listing = actions.add_parser("models", help="list model groups, or the versions of one")
    listing.add_argument("group", nargs="?", help="model group")
    listing.set_defaults(handler=_models)
    for action, status in (("approve", "Approved"), ("reject", "Rejected")):
        change = actions.add_parser(action, help=f"mark a model version {status}")
        change.add_argument("group", help="model group")
        change.add_argument("version", type=int, help="version number")
        change.set_defaults(handler=_set_status(status))
