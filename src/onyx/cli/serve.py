"""onyx serve: a model or a model repository over HTTP (KServe v2 / Triton protocol, web demo)."""

from __future__ import annotations

import click


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@click.option("--max-batch-size", default=32, show_default=True,
              help="Rows stacked into one model run (0: no dynamic batching). A model's config.json overrides it.")
@click.option("--batch-delay-ms", default=0.0, show_default=True,
              help="How long a queued request waits for others to batch with.")
@click.option("--max-queue-size", default=256, show_default=True,
              help="Queued requests per model beyond which requests get 503.")
@click.option("--instances", default=1, show_default=True, help="Sessions per model that run at once.")
@click.option("--workers", type=int, help="Inference threads [default: the number of cores].")
@click.option("--max-body-mb", default=64.0, show_default=True, help="Largest request body (413 beyond).")
def serve(path: str, host: str, port: int, max_batch_size: int, batch_delay_ms: float, max_queue_size: int,
          instances: int, workers: int | None, max_body_mb: float) -> None:
    """Serve PATH (a .onnx file or a repository <name>/<version>/model.onnx) over HTTP.

    The KServe v2 REST protocol as Triton speaks it (tritonclient works unchanged), Prometheus
    metrics at /metrics, and a demo page at /. SIGTERM or Ctrl-C finishes in-flight requests, then exits.

    \b
    Example:
      onyx serve examples/digits/digits.onnx --port 8000
      curl localhost:8000/v2/models/digits
    """
    from onyx.serve import require_extra

    require_extra()
    from onyx.serve.app import create_app
    from onyx.serve.repository import ModelConfig, Repository
    from onyx.serve.server import run

    defaults = ModelConfig().updated({"max_batch_size": max_batch_size, "max_queue_delay_ms": batch_delay_ms,
                                      "max_queue_size": max_queue_size, "instance_count": instances})
    repository = Repository.load(path, defaults)
    names = ", ".join(f"{m.name} (v{m.version})" for m in repository.models())
    click.echo(f"onyx serve: {names} on http://{host}:{port} (demo page at /)", err=True)
    run(create_app(repository, max_body_bytes=int(max_body_mb * 1024 * 1024), workers=workers), host, port)
