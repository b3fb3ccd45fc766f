"""Dagster resources: the configuration, the keys, MLflow. Switched per environment by one variable
(``HUMIAO_ENV``, read by the config loader)."""


from functools import cached_property

import dagster as dg

from humiao.config import Config, load_config


class HumiaoConfig(dg.ConfigurableResource):
    """The one configuration object (humiao/config.py), loaded once per run."""

    config_file: str | None = None

    @cached_property
    def cfg(self) -> Config:
        return load_config(self.config_file)

    @cached_property
    def scanner(self):
        """The leak scanner with the identities of the last ingest (encrypted index, scanner-only) and the
        product's vocabulary as skip words (:func:`humiao.stages.output_scanner`)."""
        from humiao.stages import output_scanner

        return output_scanner(self.cfg)


class PrivacyKeys(dg.ConfigurableResource):
    """Pseudonym and vault keys (DESIGN.md §5, §11.16). Key material never reaches logs or metadata."""

    config_file: str | None = None

    @cached_property
    def _cfg(self) -> Config:
        return load_config(self.config_file)

    def pseudonymizer(self):
        from humiao.runner import pseudonymizer_from_config

        return pseudonymizer_from_config(self._cfg)

    def vault_key(self) -> bytes:
        from humiao.runner import vault_key_from_config

        return vault_key_from_config(self._cfg)


class MlflowTracking(dg.ConfigurableResource):
    """A small resource around MLflow (no dagster-mlflow): tracking URI and experiment."""

    tracking_uri: str
    artifact_root: str
    experiment: str = "humiao"

    def setup(self) -> None:
        from models.tracking import configure

        configure(self.tracking_uri, self.artifact_root, self.experiment)
