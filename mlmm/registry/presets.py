"""The presets of the three models the seeds manage (N+1 detector, WAF behavioural, queue anomaly)."""

from __future__ import annotations

from typing import Any

from .metadata import ModelType

__all__ = ["PRESETS"]

# (the key the tuning and monitoring code adjusts) and the seed's tuning range and alert floor.
PRESETS: dict[str, dict[str, Any]] = {
    "n1-detector": {
        "model_type": ModelType.SUPERVISED,
        "description": "Detects N+1 query patterns in database operations.",
        "tags": {"system": "database", "owner": "platform"},
        "config": {
            "threshold": 0.7,  # seed 000: ModelMetadata::forN1Detector(..., ['threshold' => 0.7])
            "window_size": 100,  # seed 000: register example ['threshold' => 0.7, 'window_size' => 100]
            "min_confidence": 0.6,  # seed 001: NPLUSONE_ML_CONFIDENCE_THRESHOLD=60.0 (percent)
            "timeout_ms": 5000,  # seed 001: NPLUSONE_ML_TIMEOUT_MS=5000
            "alert_accuracy": 0.85,  # seed 001: "Alert threshold: 85% accuracy"
            "tuning_range": [0.5, 0.9],  # seed 001: "Auto-tuning: confidence_threshold (0.5-0.9)"
            "tuning_step": 0.05,  # seed 001: "step: 0.05"
        },
    },
    "waf-behavioral": {
        "model_type": ModelType.UNSUPERVISED,
        "description": "Detects malicious behavioural patterns in web requests.",
        "tags": {"system": "waf", "owner": "security"},
        "config": {
            "threshold": 0.7,  # seed 001 tunes anomaly_threshold in 0.5-0.9; 0.7 is its midpoint
            "window_size": 100,  # seed 000: forWafBehavioral(..., ['window_size' => 100])
            "alert_accuracy": 0.90,  # seed 001: "Alert threshold: 90% accuracy (critical)"
            "alert_severity": "critical",  # seed 001: WAF accuracy < 90% is a critical alert
            "tuning_range": [0.5, 0.9],  # seed 001: "Auto-tuning: anomaly_threshold (0.5-0.9)"
            "tuning_step": 0.05,
        },
    },
    "queue-anomaly": {
        "model_type": ModelType.UNSUPERVISED,
        "description": "Detects anomalous queue job executions (z-score and IQR on job metrics).",
        "tags": {"system": "queue", "owner": "platform"},
        "config": {
            "threshold": 0.6,  # seed 001: JOB_ANOMALY_MIN_CONFIDENCE=0.6
            "zscore_threshold": 3.0,  # seed 001: JOB_ANOMALY_ZSCORE_THRESHOLD=3.0
            "iqr_multiplier": 1.5,  # seed 001: JOB_ANOMALY_IQR_MULTIPLIER=1.5
            "anomaly_score_threshold": 50,  # seed 001: JOB_ANOMALY_THRESHOLD=50
            "min_cluster_size": 3,  # seed 000: forQueueAnomaly(..., ['min_cluster_size' => 3])
            "window_size": 100,  # seed 000: window_size default used for all detectors
            "alert_accuracy": 0.80,  # seed 001: "Alert threshold: 80% accuracy"
            "tuning_range": [0.4, 0.8],  # seed 001: "Auto-tuning: anomaly_threshold (0.4-0.8)"
            "tuning_step": 0.05,
        },
    },
}
