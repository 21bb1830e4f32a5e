"""``evaluation``: the champion chosen on validation, the test report, and the promotion gate.

Every trained model (each family, their blend, and the tuned refits in a tuning run) is compared on
the validation split; the best one, with its threshold, is ``champion_model`` (the artifact of
the servable model). The test split is then scored once (``test_scores``), for the report, the
slices and the gate, which compares the champion with the registered ``@champion``
(``promotion``); the alias itself is moved after the run by ``PromotionHook`` (``hooks.py``), once
the new version is registered.
"""

from kedro.pipeline import Node, Pipeline

from cross_sell.pipelines import modular
from cross_sell.pipelines.data_science.blend import blend_models
from cross_sell.pipelines.data_science.pipeline import FAMILIES
from cross_sell.pipelines.monitoring import create_reference_node
from cross_sell.pipelines.tuning.pipeline import TUNED_FAMILIES

from . import plots
from .card import build_model_card
from .champion import gate_promotion, report_on_test, select_champion
from .importance import champion_drivers
from .slices import plot_slices, slice_report

TUNED = tuple(f"{family}_tuned" for family in TUNED_FAMILIES)
"""The refits with tuned hyperparameters (compared only when the run tunes: ``--pipelines=tuned``)."""

COLUMNS = "params:columns"
CAMPAIGN = "params:evaluation.campaign"


def create_pipeline(tuned: bool = False, **kwargs) -> Pipeline:
    """Blend, select on validation, report on test, gate against ``@champion``.

    Compares every family, their blend and, if ``tuned``, the tuned refits.
    """
    trained = FAMILIES + (TUNED if tuned else ())
    models = {name: f"{name}.model" for name in (*trained, "blend")}
    nodes = [
        Node(
            blend_models,
            inputs={
                "validation": "validation_set",
                "columns": COLUMNS,
                "members": "params:evaluation.blend_members",
            }
            | {name: f"{name}.model" for name in trained},
            outputs="blend.model",
            name="blend_models_node",
        ),
        Node(
            select_champion,
            inputs={
                "validation": "validation_set",
                "columns": COLUMNS,
                "champion": "params:evaluation.champion",
                "campaign": CAMPAIGN,
            }
            | models,
            outputs=["champion_model", "validation_comparison", "champion"],
            name="select_champion_node",
        ),
        Node(
            report_on_test,
            inputs={
                "test": "test_set",
                "validation_comparison": "validation_comparison",
                "columns": COLUMNS,
                "campaign": CAMPAIGN,
            }
            | models,
            outputs=["model_comparison", "test_scores", "test_metrics"],
            name="report_on_test_node",
        ),
        Node(
            gate_promotion,
            inputs={
                "test_scores": "test_scores",
                "champion": "champion",
                "raw_rows": "raw_train",
                "current": "registered_champion",
                "columns": COLUMNS,
                "promotion": "params:evaluation.promotion",
                "campaign": CAMPAIGN,
            },
            outputs=["promotion", "promotion_metrics"],
            name="gate_promotion_node",
        ),
        create_reference_node(),  # the champion's drift reference (docs/monitoring.md)
        Node(
            champion_drivers,
            inputs=["champion_model", "test_set", COLUMNS, "params:evaluation.feature_importance"],
            outputs="champion_feature_importance",
            name="champion_feature_importance_node",
        ),
        Node(
            plots.plot_roc_curves,
            inputs=["test_scores", COLUMNS],
            outputs="roc_curves_plot",
            name="plot_roc_curves_node",
        ),
        Node(
            plots.plot_precision_recall_curves,
            inputs=["test_scores", COLUMNS],
            outputs="precision_recall_plot",
            name="plot_precision_recall_node",
        ),
        Node(
            plots.plot_calibration,
            inputs=["test_scores", COLUMNS, "params:evaluation.calibration_bins"],
            outputs="calibration_plot",
            name="plot_calibration_node",
        ),
        Node(
            plots.plot_gains_and_lift,
            inputs=["test_scores", COLUMNS],
            outputs="gains_lift_plot",
            name="plot_gains_and_lift_node",
        ),
        Node(
            plots.plot_profit_curve,
            inputs=["test_scores", "champion", COLUMNS, CAMPAIGN],
            outputs="profit_curve_plot",
            name="plot_profit_curve_node",
        ),
        Node(
            plots.plot_feature_importance,
            inputs=[
                "champion_feature_importance",
                "champion",
                "params:evaluation.feature_importance",
            ],
            outputs="feature_importance_plot",
            name="plot_feature_importance_node",
        ),
        Node(
            slice_report,
            inputs=["test_scores", "champion", "test_set", COLUMNS, "params:evaluation.slices"],
            outputs=["slice_report", "slice_metrics"],
            name="slice_report_node",
        ),
        Node(
            plot_slices,
            inputs=["slice_report", "champion"],
            outputs="slices_plot",
            name="plot_slices_node",
        ),
        Node(
            build_model_card,
            inputs={
                "champion": "champion",
                "model_comparison": "model_comparison",
                "slice_report": "slice_report",
                "drivers": "champion_feature_importance",
                "reference": "monitoring_reference",
                "train": "train_set",
                "validation": "validation_set",
                "test": "test_set",
                "columns": COLUMNS,
                "data_science": "params:data_science",
                "campaign": CAMPAIGN,
            },
            outputs="model_card",
            name="model_card_node",
        ),
    ]
    return modular(Pipeline(nodes), "evaluation")
