"""Build the Kubernetes API client: in-cluster service account, else kubeconfig."""

import logging

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

log = logging.getLogger(__name__)


def build_api_client() -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        log.info("using the in-cluster service account")
    except ConfigException:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        log.info("using kubeconfig")
    return client.ApiClient(configuration)
