"""The commented charter template written by ``steward charter init``.

It is a valid charter (a test keeps it so): edit the values, then
``steward charter validate charter.yaml`` and ``steward charter apply charter.yaml -p P``.
"""

from __future__ import annotations

__all__ = ["CHARTER_TEMPLATE"]

CHARTER_TEMPLATE = """\
# Steward charter: what this model is for, and what "good enough" means.
# Every threshold below becomes a gate: at evaluation, before a rollout advances, and in
# production monitoring. Field reference: docs/charter.md. Check this file with:
#   steward charter validate charter.yaml
schema_version: 1

objective:
  statement: Reduce late deliveries by predicting which orders will ship late.
  decision: Orders predicted late are expedited by the warehouse team.
  owners:                       # at least one; who is accountable, and how to reach them
    - name: Fulfilment analytics team
      contact: fulfilment-analytics@example.com
      role: model owner
  stakeholders:                 # optional
    - name: Warehouse operations
      interest: Expedite capacity is limited; false alarms cost overtime.

task:
  type: binary                  # binary | multiclass | regression
  target: late                  # the column the model predicts
  prediction_unit: order        # what one prediction is about
  positive_class: 1             # binary only: the label of the predicted class
  # decision_threshold: 0.5     # binary only: score above which the positive class is predicted

# Each success metric is a gate: a minimum when higher is better (roc_auc, f1, ...),
# a maximum when lower is better (log_loss, ece, mae, ...). Metrics: docs/charter.md.
success_metrics:
  - metric: roc_auc
    threshold: 0.80
    on: test                    # dataset role or slice it is measured on (default test)
  - metric: recall
    threshold: 0.70
  - metric: ece
    threshold: 0.05
    required: false             # optional gates warn but never block

business_value:                 # what one prediction is worth per outcome
  currency: USD
  value_matrix:                 # binary: true/false positives/negatives
    tp: 40                      # a late order caught and expedited
    fp: -15                     # an expedite that was not needed
    fn: -60                     # a late order missed
    tn: 0
  # regression instead: cost_per_unit_error: 2.5 (and optionally value_per_prediction)
  # multiclass instead: value_correct: 10, value_incorrect: -5

constraints:
  latency_p95_ms: 100           # milliseconds
  latency_p99_ms: 250
  max_error_rate: 0.01          # share of failed prediction requests
  max_cost_per_1k: 0.50         # in business_value.currency
  max_model_size_mb: 500
  explainability: [global, local]
  fairness:                     # binary tasks; one gate per sensitive attribute
    - metric: equalized_odds_difference
      sensitive_attributes: [region]
      max_disparity: 0.10       # difference metrics: largest gap allowed
    # - metric: demographic_parity_ratio
    #   sensitive_attributes: [region]
    #   min_ratio: 0.8          # ratio metrics: smallest ratio allowed
  regulatory: [gdpr]
  data_use:
    - Order data only; no customer personal data beyond the delivery region.

scope:
  intended_use: Ranking open orders for expediting by the warehouse team.
  out_of_scope:
    - Decisions about individual customers or employees.
  population: Orders shipped from EU warehouses.
  input_domain:                 # per feature: a range (min/max) or allowed categories
    order_value:
      min: 0
      max: 100000
    region:
      allowed: [north, south, east, west]
    carrier:
      allowed: [dhl, ups, local]
      missing_allowed: true

monitoring:
  window: 1d                    # a duration (1h, 1d, 7d) or a number of predictions
  expected_label_delay: 7d      # until labels arrive, performance is estimated
  drift:
    method: auto                # auto | ks | psi | jensen_shannon | wasserstein | chi2 | hellinger
    p_value: 0.01
    psi: 0.2
    max_drift_share: 0.3        # gate: share of drifting features allowed per window
  alert_routes:
    - channel: email            # log | email | webhook | slack
      target: fulfilment-analytics@example.com
      min_severity: warning

rollout:
  strategy: canary              # direct | canary | blue-green | shadow
  steps: [5, 25, 50, 100]       # canary traffic percentages
  min_requests_per_step: 500
  min_duration_per_step: 10m
  auto_rollback: true
"""
