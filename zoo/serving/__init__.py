"""SavedModel export for TensorFlow Serving, models.config, warm-up records and `zoo serve`.

Works for any Keras model; never imports `zoo.models`, `zoo.training` or the registry.
"""

from zoo.serving.exporter import VersionExistsError, existing_versions, export
from zoo.serving.graph_check import UnservableGraphError, check_servable, find_unservable_ops
from zoo.serving.grpc_server import GrpcServer
from zoo.serving.manager import ModelManager
from zoo.serving.model_config import read_models_config, write_models_config
from zoo.serving.rest import RestServer
from zoo.serving.session_runner import SessionSignatureRunner
from zoo.serving.warmup import read_warmup_records, write_warmup_records

__all__ = [
    "GrpcServer",
    "ModelManager",
    "RestServer",
    "SessionSignatureRunner",
    "UnservableGraphError",
    "VersionExistsError",
    "check_servable",
    "existing_versions",
    "export",
    "find_unservable_ops",
    "read_models_config",
    "read_warmup_records",
    "write_models_config",
    "write_warmup_records",
]
